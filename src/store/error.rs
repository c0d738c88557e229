//! The store's error: what failed, with redb's error as its source, so an
//! admin reply and the log can say why.

use std::fmt;
use std::path::PathBuf;

/// A store failure: ends one request or one admin command, never the server.
#[derive(Debug)]
pub enum StoreError {
    /// Another process holds the file.
    InUse(PathBuf),
    /// The file cannot be opened or created.
    Open {
        path: PathBuf,
        source: Box<redb::Error>,
    },
    /// The file's mode cannot be set to 0600.
    Restrict(PathBuf, std::io::Error),
    /// Written by a newer release; left untouched.
    NewerSchema {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    /// A version no release wrote.
    UnknownSchema { path: PathBuf, found: u64 },
    /// The store's addresses belong to another server name.
    OtherServer { stored: String, configured: String },
    /// A row holds what no release writes.
    Corrupt(String),
    /// redb gave up on the file's contents (it panicked, or found a page
    /// whose checksum fails).
    Damaged { path: PathBuf, detail: String },
    /// A backup's destination exists already; it is never overwritten.
    Exists(PathBuf),
    /// Writing a backup failed.
    Io(PathBuf, std::io::Error),
    /// A write was refused: an earlier write failed (a full disk), and the
    /// store could only be reopened for reading so far.
    ReadOnly(PathBuf),
    /// A read or write failed. Boxed: redb's error is large, and results
    /// of the store are passed around on every request.
    Redb(Box<redb::Error>),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::InUse(path) => write!(
                f,
                "{} is in use by another process (is `solec serve` running on it?)",
                path.display()
            ),
            StoreError::Open { path, source } => {
                write!(f, "cannot open {}: {source}", path.display())
            }
            StoreError::Restrict(path, e) => write!(f, "cannot restrict {}: {e}", path.display()),
            StoreError::NewerSchema {
                path,
                found,
                supported,
            } => write!(
                f,
                "{} has schema version {found}, newer than this solec's {supported}; \
                 it was left untouched: run the newer release",
                path.display()
            ),
            StoreError::Corrupt(what) => write!(f, "the store is corrupt: {what}"),
            StoreError::Damaged { path, detail } => write!(
                f,
                "{} is damaged ({detail}); `solec store check` lists what is damaged, \
                 and a backup from before the damage can replace it",
                path.display()
            ),
            StoreError::Exists(path) => {
                write!(f, "{} exists already; choose a new file", path.display())
            }
            StoreError::Io(path, e) => write!(f, "{}: {e}", path.display()),
            StoreError::UnknownSchema { path, found } => write!(
                f,
                "{} has schema version {found}, which no release wrote",
                path.display()
            ),
            StoreError::OtherServer { stored, configured } => write!(
                f,
                "the store holds the data of server {stored}, but this server is named \
                 {configured}; set `name: \"{stored}\"` or use another data directory"
            ),
            StoreError::ReadOnly(path) => write!(
                f,
                "{} is read-only since a write to it failed (is its disk full?); \
                 writes resume once it can be reopened for writing",
                path.display()
            ),
            StoreError::Redb(e) => write!(f, "store: {e}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Open { source, .. } | StoreError::Redb(source) => Some(&**source),
            StoreError::Restrict(_, e) | StoreError::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

impl StoreError {
    /// The error as met reading the file at `path`: a bare redb error
    /// gains the file's name, for the message that refuses a start.
    pub fn in_file(self, path: &std::path::Path) -> StoreError {
        match self {
            StoreError::Redb(source) => StoreError::Open {
                path: path.to_owned(),
                source,
            },
            e => e,
        }
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Redb(Box::new(e.into()))
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
