//! The durable store: the only module that names redb types.
//!
//! One short function per transaction. [`Store::load`] reads what the
//! server keeps in memory (users, contacts, channels) at start-up; every
//! mutation is a [`Change`], and the server's batch of them commits at once
//! ([`Store::commit`]): as one record of the [`journal`] when it only
//! stores messages, else as one write transaction, so the server pays one
//! flush for many requests. [`Store::apply_now`] applies one change on its own,
//! for `solec user` when no server runs.
//!
//! Every call into redb is [`guard::guarded`]: a damaged file fails the
//! call with [`StoreError::Damaged`], never a panic. [`check`] verifies a
//! store offline and [`backup`] copies one consistently.

pub mod backup;
pub mod check;
mod error;
mod guard;
mod history;
mod journal;
mod migrate;
mod readonly;
mod record;
mod reopen;
mod runs;
mod schema;

pub use error::StoreError;
pub use history::{HistoryCursor, CHUNK_ROWS as HISTORY_CHUNK_ROWS};
pub use journal::{journal_path, JOURNAL_MAX_BYTES, RECORD_MAX, SETTLE_AFTER, SETTLE_BYTES};

use crate::proto::Mode;
use redb::{Database, ReadableTable, ReadableTableMetadata, WriteTransaction};
use schema::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::Instant;

/// The schema version this build writes; older stores are migrated.
pub const SCHEMA: u64 = schema::VERSION;

/// Everything the server holds in memory, as loaded at start-up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Local user name → PHC hash.
    pub users: BTreeMap<String, String>,
    /// (owner's local name, contact's full address) pairs.
    pub contacts: BTreeSet<(String, String)>,
    /// Channel's full address → (user's full address → mode).
    pub channels: BTreeMap<String, BTreeMap<String, Mode>>,
    pub next_seq: u64,
    /// Known peer servers added with `solec federate add`.
    pub peers: BTreeMap<String, Peer>,
    /// Relay numbers and outboxes, per peer server name.
    pub relays: BTreeMap<String, RelayState>,
    /// Local user name → bytes of stored messages they sent (see
    /// [`schema::USAGE`]); users without any are absent.
    pub usage: BTreeMap<String, u64>,
    /// Session tokens, per local user name, oldest issued first.
    pub tokens: BTreeMap<String, Vec<StoredToken>>,
}

/// One session token as the store keeps it: its hash, never the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredToken {
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// Unix time it was issued.
    pub issued: u64,
    /// Unix time from which it no longer logs in.
    pub expires: u64,
}

/// What the store holds of the relaying to and from one peer server.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RelayState {
    /// The number the next message for the peer takes (from 1).
    pub next_out: u64,
    /// The highest number received from the peer and dealt with (0: none).
    pub last_in: u64,
    /// Its outbox, in relay order.
    pub queued: Vec<Queued>,
}

/// One relay in an outbox, without its content: a Message, or a UserMode
/// (then `source` is its user, `target` its channel, and `send_time` 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub number: u64,
    /// Unix time its lifetime ends.
    pub deadline: u64,
    pub source: String,
    pub target: String,
    pub send_time: u64,
    /// The mode of a UserMode; None for a Message.
    pub mode: Option<Mode>,
}

/// One outbox row for a link to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub number: u64,
    pub deadline: u64,
    pub pdu: Vec<u8>,
}

/// A known peer server, as stored (see [`schema::PEERS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// `host:port` to connect to.
    pub address: String,
    /// Its Ed25519 public key.
    pub key: [u8; 32],
    /// Whether the link runs inside TLS.
    pub tls: bool,
}

/// One mutation of the store. The server's core decides on changes; the
/// driver applies a batch of them in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Adds a local user or replaces their hash.
    PutUser {
        name: String,
        hash: String,
    },
    /// Removes a local user with their contacts both ways, channel modes
    /// and direct conversations, so a later user of the same name
    /// inherits nothing. Their channel messages stay.
    DeleteUser {
        name: String,
    },
    AddContact {
        owner: String,
        contact: String,
    },
    RemoveContact {
        owner: String,
        contact: String,
    },
    /// Creates a channel; whatever a channel of the same address left
    /// behind in a store written before empty channels were deleted goes.
    CreateChannel {
        channel: String,
        seq: u64,
    },
    /// Deletes a channel with its modes, memberships and messages.
    DeleteChannel {
        channel: String,
    },
    /// Records `mode` for `user` in `channel`; [`Mode::Leave`] removes it.
    SetMode {
        channel: String,
        user: String,
        mode: Mode,
    },
    /// Adds a known peer or replaces its entry.
    PutPeer {
        name: String,
        peer: Peer,
    },
    DeletePeer {
        name: String,
    },
    /// Puts a Message PDU in peer `peer`'s outbox as relay `number`.
    Enqueue {
        peer: Arc<str>,
        number: u64,
        deadline: u64,
        pdu: Arc<[u8]>,
    },
    /// Takes relays up to `upto` out of `peer`'s outbox (acknowledged).
    Dequeue {
        peer: String,
        upto: u64,
    },
    /// Takes one relay out of `peer`'s outbox (its lifetime ended).
    DequeueOne {
        peer: String,
        number: u64,
    },
    /// Records that relays from `peer` up to `number` are dealt with.
    Received {
        peer: String,
        number: u64,
    },
    /// Counts `bytes` more of stored messages against local user `user`.
    Charge {
        user: Arc<str>,
        bytes: u64,
    },
    /// Records a session token of local user `user`.
    PutToken {
        user: String,
        token: StoredToken,
    },
    /// Removes one session token (expired, or the user's oldest over the
    /// bound).
    DeleteToken {
        user: String,
        hash: [u8; 32],
    },
    /// Removes every session token of `user` (a new password).
    DeleteTokens {
        user: String,
    },
    /// Stores a Message PDU in a conversation.
    Append {
        conversation: Arc<str>,
        seq: u64,
        send_time: u64,
        pdu: Arc<[u8]>,
    },
}

