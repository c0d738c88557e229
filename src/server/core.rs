//! The server's decision core: a pure state machine over sessions, the
//! directory and time.
//!
//! The driver ([`super::hub`]) feeds it [`Input`]s with the time they
//! happened and takes its [`Effect`]s: store changes, replies, pushes,
//! History reads and closes. Nothing here touches a socket, the store or a
//! clock, so every rule is tested by driving it with inputs and a virtual
//! `now`. The driver's one promise to keep: apply the [`Effect::Store`]
//! changes of a batch in one transaction and release the other effects
//! only once it has committed.

use super::config::Limits;
use super::federation::{identity, PeerStatus};
use super::rate::Bucket;
use super::state::{Directory, Route};
use super::tokens::{self, Tokens};
use crate::proto::{self, feature, Deframer, ErrorType, Pdu};
use crate::store::{Change, HistoryCursor, Peer, Snapshot};
pub use relay::LinkWork;
use relay::Relay;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

/// Identifies one session for the lifetime of the server.
pub type SessionId = u64;

/// A map keyed by session id. The ids are numbers the server hands out
/// itself, not peer input, so a multiplicative hash serves as well as
/// SipHash here at a fraction of its cost on every request.
pub type IdMap<V> = HashMap<SessionId, V, std::hash::BuildHasherDefault<IdHasher>>;

/// See [`IdMap`].
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(GOLDEN);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(GOLDEN);
    }
}

/// 2^64 / φ, odd: multiplying by it spreads consecutive ids over all bits.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Who is on the other end of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A local user, logged in with their password.
    User,
    /// A peer server that proved it holds the key of its name: the
    /// session's `user`.
    Peer,
}

/// The open sessions of one user or peer. Nearly always one, kept inline,
/// so an idle session costs its index no allocation of its own.
#[derive(Debug, Clone, Default)]
enum Ids {
    #[default]
    Empty,
    One(SessionId),
    Many(Vec<SessionId>),
}

impl Ids {
    fn iter(&self) -> std::slice::Iter<'_, SessionId> {
        match self {
            Ids::Empty => [].iter(),
            Ids::One(id) => std::slice::from_ref(id).iter(),
            Ids::Many(ids) => ids.iter(),
        }
    }

    fn len(&self) -> usize {
        self.iter().len()
    }

    fn push(&mut self, id: SessionId) {
        *self = match std::mem::take(self) {
            Ids::Empty => Ids::One(id),
            Ids::One(first) => Ids::Many(vec![first, id]),
            Ids::Many(mut ids) => {
                ids.push(id);
                Ids::Many(ids)
            }
        };
    }

    /// Takes `id` out; true once none is left.
    fn remove(&mut self, id: SessionId) -> bool {
        match self {
            Ids::Empty => {}
            Ids::One(only) if *only == id => *self = Ids::Empty,
            Ids::One(_) => {}
            Ids::Many(ids) => {
                ids.retain(|&c| c != id);
                match ids[..] {
                    [] => *self = Ids::Empty,
                    [only] => *self = Ids::One(only),
                    _ => {}
                }
            }
        }
        matches!(self, Ids::Empty)
    }
}

impl<'a> IntoIterator for &'a Ids {
    type Item = &'a SessionId;
    type IntoIter = std::slice::Iter<'a, SessionId>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Optional behaviour a session turned on with a Features request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// History replies carry HistoryItem PDUs.
    pub history_items: bool,
}

/// An admin command from the local socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admin {
    Add {
        name: String,
        hash: String,
    },
    Passwd {
        name: String,
        hash: String,
    },
    Del {
        name: String,
    },
    List,
    /// Adds a known peer, or replaces one added before.
    PeerAdd {
        name: String,
        peer: Peer,
    },
    PeerRemove {
        name: String,
    },
    /// Every known peer with its link's state.
    PeerList,
    /// Deletes channel `channel` of this server (full address) with its
    /// modes and messages; its members' sessions stay open.
    ChannelDelete {
        channel: String,
    },
    /// Records how a link to `name` went, at Unix time `at`: `error` is
    /// None when both proofs held.
    PeerOutcome {
        name: String,
        at: u64,
        error: Option<String>,
    },
}

/// The answer to an [`Admin`] command.
pub type AdminReply = Result<AdminAnswer, String>;

/// What a successful [`Admin`] command returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAnswer {
    Done,
    Users(Vec<String>),
    Peers(Vec<PeerStatus>),
}

