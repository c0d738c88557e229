//! `solec store check`: verifies a store that no server holds, offline.
//!
//! The file is opened through [`ReadOnly`] and never written. The check
//! runs redb's own page checksums, then walks every table: each message
//! against its checksum and as a Message PDU; the History index ([`RISES`])
//! against one rebuilt from the messages; each reverse index against the
//! table it turns around; and the counter against the highest sequence.

use super::readonly::ReadOnly;
use super::record::{checksum, Damaged};
use super::schema::*;
use super::{guard, StoreError};
use crate::proto::{Deframer, Pdu};
use redb::{Database, ReadTransaction, ReadableTable, ReadableTableMetadata, TableHandle as _};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Problems listed one by one; past this only their number is kept, so a
/// badly damaged file does not grow the checker's memory or its output.
pub const MAX_LISTED: usize = 100;

/// redb's page cache while checking.
const CACHE: usize = 16 << 20;

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    pub path: PathBuf,
    pub schema: Option<u64>,
    pub server_name: Option<String>,
    /// (what, how many), in the order they were counted.
    pub counts: Vec<(&'static str, u64)>,
    /// The first [`MAX_LISTED`] problems.
    pub problems: Vec<String>,
    /// Every problem, listed or not.
    pub problem_count: u64,
    /// Facts that are not damage (the file was not closed cleanly).
    pub notes: Vec<String>,
}

impl Report {
    /// Whether nothing is damaged.
    pub fn clean(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, what: impl fmt::Display) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(what.to_string());
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let schema = self.schema.map_or("none".into(), |v| v.to_string());
        let name = self.server_name.as_deref().unwrap_or("(none)");
        writeln!(f, "{}: schema {schema}, server {name}", self.path.display())?;
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(w, n)| format!("{n} {w}"))
            .collect();
        if !counts.is_empty() {
            writeln!(f, "{}", counts.join(", "))?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        for p in &self.problems {
            writeln!(f, "damaged: {p}")?;
        }
        let unlisted = self.problem_count - self.problems.len() as u64;
        if unlisted > 0 {
            writeln!(f, "damaged: … and {unlisted} more")?;
        }
        match self.problem_count {
            0 => write!(f, "clean"),
            n => write!(f, "{n} problem(s) found"),
        }
    }
}

/// Checks the store at `path`. An error means the check could not run
/// (no such file, a server holds it); damage is in the [`Report`].
pub fn check(path: &Path) -> Result<Report, StoreError> {
    let ro = ReadOnly::open(path)?;
    let mut report = Report {
        path: path.to_owned(),
        ..Report::default()
    };
    let recovered = Arc::new(AtomicBool::new(false));
    let flag = recovered.clone();
    let opened = guard::guarded(path, || {
        let db = redb::Builder::new()
            .set_cache_size(CACHE)
            .set_repair_callback(move |_| flag.store(true, Ordering::Relaxed))
            .create_with_backend(ro)?;
        Ok(db)
    });
    if recovered.load(Ordering::Relaxed) {
        report.notes.push(
            "the file was not closed cleanly; redb recovers it at the next start \
             (here in memory only)"
                .into(),
        );
    }
    let mut db = match opened {
        Ok(db) => db,
        Err(e) => {
            report.problem(format!("redb cannot read the file: {}", detail(e)));
            return Ok(report);
        }
    };
    // The rows first, read as the server reads them, so damage is named
    // by the row it is in; then redb's checksums of every page.
    let walked = guard::guarded(path, || walk(&db, &mut report));
    if let Err(e) = walked {
        report.problem(format!("reading stopped: {}", detail(e)));
    }
    match guard::guarded(path, || Ok(db.check_integrity()?)) {
        Ok(true) => {}
        Ok(false) => {
            report.problem("pages fail redb's checksums; redb would roll back to an earlier commit")
        }
        Err(e) => report.problem(format!("pages fail redb's checksums: {}", detail(e))),
    }
    Ok(report)
}

/// An error's own words, without the advice to run this check.
fn detail(e: StoreError) -> String {
    match e {
        StoreError::Damaged { detail, .. } => detail,
        e => e.to_string(),
    }
}

