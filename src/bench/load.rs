//! The load phase: sender/receiver pairs driven on one thread.
//!
//! Pair `i` is users `s{i}` and `r{i}`, each the other's contact. The sender
//! pipelines Message PDUs with at most `window` unacknowledged, each stamped
//! with its sequence number and send time; the receiver reads the pushed
//! copies and records latency, missing and duplicate sequence numbers. The
//! same code drives the solec server, the baseline relay, and two
//! federated servers (senders on one, receivers on the other: [`Ends`]).
//!
//! Everything runs on one [`LocalExecutor`], so shared counters are plain
//! `Cell`s: the bench must cost the machine as little as it can.

use super::histogram::Histogram;
use super::wire::{self, expect_success, Clock, Conn};
use crate::proto::{Contact, Message, Pdu};
use indicatif::ProgressBar;
use smol::future::{self, FutureExt as _};
use smol::io::AsyncWriteExt as _;
use smol::{Async, LocalExecutor, Timer};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the watchdog looks at progress and the interrupt flag.
const TICK: Duration = Duration::from_millis(100);

/// A phase that makes no progress for this long is ended.
pub const STALL: Duration = Duration::from_secs(10);

/// What `run` fails with after SIGINT or SIGTERM.
pub const INTERRUPTED: &str = "interrupted";

/// The shape of the load.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub pairs: usize,
    pub messages: u64,
    /// message_content bytes, at least [`wire::STAMP_LEN`].
    pub size: usize,
    pub window: usize,
    /// Total messages per second over all senders; `None` is unpaced.
    pub rate: Option<u64>,
}

pub fn sender_name(pair: usize) -> String {
    format!("s{pair}")
}

pub fn receiver_name(pair: usize) -> String {
    format!("r{pair}")
}

/// Where the two users of every pair log in, and the servers their
/// addresses name.
#[derive(Debug, Clone)]
pub struct Ends {
    pub sender: SocketAddr,
    pub sender_server: String,
    pub receiver: SocketAddr,
    pub receiver_server: String,
}

impl Ends {
    /// Both users of every pair on the one server at `addr`.
    pub fn single(addr: SocketAddr) -> Ends {
        Ends {
            sender: addr,
            sender_server: super::SERVER_NAME.to_owned(),
            receiver: addr,
            receiver_server: super::SERVER_NAME.to_owned(),
        }
    }

    pub fn sender_address(&self, pair: usize) -> String {
        format!("{}@{}", sender_name(pair), self.sender_server)
    }

    pub fn receiver_address(&self, pair: usize) -> String {
        format!("{}@{}", receiver_name(pair), self.receiver_server)
    }
}

/// One receiver's view of its sender's sequence numbers.
#[derive(Debug, Default)]
pub struct Tally {
    messages: u64,
    seen: Vec<u64>,
    pub distinct: u64,
    pub duplicates: u64,
    pub latency: Histogram,
}

impl Tally {
    pub fn new(messages: u64) -> Tally {
        Tally {
            messages,
            seen: vec![0; messages.div_ceil(64) as usize],
            ..Tally::default()
        }
    }

    pub fn record(&mut self, seq: u64, latency_ns: u64) -> Result<(), String> {
        if seq >= self.messages {
            return Err(format!("received sequence number {seq}, never sent"));
        }
        let word = &mut self.seen[(seq / 64) as usize];
        let bit = 1 << (seq % 64);
        if *word & bit != 0 {
            self.duplicates += 1;
            return Ok(());
        }
        *word |= bit;
        self.distinct += 1;
        self.latency.record(latency_ns);
        Ok(())
    }
}

/// The load's result.
#[derive(Debug, Default)]
pub struct Outcome {
    pub tally: Tally,
    pub first_send_ns: u64,
    pub last_delivery_ns: u64,
    /// Ended by the watchdog with messages still missing.
    pub stalled: bool,
}

/// Progress shared by every task of the phase.
struct Shared {
    acked: Cell<u64>,
    delivered: Cell<u64>,
    first_send: Cell<u64>,
    last_delivery: Cell<u64>,
    tallies: Vec<RefCell<Tally>>,
}

/// Runs `jobs` with at most `limit` in flight, results in job order.
pub async fn bounded<'a, T, F, Fut>(
    ex: &LocalExecutor<'a>,
    jobs: usize,
    limit: usize,
    bar: &ProgressBar,
    job: F,
) -> Result<Vec<T>, String>
where
    T: 'a,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T, String>> + 'a,
{
    let gate = Rc::new(smol::lock::Semaphore::new(limit));
    let tasks: Vec<_> = (0..jobs)
        .map(|i| {
            let (gate, bar, work) = (gate.clone(), bar.clone(), job(i));
            ex.spawn(async move {
                let _slot = gate.acquire().await;
                let done = work.await;
                bar.inc(1);
                done
            })
        })
        .collect();
    let mut out = Vec::with_capacity(jobs);
    for task in tasks {
        out.push(task.await?);
    }
    Ok(out)
}

