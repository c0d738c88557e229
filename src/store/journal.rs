//! The journal ahead of redb: a message batch is durable once one record
//! is in it, and redb takes many batches in one commit later.
//!
//! A redb commit of one message cost 0.47 ms of wall time and about
//! 180 µs of CPU here, most of it the kernel writing the commit's scattered
//! pages; a 4 KiB overwrite of a file's existing block and its `fdatasync`
//! cost 0.14 ms and about 30 µs. So a small batch (a record of at most
//! [`RECORD_MAX`]) whose changes are all [`journaled`] (messages stored,
//! and their charges) is written as one record and synced, and its Success
//! goes out. The hub's settle thread then moves what the journal holds into
//! redb in one transaction ([`super::Store::settle_aside`]) once the oldest
//! record has waited [`SETTLE_AFTER`] or [`SETTLE_BYTES`] wait, recording
//! the last record redb holds ([`super::schema::JOURNAL_APPLIED`]); the hub
//! goes on journaling meanwhile. Any other batch (users, channels, tokens,
//! relays), and a batch of hundreds of messages under load, commits to redb
//! directly, with what the journal holds ahead of it in the same
//! transaction.
//!
//! The file, `<store>.journal`, is a ring of at most [`JOURNAL_MAX_BYTES`],
//! zero-filled in [`JOURNAL_GROW`] steps as it first grows, so a record
//! overwrites blocks the file already has and its sync writes no metadata.
//! Records start at multiples of [`RECORD_ALIGN`], so a record never shares
//! a block with an acknowledged one, and the place of a record is free
//! again once redb holds it. When the ring has no room, the journal is
//! settled on the hub's thread first.
//!
//! # Record
//!
//! All integers little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `SLJ1` |
//! | 8 | the store's journal nonce ([`super::schema::JOURNAL_NONCE`]) |
//! | 8 | record id: the previous record's plus one |
//! | 8 | the message counter after the batch |
//! | 4 | payload length |
//! | 4 | CRC-32C of the 32 bytes before it and the payload |
//! | n | payload: entries, below |
//! | … | zeros up to the next multiple of [`RECORD_ALIGN`] |
//!
//! An entry is a kind byte and its fields, strings and PDUs as a `u32`
//! length and the bytes: 1 = Append (conversation, seq `u64`, send_time
//! `u64`, PDU), 2 = Charge (user, bytes `u64`).
//!
//! On open, every whole record of the store's nonce is found, at each
//! multiple of [`RECORD_ALIGN`]; those from the one after the last redb
//! holds are applied in one transaction, in id order, as long as each id
//! follows the one before. Records redb holds are left from before; a torn
//! record ends the chain; a record of another store (a restored backup gets
//! a new nonce) is never read. After a failed write no record is written
//! until redb has recorded that record's id, so a record answered with an
//! error is never replayed.

use super::Change;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The journal file never grows past this: a batch that does not fit
/// after a settle commits to redb directly.
pub const JOURNAL_MAX_BYTES: u64 = 16 << 20;

/// Bytes zero-filled at a time as the journal grows.
pub const JOURNAL_GROW: u64 = 1 << 20;

/// Records start at multiples of this: a page, so the sync of a new
/// record never rewrites the block of one already acknowledged.
pub const RECORD_ALIGN: u64 = 4096;

/// Largest record a batch is journaled in, unless a settle is in flight:
/// two pages, a few dozen messages. A larger batch commits to redb
/// directly, with what the journal holds. Under load a batch holds hundreds of messages and one
/// redb commit is cheap per message, where journaling it would add a flush
/// and a second write of each message; the journal is for the trickle,
/// where a commit per message was the whole cost.
pub const RECORD_MAX: usize = 2 * RECORD_ALIGN as usize;

/// Longest a journaled batch waits for redb.
pub const SETTLE_AFTER: Duration = Duration::from_secs(1);

/// Journal bytes that make a settle due at once.
pub const SETTLE_BYTES: u64 = JOURNAL_MAX_BYTES / 2;