/// The conversation key of the direct conversation between two full
/// addresses (see [`schema::MESSAGES`]).
pub fn direct_key(a: &str, b: &str) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo} {hi}")
}

/// The redb file. Cheap to share by reference; redb serialises writers.
///
/// After an I/O error (a full disk) redb refuses every later call on its
/// `Database`, reads included, until it is opened again: [`Store::recover`]
/// does so in place, so the server needs no restart (see [`reopen`]).
pub struct Store {
    /// The database now. The lock is held only to clone or replace the
    /// `Arc`, never across a redb call; a reader that holds an old
    /// database after a reopen gets its own snapshot or an error.
    db: RwLock<Arc<Database>>,
    /// Whether writes go to the file; false while the database is a
    /// read-only view of a file redb could not repair for writing.
    writable: AtomicBool,
    /// The file, locked exclusively while the store lives. Each database
    /// is opened on a clone of this descriptor, which shares the lock, so
    /// a reopen never meets the lock its predecessor took.
    file: File,
    cache_bytes: usize,
    name: String,
    /// For errors: which file is damaged.
    path: Arc<Path>,
    /// Message batches durable beside the file, not yet in it (see
    /// [`journal`]). Held across a write to redb, so what a writer takes
    /// from it is in redb before anyone sees it gone.
    journal: Mutex<journal::Journal>,
    /// Signalled when a settle in flight ends.
    settled: Condvar,
}

impl Store {
    /// Opens or creates the store of server `name`, migrating an older
    /// schema in one transaction. `cache_bytes` bounds redb's page cache.
    ///
    /// A store from a newer release is refused untouched. A store whose
    /// rows were written for another server name is refused too, since
    /// every full address in it would be wrong; one holding users only
    /// takes the new name.
    pub fn open(path: &Path, name: &str, cache_bytes: usize) -> Result<Store, StoreError> {
        guard::guarded(path, || Store::open_unguarded(path, name, cache_bytes))
            .map_err(|e| e.in_file(path))
    }