fn walk(db: &Database, report: &mut Report) -> Result<(), StoreError> {
    let txn = db.begin_read()?;
    meta(&txn, report)?;
    if report.schema != Some(VERSION) {
        let found = report.schema.map_or("none".into(), |v| v.to_string());
        report.problem(format!(
            "schema version {found}, not {VERSION}: this build checks only its own \
             (`solec serve` migrates an older store as it starts)"
        ));
        return Ok(());
    }
    users(&txn, report)?;
    pairs(&txn, report, "contacts", CONTACTS, CONTACT_OF)?;
    modes(&txn, report)?;
    let seen = messages(&txn, report)?;
    conversations(&txn, report, &seen)?;
    peers(&txn, report)?;
    outboxes(&txn, report)?;
    tokens(&txn, report)?;
    unknown_tables(&txn, report)?;
    Ok(())
}

fn meta(txn: &ReadTransaction, report: &mut Report) -> Result<(), StoreError> {
    let names: Vec<String> = txn.list_tables()?.map(|h| h.name().to_owned()).collect();
    if names.iter().any(|n| n == META.name()) {
        report.schema = txn
            .open_table(META)?
            .get(SCHEMA_VERSION)?
            .map(|v| v.value());
    }
    if names.iter().any(|n| n == SETTINGS.name()) {
        let settings = txn.open_table(SETTINGS)?;
        report.server_name = settings.get(SERVER_NAME)?.map(|v| v.value().to_owned());
    }
    Ok(())
}

fn users(txn: &ReadTransaction, report: &mut Report) -> Result<(), StoreError> {
    let users = txn.open_table(USERS)?;
    for row in users.iter()? {
        let (k, v) = row?;
        let name = k.value();
        if !crate::proto::address::is_user_name(name) {
            report.problem(format!("user name {name:?} is not a valid name"));
        }
        if argon2::PasswordHash::new(v.value()).is_err() {
            report.problem(format!("user {name:?}: the password hash does not parse"));
        }
    }
    report.counts.push(("users", users.len()?));
    Ok(())
}

/// A table of two strings and its reverse must hold the same pairs.
fn pairs(
    txn: &ReadTransaction,
    report: &mut Report,
    what: &'static str,
    forward: redb::TableDefinition<(&str, &str), ()>,
    reverse: redb::TableDefinition<(&str, &str), ()>,
) -> Result<(), StoreError> {
    let fwd = txn.open_table(forward)?;
    let rev = txn.open_table(reverse)?;
    for row in fwd.iter()? {
        let k = row?.0;
        let (a, b) = k.value();
        if rev.get((b, a))?.is_none() {
            report.problem(format!(
                "{} has ({a}, {b}) but {} lacks it",
                forward.name(),
                reverse.name()
            ));
        }
    }
    for row in rev.iter()? {
        let k = row?.0;
        let (b, a) = k.value();
        if fwd.get((a, b))?.is_none() {
            report.problem(format!(
                "{} has ({b}, {a}) but {} lacks it",
                reverse.name(),
                forward.name()
            ));
        }
    }
    report.counts.push((what, fwd.len()?));
    Ok(())
}

fn modes(txn: &ReadTransaction, report: &mut Report) -> Result<(), StoreError> {
    let modes = txn.open_table(MODES)?;
    let memberships = txn.open_table(MEMBERSHIPS)?;
    let channels = txn.open_table(CHANNELS)?;
    for row in modes.iter()? {
        let (k, v) = row?;
        let (channel, user) = k.value();
        if !(1..=3).contains(&v.value()) {
            report.problem(format!("mode of {user} in {channel} is {}", v.value()));
        }
        if memberships.get((user, channel))?.is_none() {
            report.problem(format!(
                "modes has ({channel}, {user}) but memberships lacks it"
            ));
        }
        if channels.get(channel)?.is_none() {
            report.problem(format!(
                "modes names channel {channel}, which channels lacks"
            ));
        }
    }
    for row in memberships.iter()? {
        let k = row?.0;
        let (user, channel) = k.value();
        if modes.get((channel, user))?.is_none() {
            report.problem(format!(
                "memberships has ({user}, {channel}) but modes lacks it"
            ));
        }
    }
    report.counts.push(("channels", channels.len()?));
    report.counts.push(("memberships", modes.len()?));
    Ok(())
}