/// `work`, or [`INTERRUPTED`] once `stop` is set.
pub async fn interruptible<T>(
    work: impl Future<Output = Result<T, String>>,
    stop: &AtomicBool,
) -> Result<T, String> {
    work.or(async {
        while !stop.load(Ordering::Relaxed) {
            Timer::after(TICK).await;
        }
        Err(INTERRUPTED.to_owned())
    })
    .await
}

/// Logs in every pair and makes its users each other's contacts.
pub async fn connect_pairs(
    ex: &LocalExecutor<'_>,
    ends: &Ends,
    spec: &Spec,
    bar: &ProgressBar,
) -> Result<Vec<(Conn, Conn)>, String> {
    // Two logins per pair, one after the other.
    bounded(ex, spec.pairs, super::LOGINS_IN_FLIGHT, bar, |i| {
        let ends = ends.clone();
        async move {
            let (s, r) = (sender_name(i), receiver_name(i));
            let mut sender = Conn::login(ends.sender, &s, super::PASSWORD).await?;
            let mut receiver = Conn::login(ends.receiver, &r, super::PASSWORD).await?;
            let r_addr = ends.receiver_address(i);
            let s_addr = ends.sender_address(i);
            sender
                .call(&Pdu::ContactAdd(Contact { address: &r_addr }))
                .await?;
            receiver
                .call(&Pdu::ContactAdd(Contact { address: &s_addr }))
                .await?;
            Ok((sender, receiver))
        }
    })
    .await
}

/// Drives the load over connected pairs until every message has arrived,
/// nothing moves for [`STALL`], or `stop` is set. Returns the connections
/// so the caller decides when they close.
pub async fn drive<'a>(
    ex: &LocalExecutor<'a>,
    pairs: Vec<(Conn, Conn)>,
    ends: &Ends,
    spec: Spec,
    clock: Clock,
    stop: &AtomicBool,
    bar: &ProgressBar,
) -> Result<(Outcome, Vec<Conn>), String> {
    let ends = Rc::new(ends.clone());
    let shared = Rc::new(Shared {
        acked: Cell::new(0),
        delivered: Cell::new(0),
        first_send: Cell::new(u64::MAX),
        last_delivery: Cell::new(0),
        tallies: (0..spec.pairs)
            .map(|_| RefCell::new(Tally::new(spec.messages)))
            .collect(),
    });
    let origin = clock.ns();
    let mut tasks = Vec::with_capacity(2 * pairs.len());
    for (i, (sender, receiver)) in pairs.into_iter().enumerate() {
        let ctx = Ctx {
            pair: i,
            ends: ends.clone(),
            spec,
            clock,
            origin,
            shared: shared.clone(),
        };
        tasks.push(ex.spawn(send(sender, ctx.clone())));
        tasks.push(ex.spawn(receive(receiver, ctx)));
    }
    let finished = async {
        let mut conns = Vec::with_capacity(tasks.len());
        for task in tasks {
            conns.push(task.await?);
        }
        Ok((false, conns))
    };
    let (stalled, conns) = finished.or(watchdog(&shared, stop, bar)).await?;
    let mut outcome = Outcome {
        first_send_ns: shared.first_send.get(),
        last_delivery_ns: shared.last_delivery.get(),
        stalled,
        tally: Tally::default(),
    };
    for t in &shared.tallies {
        let t = t.borrow();
        outcome.tally.distinct += t.distinct;
        outcome.tally.duplicates += t.duplicates;
        outcome.tally.latency.merge(&t.latency);
    }
    Ok((outcome, conns))
}

/// What each task of a pair knows.
#[derive(Clone)]
struct Ctx {
    pair: usize,
    ends: Rc<Ends>,
    spec: Spec,
    clock: Clock,
    /// When the load started, for pacing.
    origin: u64,
    shared: Rc<Shared>,
}

impl Ctx {
    /// When message `seq` of this pair is due under `--rate`: pairs take
    /// turns, so the total is steady rather than 50 bursts at once.
    fn due_ns(&self, seq: u64, rate: u64) -> u64 {
        let slot = seq as u128 * self.spec.pairs as u128 + self.pair as u128;
        self.origin + (slot * 1_000_000_000 / u128::from(rate)) as u64
    }
}

/// Ends the phase after [`STALL`] without progress (`Ok(true)`) or on
/// interrupt; meanwhile moves the progress bar.
async fn watchdog(
    shared: &Shared,
    stop: &AtomicBool,
    bar: &ProgressBar,
) -> Result<(bool, Vec<Conn>), String> {
    let mut last = (0, 0);
    let mut moved = Instant::now();
    loop {
        Timer::after(TICK).await;
        if stop.load(Ordering::Relaxed) {
            return Err(INTERRUPTED.into());
        }
        let now = (shared.acked.get(), shared.delivered.get());
        bar.set_position(now.1);
        if now != last {
            (last, moved) = (now, Instant::now());
        } else if moved.elapsed() >= STALL {
            return Ok((true, Vec::new()));
        }
    }
}

