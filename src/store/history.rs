//! History reads: a seek on [`RISES`], then receive order, a chunk at a time.
//!
//! A History reply is in receive order. Its start is found with one seek
//! (see [`RISES`]), rows before `since` after that point are skipped by the
//! `send_time` stored beside each PDU, and `offset` skips rows without
//! decoding them, so a request costs in proportion to `offset + count`
//! (plus the rows sent before `since` but received after the start, which
//! with clocks that agree are few). The reply is produced in chunks of
//! bounded size, each from its own read transaction, so a slow reader pins
//! neither memory nor old pages; rows received after the request (sequence
//! at or past `below_seq`) are in no chunk, so the reply is what was stored
//! when it was asked.
//!
//! Every row looked at is checked against its checksum first: a damaged
//! row is left out of the reply (it counts neither for `offset` nor for
//! `count`) and logged, once per chunk, so damage is never served and
//! never silently missing.

use super::journal::Row;
use super::record::{checksum, Damaged};
use super::schema::{MESSAGES, RISES};
use super::{guard, Reader, StoreError};

/// Where a History reply has got to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryCursor {
    conversation: String,
    since: u64,
    /// The next receive sequence to read; None until the start is sought.
    next: Option<u64>,
    /// Rows still to skip (the request's offset).
    skip: u64,
    /// PDUs still to send (the request's count).
    left: u64,
    /// Rows with this sequence number or later came after the request.
    below_seq: u64,
    /// Rows the reply may still look at (see [`HistoryCursor::with_scan_limit`]).
    scan_left: u64,
    /// Whether the reply ended at its scan limit with messages still asked.
    cut: bool,
}

/// Rows one chunk looks at, at most: a chunk skipping a large `offset`
/// adds no bytes, and must still end soon, so the reader that holds a
/// History slot gives it up between chunks.
pub const CHUNK_ROWS: u64 = 1024;

/// Journal rows a reader takes at most: what one chunk can look at.
pub(super) const JOURNAL_ROWS: usize = CHUNK_ROWS as usize;

/// What a chunk has looked at so far.
struct Seen {
    /// Where the chunk's bytes start in the output.
    start: usize,
    rows: u64,
    max_bytes: usize,
}

impl Seen {
    /// Whether the chunk ends before the next row: the reply is complete,
    /// or the chunk is at its bytes or its rows, or the reply at its scan
    /// limit (then it is cut).
    fn full(&mut self, cursor: &mut HistoryCursor, out: &[u8]) -> bool {
        if cursor.left == 0 || out.len() - self.start >= self.max_bytes || self.rows == CHUNK_ROWS {
            return true;
        }
        if cursor.scan_left == 0 {
            cursor.left = 0;
            cursor.cut = true;
            return true;
        }
        cursor.scan_left -= 1;
        self.rows += 1;
        false
    }

    /// Looks at one whole row: sends it if it is in the reply.
    fn take(
        &mut self,
        cursor: &mut HistoryCursor,
        seq: u64,
        send_time: u64,
        pdu: &[u8],
        out: &mut Vec<u8>,
        map: &mut impl FnMut(&[u8], &mut Vec<u8>),
    ) {
        cursor.next = Some(seq.saturating_add(1));
        if send_time < cursor.since {
            return;
        }
        if cursor.skip > 0 {
            cursor.skip -= 1;
            return;
        }
        map(pdu, out);
        cursor.left -= 1;
    }
}

impl HistoryCursor {
    /// The conversation key it reads.
    pub(super) fn conversation(&self) -> &str {
        &self.conversation
    }

    /// The rows of its conversation waiting in the journal (rising) that
    /// its next chunk may read, at most [`JOURNAL_ROWS`]. Before the start
    /// is sought, they begin at the first row sent at or after `since`:
    /// that row is where [`RISES`] would point, every row before it was
    /// sent earlier.
    pub(super) fn journal_window<'a>(&self, rows: &'a [Row]) -> &'a [Row] {
        let start = match self.next {
            Some(next) => rows.partition_point(|r| r.seq < next),
            None => rows
                .iter()
                .position(|r| r.send_time >= self.since)
                .unwrap_or(rows.len()),
        };
        let rows = &rows[start..];
        let end = rows.partition_point(|r| r.seq < self.below_seq);
        &rows[..end.min(JOURNAL_ROWS)]
    }

    /// A History request of `conversation` from `since`, skipping `offset`
    /// and taking `count` messages received before sequence `below_seq`.
    pub fn new(conversation: String, since: u64, offset: u64, count: u64, below_seq: u64) -> Self {
        HistoryCursor {
            conversation,
            since,
            next: None,
            skip: offset,
            left: count,
            below_seq,
            scan_left: u64::MAX,
            cut: false,
        }
    }

    /// Bounds the rows the reply looks at, skipped ones included, so its
    /// cost is bounded whatever its `offset` or `since`. A reply that
    /// reaches the bound with messages still asked for ends there, with
    /// [`HistoryCursor::cut`] set.
    pub fn with_scan_limit(mut self, rows: u64) -> Self {
        self.scan_left = rows;
        self
    }

    /// Whether the reply is complete.
    pub fn done(&self) -> bool {
        self.left == 0
    }

    /// Whether the reply ended at its scan limit rather than at its count
    /// or the conversation's end.
    pub fn cut(&self) -> bool {
        self.cut
    }
}