const MAGIC: [u8; 4] = *b"SLJ1";

/// magic, nonce, id, next_seq, length, checksum.
const HEADER: usize = 4 + 8 + 8 + 8 + 4 + 4;

const APPEND: u8 = 1;
const CHARGE: u8 = 2;

/// Whether `change` may wait in the journal: it only adds a message or
/// its charge, which nothing but History and the usage counts read.
pub(super) fn journaled(change: &Change) -> bool {
    matches!(change, Change::Append { .. } | Change::Charge { .. })
}

/// One batch as the journal holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub id: u64,
    pub next_seq: u64,
    pub changes: Vec<Change>,
}

/// Appends the record of `changes` to `out`, padded to [`RECORD_ALIGN`].
/// Every change must be [`journaled`].
pub(super) fn encode(nonce: u64, id: u64, next_seq: u64, changes: &[&Change], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&nonce.to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&next_seq.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    for change in changes {
        match change {
            Change::Append {
                conversation,
                seq,
                send_time,
                pdu,
            } => {
                out.push(APPEND);
                put_bytes(out, conversation.as_bytes());
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&send_time.to_le_bytes());
                put_bytes(out, pdu);
            }
            Change::Charge { user, bytes } => {
                out.push(CHARGE);
                put_bytes(out, user.as_bytes());
                out.extend_from_slice(&bytes.to_le_bytes());
            }
            other => unreachable!("{other:?} is not journaled"),
        }
    }
    let len = out.len() - start - HEADER;
    let len = u32::try_from(len).expect("a record is within the journal's size");
    out[start + 28..start + 32].copy_from_slice(&len.to_le_bytes());
    let sum = crc32c::crc32c_append(
        crc32c::crc32c(&out[start..start + 32]),
        &out[start + HEADER..],
    );
    out[start + 32..start + 36].copy_from_slice(&sum.to_le_bytes());
    let padded = (out.len() - start).next_multiple_of(RECORD_ALIGN as usize);
    out.resize(start + padded, 0);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("a field is within the journal's size");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The record at the start of `bytes` if it is whole and of this `nonce`,
/// with its padded length.
pub(super) fn decode(nonce: u64, bytes: &[u8]) -> Option<(Record, usize)> {
    let header = bytes.get(..HEADER)?;
    if header[..4] != MAGIC || u64_at(header, 4) != nonce {
        return None;
    }
    let len = u32::from_le_bytes(header[28..32].try_into().ok()?) as usize;
    let sum = u32::from_le_bytes(header[32..36].try_into().ok()?);
    let payload = bytes.get(HEADER..HEADER.checked_add(len)?)?;
    if crc32c::crc32c_append(crc32c::crc32c(&header[..32]), payload) != sum {
        return None;
    }
    let changes = entries(payload)?;
    let record = Record {
        id: u64_at(header, 12),
        next_seq: u64_at(header, 20),
        changes,
    };
    Some((
        record,
        (HEADER + len).next_multiple_of(RECORD_ALIGN as usize),
    ))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
}

/// A payload's entries; None if one is cut or of an unknown kind.
fn entries(mut p: &[u8]) -> Option<Vec<Change>> {
    let mut changes = Vec::new();
    while let Some((&kind, rest)) = p.split_first() {
        p = rest;
        let change = match kind {
            APPEND => Change::Append {
                conversation: std::str::from_utf8(take_bytes(&mut p)?).ok()?.into(),
                seq: take_u64(&mut p)?,
                send_time: take_u64(&mut p)?,
                pdu: take_bytes(&mut p)?.into(),
            },
            CHARGE => Change::Charge {
                user: std::str::from_utf8(take_bytes(&mut p)?).ok()?.into(),
                bytes: take_u64(&mut p)?,
            },
            _ => return None,
        };
        changes.push(change);
    }
    Some(changes)
}

