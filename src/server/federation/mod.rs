//! Federation: this server's identity, its known peers, and the link
//! between servers.
//!
//! - [`identity`]: the Ed25519 key pair in the data directory; key text.
//! - [`link`]: the mutual handshake of a link, both ends, sans-IO.
//! - [`dial`]: the async driver of the connecting end (`federate ping`).
//! - [`relay`]: the task per peer that sends its outbox over a link.
//!
//! A proven peer that connects to this server becomes a session of
//! [`Kind::Peer`](super::core::Kind::Peer) in the core, which applies this
//! server's rules to what it relays.

pub mod dial;
pub mod identity;
pub mod link;
pub mod relay;

use serde::{Deserialize, Serialize};

/// One known peer as `solec federate list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    pub name: String,
    pub address: String,
    /// `ed25519:BASE64`.
    pub key: String,
    /// `SHA256:BASE64` of the key.
    pub fingerprint: String,
    pub tls: bool,
    /// `config` (the RON file) or `store` (`solec federate add`).
    pub source: String,
    /// `up` while a proven link to it is open, else `down`.
    pub link: String,
    /// Messages in its outbox.
    pub queued: u64,
    /// Unix time of the last link that authenticated both ways.
    pub last_success: Option<u64>,
    /// The last failure, with its Unix time.
    pub last_error: Option<(u64, String)>,
    /// Relays refused by the peer or expired undelivered since the server
    /// started; their senders were told.
    #[serde(default)]
    pub given_up: u64,
    /// The last of them, with its Unix time.
    #[serde(default)]
    pub last_given_up: Option<(u64, String)>,
}

/// Whether `addr` is `host:port`: a host name or IP address, and a port.
pub fn is_host_port(addr: &str) -> bool {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return false;
    };
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            crate::proto::address::is_server_name(host)
                || host.parse::<std::net::Ipv4Addr>().is_ok()
        }
    };
    port_ok && host_ok
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_port() {
        for good in ["b.example:7447", "127.0.0.1:1", "[::1]:7447", "localhost:9"] {
            assert!(super::is_host_port(good), "{good}");
        }
        for bad in [
            "b.example",
            ":7447",
            "b.example:0",
            "b.example:x",
            "B.example:1",
            "a b:1",
            "::1:7447",
        ] {
            assert!(!super::is_host_port(bad), "{bad}");
        }
    }
}
