//! Relaying between servers, the core's side: outboxes, relay numbers,
//! and the rules a receiving server applies to what a peer relays.
//!
//! A message from a local user to a user of peer server P is stored in
//! the sender's history and, in the same transaction, in P's outbox with
//! the next relay number for P. The link to P (the driver's business)
//! sends the outbox in order; P answers RelayAck once what it received is
//! durable, and the relays it covers leave the outbox. P records the
//! highest number it dealt with in the transaction that stores the
//! message, so a retransmission is recognised and dropped: each message
//! is shown once. `docs/protocol.md` section 8.4 gives the bytes.

use super::{Core, Effect, Reply, SessionId};
use crate::proto::{self, Address, ErrorType, Pdu};
use crate::store::{direct_key, Change, Queued, RelayState};
use std::collections::VecDeque;
use std::sync::Arc;

/// One peer's relaying state, as the core keeps it.
#[derive(Debug)]
pub(super) struct Relay {
    /// The number the next message for the peer takes.
    pub next_out: u64,
    /// The highest number received from the peer and dealt with.
    pub last_in: u64,
    /// The outbox without contents, oldest first.
    pub queued: VecDeque<Queued>,
}

impl Default for Relay {
    fn default() -> Relay {
        Relay {
            next_out: 1,
            last_in: 0,
            queued: VecDeque::new(),
        }
    }
}

impl From<&RelayState> for Relay {
    fn from(state: &RelayState) -> Relay {
        Relay {
            next_out: state.next_out.max(1),
            last_in: state.last_in,
            queued: state.queued.iter().cloned().collect(),
        }
    }
}

/// What a link to a peer has to do, as [`Core::link_work`] tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkWork {
    /// Whether the outbox holds anything, so the link should be up.
    pub pending: bool,
    /// The number the next message for the peer will take: every relay
    /// below it that is still in the outbox is to be sent.
    pub upto: u64,
    /// Where and how to reach the peer.
    pub peer: crate::store::Peer,
}

/// A RelayAck PDU for `number`.
pub(crate) fn ack(number: u64) -> Vec<u8> {
    let pdu = Pdu::RelayAck(proto::Relay { number });
    pdu.to_vec().expect("eight bytes fit")
}

/// The server part of `target` when it is not `own`.
pub(super) fn remote_server<'a>(own: &str, target: &'a str) -> Option<&'a str> {
    match Address::parse(target).ok()? {
        Address::User { server, .. } | Address::Channel { server, .. } if server != own => {
            Some(server)
        }
        _ => None,
    }
}

impl Core {
    /// What the link to `peer` has to do; None once it is not a known peer.
    pub fn link_work(&self, peer: &str) -> Option<LinkWork> {
        let known = self.peers.get(peer)?;
        let relay = self.relays.get(peer);
        Some(LinkWork {
            pending: relay.is_some_and(|r| !r.queued.is_empty()),
            upto: relay.map_or(1, |r| r.next_out),
            peer: known.peer.clone(),
        })
    }

    /// Asks the driver to look at every link: at start, after a reload.
    pub fn wake_all(&mut self) {
        let peers: Vec<Arc<str>> = self.peers.keys().map(|p| Arc::from(p.as_str())).collect();
        self.effects
            .extend(peers.into_iter().map(|peer| Effect::Wake { peer }));
    }

    /// A local user's message to a user of `peer`.
    pub(super) fn relay_out(
        &mut self,
        session: SessionId,
        sender: &str,
        peer: &str,
        m: proto::Message<'_>,
        frame: &[u8],
    ) -> Result<(), ErrorType> {
        if !self.peers.contains_key(peer) {
            return Err(ErrorType::NotFound);
        }
        if m.target_address.starts_with('#') {
            // Channels of other servers are not reached yet.
            return Err(ErrorType::Unsupported);
        }
        // The sender's side of the contacts rule; the peer checks its own.
        if !self.dir.has_contact(sender, m.target_address) {
            return Err(ErrorType::Unauthorized);
        }
        let max = self.limits.max_outbox_messages;
        let deadline = self
            .unix
            .saturating_add(self.limits.outbox_lifetime.as_secs());
        let relay = self.relays.entry(peer.to_owned()).or_default();
        if relay.queued.len() >= max {
            return Err(ErrorType::TooLarge);
        }
        let number = relay.next_out;
        relay.next_out += 1;
        relay.queued.push_back(Queued {
            number,
            deadline,
            source: sender.to_owned(),
            target: m.target_address.to_owned(),
            send_time: m.send_time,
        });
        let pdu: Arc<[u8]> = Arc::from(frame);
        let seq = self.next_seq;
        self.next_seq += 1;
        let peer: Arc<str> = Arc::from(peer);
        self.effects.push(Effect::Store(Change::Append {
            conversation: Arc::from(direct_key(sender, m.target_address)),
            seq,
            send_time: m.send_time,
            pdu: pdu.clone(),
        }));
        self.effects.push(Effect::Store(Change::Enqueue {
            peer: peer.clone(),
            number,
            deadline,
            pdu: pdu.clone(),
        }));
        let own = self.sessions[&session].user.clone();
        let others: Vec<SessionId> = self.sessions_of(&own).filter(|&c| c != session).collect();
        for to in others {
            let pdu = pdu.clone();
            self.effects.push(Effect::Push { to, pdu });
        }
        self.effects.push(Effect::Wake { peer });
        Ok(())
    }