    fn open_unguarded(path: &Path, name: &str, cache_bytes: usize) -> Result<Store, StoreError> {
        let file = reopen::lock(path)?;
        let db = reopen::writable(&file, cache_bytes).map_err(|e| e.in_file(path))?;
        // Password hashes and private messages: owner-only.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::Restrict(path.to_owned(), e))?;
        let store = Store {
            db: RwLock::new(Arc::new(db)),
            writable: AtomicBool::new(true),
            file,
            cache_bytes,
            name: name.to_owned(),
            path: path.into(),
            journal: Mutex::new(journal::Journal::closed(path)),
            settled: Condvar::new(),
        };
        let found = store.version()?;
        if found > Some(SCHEMA) {
            return Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found: found.unwrap_or_default(),
                supported: SCHEMA,
            });
        }
        let txn = store.db().begin_write()?;
        match found {
            Some(SCHEMA) => store.check_name(&txn)?,
            Some(4) => {
                store.check_name(&txn)?;
                migrate::v4_to_v5(&txn)?;
            }
            Some(3) => {
                store.check_name(&txn)?;
                migrate::v3_to_v4(&txn)?;
            }
            Some(2) => {
                store.check_name(&txn)?;
                migrate::v2_to_v3(&txn)?;
                migrate::v3_to_v4(&txn)?;
            }
            Some(found) => {
                return Err(StoreError::UnknownSchema {
                    path: path.to_owned(),
                    found,
                })
            }
            None => migrate::to_current(&txn, name)?,
        }
        migrate::add_usage(&txn, name)?;
        migrate::create_tables(&txn, name)?;
        let (nonce, applied) = journal_keys(&txn)?;
        txn.commit()?;
        store.replay(nonce, applied)?;
        Ok(store)
    }

    /// Opens the journal and applies to redb the records it holds that
    /// redb does not.
    fn replay(&self, nonce: u64, applied: u64) -> Result<(), StoreError> {
        let jpath = journal_path(&self.path);
        let (journal, records) = journal::Journal::open(&self.path, nonce, applied)
            .map_err(|e| StoreError::Io(jpath.clone(), e))?;
        let mut held = self.journal();
        *held = journal;
        if let Some(last) = records.last() {
            let mut batch = self.batch()?;
            let mut next_seq = batch.next_seq()?;
            let mut messages = 0;
            for record in &records {
                for change in &record.changes {
                    messages += usize::from(matches!(change, Change::Append { .. }));
                    batch.apply(change)?;
                }
                next_seq = next_seq.max(record.next_seq);
            }
            batch.journal_applied = Some(last.id);
            batch.commit(next_seq)?;
            log::info!(
                "{}: {} record(s) with {messages} message(s) taken in from {}",
                self.path.display(),
                records.len(),
                jpath.display()
            );
        }
        Ok(())
    }

    /// The journal, locked.
    fn journal(&self) -> MutexGuard<'_, journal::Journal> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The journal, locked, once no settle is in flight: what commits to
    /// redb from here comes after it.
    fn journal_idle(&self) -> MutexGuard<'_, journal::Journal> {
        let mut j = self.journal();
        while j.settling.is_some() {
            j = self.settled.wait(j).unwrap_or_else(|e| e.into_inner());
        }
        j
    }

    /// Commits a batch of the server's changes, `next_seq` being the
    /// message counter after it; Ok means durable. A small batch that
    /// only stores messages goes to the journal (see [`journal`]); any
    /// other commits to redb with everything the journal holds.
    pub fn commit(&self, changes: &[&Change], next_seq: u64) -> Result<(), StoreError> {
        let journaled = !changes.is_empty() && changes.iter().all(|c| journal::journaled(c));
        let io = |e| StoreError::Io(journal_path(&self.path), e);
        let now = Instant::now();
        if journaled && self.writable() {
            // Bound first: the guard must be gone before the arms lock again.
            let appended = self.journal().append(changes, next_seq, now);
            match appended.map_err(io)? {
                journal::Appended::Written => return Ok(()),
                journal::Appended::Large => {}
                journal::Appended::Full => {
                    let mut j = self.journal_idle();
                    self.commit_direct(&mut j, &[], None)?;
                    if let journal::Appended::Written =
                        j.append(changes, next_seq, now).map_err(io)?
                    {
                        return Ok(());
                    }
                }
            }
        }
        self.commit_direct(&mut self.journal_idle(), changes, Some(next_seq))
    }

    /// Commits `changes` to redb after what waits in the journal, in one
    /// transaction; `next_seq` None keeps the message counter. `j` has no
    /// settle in flight (see [`Store::journal_idle`]).
    fn commit_direct(
        &self,
        j: &mut journal::Journal,
        changes: &[&Change],
        next_seq: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut batch = self.batch()?;
        for change in j.pending.changes() {
            batch.apply(&change)?;
        }
        for change in changes {
            batch.apply(change)?;
        }
        let next_seq = match next_seq {
            Some(n) => n,
            None => batch.next_seq()?,
        };
        let last = j.last_id();
        if last > 0 {
            batch.journal_applied = Some(last);
        }
        batch.commit(next_seq.max(j.pending.next_seq))?;
        j.pending = journal::Pending::default();
        j.settled(last);
        Ok(())
    }

    /// Moves what waits in the journal into redb, after a settle in flight.
    pub fn settle(&self) -> Result<(), StoreError> {
        let mut j = self.journal_idle();
        if j.pending.is_empty() && j.used() == 0 {
            return Ok(());
        }
        self.commit_direct(&mut j, &[], None)
    }

    /// Moves what waits in the journal into redb without holding the
    /// journal meanwhile, so batches go on being journaled: for a thread
    /// of its own. Does nothing while another settle is in flight. A
    /// failure puts back what it took.
    pub fn settle_aside(&self) -> Result<(), StoreError> {
        let (taken, last) = {
            let mut j = self.journal();
            if j.settling.is_some() || j.pending.is_empty() {
                return Ok(());
            }
            let taken = Arc::new(std::mem::take(&mut j.pending));
            j.settling = Some(taken.clone());
            (taken, j.last_id())
        };
        let committed = self.batch().and_then(|mut batch| {
            for change in taken.changes() {
                batch.apply(&change)?;
            }
            let next_seq = batch.next_seq()?.max(taken.next_seq);
            batch.journal_applied = Some(last);
            batch.commit(next_seq)
        });
        let mut j = self.journal();
        j.settling = None;
        match &committed {
            Ok(()) => j.settled(last),
            Err(_) => j.pending.restore(Arc::unwrap_or_clone(taken)),
        }
        drop(j);
        self.settled.notify_all();
        committed
    }

    /// How long until the journal is due to settle: zero once it holds
    /// [`SETTLE_BYTES`]; None if it holds nothing to settle.
    pub fn settle_wait(&self, now: Instant) -> Option<std::time::Duration> {
        let j = self.journal();
        let since = j.pending.since?;
        if j.used() >= SETTLE_BYTES {
            return Some(std::time::Duration::ZERO);
        }
        Some(SETTLE_AFTER.saturating_sub(now.saturating_duration_since(since)))
    }

    /// Whether the journal has waited [`SETTLE_AFTER`] or holds
    /// [`SETTLE_BYTES`].
    pub fn settle_due(&self, now: Instant) -> bool {
        self.settle_wait(now).is_some_and(|wait| wait.is_zero())
    }

    /// The database now (see [`Store::recover`]).
    fn db(&self) -> Arc<Database> {
        self.db.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The server name the store's addresses are written for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The schema version, or None for a version 1 or a new store.
    fn version(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db().begin_read()?;
        let meta = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(meta.get(SCHEMA_VERSION)?.map(|v| v.value()))
    }

    fn check_name(&self, txn: &WriteTransaction) -> Result<(), StoreError> {
        let mut settings = txn.open_table(SETTINGS)?;
        let stored = settings.get(SERVER_NAME)?.map(|v| v.value().to_owned());
        match stored {
            Some(stored) if stored != self.name => {
                let has_addresses = !txn.open_table(CONTACTS)?.is_empty()?
                    || !txn.open_table(CHANNELS)?.is_empty()?
                    || !txn.open_table(MESSAGES)?.is_empty()?;
                if has_addresses {
                    return Err(StoreError::OtherServer {
                        stored,
                        configured: self.name.clone(),
                    });
                }
                settings.insert(SERVER_NAME, self.name.as_str())?;
            }
            Some(_) => {}
            None => {
                settings.insert(SERVER_NAME, self.name.as_str())?;
            }
        }
        Ok(())
    }

    /// The server name recorded in the store at `path`, if it exists and
    /// has one; used by `solec user` so an offline change writes the same
    /// addresses the server would.
    pub fn recorded_name(path: &Path) -> Result<Option<String>, StoreError> {
        if !path.exists() {
            return Ok(None);
        }
        guard::guarded(path, || recorded_name(&open_db(path, 0)?)).map_err(|e| e.in_file(path))
    }

    /// Reads users, contacts, channels and the message counter, with the
    /// journal's messages counted.
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        let j = self.journal();
        let mut snap = self
            .guarded(|| self.load_unguarded())
            .map_err(|e| e.in_file(&self.path))?;
        for p in j.settling.as_deref().into_iter().chain([&j.pending]) {
            snap.next_seq = snap.next_seq.max(p.next_seq);
            add_pending_charges(&mut snap.usage, p);
        }
        Ok(snap)
    }

    /// Runs `f` under [`guard::guarded`] for this store's file.
    fn guarded<T>(&self, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        guard::guarded(&self.path, f)
    }

    /// The file this store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The server name recorded in `db`'s settings.
