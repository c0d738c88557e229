//! The outbox as runs: one row of [`OUTBOX_RUNS`] holds consecutive relays
//! of one peer, so a batch that queues many relays for a peer inserts one
//! row, and an acknowledgement removes one row per run it covers.
//!
//! Before version 4 the outbox held a row per relay; inserting it and
//! removing it once acknowledged were a third of the sending server's
//! work under load.

use super::schema::OUTBOX_RUNS;
use super::{Outgoing, StoreError};
use redb::{ReadableTable, WriteTransaction};

/// Most relays in one run.
pub const RUN_MAX_RELAYS: usize = 256;

/// A run is closed once its PDUs reach this many bytes: a partial
/// acknowledgement rewrites the rest of a run, so runs stay small.
pub const RUN_MAX_BYTES: usize = 16 * 1024;

/// Bytes before each relay's PDU: number, deadline, PDU length.
const HEAD: usize = 8 + 8 + 4;

/// One relay of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relay<'a> {
    pub number: u64,
    pub deadline: u64,
    pub pdu: &'a [u8],
}

impl Relay<'_> {
    fn owned(&self) -> Outgoing {
        Outgoing {
            number: self.number,
            deadline: self.deadline,
            pdu: self.pdu.to_vec(),
        }
    }
}

/// Appends `relay` to the run being built in `out`.
pub fn push(out: &mut Vec<u8>, relay: Relay<'_>) {
    out.reserve(HEAD + relay.pdu.len());
    out.extend_from_slice(&relay.number.to_le_bytes());
    out.extend_from_slice(&relay.deadline.to_le_bytes());
    out.extend_from_slice(&(relay.pdu.len() as u32).to_le_bytes());
    out.extend_from_slice(relay.pdu);
}

/// The relays of a stored run, in order; a run that does not parse, or
/// whose numbers do not rise, is an error naming `peer` and the run.
pub fn parse<'a>(
    peer: &str,
    first: u64,
    mut bytes: &'a [u8],
) -> Result<Vec<Relay<'a>>, StoreError> {
    let damaged = || StoreError::Corrupt(format!("outbox of {peer}: the run at relay {first}"));
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let head = bytes.get(..HEAD).ok_or_else(damaged)?;
        let number = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        let deadline = u64::from_le_bytes(head[8..16].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(head[16..].try_into().expect("4 bytes")) as usize;
        let pdu = bytes.get(HEAD..HEAD + len).ok_or_else(damaged)?;
        let rises = match out.last() {
            None => number == first,
            Some(Relay { number: last, .. }) => number > *last,
        };
        if !rises {
            return Err(damaged());
        }
        out.push(Relay {
            number,
            deadline,
            pdu,
        });
        bytes = &bytes[HEAD + len..];
    }
    if out.is_empty() {
        return Err(damaged());
    }
    Ok(out)
}

/// Stores `relays` of `peer` (numbers rising, above every number the
/// outbox holds for it) as runs of at most [`RUN_MAX_RELAYS`] and about
/// [`RUN_MAX_BYTES`].
pub fn insert<'a>(
    txn: &WriteTransaction,
    peer: &str,
    relays: impl IntoIterator<Item = Relay<'a>>,
) -> Result<(), StoreError> {
    let mut table = txn.open_table(OUTBOX_RUNS)?;
    let mut run = Vec::new();
    let (mut first, mut count) = (0, 0);
    for relay in relays {
        if count == 0 {
            first = relay.number;
        }
        push(&mut run, relay);
        count += 1;
        if count >= RUN_MAX_RELAYS || run.len() >= RUN_MAX_BYTES {
            table.insert((peer, first), &run[..])?;
            run.clear();
            count = 0;
        }
    }
    if count > 0 {
        table.insert((peer, first), &run[..])?;
    }
    Ok(())
}