    /// A request from proven peer `peer`. An error here is about the link
    /// itself; a refused relay is answered with RelayRefused instead.
    pub(super) fn peer_request(
        &mut self,
        session: SessionId,
        peer: &str,
        pdu: Pdu<'_>,
        frame: &[u8],
    ) -> Result<(), ErrorType> {
        match pdu {
            Pdu::Test(_) => Ok(()),
            Pdu::RelayFrom(r) if r.number > 0 => {
                self.links.insert(session, r.number);
                Ok(())
            }
            Pdu::Message(m) => self.relay_in(session, peer, m, frame),
            Pdu::RelayFrom(_) => Err(ErrorType::BadRequest),
            _ => Err(ErrorType::Unsupported),
        }
    }

    fn relay_in(
        &mut self,
        session: SessionId,
        peer: &str,
        m: proto::Message<'_>,
        frame: &[u8],
    ) -> Result<(), ErrorType> {
        let number = match self.links.get_mut(&session) {
            Some(next) if *next > 0 => {
                *next += 1;
                *next - 1
            }
            // A Message before any RelayFrom has no number.
            _ => return Err(ErrorType::BadRequest),
        };
        // Acknowledged either way, so the sender lets go of it.
        self.relayed_in = true;
        let relay = self.relays.entry(peer.to_owned()).or_default();
        if number <= relay.last_in {
            // Sent again after a lost acknowledgement: dealt with already.
            return Ok(());
        }
        relay.last_in = number;
        if let Err(e) = self.deliver(peer, m, frame) {
            log::info!(
                "refused relay {number} from {peer}, {} to {}: {}",
                m.source_address,
                m.target_address,
                e.describe()
            );
            let pdu = Pdu::RelayRefused(proto::RelayRefused {
                number,
                error_type: e,
            });
            let bytes = pdu.to_vec().expect("nine bytes fit");
            self.reply(session, Reply::Bytes(bytes));
        }
        Ok(())
    }

    /// The receiving server's rules for a relayed message, whatever the
    /// sending server checked: the source is a user of the peer that sent
    /// it, the target a local user who has the source as a contact.
    fn deliver(
        &mut self,
        peer: &str,
        m: proto::Message<'_>,
        frame: &[u8],
    ) -> Result<(), ErrorType> {
        match Address::parse(m.source_address) {
            Ok(Address::User { server, .. }) if server == peer => {}
            _ => return Err(ErrorType::Unauthorized),
        }
        if m.message_content.len() > self.limits.max_message_bytes {
            return Err(ErrorType::TooLarge);
        }
        let local = match Address::parse(m.target_address) {
            Ok(Address::User { local, server }) if server == self.dir.server_name() => local,
            Ok(Address::Channel { .. }) => return Err(ErrorType::Unsupported),
            Ok(Address::User { .. }) => return Err(ErrorType::Unauthorized),
            Err(_) => return Err(ErrorType::BadRequest),
        };
        if !self.dir.has_user(local) {
            return Err(ErrorType::NotFound);
        }
        if !self.dir.has_contact(m.target_address, m.source_address) {
            return Err(ErrorType::Unauthorized);
        }
        let pdu: Arc<[u8]> = Arc::from(frame);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.effects.push(Effect::Store(Change::Append {
            conversation: Arc::from(direct_key(m.source_address, m.target_address)),
            seq,
            send_time: m.send_time,
            pdu: pdu.clone(),
        }));
        let to: Vec<SessionId> = self.sessions_of(local).collect();
        for to in to {
            let pdu = pdu.clone();
            self.effects.push(Effect::Push { to, pdu });
        }
        Ok(())
    }