fn take_u64(p: &mut &[u8]) -> Option<u64> {
    let (head, rest) = p.split_first_chunk::<8>()?;
    *p = rest;
    Some(u64::from_le_bytes(*head))
}

fn take_bytes<'a>(p: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (head, rest) = p.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*head) as usize;
    let bytes = rest.get(..len)?;
    *p = &rest[len..];
    Some(bytes)
}

/// The records of `bytes` (a journal file) after record `applied`, in
/// order: every whole record of `nonce` at a multiple of [`RECORD_ALIGN`]
/// is found, and those from `applied + 1` on are taken while each id
/// follows the one before. Records up to `applied` are left from before
/// (redb has them); a torn record ends the chain, and so does a gap.
pub(super) fn scan(nonce: u64, applied: u64, bytes: &[u8]) -> Vec<Record> {
    let mut found = std::collections::BTreeMap::new();
    let mut at = 0;
    while at < bytes.len() {
        match decode(nonce, &bytes[at..]) {
            Some((record, len)) => {
                at += len;
                if record.id > applied {
                    found.entry(record.id).or_insert(record);
                }
            }
            None => at += RECORD_ALIGN as usize,
        }
    }
    let mut chain = Vec::new();
    let mut next = applied.saturating_add(1);
    while let Some(record) = found.remove(&next) {
        chain.push(record);
        next = next.saturating_add(1);
    }
    chain
}

/// A message waiting in the journal, as History reads it.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub seq: u64,
    pub send_time: u64,
    pub pdu: Arc<[u8]>,
}

/// What the journal holds that redb does not yet.
#[derive(Debug, Default, Clone)]
pub(super) struct Pending {
    /// Per conversation, in rising sequence.
    pub messages: HashMap<Arc<str>, Vec<Row>>,
    /// Bytes to add to each user's stored bytes.
    pub charges: HashMap<Arc<str>, u64>,
    /// The message counter after the last record.
    pub next_seq: u64,
    /// When the oldest record was written.
    pub since: Option<Instant>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.since.is_none()
    }

    fn add(&mut self, changes: &[&Change], next_seq: u64, now: Instant) {
        for change in changes {
            match change {
                Change::Append {
                    conversation,
                    seq,
                    send_time,
                    pdu,
                } => self
                    .messages
                    .entry(conversation.clone())
                    .or_default()
                    .push(Row {
                        seq: *seq,
                        send_time: *send_time,
                        pdu: pdu.clone(),
                    }),
                Change::Charge { user, bytes } => {
                    let c = self.charges.entry(user.clone()).or_default();
                    *c = c.saturating_add(*bytes);
                }
                _ => {}
            }
        }
        self.next_seq = self.next_seq.max(next_seq);
        self.since.get_or_insert(now);
    }

    /// Puts back what a failed settle took: `earlier`'s rows come first.
    pub fn restore(&mut self, earlier: Pending) {
        for (conversation, mut rows) in earlier.messages {
            if let Some(later) = self.messages.remove(&conversation) {
                rows.extend(later);
            }
            self.messages.insert(conversation, rows);
        }
        for (user, bytes) in earlier.charges {
            let c = self.charges.entry(user).or_default();
            *c = c.saturating_add(bytes);
        }
        self.next_seq = self.next_seq.max(earlier.next_seq);
        self.since = earlier.since.or(self.since);
    }

    /// The changes that bring redb up to date.
    pub fn changes(&self) -> impl Iterator<Item = Change> + '_ {
        let appends = self.messages.iter().flat_map(|(conversation, rows)| {
            rows.iter().map(|r| Change::Append {
                conversation: conversation.clone(),
                seq: r.seq,
                send_time: r.send_time,
                pdu: r.pdu.clone(),
            })
        });
        let charges = self.charges.iter().map(|(user, bytes)| Change::Charge {
            user: user.clone(),
            bytes: *bytes,
        });
        appends.chain(charges)
    }
}

