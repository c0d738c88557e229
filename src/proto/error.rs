//! The codec's errors: small, typed, and naming what was malformed and where.

use std::fmt;

/// Why a PDU could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A fixed-size field needs more bytes than the payload has left.
    Truncated { needed: usize, available: usize },
    /// A string's length prefix points past the end of the payload.
    StringOverrun { len: usize, available: usize },
    /// Bytes remain after the last field of the payload.
    TrailingBytes { count: usize },
    /// A string is not valid UTF-8.
    InvalidUtf8,
    /// The PDU type 0x00 is reserved by the draft.
    ReservedType,
    /// The header announces a payload longer than the receiver accepts.
    TooLong { length: usize, max: usize },
}

/// A malformed PDU: what was wrong, in which field, at which byte offset.
///
/// `offset` counts from the first byte of the PDU (its type byte); the
/// deframer's callers add the PDU's own position in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    pub kind: ErrorKind,
    pub field: &'static str,
    pub offset: usize,
}

impl DecodeError {
    pub fn new(kind: ErrorKind, field: &'static str, offset: usize) -> Self {
        DecodeError {
            kind,
            field,
            offset,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (field, offset) = (self.field, self.offset);
        match self.kind {
            ErrorKind::Truncated { needed, available } => write!(
                f,
                "field `{field}` at offset {offset} is truncated: needs {needed} bytes, {available} left"
            ),
            ErrorKind::StringOverrun { len, available } => write!(
                f,
                "string `{field}` at offset {offset} claims {len} bytes but only {available} remain in the payload"
            ),
            ErrorKind::TrailingBytes { count } => write!(
                f,
                "{count} trailing bytes after the last field, at offset {offset}"
            ),
            ErrorKind::InvalidUtf8 => {
                write!(f, "string `{field}` has invalid UTF-8 at offset {offset}")
            }
            ErrorKind::ReservedType => write!(f, "type 0x00 is reserved"),
            ErrorKind::TooLong { length, max } => write!(
                f,
                "payload length {length} exceeds the limit of {max} bytes"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A value that cannot be put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// A string or a whole payload is longer than its u16 length can say.
    TooLong,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("value too long for its 16-bit length field")
    }
}

impl std::error::Error for EncodeError {}