fn recorded_name(db: &Database) -> Result<Option<String>, StoreError> {
    {
        let txn = db.begin_read()?;
        let settings = match txn.open_table(SETTINGS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(settings.get(SERVER_NAME)?.map(|v| v.value().to_owned()))
    }
}

impl Store {
    fn load_unguarded(&self) -> Result<Snapshot, StoreError> {
        let txn = self.db().begin_read()?;
        let mut snap = Snapshot::default();
        for row in txn.open_table(USERS)?.iter()? {
            let (k, v) = row?;
            snap.users
                .insert(k.value().to_owned(), v.value().to_owned());
        }
        for row in txn.open_table(CONTACTS)?.iter()? {
            let key = row?.0;
            let (owner, contact) = key.value();
            snap.contacts.insert((owner.to_owned(), contact.to_owned()));
        }
        for row in txn.open_table(CHANNELS)?.iter()? {
            snap.channels
                .insert(row?.0.value().to_owned(), BTreeMap::new());
        }
        for row in txn.open_table(MODES)?.iter()? {
            let (k, v) = row?;
            let (channel, user) = k.value();
            snap.channels
                .entry(channel.to_owned())
                .or_default()
                .insert(user.to_owned(), Mode::from(v.value()));
        }
        snap.peers = peers(&txn)?;
        snap.relays = relays(&txn)?;
        snap.usage = usage(&txn)?;
        snap.tokens = tokens(&txn)?;
        snap.next_seq = txn
            .open_table(META)?
            .get(NEXT_SEQ)?
            .map_or(0, |v| v.value());
        Ok(snap)
    }

    /// The local user names, sorted.
    pub fn user_names(&self) -> Result<Vec<String>, StoreError> {
        self.guarded(|| {
            let txn = self.db().begin_read()?;
            let users = txn.open_table(USERS)?;
            let names = users.iter()?.map(|row| Ok(row?.0.value().to_owned()));
            names.collect()
        })
    }

    /// Bytes of stored messages per local user (see [`schema::USAGE`]).
    /// The journal's messages count.
    pub fn usage(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let j = self.journal();
        let mut usage = self.guarded(|| usage(&self.db().begin_read()?))?;
        for p in j.settling.as_deref().into_iter().chain([&j.pending]) {
            add_pending_charges(&mut usage, p);
        }
        Ok(usage)
    }

    /// The known peers added with `solec federate add`.
    pub fn peers(&self) -> Result<BTreeMap<String, Peer>, StoreError> {
        self.guarded(|| peers(&self.db().begin_read()?))
    }

    /// Up to `max` rows of `peer`'s outbox from relay number `from` on,
    /// stopping early once they hold `max_bytes`.
    pub fn outbox(
        &self,
        peer: &str,
        from: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Outgoing>, StoreError> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(OUTBOX_RUNS)?;
        runs::read(&table, peer, from, max, max_bytes)
    }

    /// Whether a local user exists.
    pub fn has_user(&self, name: &str) -> Result<bool, StoreError> {
        self.guarded(|| {
            let txn = self.db().begin_read()?;
            let found = txn.open_table(USERS)?.get(name)?.is_some();
            Ok(found)
        })
    }

    /// Whether a channel exists (by full address).
    pub fn has_channel(&self, channel: &str) -> Result<bool, StoreError> {
        self.guarded(|| {
            let txn = self.db().begin_read()?;
            let found = txn.open_table(CHANNELS)?.get(channel)?.is_some();
            Ok(found)
        })
    }

    /// Applies one change in its own transaction.
    pub fn apply_now(&self, change: &Change) -> Result<(), StoreError> {
        self.apply_now_all(std::slice::from_ref(change))
    }

    /// Applies `changes` together in one transaction of their own (with
    /// whatever waits in the journal).
    pub fn apply_now_all(&self, changes: &[Change]) -> Result<(), StoreError> {
        let refs: Vec<&Change> = changes.iter().collect();
        self.commit_direct(&mut self.journal_idle(), &refs, None)
    }

    /// Starts a write transaction; refused while the store is read-only.
    pub fn batch(&self) -> Result<Batch, StoreError> {
        if !self.writable() {
            return Err(StoreError::ReadOnly(self.path.to_path_buf()));
        }
        let txn = self.guarded(|| Ok(self.db().begin_write()?))?;
        let txn = Txn {
            txn: Some(txn),
            path: self.path.clone(),
        };
        Ok(Batch {
            txn,
            name: self.name.clone(),
            appends: Vec::new(),
            enqueued: Vec::new(),
            relay_out: HashMap::new(),
            charges: HashMap::new(),
            journal_applied: None,
        })
    }

    /// A consistent view of everything in redb so far, to read from on
    /// any thread while writers go on. It lacks what waits in the journal:
    /// History reads through [`Store::history_reader`].
    pub fn reader(&self) -> Result<Reader, StoreError> {
        let txn = self.guarded(|| Ok(self.db().begin_read()?))?;
        Ok(Reader {
            txn,
            path: self.path.clone(),
            pending: Vec::new(),
        })
    }

    /// A view for the next chunk of `cursor`'s History: redb now, and the
    /// messages of its conversation waiting in the journal. They are taken
    /// first: a settle between the two moves rows into redb, where the
    /// later snapshot sees them (and History skips what it has read).
    pub fn history_reader(&self, cursor: &HistoryCursor) -> Result<Reader, StoreError> {
        let pending = {
            let j = self.journal();
            // What a settle in flight took is older than what is left.
            let mut rows = Vec::new();
            for p in j.settling.as_deref().into_iter().chain([&j.pending]) {
                if let Some(r) = p.messages.get(cursor.conversation()) {
                    rows.extend_from_slice(cursor.journal_window(r));
                }
            }
            rows.truncate(history::JOURNAL_ROWS);
            rows
        };
        let txn = self.guarded(|| Ok(self.db().begin_read()?))?;
        Ok(Reader {
            txn,
            path: self.path.clone(),
            pending,
        })
    }
}

/// Opens or creates the redb file at `path`.
fn open_db(path: &Path, cache_bytes: usize) -> Result<Database, StoreError> {
    redb::Builder::new()
        .set_cache_size(cache_bytes)
        .create(path)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.to_owned()),
            e => StoreError::Open {
                path: path.to_owned(),
                source: Box::new(e.into()),
            },
        })
}