/// The journal file and what waits in it. Owned by the store, behind its
/// lock.
///
/// The file is a ring: records go at `tail`, wrapping to the start when
/// the end is near, and the place of a record is free again once redb
/// holds it. So a settle on another thread lets the hub go on writing.
#[derive(Debug)]
pub(super) struct Journal {
    path: PathBuf,
    file: Option<File>,
    /// Bytes of the file written (records or zeros) and synced.
    allocated: u64,
    /// Where the next record goes.
    tail: u64,
    /// The records redb does not hold yet, oldest first: id, offset, length.
    held: VecDeque<(u64, u64, u64)>,
    /// Their bytes.
    held_bytes: u64,
    /// The next record's id.
    next_id: u64,
    nonce: u64,
    /// A write of this record failed, and it may be on the disk all the
    /// same: no record is written until redb records an id at least this
    /// one's as applied, so a replay can never find it.
    failed: Option<u64>,
    /// What the records hold, apart from what a settle took.
    pub pending: Pending,
    /// What a settle in flight took; redb has it once the settle commits.
    pub settling: Option<Arc<Pending>>,
    /// The last record's bytes, kept for the next.
    buf: Vec<u8>,
}

/// What [`Journal::append`] did with a batch.
pub(super) enum Appended {
    /// It is durable in the journal.
    Written,
    /// It does not fit, or a write failed before: commit it to redb.
    Full,
    /// Its record is over [`RECORD_MAX`]: commit it directly.
    Large,
}

impl Journal {
    /// A journal that holds nothing, until [`Journal::open`] replaces it.
    pub fn closed(store: &Path) -> Journal {
        Journal {
            path: journal_path(store),
            file: None,
            allocated: 0,
            tail: 0,
            held: VecDeque::new(),
            held_bytes: 0,
            next_id: 1,
            nonce: 0,
            failed: None,
            pending: Pending::default(),
            settling: None,
            buf: Vec::new(),
        }
    }

    /// The journal of the store at `store`, with records after `applied`
    /// (read from its file, if there is one) to replay.
    pub fn open(store: &Path, nonce: u64, applied: u64) -> io::Result<(Journal, Vec<Record>)> {
        let path = journal_path(store);
        let (file, bytes) = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(file) => {
                let bytes = read_all(&file)?;
                (Some(file), bytes)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (None, Vec::new()),
            Err(e) => return Err(e),
        };
        let records = scan(nonce, applied, &bytes);
        let last = records.last().map_or(applied, |r| r.id);
        let journal = Journal {
            file,
            allocated: bytes.len() as u64,
            next_id: last + 1,
            nonce,
            ..Journal::closed(store)
        };
        Ok((journal, records))
    }

    /// The id of the last record written (what a settle records).
    pub fn last_id(&self) -> u64 {
        self.next_id - 1
    }

    /// Bytes of records redb does not hold yet.
    pub fn used(&self) -> u64 {
        self.held_bytes
    }

