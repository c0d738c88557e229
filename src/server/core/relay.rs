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
use crate::proto::{self, Address, ErrorType, Mode, Pdu};
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
    /// Relays refused by the peer or expired, since the server started.
    pub given_up: u64,
    /// The last of them: Unix time and why.
    pub last_given_up: Option<(u64, String)>,
}

impl Relay {
    /// Records a relay that leaves the outbox undelivered.
    fn gave_up(&mut self, at: u64, why: String) {
        self.given_up += 1;
        self.last_given_up = Some((at, why));
    }
}

impl Default for Relay {
    fn default() -> Relay {
        Relay {
            next_out: 1,
            last_in: 0,
            queued: VecDeque::new(),
            given_up: 0,
            last_given_up: None,
        }
    }
}

impl From<&RelayState> for Relay {
    fn from(state: &RelayState) -> Relay {
        Relay {
            next_out: state.next_out.max(1),
            last_in: state.last_in,
            queued: state.queued.iter().cloned().collect(),
            given_up: 0,
            last_given_up: None,
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

/// The server part of `target` when it is a valid address of a server
/// other than `own`. A local target costs one search for `@`: it is
/// checked in full by the local rules.
pub(super) fn remote_server<'a>(own: &str, target: &'a str) -> Option<&'a str> {
    let (_, server) = target.rsplit_once('@')?;
    if server == own {
        return None;
    }
    Address::parse(target).ok()?;
    Some(server)
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

    /// Puts `pdu` in `peer`'s outbox as its next relay.
    fn enqueue(&mut self, peer: &str, pdu: Arc<[u8]>, q: Outgoing<'_>) -> Result<(), ErrorType> {
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
            source: q.source.to_owned(),
            target: q.target.to_owned(),
            send_time: q.send_time,
            mode: q.mode,
        });
        let peer: Arc<str> = Arc::from(peer);
        self.effects.push(Effect::Store(Change::Enqueue {
            peer: peer.clone(),
            number,
            deadline,
            pdu,
        }));
        self.effects.push(Effect::Wake { peer });
        Ok(())
    }

    /// A local user's message to a user or a channel of `peer`.
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
        let pdu: Arc<[u8]> = Arc::from(frame);
        let to = m.target_address;
        let q = Outgoing::message(sender, to, m.send_time);
        if to.starts_with('#') {
            // The home server checks too; this one knows of kicks and bans
            // as soon as they are made.
            if !self.dir.is_remote_member(to, sender) {
                return Err(ErrorType::Unauthorized);
            }
            // The channel's history is kept, and its copies sent, by its
            // home server, which sends one back here for the members.
            return self.enqueue(peer, pdu, q);
        }
        // The sender's side of the contacts rule; the peer checks its own.
        if !self.dir.has_contact(sender, to) {
            return Err(ErrorType::Unauthorized);
        }
        self.charge(session, frame.len())?;
        self.enqueue(peer, pdu.clone(), q)?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.effects.push(Effect::Store(Change::Append {
            conversation: Arc::from(direct_key(sender, to)),
            seq,
            send_time: m.send_time,
            pdu: pdu.clone(),
        }));
        let own = self.sessions[&session].user.clone();
        let others: Vec<SessionId> = self.sessions_of(&own).filter(|&c| c != session).collect();
        for to in others {
            let pdu = pdu.clone();
            self.effects.push(Effect::Push { to, pdu });
        }
        Ok(())
    }

    /// Sends a message of local channel `channel` to each other server
    /// with members in it: one copy per server, not per member.
    pub(super) fn fan_out(&mut self, channel: &str, pdu: &Arc<[u8]>, m: &proto::Message<'_>) {
        let servers: Vec<String> = self
            .dir
            .member_servers(channel)
            .into_iter()
            .filter(|s| self.peers.contains_key(*s))
            .map(str::to_owned)
            .collect();
        for server in servers {
            let q = Outgoing::message(m.source_address, channel, m.send_time);
            if let Err(e) = self.enqueue(&server, pdu.clone(), q) {
                log::warn!("{channel}: no copy for {server}: {}", e.describe());
            }
        }
    }

    /// A local user joins or leaves `channel` of server `peer`: recorded
    /// here at once, and relayed to the channel's home, which applies its
    /// own rules; a refusal there undoes it and tells the user.
    pub(super) fn remote_mode(
        &mut self,
        requester: &str,
        peer: &str,
        u: proto::UserMode<'_>,
        frame: &[u8],
    ) -> Result<(), ErrorType> {
        if !self.peers.contains_key(peer) {
            return Err(ErrorType::NotFound);
        }
        if u.user_address != requester || !matches!(u.mode, Mode::Member | Mode::Leave) {
            // Operators act on the channel's home server.
            return Err(ErrorType::Unsupported);
        }
        let channel = u.channel_address;
        if u.mode == Mode::Leave && !self.dir.is_remote_member(channel, requester) {
            return Err(ErrorType::NotFound);
        }
        let q = Outgoing {
            source: requester,
            target: channel,
            send_time: 0,
            mode: Some(u.mode),
        };
        self.enqueue(peer, Arc::from(frame), q)?;
        let change = self.dir.set_remote(channel, requester, u.mode);
        self.store(change);
        Ok(())
    }

    /// After a mode change in a local channel, tells the server of each
    /// remote user it changed, so a kick or a ban holds there at once.
    pub(super) fn relay_modes(&mut self, changes: &[Change]) {
        for change in changes {
            let Change::SetMode {
                channel,
                user,
                mode,
            } = change
            else {
                continue;
            };
            let Some((_, server)) = user.split_once('@') else {
                continue;
            };
            if server == self.dir.server_name() || !self.peers.contains_key(server) {
                continue;
            }
            let pdu = Pdu::UserMode(proto::UserMode {
                user_address: user,
                channel_address: channel,
                mode: *mode,
            });
            let Ok(bytes) = pdu.to_vec() else { continue };
            let server = server.to_owned();
            let q = Outgoing {
                source: user,
                target: channel,
                send_time: 0,
                mode: Some(*mode),
            };
            if let Err(e) = self.enqueue(&server, Arc::from(bytes), q) {
                log::warn!(
                    "{channel}: cannot tell {server} of {user}: {}",
                    e.describe()
                );
            }
        }
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
            Pdu::Message(_) | Pdu::UserMode(_) => self.relay_in(session, peer, pdu, frame),
            Pdu::RelayHistory(r) => self.peer_history(session, peer, r),
            Pdu::RelayFrom(_) => Err(ErrorType::BadRequest),
            _ => Err(ErrorType::Unsupported),
        }
    }

    fn relay_in(
        &mut self,
        session: SessionId,
        peer: &str,
        pdu: Pdu<'_>,
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
        let (outcome, from, to) = match pdu {
            Pdu::Message(m) => (
                self.deliver(peer, m, frame),
                m.source_address,
                m.target_address,
            ),
            Pdu::UserMode(u) => (
                self.deliver_mode(peer, u),
                u.user_address,
                u.channel_address,
            ),
            _ => (Err(ErrorType::Unsupported), "", ""),
        };
        if let Err(e) = outcome {
            log::info!(
                "refused relay {number} from {peer}, {from} to {to}: {}",
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
    ///
    /// A channel message is either for a channel of this server, from a
    /// member on the peer (stored here and sent on to every member), or
    /// the peer's copy of a message of one of its own channels, for the
    /// local members.
    fn deliver(
        &mut self,
        peer: &str,
        m: proto::Message<'_>,
        frame: &[u8],
    ) -> Result<(), ErrorType> {
        if m.message_content.len() > self.limits.max_message_bytes {
            return Err(ErrorType::TooLarge);
        }
        let source = Address::parse(m.source_address).map_err(|_| ErrorType::Unauthorized)?;
        let own = self.dir.server_name();
        let local = match Address::parse(m.target_address) {
            Ok(Address::Channel { server, .. }) if server == peer => {
                return self.deliver_copy(m, frame);
            }
            Ok(Address::Channel { server, .. }) if server == own && source.server() == peer => {
                return self.deliver_to_channel(m, frame);
            }
            _ if source.server() != peer => return Err(ErrorType::Unauthorized),
            Ok(Address::User { local, server }) if server == own => local,
            Ok(_) => return Err(ErrorType::Unauthorized),
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
        self.push_all(to, &pdu);
        Ok(())
    }

    /// A message from a user of the peer to a local channel: the rules
    /// of a local sender, then stored, pushed, and sent on to the other
    /// servers with members (the peer too, for its other members).
    fn deliver_to_channel(&mut self, m: proto::Message<'_>, frame: &[u8]) -> Result<(), ErrorType> {
        self.dir.route(m.source_address, m.target_address)?;
        let pdu: Arc<[u8]> = Arc::from(frame);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.effects.push(Effect::Store(Change::Append {
            conversation: Arc::from(m.target_address),
            seq,
            send_time: m.send_time,
            pdu: pdu.clone(),
        }));
        self.push_to_members(m.target_address, &pdu, None);
        self.fan_out(m.target_address, &pdu, &m);
        Ok(())
    }

    /// Pushes `pdu` to the sessions of every local member of local
    /// channel `channel`, but `except`.
    pub(super) fn push_to_members(
        &mut self,
        channel: &str,
        pdu: &Arc<[u8]>,
        except: Option<SessionId>,
    ) {
        let to = self.local_sessions(self.dir.members(channel), except);
        self.push_all(to, pdu);
    }

    /// The sessions of the local users among `addresses`, but `except`.
    fn local_sessions<'a>(
        &self,
        addresses: impl Iterator<Item = &'a str>,
        except: Option<SessionId>,
    ) -> Vec<SessionId> {
        let server = self.dir.server_name();
        addresses
            .filter_map(|addr| addr.strip_suffix(server))
            .filter_map(|l| l.strip_suffix('@'))
            .flat_map(|u| self.sessions_of(u))
            .filter(|&c| Some(c) != except)
            .collect()
    }

    /// Pushes `pdu` to each session of `to`.
    fn push_all(&mut self, to: Vec<SessionId>, pdu: &Arc<[u8]>) {
        for to in to {
            let pdu = pdu.clone();
            self.effects.push(Effect::Push { to, pdu });
        }
    }

    /// The home server's copy of a message of its channel: pushed to the
    /// local members it has; kept by the home server alone.
    fn deliver_copy(&mut self, m: proto::Message<'_>, frame: &[u8]) -> Result<(), ErrorType> {
        let to = self.local_sessions(self.dir.remote_members(m.target_address), None);
        self.push_all(to, &Arc::from(frame));
        Ok(())
    }

    /// A relayed UserMode: a user of the peer joining or leaving a local
    /// channel, or the peer's channel changing a local user's mode.
    fn deliver_mode(&mut self, peer: &str, u: proto::UserMode<'_>) -> Result<(), ErrorType> {
        let user = Address::parse(u.user_address).map_err(|_| ErrorType::BadRequest)?;
        let channel = Address::parse(u.channel_address).map_err(|_| ErrorType::BadRequest)?;
        let own = self.dir.server_name();
        if channel.server() == peer && user.server() == own {
            let local = u.user_address.split_once('@').map_or("", |(l, _)| l);
            if !self.dir.has_user(local) {
                return Err(ErrorType::NotFound);
            }
            let change = self
                .dir
                .set_remote(u.channel_address, u.user_address, u.mode);
            self.store(change);
            return Ok(());
        }
        if channel.server() != own || user.server() != peer {
            return Err(ErrorType::Unauthorized);
        }
        // Only their own joins and leaves: the peer's users are not
        // operators acting from afar.
        if !matches!(u.mode, Mode::Member | Mode::Leave) {
            return Err(ErrorType::Unauthorized);
        }
        let peers = &self.peers;
        let changes = self.dir.user_mode(
            u.user_address,
            u.user_address,
            u.channel_address,
            u.mode,
            self.next_seq,
            |s| peers.contains_key(s),
        )?;
        self.store(changes);
        Ok(())
    }

    /// A History of a local channel for `r.requester`, a user of the peer.
    fn peer_history(
        &mut self,
        session: SessionId,
        peer: &str,
        r: proto::RelayHistory<'_>,
    ) -> Result<(), ErrorType> {
        match Address::parse(r.requester) {
            Ok(Address::User { server, .. }) if server == peer => {}
            _ => return Err(ErrorType::Unauthorized),
        }
        let cursor = self.history_cursor(r.requester, r.history)?;
        let by = self.sessions[&session].user.clone();
        self.effects.push(Effect::History {
            to: session,
            cursor,
            items: true,
            by,
        });
        Ok(())
    }

    /// Ends a peer session's frames: records how far its relays are dealt
    /// with, in the batch that stores them, and tells the peer so once
    /// that batch has committed.
    pub(super) fn acknowledge(&mut self, session: SessionId) {
        let peer = match self.sessions.get(&session) {
            Some(s) if s.kind == super::Kind::Peer => s.user.to_string(),
            _ => return,
        };
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
                if q.mode == Some(Mode::Member) {
                    // The home server refused the join: undo it here.
                    let change = self.dir.set_remote(&q.target, &q.source, Mode::Leave);
                    self.store(change);
                }
                let reason = format!("{peer} refused it ({})", e.describe());
                log::warn!("relay {} to {}: {reason}", q.number, q.target);
                self.notify(q, &reason);
                let why = format!("relay {} refused: {}", q.number, e.describe());
                if let Some(relay) = self.relays.get_mut(peer) {
                    relay.gave_up(self.unix, why);
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
            if let Some(relay) = self.relays.get_mut(&peer) {
                let why = format!("relay {} expired undelivered", q.number);
                relay.gave_up(now, why);
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
        self.push_all(to, &pdu);
    }
}

/// What an outbox row is, besides its bytes.
pub(super) struct Outgoing<'a> {
    source: &'a str,
    target: &'a str,
    send_time: u64,
    mode: Option<Mode>,
}

impl<'a> Outgoing<'a> {
    fn message(source: &'a str, target: &'a str, send_time: u64) -> Outgoing<'a> {
        Outgoing {
            source,
            target,
            send_time,
            mode: None,
        }
    }
}
