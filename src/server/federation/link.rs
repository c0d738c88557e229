//! The server-to-server link handshake, both ends, as pure state machines.
//!
//! The connecting server sends Handshake (`conn_type` 0x02), ServerAuth
//! (its name) and LinkNonce (a fresh nonce). The accepting server, if it
//! knows the name, answers LinkNonce (its own nonce) and LinkProof (its
//! signature); the connector checks that and answers LinkProof; the
//! acceptor checks it and ends with Success. Any failure of a proof is
//! Error 0x03 and a close. Each signature covers [`transcript`]: a fixed
//! context, the signer's role, both names and both nonces, so neither
//! proof can stand in for the other and a recorded proof fails on any
//! other connection. `docs/protocol.md` section 8.3 gives the bytes.
//!
//! No sockets, no clock, no randomness here: the driver passes the time,
//! the nonce and the peer's key in, and writes what comes out.

use super::identity::{self, Identity};
use crate::proto::{self, ConnType, ErrorType, LinkNonce, LinkProof, Pdu, NONCE_LEN};
use std::sync::Arc;
use std::time::Instant;

/// The first bytes of every signed transcript.
pub const CONTEXT: &[u8] = b"SOLEC server link v1";

/// Which end of the link a signature comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The server that opened the connection.
    Connector = 0x01,
    /// The server that accepted it.
    Acceptor = 0x02,
}

/// The bytes a server signs: [`CONTEXT`], the role byte, the connector's
/// and the acceptor's names as SOLEC strings, then the connector's and
/// the acceptor's nonces.
pub fn transcript(
    role: Role,
    connector: &str,
    acceptor: &str,
    connector_nonce: &[u8; NONCE_LEN],
    acceptor_nonce: &[u8; NONCE_LEN],
) -> Vec<u8> {
    let mut out = CONTEXT.to_vec();
    out.push(role as u8);
    for name in [connector, acceptor] {
        // Server names are at most 253 bytes.
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
    }
    out.extend_from_slice(connector_nonce);
    out.extend_from_slice(acceptor_nonce);
    out
}

fn pdus(list: &[Pdu<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in list {
        // Names are checked host names and the rest is fixed-size.
        p.encode(&mut out).expect("link PDUs fit");
    }
    out
}

/// What the accepting driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accept {
    /// Nothing to send yet.
    Nothing,
    /// Find the public key of peer `name`, then call [`Acceptor::on_key`].
    Lookup(String),
    /// Send these bytes.
    Send(Vec<u8>),
    /// Proven: make the connection a peer session of `name` (its Success
    /// comes from the hub).
    Up(String),
    /// Send this Error, then close.
    Refuse(ErrorType),
}

#[derive(Debug)]
enum AcceptState {
    Name,
    Looking(String),
    Nonce {
        name: String,
        key: [u8; 32],
    },
    Proof {
        name: String,
        key: [u8; 32],
        theirs: [u8; NONCE_LEN],
    },
    Done,
}

/// The accepting end, from the Handshake with `conn_type` 0x02 on.
#[derive(Debug)]
pub struct Acceptor {
    own_name: String,
    identity: Arc<Identity>,
    nonce: [u8; NONCE_LEN],
    deadline: Instant,
    state: AcceptState,
    /// The known peer the connector claimed to be, once its key is found.
    claimed: Option<String>,
    /// Why that peer was refused, for `solec federate list`.
    failure: Option<&'static str>,
}

impl Acceptor {
    /// An acceptor named `own_name` that sends `nonce` and must see the
    /// connector's proof before `deadline`.
    pub fn new(
        own_name: &str,
        identity: Arc<Identity>,
        nonce: [u8; NONCE_LEN],
        deadline: Instant,
    ) -> Acceptor {
        Acceptor {
            own_name: own_name.to_owned(),
            identity,
            nonce,
            deadline,
            state: AcceptState::Name,
            claimed: None,
            failure: None,
        }
    }