/// A read-only snapshot of the store.
pub struct Reader {
    txn: redb::ReadTransaction,
    path: Arc<Path>,
    /// Messages of one conversation waiting in the journal, rising.
    pending: Vec<journal::Row>,
}

/// Changes that commit together, or not at all.
pub struct Batch {
    txn: Txn,
    name: String,
    /// Messages to insert at commit, with their tables opened once.
    appends: Vec<Append>,
    /// Outbox rows to insert with the outbox opened once, at commit or
    /// before a change that reads the outbox: opening a table for every
    /// relay was a tenth of the sending server's store work.
    enqueued: Vec<Enqueued>,
    /// The next relay number per peer, written once at commit.
    relay_out: HashMap<Arc<str>, u64>,
    /// Bytes to add to each user's [`USAGE`], written once at commit.
    charges: HashMap<Arc<str>, u64>,
    /// The last journal record this batch holds, recorded at commit.
    journal_applied: Option<u64>,
}

/// A batch's write transaction: taken by [`Batch::commit`], otherwise
/// aborted as it drops, which redb does by reading the file, so guarded.
struct Txn {
    txn: Option<WriteTransaction>,
    path: Arc<Path>,
}

impl std::ops::Deref for Txn {
    type Target = WriteTransaction;

    fn deref(&self) -> &WriteTransaction {
        self.txn
            .as_ref()
            .expect("only commit takes the transaction")
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        if let Some(txn) = self.txn.take() {
            let aborted = guard::guarded(&self.path, || {
                drop(txn);
                Ok(())
            });
            if let Err(e) = aborted {
                log::error!("aborting a store transaction: {e}");
            }
        }
    }
}

/// An outbox row waiting in a [`Batch`] for its insert.
struct Enqueued {
    peer: Arc<str>,
    number: u64,
    deadline: u64,
    pdu: Arc<[u8]>,
}

/// A message waiting in a [`Batch`] for its commit.
struct Append {
    conversation: Arc<str>,
    seq: u64,
    send_time: u64,
    pdu: Arc<[u8]>,
}

impl Batch {
    /// Applies one change to the open transaction.
    pub fn apply(&mut self, change: &Change) -> Result<(), StoreError> {
        let path = self.txn.path.clone();
        guard::guarded(&path, || self.apply_unguarded(change))
    }

    fn apply_unguarded(&mut self, change: &Change) -> Result<(), StoreError> {
        match change {
            Change::PutUser { name, hash } => {
                self.txn
                    .open_table(USERS)?
                    .insert(name.as_str(), hash.as_str())?;
            }
            Change::DeleteUser { name } => self.delete_user(name)?,
            Change::PutPeer { name, peer } => {
                let value = (peer.address.as_str(), &peer.key[..], peer.tls);
                self.txn.open_table(PEERS)?.insert(name.as_str(), value)?;
            }
            Change::DeletePeer { name } => {
                self.txn.open_table(PEERS)?.remove(name.as_str())?;
            }
            Change::AddContact { owner, contact } => {
                let (o, c) = (owner.as_str(), contact.as_str());
                self.txn.open_table(CONTACTS)?.insert((o, c), ())?;
                self.txn.open_table(CONTACT_OF)?.insert((c, o), ())?;
            }
            Change::RemoveContact { owner, contact } => {
                let (o, c) = (owner.as_str(), contact.as_str());
                self.txn.open_table(CONTACTS)?.remove((o, c))?;
                self.txn.open_table(CONTACT_OF)?.remove((c, o))?;
            }
            Change::CreateChannel { channel, seq } => {
                self.delete_channel(channel)?;
                self.txn
                    .open_table(CHANNELS)?
                    .insert(channel.as_str(), *seq)?;
            }
            Change::DeleteChannel { channel } => self.delete_channel(channel)?,
            Change::SetMode {
                channel,
                user,
                mode,
            } => self.set_mode(channel, user, *mode)?,
            Change::Enqueue {
                peer,
                number,
                deadline,
                pdu,
            } => {
                self.enqueued.push(Enqueued {
                    peer: peer.clone(),
                    number: *number,
                    deadline: *deadline,
                    pdu: pdu.clone(),
                });
                let next = self.relay_out.entry(peer.clone()).or_default();
                *next = (*next).max(number + 1);
            }
            Change::Dequeue { peer, upto } => {
                insert_enqueued(&self.txn, &mut self.enqueued)?;
                runs::remove_upto(&self.txn, peer, *upto)?;
            }
            Change::DequeueOne { peer, number } => {
                insert_enqueued(&self.txn, &mut self.enqueued)?;
                runs::remove_one(&self.txn, peer, *number)?;
            }
            Change::PutToken { user, token } => {
                let mut tokens = self.txn.open_table(TOKENS)?;
                let key = (user.as_str(), &token.hash[..]);
                tokens.insert(key, (token.issued, token.expires))?;
            }
            Change::DeleteToken { user, hash } => {
                let mut tokens = self.txn.open_table(TOKENS)?;
                tokens.remove((user.as_str(), &hash[..]))?;
            }
            Change::DeleteTokens { user } => self.delete_tokens(user)?,
            Change::Received { peer, number } => {
                let mut relay_in = self.txn.open_table(RELAY_IN)?;
                relay_in.insert(peer.as_str(), *number)?;
            }
            Change::Charge { user, bytes } => {
                let charged = self.charges.entry(user.clone()).or_default();
                *charged = charged.saturating_add(*bytes);
            }
            Change::Append {
                conversation,
                seq,
                send_time,
                pdu,
            } => {
                self.appends.push(Append {
                    conversation: conversation.clone(),
                    seq: *seq,
                    send_time: *send_time,
                    pdu: pdu.clone(),
                });
            }
        }
        Ok(())
    }