/// Checks every message and the History index; returns the direct
/// conversations seen.
fn messages(txn: &ReadTransaction, report: &mut Report) -> Result<HashSet<Vec<u8>>, StoreError> {
    let messages = txn.open_table(MESSAGES)?;
    let rises = txn.open_table(RISES)?;
    let next_seq = txn
        .open_table(META)?
        .get(NEXT_SEQ)?
        .map_or(0, |v| v.value());
    let mut conversations: HashSet<Vec<u8>> = HashSet::new();
    // The conversation being read, and its rises rebuilt.
    let mut current: Option<(Vec<u8>, Rises)> = None;
    let mut count = 0;
    let mut highest_seq = None;
    for row in messages.iter()? {
        let (k, v) = row?;
        let (conv, seq) = k.value();
        let (time, sum, pdu) = v.value();
        count += 1;
        highest_seq = highest_seq.max(Some(seq));
        if current.as_ref().is_none_or(|(c, _)| c != conv) {
            if let Some((c, rebuilt)) = current.take() {
                compare_rises(&rises, report, &c, &rebuilt)?;
            }
            conversations.insert(conv.to_vec());
            current = Some((conv.to_vec(), Vec::new()));
        }
        let Some((_, rebuilt)) = current.as_mut() else {
            unreachable!()
        };
        if rebuilt.last().is_none_or(|&(high, _)| time > high) {
            rebuilt.push((time, seq));
        }
        let name = String::from_utf8_lossy(conv).into_owned();
        if checksum(conv, seq, time, pdu) != sum {
            report.problem(Damaged {
                conversation: name,
                seq,
            });
            continue;
        }
        match Deframer::default().decode(pdu) {
            Ok(Some((Pdu::Message(m), used))) if used == pdu.len() && m.send_time == time => {}
            _ => report.problem(format!(
                "message {seq} of conversation {name:?} is not the Message PDU it should be"
            )),
        }
    }
    if let Some((c, rebuilt)) = current.take() {
        compare_rises(&rises, report, &c, &rebuilt)?;
    }
    for row in rises.iter()? {
        let k = row?.0;
        let (conv, t) = k.value();
        if !conversations.contains(conv) {
            let name = String::from_utf8_lossy(conv);
            report.problem(format!(
                "rises has ({name:?}, {t}) for a conversation without messages"
            ));
        }
    }
    if let Some(high) = highest_seq.filter(|&h| h >= next_seq) {
        report.problem(format!(
            "the message counter is {next_seq}, but message {high} exists: new messages would replace old ones"
        ));
    }
    report.counts.push(("messages", count));
    report
        .counts
        .push(("conversations", conversations.len() as u64));
    conversations.retain(|c| !c.starts_with(b"#"));
    Ok(conversations)
}

/// A conversation's rows of [`RISES`], as (t, seq).
type Rises = Vec<(u64, u64)>;