    /// Writes `changes` (all [`journaled`]) as the next record and syncs
    /// it. On an error nothing counts as written, and nothing more is
    /// until redb has recorded the failed record's id (see `failed`).
    pub fn append(
        &mut self,
        changes: &[&Change],
        next_seq: u64,
        now: Instant,
    ) -> io::Result<Appended> {
        if self.failed.is_some() {
            return Ok(Appended::Full);
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        encode(self.nonce, self.next_id, next_seq, changes, &mut buf);
        // While a settle is in flight a large batch goes in too: sent to
        // redb, it would wait for the settle, and hold up every batch
        // behind it.
        if buf.len() > RECORD_MAX && self.settling.is_none() {
            self.buf = buf;
            return Ok(Appended::Large);
        }
        let Some(at) = self.place(buf.len() as u64) else {
            self.buf = buf;
            return Ok(Appended::Full);
        };
        let written = self.write(&buf, at);
        self.buf = buf;
        let id = self.next_id;
        self.next_id += 1;
        if let Err(e) = written {
            self.failed = Some(id);
            return Err(e);
        }
        let len = self.buf.len() as u64;
        self.held.push_back((id, at, len));
        self.held_bytes += len;
        self.tail = at + len;
        self.pending.add(changes, next_seq, now);
        Ok(Appended::Written)
    }

    /// Where a record of `len` bytes fits without touching a held one.
    fn place(&self, len: u64) -> Option<u64> {
        let Some(&(_, head, _)) = self.held.front() else {
            return Some(if self.tail + len <= JOURNAL_MAX_BYTES {
                self.tail
            } else {
                0
            });
        };
        if head < self.tail {
            if self.tail + len <= JOURNAL_MAX_BYTES {
                return Some(self.tail);
            }
            return (len <= head).then_some(0);
        }
        // Wrapped: the free room is between the tail and the head.
        (self.tail + len <= head).then_some(self.tail)
    }

    /// Writes one record at `at`, growing the file first if it must.
    fn write(&mut self, record: &[u8], at: u64) -> io::Result<()> {
        let end = at + record.len() as u64;
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(create(&self.path)?),
        };
        let mut allocated = self.allocated;
        if end > allocated {
            let grown = end.next_multiple_of(JOURNAL_GROW).min(JOURNAL_MAX_BYTES);
            let zeros = vec![0; (grown - allocated) as usize];
            file.write_all_at(&zeros, allocated)?;
            allocated = grown;
        }
        file.write_all_at(record, at)?;
        file.sync_data()?;
        self.allocated = allocated;
        Ok(())
    }

    /// redb holds every record up to `upto`, and so what `pending` had
    /// when they were written: their places are free.
    pub fn settled(&mut self, upto: u64) {
        while let Some(&(id, _, len)) = self.held.front() {
            if id > upto {
                break;
            }
            self.held.pop_front();
            self.held_bytes -= len;
        }
        if self.failed.is_some_and(|id| id <= upto) {
            self.failed = None;
        }
    }
}

