//! Reopening the store in place after an I/O error.
//!
//! redb marks its `Database` failed at the first I/O error (a full disk
//! refusing a commit's pages) and answers every later call, reads included,
//! with `PreviousIo`; only a new `Database` on the file works again, and
//! opening one repairs the file first, which writes. So after a failed
//! commit [`Store::recover`] reopens the file for writing if that repair
//! succeeds, and otherwise as a read-only view whose repair stays in memory
//! (see [`ReadOnly`]): History is served from it while writes are refused
//! with [`StoreError::ReadOnly`], until a later `recover` finds the space
//! back. The store's file descriptor, and so its exclusive lock, is the
//! same throughout: no other process can take the file in between.

use super::readonly::ReadOnly;
use super::{guard, Store, StoreError};
use redb::Database;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Opens or creates the store's file (owner-only) and locks it exclusively.
pub(super) fn lock(path: &Path) -> Result<File, StoreError> {
    let io = |e| StoreError::Open {
        path: path.to_owned(),
        source: Box::new(redb::Error::Io(e)),
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    // SAFETY: flock(2) on a descriptor this function owns.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(match e.kind() {
            io::ErrorKind::WouldBlock => StoreError::InUse(path.to_owned()),
            _ => io(e),
        });
    }
    Ok(file)
}

/// A database that writes to `file`, through a clone of the descriptor.
pub(super) fn writable(file: &File, cache_bytes: usize) -> Result<Database, StoreError> {
    let backend = Shared(file.try_clone().map_err(redb::Error::Io)?);
    Ok(redb::Builder::new()
        .set_cache_size(cache_bytes)
        .create_with_backend(backend)?)
}

/// redb's `FileBackend` without its lock: that one unlocks the file when
/// it drops, which would free the file as the failed database goes; the
/// store holds the lock instead, on the descriptor this one clones.
#[derive(Debug)]
struct Shared(File);

impl redb::StorageBackend for Shared {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buffer = vec![0; len];
        self.0.read_exact_at(&mut buffer, offset)?;
        Ok(buffer)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_data(&self, _eventual: bool) -> io::Result<()> {
        self.0.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.0.write_all_at(data, offset)
    }
}

/// A database over `file` that never writes to it.
fn read_only(file: &File, cache_bytes: usize) -> Result<Database, StoreError> {
    let clone = file.try_clone().and_then(ReadOnly::over_locked);
    let backend = clone.map_err(redb::Error::Io)?;
    Ok(redb::Builder::new()
        .set_cache_size(cache_bytes)
        .create_with_backend(backend)?)
}

impl Store {
    /// Whether writes go to the file (false after a failed [`recover`]
    /// left a read-only view).
    ///
    /// [`recover`]: Store::recover
    pub fn writable(&self) -> bool {
        self.writable.load(Ordering::Acquire)
    }

    /// Makes the store usable again after a failed transaction: a database
    /// redb has marked failed is replaced, for writing if redb can repair
    /// the file now, else for reading only; a database that is not failed
    /// (the error was not I/O) is kept. Returns whether it is writable.
    /// Costs a walk of the file when it reopens: call it after a failure,
    /// not per request.
    pub fn recover(&self) -> Result<bool, StoreError> {
        // No settle may be writing through the database being replaced.
        let _idle = self.journal_idle();
        if self.writable() && !self.failed() {
            return Ok(true);
        }
        let path = self.path.clone();
        let writable = guard::guarded(&path, || writable(&self.file, self.cache_bytes));
        let e = match writable {
            Ok(db) => {
                self.replace(db, true);
                return Ok(true);
            }
            Err(e) => e,
        };
        log::debug!("reopening {} for writing failed: {e}", path.display());
        let view = guard::guarded(&path, || read_only(&self.file, self.cache_bytes))?;
        self.replace(view, false);
        Ok(false)
    }

    /// Whether redb refuses to start a transaction on the database (it
    /// does so after any I/O error until it is reopened).
    fn failed(&self) -> bool {
        let db = self.db();
        let probe = guard::guarded(&self.path, || Ok(db.begin_write()?));
        // Dropping the probe aborts it, which only reads.
        probe.is_err()
    }

    fn replace(&self, db: Database, writable: bool) {
        let old = {
            let mut now = self.db.write().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *now, Arc::new(db))
        };
        self.writable.store(writable, Ordering::Release);
        // Dropped outside the lock: a failed database's drop tries to write
        // its allocator state and is refused, a view's writes go nowhere.
        let _ = guard::guarded(&self.path, || {
            drop(old);
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Change;

    fn put(store: &Store, name: &str) -> Result<(), StoreError> {
        let change = Change::PutUser {
            name: name.into(),
            hash: "h".into(),
        };
        store.apply_now(&change)
    }

    #[test]
    fn a_read_only_view_reads_refuses_writes_and_recover_makes_it_writable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let store = Store::open(&path, "x.test", 1 << 20).unwrap();
        put(&store, "alice").unwrap();
        // What recover leaves while the disk is still full.
        let view = read_only(&store.file, store.cache_bytes).unwrap();
        store.replace(view, false);
        assert!(store.load().unwrap().users.contains_key("alice"));
        assert!(matches!(put(&store, "bob"), Err(StoreError::ReadOnly(_))));
        // Not open for writing, so still locked against other processes.
        let other = Store::open(&path, "x.test", 1 << 20);
        assert!(
            matches!(other, Err(StoreError::InUse(_))),
            "{:?}",
            other.err()
        );
        assert!(store.recover().unwrap());
        put(&store, "bob").unwrap();
        let users = store.load().unwrap().users;
        assert_eq!(users.keys().collect::<Vec<_>>(), ["alice", "bob"]);
    }

    #[test]
    fn a_working_store_is_kept_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb"), "x.test", 1 << 20).unwrap();
        let before = Arc::as_ptr(&store.db());
        assert!(store.recover().unwrap());
        assert_eq!(before, Arc::as_ptr(&store.db()));
        put(&store, "alice").unwrap();
    }
}
