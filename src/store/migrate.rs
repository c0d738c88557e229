//! Schema versions and the migration between them.
//!
//! Version 1 (releases before the schema had a version) keyed users,
//! contacts and modes by local names, channels by their name without `#`,
//! and direct conversations by the two local names. Version 2 writes full
//! addresses and adds the indexes of [`super::schema`]. Version 3 adds a
//! checksum to every message; version 4 keeps the outbox in runs. A
//! migration runs in the caller's one write transaction: it commits whole
//! or not at all. An older store goes through every version after its own
//! on its way, in that same transaction.

use super::record::checksum;
use super::runs::{self, Relay};
use super::schema::*;
use super::{direct_key, StoreError};
use crate::proto::{Deframer, Pdu};
use redb::{ReadableTable, TableDefinition, TableHandle as _, WriteTransaction};

/// Opens every table of the current schema and records its version and
/// the server name where they are missing.
pub fn create_tables(txn: &WriteTransaction, name: &str) -> Result<(), StoreError> {
    txn.open_table(USERS)?;
    txn.open_table(CONTACTS)?;
    txn.open_table(CONTACT_OF)?;
    txn.open_table(MODES)?;
    txn.open_table(MEMBERSHIPS)?;
    txn.open_table(CHANNELS)?;
    txn.open_table(MESSAGES)?;
    txn.open_table(RISES)?;
    txn.open_table(CONVERSATIONS)?;
    txn.open_table(PEERS)?;
    txn.open_table(OUTBOX_RUNS)?;
    txn.open_table(RELAY_OUT)?;
    txn.open_table(RELAY_IN)?;
    txn.open_table(USAGE)?;
    txn.open_table(TOKENS)?;
    let mut meta = txn.open_table(META)?;
    if meta.get(SCHEMA_VERSION)?.is_none() {
        meta.insert(SCHEMA_VERSION, VERSION)?;
    }
    let mut settings = txn.open_table(SETTINGS)?;
    if settings.get(SERVER_NAME)?.is_none() {
        settings.insert(SERVER_NAME, name)?;
    }
    Ok(())
}

/// Computes [`USAGE`] from the stored messages if the store lacks it (it
/// was written before the table existed): each local user's count is the
/// bytes of the stored Messages whose `source_address` is theirs. Runs
/// before [`create_tables`], in the same transaction.
pub fn add_usage(txn: &WriteTransaction, name: &str) -> Result<(), StoreError> {
    if txn.list_tables()?.any(|t| t.name() == USAGE.name()) {
        return Ok(());
    }
    let mut sums: std::collections::HashMap<String, u64> = Default::default();
    let users = txn.open_table(USERS)?;
    let deframer = Deframer::with_max_payload(crate::proto::MAX_PAYLOAD);
    for row in txn.open_table(MESSAGES)?.iter()? {
        let (_, v) = row?;
        let pdu = v.value().2;
        let Ok(Some((Pdu::Message(m), _))) = deframer.decode(pdu) else {
            continue;
        };
        let Some((local, server)) = m.source_address.split_once('@') else {
            continue;
        };
        if server != name {
            continue;
        }
        match sums.get_mut(local) {
            Some(sum) => *sum += pdu.len() as u64,
            None if users.get(local)?.is_some() => {
                sums.insert(local.to_owned(), pdu.len() as u64);
            }
            None => {}
        }
    }
    let mut usage = txn.open_table(USAGE)?;
    for (user, bytes) in &sums {
        usage.insert(user.as_str(), *bytes)?;
    }
    if !sums.is_empty() {
        log::info!("store: counted the stored bytes of {} users", sums.len());
    }
    Ok(())
}

/// Version 1's messages: (conversation key, receive sequence) → PDU.
const V1_MESSAGES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("messages");

/// Version 2's messages: (conversation key, receive sequence) →
/// (`send_time`, PDU), without a checksum.
type V2Message<'a> = (u64, &'a [u8]);

