//! The durable store: the only module that names redb types.
//!
//! One short function per transaction. [`Store::load`] reads everything the
//! server keeps in memory (users, contacts, channels) at start-up; a
//! [`Batch`] groups many changes and messages into one write transaction so
//! the server pays one commit for many requests.

mod schema;

use crate::proto::{Deframer, Mode, Pdu};
use redb::{Database, ReadableTable, WriteTransaction};
use schema::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;

/// A store failure: ends one request or one admin command, never the server.
#[derive(Debug)]
pub struct StoreError(String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<&str> for StoreError {
    fn from(s: &str) -> Self {
        StoreError(s.to_owned())
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError(e.to_string())
            }
        }
    )*};
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Everything the server holds in memory, as loaded at start-up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// User name → PHC hash.
    pub users: BTreeMap<String, String>,
    /// (owner, contact) pairs.
    pub contacts: BTreeSet<(String, String)>,
    /// Channel name → (user name → mode).
    pub channels: BTreeMap<String, BTreeMap<String, Mode>>,
    pub next_seq: u64,
}

/// The redb file. Cheap to share by reference; redb serialises writers.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens or creates the store and its tables.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError(format!(
                "{} is in use by another process (is `solec serve` running on it?)",
                path.display()
            )),
            e => StoreError(format!("cannot open {}: {e}", path.display())),
        })?;
        // Password hashes and private messages: owner-only.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError(format!("cannot restrict {}: {e}", path.display())))?;
        let txn = db.begin_write()?;
        txn.open_table(USERS)?;
        txn.open_table(CONTACTS)?;
        txn.open_table(MODES)?;
        txn.open_table(CHANNELS)?;
        txn.open_table(MESSAGES)?;
        txn.open_table(META)?;
        txn.commit()?;
        Ok(Store { db })
    }

    /// Reads users, contacts, channels and the message counter.
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        let txn = self.db.begin_read()?;
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
        snap.next_seq = txn
            .open_table(META)?
            .get(NEXT_SEQ)?
            .map_or(0, |v| v.value());
        Ok(snap)
    }

    /// Starts a write transaction.
    pub fn batch(&self) -> Result<Batch, StoreError> {
        Ok(Batch {
            txn: self.db.begin_write()?,
            appends: Vec::new(),
        })
    }

    /// A consistent view of everything committed so far, to read from on
    /// any thread while writers go on.
    pub fn reader(&self) -> Result<Reader, StoreError> {
        Ok(Reader {
            txn: self.db.begin_read()?,
        })
    }
}

/// Whether `conversation` is a direct conversation key with `user` on one
/// side (see [`schema::MESSAGES`]).
fn is_direct_with(conversation: &str, user: &str) -> bool {
    conversation
        .split_once(' ')
        .is_some_and(|(a, b)| a == user || b == user)
}

/// The `send_time` of a stored Message PDU.
fn send_time(pdu: &[u8]) -> Option<u64> {
    match Deframer::default().decode(pdu) {
        Ok(Some((Pdu::Message(m), _))) => Some(m.send_time),
        _ => None,
    }
}

/// A read-only snapshot of the store.
pub struct Reader {
    txn: redb::ReadTransaction,
}

impl Reader {
    /// The Message PDUs of one conversation with `send_time >= since`, in
    /// receive order, skipping `offset` and at most `count`, concatenated.
    pub fn history(
        &self,
        conversation: &str,
        since: u64,
        offset: u64,
        count: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let table = self.txn.open_table(MESSAGES)?;
        let (mut skip, mut take) = (offset, count);
        let mut out = Vec::new();
        for row in table.range((conversation, 0)..=(conversation, u64::MAX))? {
            if take == 0 {
                break;
            }
            let (_, pdu) = row?;
            if send_time(pdu.value()).is_none_or(|t| t < since) {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            out.extend_from_slice(pdu.value());
            take -= 1;
        }
        Ok(out)
    }
}

/// Changes that commit together, or not at all.
pub struct Batch {
    txn: WriteTransaction,
    /// Messages to insert at commit: (conversation, sequence, PDU).
    appends: Vec<(String, u64, Arc<[u8]>)>,
}

impl Batch {
    pub fn put_user(&mut self, name: &str, hash: &str) -> Result<(), StoreError> {
        self.txn.open_table(USERS)?.insert(name, hash)?;
        Ok(())
    }

    /// Removes a user with their contacts in both directions, their
    /// channel modes and their direct conversations, so a later user of the
    /// same name inherits nothing. Their channel messages stay.
    pub fn delete_user(&mut self, name: &str) -> Result<bool, StoreError> {
        let existed = self.txn.open_table(USERS)?.remove(name)?.is_some();
        let mut contacts = self.txn.open_table(CONTACTS)?;
        contacts.retain(|(owner, contact), ()| owner != name && contact != name)?;
        let mut modes = self.txn.open_table(MODES)?;
        modes.retain(|(_, user), _| user != name)?;
        let mut messages = self.txn.open_table(MESSAGES)?;
        messages.retain(|(conversation, _), _| !is_direct_with(conversation, name))?;
        self.appends
            .retain(|(conversation, _, _)| !is_direct_with(conversation, name));
        Ok(existed)
    }

    pub fn add_contact(&mut self, owner: &str, contact: &str) -> Result<(), StoreError> {
        self.txn
            .open_table(CONTACTS)?
            .insert((owner, contact), ())?;
        Ok(())
    }