/// Takes `peer`'s relays numbered up to `upto` out of the outbox: whole
/// runs are removed, and a run that goes on past `upto` is stored again
/// from its first relay after it.
pub fn remove_upto(txn: &WriteTransaction, peer: &str, upto: u64) -> Result<(), StoreError> {
    let mut table = txn.open_table(OUTBOX_RUNS)?;
    let mut gone = Vec::new();
    let mut rest: Option<(u64, Vec<u8>)> = None;
    for row in table.range((peer, 0)..=(peer, upto))? {
        let (k, v) = row?;
        let first = k.value().1;
        gone.push(first);
        let relays = parse(peer, first, v.value())?;
        let mut tail = relays.iter().filter(|r| r.number > upto).peekable();
        if let Some(next) = tail.peek() {
            let key = next.number;
            let mut run = Vec::new();
            tail.for_each(|r| push(&mut run, *r));
            rest = Some((key, run));
        }
    }
    for first in gone {
        table.remove((peer, first))?;
    }
    if let Some((first, run)) = rest {
        table.insert((peer, first), &run[..])?;
    }
    Ok(())
}

/// Takes relay `number` of `peer` out of the outbox, wherever it is in
/// its run.
pub fn remove_one(txn: &WriteTransaction, peer: &str, number: u64) -> Result<(), StoreError> {
    let mut table = txn.open_table(OUTBOX_RUNS)?;
    let found = match table.range((peer, 0)..=(peer, number))?.next_back() {
        Some(row) => {
            let (k, v) = row?;
            let first = k.value().1;
            let relays = parse(peer, first, v.value())?;
            if !relays.iter().any(|r| r.number == number) {
                return Ok(());
            }
            let mut run = Vec::new();
            let kept = relays.iter().filter(|r| r.number != number);
            kept.for_each(|r| push(&mut run, *r));
            let next = relays.iter().map(|r| r.number).find(|n| *n != number);
            (first, next.map(|n| (n, run)))
        }
        None => return Ok(()),
    };
    let (first, kept) = found;
    table.remove((peer, first))?;
    if let Some((first, run)) = kept {
        table.insert((peer, first), &run[..])?;
    }
    Ok(())
}

/// Up to `max` relays of `peer` from number `from` on, stopping early once
/// they hold `max_bytes`.
pub fn read(
    table: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    peer: &str,
    from: u64,
    max: usize,
    max_bytes: usize,
) -> Result<Vec<Outgoing>, StoreError> {
    // The run holding `from` may start before it.
    let start = match table.range((peer, 0)..=(peer, from))?.next_back() {
        Some(row) => row?.0.value().1,
        None => from,
    };
    let mut out = Vec::new();
    let mut bytes = 0;
    for row in table.range((peer, start)..=(peer, u64::MAX))? {
        let (k, v) = row?;
        for relay in parse(peer, k.value().1, v.value())? {
            if relay.number < from {
                continue;
            }
            bytes += relay.pdu.len();
            out.push(relay.owned());
            if out.len() >= max || bytes >= max_bytes {
                return Ok(out);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(number: u64, pdu: &[u8]) -> Relay<'_> {
        Relay {
            number,
            deadline: number * 10,
            pdu,
        }
    }

    #[test]
    fn a_run_parses_back_to_its_relays() {
        let mut run = Vec::new();
        let relays = [relay(7, b"seven"), relay(8, b""), relay(10, b"ten")];
        relays.iter().for_each(|r| push(&mut run, *r));
        assert_eq!(parse("p", 7, &run).unwrap(), relays);
    }

    #[test]
    fn a_damaged_run_is_an_error_not_a_panic() {
        let mut run = Vec::new();
        push(&mut run, relay(7, b"seven"));
        push(&mut run, relay(8, b"eight"));
        // Every cut but the one between the two relays, and a key that is
        // not the first number.
        let between = HEAD + 5;
        for cut in (0..run.len()).filter(|c| *c != between) {
            assert!(parse("p", 7, &run[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(parse("p", 7, &run[..between]).unwrap().len(), 1);
        assert!(parse("p", 6, &run).is_err());
        // Numbers that do not rise.
        let mut back = Vec::new();
        push(&mut back, relay(8, b"a"));
        push(&mut back, relay(8, b"b"));
        assert!(parse("p", 8, &back).is_err());
        // A length past the end.
        let mut long = Vec::new();
        push(&mut long, relay(1, b"x"));
        long[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse("p", 1, &long).is_err());
    }
}
