//! The hub: one thread that owns the directory, the store and the table of
//! online sessions, and answers every authenticated request in order.
//!
//! Connections send it [`Event`]s over a bounded channel. It drains what is
//! waiting (up to [`MAX_BATCH_EVENTS`]), applies every request to memory and
//! to one redb write transaction, commits once, and only then releases the
//! replies and pushes. So a Success always means "durably stored", and one
//! commit pays for many messages. Owning all shared state on one thread
//! means no locks and a single order of events that history reproduces.

use super::config::Limits;
use super::state::{user_address, Change, Directory, Target};
use crate::proto::{self, Deframer, ErrorType, Pdu};
use crate::store::{Batch, Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// Most events folded into one write transaction.
pub const MAX_BATCH_EVENTS: usize = 512;

/// Events waiting for the hub before senders are made to wait.
pub const EVENT_QUEUE: usize = 4096;

/// Identifies one connection for the lifetime of the server.
pub type ConnId = u64;

/// History scans running at once, each on a blocking thread; more queue.
pub const MAX_HISTORY_READS: usize = 4;

static HISTORY_READS: smol::lock::Semaphore = smol::lock::Semaphore::new(MAX_HISTORY_READS);

/// One item on a connection's way out.
pub enum Out {
    /// Bytes shared between sessions (a pushed Message).
    Shared(Arc<[u8]>),
    /// Bytes for this session alone (replies).
    Owned(Vec<u8>),
    /// A constant reply (Success).
    Static(&'static [u8]),
    /// A reply computed when the writer reaches it (a History scan).
    Deferred(std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>> + Send>>),
    /// Close the connection once everything before this is written.
    Close,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Out::Shared(b) => f.debug_tuple("Shared").field(&b.len()).finish(),
            Out::Owned(b) => f.debug_tuple("Owned").field(&b.len()).finish(),
            Out::Static(b) => f.debug_tuple("Static").field(&b.len()).finish(),
            Out::Deferred(_) => f.write_str("Deferred"),
            Out::Close => f.write_str("Close"),
        }
    }
}

/// A connection's outbound queue. The hub drops a session whose queue of
/// pushes passes `max_outbound_queue`.
pub use super::outbox::Outbox;

/// An admin command from the local socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admin {
    Add { name: String, hash: String },
    Passwd { name: String, hash: String },
    Del { name: String },
    List,
}

/// The answer to an [`Admin`] command.
pub type AdminReply = Result<Vec<String>, String>;

/// What connections and the admin socket tell the hub.
pub enum Event {
    /// Fetch the canonical name and hash of a user about to log in.
    Lookup {
        username: String,
        reply: smol::channel::Sender<Option<(String, String)>>,
    },
    /// The connection authenticated as `user`: send it Success and pushes.
    Attach {
        conn: ConnId,
        user: String,
        out: Outbox,
    },
    /// One or more whole frames from an authenticated connection.
    Frames { conn: ConnId, bytes: Vec<u8> },
    /// The connection sent a frame whose length is over the limit.
    Malformed { conn: ConnId },
    /// The connection is gone.
    Detach { conn: ConnId },
    Admin {
        command: Admin,
        reply: smol::channel::Sender<AdminReply>,
    },
    /// Flush, close every session, and stop.
    Shutdown,
}

const SUCCESS: [u8; 3] = [proto::code::SUCCESS, 0, 0];

/// An Error PDU of type `e`.
pub(super) fn error_pdu(e: ErrorType) -> Vec<u8> {
    vec![proto::code::ERROR, 0, 1, e.into()]
}

struct Online {
    /// Shared so each request can hold the name without copying it.
    user: Arc<str>,
    address: String,
    out: Outbox,
}

/// Output held back until the batch that produced it has committed. It
/// holds the outbox itself, so a Detach in the same batch loses nothing.
enum Effect {
    Send(Outbox, Out),
    Admin(smol::channel::Sender<AdminReply>, AdminReply),
    /// Close every session of this user (deleted by an admin).
    Evict(String),
}

/// The hub's state. Create with [`Hub::new`], run with [`Hub::run`].
pub struct Hub {
    dir: Directory,
    /// Shared with deferred History reads, which run on other threads.
    store: Arc<Store>,
    limits: Limits,
    next_seq: u64,
    sessions: HashMap<ConnId, Online>,
    by_user: HashMap<String, Vec<ConnId>>,
    batch: Option<Batch>,
    /// A write into `batch` failed, so it must be abandoned, not committed.
    poisoned: bool,
    effects: Vec<Effect>,
}

type Reply = Result<Out, ErrorType>;