/// The records after `applied` in the journal of the store at `store`,
/// read without writing anything; none if it has no journal.
pub(super) fn read(store: &Path, nonce: u64, applied: u64) -> io::Result<Vec<Record>> {
    match File::open(journal_path(store)) {
        Ok(file) => Ok(scan(nonce, applied, &read_all(&file)?)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// A journal file's bytes, up to [`JOURNAL_MAX_BYTES`].
fn read_all(file: &File) -> io::Result<Vec<u8>> {
    let len = file.metadata()?.len().min(JOURNAL_MAX_BYTES);
    let mut bytes = vec![0; len as usize];
    file.read_exact_at(&mut bytes, 0)?;
    Ok(bytes)
}

/// `<store>.journal`.
pub fn journal_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// Creates the journal file, owner-only, and makes its name durable.
fn create(path: &Path) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(conv: &str, seq: u64, pdu: &[u8]) -> Change {
        Change::Append {
            conversation: conv.into(),
            seq,
            send_time: 1_700_000_000 + seq,
            pdu: pdu.into(),
        }
    }

    fn charge(user: &str, bytes: u64) -> Change {
        Change::Charge {
            user: user.into(),
            bytes,
        }
    }

    fn record(nonce: u64, id: u64, changes: &[Change]) -> Vec<u8> {
        let refs: Vec<&Change> = changes.iter().collect();
        let mut out = Vec::new();
        encode(nonce, id, id * 10, &refs, &mut out);
        out
    }

    #[test]
    fn a_record_round_trips_and_is_padded() {
        let changes = [append("a@x b@x", 7, b"\x05pdu"), charge("a", 4)];
        let bytes = record(9, 3, &changes);
        assert_eq!(bytes.len() as u64 % RECORD_ALIGN, 0);
        let (rec, len) = decode(9, &bytes).expect("whole");
        assert_eq!(len, bytes.len());
        assert_eq!(rec.id, 3);
        assert_eq!(rec.next_seq, 30);
        assert_eq!(rec.changes, changes);
    }

    #[test]
    fn a_record_over_a_page_takes_whole_pages() {
        let big = vec![7u8; 5000];
        let bytes = record(1, 1, &[append("#c@x", 1, &big)]);
        assert_eq!(bytes.len() as u64, 2 * RECORD_ALIGN);
        assert!(decode(1, &bytes).is_some());
    }

    #[test]
    fn a_torn_or_foreign_record_is_refused_and_never_panics() {
        let bytes = record(5, 1, &[append("#c@x", 1, b"hello"), charge("u", 5)]);
        let whole = HEADER + 1 + 4 + 4 + 8 + 8 + 4 + 5 + 1 + 4 + 1 + 8;
        for cut in 0..whole {
            let mut torn = bytes.clone();
            torn[cut..whole].fill(0xa5);
            assert!(decode(5, &torn).is_none(), "cut at {cut}");
            assert!(decode(5, &bytes[..cut]).is_none(), "short at {cut}");
        }
        for at in 0..whole {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert!(decode(5, &flipped).is_none(), "flip at {at}");
        }
        assert!(decode(6, &bytes).is_none(), "another store's nonce");
    }

    #[test]
    fn scan_takes_consecutive_records_after_the_applied_one() {
        let mut file = Vec::new();
        for id in 4..=8 {
            file.extend(record(1, id, &[append("#c@x", id, b"m")]));
        }
        let ids = |v: Vec<Record>| v.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(scan(1, 3, &file)), [4, 5, 6, 7, 8]);
        assert_eq!(ids(scan(1, 6, &file)), [7, 8]);
        assert_eq!(ids(scan(1, 8, &file)), Vec::<u64>::new());
        // A gap before the first record redb lacks: nothing is replayed
        // out of order.
        assert_eq!(ids(scan(1, 1, &file)), Vec::<u64>::new());
        assert_eq!(ids(scan(2, 3, &file)), Vec::<u64>::new());
    }

    #[test]
    fn scan_stops_at_a_stale_record_after_a_settle() {
        // Records 1..=4, then a settle at 4 and records 5, 6 written over
        // the start: 3 and 4 are still in the file after them.
        let mut file = Vec::new();
        for id in 1..=4 {
            file.extend(record(1, id, &[append("#c@x", id, b"m")]));
        }
        let new: Vec<u8> = (5..=6)
            .flat_map(|id| record(1, id, &[append("#c@x", id, b"m")]))
            .collect();
        file[..new.len()].copy_from_slice(&new);
        let found = scan(1, 4, &file);
        assert_eq!(found.iter().map(|r| r.id).collect::<Vec<_>>(), [5, 6]);
    }

    #[test]
    fn a_full_journal_says_so_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.redb");
        let (mut j, replay) = Journal::open(&store, 3, 0).unwrap();
        assert!(replay.is_empty());
        let now = Instant::now();
        // Two pages each.
        let change = append("#c@x", 1, &[1u8; 5000]);
        let fit = JOURNAL_MAX_BYTES / RECORD_MAX as u64;
        for n in 0..fit {
            let written = j.append(&[&change], 2, now).unwrap();
            assert!(matches!(written, Appended::Written), "record {n}");
        }
        assert!(matches!(
            j.append(&[&change], 2, now).unwrap(),
            Appended::Full
        ));
        assert_eq!(j.last_id(), fit);
        let len = std::fs::metadata(journal_path(&store)).unwrap().len();
        assert_eq!(len, JOURNAL_MAX_BYTES);
        drop(j);
        let (_, replay) = Journal::open(&store, 3, 0).unwrap();
        assert_eq!(replay.len() as u64, fit);
        let (_, replay) = Journal::open(&store, 3, fit - 1).unwrap();
        assert_eq!(replay.len(), 1);
    }

    #[test]
    fn records_written_after_a_settle_replace_the_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.redb");
        let (mut j, _) = Journal::open(&store, 3, 0).unwrap();
        let now = Instant::now();
        for seq in 0..5 {
            let c = append("#c@x", seq, b"old");
            j.append(&[&c], seq + 1, now).unwrap();
        }
        j.settled(j.last_id());
        j.pending = Pending::default();
        let c = append("#c@x", 5, b"new");
        j.append(&[&c], 6, now).unwrap();
        assert_eq!(j.pending.messages["#c@x"].len(), 1);
        drop(j);
        let (j, replay) = Journal::open(&store, 3, 5).unwrap();
        assert_eq!(replay.len(), 1);
        assert_eq!(replay[0].id, 6);
        assert_eq!(replay[0].changes, [c]);
        assert_eq!(j.last_id(), 6);
    }

    #[test]
    fn the_ring_wraps_over_settled_records_and_replays_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.redb");
        let (mut j, _) = Journal::open(&store, 3, 0).unwrap();
        let now = Instant::now();
        let change = append("#c@x", 1, &[1u8; 5000]);
        let ring = JOURNAL_MAX_BYTES / RECORD_MAX as u64;
        let mut upto = 0;
        for n in 0..ring * 3 / 2 {
            let written = j.append(&[&change], n, now).unwrap();
            assert!(matches!(written, Appended::Written), "record {n}");
            // redb holds all but the last hundred.
            if j.held.len() > 100 {
                upto = j.last_id() - 100;
                j.settled(upto);
            }
        }
        let last = j.last_id();
        let len = std::fs::metadata(journal_path(&store)).unwrap().len();
        assert_eq!(len, JOURNAL_MAX_BYTES);
        drop(j);
        let (j, replay) = Journal::open(&store, 3, upto).unwrap();
        let ids: Vec<u64> = replay.iter().map(|r| r.id).collect();
        assert_eq!(ids, (upto + 1..=last).collect::<Vec<_>>());
        assert_eq!(j.last_id(), last);
    }

    #[test]
    fn after_a_failed_write_nothing_is_written_until_redb_records_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.redb");
        let (mut j, _) = Journal::open(&store, 3, 0).unwrap();
        let now = Instant::now();
        let change = append("#c@x", 1, b"m");
        j.append(&[&change], 1, now).unwrap();
        // The file cannot be written: a directory stands in its place.
        j.file = None;
        std::fs::remove_file(journal_path(&store)).unwrap();
        std::fs::create_dir(journal_path(&store)).unwrap();
        assert!(j.append(&[&change], 2, now).is_err());
        std::fs::remove_dir(journal_path(&store)).unwrap();
        assert!(matches!(
            j.append(&[&change], 2, now).unwrap(),
            Appended::Full
        ));
        assert_eq!(j.last_id(), 2, "the failed record's id is used up");
        j.settled(1);
        assert!(matches!(
            j.append(&[&change], 2, now).unwrap(),
            Appended::Full
        ));
        j.settled(2);
        assert!(matches!(
            j.append(&[&change], 3, now).unwrap(),
            Appended::Written
        ));
        assert_eq!(j.last_id(), 3);
    }

    #[test]
    fn a_large_batch_is_left_to_redb() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.redb");
        let (mut j, _) = Journal::open(&store, 3, 0).unwrap();
        let change = append("#c@x", 1, &vec![1u8; RECORD_MAX]);
        let now = Instant::now();
        assert!(matches!(
            j.append(&[&change], 2, now).unwrap(),
            Appended::Large
        ));
        assert_eq!(j.last_id(), 0);
        assert!(j.pending.is_empty());
        assert!(!journal_path(&store).exists());
        // While a settle is in flight, it goes in too.
        let small = append("#c@x", 1, b"m");
        assert!(matches!(
            j.append(&[&small], 2, now).unwrap(),
            Appended::Written
        ));
        assert!(matches!(
            j.append(&[&change], 3, now).unwrap(),
            Appended::Large
        ));
        j.settling = Some(Arc::new(std::mem::take(&mut j.pending)));
        assert!(matches!(
            j.append(&[&change], 3, now).unwrap(),
            Appended::Written
        ));
        assert_eq!(j.last_id(), 2);
    }
}