    fn set_mode(&mut self, channel: &str, user: &str, mode: Mode) -> Result<(), StoreError> {
        let mut modes = self.txn.open_table(MODES)?;
        let mut memberships = self.txn.open_table(MEMBERSHIPS)?;
        match mode {
            Mode::Leave => {
                modes.remove((channel, user))?;
                memberships.remove((user, channel))?;
            }
            mode => {
                modes.insert((channel, user), u8::from(mode))?;
                memberships.insert((user, channel), ())?;
            }
        };
        Ok(())
    }

    /// Removes every token row of `user`: one range of [`TOKENS`].
    fn delete_tokens(&mut self, user: &str) -> Result<(), StoreError> {
        let mut tokens = self.txn.open_table(TOKENS)?;
        let (lo, hi): (&[u8], &[u8]) = (&[], &[0xff; TOKEN_HASH_LEN + 1]);
        tokens.retain_in((user, lo)..=(user, hi), |_, _| false)?;
        Ok(())
    }

    /// Costs in proportion to the user's own rows: every table that holds
    /// them has an index keyed by the user.
    fn delete_user(&mut self, name: &str) -> Result<(), StoreError> {
        let address = format!("{name}@{}", self.name);
        let addr = address.as_str();
        self.txn.open_table(USERS)?.remove(name)?;
        self.txn.open_table(USAGE)?.remove(name)?;
        self.charges.remove(name);
        self.delete_tokens(name)?;
        {
            let mut contacts = self.txn.open_table(CONTACTS)?;
            let mut contact_of = self.txn.open_table(CONTACT_OF)?;
            for contact in prefix(&contacts, name)? {
                contacts.remove((name, contact.as_str()))?;
                contact_of.remove((contact.as_str(), name))?;
            }
            for owner in prefix(&contact_of, addr)? {
                contact_of.remove((addr, owner.as_str()))?;
                contacts.remove((owner.as_str(), addr))?;
            }
        }
        {
            let mut memberships = self.txn.open_table(MEMBERSHIPS)?;
            let mut modes = self.txn.open_table(MODES)?;
            for channel in prefix(&memberships, addr)? {
                memberships.remove((addr, channel.as_str()))?;
                modes.remove((channel.as_str(), addr))?;
            }
        }
        let mut freed = Freed::new(&self.name);
        {
            let mut conversations = self.txn.open_table(CONVERSATIONS)?;
            let mut messages = self.txn.open_table(MESSAGES)?;
            let mut rises = self.txn.open_table(RISES)?;
            for conv in prefix(&conversations, addr)? {
                let c = conv.as_str();
                let b = c.as_bytes();
                messages.retain_in((b, 0)..=(b, u64::MAX), |_, v| {
                    freed.add(v.2);
                    false
                })?;
                rises.retain_in((b, 0)..=(b, u64::MAX), |_, _| false)?;
                for side in c.split(' ') {
                    conversations.remove((side, c))?;
                }
            }
        }
        self.appends.retain(|a| {
            let gone = is_direct_with(&a.conversation, addr);
            if gone {
                freed.unstored(&a.pdu, &mut self.charges);
            }
            !gone
        });
        freed.remove(name);
        freed.apply(&self.txn)
    }

    /// Costs in proportion to the channel's own rows: its modes and
    /// messages are ranges of their tables.
    fn delete_channel(&mut self, channel: &str) -> Result<(), StoreError> {
        self.txn.open_table(CHANNELS)?.remove(channel)?;
        {
            let mut modes = self.txn.open_table(MODES)?;
            let mut memberships = self.txn.open_table(MEMBERSHIPS)?;
            let mut users = Vec::new();
            for row in modes.range((channel, "")..)? {
                let key = row?.0;
                let (c, user) = key.value();
                if c != channel {
                    break;
                }
                users.push(user.to_owned());
            }
            for user in &users {
                modes.remove((channel, user.as_str()))?;
                memberships.remove((user.as_str(), channel))?;
            }
        }
        let b = channel.as_bytes();
        let mut freed = Freed::new(&self.name);
        {
            let mut messages = self.txn.open_table(MESSAGES)?;
            messages.retain_in((b, 0)..=(b, u64::MAX), |_, v| {
                freed.add(v.2);
                false
            })?;
            let mut rises = self.txn.open_table(RISES)?;
            rises.retain_in((b, 0)..=(b, u64::MAX), |_, _| false)?;
        }
        self.appends.retain(|a| {
            let gone = &*a.conversation == channel;
            if gone {
                freed.unstored(&a.pdu, &mut self.charges);
            }
            !gone
        });
        freed.apply(&self.txn)
    }

    /// The message counter as committed.
    fn next_seq(&self) -> Result<u64, StoreError> {
        let meta = self.txn.open_table(META)?;
        let seq = meta.get(NEXT_SEQ)?.map_or(0, |v| v.value());
        Ok(seq)
    }

    /// Commits, saving the message counter.
    pub fn commit(mut self, next_seq: u64) -> Result<(), StoreError> {
        let path = self.txn.path.clone();
        let txn = self.txn.txn.take().expect("a batch commits once");
        let relay_out = &self.relay_out;
        let applied = self.journal_applied;
        guard::guarded(&path, || {
            add_charges(&txn, &self.charges)?;
            insert_enqueued(&txn, &mut self.enqueued)?;
            if let Some(id) = applied {
                txn.open_table(META)?.insert(JOURNAL_APPLIED, id)?;
            }
            commit(txn, &self.appends, relay_out, next_seq)
        })
    }
}

/// Adds a batch's charges to [`USAGE`].
fn add_charges(txn: &WriteTransaction, charges: &HashMap<Arc<str>, u64>) -> Result<(), StoreError> {
    if charges.is_empty() {
        return Ok(());
    }
    let mut usage = txn.open_table(USAGE)?;
    for (user, bytes) in charges {
        let used = usage.get(&**user)?.map_or(0, |v| v.value());
        usage.insert(&**user, used.saturating_add(*bytes))?;
    }
    Ok(())
}

/// Bytes of deleted messages per local sender, to take off [`USAGE`].
struct Freed<'a> {
    server: &'a str,
    by: HashMap<String, u64>,
}