/// What happened, as the driver tells it.
#[derive(Debug)]
pub enum Input {
    /// A connection authenticated as local user `user` (canonical name);
    /// `trusted` if it came from `trusted_networks` (no rate limit).
    Opened {
        session: SessionId,
        user: String,
        trusted: bool,
    },
    /// A connection proved it is peer server `name`, at Unix time `at`.
    PeerOpened {
        session: SessionId,
        name: String,
        at: u64,
    },
    /// The connection sent a frame whose length is over the limit.
    Malformed { session: SessionId },
    /// The connection is gone.
    Closed { session: SessionId },
    /// An admin command; `token` comes back with its answer.
    Admin { token: u64, command: Admin },
    /// Time passed: close sessions idle for longer than the limit, and
    /// give up relays whose lifetime ended.
    Tick,
    /// The link to peer `peer` heard that relays up to `upto` are dealt
    /// with: stored, or, for those in `refused`, refused with that error.
    Relayed {
        peer: String,
        upto: u64,
        refused: Vec<(u64, ErrorType)>,
    },
}

/// A reply to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Success,
    Error(ErrorType),
    /// Whole PDUs (a contact list, a Features answer).
    Bytes(Vec<u8>),
}

impl Reply {
    /// Its size on the wire.
    pub fn len(&self) -> usize {
        match self {
            Reply::Success => proto::SUCCESS_PDU.len(),
            Reply::Error(_) => 4,
            Reply::Bytes(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the driver must do, in order.
#[derive(Debug)]
pub enum Effect {
    /// Part of this batch's one write transaction.
    Store(Change),
    Reply {
        to: SessionId,
        reply: Reply,
    },
    /// A Message for a session that did not send it.
    Push {
        to: SessionId,
        pdu: Arc<[u8]>,
    },
    /// Stream a History reply from the store, then Success. `items` says
    /// whether its messages go as HistoryItem PDUs; `by` is the user (or
    /// peer server) whose turn its reads take, so one user's scans queue
    /// behind their own.
    History {
        to: SessionId,
        cursor: HistoryCursor,
        items: bool,
        by: Arc<str>,
    },
    /// Close the session once everything before this is written.
    Close {
        to: SessionId,
    },
    Admin {
        token: u64,
        answer: AdminReply,
    },
    /// Stream a History reply that `peer` gives to `request`, a
    /// RelayHistory, ending with its Success or Error.
    RemoteHistory {
        to: SessionId,
        peer: String,
        request: Vec<u8>,
        items: bool,
    },
    /// The outbox of `peer` changed: once committed, the driver asks
    /// [`Core::link_work`] what its link has to do.
    Wake {
        peer: Arc<str>,
    },
    /// `peer` is no longer a known peer: end the link to it.
    Unlink {
        peer: String,
    },
}

impl Effect {
    /// The session this effect writes to, if any.
    pub fn session(&self) -> Option<SessionId> {
        match self {
            Effect::Reply { to, .. }
            | Effect::Push { to, .. }
            | Effect::History { to, .. }
            | Effect::RemoteHistory { to, .. }
            | Effect::Close { to } => Some(*to),
            Effect::Store(_)
            | Effect::Admin { .. }
            | Effect::Wake { .. }
            | Effect::Unlink { .. } => None,
        }
    }
}

#[derive(Debug)]
struct Session {
    kind: Kind,
    /// The local user name, or the peer's name for a peer session; shared
    /// so requests hold it without a copy.
    user: Arc<str>,
    address: Arc<str>,
    flags: Flags,
    last_active: Instant,
    /// From `trusted_networks`, or a peer server: no rate limit.
    trusted: bool,
}

/// A known peer and what the core saw of its links.
#[derive(Debug, Clone)]
struct KnownPeer {
    peer: Peer,
    /// From the config file: `federate add` and `remove` leave it alone.
    configured: bool,
    last_success: Option<u64>,
    last_error: Option<(u64, String)>,
}

/// The core's state. Create with [`Core::new`]; feed with [`Core::handle`]
/// and [`Core::frames`]; drain with [`Core::effects`].
pub struct Core {
    dir: Directory,
    limits: Limits,
    next_seq: u64,
    sessions: IdMap<Session>,
    /// Looked up for every push: hashed with foldhash, like the
    /// directory's users.
    by_user: HashMap<Arc<str>, Ids, foldhash::fast::RandomState>,
    peers: BTreeMap<String, KnownPeer>,
    /// Proven peer sessions open, per peer name.
    by_peer: HashMap<Arc<str>, Ids, foldhash::fast::RandomState>,
    /// Outboxes and relay numbers, per peer server name.
    relays: HashMap<String, Relay>,
    /// Per proven peer session, the relay number its next Message takes;
    /// 0 until it sends a RelayFrom.
    links: IdMap<u64>,
    /// Whether the frames being handled relayed a message in, so they end
    /// with a RelayAck.
    relayed_in: bool,
    /// Unix time as the driver last told it ([`Core::set_unix_time`]).
    unix: u64,
    /// Rate limit buckets, at most one per user; each Tick forgets those
    /// full again.
    buckets: HashMap<Arc<str>, Bucket>,
    /// Bytes of stored messages each local user sent (those with any).
    usage: HashMap<Arc<str>, u64>,
    /// Session tokens of the users, and when expired ones are next swept.
    tokens: Tokens,
    next_token_sweep: u64,
    /// Fills a new token's bytes: the OS generator. A function the driver
    /// could replace, so the core itself does no IO.
    random: fn(&mut [u8]) -> Result<(), getrandom::Error>,
    effects: Vec<Effect>,
}

impl Core {
    /// The core of server `name` with the store's contents.
    pub fn new(name: &str, limits: Limits, snap: Snapshot) -> Core {
        let mut core = Core {
            next_seq: snap.next_seq,
            peers: BTreeMap::new(),
            dir: Directory::new(name, limits.max_channels, Snapshot::default()),
            limits,
            sessions: IdMap::default(),
            by_user: HashMap::default(),
            by_peer: HashMap::default(),
            relays: HashMap::new(),
            links: IdMap::default(),
            relayed_in: false,
            unix: 0,
            buckets: HashMap::new(),
            usage: HashMap::new(),
            tokens: Tokens::default(),
            next_token_sweep: 0,
            random: getrandom::getrandom,
            effects: Vec::new(),
        };
        core.reload(snap);
        core
    }

    /// Adds the peers of the config file; a stored peer of the same name
    /// gives way to it.
    pub fn configure_peers(&mut self, peers: impl IntoIterator<Item = (String, Peer)>) {
        for (name, peer) in peers {
            let known = KnownPeer {
                peer,
                configured: true,
                last_success: None,
                last_error: None,
            };
            self.peers.insert(name, known);
        }
    }

    /// The key of known peer `name`, for a link's handshake.
    pub fn peer_key(&self, name: &str) -> Option<[u8; 32]> {
        self.peers.get(name).map(|p| p.peer.key)
    }

    /// Replaces the directory and the stored peers with what the store
    /// holds (at start, and after a batch failed to commit); sessions,
    /// configured peers and link history stay.
    pub fn reload(&mut self, mut snap: Snapshot) {
        self.tokens = Tokens::new(std::mem::take(&mut snap.tokens));
        self.peers.retain(|_, p| p.configured);
        for (name, peer) in &snap.peers {
            if let Some(known) = self.peers.get(name) {
                if known.configured {
                    continue;
                }
            }
            let known = KnownPeer {
                peer: peer.clone(),
                configured: false,
                last_success: None,
                last_error: None,
            };
            self.peers.insert(name.clone(), known);
        }
        self.next_seq = snap.next_seq;
        self.set_usage(std::mem::take(&mut snap.usage));
        self.relays = snap
            .relays
            .iter()
            .map(|(peer, state)| (peer.clone(), Relay::from(state)))
            .collect();
        let name = self.dir.server_name().to_owned();
        self.dir = Directory::new(&name, self.limits.max_channels, snap);
        self.dir
            .set_max_channels_per_user(self.limits.max_channels_per_user);
    }

    /// Puts new limits in force; sessions already open stay, even past a
    /// lower `max_sessions_per_user`.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.dir.set_max_channels(limits.max_channels);
        self.dir
            .set_max_channels_per_user(limits.max_channels_per_user);
    }

    /// Tells the core the wall-clock time, for the lifetimes of relays;
    /// the driver calls it before each batch.
    pub fn set_unix_time(&mut self, unix: u64) {
        self.unix = unix;
    }

    /// The message counter to commit with this batch.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The effects produced since the last call, in order.
    pub fn effects(&mut self) -> std::vec::Drain<'_, Effect> {
        self.effects.drain(..)
    }

    /// The canonical name and hash of a user about to log in.
    pub fn lookup(&self, username: &str) -> Option<(String, String)> {
        let (name, hash) = self.dir.lookup(username)?;
        Some((name.to_owned(), hash.to_owned()))
    }

    /// Sessions open now.
    /// The canonical name of `username` if `hash` is the hash of one of
    /// their tokens, live at the Unix time last set.
    pub fn token_login(&self, username: &str, hash: &[u8; 32]) -> Option<String> {
        let (name, _) = self.dir.lookup(username)?;
        let ok = self.tokens.check(name, hash, self.unix);
        ok.then(|| name.to_owned())
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Handles one input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::Opened {
                session,
                user,
                trusted,
            } => self.open(now, session, user, trusted),
            Input::PeerOpened { session, name, at } => self.open_peer(now, session, name, at),
            Input::Malformed { session } => {
                self.reply(session, Reply::Error(ErrorType::BadRequest));
                self.close(session);
            }
            Input::Closed { session } => self.forget(session),
            Input::Admin { token, command } => {
                let answer = self.admin(command);
                self.effects.push(Effect::Admin { token, answer });
            }
            Input::Tick => {
                self.expire(now);
                self.forget_full_buckets(now);
                self.expire_relays();
                self.sweep_tokens();
            }
            Input::Relayed {
                peer,
                upto,
                refused,
            } => self.acknowledged(&peer, upto, &refused),
        }
    }

    fn open(&mut self, now: Instant, session: SessionId, user: String, trusted: bool) {
        if !self.dir.has_user(&user) {
            // Deleted between the password check and now.
            self.effects.push(Effect::Reply {
                to: session,
                reply: Reply::Error(ErrorType::AuthFailed),
            });
            self.effects.push(Effect::Close { to: session });
            return;
        }
        let open = self.by_user.get(user.as_str()).map_or(0, Ids::len);
        if open >= self.limits.max_sessions_per_user {
            log::debug!("{user}: refusing session {session}: max_sessions_per_user");
            self.effects.push(Effect::Reply {
                to: session,
                reply: Reply::Error(ErrorType::TooLarge),
            });
            self.effects.push(Effect::Close { to: session });
            return;
        }
        let address: Arc<str> = Arc::from(self.dir.address_of(&user));
        let user: Arc<str> = Arc::from(user);
        self.by_user.entry(user.clone()).or_default().push(session);
        self.effects.push(Effect::Reply {
            to: session,
            reply: Reply::Success,
        });
        let s = Session {
            kind: Kind::User,
            user,
            address,
            flags: Flags::default(),
            last_active: now,
            trusted,
        };
        self.sessions.insert(session, s);
    }

    /// A proven peer: removed or changed since its proof, it is refused.
    fn open_peer(&mut self, now: Instant, session: SessionId, name: String, at: u64) {
        let Some(known) = self.peers.get_mut(&name) else {
            self.effects.push(Effect::Reply {
                to: session,
                reply: Reply::Error(ErrorType::Unauthorized),
            });
            self.effects.push(Effect::Close { to: session });
            return;
        };
        known.last_success = Some(at);
        let last_in = self.relays.get(&name).map_or(0, |r| r.last_in);
        let name: Arc<str> = Arc::from(name);
        self.by_peer.entry(name.clone()).or_default().push(session);
        self.effects.push(Effect::Reply {
            to: session,
            reply: Reply::Success,
        });
        // Where the peer's relays resume.
        self.effects.push(Effect::Reply {
            to: session,
            reply: Reply::Bytes(relay::ack(last_in)),
        });
        self.links.insert(session, 0);
        let s = Session {
            kind: Kind::Peer,
            user: name.clone(),
            address: name,
            flags: Flags::default(),
            last_active: now,
            // Relays are bounded per peer by outboxes, not by user.
            trusted: true,
        };
        self.sessions.insert(session, s);
    }

    /// Drops a session from the tables (it closed, or is being closed).
    fn forget(&mut self, session: SessionId) {
        let Some(s) = self.sessions.remove(&session) else {
            return;
        };
        self.links.remove(&session);
        let index = match s.kind {
            Kind::User => &mut self.by_user,
            Kind::Peer => &mut self.by_peer,
        };
        if let Some(list) = index.get_mut(&s.user) {
            if list.remove(session) {
                index.remove(&s.user);
            }
        }
    }

    fn close(&mut self, session: SessionId) {
        if self.sessions.contains_key(&session) {
            self.effects.push(Effect::Close { to: session });
        }
        self.forget(session);
    }

    fn close_user(&mut self, user: &str) {
        let sessions = self.by_user.get(user).map(|l| l.iter().as_slice().to_vec());
        for session in sessions.unwrap_or_default() {
            self.close(session);
        }
    }

    fn expire(&mut self, now: Instant) {
        let Some(limit) = self.limits.idle_timeout else {
            return;
        };
        let idle: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| now.saturating_duration_since(s.last_active) >= limit)
            .map(|(&id, _)| id)
            .collect();
        for session in idle {
            log::debug!("session {session}: idle for {} s, closing", limit.as_secs());
            self.close(session);
        }
    }