    pub fn remove_contact(&mut self, owner: &str, contact: &str) -> Result<(), StoreError> {
        self.txn.open_table(CONTACTS)?.remove((owner, contact))?;
        Ok(())
    }

    pub fn create_channel(&mut self, channel: &str, seq: u64) -> Result<(), StoreError> {
        self.txn.open_table(CHANNELS)?.insert(channel, seq)?;
        Ok(())
    }

    /// Records `mode` for `user` in `channel`; [`Mode::Leave`] removes the row.
    pub fn set_mode(&mut self, channel: &str, user: &str, mode: Mode) -> Result<(), StoreError> {
        let mut modes = self.txn.open_table(MODES)?;
        match mode {
            Mode::Leave => modes.remove((channel, user))?,
            mode => modes.insert((channel, user), u8::from(mode))?,
        };
        Ok(())
    }

    /// Appends a Message PDU to a conversation. Appends are written at
    /// commit, with the table opened once for the whole batch.
    pub fn append(&mut self, conversation: String, seq: u64, pdu: Arc<[u8]>) {
        self.appends.push((conversation, seq, pdu));
    }

    /// Commits, saving the message counter.
    pub fn commit(self, next_seq: u64) -> Result<(), StoreError> {
        {
            let mut messages = self.txn.open_table(MESSAGES)?;
            for (conversation, seq, pdu) in &self.appends {
                messages.insert((conversation.as_str(), *seq), &pdu[..])?;
            }
        }
        self.txn.open_table(META)?.insert(NEXT_SEQ, next_seq)?;
        self.txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str, time: u64) -> Vec<u8> {
        Pdu::Message(crate::proto::Message {
            source_address: "a@x",
            target_address: "#c@x",
            send_time: time,
            message_content: text,
        })
        .to_vec()
        .unwrap()
    }

    #[test]
    fn everything_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = Store::open(&path).unwrap();
            let mut b = store.batch().unwrap();
            b.put_user("alice", "h1").unwrap();
            b.put_user("bob", "h2").unwrap();
            b.add_contact("alice", "bob").unwrap();
            b.create_channel("c", 0).unwrap();
            b.set_mode("c", "alice", Mode::Operator).unwrap();
            b.append("#c".into(), 0, message("one", 5).into());
            b.commit(1).unwrap();
        }
        let store = Store::open(&path).unwrap();
        let snap = store.load().unwrap();
        assert_eq!(snap.users.len(), 2);
        assert!(snap.contacts.contains(&("alice".into(), "bob".into())));
        assert_eq!(snap.channels["c"]["alice"], Mode::Operator);
        assert_eq!(snap.next_seq, 1);
        assert_eq!(
            store.reader().unwrap().history("#c", 0, 0, 10).unwrap(),
            message("one", 5)
        );
    }

    #[test]
    fn history_filters_skips_and_caps() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let mut b = store.batch().unwrap();
        for (seq, time) in [(0, 30), (1, 10), (2, 20), (3, 40)] {
            b.append("#c".into(), seq, message(&seq.to_string(), time).into());
        }
        b.append("#d".into(), 4, message("other", 50).into());
        b.commit(5).unwrap();
        let want = |seqs: &[(u64, u64)]| -> Vec<u8> {
            seqs.iter()
                .flat_map(|(s, t)| message(&s.to_string(), *t))
                .collect()
        };
        // Receive order, not send_time order.
        assert_eq!(
            store.reader().unwrap().history("#c", 0, 0, 9).unwrap(),
            want(&[(0, 30), (1, 10), (2, 20), (3, 40)])
        );
        assert_eq!(
            store.reader().unwrap().history("#c", 20, 0, 9).unwrap(),
            want(&[(0, 30), (2, 20), (3, 40)])
        );
        assert_eq!(
            store.reader().unwrap().history("#c", 20, 1, 1).unwrap(),
            want(&[(2, 20)])
        );
        assert!(store
            .reader()
            .unwrap()
            .history("#c", 0, 4, 9)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn deleting_a_user_drops_their_contacts_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let mut b = store.batch().unwrap();
        b.put_user("alice", "h").unwrap();
        b.put_user("bob", "h").unwrap();
        b.add_contact("alice", "bob").unwrap();
        b.add_contact("bob", "alice").unwrap();
        b.create_channel("c", 0).unwrap();
        b.set_mode("c", "alice", Mode::Member).unwrap();
        b.append("alice bob".into(), 0, message("private", 1).into());
        b.append("bob carol".into(), 1, message("others'", 1).into());
        b.append("#c".into(), 2, message("public", 1).into());
        b.commit(3).unwrap();
        let mut b = store.batch().unwrap();
        assert!(b.delete_user("alice").unwrap());
        b.commit(3).unwrap();
        let read = |conv| store.reader().unwrap().history(conv, 0, 0, 9).unwrap();
        assert!(read("alice bob").is_empty());
        assert_eq!(read("bob carol"), message("others'", 1));
        assert_eq!(read("#c"), message("public", 1));
        let snap = store.load().unwrap();
        assert!(snap.contacts.is_empty());
        assert!(snap.channels["c"].is_empty());
        assert_eq!(snap.users.keys().collect::<Vec<_>>(), ["bob"]);
    }
}
