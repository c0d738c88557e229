//! The sending end of a link: one task per peer that has messages in its
//! outbox, which connects, proves itself, sends the outbox in relay order
//! and hands the peer's acknowledgements to the hub.
//!
//! The task holds nothing that is not in the store: it reads the outbox
//! from the store a chunk at a time, so a peer that is away for days costs
//! its rows on disk, not memory. It reconnects with exponential backoff
//! and jitter, from [`BACKOFF_START`] up to `link_backoff_max`. The hub
//! tells it what there is to do through its [`Handle`]; dropping the
//! handle ends the task.

use super::dial::{self, Target};
use super::identity::Identity;
use crate::proto::{self, Deframer, ErrorType, Pdu};
use crate::server::core::LinkWork;
use crate::server::hub::{Admin, Event};
use crate::server::outbox::Chunk;
use crate::store::Store;
use smol::future::FutureExt as _;
use smol::io::{AsyncReadExt as _, AsyncWriteExt as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The first wait after a failed attempt; each further failure doubles it.
pub const BACKOFF_START: Duration = Duration::from_secs(1);

/// Relays sent and not yet acknowledged, at most.
pub const WINDOW: u64 = 4096;

/// Outbox rows read from the store at a time, and their bytes at most.
pub const CHUNK: usize = 256;
pub const CHUNK_BYTES: usize = 256 * 1024;

/// How long sent relays may wait for an acknowledgement before the link
/// is taken for dead and made again.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a link with nothing to send stays open.
pub const LINK_IDLE: Duration = Duration::from_secs(300);

/// What every link task shares.
pub struct Context {
    pub own_name: String,
    pub identity: Arc<Identity>,
    pub store: Arc<Store>,
    pub events: smol::channel::Sender<Event>,
    pub handshake_timeout: Duration,
    pub backoff_max: Duration,
}

/// History requests waiting for a link, at most; more are refused.
pub const MAX_QUEUED_HISTORIES: usize = 64;

/// A History that a local user asks of the peer, and where its answer goes.
pub struct History {
    /// The RelayHistory PDU.
    pub request: Vec<u8>,
    /// Whether the user turned HistoryItem on; the peer always sends them.
    pub items: bool,
    pub sink: smol::channel::Sender<Chunk>,
}

impl History {
    /// Ends the answer with Error `e`.
    fn fail(self, e: ErrorType) {
        let _ = self
            .sink
            .try_send(Chunk::Done(proto::error_frame(e).to_vec()));
    }
}

/// The hub's end of one link task.
pub struct Handle {
    work: Arc<Mutex<LinkWork>>,
    wake: smol::channel::Sender<()>,
    histories: smol::channel::Sender<History>,
}

impl Handle {
    /// Starts the task for peer `name`.
    pub fn spawn(ctx: Arc<Context>, name: String, work: LinkWork) -> Handle {
        let work = Arc::new(Mutex::new(work));
        let (wake, woken) = smol::channel::bounded(1);
        let (histories, asked) = smol::channel::bounded(MAX_QUEUED_HISTORIES);
        let task = Task {
            ctx,
            name,
            work: work.clone(),
            woken,
            asked,
        };
        smol::spawn(task.run()).detach();
        Handle {
            work,
            wake,
            histories,
        }
    }

    /// Queues a History for the peer; refused at once when too many wait.
    pub fn history(&self, h: History) {
        if let Err(e) = self.histories.try_send(h) {
            e.into_inner().fail(ErrorType::ServerError);
        }
    }

    /// Tells the task what there is to do now.
    pub fn update(&self, work: LinkWork) {
        *self.work.lock().unwrap_or_else(|e| e.into_inner()) = work;
        let _ = self.wake.try_send(());
    }
}

struct Task {
    ctx: Arc<Context>,
    name: String,
    work: Arc<Mutex<LinkWork>>,
    woken: smol::channel::Receiver<()>,
    asked: smol::channel::Receiver<History>,
}

/// Why a link ended without an error.
enum End {
    /// The hub let go of the task.
    Stopped,
    /// Nothing left to send.
    Idle,
}

impl Task {
    fn work(&self) -> LinkWork {
        self.work.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn run(self) {
        let mut backoff = BACKOFF_START;
        let mut jitter = Jitter::new();
        loop {
            let mut first = None;
            while !self.work().pending && first.is_none() {
                let woken = async { self.woken.recv().await.is_ok().then_some(None) };
                let asked = async { self.asked.recv().await.ok().map(Some) };
                match woken.or(asked).await {
                    None => return,
                    Some(h) => first = h,
                }
            }
            let work = self.work();
            let target = Target {
                name: self.name.clone(),
                address: work.peer.address.clone(),
                key: work.peer.key,
                tls: work.peer.tls,
            };
            let own = &self.ctx.own_name;
            let timeout = self.ctx.handshake_timeout;
            let failure = match dial::open(own, self.ctx.identity.clone(), &target, timeout).await {
                Err(e) => e.to_string(),
                Ok((link, _)) => {
                    self.outcome(None).await;
                    backoff = BACKOFF_START;
                    match self.carry(link, first.take()).await {
                        Ok(End::Stopped) => return,
                        Ok(End::Idle) => continue,
                        Err(e) => e,
                    }
                }
            };
            log::warn!("link to {}: {failure}", self.name);
            self.outcome(Some(failure)).await;
            // Users asking for History do not wait out the backoff.
            if let Some(h) = first.take() {
                h.fail(ErrorType::ServerError);
            }
            while let Ok(h) = self.asked.try_recv() {
                h.fail(ErrorType::ServerError);
            }
            let wait = jitter.spread(backoff);
            backoff = (backoff * 2).min(self.ctx.backoff_max);
            let stopped = async {
                loop {
                    let woken = async { self.woken.recv().await.is_ok() };
                    let asked = async {
                        match self.asked.recv().await {
                            Ok(h) => {
                                h.fail(ErrorType::ServerError);
                                true
                            }
                            Err(_) => false,
                        }
                    };
                    if !woken.or(asked).await {
                        return true;
                    }
                }
            };
            let slept = async {
                smol::Timer::after(wait).await;
                false
            };
            if stopped.or(slept).await {
                return;
            }
        }
    }

    /// Records how an attempt went, for `solec federate list`.
    async fn outcome(&self, error: Option<String>) {
        let (reply, _) = smol::channel::bounded(1);
        let command = Admin::PeerOutcome {
            name: self.name.clone(),
            at: crate::time::now(),
            error,
        };
        let command = Box::new(command);
        let _ = self.ctx.events.send(Event::Admin { command, reply }).await;
    }

    /// Sends the outbox over a proven link until it fails, the outbox has
    /// been empty for [`LINK_IDLE`], or the hub lets go.
    async fn carry(&self, link: dial::Link, first: Option<History>) -> Result<End, String> {
        let (mut reader, mut writer) = smol::io::split(link.stream);
        let (chunks, incoming) = smol::channel::bounded::<Vec<u8>>(4);
        let read = smol::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n) = reader.read(&mut buf).await {
                if n == 0 || chunks.send(buf[..n].to_vec()).await.is_err() {
                    break;
                }
            }
        });
        // History answers carry whole messages, up to the largest payload.
        let deframer = Deframer::with_max_payload(proto::MAX_PAYLOAD);
        let mut buf = link.pending;
        // The peer's first RelayAck says where to resume.
        let mut acked: Option<u64> = None;
        let mut sent = 0u64;
        // The highest relay written on this link.
        let mut written = 0u64;
        // The number the peer gives the next Message written; 0: unknown.
        let mut expected = 0u64;
        let mut refused: Vec<(u64, ErrorType)> = Vec::new();
        // The History being answered, and those waiting behind it.
        let mut current: Option<History> = None;
        let mut next_history = first;
        let result = loop {
            if current.is_none() {
                if let Some(h) = next_history.take().or_else(|| self.asked.try_recv().ok()) {
                    let io = |e: std::io::Error| format!("cannot write to the peer: {e}");
                    if let Err(e) = writer.write_all(&h.request).await.map_err(io) {
                        h.fail(ErrorType::ServerError);
                        break Err(e);
                    }
                    current = Some(h);
                }
            }
            let mut used = 0;
            let mut acks = Vec::new();
            let mut answer = Vec::new();
            let mut failure = None;
            loop {
                let (pdu, len) = match deframer.decode(&buf[used..]) {
                    Ok(Some(found)) => found,
                    Ok(None) => break,
                    Err(e) => {
                        failure = Some(format!("the peer sent a bad PDU: {e}"));
                        break;
                    }
                };
                let frame = &buf[used..used + len];
                used += len;
                match (pdu, &current) {
                    (Pdu::RelayAck(r), _) => acks.push(r.number),
                    (Pdu::RelayRefused(r), _) => refused.push((r.number, r.error_type)),
                    (Pdu::Test(_), _) => {}
                    (Pdu::HistoryItem(_), Some(h)) => {
                        let at = answer.len();
                        answer.extend_from_slice(frame);
                        if !h.items {
                            answer[at] = proto::code::MESSAGE;
                        }
                    }
                    (Pdu::Success | Pdu::Error(_), Some(_)) => {
                        answer.extend_from_slice(frame);
                        if let Some(h) = current.take() {
                            let done = std::mem::take(&mut answer);
                            let _ = h.sink.send(Chunk::Done(done)).await;
                        }
                    }
                    (Pdu::Error(e), None) => {
                        failure = Some(format!("the peer answered {}", e.error_type.describe()));
                        break;
                    }
                    (other, _) => {
                        failure = Some(format!("the peer sent an unexpected {}", other.name()));
                        break;
                    }
                }
            }
            buf.drain(..used);
            if let (Some(h), false) = (&current, answer.is_empty()) {
                let _ = h.sink.send(Chunk::More(answer)).await;
            }
            if let Some(e) = failure {
                break Err(e);
            }
            let mut bad_ack = None;
            for upto in acks {
                if acked.is_some() && upto > sent {
                    bad_ack = Some(format!("the peer acknowledged relay {upto}, not sent yet"));
                    break;
                }
                acked = Some(upto);
                sent = sent.max(upto);
                let refused = std::mem::take(&mut refused);
                let event = Event::Relayed {
                    peer: self.name.clone(),
                    upto,
                    refused,
                };
                if self.ctx.events.send(event).await.is_err() {
                    bad_ack = Some("the server is stopping".into());
                    break;
                }
            }
            if let Some(e) = bad_ack {
                break Err(e);
            }
            let work = self.work();
            if let Some(acked) = acked {
                if sent + 1 < work.upto && sent - acked < WINDOW {
                    let (bytes, last) =
                        match self.next_chunk(sent + 1, work.upto, &mut expected).await {
                            Ok(chunk) => chunk,
                            Err(e) => break Err(e),
                        };
                    sent = last.unwrap_or(work.upto - 1);
                    if !bytes.is_empty() {
                        written = expected - 1;
                        let io = |e: std::io::Error| format!("cannot write to the peer: {e}");
                        if let Err(e) = writer.write_all(&bytes).await.map_err(io) {
                            break Err(e);
                        }
                    }
                    continue;
                }
            }
            let io = |e: std::io::Error| format!("cannot write to the peer: {e}");
            if let Err(e) = writer.flush().await.map_err(io) {
                break Err(e);
            }
            let idle =
                acked.is_some_and(|a| a >= written) && sent + 1 >= work.upto && current.is_none();
            let wait = if idle { LINK_IDLE } else { ACK_TIMEOUT };
            enum Next {
                Bytes(Option<Vec<u8>>),
                Woken(bool),
                Asked(Option<History>),
                Timeout,
            }
            let asking = current.is_none();
            let next = async { Next::Bytes(incoming.recv().await.ok()) }
                .or(async { Next::Woken(self.woken.recv().await.is_ok()) })
                .or(async {
                    if asking {
                        Next::Asked(self.asked.recv().await.ok())
                    } else {
                        std::future::pending().await
                    }
                })
                .or(async {
                    smol::Timer::after(wait).await;
                    Next::Timeout
                })
                .await;
            match next {
                Next::Asked(Some(h)) => next_history = Some(h),
                Next::Asked(None) => break Ok(End::Stopped),
                Next::Bytes(Some(bytes)) => buf.extend_from_slice(&bytes),
                Next::Bytes(None) => break Err("the peer closed the link".to_owned()),
                Next::Woken(true) => {}
                Next::Woken(false) => break Ok(End::Stopped),
                Next::Timeout if idle => break Ok(End::Idle),
                Next::Timeout => {
                    break Err(format!("no answer within {} s", ACK_TIMEOUT.as_secs()))
                }
            }
        };
        // A History cut off by the link's end is answered, not left hanging.
        if let Some(h) = current.take().or(next_history) {
            h.fail(ErrorType::ServerError);
        }
        let _ = writer.close().await;
        read.cancel().await;
        result
    }

    /// The next outbox rows from relay `from` on, below `upto`, as bytes
    /// to write, and the last relay number among them. A RelayFrom goes
    /// first where the numbers do not follow on from `expected`.
    async fn next_chunk(
        &self,
        from: u64,
        upto: u64,
        expected: &mut u64,
    ) -> Result<(Vec<u8>, Option<u64>), String> {
        let store = self.ctx.store.clone();
        let peer = self.name.clone();
        let rows = smol::unblock(move || store.outbox(&peer, from, CHUNK, CHUNK_BYTES))
            .await
            .map_err(|e| format!("cannot read the outbox: {e}"))?;
        let now = crate::time::now();
        let mut bytes = Vec::new();
        let mut last = None;
        for row in rows.into_iter().take_while(|r| r.number < upto) {
            last = Some(row.number);
            if row.deadline <= now {
                // Its lifetime ended: the hub gives it up and tells the sender.
                continue;
            }
            if row.number != *expected {
                let from = Pdu::RelayFrom(proto::Relay { number: row.number });
                from.encode(&mut bytes).expect("eight bytes fit");
            }
            bytes.extend_from_slice(&row.pdu);
            *expected = row.number + 1;
        }
        Ok((bytes, last))
    }
}

/// Spreads waits over [½, 1] of their length, so servers that lost a
/// peer together do not all return to it at the same instant.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let mut seed = [0u8; 8];
        let _ = getrandom::getrandom(&mut seed);
        let nanos = Instant::now().elapsed().subsec_nanos();
        Jitter(u64::from_le_bytes(seed) | 1 | u64::from(nanos))
    }

    fn spread(&mut self, wait: Duration) -> Duration {
        // xorshift64: plenty for spreading retries.
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let fraction = 0.5 + (self.0 >> 11) as f64 / (1u64 << 53) as f64 / 2.0;
        wait.mul_f64(fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_to_whole() {
        let mut j = Jitter::new();
        for _ in 0..1000 {
            let d = j.spread(Duration::from_secs(8));
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
                "{d:?}"
            );
        }
    }
}