    fn reply(&mut self, to: SessionId, reply: Reply) {
        if self.sessions.contains_key(&to) {
            self.effects.push(Effect::Reply { to, reply });
        }
    }

    /// Handles the whole frames at the start of `bytes` from `session`
    /// until their replies add up to `room` bytes (History replies count
    /// as [`HISTORY_COST`]); returns how many bytes it used. The driver
    /// keeps the rest until the session's replies have drained.
    pub fn frames(&mut self, now: Instant, session: SessionId, bytes: &[u8], room: usize) -> usize {
        let used = self.decode(now, session, bytes, room);
        if std::mem::take(&mut self.relayed_in) {
            self.acknowledge(session);
        }
        used
    }

    fn decode(&mut self, now: Instant, session: SessionId, bytes: &[u8], room: usize) -> usize {
        let deframer = Deframer::with_max_payload(self.limits.max_pdu_bytes);
        let mut used = 0;
        let mut spent = 0;
        while used < bytes.len() && spent < room {
            if !self.sessions.contains_key(&session) {
                return bytes.len();
            }
            let (pdu, len) = match deframer.decode(&bytes[used..]) {
                Ok(Some(found)) => found,
                // The connection forwards whole frames only, so anything
                // else is a malformed PDU.
                Ok(None) | Err(_) => {
                    self.handle(now, Input::Malformed { session });
                    return bytes.len();
                }
            };
            let frame = &bytes[used..used + len];
            used += len;
            if let Some(s) = self.sessions.get_mut(&session) {
                s.last_active = now;
            }
            if !self.within_rate(now, session) {
                self.reply(session, Reply::Error(ErrorType::SlowDown));
                spent += 4;
                continue;
            }
            spent += match self.request(session, pdu, frame) {
                Ok(None) => 0,
                Ok(Some(Answer::Reply(reply))) => {
                    let n = reply.len();
                    self.reply(session, reply);
                    n
                }
                Ok(Some(Answer::Remote { peer, request })) => {
                    let items = self.sessions[&session].flags.history_items;
                    self.effects.push(Effect::RemoteHistory {
                        to: session,
                        peer,
                        request,
                        items,
                    });
                    HISTORY_COST
                }
                Ok(Some(Answer::History(cursor))) => {
                    let s = &self.sessions[&session];
                    let (items, by) = (s.flags.history_items, s.user.clone());
                    self.effects.push(Effect::History {
                        to: session,
                        cursor,
                        items,
                        by,
                    });
                    HISTORY_COST
                }
                Err(e) => {
                    self.reply(session, Reply::Error(e));
                    4
                }
            };
        }
        used
    }

