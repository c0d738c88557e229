//! The TLS listener's plumbing: loading the identity and wrapping a socket.
//!
//! The protocol inside TLS is exactly the plain one; only the byte pipe
//! differs, so this file is the whole of TLS in the server.

use super::config::TlsConfig;
use super::conn::{self, Inbound, Shared};
use smol::io::{AsyncRead, ReadHalf};
use smol::Async;
use std::net::TcpStream;

/// Builds the acceptor from the PEM certificate chain and PKCS#8 key.
pub fn acceptor(tls: &TlsConfig) -> Result<async_native_tls::TlsAcceptor, String> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let (cert, key) = (read(&tls.cert)?, read(&tls.key)?);
    let identity = native_tls::Identity::from_pkcs8(&cert, &key)
        .map_err(|e| format!("bad TLS certificate or key: {e}"))?;
    let acceptor =
        native_tls::TlsAcceptor::new(identity).map_err(|e| format!("cannot set up TLS: {e}"))?;
    Ok(acceptor.into())
}

/// Completes the TLS handshake, then serves; both must be done by
/// `deadline`, so TLS does not add to the login time allowed.
pub async fn serve(
    acceptor: async_native_tls::TlsAcceptor,
    stream: Async<TcpStream>,
    deadline: std::time::Instant,
    shared: &Shared,
) {
    let timeout = async {
        smol::Timer::at(deadline).await;
        None
    };
    let accepted = smol::future::or(async { acceptor.accept(stream).await.ok() }, timeout).await;
    let Some(stream) = accepted else {
        log::debug!("TLS handshake failed or timed out");
        return;
    };
    let (reader, writer) = smol::io::split(stream);
    conn::serve(TlsIn(reader), writer, deadline, shared).await;
}

/// The read side of a TLS stream. TLS may hold decrypted bytes the socket
/// no longer shows, so readiness is only known by reading.
struct TlsIn<S>(ReadHalf<S>);

impl<S: AsyncRead + Unpin> AsyncRead for TlsIn<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + Unpin> Inbound for TlsIn<S> {
    async fn readable(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    fn first_read(&self) -> usize {
        conn::FIRST_READ
    }
}
