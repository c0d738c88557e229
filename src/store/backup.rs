//! `solec store backup`: a consistent copy of the store in a new file.
//!
//! The copy is made inside one redb read transaction, so it holds exactly
//! what had committed when it began: since the server commits before it
//! acknowledges, every message acknowledged before the backup began is in
//! it, whatever writers do meanwhile. The rows go into a fresh redb file
//! beside the destination, which is synced and then linked to its name,
//! so a half-written backup never carries the name, and an existing file
//! is never overwritten.

use super::journal::Record;
use super::readonly::ReadOnly;
use super::record::checksum;
use super::schema::*;
use super::{guard, Store, StoreError};
use redb::{
    Database, MultimapTableHandle as _, ReadTransaction, ReadableTable, TableDefinition,
    TableHandle as _,
};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// What a backup copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Copied {
    pub tables: u64,
    pub rows: u64,
    pub messages: u64,
    /// Messages whose checksum fails, copied as they are (the copy is
    /// faithful; `solec store check` on it lists them).
    pub damaged: u64,
}

/// redb's page cache while copying from a store no server holds.
const OFFLINE_CACHE: usize = 16 << 20;

impl Store {
    /// Copies everything committed so far into a new file at `dest`.
    /// What waits in the journal is moved into redb first.
    pub fn backup(&self, dest: &Path) -> Result<Copied, StoreError> {
        self.settle()?;
        self.guarded(|| copy(&self.db().begin_read()?, dest, &[]))
    }
}

/// Copies the store at `src`, which no server holds, to a new file at
/// `dest`, leaving `src` untouched.
pub fn backup_offline(src: &Path, dest: &Path) -> Result<Copied, StoreError> {
    let ro = ReadOnly::open(src)?;
    guard::guarded(src, || {
        let db = redb::Builder::new()
            .set_cache_size(OFFLINE_CACHE)
            .create_with_backend(ro)
            .map_err(|e| StoreError::Open {
                path: src.to_owned(),
                source: Box::new(e.into()),
            })?;
        let txn = db.begin_read()?;
        // A server that stopped without settling (it was killed) left
        // messages in the journal: the copy takes them in, the store stays
        // as it is.
        let (nonce, applied) = {
            let meta = txn.open_table(META)?;
            let get = |key| meta.get(key).map(|v| v.map(|v| v.value()));
            (get(JOURNAL_NONCE)?, get(JOURNAL_APPLIED)?.unwrap_or(0))
        };
        let records = match nonce {
            Some(nonce) => super::journal::read(src, nonce, applied)
                .map_err(|e| StoreError::Io(super::journal_path(src), e))?,
            None => Vec::new(),
        };
        copy(&txn, dest, &records)
    })
    .map_err(|e| e.in_file(src))
}

/// Every table this build knows, copied from `src` into `dst`; the names.
macro_rules! copy_tables {
    ($src:expr, $dst:expr, $copied:expr; $($def:expr),* $(,)?) => {{
        $( $copied.rows += table($src, $dst, $def)?; $copied.tables += 1; )*
        [$($def.name()),*]
    }};
}

fn copy(src: &ReadTransaction, dest: &Path, records: &[Record]) -> Result<Copied, StoreError> {
    if dest.exists() {
        return Err(StoreError::Exists(dest.to_owned()));
    }
    let partial = partial_name(dest);
    let io = |e| StoreError::Io(partial.clone(), e);
    // Owner-only, as the store itself: it holds password hashes.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => StoreError::Exists(partial.clone()),
            _ => io(e),
        })?;
    let written = write_copy(src, file.try_clone().map_err(io)?, records);
    let done = written.and_then(|copied| {
        file.sync_all().map_err(io)?;
        // A hard link fails if `dest` appeared meanwhile; rename would not.
        std::fs::hard_link(&partial, dest).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => StoreError::Exists(dest.to_owned()),
            _ => StoreError::Io(dest.to_owned(), e),
        })?;
        Ok(copied)
    });
    let _ = std::fs::remove_file(&partial);
    let copied = done?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::Io(dir.to_owned(), e))?;
    }
    Ok(copied)
}

fn write_copy(src: &ReadTransaction, file: File, records: &[Record]) -> Result<Copied, StoreError> {
    let db = Database::builder().create_file(file)?;
    let dst = db.begin_write()?;
    let mut copied = Copied::default();
    let known = copy_tables!(src, &dst, copied;
        USERS, CONTACTS, CONTACT_OF, MODES, MEMBERSHIPS, CHANNELS, RISES,
        CONVERSATIONS, PEERS, OUTBOX_RUNS, RELAY_OUT, RELAY_IN, USAGE, TOKENS, META, SETTINGS,
    );
    let (messages, damaged) = copy_messages(src, &dst)?;
    copied.tables += 1;
    copied.rows += messages;
    copied.messages = messages;
    copied.damaged = damaged;
    // A table this build does not know would be lost: refuse instead.
    for handle in src.list_tables()? {
        let name = handle.name();
        if name != MESSAGES.name() && !known.contains(&name) {
            return Err(StoreError::Corrupt(format!(
                "table {name} is unknown to this build's backup"
            )));
        }
    }
    if let Some(handle) = src.list_multimap_tables()?.next() {
        return Err(StoreError::Corrupt(format!(
            "multimap table {} is unknown to this build's backup",
            handle.name()
        )));
    }
    super::write_records(&dst, records)?;
    copied.messages += records
        .iter()
        .flat_map(|r| &r.changes)
        .filter(|c| matches!(c, super::Change::Append { .. }))
        .count() as u64;
    {
        // The copy holds everything and has no journal: a journal found
        // beside it once it is restored is not its own.
        let mut meta = dst.open_table(META)?;
        meta.remove(JOURNAL_NONCE)?;
        meta.remove(JOURNAL_APPLIED)?;
    }
    dst.commit()?;
    Ok(copied)
}

/// `dest` with `.partial` added to its name.
fn partial_name(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Copies one table row by row; a table absent from `src` stays absent.
fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
    src: &ReadTransaction,
    dst: &redb::WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64, StoreError> {
    let from = match src.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut to = dst.open_table(def)?;
    let mut rows = 0;
    for row in from.iter()? {
        let (k, v) = row?;
        to.insert(k.value(), v.value())?;
        rows += 1;
    }
    Ok(rows)
}

/// Copies the messages as they are, counting those whose checksum fails.
fn copy_messages(
    src: &ReadTransaction,
    dst: &redb::WriteTransaction,
) -> Result<(u64, u64), StoreError> {
    let from = src.open_table(MESSAGES)?;
    let mut to = dst.open_table(MESSAGES)?;
    let (mut rows, mut damaged) = (0, 0);
    for row in from.iter()? {
        let (k, v) = row?;
        let (conv, seq) = k.value();
        let (time, sum, pdu) = v.value();
        if checksum(conv, seq, time, pdu) != sum {
            damaged += 1;
        }
        to.insert((conv, seq), (time, sum, pdu))?;
        rows += 1;
    }
    Ok((rows, damaged))
}