    /// Takes a token from the bucket of `session`'s user: false when the
    /// user is over the rate limit. Trusted sessions take none.
    fn within_rate(&mut self, now: Instant, session: SessionId) -> bool {
        let Some(s) = self.sessions.get(&session) else {
            return true;
        };
        if s.trusted {
            return true;
        }
        let rate = self.limits.rate();
        let bucket = self
            .buckets
            .entry(s.user.clone())
            .or_insert_with(|| Bucket::new(rate, now));
        bucket.take(rate, now)
    }

    /// Forgets the buckets that are full again: a new one would be the
    /// same, so memory stays with users who are sending.
    fn forget_full_buckets(&mut self, now: Instant) {
        let rate = self.limits.rate();
        self.buckets.retain(|_, b| !b.is_full(rate, now));
    }

    /// One authenticated request; `Ok(None)` means no reply (Test).
    fn request(
        &mut self,
        session: SessionId,
        pdu: Pdu<'_>,
        frame: &[u8],
    ) -> Result<Option<Answer>, ErrorType> {
        let s = &self.sessions[&session];
        let address = s.address.clone();
        if s.kind == Kind::Peer {
            let name = s.user.clone();
            return self.peer_request(session, &name, pdu, frame).map(|()| None);
        }
        let success = Ok(Some(Answer::Reply(Reply::Success)));
        match pdu {
            Pdu::Test(_) => Ok(None),
            Pdu::Message(m) => self.message(session, &address, m, frame).and(success),
            Pdu::UserMode(u) => {
                let own = self.dir.server_name();
                if let Some(peer) = relay::remote_server(own, u.channel_address) {
                    let peer = peer.to_owned();
                    self.remote_mode(&address, &peer, u, frame)?;
                    return success;
                }
                let peers = &self.peers;
                let changes = self.dir.user_mode(
                    &address,
                    u.user_address,
                    u.channel_address,
                    u.mode,
                    self.next_seq,
                    |s| peers.contains_key(s),
                )?;
                self.relay_modes(&changes);
                self.store(changes);
                success
            }
            Pdu::History(h) => self.history(&address, h).map(Some),
            Pdu::ContactAdd(c) => {
                let peers = &self.peers;
                let change = self
                    .dir
                    .contact_add(&address, c.address, |s| peers.contains_key(s))?;
                self.store(change);
                success
            }
            Pdu::ContactRemove(c) => {
                let change = self.dir.contact_remove(&address, c.address)?;
                self.store([change]);
                success
            }
            Pdu::ContactList => Ok(Some(Answer::Reply(self.contact_list(&address)))),
            Pdu::Features(f) => Ok(Some(Answer::Reply(self.features(session, f.flags)))),
            Pdu::TokenRequest => self.issue_token(session).map(|r| Some(Answer::Reply(r))),
            _ => Err(ErrorType::Unsupported),
        }
    }

