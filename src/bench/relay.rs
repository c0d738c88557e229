//! The baseline: the least a chat server could do with the same load.
//!
//! A loopback TCP relay on its own thread that stores nothing, checks no
//! password and keeps no contacts: it reads whole frames from each
//! connection, answers every request but Handshake with Success, and
//! writes each Message frame, byte for byte, to the connection that logged
//! in as its target. Running the bench's load through it on the same
//! machine in the same run gives a yardstick that moves with the machine's
//! noise: solec's figures divided by these say how much the real server
//! costs over bare socket IO. It is not a server; nothing else uses it.

use super::wire::address;
use crate::proto::{Deframer, Pdu};
use smol::future::FutureExt as _;
use smol::io::{AsyncReadExt as _, AsyncWriteExt as _};
use smol::{Async, LocalExecutor};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;

/// Bytes read per call, as the server reads.
const READ_CHUNK: usize = 16 * 1024;

use crate::proto::SUCCESS_PDU as SUCCESS;

/// Logged-in connections by address.
type Peers = Rc<RefCell<HashMap<String, Rc<Async<TcpStream>>>>>;

/// A running relay; dropping it stops the thread and closes every socket.
pub struct Relay {
    pub addr: SocketAddr,
    stop: Option<smol::channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    pub fn start() -> Result<Relay, String> {
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))
            .map_err(|e| format!("baseline relay: cannot listen: {e}"))?;
        let addr = listener.get_ref().local_addr().map_err(|e| e.to_string())?;
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("bench-relay".into())
            .spawn(move || {
                let ex = LocalExecutor::new();
                let until_dropped = async {
                    let _ = stopped.recv().await;
                };
                smol::block_on(ex.run(accept(&ex, listener).or(until_dropped)));
            })
            .map_err(|e| format!("baseline relay: {e}"))?;
        Ok(Relay {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept(ex: &LocalExecutor<'_>, listener: Async<TcpListener>) {
    let peers = Peers::default();
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.get_ref().set_nodelay(true);
        ex.spawn(relay(Rc::new(stream), peers.clone())).detach();
    }
}

/// Serves one connection until it closes or sends garbage.
async fn relay(conn: Rc<Async<TcpStream>>, peers: Peers) -> Option<()> {
    let (mut buf, mut len) = (vec![0; READ_CHUNK], 0);
    let (mut replies, mut forward) = (Vec::new(), Vec::new());
    let mut target: Option<Rc<Async<TcpStream>>> = None;
    loop {
        if len == buf.len() {
            buf.resize(2 * len, 0);
        }
        let n = (&*conn).read(&mut buf[len..]).await.ok()?;
        if n == 0 {
            return None;
        }
        len += n;
        let mut at = 0;
        while let Some(size) = Deframer::default().frame_len(&buf[at..len]).ok()? {
            let Some(frame) = buf.get(at..at + size).filter(|_| at + size <= len) else {
                break;
            };
            match Pdu::decode(frame[0], &frame[3..]).ok()? {
                Pdu::Handshake(_) => {}
                Pdu::UserAuth(auth) => {
                    let me = address(auth.username);
                    peers.borrow_mut().insert(me, conn.clone());
                    replies.extend_from_slice(&SUCCESS);
                }
                Pdu::Message(m) => {
                    let to = peers.borrow().get(m.target_address).cloned()?;
                    // Frames for one target go out in one write.
                    if !target.as_ref().is_some_and(|t| Rc::ptr_eq(t, &to)) {
                        flush(&mut target, &mut forward).await?;
                        target = Some(to);
                    }
                    forward.extend_from_slice(frame);
                    replies.extend_from_slice(&SUCCESS);
                }
                _ => replies.extend_from_slice(&SUCCESS),
            }
            at += size;
        }
        buf.copy_within(at..len, 0);
        len -= at;
        flush(&mut target, &mut forward).await?;
        (&*conn).write_all(&replies).await.ok()?;
        replies.clear();
    }
}

/// Writes the frames gathered for `target`. The bench gives each receiver
/// one sender, so no two tasks ever write to one socket at once.
async fn flush(target: &mut Option<Rc<Async<TcpStream>>>, forward: &mut Vec<u8>) -> Option<()> {
    if let Some(to) = target.take() {
        (&*to).write_all(forward).await.ok()?;
    }
    forward.clear();
    Some(())
}