    /// The known peer that was refused and why: a wrong key or a replayed
    /// proof on its side, or someone else using its name.
    pub fn refused_peer(&self) -> Option<(&str, &'static str)> {
        Some((self.claimed.as_deref()?, self.failure?))
    }

    /// A PDU from the connector.
    pub fn on_pdu(&mut self, now: Instant, pdu: &Pdu<'_>) -> Accept {
        if now >= self.deadline {
            self.failure = Some("inbound link: no proof within handshake_timeout_secs");
            return self.refuse(ErrorType::Unauthorized);
        }
        let state = std::mem::replace(&mut self.state, AcceptState::Done);
        match (state, pdu) {
            (state, Pdu::Test(_)) => {
                self.state = state;
                Accept::Nothing
            }
            (AcceptState::Name, Pdu::ServerAuth(s)) => {
                // "Error 0x03 if name is not present in known public keys list."
                if !proto::address::is_server_name(s.name) || s.name == self.own_name {
                    return self.refuse(ErrorType::Unauthorized);
                }
                self.state = AcceptState::Looking(s.name.to_owned());
                Accept::Lookup(s.name.to_owned())
            }
            (AcceptState::Nonce { name, key }, Pdu::LinkNonce(n)) => {
                let signed =
                    transcript(Role::Acceptor, &name, &self.own_name, n.nonce, &self.nonce);
                let signature = self.identity.sign(&signed);
                let reply = pdus(&[
                    LinkNonce { nonce: &self.nonce }.into(),
                    LinkProof {
                        signature: &signature,
                    }
                    .into(),
                ]);
                self.state = AcceptState::Proof {
                    name,
                    key,
                    theirs: *n.nonce,
                };
                Accept::Send(reply)
            }
            (AcceptState::Proof { name, key, theirs }, Pdu::LinkProof(p)) => {
                let signed =
                    transcript(Role::Connector, &name, &self.own_name, &theirs, &self.nonce);
                if !identity::verify(&key, &signed, p.signature) {
                    log::info!("link from {name}: its proof does not verify");
                    self.failure = Some("inbound link: its proof does not verify with its key");
                    return self.refuse(ErrorType::Unauthorized);
                }
                Accept::Up(name)
            }
            _ => {
                self.failure = Some("inbound link: a PDU out of sequence");
                self.refuse(ErrorType::BadRequest)
            }
        }
    }

    /// The answer to [`Accept::Lookup`]: the peer's key, if it is known.
    pub fn on_key(&mut self, now: Instant, key: Option<[u8; 32]>) -> Accept {
        let state = std::mem::replace(&mut self.state, AcceptState::Done);
        match (state, key) {
            _ if now >= self.deadline => self.refuse(ErrorType::Unauthorized),
            (AcceptState::Looking(name), Some(key)) => {
                self.claimed = Some(name.clone());
                self.state = AcceptState::Nonce { name, key };
                Accept::Nothing
            }
            (AcceptState::Looking(name), None) => {
                log::info!("link from {name}: not a known peer");
                self.refuse(ErrorType::Unauthorized)
            }
            _ => self.refuse(ErrorType::BadRequest),
        }
    }

    /// The deadline passed without a proof.
    pub fn on_timeout(&mut self) -> Accept {
        self.refuse(ErrorType::Unauthorized)
    }

    /// When the connector's proof must have arrived.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    fn refuse(&mut self, e: ErrorType) -> Accept {
        self.state = AcceptState::Done;
        Accept::Refuse(e)
    }
}

/// Why a link could not be brought up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// The peer answered with this Error.
    Refused(ErrorType),
    /// The peer's proof does not verify with the key we know for it.
    BadProof,
    /// The peer sent something out of sequence.
    Protocol(String),
    /// No answer before the deadline.
    Timeout,
    /// The connection could not be made or broke.
    Io(String),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Refused(e) => write!(
                f,
                "refused with Error 0x{:02x} ({}): it does not know this server or this key",
                u8::from(*e),
                e.describe()
            ),
            LinkError::BadProof => f.write_str("its proof does not verify with the key we know"),
            LinkError::Protocol(what) => write!(f, "out of sequence: {what}"),
            LinkError::Timeout => f.write_str("no answer in time"),
            LinkError::Io(e) => f.write_str(e),
        }
    }
}