    /// Ends a peer session's frames: records how far its relays are dealt
    /// with, in the batch that stores them, and tells the peer so once
    /// that batch has committed.
    pub(super) fn acknowledge(&mut self, session: SessionId) {
        let Some(super::Kind::Peer { name }) = self.sessions.get(&session).map(|s| &s.kind) else {
            return;
        };
        let peer = name.to_string();
        let number = self.relays.get(&peer).map_or(0, |r| r.last_in);
        self.effects
            .push(Effect::Store(Change::Received { peer, number }));
        self.reply(session, Reply::Bytes(ack(number)));
    }

    /// The link to `peer` heard a RelayAck for `upto`.
    pub(super) fn acknowledged(&mut self, peer: &str, upto: u64, refused: &[(u64, ErrorType)]) {
        let Some(relay) = self.relays.get_mut(peer) else {
            return;
        };
        let mut gone = Vec::new();
        while relay.queued.front().is_some_and(|q| q.number <= upto) {
            gone.extend(relay.queued.pop_front());
        }
        if gone.is_empty() {
            return;
        }
        self.effects.push(Effect::Store(Change::Dequeue {
            peer: peer.to_owned(),
            upto,
        }));
        for q in &gone {
            if let Some((_, e)) = refused.iter().find(|(n, _)| *n == q.number) {
                let reason = format!("{peer} refused it ({})", e.describe());
                log::warn!("relay {} to {}: {reason}", q.number, q.target);
                self.notify(q, &reason);
                if let Some(known) = self.peers.get_mut(peer) {
                    let error = format!("refused relay {}: {}", q.number, e.describe());
                    known.last_error = Some((self.unix, error));
                }
            }
        }
        self.effects.push(Effect::Wake {
            peer: Arc::from(peer),
        });
    }

    /// Gives up relays whose lifetime has ended.
    pub(super) fn expire_relays(&mut self) {
        let now = self.unix;
        let mut expired = Vec::new();
        for (peer, relay) in &mut self.relays {
            while relay.queued.front().is_some_and(|q| q.deadline <= now) {
                if let Some(q) = relay.queued.pop_front() {
                    expired.push((peer.clone(), q));
                }
            }
        }
        for (peer, q) in expired {
            log::warn!(
                "relay {} to {} is given up: not delivered within its lifetime",
                q.number,
                q.target
            );
            self.effects.push(Effect::Store(Change::DequeueOne {
                peer: peer.clone(),
                number: q.number,
            }));
            self.notify(&q, "it could not be delivered in time");
            if let Some(known) = self.peers.get_mut(&peer) {
                let error = format!("relay {} expired undelivered", q.number);
                known.last_error = Some((now, error));
            }
            self.effects.push(Effect::Wake {
                peer: Arc::from(peer.as_str()),
            });
        }
    }

    /// Tells the sender of `q`, from this server's postmaster address,
    /// that it was not delivered and why.
    fn notify(&mut self, q: &Queued, reason: &str) {
        let server = self.dir.server_name();
        let Some(local) = q
            .source
            .strip_suffix(server)
            .and_then(|l| l.strip_suffix('@'))
        else {
            return;
        };
        if !self.dir.has_user(local) {
            return;
        }
        let local = local.to_owned();
        let from = format!("{}@{server}", super::super::state::POSTMASTER);
        let content = format!(
            "Not delivered to {}: {reason}. It was sent at {}.",
            q.target,
            crate::time::rfc3339(q.send_time)
        );
        let message = proto::Message {
            source_address: &from,
            target_address: &q.source,
            send_time: self.unix,
            message_content: &content,
        };
        let Ok(bytes) = Pdu::Message(message).to_vec() else {
            return;
        };
        let pdu: Arc<[u8]> = Arc::from(bytes);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.effects.push(Effect::Store(Change::Append {
            conversation: Arc::from(direct_key(&from, &q.source)),
            seq,
            send_time: self.unix,
            pdu: pdu.clone(),
        }));
        let to: Vec<SessionId> = self.sessions_of(&local).collect();
        for to in to {
            let pdu = pdu.clone();
            self.effects.push(Effect::Push { to, pdu });
        }
    }
}