/// See [`V2Message`].
pub(super) const V2_MESSAGES: TableDefinition<MessageKey, V2Message> =
    TableDefinition::new("conversation_messages");

/// Brings a store without a version (version 1, or new and empty) to the
/// current schema, writing addresses for server `name`.
pub fn to_current(txn: &WriteTransaction, name: &str) -> Result<(), StoreError> {
    v1_to_v2(txn, name)?;
    v2_to_v3(txn)?;
    v3_to_v4(txn)
}

/// Version 3's outbox: (peer, relay number) → (deadline, PDU), a row per
/// relay.
pub(super) const V3_OUTBOX: TableDefinition<(&str, u64), (u64, &[u8])> =
    TableDefinition::new("outbox");

/// Version 3 to 4: the outbox's rows become runs (see
/// [`super::runs`]), consecutive relays of a peer together.
pub fn v3_to_v4(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut moved = 0usize;
    if txn.list_tables()?.any(|t| t.name() == V3_OUTBOX.name()) {
        let old = txn.open_table(V3_OUTBOX)?;
        // Rows come in key order: each peer's relays in rising order. A
        // run is written per at most `RUN_MAX_RELAYS` rows, so memory
        // stays bounded whatever the outbox holds.
        let mut pending: Vec<(String, u64, u64, Vec<u8>)> = Vec::new();
        let flush = |pending: &mut Vec<(String, u64, u64, Vec<u8>)>| {
            if let Some((peer, ..)) = pending.first() {
                let peer = peer.clone();
                let relays = pending.iter().map(|(_, number, deadline, pdu)| Relay {
                    number: *number,
                    deadline: *deadline,
                    pdu,
                });
                runs::insert(txn, &peer, relays)?;
            }
            pending.clear();
            Ok::<_, StoreError>(())
        };
        for row in old.iter()? {
            let (k, v) = row?;
            let (peer, number) = k.value();
            let (deadline, pdu) = v.value();
            let other = pending.first().is_some_and(|(p, ..)| p != peer);
            if other || pending.len() >= runs::RUN_MAX_RELAYS {
                flush(&mut pending)?;
            }
            pending.push((peer.to_owned(), number, deadline, pdu.to_vec()));
            moved += 1;
        }
        flush(&mut pending)?;
        drop(old);
        txn.delete_table(V3_OUTBOX)?;
    }
    txn.open_table(META)?.insert(SCHEMA_VERSION, VERSION)?;
    if moved > 0 {
        log::info!("store migrated to schema {VERSION}: {moved} queued relays kept");
    }
    Ok(())
}

/// Version 4 to 5: nothing moves; the journal's keys (see
/// [`super::journal`]) are added as the store is opened.
pub fn v4_to_v5(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(META)?.insert(SCHEMA_VERSION, VERSION)?;
    Ok(())
}

/// Version 2 to 3: every message gains its checksum. Rows are moved one
/// at a time from the old table to the new, so memory does not grow with
/// the store (beyond what redb keeps of the transaction's dirty pages).
pub fn v2_to_v3(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut moved = 0u64;
    {
        let old = txn.open_table(V2_MESSAGES)?;
        let mut new = txn.open_table(MESSAGES)?;
        for row in old.iter()? {
            let (k, v) = row?;
            let (conv, seq) = k.value();
            let (time, pdu) = v.value();
            new.insert((conv, seq), (time, checksum(conv, seq, time, pdu), pdu))?;
            moved += 1;
        }
    }
    txn.delete_table(V2_MESSAGES)?;
    txn.open_table(META)?.insert(SCHEMA_VERSION, 3)?;
    if moved > 0 {
        log::info!("store migrated to schema 3: {moved} messages checksummed");
    }
    Ok(())
}

