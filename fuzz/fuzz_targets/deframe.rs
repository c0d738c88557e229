//! Fuzz target `deframe`: arbitrary bytes through the streaming deframer and
//! the strict decoder, as a connection would receive them.
//!
//! Input layout: two bytes (big-endian u16) choose a split point, the rest is
//! the byte stream. For that stream it checks that
//! - every decoded PDU re-encodes to exactly the frame it came from (decoding
//!   is strict, so there is only one encoding of each value);
//! - the stream fed whole, split in two at the chosen point, and one byte at
//!   a time yields the same frames, the same error at the same place, and
//!   the same leftover partial frame;
//! - a deframer with a small payload limit sees the same frames up to the
//!   first header announcing more than its limit, and refuses that one.
//!
//! Nothing here may panic for any input but a broken invariant.
//!
//! The seeds in `fuzz/corpus/deframe/seed-*` carry the same two-byte prefix:
//! the byte vectors of `src/proto/tests.rs`, multi-PDU streams, and the
//! malformed inputs of its error table.

#![no_main]

use libfuzzer_sys::fuzz_target;
use solec::proto::{DecodeError, Deframer, ErrorKind, Pdu, HEADER_LEN};

/// Small enough that the fuzzer reaches both sides of it with short inputs.
const SMALL_MAX: usize = 32;

/// What the deframer reported at one position of the stream.
#[derive(Debug, PartialEq)]
enum Event {
    /// A PDU decoded from `len` bytes starting at `pos`.
    Frame { pos: usize, len: usize },
    /// A malformed PDU starting at `pos`; the connection would close here.
    Error { pos: usize, err: DecodeError },
}

impl Event {
    fn pos(&self) -> usize {
        match *self {
            Event::Frame { pos, .. } | Event::Error { pos, .. } => pos,
        }
    }
}

/// Everything a deframer reported for one stream.
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    /// Bytes of an unfinished frame left at the end (0 after an error).
    pending: usize,
}

fuzz_target!(|data: &[u8]| {
    let (split, stream) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
        _ => (0, data),
    };
    let split = split % (stream.len() + 1);
    for deframer in [Deframer::default(), Deframer::with_max_payload(SMALL_MAX)] {
        let whole = streamed(deframer, stream, [stream]);
        let (head, tail) = stream.split_at(split);
        let halves = streamed(deframer, stream, [head, tail]);
        assert_eq!(halves, whole, "split at {split}");
        let bytes = streamed(deframer, stream, stream.chunks(1));
        assert_eq!(bytes, whole, "byte at a time");
    }
    let default = streamed(Deframer::default(), stream, [stream]);
    let small = streamed(Deframer::with_max_payload(SMALL_MAX), stream, [stream]);
    assert_eq!(small, with_small_limit(default, stream));
});

/// Feeds `chunks` (which together make `stream`) into a receive buffer the
/// way a connection does: append, decode every whole PDU, drain what was used.
fn streamed<'a>(
    deframer: Deframer,
    stream: &[u8],
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Outcome {
    let mut buf = Vec::new();
    let mut pos = 0;
    let mut events = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match deframer.decode(&buf) {
                Ok(Some((pdu, len))) => {
                    check_frame(&pdu, &buf[..len], &stream[pos..]);
                    events.push(Event::Frame { pos, len });
                    buf.drain(..len);
                    pos += len;
                }
                Ok(None) => break,
                Err(err) => {
                    check_error(&err, &buf);
                    events.push(Event::Error { pos, err });
                    return Outcome { events, pending: 0 };
                }
            }
        }
    }
    check_pending(deframer, &buf);
    Outcome {
        events,
        pending: buf.len(),
    }
}

/// A decoded PDU re-encodes to its frame, byte for byte, and the frame is
/// what the header announced, taken from the right place in the stream.
fn check_frame(pdu: &Pdu, frame: &[u8], rest_of_stream: &[u8]) {
    assert_eq!(Some(frame.len()), announced(frame));
    assert_eq!(frame, &rest_of_stream[..frame.len()]);
    assert_eq!(pdu.to_vec().expect("a decoded PDU encodes"), frame);
    assert_eq!(Pdu::decode(frame[0], &frame[HEADER_LEN..]), Ok(*pdu));
    let _ = pdu.name();
}

/// An error points inside the frame it is about and displays without panic.
fn check_error(err: &DecodeError, buf: &[u8]) {
    let len = announced(buf).expect("an error needs at least a header");
    assert!(
        err.offset <= len,
        "offset {} past a {len}-byte frame",
        err.offset
    );
    let _ = err.to_string();
}

/// Leftover bytes are only ever a strict prefix of a frame.
fn check_pending(deframer: Deframer, buf: &[u8]) {
    if let Some(len) = announced(buf) {
        assert!(
            buf.len() < len,
            "a whole frame of {len} bytes left undecoded"
        );
        assert_eq!(deframer.frame_len(buf), Ok(Some(len)));
    }
}

/// The total frame length the header at the start of `buf` announces.
fn announced(buf: &[u8]) -> Option<usize> {
    let header = buf.get(..HEADER_LEN)?;
    Some(HEADER_LEN + usize::from(u16::from_be_bytes([header[1], header[2]])))
}

/// What the small-limit deframer must report, given the default one's
/// outcome: the same events, up to the first header announcing a payload
/// over `SMALL_MAX`, which it refuses as too long.
fn with_small_limit(default: Outcome, stream: &[u8]) -> Outcome {
    let pending_at = stream.len() - default.pending;
    let mut events = Vec::new();
    for event in default.events {
        if let Some(refused) = too_long(stream, event.pos()) {
            events.push(refused);
            return Outcome { events, pending: 0 };
        }
        events.push(event);
    }
    match too_long(stream, pending_at) {
        Some(refused) => {
            events.push(refused);
            Outcome { events, pending: 0 }
        }
        None => Outcome {
            events,
            pending: default.pending,
        },
    }
}

/// The TooLong error for the frame at `pos`, if its header is there and
/// announces more than `SMALL_MAX`.
fn too_long(stream: &[u8], pos: usize) -> Option<Event> {
    let length = announced(&stream[pos..])? - HEADER_LEN;
    let kind = ErrorKind::TooLong {
        length,
        max: SMALL_MAX,
    };
    (length > SMALL_MAX).then(|| Event::Error {
        pos,
        err: DecodeError::new(kind, "length", 1),
    })
}