impl<'a> Freed<'a> {
    fn new(server: &'a str) -> Self {
        Freed {
            server,
            by: HashMap::new(),
        }
    }

    /// The local user who sent `pdu`, if a local user did.
    fn sender(&self, pdu: &[u8]) -> Option<String> {
        let deframer = crate::proto::Deframer::with_max_payload(crate::proto::MAX_PAYLOAD);
        let Ok(Some((crate::proto::Pdu::Message(m), _))) = deframer.decode(pdu) else {
            return None;
        };
        let (local, server) = m.source_address.split_once('@')?;
        (server == self.server).then(|| local.to_owned())
    }

    /// A stored message goes.
    fn add(&mut self, pdu: &[u8]) {
        if let Some(user) = self.sender(pdu) {
            *self.by.entry(user).or_default() += pdu.len() as u64;
        }
    }

    /// A message of this batch goes before it was stored: its charge,
    /// made in this batch, is taken back.
    fn unstored(&self, pdu: &[u8], charges: &mut HashMap<Arc<str>, u64>) {
        if let Some(user) = self.sender(pdu) {
            if let Some(charged) = charges.get_mut(user.as_str()) {
                *charged = charged.saturating_sub(pdu.len() as u64);
            }
        }
    }

    /// Forgets `user`, whose own count goes whole.
    fn remove(&mut self, user: &str) {
        self.by.remove(user);
    }

    fn apply(self, txn: &WriteTransaction) -> Result<(), StoreError> {
        if self.by.is_empty() {
            return Ok(());
        }
        let mut usage = txn.open_table(USAGE)?;
        for (user, bytes) in self.by {
            let used = usage.get(user.as_str())?.map_or(0, |v| v.value());
            match used.saturating_sub(bytes) {
                0 => usage.remove(user.as_str())?,
                left => usage.insert(user.as_str(), left)?,
            };
        }
        Ok(())
    }
}

/// Inserts the relays of a batch that wait, as one run per peer (or a
/// few, see [`runs::RUN_MAX_RELAYS`]).
fn insert_enqueued(txn: &WriteTransaction, rows: &mut Vec<Enqueued>) -> Result<(), StoreError> {
    // Stable: each peer's relays keep their rising numbers.
    rows.sort_by(|a, b| a.peer.cmp(&b.peer));
    for same in rows.chunk_by(|a, b| a.peer == b.peer) {
        let relays = same.iter().map(|r| runs::Relay {
            number: r.number,
            deadline: r.deadline,
            pdu: &r.pdu,
        });
        runs::insert(txn, &same[0].peer, relays)?;
    }
    rows.clear();
    Ok(())
}

/// Inserts the appends of a batch, saves the counter and commits.
fn commit(
    txn: WriteTransaction,
    appends: &[Append],
    relay_out: &HashMap<Arc<str>, u64>,
    next_seq: u64,
) -> Result<(), StoreError> {
    insert_appends(&txn, appends)?;
    if !relay_out.is_empty() {
        let mut table = txn.open_table(RELAY_OUT)?;
        for (peer, next) in relay_out {
            table.insert(&**peer, *next)?;
        }
    }
    txn.open_table(META)?.insert(NEXT_SEQ, next_seq)?;
    txn.commit()?;
    Ok(())
}

/// Stores messages, with their [`RISES`] and [`CONVERSATIONS`] rows.
fn insert_appends(txn: &WriteTransaction, appends: &[Append]) -> Result<(), StoreError> {
    if appends.is_empty() {
        return Ok(());
    }
    let mut messages = txn.open_table(MESSAGES)?;
    let mut rises = txn.open_table(RISES)?;
    let mut conversations = txn.open_table(CONVERSATIONS)?;
    // Each conversation's highest send_time, read once per batch;
    // a direct conversation is indexed under both its users once
    // per batch too (the insert is idempotent).
    let mut highest: HashMap<Arc<str>, Option<u64>, foldhash::fast::RandomState> =
        HashMap::default();
    for a in appends {
        let (conv, seq, send_time) = (&a.conversation, &a.seq, &a.send_time);
        let key = conv.as_bytes();
        let sum = record::checksum(key, *seq, *send_time, &a.pdu);
        messages.insert((key, *seq), (*send_time, sum, &a.pdu[..]))?;
        let high = match highest.get_mut(conv) {
            Some(high) => high,
            None => {
                let last = rises.range((key, 0)..=(key, u64::MAX))?.next_back();
                let last = last.transpose()?.map(|(k, _)| k.value().1);
                // A conversation with rows is indexed already.
                if last.is_none() && !conv.starts_with('#') {
                    for side in conv.split(' ') {
                        conversations.insert((side, &**conv), ())?;
                    }
                }
                highest.entry(conv.clone()).or_insert(last)
            }
        };
        if high.is_none_or(|h| *send_time > h) {
            rises.insert((key, *send_time), *seq)?;
            *high = Some(*send_time);
        }
    }
    Ok(())
}

/// Adds the journal's charges to stored bytes per user.
fn add_pending_charges(usage: &mut BTreeMap<String, u64>, pending: &journal::Pending) {
    for (user, bytes) in &pending.charges {
        let used = usage.entry(user.to_string()).or_default();
        *used = used.saturating_add(*bytes);
    }
}

/// The store's journal nonce, made if it has none, and the last journal
/// record it holds.
fn journal_keys(txn: &WriteTransaction) -> Result<(u64, u64), StoreError> {
    let mut meta = txn.open_table(META)?;
    let found = meta.get(JOURNAL_NONCE)?.map(|v| v.value());
    let nonce = match found {
        Some(n) => n,
        None => {
            let mut bytes = [0u8; 8];
            getrandom::getrandom(&mut bytes).map_err(|e| {
                StoreError::Corrupt(format!("no random number for the journal: {e}"))
            })?;
            let n = u64::from_le_bytes(bytes);
            meta.insert(JOURNAL_NONCE, n)?;
            meta.remove(JOURNAL_APPLIED)?;
            n
        }
    };
    let applied = meta.get(JOURNAL_APPLIED)?.map_or(0, |v| v.value());
    Ok((nonce, applied))
}