    fn store(&mut self, changes: impl IntoIterator<Item = Change>) {
        self.effects.extend(changes.into_iter().map(Effect::Store));
    }

    fn message(
        &mut self,
        session: SessionId,
        sender: &str,
        m: proto::Message<'_>,
        frame: &[u8],
    ) -> Result<(), ErrorType> {
        if m.source_address != sender {
            return Err(ErrorType::Unauthorized);
        }
        if m.message_content.len() > self.limits.max_message_bytes {
            return Err(ErrorType::TooLarge);
        }
        if let Some(peer) = relay::remote_server(self.dir.server_name(), m.target_address) {
            return self.relay_out(session, sender, peer, m, frame);
        }
        let route = self.dir.route(sender, m.target_address)?;
        self.charge(session, frame.len())?;
        let pdu: Arc<[u8]> = Arc::from(frame);
        let seq = self.next_seq;
        self.next_seq += 1;
        let conversation = match &route {
            Route::Direct(key) => key.clone(),
            Route::Channel => Arc::from(m.target_address),
        };
        self.effects.push(Effect::Store(Change::Append {
            conversation,
            seq,
            send_time: m.send_time,
            pdu: pdu.clone(),
        }));
        if route == Route::Channel {
            self.push_to_members(m.target_address, &pdu, Some(session));
            self.fan_out(m.target_address, &pdu, &m);
            return Ok(());
        }
        // The recipient's sessions and the sender's others.
        let to = m.target_address;
        let to = to.split_once('@').map_or(to, |(l, _)| l);
        let from = &self.sessions[&session].user;
        for user in [to, &**from] {
            for &c in self.by_user.get(user).into_iter().flatten() {
                if c != session {
                    let pdu = pdu.clone();
                    self.effects.push(Effect::Push { to: c, pdu });
                }
            }
        }
        Ok(())
    }