impl Hub {
    /// Loads the directory from the store.
    pub fn new(store: Store, name: &str, limits: Limits) -> Result<Hub, StoreError> {
        let snap = store.load()?;
        Ok(Hub {
            next_seq: snap.next_seq,
            dir: Directory::new(name, limits.max_channels, snap),
            store: Arc::new(store),
            limits,
            sessions: HashMap::new(),
            by_user: HashMap::new(),
            batch: None,
            poisoned: false,
            effects: Vec::new(),
        })
    }

    /// Handles events until Shutdown or until every sender is gone; returns
    /// the store so the caller closes it once the last History read is done.
    pub fn run(mut self, events: smol::channel::Receiver<Event>) -> Arc<Store> {
        while let Ok(first) = events.recv_blocking() {
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
        self.store
    }

    /// Applies one admin command and commits it, without a running server
    /// (`solec user` when no server holds the store).
    pub fn admin_now(&mut self, command: Admin) -> AdminReply {
        let (reply, answer) = smol::channel::bounded(1);
        self.handle(Event::Admin { command, reply });
        self.flush();
        answer
            .try_recv()
            .unwrap_or_else(|_| Err("no answer from the store".into()))
    }

    /// Returns true on Shutdown.
    fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Lookup { username, reply } => {
                let found = self
                    .dir
                    .lookup(&username)
                    .map(|(n, h)| (n.to_owned(), h.to_owned()));
                let _ = reply.try_send(found);
            }
            Event::Attach { conn, user, out } => self.attach(conn, user, out),
            Event::Frames { conn, bytes } => self.frames(conn, &bytes),
            Event::Malformed { conn } => self.refuse_and_close(conn),
            Event::Detach { conn } => self.detach(conn),
            Event::Admin { command, reply } => {
                let answer = self.admin(command);
                self.effects.push(Effect::Admin(reply, answer));
            }
            Event::Shutdown => return true,
        }
        false
    }

    fn attach(&mut self, conn: ConnId, user: String, out: Outbox) {
        if !self.dir.has_user(&user) {
            // Deleted between the password check and now.
            self.effects.push(Effect::Send(
                out.clone(),
                Out::Owned(error_pdu(ErrorType::AuthFailed)),
            ));
            self.effects.push(Effect::Send(out, Out::Close));
            return;
        }
        let address = user_address(&user, self.dir.server_name());
        self.by_user.entry(user.clone()).or_default().push(conn);
        self.effects
            .push(Effect::Send(out.clone(), Out::Static(&SUCCESS)));
        let user = Arc::from(user);
        self.sessions.insert(conn, Online { user, address, out });
    }

    fn detach(&mut self, conn: ConnId) {
        let Some(s) = self.sessions.remove(&conn) else {
            return;
        };
        if let Some(conns) = self.by_user.get_mut(&*s.user) {
            conns.retain(|&c| c != conn);
            if conns.is_empty() {
                self.by_user.remove(&*s.user);
            }
        }
    }

    fn refuse_and_close(&mut self, conn: ConnId) {
        self.reply(conn, Out::Owned(error_pdu(ErrorType::BadRequest)));
        self.reply(conn, Out::Close);
        self.detach(conn);
    }

    /// Queues `out` for `conn`, to be released after the commit.
    fn reply(&mut self, conn: ConnId, out: Out) {
        if let Some(s) = self.sessions.get(&conn) {
            self.effects.push(Effect::Send(s.out.clone(), out));
        }
    }

    fn frames(&mut self, conn: ConnId, mut bytes: &[u8]) {
        let deframer = Deframer::with_max_payload(self.limits.max_pdu_bytes);
        while !bytes.is_empty() {
            if !self.sessions.contains_key(&conn) {
                return;
            }
            let pdu = match deframer.decode(bytes) {
                Ok(Some((pdu, used))) => {
                    let frame = &bytes[..used];
                    bytes = &bytes[used..];
                    (pdu, frame)
                }
                // The connection forwards whole frames only, so anything
                // else is a malformed PDU.
                Ok(None) | Err(_) => return self.refuse_and_close(conn),
            };
            match self.request(conn, pdu.0, pdu.1) {
                Ok(None) => {}
                Ok(Some(out)) => self.reply(conn, out),
                Err(e) => self.reply(conn, Out::Owned(error_pdu(e))),
            }
        }
    }

    /// One authenticated request; `Ok(None)` means no reply (Test).
    fn request(
        &mut self,
        conn: ConnId,
        pdu: Pdu<'_>,
        frame: &[u8],
    ) -> Result<Option<Out>, ErrorType> {
        let user = self.sessions[&conn].user.clone();
        let reply: Reply = match pdu {
            Pdu::Test(_) => return Ok(None),
            Pdu::Message(m) => self.message(conn, &user, m, frame),
            Pdu::UserMode(u) => {
                let changes =
                    self.dir
                        .user_mode(&user, u.user_address, u.channel_address, u.mode)?;
                self.persist(&changes);
                Ok(Out::Static(&SUCCESS))
            }
            Pdu::History(h) => self.history(&user, h),
            Pdu::ContactAdd(c) => {
                if let Some(change) = self.dir.contact_add(&user, c.address)? {
                    self.persist(&[change]);
                }
                Ok(Out::Static(&SUCCESS))
            }
            Pdu::ContactRemove(c) => {
                let change = self.dir.contact_remove(&user, c.address)?;
                self.persist(&[change]);
                Ok(Out::Static(&SUCCESS))
            }
            Pdu::ContactList => Ok(self.contact_list(&user)),
            _ => Err(ErrorType::Unsupported),
        };
        reply.map(Some)
    }

    fn message(&mut self, conn: ConnId, user: &str, m: proto::Message<'_>, frame: &[u8]) -> Reply {
        if m.source_address != self.sessions[&conn].address {
            return Err(ErrorType::Unauthorized);
        }
        if m.message_content.len() > self.limits.max_message_bytes {
            return Err(ErrorType::TooLarge);
        }
        let target = self.dir.route(user, m.target_address)?;
        let seq = self.next_seq;
        let shared: Arc<[u8]> = Arc::from(frame);
        let pdu = shared.clone();
        self.with_batch(|b| {
            b.append(target.conversation(user), seq, pdu);
            Ok(())
        })?;
        self.next_seq += 1;
        let recipients: Vec<ConnId> = match &target {
            Target::User(to) => self.conns_of(to).chain(self.conns_of(user)).collect(),
            Target::Channel(ch) => self
                .dir
                .members(ch)
                .flat_map(|u| self.conns_of(u))
                .collect(),
        };
        for c in recipients.into_iter().filter(|&c| c != conn) {
            self.reply(c, Out::Shared(shared.clone()));
        }
        Ok(Out::Static(&SUCCESS))
    }

    fn conns_of<'a>(&'a self, user: &str) -> impl Iterator<Item = ConnId> + 'a {
        self.by_user.get(user).into_iter().flatten().copied()
    }

    fn history(&mut self, user: &str, h: proto::History<'_>) -> Reply {
        let (Ok(count), Ok(offset)) = (u64::try_from(h.count), u64::try_from(h.offset)) else {
            return Err(ErrorType::BadRequest);
        };
        let conversation = self
            .dir
            .history_target(user, h.channel_address)?
            .conversation(user);
        let (since, count) = (h.since, count.min(self.limits.max_history_count));
        let store = self.store.clone();
        // The scan runs when the connection's writer reaches this reply:
        // off this thread, so a long conversation never stalls other
        // sessions, and after the commit of everything acknowledged before
        // it (replies are only released after their batch commits). The
        // snapshot is taken and dropped within the scan, so a client that
        // stops reading pins no old pages.
        Ok(Out::Deferred(Box::pin(async move {
            let _permit = HISTORY_READS.acquire().await;
            let read =
                smol::unblock(move || store.reader()?.history(&conversation, since, offset, count));
            match read.await {
                Ok(mut bytes) => {
                    bytes.extend_from_slice(&SUCCESS);
                    bytes
                }
                Err(e) => {
                    log::error!("history read failed: {e}");
                    error_pdu(ErrorType::ServerError)
                }
            }
        })))
    }

    fn contact_list(&self, user: &str) -> Out {
        let mut bytes = Vec::new();
        for address in self.dir.contacts(user) {
            let pdu = Pdu::Contact(proto::Contact { address: &address });
            // A contact address is at most 64 + 1 + 253 bytes.
            pdu.encode(&mut bytes).expect("contact fits a PDU");
        }
        bytes.extend_from_slice(&SUCCESS);
        Out::Owned(bytes)
    }

    fn persist(&mut self, changes: &[Change]) {
        let next_seq = self.next_seq;
        for change in changes {
            let res = self.with_batch(|b| match change {
                Change::AddContact { owner, contact } => b.add_contact(owner, contact),
                Change::RemoveContact { owner, contact } => b.remove_contact(owner, contact),
                Change::CreateChannel { channel } => b.create_channel(channel, next_seq),
                Change::SetMode {
                    channel,
                    user,
                    mode,
                } => b.set_mode(channel, user, *mode),
            });
            if res.is_err() {
                return;
            }
        }
    }

    /// Runs `f` on the open write transaction, opening one if needed. A
    /// failure poisons the batch: [`Hub::flush`] then aborts it, withholds
    /// its replies and reloads the directory from what is durable.
    fn with_batch(
        &mut self,
        f: impl FnOnce(&mut Batch) -> Result<(), StoreError>,
    ) -> Result<(), ErrorType> {
        if self.batch.is_none() {
            match self.store.batch() {
                Ok(b) => self.batch = Some(b),
                Err(e) => {
                    log::error!("cannot start a write transaction: {e}");
                    self.poisoned = true;
                    return Err(ErrorType::ServerError);
                }
            }
        }
        let batch = self.batch.as_mut().expect("batch opened above");
        f(batch).map_err(|e| {
            log::error!("store write failed: {e}");
            // Memory already holds the change: the batch must not commit.
            self.poisoned = true;
            ErrorType::ServerError
        })
    }

    fn admin(&mut self, command: Admin) -> AdminReply {
        match command {
            Admin::List => return Ok(self.dir.user_names()),
            Admin::Add { name, .. } | Admin::Passwd { name, .. }
                if !crate::proto::address::is_user_name(&name) =>
            {
                return Err(format!("`{name}` is not a valid user name"));
            }
            Admin::Add { hash, .. } | Admin::Passwd { hash, .. }
                if !super::passwords::is_phc(&hash) =>
            {
                return Err("the hash is not an argon2 PHC string".into());
            }
            Admin::Add { name, hash } => {
                if self.dir.has_user(&name) {
                    return Err(format!("user {name} already exists"));
                }
                self.dir.put_user(&name, &hash);
                self.with_batch(|b| b.put_user(&name, &hash))
            }
            Admin::Passwd { name, hash } => {
                if !self.dir.has_user(&name) {
                    return Err(format!("no user {name}"));
                }
                self.dir.put_user(&name, &hash);
                self.with_batch(|b| b.put_user(&name, &hash))
            }
            Admin::Del { name } => {
                if !self.dir.delete_user(&name) {
                    return Err(format!("no user {name}"));
                }
                self.effects.push(Effect::Evict(name.clone()));
                self.with_batch(|b| b.delete_user(&name).map(|_| ()))
            }
        }
        .map(|()| Vec::new())
        .map_err(|_| "the store refused the change; see the server log".to_owned())
    }

    /// Commits the open batch, then releases the output it held back.
    fn flush(&mut self) {
        let batch = self.batch.take();
        if std::mem::take(&mut self.poisoned) {
            // Dropping the transaction aborts it.
            drop(batch);
            return self.abandon(StoreError::from("a write in the batch failed"));
        }
        if let Some(batch) = batch {
            if let Err(e) = batch.commit(self.next_seq) {
                return self.abandon(e);
            }
        }
        for effect in std::mem::take(&mut self.effects) {
            match effect {
                Effect::Send(outbox, out) => self.send(&outbox, out),
                Effect::Admin(reply, answer) => {
                    let _ = reply.try_send(answer);
                }
                Effect::Evict(user) => {
                    for conn in self.conns_of(&user).collect::<Vec<_>>() {
                        if let Some(s) = self.sessions.get(&conn) {
                            let _ = s.out.try_send(Out::Close);
                        }
                        self.detach(conn);
                    }
                }
            }
        }
    }

    /// Hands `out` to a connection. A push to a session that has
    /// `max_outbound_queue` PDUs waiting closes it: its writer then ends and
    /// the connection detaches itself. Replies are never refused here; the
    /// connection stops reading requests while its queue is full instead.
    fn send(&self, outbox: &Outbox, out: Out) {
        if matches!(out, Out::Shared(_)) && outbox.queued() >= self.limits.max_outbound_queue {
            if outbox.close() {
                log::warn!("dropping a session that is not reading its messages");
            }
            return;
        }
        let _ = outbox.try_send(out);
    }

    /// A commit failed: nothing in the batch may be acknowledged. Reload the
    /// directory from what is durable and drop the requesters' sessions.
    fn abandon(&mut self, e: StoreError) {
        log::error!("commit failed, dropping the batch's sessions: {e}");
        for effect in std::mem::take(&mut self.effects) {
            match effect {
                Effect::Send(outbox, _) => {
                    outbox.close();
                }
                Effect::Admin(reply, _) => {
                    let _ = reply.try_send(Err(format!("store commit failed: {e}")));
                }
                Effect::Evict(_) => {}
            }
        }
        match self.store.load() {
            Ok(snap) => {
                self.next_seq = snap.next_seq;
                let name = self.dir.server_name().to_owned();
                self.dir = Directory::new(&name, self.limits.max_channels, snap);
            }
            Err(e) => log::error!("reloading the directory failed: {e}"),
        }
    }

    fn close_all(&mut self) {
        for (_, s) in self.sessions.drain() {
            let _ = s.out.try_send(Out::Close);
        }
        self.by_user.clear();
    }
}