/// Version 1 to 2: full addresses, and the indexes.
fn v1_to_v2(txn: &WriteTransaction, name: &str) -> Result<(), StoreError> {
    let contacts: Vec<(String, String)> = pairs(txn, CONTACTS, |()| 0)?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let modes = pairs(txn, MODES, |m| m)?;
    let mut channels = Vec::new();
    for row in txn.open_table(CHANNELS)?.extract_if(|_, _| true)? {
        let (k, v) = row?;
        channels.push((k.value().to_owned(), v.value()));
    }
    let mut messages = Vec::new();
    for row in txn.open_table(V1_MESSAGES)?.iter()? {
        let (k, v) = row?;
        let (conv, seq) = k.value();
        messages.push(((conv.to_owned(), seq), v.value().to_vec()));
    }
    txn.delete_table(V1_MESSAGES)?;
    let user = |local: &str| format!("{local}@{name}");
    let channel = |bare: &str| format!("#{bare}@{name}");
    {
        let mut t = txn.open_table(CONTACTS)?;
        let mut rev = txn.open_table(CONTACT_OF)?;
        for (owner, contact) in &contacts {
            let contact = user(contact);
            t.insert((owner.as_str(), contact.as_str()), ())?;
            rev.insert((contact.as_str(), owner.as_str()), ())?;
        }
    }
    {
        let mut t = txn.open_table(MODES)?;
        let mut rev = txn.open_table(MEMBERSHIPS)?;
        for ((ch, u), mode) in &modes {
            let (ch, u) = (channel(ch), user(u));
            t.insert((ch.as_str(), u.as_str()), *mode)?;
            rev.insert((u.as_str(), ch.as_str()), ())?;
        }
    }
    {
        let mut t = txn.open_table(CHANNELS)?;
        for (ch, seq) in &channels {
            t.insert(channel(ch).as_str(), *seq)?;
        }
    }
    let mut t = txn.open_table(V2_MESSAGES)?;
    let mut rises = txn.open_table(RISES)?;
    let mut conversations = txn.open_table(CONVERSATIONS)?;
    // Rows come in key order: each conversation in receive order.
    let mut highest: Option<(String, u64)> = None;
    for ((old, seq), pdu) in &messages {
        let conv = match old.strip_prefix('#') {
            Some(bare) => channel(bare),
            None => {
                let (a, b) = old.split_once(' ').unwrap_or((old, old));
                let key = direct_key(&user(a), &user(b));
                for side in [user(a), user(b)] {
                    conversations.insert((side.as_str(), key.as_str()), ())?;
                }
                key
            }
        };
        let time = send_time(pdu);
        t.insert((conv.as_bytes(), *seq), (time, pdu.as_slice()))?;
        let raised = match &highest {
            Some((c, high)) if *c == conv => time > *high,
            _ => true,
        };
        if raised {
            rises.insert((conv.as_bytes(), time), *seq)?;
            highest = Some((conv, time));
        }
    }
    if !contacts.is_empty() || !messages.is_empty() || !channels.is_empty() {
        log::info!(
            "store migrated to schema 2: {} contacts, {} channels, {} messages",
            contacts.len(),
            channels.len(),
            messages.len()
        );
    }
    Ok(())
}

/// The `send_time` of a stored Message PDU; 0 if it does not decode, so
/// such a row still shows in a History from the start.
pub fn send_time(pdu: &[u8]) -> u64 {
    match Deframer::default().decode(pdu) {
        Ok(Some((Pdu::Message(m), _))) => m.send_time,
        _ => 0,
    }
}

/// A row of a table keyed by two strings, with a one-byte value.
type Pair = ((String, String), u8);

/// Takes every row out of a table of two strings, as owned values.
fn pairs<V: redb::Value + 'static>(
    txn: &WriteTransaction,
    def: TableDefinition<(&str, &str), V>,
    value: impl Fn(V::SelfType<'_>) -> u8,
) -> Result<Vec<Pair>, StoreError> {
    let mut rows = Vec::new();
    let mut table = txn.open_table(def)?;
    for row in table.extract_if(|_, _| true)? {
        let (k, v) = row?;
        let (a, b) = k.value();
        rows.push(((a.to_owned(), b.to_owned()), value(v.value())));
    }
    Ok(rows)
}