/// Writes journal `records` into `txn`, a transaction on a copy of a
/// store (see [`backup::backup_offline`]): their messages, charges and
/// the message counter.
fn write_records(txn: &WriteTransaction, records: &[journal::Record]) -> Result<(), StoreError> {
    let mut appends = Vec::new();
    let mut charges: HashMap<Arc<str>, u64> = HashMap::new();
    let mut next_seq = txn
        .open_table(META)?
        .get(NEXT_SEQ)?
        .map_or(0, |v| v.value());
    for record in records {
        next_seq = next_seq.max(record.next_seq);
        for change in &record.changes {
            match change {
                Change::Append {
                    conversation,
                    seq,
                    send_time,
                    pdu,
                } => appends.push(Append {
                    conversation: conversation.clone(),
                    seq: *seq,
                    send_time: *send_time,
                    pdu: pdu.clone(),
                }),
                Change::Charge { user, bytes } => {
                    let c = charges.entry(user.clone()).or_default();
                    *c = c.saturating_add(*bytes);
                }
                _ => {}
            }
        }
    }
    insert_appends(txn, &appends)?;
    add_charges(txn, &charges)?;
    txn.open_table(META)?.insert(NEXT_SEQ, next_seq)?;
    Ok(())
}

/// Every row of [`schema::PEERS`]. A key of the wrong length is corrupt.
fn peers(txn: &redb::ReadTransaction) -> Result<BTreeMap<String, Peer>, StoreError> {
    let mut out = BTreeMap::new();
    for row in txn.open_table(PEERS)?.iter()? {
        let (k, v) = row?;
        let (address, key, tls) = v.value();
        let key = key
            .try_into()
            .map_err(|_| StoreError::Corrupt(format!("peer {}: key is not 32 bytes", k.value())))?;
        let peer = Peer {
            address: address.to_owned(),
            key,
            tls,
        };
        out.insert(k.value().to_owned(), peer);
    }
    Ok(out)
}

/// Every row of [`schema::USAGE`].
fn usage(txn: &redb::ReadTransaction) -> Result<BTreeMap<String, u64>, StoreError> {
    let mut out = BTreeMap::new();
    for row in txn.open_table(USAGE)?.iter()? {
        let (k, v) = row?;
        out.insert(k.value().to_owned(), v.value());
    }
    Ok(out)
}

/// Every session token, per user, oldest issued first. A row whose hash is
/// not 32 bytes (only a damaged file has one) is left out: it matches no
/// token.
fn tokens(txn: &redb::ReadTransaction) -> Result<BTreeMap<String, Vec<StoredToken>>, StoreError> {
    let mut out: BTreeMap<String, Vec<StoredToken>> = BTreeMap::new();
    for row in txn.open_table(TOKENS)?.iter()? {
        let (k, v) = row?;
        let (user, hash) = k.value();
        let (issued, expires) = v.value();
        let Ok(hash) = <[u8; 32]>::try_from(hash) else {
            continue;
        };
        let token = StoredToken {
            hash,
            issued,
            expires,
        };
        out.entry(user.to_owned()).or_default().push(token);
    }
    for list in out.values_mut() {
        list.sort_by_key(|t| t.issued);
    }
    Ok(out)
}

/// Relay numbers and outboxes per peer. The outbox is read whole: its
/// length is bounded by `max_outbox_messages` per peer.
fn relays(txn: &redb::ReadTransaction) -> Result<BTreeMap<String, RelayState>, StoreError> {
    let mut out: BTreeMap<String, RelayState> = BTreeMap::new();
    for row in txn.open_table(RELAY_OUT)?.iter()? {
        let (k, v) = row?;
        out.entry(k.value().to_owned()).or_default().next_out = v.value();
    }
    for row in txn.open_table(RELAY_IN)?.iter()? {
        let (k, v) = row?;
        out.entry(k.value().to_owned()).or_default().last_in = v.value();
    }
    let deframer = crate::proto::Deframer::with_max_payload(crate::proto::MAX_PAYLOAD);
    for row in txn.open_table(OUTBOX_RUNS)?.iter()? {
        let (k, v) = row?;
        let (peer, first) = k.value();
        let queued = &mut out.entry(peer.to_owned()).or_default().queued;
        for relay in runs::parse(peer, first, v.value())? {
            let number = relay.number;
            let corrupt = || StoreError::Corrupt(format!("outbox of {peer}: relay {number}"));
            queued.push(match deframer.decode(relay.pdu) {
                Ok(Some((crate::proto::Pdu::Message(m), _))) => Queued {
                    number,
                    deadline: relay.deadline,
                    source: m.source_address.to_owned(),
                    target: m.target_address.to_owned(),
                    send_time: m.send_time,
                    mode: None,
                },
                Ok(Some((crate::proto::Pdu::UserMode(u), _))) => Queued {
                    number,
                    deadline: relay.deadline,
                    source: u.user_address.to_owned(),
                    target: u.channel_address.to_owned(),
                    send_time: 0,
                    mode: Some(u.mode),
                },
                _ => return Err(corrupt()),
            });
        }
    }
    for relay in out.values_mut() {
        relay.next_out = relay.next_out.max(1);
    }
    Ok(out)
}

/// Whether `conversation` is a direct conversation key with `address` on
/// one side.
fn is_direct_with(conversation: &str, address: &str) -> bool {
    conversation
        .split_once(' ')
        .is_some_and(|(a, b)| a == address || b == address)
}

/// The second halves of the keys `(first, _)` of a two-string table.
fn prefix<T>(table: &T, first: &str) -> Result<Vec<String>, StoreError>
where
    T: ReadableTable<(&'static str, &'static str), ()>,
{
    let mut out = Vec::new();
    for row in table.range((first, "")..)? {
        let key = row?.0;
        let (a, b) = key.value();
        if a != first {
            break;
        }
        out.push(b.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
