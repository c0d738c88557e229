//! A checked cursor over radio bytes (link frames, link records, modem
//! replies), with the same shape as `proto::reader`: every read returns the
//! bytes asked for or a [`RadioError`] naming the field and offset.

use std::fmt;

/// Why radio bytes could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A field needs more bytes than there are.
    Truncated { needed: usize, available: usize },
    /// Bytes remain after the last field.
    TrailingBytes { count: usize },
    /// A value no encoder here produces (a reserved bit, an unknown kind).
    Invalid { value: u64 },
    /// A variable-length integer runs past 64 bits.
    VarintOverflow,
    /// A frame is longer than the receiver accepts.
    TooLong { length: usize, max: usize },
}

/// Malformed radio bytes: what was wrong, in which field, at which offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RadioError {
    pub kind: ErrorKind,
    pub field: &'static str,
    pub offset: usize,
}

impl RadioError {
    pub fn new(kind: ErrorKind, field: &'static str, offset: usize) -> Self {
        RadioError {
            kind,
            field,
            offset,
        }
    }

    /// Whether more bytes could make the input whole.
    pub fn is_truncated(&self) -> bool {
        matches!(self.kind, ErrorKind::Truncated { .. })
    }
}

impl fmt::Display for RadioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (field, offset) = (self.field, self.offset);
        match self.kind {
            ErrorKind::Truncated { needed, available } => write!(
                f,
                "field `{field}` at offset {offset} is truncated: needs {needed} bytes, {available} left"
            ),
            ErrorKind::TrailingBytes { count } => {
                write!(f, "{count} trailing bytes at offset {offset}")
            }
            ErrorKind::Invalid { value } => {
                write!(f, "field `{field}` at offset {offset} has invalid value {value:#x}")
            }
            ErrorKind::VarintOverflow => {
                write!(f, "varint `{field}` at offset {offset} overflows 64 bits")
            }
            ErrorKind::TooLong { length, max } => write!(
                f,
                "`{field}` of {length} bytes exceeds the limit of {max} bytes"
            ),
        }
    }
}

impl std::error::Error for RadioError {}

/// A cursor over `buf`; offsets count from its start.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn offset(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], RadioError> {
        if n > self.remaining() {
            return Err(RadioError::new(
                ErrorKind::Truncated {
                    needed: n,
                    available: self.remaining(),
                },
                field,
                self.pos,
            ));
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let bytes = &self.buf[self.pos..];
        self.pos = self.buf.len();
        bytes
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, RadioError> {
        Ok(self.take(1, field)?[0])
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, RadioError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// An unsigned LEB128 integer: 7 bits a byte, low bits first, the top
    /// bit set on every byte but the last.
    pub fn varint(&mut self, field: &'static str) -> Result<u64, RadioError> {
        let start = self.pos;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8(field)?;
            let bits = u64::from(byte & 0x7F);
            if shift == 63 && bits > 1 {
                break;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RadioError::new(ErrorKind::VarintOverflow, field, start))
    }

    /// A varint used as a length or count that must fit `max`.
    pub fn len(&mut self, field: &'static str, max: usize) -> Result<usize, RadioError> {
        let start = self.pos;
        let v = self.varint(field)?;
        match usize::try_from(v) {
            Ok(n) if n <= max => Ok(n),
            _ => Err(RadioError::new(
                ErrorKind::TooLong {
                    length: usize::try_from(v).unwrap_or(usize::MAX),
                    max,
                },
                field,
                start,
            )),
        }
    }

    pub fn finish(self) -> Result<(), RadioError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(RadioError::new(
                ErrorKind::TrailingBytes { count },
                "frame",
                self.pos,
            )),
        }
    }
}

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Zigzag: small negative and positive numbers both become small unsigned ones.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_are_short() {
        for (v, want) in [
            (0u64, &[0x00][..]),
            (1, &[0x01]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (300, &[0xAC, 0x02]),
            (
                u64::MAX,
                &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            ),
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, want, "{v}");
            let mut c = Cursor::new(&out);
            assert_eq!(c.varint("v").unwrap(), v);
            c.finish().unwrap();
        }
    }

    #[test]
    fn bad_varints_are_errors_not_panics() {
        let long = [0xFF; 11];
        let e = Cursor::new(&long).varint("v").unwrap_err();
        assert_eq!(e.kind, ErrorKind::VarintOverflow);
        let e = Cursor::new(&[0x80]).varint("v").unwrap_err();
        assert!(e.is_truncated());
        let over = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02];
        assert_eq!(
            Cursor::new(&over).varint("v").unwrap_err().kind,
            ErrorKind::VarintOverflow
        );
    }

    #[test]
    fn zigzag_maps_small_signed_to_small_unsigned() {
        for (v, z) in [
            (0i64, 0u64),
            (-1, 1),
            (1, 2),
            (-2, 3),
            (i64::MAX, u64::MAX - 1),
        ] {
            assert_eq!(zigzag(v), z);
            assert_eq!(unzigzag(z), v);
        }
        assert_eq!(unzigzag(u64::MAX), i64::MIN);
    }
}