/// What the connecting driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connect {
    Nothing,
    /// Send these bytes.
    Send(Vec<u8>),
    /// Both proofs held: the link is up.
    Up,
    /// Close: the link failed.
    Fail(LinkError),
}

#[derive(Debug)]
enum ConnectState {
    Nonce,
    Proof([u8; NONCE_LEN]),
    Success,
    Done,
}

/// The connecting end.
#[derive(Debug)]
pub struct Connector {
    own_name: String,
    peer_name: String,
    peer_key: [u8; 32],
    identity: Arc<Identity>,
    nonce: [u8; NONCE_LEN],
    deadline: Instant,
    state: ConnectState,
}

impl Connector {
    /// A connector from `own_name` to `peer_name`, whose key must be
    /// `peer_key`, sending `nonce`; gives up at `deadline`.
    pub fn new(
        own_name: &str,
        identity: Arc<Identity>,
        peer_name: &str,
        peer_key: [u8; 32],
        nonce: [u8; NONCE_LEN],
        deadline: Instant,
    ) -> Connector {
        Connector {
            own_name: own_name.to_owned(),
            peer_name: peer_name.to_owned(),
            peer_key,
            identity,
            nonce,
            deadline,
            state: ConnectState::Nonce,
        }
    }

    /// The opening bytes: Handshake, ServerAuth and LinkNonce.
    pub fn start(&self) -> Vec<u8> {
        pdus(&[
            proto::Handshake {
                ver_major: proto::VERSION_MAJOR,
                ver_minor: proto::VERSION_MINOR,
                conn_type: ConnType::Server,
            }
            .into(),
            proto::ServerAuth {
                name: &self.own_name,
            }
            .into(),
            LinkNonce { nonce: &self.nonce }.into(),
        ])
    }

    /// A PDU from the acceptor.
    pub fn on_pdu(&mut self, now: Instant, pdu: &Pdu<'_>) -> Connect {
        if now >= self.deadline {
            return self.fail(LinkError::Timeout);
        }
        let state = std::mem::replace(&mut self.state, ConnectState::Done);
        match (state, pdu) {
            (state, Pdu::Test(_)) => {
                self.state = state;
                Connect::Nothing
            }
            (_, Pdu::Error(e)) => self.fail(LinkError::Refused(e.error_type)),
            (ConnectState::Nonce, Pdu::LinkNonce(n)) => {
                self.state = ConnectState::Proof(*n.nonce);
                Connect::Nothing
            }
            (ConnectState::Proof(theirs), Pdu::LinkProof(p)) => {
                let (me, peer) = (&self.own_name, &self.peer_name);
                let signed = transcript(Role::Acceptor, me, peer, &self.nonce, &theirs);
                if !identity::verify(&self.peer_key, &signed, p.signature) {
                    return self.fail(LinkError::BadProof);
                }
                let signed = transcript(Role::Connector, me, peer, &self.nonce, &theirs);
                let signature = self.identity.sign(&signed);
                self.state = ConnectState::Success;
                Connect::Send(pdus(&[LinkProof {
                    signature: &signature,
                }
                .into()]))
            }
            (ConnectState::Success, Pdu::Success) => Connect::Up,
            (_, other) => self.fail(LinkError::Protocol(format!("got {}", other.name()))),
        }
    }

    /// The deadline passed.
    pub fn on_timeout(&mut self) -> Connect {
        self.fail(LinkError::Timeout)
    }

    /// A proof was sent and its Success is awaited.
    pub fn proven(&self) -> bool {
        matches!(self.state, ConnectState::Success)
    }

    fn fail(&mut self, e: LinkError) -> Connect {
        self.state = ConnectState::Done;
        Connect::Fail(e)
    }
}

#[cfg(test)]
mod tests;