/// The stored rises of `conv` must be those rebuilt from its messages.
fn compare_rises(
    rises: &redb::ReadOnlyTable<(&'static [u8], u64), u64>,
    report: &mut Report,
    conv: &[u8],
    rebuilt: &[(u64, u64)],
) -> Result<(), StoreError> {
    let mut stored = Vec::new();
    for row in rises.range((conv, 0)..=(conv, u64::MAX))? {
        let (k, v) = row?;
        stored.push((k.value().1, v.value()));
        if stored.len() > rebuilt.len() {
            break;
        }
    }
    if stored != rebuilt {
        let name = String::from_utf8_lossy(conv);
        report.problem(format!(
            "the History index of conversation {name:?} does not match its messages \
             (History would skip or repeat some)"
        ));
    }
    Ok(())
}

/// Each direct conversation is indexed under both its sides, and only
/// conversations with messages are.
fn conversations(
    txn: &ReadTransaction,
    report: &mut Report,
    seen: &HashSet<Vec<u8>>,
) -> Result<(), StoreError> {
    let table = txn.open_table(CONVERSATIONS)?;
    for conv in seen {
        let name = String::from_utf8_lossy(conv);
        for side in name.split(' ') {
            if table.get((side, &*name))?.is_none() {
                report.problem(format!("conversations lacks ({side}, {name:?})"));
            }
        }
    }
    for row in table.iter()? {
        let k = row?.0;
        let (side, conv) = k.value();
        let has_side = conv.split(' ').any(|s| s == side);
        if !has_side || !seen.contains(conv.as_bytes()) {
            report.problem(format!(
                "conversations has ({side}, {conv:?}), which no messages match"
            ));
        }
    }
    Ok(())
}

fn peers(txn: &ReadTransaction, report: &mut Report) -> Result<(), StoreError> {
    let peers = txn.open_table(PEERS)?;
    for row in peers.iter()? {
        let (k, v) = row?;
        if v.value().1.len() != 32 {
            report.problem(format!("peer {}: the key is not 32 bytes", k.value()));
        }
    }
    report.counts.push(("peers", peers.len()?));
    Ok(())
}

/// Every outbox run parses, and each of its relays is a Message or a
/// UserMode, numbered below its peer's next relay number.
fn outboxes(txn: &ReadTransaction, report: &mut Report) -> Result<(), StoreError> {
    let outbox = txn.open_table(OUTBOX_RUNS)?;
    let relay_out = txn.open_table(RELAY_OUT)?;
    let deframer = crate::proto::Deframer::with_max_payload(crate::proto::MAX_PAYLOAD);
    let mut queued = 0;
    for row in outbox.iter()? {
        let (k, v) = row?;
        let (peer, first) = k.value();
        let relays = match super::runs::parse(peer, first, v.value()) {
            Ok(relays) => relays,
            Err(e) => {
                report.problem(e.to_string());
                continue;
            }
        };
        let next = relay_out.get(peer)?.map_or(0, |v| v.value());
        for relay in relays {
            let (number, pdu) = (relay.number, relay.pdu);
            queued += 1;
            match deframer.decode(pdu) {
                Ok(Some((crate::proto::Pdu::Message(_) | crate::proto::Pdu::UserMode(_), n)))
                    if n == pdu.len() => {}
                _ => report.problem(format!(
                    "outbox of {peer}: relay {number} is not a Message or UserMode"
                )),
            }
            if number >= next {
                report.problem(format!(
                    "outbox of {peer}: relay {number} is not below the next number {next}"
                ));
            }
        }
    }
    report.counts.push(("relays queued", queued));
    Ok(())
}

/// Every token row names a user and holds a 32-byte hash; a store written
/// before tokens existed has no table, which is no damage.
fn tokens(txn: &ReadTransaction, report: &mut Report) -> Result<(), StoreError> {
    let tokens = match txn.open_table(TOKENS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let users = txn.open_table(USERS)?;
    for row in tokens.iter()? {
        let (k, _) = row?;
        let (user, hash) = k.value();
        if hash.len() != TOKEN_HASH_LEN {
            report.problem(format!("a token of {user:?}: the hash is not 32 bytes"));
        }
        if users.get(user)?.is_none() {
            report.problem(format!("a token of {user:?}, who is not a user"));
        }
    }
    report.counts.push(("session tokens", tokens.len()?));
    Ok(())
}

/// A table no release of this build writes is noted, not judged.
fn unknown_tables(txn: &ReadTransaction, report: &mut Report) -> Result<(), StoreError> {
    let known = [
        USERS.name(),
        CONTACTS.name(),
        CONTACT_OF.name(),
        MODES.name(),
        MEMBERSHIPS.name(),
        CHANNELS.name(),
        MESSAGES.name(),
        RISES.name(),
        CONVERSATIONS.name(),
        PEERS.name(),
        OUTBOX_RUNS.name(),
        RELAY_OUT.name(),
        RELAY_IN.name(),
        USAGE.name(),
        TOKENS.name(),
        META.name(),
        SETTINGS.name(),
    ];
    for handle in txn.list_tables()? {
        if !known.contains(&handle.name()) {
            report.notes.push(format!(
                "table {} is not checked by this build",
                handle.name()
            ));
        }
    }
    Ok(())
}
