//! The TLS listener's plumbing: loading the identity, building the
//! acceptor, and a TLS stream over a smol socket.
//!
//! The protocol inside TLS is exactly the plain one; only the byte pipe
//! differs, so this file is the whole of TLS in the server.
//!
//! The acceptor is built with the `openssl` crate that native-tls uses
//! underneath, because native-tls builds its own from Mozilla's intermediate
//! profile version 4, which turns TLS 1.3 off with no way to turn it back
//! on. Here it is version 5 of that profile: TLS 1.2 and 1.3, nothing older
//! (TLS 1.3 also saves a round trip, which a slow link feels). The stream is
//! OpenSSL's own over the socket smol already holds non-blocking: a
//! `WANT_READ` or `WANT_WRITE` from OpenSSL waits for the socket to be
//! readable or writable, as smol's own sockets do for `WouldBlock`.

use super::config::TlsConfig;
use super::conn::{self, Inbound, Shared};
use openssl::ssl::{self, ErrorCode, Ssl, SslAcceptor, SslMethod, SslVersion};
use smol::io::{AsyncRead, AsyncWrite, ReadHalf};
use smol::Async;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The oldest TLS version the listener speaks; anything older is refused
/// in the handshake.
pub const MIN_VERSION: SslVersion = SslVersion::TLS1_2;

/// The acceptor in force: cheap to clone, it shares one OpenSSL context.
pub type Acceptor = SslAcceptor;

/// Builds the acceptor from the PEM certificate chain (leaf first) and the
/// PEM private key (PKCS#8, or the older RSA or EC forms).
pub fn acceptor(tls: &TlsConfig) -> Result<Acceptor, String> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let (cert, key) = (read(&tls.cert)?, read(&tls.key)?);
    let bad = |e: openssl::error::ErrorStack| format!("bad TLS certificate or key: {e}");
    let mut chain = openssl::x509::X509::stack_from_pem(&cert)
        .map_err(bad)?
        .into_iter();
    let leaf = chain
        .next()
        .ok_or_else(|| format!("{}: no PEM certificate in it", tls.cert.display()))?;
    let key = openssl::pkey::PKey::private_key_from_pem(&key).map_err(bad)?;
    let setup = |e: openssl::error::ErrorStack| format!("cannot set up TLS: {e}");
    let mut builder =
        SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(setup)?;
    builder
        .set_min_proto_version(Some(MIN_VERSION))
        .map_err(setup)?;
    builder.set_certificate(&leaf).map_err(bad)?;
    for cert in chain {
        builder.add_extra_chain_cert(cert).map_err(bad)?;
    }
    builder.set_private_key(&key).map_err(bad)?;
    builder.check_private_key().map_err(bad)?;
    Ok(builder.build())
}

/// Completes the TLS handshake, then serves; both must be done by
/// `deadline`, so TLS does not add to the login time allowed.
pub async fn serve(
    acceptor: Acceptor,
    stream: Async<TcpStream>,
    deadline: std::time::Instant,
    trusted: bool,
    shared: &Shared,
) {
    let timeout = async {
        smol::Timer::at(deadline).await;
        Err("timed out".to_owned())
    };
    let stream = match smol::future::or(accept(&acceptor, stream), timeout).await {
        Ok(stream) => stream,
        Err(e) => {
            log::debug!("TLS handshake failed: {e}");
            return;
        }
    };
    let ssl = stream.0.ssl();
    log::debug!(
        "TLS handshake done: {} {}",
        ssl.version_str(),
        ssl.current_cipher().map_or("", |c| c.name())
    );
    let (reader, writer) = smol::io::split(stream);
    conn::serve(TlsIn(reader), writer, deadline, trusted, shared).await;
}

/// The server side of the handshake over `tcp`.
async fn accept(acceptor: &Acceptor, tcp: Async<TcpStream>) -> Result<TlsStream, String> {
    let ssl = Ssl::new(acceptor.context()).map_err(|e| e.to_string())?;
    let mut stream = ssl::SslStream::new(ssl, Socket(tcp)).map_err(|e| e.to_string())?;
    loop {
        let Err(e) = stream.accept() else {
            return Ok(TlsStream(stream));
        };
        let socket = &stream.get_ref().0;
        match e.code() {
            ErrorCode::WANT_READ => socket.readable().await,
            ErrorCode::WANT_WRITE => socket.writable().await,
            _ => return Err(e.to_string()),
        }
        .map_err(|e| e.to_string())?;
    }
}

/// The non-blocking socket as OpenSSL's blocking-style transport: a read or
/// write that would block returns `WouldBlock`, which OpenSSL reports as
/// `WANT_READ` or `WANT_WRITE`.
struct Socket(Async<TcpStream>);

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.get_ref().read(buf)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.get_ref().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A TLS connection after its handshake.
struct TlsStream(ssl::SslStream<Socket>);

impl TlsStream {
    /// Waits for what OpenSSL said it needs, or turns its error into an IO
    /// error. `Ready(Ok)` means: try the operation again.
    fn wait(&self, cx: &mut Context<'_>, e: ssl::Error) -> Poll<std::io::Result<()>> {
        let socket = &self.0.get_ref().0;
        match e.code() {
            ErrorCode::WANT_READ => socket.poll_readable(cx),
            ErrorCode::WANT_WRITE => socket.poll_writable(cx),
            _ => Poll::Ready(Err(e
                .into_io_error()
                .unwrap_or_else(|e| std::io::Error::other(e.to_string())))),
        }
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            match self.0.ssl_read(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                // The peer's close_notify, or a bare TCP close: the end.
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => return Poll::Ready(Ok(0)),
                Err(e) if e.code() == ErrorCode::SYSCALL && e.io_error().is_none() => {
                    return Poll::Ready(Ok(0))
                }
                Err(e) => ready!(self.wait(cx, e))?,
            }
        }
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            match self.0.ssl_write(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) => ready!(self.wait(cx, e))?,
            }
        }
    }

    /// OpenSSL hands each record to the socket as it makes it.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Sends close_notify, then closes the sending side of the socket.
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        loop {
            match self.0.shutdown() {
                Ok(_) => break,
                Err(e) if e.code() == ErrorCode::WANT_WRITE => ready!(self.wait(cx, e))?,
                // A peer already gone, or one whose close_notify is still to
                // be read: nothing more to say either way.
                Err(_) => break,
            }
        }
        let socket = self.0.get_ref().0.get_ref();
        Poll::Ready(socket.shutdown(std::net::Shutdown::Write).or(Ok(())))
    }
}

/// The read side of a TLS stream. TLS may hold decrypted bytes the socket
/// no longer shows, so readiness is only known by reading.
struct TlsIn<S>(ReadHalf<S>);

impl<S: AsyncRead + Unpin> AsyncRead for TlsIn<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
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
