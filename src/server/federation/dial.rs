//! The connecting end's driver: opens a connection to a peer, plain or
//! TLS, and pumps a [`Connector`] until the link is up or has failed.
//!
//! [`open`] hands back the proven connection, ready to carry whatever a
//! link carries next; [`ping`] opens one and closes it, for `solec
//! federate ping`, from the running server or, when none runs, from the
//! command itself.

use super::identity::Identity;
use super::link::{Connect, Connector, LinkError};
use crate::proto::{Deframer, NONCE_LEN};
use smol::future::FutureExt as _;
use smol::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A peer to connect to.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    /// `host:port`.
    pub address: String,
    pub key: [u8; 32],
    pub tls: bool,
}

/// How a successful link handshake went.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// From sending our nonce to holding the peer's proof: one network
    /// round trip plus the peer's signing.
    pub round_trip: Duration,
    /// From starting to connect to the peer's Success.
    pub handshake: Duration,
}

/// Longest payload a link answer may have before it is refused: the
/// handshake's PDUs are small.
pub const MAX_LINK_PDU: usize = 1024;

// The largest handshake payloads fit: a ServerAuth of the longest name, a
// LinkProof, an Error.
const _: () = assert!(
    MAX_LINK_PDU >= 2 + crate::proto::address::MAX_SERVER_LEN
        && MAX_LINK_PDU >= crate::proto::SIGNATURE_LEN
);

/// A byte stream to a peer, plain TCP or TLS.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Duplex for S {}

/// A proven link: the connection after the peer's Success.
pub struct Link {
    pub stream: Box<dyn Duplex>,
    /// Bytes the peer sent after its Success, already read.
    pub pending: Vec<u8>,
}

/// Connects to `peer` as server `own_name`, proves both ways, and closes.
pub async fn ping(
    own_name: &str,
    identity: Arc<Identity>,
    peer: &Target,
    timeout: Duration,
) -> Result<Report, LinkError> {
    let (mut link, report) = open(own_name, identity, peer, timeout).await?;
    let _ = link.stream.close().await;
    Ok(report)
}

/// Connects to `peer` as server `own_name` and proves both ways, within
/// `timeout`.
pub async fn open(
    own_name: &str,
    identity: Arc<Identity>,
    peer: &Target,
    timeout: Duration,
) -> Result<(Link, Report), LinkError> {
    let started = Instant::now();
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::getrandom(&mut nonce).map_err(|e| LinkError::Io(format!("no randomness: {e}")))?;
    let deadline = started + timeout;
    let link = Connector::new(own_name, identity, &peer.name, peer.key, nonce, deadline);
    let work = async {
        let tcp = smol::net::TcpStream::connect(peer.address.as_str())
            .await
            .map_err(|e| LinkError::Io(format!("cannot connect to {}: {e}", peer.address)))?;
        let _ = tcp.set_nodelay(true);
        if peer.tls {
            let host = host_of(&peer.address);
            let stream = async_native_tls::connect(host, tcp)
                .await
                .map_err(|e| LinkError::Io(format!("TLS with {}: {e}", peer.address)))?;
            run(Box::new(stream), link, started).await
        } else {
            run(Box::new(tcp), link, started).await
        }
    };
    let expired = async {
        smol::Timer::at(deadline).await;
        Err(LinkError::Timeout)
    };
    work.or(expired).await
}

/// The host part of `host:port`, without IPv6 brackets.
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

async fn run(
    mut stream: Box<dyn Duplex>,
    mut link: Connector,
    started: Instant,
) -> Result<(Link, Report), LinkError> {
    let io = |e: std::io::Error| LinkError::Io(e.to_string());
    stream.write_all(&link.start()).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let sent = Instant::now();
    let mut round_trip = None;
    let deframer = Deframer::with_max_payload(MAX_LINK_PDU);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let mut used = 0;
        while let Some((pdu, len)) = deframer
            .decode(&buf[used..])
            .map_err(|e| LinkError::Protocol(e.to_string()))?
        {
            used += len;
            match link.on_pdu(Instant::now(), &pdu) {
                Connect::Nothing => {}
                Connect::Send(bytes) => {
                    round_trip.get_or_insert(sent.elapsed());
                    stream.write_all(&bytes).await.map_err(io)?;
                    stream.flush().await.map_err(io)?;
                }
                Connect::Up => {
                    let report = Report {
                        round_trip: round_trip.unwrap_or_default(),
                        handshake: started.elapsed(),
                    };
                    let pending = buf.split_off(used);
                    return Ok((Link { stream, pending }, report));
                }
                Connect::Fail(e) => return Err(e),
            }
        }
        buf.drain(..used);
        let n = stream.read(&mut chunk).await.map_err(io)?;
        if n == 0 {
            return Err(LinkError::Io("the peer closed the connection".into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