    /// Counts `bytes` of a message to be stored against `session`'s user,
    /// refusing it past `max_stored_bytes_per_user`.
    fn charge(&mut self, session: SessionId, bytes: usize) -> Result<(), ErrorType> {
        let user = &self.sessions[&session].user;
        let bytes = bytes as u64;
        let used = self.usage.get(user).copied().unwrap_or(0);
        let total = used.saturating_add(bytes);
        if total > self.limits.max_stored_bytes_per_user {
            return Err(ErrorType::TooLarge);
        }
        let user = user.clone();
        self.usage.insert(user.clone(), total);
        self.effects
            .push(Effect::Store(Change::Charge { user, bytes }));
        Ok(())
    }

    /// Takes the stored bytes per user from the store again, after a
    /// batch that deleted messages committed.
    pub fn set_usage(&mut self, usage: BTreeMap<String, u64>) {
        self.usage = usage.into_iter().map(|(u, n)| (Arc::from(u), n)).collect();
    }

    /// Bytes of stored messages `user` has sent, as the core counts them.
    pub fn usage(&self, user: &str) -> u64 {
        self.usage.get(user).copied().unwrap_or(0)
    }

    fn sessions_of<'a>(&'a self, user: &str) -> impl Iterator<Item = SessionId> + 'a {
        self.by_user.get(user).into_iter().flatten().copied()
    }

    fn history(&mut self, requester: &str, h: proto::History<'_>) -> Result<Answer, ErrorType> {
        let own = self.dir.server_name();
        match relay::remote_server(own, h.channel_address) {
            Some(peer) if h.channel_address.starts_with('#') => {
                if !self.peers.contains_key(peer) {
                    return Err(ErrorType::NotFound);
                }
                if !self.dir.is_remote_member(h.channel_address, requester) {
                    return Err(ErrorType::Unauthorized);
                }
                if h.count < 0 || h.offset < 0 {
                    return Err(ErrorType::BadRequest);
                }
                // Asked of the channel's home server over the link.
                let history = proto::History {
                    count: h.count.min(self.limits.max_history_count as i64),
                    ..h
                };
                let pdu = Pdu::RelayHistory(proto::RelayHistory { requester, history });
                let request = pdu.to_vec().map_err(|_| ErrorType::BadRequest)?;
                let peer = peer.to_owned();
                Ok(Answer::Remote { peer, request })
            }
            _ => self.history_cursor(requester, h).map(Answer::History),
        }
    }

    /// The cursor of a History of a conversation kept here.
    fn history_cursor(
        &self,
        requester: &str,
        h: proto::History<'_>,
    ) -> Result<HistoryCursor, ErrorType> {
        let (Ok(count), Ok(offset)) = (u64::try_from(h.count), u64::try_from(h.offset)) else {
            return Err(ErrorType::BadRequest);
        };
        let scan = self.limits.max_history_scan;
        if offset >= scan {
            return Err(ErrorType::TooLarge);
        }
        let peers = &self.peers;
        let conversation = self
            .dir
            .history_target(requester, h.channel_address, |s| peers.contains_key(s))?
            .conversation(requester);
        let count = count.min(self.limits.max_history_count);
        // Messages accepted after this request are pushed, not replied.
        let cursor = HistoryCursor::new(conversation, h.since, offset, count, self.next_seq);
        Ok(cursor.with_scan_limit(scan))
    }

    fn contact_list(&self, owner: &str) -> Reply {
        let mut bytes = Vec::new();
        for address in self.dir.contacts(owner) {
            let pdu = Pdu::Contact(proto::Contact { address });
            // A contact address is at most 64 + 1 + 253 bytes.
            pdu.encode(&mut bytes).expect("contact fits a PDU");
        }
        bytes.extend_from_slice(&proto::SUCCESS_PDU);
        Reply::Bytes(bytes)
    }

    /// Turns on the known behaviours of `asked`; answers with those on.
    fn features(&mut self, session: SessionId, asked: u16) -> Reply {
        let on = asked & feature::KNOWN;
        if let Some(s) = self.sessions.get_mut(&session) {
            s.flags.history_items = on & feature::HISTORY_ITEMS != 0;
        }
        let pdu = Pdu::Features(proto::Features { flags: on });
        Reply::Bytes(pdu.to_vec().expect("two bytes fit"))
    }

    /// A new session token for the session's user, answered as a Token
    /// PDU once its hash is durably stored. Refused (0x82) when the config
    /// issues none.
    fn issue_token(&mut self, session: SessionId) -> Result<Reply, ErrorType> {
        let lifetime = self.limits.token_lifetime.as_secs();
        if lifetime == 0 {
            return Err(ErrorType::Unsupported);
        }
        let mut token = [0u8; proto::TOKEN_LEN];
        if let Err(e) = (self.random)(&mut token) {
            log::error!("no randomness for a session token: {e}");
            return Err(ErrorType::ServerError);
        }
        let expires = self.unix.saturating_add(lifetime);
        let stored = crate::store::StoredToken {
            hash: tokens::hash(&token),
            issued: self.unix,
            expires,
        };
        let user = self.sessions[&session].user.clone();
        let changes = self.tokens.issue(&user, stored);
        self.store(changes);
        let pdu = Pdu::Token(proto::Token {
            token: &token,
            expires,
        });
        Ok(Reply::Bytes(pdu.to_vec().expect("a token fits a PDU")))
    }

    /// Frees the rows of expired tokens, at most once per
    /// [`tokens::SWEEP_EVERY_SECS`].
    fn sweep_tokens(&mut self) {
        if self.unix < self.next_token_sweep {
            return;
        }
        self.next_token_sweep = self.unix.saturating_add(tokens::SWEEP_EVERY_SECS);
        let changes = self.tokens.sweep(self.unix);
        self.store(changes);
    }

    fn admin(&mut self, command: Admin) -> AdminReply {
        match command {
            Admin::List => Ok(AdminAnswer::Users(self.dir.user_names())),
            Admin::PeerAdd { name, peer } => {
                check_peer(&name, &peer)?;
                if self.peers.get(&name).is_some_and(|p| p.configured) {
                    return Err(format!("{name} is set in the config file; change it there"));
                }
                if name == self.dir.server_name() {
                    return Err(format!("{name} is this server's own name"));
                }
                let change = Change::PutPeer {
                    name: name.clone(),
                    peer: peer.clone(),
                };
                self.store([change]);
                let known = KnownPeer {
                    peer,
                    configured: false,
                    last_success: None,
                    last_error: None,
                };
                self.peers.insert(name.clone(), known);
                // Links proven with the old entry end; the outbox goes to
                // the new address.
                self.close_peer(&name);
                self.effects.push(Effect::Wake {
                    peer: Arc::from(name.as_str()),
                });
                Ok(AdminAnswer::Done)
            }
            Admin::PeerRemove { name } => {
                match self.peers.get(&name) {
                    None => return Err(format!("no peer {name}")),
                    Some(p) if p.configured => {
                        return Err(format!("{name} is set in the config file; remove it there"))
                    }
                    Some(_) => {}
                }
                self.peers.remove(&name);
                self.store([Change::DeletePeer { name: name.clone() }]);
                self.close_peer(&name);
                self.effects.push(Effect::Unlink { peer: name.clone() });
                Ok(AdminAnswer::Done)
            }
            Admin::PeerList => Ok(AdminAnswer::Peers(self.peer_list())),
            Admin::ChannelDelete { channel } => {
                let change = self
                    .dir
                    .delete_channel(&channel)
                    .ok_or_else(|| format!("no channel {channel}"))?;
                self.store([change]);
                Ok(AdminAnswer::Done)
            }
            Admin::PeerOutcome { name, at, error } => {
                let known = self
                    .peers
                    .get_mut(&name)
                    .ok_or_else(|| format!("no peer {name}"))?;
                match error {
                    None => known.last_success = Some(at),
                    Some(e) => known.last_error = Some((at, e)),
                }
                Ok(AdminAnswer::Done)
            }
            Admin::Add { name, hash } => {
                check_user(&name, &hash, &self.limits.argon2_bounds())?;
                if self.dir.has_user(&name) {
                    return Err(format!("user {name} already exists"));
                }
                let change = self.dir.put_user(&name, &hash);
                self.store([change]);
                Ok(AdminAnswer::Done)
            }
            Admin::Passwd { name, hash } => {
                check_user(&name, &hash, &self.limits.argon2_bounds())?;
                if !self.dir.has_user(&name) {
                    return Err(format!("no user {name}"));
                }
                let change = self.dir.put_user(&name, &hash);
                let revoked = self.tokens.revoke(&name);
                self.store([change, revoked]);
                // Whoever knew the old password is logged out, and the
                // tokens it got them no longer log in.
                self.close_user(&name);
                Ok(AdminAnswer::Done)
            }
            Admin::Del { name } => {
                let changes = self
                    .dir
                    .delete_user(&name)
                    .ok_or_else(|| format!("no user {name}"))?;
                self.store(changes);
                // Their rows go with the user's (Change::DeleteUser).
                self.tokens.revoke(&name);
                self.close_user(&name);
                Ok(AdminAnswer::Done)
            }
        }
    }

    fn close_peer(&mut self, name: &str) {
        let sessions = self.by_peer.get(name).map(|l| l.iter().as_slice().to_vec());
        for session in sessions.unwrap_or_default() {
            self.close(session);
        }
    }

    fn peer_list(&self) -> Vec<PeerStatus> {
        self.peers
            .iter()
            .map(|(name, known)| {
                let up = self.by_peer.contains_key(name.as_str());
                let mut status = peer_status(name, &known.peer, known.configured);
                status.link = if up { "up" } else { "down" }.into();
                if let Some(relay) = self.relays.get(name) {
                    status.queued = relay.queued.len() as u64;
                    status.given_up = relay.given_up;
                    status.last_given_up = relay.last_given_up.clone();
                }
                status.last_success = known.last_success;
                status.last_error = known.last_error.clone();
                status
            })
            .collect()
    }
}