/// A sender: the writing and the acknowledgement-reading halves share the
/// socket; a bounded channel of `window` slots is the pipelining window.
async fn send(conn: Conn, ctx: Ctx) -> Result<Conn, String> {
    let (slots, acks) = smol::channel::bounded(ctx.spec.window);
    let Conn { stream, mut frames } = conn;
    let writing = write_messages(&stream, &ctx, &slots);
    let reading = async {
        let mut acked = 0;
        while acked < ctx.spec.messages {
            frames.fill(&stream).await?;
            let before = acked;
            while let Some(frame) = frames.next_frame() {
                expect_success(frame)?;
                let _ = acks.try_recv();
                acked += 1;
            }
            let total = &ctx.shared.acked;
            total.set(total.get() + acked - before);
        }
        Ok(())
    };
    future::try_zip(writing, reading).await?;
    Ok(Conn { stream, frames })
}

async fn write_messages(
    stream: &Async<TcpStream>,
    ctx: &Ctx,
    slots: &smol::channel::Sender<()>,
) -> Result<(), String> {
    let source = ctx.ends.sender_address(ctx.pair);
    let target = ctx.ends.receiver_address(ctx.pair);
    let send_time = crate::time::now();
    let (mut content, mut bytes) = (String::new(), Vec::new());
    let mut seq = 0;
    while seq < ctx.spec.messages {
        let due = due_by_now(ctx, seq).await;
        // Wait for one free slot, then take as many as are free and due.
        slots
            .send(())
            .await
            .map_err(|_| "acknowledgements ended early")?;
        let mut n = 1;
        while seq + n < due && slots.try_send(()).is_ok() {
            n += 1;
        }
        let now = ctx.clock.ns();
        let first = &ctx.shared.first_send;
        first.set(first.get().min(now));
        bytes.clear();
        for k in seq..seq + n {
            wire::stamp(&mut content, k, now, ctx.spec.size);
            let message = Message {
                source_address: &source,
                target_address: &target,
                send_time,
                message_content: &content,
            };
            Pdu::Message(message)
                .encode(&mut bytes)
                .map_err(|e| e.to_string())?;
        }
        let mut writer = stream;
        writer
            .write_all(&bytes)
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        seq += n;
    }
    Ok(())
}

/// How many messages (counting from 0) may have been sent by now: all of
/// them when unpaced; under `--rate`, waits until `seq` is due first.
async fn due_by_now(ctx: &Ctx, seq: u64) -> u64 {
    let Some(rate) = ctx.spec.rate else {
        return ctx.spec.messages;
    };
    let at = ctx.due_ns(seq, rate);
    if at > ctx.clock.ns() {
        Timer::at(ctx.clock.instant(at)).await;
    }
    let now = ctx.clock.ns();
    let mut due = seq + 1;
    while due < ctx.spec.messages && ctx.due_ns(due, rate) <= now {
        due += 1;
    }
    due
}

/// A receiver: reads pushed Messages until it has seen every sequence
/// number once.
async fn receive(mut conn: Conn, ctx: Ctx) -> Result<Conn, String> {
    let tally = &ctx.shared.tallies[ctx.pair];
    while tally.borrow().distinct < ctx.spec.messages {
        conn.frames.fill(&conn.stream).await?;
        let now = ctx.clock.ns();
        let mut tally = tally.borrow_mut();
        let mut count = 0;
        while let Some(frame) = conn.frames.next_frame() {
            let (seq, sent) = stamp_of(frame)?;
            tally.record(seq, now.saturating_sub(sent))?;
            count += 1;
        }
        let shared = &ctx.shared;
        shared.delivered.set(shared.delivered.get() + count);
        shared.last_delivery.set(now);
    }
    Ok(conn)
}

/// The stamp of a pushed Message frame.
pub fn stamp_of(frame: &[u8]) -> Result<(u64, u64), String> {
    match Pdu::decode(frame[0], &frame[crate::proto::HEADER_LEN..]) {
        Ok(Pdu::Message(m)) => wire::read_stamp(m.message_content)
            .ok_or_else(|| format!("a message without a bench stamp: {m:?}")),
        Ok(pdu) => Err(format!("a receiver got an unexpected {}", pdu.name())),
        Err(e) => Err(format!("a receiver got a malformed PDU: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_missing_and_duplicates() {
        let mut t = Tally::new(130);
        for seq in [0, 5, 129, 5, 0] {
            t.record(seq, 10).unwrap();
        }
        assert_eq!((t.distinct, t.duplicates, t.latency.count()), (3, 2, 3));
        assert!(t.record(130, 1).is_err());
    }
}
