//! A counting TCP proxy for `solec bench --federated`: the sending server's
//! peer entry points here instead of at the receiving server, so every
//! byte of the link passes through and is counted, each way.
//!
//! It forwards bytes and nothing else: it never decodes them, so what it
//! counts is exactly what the two servers wrote to each other (SOLEC bytes;
//! TCP/IP headers are not counted). A connection it accepts is connected
//! on to the upstream server at once; if that fails it is closed, as a
//! refused connection would be. While [`Proxy::hold`] is on, a connection
//! that reached upstream forwards nothing yet: the restart measurement uses
//! it so a link made again before the receiving user has logged in waits
//! for that login instead of delivering to nobody. It runs on its own
//! thread; dropping it stops the thread and closes every socket.

use smol::future::FutureExt as _;
use smol::io::{AsyncReadExt as _, AsyncWriteExt as _};
use smol::{Async, LocalExecutor, Timer};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Bytes read per call, as the server's link reads.
const READ_CHUNK: usize = 16 * 1024;

/// How often a held connection looks whether it may go on.
const HOLD_POLL: Duration = Duration::from_millis(1);

/// Bytes forwarded so far, each way.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Bytes {
    /// From the connecting server to the upstream one.
    pub forward: u64,
    /// From the upstream server back.
    pub back: u64,
}

impl std::ops::Sub for Bytes {
    type Output = Bytes;
    fn sub(self, earlier: Bytes) -> Bytes {
        Bytes {
            forward: self.forward - earlier.forward,
            back: self.back - earlier.back,
        }
    }
}

/// What the bench thread and the proxy thread share: counters and a flag.
#[derive(Default)]
struct Shared {
    forward: AtomicU64,
    back: AtomicU64,
    held: AtomicBool,
}

/// A running proxy to one upstream address.
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<smol::channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr) -> Result<Proxy, String> {
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))
            .map_err(|e| format!("link proxy: cannot listen: {e}"))?;
        let addr = listener.get_ref().local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let counts = shared.clone();
        let thread = std::thread::Builder::new()
            .name("bench-proxy".into())
            .spawn(move || {
                let ex = LocalExecutor::new();
                let until_dropped = async {
                    let _ = stopped.recv().await;
                };
                let serving = accept(&ex, listener, upstream, counts);
                smol::block_on(ex.run(serving.or(until_dropped)));
            })
            .map_err(|e| format!("link proxy: {e}"))?;
        Ok(Proxy {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn bytes(&self) -> Bytes {
        Bytes {
            forward: self.shared.forward.load(Ordering::Relaxed),
            back: self.shared.back.load(Ordering::Relaxed),
        }
    }

    /// While on, connections that reach upstream forward nothing yet.
    pub fn hold(&self, on: bool) {
        self.shared.held.store(on, Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept(
    ex: &LocalExecutor<'_>,
    listener: Async<TcpListener>,
    upstream: SocketAddr,
    shared: Arc<Shared>,
) {
    while let Ok((down, _)) = listener.accept().await {
        ex.spawn(pipe(down, upstream, shared.clone())).detach();
    }
}

/// Carries one connection until either side closes it.
async fn pipe(down: Async<TcpStream>, upstream: SocketAddr, shared: Arc<Shared>) {
    // Dropping `down` when upstream refuses closes it: the connecting
    // server sees its attempt fail, as it would without the proxy.
    let Ok(up) = Async::<TcpStream>::connect(upstream).await else {
        return;
    };
    // As the servers' own sockets: no Nagle delay added by the proxy.
    let _ = down.get_ref().set_nodelay(true);
    let _ = up.get_ref().set_nodelay(true);
    while shared.held.load(Ordering::Relaxed) {
        Timer::after(HOLD_POLL).await;
    }
    copy(&down, &up, &shared.forward)
        .or(copy(&up, &down, &shared.back))
        .await;
}

async fn copy(from: &Async<TcpStream>, to: &Async<TcpStream>, count: &AtomicU64) {
    let mut buf = vec![0; READ_CHUNK];
    let (mut reader, mut writer) = (from, to);
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Counted before the write, so the far end never sees bytes that
        // are not counted yet.
        count.fetch_add(n as u64, Ordering::Relaxed);
        if writer.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};

    /// Bytes go through unchanged and are counted each way; while held,
    /// nothing goes through; with nothing upstream, a connection is closed.
    #[test]
    fn forwards_counts_and_holds() {
        let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = Proxy::start(upstream.local_addr().unwrap()).unwrap();
        let mut client = TcpStream::connect(proxy.addr).unwrap();
        let (mut server, _) = upstream.accept().unwrap();
        client.write_all(b"hello").unwrap();
        let mut got = [0; 5];
        server.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
        server.write_all(b"ok").unwrap();
        client.read_exact(&mut got[..2]).unwrap();
        assert_eq!(&got[..2], b"ok");
        assert_eq!(
            proxy.bytes(),
            Bytes {
                forward: 5,
                back: 2
            }
        );

        proxy.hold(true);
        let mut held = TcpStream::connect(proxy.addr).unwrap();
        let (mut held_server, _) = upstream.accept().unwrap();
        held.write_all(b"wait").unwrap();
        held_server
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        assert!(
            held_server.read(&mut got).is_err(),
            "held bytes went through"
        );
        proxy.hold(false);
        held_server.set_read_timeout(None).unwrap();
        held_server.read_exact(&mut got[..4]).unwrap();
        assert_eq!(&got[..4], b"wait");
        assert_eq!(proxy.bytes().forward, 9);

        drop(upstream);
        let mut refused = TcpStream::connect(proxy.addr).unwrap();
        refused
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(refused.read(&mut got).unwrap(), 0, "not closed");
    }
}