/// How `solec federate list` shows a peer with no link history.
pub fn peer_status(name: &str, peer: &Peer, configured: bool) -> PeerStatus {
    PeerStatus {
        name: name.to_owned(),
        address: peer.address.clone(),
        key: identity::key_text(&peer.key),
        fingerprint: identity::fingerprint(&peer.key),
        tls: peer.tls,
        source: if configured { "config" } else { "store" }.into(),
        link: "down".into(),
        queued: 0,
        last_success: None,
        last_error: None,
        given_up: 0,
        last_given_up: None,
    }
}

/// Checks a peer's name and address (its key was parsed already).
pub fn check_peer(name: &str, peer: &Peer) -> Result<(), String> {
    if !proto::address::is_server_name(name) {
        return Err(format!("`{name}` is not a lowercase DNS host name"));
    }
    if !super::federation::is_host_port(&peer.address) {
        return Err(format!("`{}` is not host:port", peer.address));
    }
    Ok(())
}

/// What one request answers.
enum Answer {
    Reply(Reply),
    History(HistoryCursor),
    /// A History of a channel of `peer`, asked of it with `request`.
    Remote {
        peer: String,
        request: Vec<u8>,
    },
}

/// What a History reply counts against a session's reply budget when it
/// is queued; its chunks are bounded by [`super::hub::HISTORY_CHUNK`] as
/// they are read.
pub const HISTORY_COST: usize = 16 * 1024;

/// Checks an admin command's user name, and its hash within `bounds`.
pub fn check_user(name: &str, hash: &str, bounds: &super::passwords::Bounds) -> Result<(), String> {
    if !proto::address::is_user_name(name) {
        return Err(format!("`{name}` is not a valid user name"));
    }
    if name == super::state::POSTMASTER {
        return Err(format!(
            "`{name}` is reserved: the server sends delivery notices as it"
        ));
    }
    super::passwords::check_phc(hash, bounds)
}

mod relay;
#[cfg(test)]
mod tests;