impl Reader {
    /// Appends the next PDUs of `cursor` to `out`, each as `map` makes it,
    /// until `max_bytes` are added (at least one PDU, if any is left), the
    /// chunk has looked at [`CHUNK_ROWS`] rows, or the reply is complete;
    /// advances the cursor. A chunk may add nothing and leave the reply
    /// incomplete (it skipped rows): read the next.
    pub fn history_chunk(
        &self,
        cursor: &mut HistoryCursor,
        max_bytes: usize,
        out: &mut Vec<u8>,
        map: impl FnMut(&[u8], &mut Vec<u8>),
    ) -> Result<(), StoreError> {
        // A count and the first, not a list: damage must not grow memory.
        let mut damaged = (0u64, None);
        let res = guard::guarded(&self.path, || {
            self.chunk(cursor, max_bytes, out, map, &mut damaged)
        });
        if let (n, Some(seq)) = damaged {
            let first = Damaged {
                conversation: cursor.conversation.clone(),
                seq,
            };
            log::error!(
                "{}: left {n} damaged message(s) out of a History reply, the first: {first}",
                self.path.display(),
            );
        }
        res
    }

    fn chunk(
        &self,
        cursor: &mut HistoryCursor,
        max_bytes: usize,
        out: &mut Vec<u8>,
        mut map: impl FnMut(&[u8], &mut Vec<u8>),
        damaged: &mut (u64, Option<u64>),
    ) -> Result<(), StoreError> {
        // Owned: the cursor advances as rows are read.
        let key = cursor.conversation.clone();
        let conv = key.as_bytes();
        let next = match cursor.next {
            Some(next) => next,
            None => {
                let rises = self.txn.open_table(RISES)?;
                let mut start = rises.range((conv, cursor.since)..=(conv, u64::MAX))?;
                match (start.next(), self.pending.first()) {
                    (Some(row), _) => row?.1.value(),
                    // Every row in redb was sent before `since`; the
                    // journal's window starts where a rise would.
                    (None, Some(row)) => row.seq,
                    (None, None) => {
                        cursor.left = 0;
                        return Ok(());
                    }
                }
            }
        };
        cursor.next = Some(next);
        if next >= cursor.below_seq {
            cursor.left = 0;
            return Ok(());
        }
        let messages = self.txn.open_table(MESSAGES)?;
        let mut seen = Seen {
            start: out.len(),
            rows: 0,
            max_bytes,
        };
        let range = messages.range((conv, next)..(conv, cursor.below_seq))?;
        for row in range {
            if seen.full(cursor, out) {
                return Ok(());
            }
            let (key, value) = row?;
            let seq = key.value().1;
            let (send_time, sum, pdu) = value.value();
            if checksum(conv, seq, send_time, pdu) != sum {
                cursor.next = Some(seq.saturating_add(1));
                damaged.0 += 1;
                damaged.1.get_or_insert(seq);
                continue;
            }
            seen.take(cursor, seq, send_time, pdu, out, &mut map);
        }
        // Then what waits in the journal, past what redb had.
        let from = cursor.next.unwrap_or(next);
        for row in self.pending.iter().filter(|r| r.seq >= from) {
            if seen.full(cursor, out) {
                return Ok(());
            }
            seen.take(cursor, row.seq, row.send_time, &row.pdu, out, &mut map);
        }
        if self.pending.len() == JOURNAL_ROWS {
            // There may be more than this reader took.
            return Ok(());
        }
        cursor.left = 0;
        Ok(())
    }

    /// The whole reply to a History request, concatenated (for tests and
    /// small replies).
    pub fn history(
        &self,
        conversation: &str,
        since: u64,
        offset: u64,
        count: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let mut cursor = HistoryCursor::new(conversation.into(), since, offset, count, u64::MAX);
        let mut out = Vec::new();
        while !cursor.done() {
            self.history_chunk(&mut cursor, usize::MAX, &mut out, |pdu, out| {
                out.extend_from_slice(pdu)
            })?;
        }
        Ok(out)
    }
}
