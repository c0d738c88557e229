//! The hub: the thread that drives the [`Core`] and does its IO.
//!
//! Connections send it [`Event`]s over a bounded channel. It drains what is
//! waiting (up to [`MAX_BATCH_EVENTS`]), feeds each to the core, commits
//! every store change the core decided on at once ([`Store::commit`]: one
//! journal record for a batch that only stores messages, else one redb
//! transaction), and only then releases the replies and pushes. So a
//! Success always means "durably stored", and one flush pays for many
//! messages. A thread beside it, the settler, moves the journal into redb
//! once that is due (see [`crate::store::SETTLE_AFTER`]) while the hub
//! goes on. A failed commit releases nothing: every reply of the batch
//! becomes Error 0x83, its pushes are dropped, the store is reopened if
//! redb gave up on it (read-only while the disk stays full), and the core
//! is reloaded from what is durable.
//!
//! It also keeps each session within its reply budget: the core decodes a
//! session's requests only while the replies queued for it are under
//! `reply_budget_bytes`; the rest waits here, parked, until the session's
//! writer has drained its queue and asks for a [`Event::Resume`].

use super::config::Limits;
pub use super::core::{Admin, AdminAnswer, AdminReply, SessionId as ConnId};
use super::core::{Core, Effect, IdMap, Input, Reply};
use super::federation::relay;
pub use super::outbox::{Out, Outbox};
use crate::proto::{self, ErrorType};
use crate::store::{Change, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most events folded into one write transaction.
pub const MAX_BATCH_EVENTS: usize = 512;

/// Events waiting for the hub before senders are made to wait.
pub const EVENT_QUEUE: usize = 4096;

/// Effects a batch's list keeps room for between batches.
pub const EFFECTS_KEPT: usize = 16 * 1024;

/// Bytes of one History chunk: what a History reply holds in memory at a
/// time while it is written.
pub const HISTORY_CHUNK: usize = 64 * 1024;

/// Least time between two attempts to reopen for writing a store that a
/// failed write left read-only: each attempt walks the whole file.
pub const REOPEN_INTERVAL: Duration = Duration::from_secs(1);

/// What connections, the admin socket and the clock tell the hub.
pub enum Event {
    /// Fetch the canonical name and hash of a user about to log in.
    Lookup {
        username: String,
        reply: super::reply::Sender<Option<(String, String)>>,
    },
    /// Is this a live session token of this user? Boxed: the hash would
    /// make every event larger.
    TokenLogin(Box<TokenCheck>),
    /// The connection authenticated as `user`: send it Success and pushes.
    Attach {
        conn: ConnId,
        user: String,
        /// From `trusted_networks`: exempt from the rate limit.
        trusted: bool,
        out: Outbox,
    },
    /// Fetch the key of a known peer whose link handshake is running.
    PeerKey {
        name: String,
        reply: smol::channel::Sender<Option<[u8; 32]>>,
    },
    /// The connection proved it is peer server `name`: send it Success.
    AttachPeer {
        conn: ConnId,
        name: String,
        out: Outbox,
    },
    /// One or more whole frames from an authenticated connection.
    Frames { conn: ConnId, bytes: Vec<u8> },
    /// The connection's queue has drained: decode what was held back.
    Resume { conn: ConnId },
    /// The connection sent a frame whose length is over the limit.
    Malformed { conn: ConnId },
    /// The connection is gone.
    Detach { conn: ConnId },
    /// Boxed, like Reload's limits: every connection task holds room for
    /// an event in each send it may be waiting in, so events stay small.
    Admin {
        command: Box<Admin>,
        reply: smol::channel::Sender<AdminReply>,
    },
    /// Time to check for idle sessions and expired relays.
    Tick,
    /// The link to `peer` heard a RelayAck for `upto`, with the relays it
    /// refused since the previous one.
    Relayed {
        peer: String,
        upto: u64,
        refused: Vec<(u64, ErrorType)>,
    },
    /// The config was reloaded: these limits hold from now on.
    Reload(Box<Limits>),
    /// Flush, close every session, and stop.
    Shutdown,
}

/// A TokenAuth to check: the canonical user name comes back if `hash` is
/// a live token of `username`'s.
pub struct TokenCheck {
    pub username: String,
    /// SHA-256 of the token presented.
    pub hash: [u8; 32],
    pub reply: super::reply::Sender<Option<String>>,
}

// Every connection task holds room for an event in each send it can wait
// in: a large variant costs every idle connection (see Event::Admin).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Event>() <= 64);

/// An Error PDU of type `e`.
pub(super) fn error_pdu(e: ErrorType) -> Vec<u8> {
    proto::error_frame(e).to_vec()
}

/// The driver's state. Create with [`Hub::new`], run with [`Hub::run`].
pub struct Hub {
    core: Core,
    /// Shared with History writers, which read on other threads.
    store: Arc<Store>,
    limits: Limits,
    outboxes: IdMap<Outbox>,
    /// Input the core has not decoded yet, per parked session.
    parked: IdMap<Vec<u8>>,
    /// Reply bytes of this batch not yet handed to each outbox.
    pending_bytes: IdMap<usize>,
    /// Effects of this batch, released after its commit.
    effects: Vec<Effect>,
    admins: HashMap<u64, smol::channel::Sender<AdminReply>>,
    next_token: u64,
    /// Sessions gone in this batch, whose outboxes go after its release.
    detached: Vec<ConnId>,
    /// What link tasks need, once the server has an identity.
    relaying: Option<Arc<relay::Context>>,
    /// The link task of each peer with something to send.
    links: HashMap<String, relay::Handle>,
    /// Peers whose outbox changed in this batch.
    woken: Vec<Arc<str>>,
    /// Sessions that logged in, and links of peer servers, in this batch
    /// or before: a failed commit closes these rather than answer Error.
    fragile: IdMap<bool>,
    /// Failed commits since the store last worked, and when it was last
    /// reopened and the failure last logged.
    faults: Faults,
    settler: Settler,
}

/// See [`Hub::abandon`].
#[derive(Default)]
struct Faults {
    failed: u64,
    reopened: Option<Instant>,
    logged: Option<Instant>,
}

/// The thread that moves the journal into redb beside the hub (see
/// [`Store::settle_aside`]), so the hub goes on journaling meanwhile.
struct Settler {
    wake: std::sync::mpsc::SyncSender<()>,
    /// Set by the hub when it wakes the thread, cleared by the thread
    /// when the journal is empty and it goes to sleep.
    armed: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Settler {
    fn spawn(store: Arc<Store>) -> Settler {
        let (wake, woken) = std::sync::mpsc::sync_channel(1);
        let armed = Arc::new(AtomicBool::new(false));
        let flag = armed.clone();
        let thread = std::thread::Builder::new()
            .name("solec-settle".into())
            .spawn(move || settle_each(&store, &woken, &flag))
            .expect("spawning the settle thread");
        Settler {
            wake,
            armed,
            thread: Some(thread),
        }
    }

    /// Lets the thread finish what it does, and waits for it.
    fn stop(self) {
        let Settler { wake, thread, .. } = self;
        drop(wake);
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// The settler's loop: while the journal holds something, a settle each
/// time one is due ([`Store::settle_wait`]); asleep until woken when it
/// holds nothing. A failure is logged at most once per
/// [`REOPEN_INTERVAL`], the store is reopened if redb gave up on it, and
/// the next try waits as long; nothing is lost, the journal keeps it.
fn settle_each(store: &Store, woken: &std::sync::mpsc::Receiver<()>, armed: &AtomicBool) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut failed = 0u64;
    let mut logged: Option<Instant> = None;
    let mut retry: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let wait = match store.settle_wait(now) {
            Some(wait) => wait,
            None => {
                armed.store(false, Ordering::Release);
                // The hub may have journaled before it saw the flag down.
                if store.settle_wait(now).is_some() {
                    continue;
                }
                match woken.recv() {
                    Ok(()) => continue,
                    Err(_) => return,
                }
            }
        };
        let later = retry.map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
        match woken.recv_timeout(wait.max(later)) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        if retry.is_some_and(|at| now < at) || !store.settle_due(now) {
            continue;
        }
        match store.settle_aside() {
            Ok(()) => {
                if failed > 0 {
                    log::warn!(
                        "the journal moves into the store again, after {failed} failed attempt(s)"
                    );
                }
                failed = 0;
                retry = None;
            }
            Err(e) => {
                failed += 1;
                retry = Some(now + REOPEN_INTERVAL);
                if logged.is_none_or(|at| at.elapsed() >= REOPEN_INTERVAL) {
                    logged = Some(now);
                    log::error!(
                        "moving the journal into the store failed ({failed} since it last worked), the journal keeps it: {e}"
                    );
                }
                if let Err(e) = store.recover() {
                    log::debug!("reopening the store failed: {e}");
                }
            }
        }
    }
}

/// What [`Hub::relaying`] needs besides the store.
pub struct Relaying {
    pub own_name: String,
    pub identity: Arc<super::federation::identity::Identity>,
    pub events: smol::channel::Sender<Event>,
}

impl Hub {
    /// Loads the core from the store.
    pub fn new(store: Store, limits: Limits) -> Result<Hub, StoreError> {
        let snap = store.load()?;
        let store = Arc::new(store);
        Ok(Hub {
            core: Core::new(store.name(), limits, snap),
            settler: Settler::spawn(store.clone()),
            store,
            limits,
            outboxes: IdMap::default(),
            parked: IdMap::default(),
            pending_bytes: IdMap::default(),
            effects: Vec::new(),
            admins: HashMap::new(),
            next_token: 0,
            detached: Vec::new(),
            relaying: None,
            links: HashMap::new(),
            woken: Vec::new(),
            fragile: IdMap::default(),
            faults: Faults::default(),
        })
    }

    /// The store, for readers on other threads (History, backups).
    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// Adds the known peers of the config file.
    pub fn configure_peers(
        &mut self,
        peers: impl IntoIterator<Item = (String, crate::store::Peer)>,
    ) {
        self.core.configure_peers(peers);
    }

    /// Lets the hub start links to peers with messages for them.
    pub fn relaying(&mut self, r: Relaying) {
        self.relaying = Some(Arc::new(relay::Context {
            own_name: r.own_name,
            identity: r.identity,
            store: self.store.clone(),
            events: r.events,
            handshake_timeout: self.limits.handshake_timeout,
            backoff_max: self.limits.link_backoff_max,
        }));
    }

    /// Handles events until Shutdown or until every sender is gone; returns
    /// the store so the caller closes it once the last History read is done.
    pub fn run(mut self, events: smol::channel::Receiver<Event>) -> Arc<Store> {
        // Outboxes left from before a restart start draining now.
        self.core.set_unix_time(crate::time::now());
        self.core.wake_all();
        self.collect();
        self.flush();
        while let Ok(first) = events.recv_blocking() {
            self.core.set_unix_time(crate::time::now());
            let mut stop = self.handle(first);
            let mut handled = 1;
            while !stop && handled < MAX_BATCH_EVENTS {
                let Ok(event) = events.try_recv() else { break };
                stop = self.handle(event);
                handled += 1;
            }
            self.flush();
            if stop {
                self.close_all();
                break;
            }
        }
        // What waits in the journal would be taken in at the next start;
        // a stopped server leaves none.
        self.settler.stop();
        if let Err(e) = self.store.settle() {
            log::error!("moving the journal into the store failed, the next start retries: {e}");
        }
        self.store
    }

    /// Returns true on Shutdown.
    fn handle(&mut self, event: Event) -> bool {
        let now = Instant::now();
        match event {
            Event::Lookup { username, reply } => {
                let _ = reply.send(self.core.lookup(&username));
            }
            Event::TokenLogin(check) => {
                let found = self.core.token_login(&check.username, &check.hash);
                let _ = check.reply.send(found);
            }
            Event::Attach {
                conn,
                user,
                trusted,
                out,
            } => {
                self.outboxes.insert(conn, out);
                self.fragile.insert(conn, false);
                self.input(
                    now,
                    Input::Opened {
                        session: conn,
                        user,
                        trusted,
                    },
                );
            }
            Event::PeerKey { name, reply } => {
                let _ = reply.try_send(self.core.peer_key(&name));
            }
            Event::AttachPeer { conn, name, out } => {
                self.outboxes.insert(conn, out);
                self.fragile.insert(conn, true);
                let at = crate::time::now();
                let input = Input::PeerOpened {
                    session: conn,
                    name,
                    at,
                };
                self.input(now, input);
            }
            Event::Frames { conn, bytes } => match self.parked.get_mut(&conn) {
                Some(held) => held.extend_from_slice(&bytes),
                None => self.frames(now, conn, bytes),
            },
            Event::Resume { conn } => {
                if let Some(held) = self.parked.remove(&conn) {
                    self.frames(now, conn, held);
                }
            }
            Event::Malformed { conn } => self.input(now, Input::Malformed { session: conn }),
            Event::Detach { conn } => {
                self.input(now, Input::Closed { session: conn });
                self.parked.remove(&conn);
                self.fragile.remove(&conn);
                // Replies of this batch still go out (an Error before a
                // close); the outbox is dropped once they are released.
                self.detached.push(conn);
            }
            Event::Admin { command, reply } => {
                let token = self.next_token;
                self.next_token += 1;
                self.admins.insert(token, reply);
                let command = *command;
                self.input(now, Input::Admin { token, command });
            }
            Event::Tick => self.input(now, Input::Tick),
            Event::Relayed {
                peer,
                upto,
                refused,
            } => self.input(
                now,
                Input::Relayed {
                    peer,
                    upto,
                    refused,
                },
            ),
            Event::Reload(limits) => {
                let limits = *limits;
                self.limits = limits;
                self.core.set_limits(limits);
            }
            Event::Shutdown => return true,
        }
        false
    }

    fn input(&mut self, now: Instant, input: Input) {
        self.core.handle(now, input);
        self.collect();
    }

    /// Feeds a session's frames to the core within its reply budget and
    /// parks what is left.
    fn frames(&mut self, now: Instant, conn: ConnId, bytes: Vec<u8>) {
        let Some(out) = self.outboxes.get(&conn) else {
            return;
        };
        let queued = out.queued_bytes() + self.pending_bytes.get(&conn).copied().unwrap_or(0);
        let room = self.limits.reply_budget.saturating_sub(queued);
        let used = self.core.frames(now, conn, &bytes, room);
        if used < bytes.len() {
            out.park();
            self.parked.insert(conn, bytes[used..].to_vec());
        } else {
            out.unpark();
        }
        self.collect();
    }

    /// Takes the core's effects into this batch.
    fn collect(&mut self) {
        for effect in self.core.effects() {
            let cost = match &effect {
                Effect::Reply { reply, .. } => reply.len(),
                Effect::Push { pdu, .. } => pdu.len(),
                Effect::History { .. } => super::core::HISTORY_COST,
                _ => 0,
            };
            if let (Some(to), true) = (effect.session(), cost > 0) {
                *self.pending_bytes.entry(to).or_default() += cost;
            }
            self.effects.push(effect);
        }
    }

    /// Commits the batch's changes, then releases the output it held back.
    fn flush(&mut self) {
        self.pending_bytes.clear();
        let mut effects = std::mem::take(&mut self.effects);
        match self.commit(&effects) {
            Ok(()) => {
                if self.faults.failed > 0 && effects.iter().any(|e| matches!(e, Effect::Store(_))) {
                    let n = self.faults.failed;
                    log::warn!("the store commits again, after {n} failed commit(s)");
                    self.faults = Faults::default();
                }
                if effects.iter().any(frees_messages) {
                    // Only the store knows whose messages went.
                    match self.store.usage() {
                        Ok(usage) => self.core.set_usage(usage),
                        Err(e) => log::error!("reading stored bytes per user failed: {e}"),
                    }
                }
                effects.drain(..).for_each(|e| self.release(e));
            }
            Err(e) => self.abandon(std::mem::take(&mut effects), e),
        }
        // Sessions that logged in before this batch's end answer Error from now on.
        self.fragile.retain(|_, peer| *peer);
        // The next batch reuses the room: growing it again every batch
        // costs a fresh mapping (and its page faults) once it is large.
        // A burst's room is given back, down to a usual batch's.
        effects.shrink_to(EFFECTS_KEPT);
        self.effects = effects;
        for conn in std::mem::take(&mut self.detached) {
            self.outboxes.remove(&conn);
        }
        self.links();
        self.settle();
    }

    /// Tells the link of each peer whose outbox changed what to do now,
    /// starting it if it is needed and not running.
    fn links(&mut self) {
        let mut woken = std::mem::take(&mut self.woken);
        woken.sort_unstable();
        woken.dedup();
        for peer in woken {
            match self.core.link_work(&peer) {
                None => {
                    self.links.remove(&*peer);
                }
                Some(work) => match self.links.get(&*peer) {
                    Some(link) => link.update(work),
                    None => {
                        let Some(ctx) = &self.relaying else { continue };
                        if work.pending {
                            let link = relay::Handle::spawn(ctx.clone(), peer.to_string(), work);
                            self.links.insert(peer.to_string(), link);
                        }
                    }
                },
            }
        }
    }

    fn commit(&mut self, effects: &[Effect]) -> Result<(), StoreError> {
        let changes: Vec<&Change> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Store(change) => Some(change),
                _ => None,
            })
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        if !self.store.writable() && self.reopen_due() {
            self.reopen();
        }
        self.store.commit(&changes, self.core.next_seq())
    }

    /// Tells the settler the journal holds something, once per time it
    /// starts to (it then keeps time itself), and at once when enough is
    /// waiting.
    fn settle(&mut self) {
        let Some(wait) = self.store.settle_wait(Instant::now()) else {
            return;
        };
        let armed = self.settler.armed.swap(true, Ordering::AcqRel);
        if !armed || wait.is_zero() {
            let _ = self.settler.wake.try_send(());
        }
    }

    fn release(&mut self, effect: Effect) {
        match effect {
            Effect::Store(_) => {}
            Effect::Reply { to, reply } => {
                let out = match reply {
                    Reply::Success => Out::Static(&proto::SUCCESS_PDU),
                    Reply::Error(e) => Out::Owned(error_pdu(e)),
                    Reply::Bytes(b) => Out::Owned(b),
                };
                self.send(to, out);
            }
            Effect::Push { to, pdu } => self.push(to, pdu),
            Effect::History {
                to,
                cursor,
                items,
                by,
            } => {
                let store = self.store.clone();
                let history = super::outbox::HistoryOut {
                    store,
                    cursor,
                    items,
                    by,
                };
                self.send(to, Out::History(Box::new(history)));
            }
            Effect::Close { to } => {
                self.send(to, Out::Close);
                self.parked.remove(&to);
            }
            Effect::Admin { token, answer } => {
                if let Some(reply) = self.admins.remove(&token) {
                    let _ = reply.try_send(answer);
                }
            }
            Effect::RemoteHistory {
                to,
                peer,
                request,
                items,
            } => self.remote_history(to, &peer, request, items),
            Effect::Wake { peer } => self.woken.push(peer),
            Effect::Unlink { peer } => {
                self.links.remove(&peer);
            }
        }
    }

    /// Asks `peer` for a History over its link, which is made if none
    /// is up, and streams the answer to session `to`.
    fn remote_history(&mut self, to: ConnId, peer: &str, request: Vec<u8>, items: bool) {
        let (sink, chunks) = smol::channel::bounded(4);
        let asked = relay::History {
            request,
            items,
            sink,
        };
        match self.link(peer) {
            Some(link) => link.history(asked),
            None => {
                let error = proto::error_frame(ErrorType::NotFound).to_vec();
                let _ = asked.sink.try_send(super::outbox::Chunk::Done(error));
            }
        }
        self.send(to, Out::Stream(chunks));
    }

    /// The link task of `peer`, started if it is not running.
    fn link(&mut self, peer: &str) -> Option<&relay::Handle> {
        if !self.links.contains_key(peer) {
            let work = self.core.link_work(peer)?;
            let ctx = self.relaying.as_ref()?;
            let link = relay::Handle::spawn(ctx.clone(), peer.to_owned(), work);
            self.links.insert(peer.to_owned(), link);
        }
        self.links.get(peer)
    }

    fn send(&self, to: ConnId, out: Out) {
        if let Some(outbox) = self.outboxes.get(&to) {
            let _ = outbox.try_send(out);
        }
    }

    /// A push to a session that has `max_outbound_queue` PDUs waiting
    /// closes it: its writer then ends and the connection detaches itself.
    /// Replies are never refused here; the session's budget bounds them.
    fn push(&self, to: ConnId, pdu: Arc<[u8]>) {
        let Some(outbox) = self.outboxes.get(&to) else {
            return;
        };
        if outbox.queued() >= self.limits.max_outbound_queue {
            if outbox.close() {
                log::warn!("dropping a session that is not reading its messages");
            }
            return;
        }
        let _ = outbox.try_send(Out::Shared(pdu));
    }

    /// A commit failed: nothing in the batch may be acknowledged, nor seen.
    /// Each reply of the batch becomes Error 0x83 (nothing was applied, the
    /// request may be retried); sessions that logged in in the batch, whose
    /// Success is withheld, and links of peers, which resend, are closed;
    /// pushes are dropped. Then the store is reopened if it failed, and the
    /// core reloaded from what is durable.
    fn abandon(&mut self, effects: Vec<Effect>, e: StoreError) {
        self.log_failure(&e);
        let refused = || Out::Owned(error_pdu(ErrorType::ServerError));
        for effect in effects {
            match effect {
                Effect::Reply { to, .. }
                | Effect::History { to, .. }
                | Effect::RemoteHistory { to, .. } => match self.fragile.get(&to) {
                    Some(_) => self.close(to),
                    None => self.send(to, refused()),
                },
                Effect::Close { to } => self.close(to),
                Effect::Admin { token, .. } => {
                    if let Some(reply) = self.admins.remove(&token) {
                        let _ = reply.try_send(Err(format!("store commit failed: {e}")));
                    }
                }
                _ => {}
            }
        }
        if self.reopen_due() {
            self.reopen();
        }
        match self.store.load() {
            Ok(snap) => self.core.reload(snap),
            Err(e) => log::error!("reloading the directory failed: {e}"),
        }
        // The outboxes are as the store has them again.
        self.core.wake_all();
        let effects: Vec<Effect> = self.core.effects().collect();
        effects.into_iter().for_each(|e| self.release(e));
    }

    fn close(&mut self, to: ConnId) {
        if let Some(outbox) = self.outboxes.get(&to) {
            outbox.close();
        }
        self.parked.remove(&to);
    }

    /// A failed store is reopened at once; a read-only one (the disk was
    /// still full) at most once per [`REOPEN_INTERVAL`].
    fn reopen_due(&self) -> bool {
        self.store.writable()
            || self
                .faults
                .reopened
                .is_none_or(|at| at.elapsed() >= REOPEN_INTERVAL)
    }

    fn reopen(&mut self) {
        self.faults.reopened = Some(Instant::now());
        match self.store.recover() {
            Ok(true) => {}
            Ok(false) => log::debug!("the store is still read-only"),
            Err(e) => log::debug!("reopening the store failed: {e}"),
        }
    }

    /// Logs the first failure, then at most once per [`REOPEN_INTERVAL`]
    /// with a count, so a full disk under a flood of writes does not
    /// fill it further with the log.
    fn log_failure(&mut self, e: &StoreError) {
        self.faults.failed += 1;
        let n = self.faults.failed;
        if self
            .faults
            .logged
            .is_some_and(|at| at.elapsed() < REOPEN_INTERVAL)
        {
            return;
        }
        self.faults.logged = Some(Instant::now());
        log::error!("commit failed ({n} since the store last worked), refusing the batch: {e}");
    }

    fn close_all(&mut self) {
        self.links.clear();
        for (_, out) in self.outboxes.drain() {
            let _ = out.try_send(Out::Close);
        }
    }
}

/// Whether `effect` deletes stored messages, which changes their senders'
/// stored bytes.
fn frees_messages(effect: &Effect) -> bool {
    matches!(
        effect,
        Effect::Store(
            Change::DeleteUser { .. } | Change::DeleteChannel { .. } | Change::CreateChannel { .. }
        )
    )
}
