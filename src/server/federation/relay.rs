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

use super::dial::{self, Target, MAX_LINK_PDU};
use super::identity::Identity;
use crate::proto::{self, Deframer, ErrorType, Pdu};
use crate::server::core::LinkWork;
use crate::server::hub::{Admin, Event};
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

/// The hub's end of one link task.
pub struct Handle {
    work: Arc<Mutex<LinkWork>>,
    wake: smol::channel::Sender<()>,
}

impl Handle {
    /// Starts the task for peer `name`.
    pub fn spawn(ctx: Arc<Context>, name: String, work: LinkWork) -> Handle {
        let work = Arc::new(Mutex::new(work));
        let (wake, woken) = smol::channel::bounded(1);
        let task = Task {
            ctx,
            name,
            work: work.clone(),
            woken,
        };
        smol::spawn(task.run()).detach();
        Handle { work, wake }
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
            while !self.work().pending {
                if self.woken.recv().await.is_err() {
                    return;
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
                    match self.carry(link).await {
                        Ok(End::Stopped) => return,
                        Ok(End::Idle) => continue,
                        Err(e) => e,
                    }
                }
            };
            log::warn!("link to {}: {failure}", self.name);
            self.outcome(Some(failure)).await;
            let wait = jitter.spread(backoff);
            backoff = (backoff * 2).min(self.ctx.backoff_max);
            let stopped = async {
                while self.woken.recv().await.is_ok() {}
                true
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
        let _ = self.ctx.events.send(Event::Admin { command, reply }).await;
    }

    /// Sends the outbox over a proven link until it fails, the outbox has
    /// been empty for [`LINK_IDLE`], or the hub lets go.
    async fn carry(&self, link: dial::Link) -> Result<End, String> {
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
        let deframer = Deframer::with_max_payload(MAX_LINK_PDU);
        let mut buf = link.pending;
        // The peer's first RelayAck says where to resume.
        let mut acked: Option<u64> = None;
        let mut sent = 0u64;
        // The highest relay written on this link.
        let mut written = 0u64;
        // The number the peer gives the next Message written; 0: unknown.
        let mut expected = 0u64;
        let mut refused: Vec<(u64, ErrorType)> = Vec::new();
        let result = loop {
            let mut used = 0;
            let mut acks = Vec::new();
            loop {
                let (pdu, len) = match deframer.decode(&buf[used..]) {
                    Ok(Some(found)) => found,
                    Ok(None) => break,
                    Err(e) => return Err(format!("the peer sent a bad PDU: {e}")),
                };
                used += len;
                match pdu {
                    Pdu::RelayAck(r) => acks.push(r.number),
                    Pdu::RelayRefused(r) => refused.push((r.number, r.error_type)),
                    Pdu::Test(_) => {}
                    Pdu::Error(e) => {
                        return Err(format!("the peer answered {}", e.error_type.describe()))
                    }
                    other => return Err(format!("the peer sent an unexpected {}", other.name())),
                }
            }
            buf.drain(..used);
            for upto in acks {
                if acked.is_some() && upto > sent {
                    return Err(format!("the peer acknowledged relay {upto}, not sent yet"));
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
                    return Ok(End::Stopped);
                }
            }
            let work = self.work();
            if let Some(acked) = acked {
                if sent + 1 < work.upto && sent - acked < WINDOW {
                    let (bytes, last) = self.next_chunk(sent + 1, work.upto, &mut expected).await?;
                    sent = last.unwrap_or(work.upto - 1);
                    if !bytes.is_empty() {
                        written = expected - 1;
                        let io = |e: std::io::Error| format!("cannot write to the peer: {e}");
                        writer.write_all(&bytes).await.map_err(io)?;
                        writer.flush().await.map_err(io)?;
                    }
                    continue;
                }
            }
            let idle = acked.is_some_and(|a| a >= written) && sent + 1 >= work.upto;
            let wait = if idle { LINK_IDLE } else { ACK_TIMEOUT };
            enum Next {
                Bytes(Option<Vec<u8>>),
                Woken(bool),
                Timeout,
            }
            let next = async { Next::Bytes(incoming.recv().await.ok()) }
                .or(async { Next::Woken(self.woken.recv().await.is_ok()) })
                .or(async {
                    smol::Timer::after(wait).await;
                    Next::Timeout
                })
                .await;
            match next {
                Next::Bytes(Some(bytes)) => buf.extend_from_slice(&bytes),
                Next::Bytes(None) => break Err("the peer closed the link".to_owned()),
                Next::Woken(true) => {}
                Next::Woken(false) => break Ok(End::Stopped),
                Next::Timeout if idle => break Ok(End::Idle),
                Next::Timeout => {
                    break Err(format!(
                        "no acknowledgement within {} s",
                        ACK_TIMEOUT.as_secs()
                    ))
                }
            }
        };
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
