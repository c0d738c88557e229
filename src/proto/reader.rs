//! A checked cursor over one PDU's payload.
//!
//! Every read either returns the bytes asked for or a [`DecodeError`] naming
//! the field and its byte offset; nothing here indexes past the end of the
//! input, so peer bytes can never panic the decoder.

use super::error::{DecodeError, ErrorKind};

/// Cursor over a payload. Offsets it reports are relative to the start of the
/// PDU (the type byte), which is what people reading a hex dump count from.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `payload`, whose first byte sits at `base` in the PDU.
    pub fn new(payload: &'a [u8], base: usize) -> Self {
        Reader {
            buf: payload,
            pos: 0,
            base,
        }
    }

    /// Offset of the next unread byte, counted from the start of the PDU.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Takes exactly `n` bytes for `field`.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::new(
                ErrorKind::Truncated {
                    needed: n,
                    available: self.remaining(),
                },
                field,
                self.offset(),
            ));
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    /// Exactly `N` bytes for `field`, borrowed: a fixed-size field such as
    /// a nonce or a signature.
    pub fn array_ref<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<&'a [u8; N], DecodeError> {
        let bytes = self.take(N, field)?;
        Ok(bytes.try_into().expect("take returns N bytes"))
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    pub fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    /// The draft's `string`: a u16 big-endian byte length, then UTF-8.
    pub fn string(&mut self, field: &'static str) -> Result<&'a str, DecodeError> {
        let start = self.offset();
        let len = usize::from(self.u16(field)?);
        // "String is prefixed with two octets indicating number of bytes that
        // it occupies": a prefix pointing past the payload is malformed.
        if len > self.remaining() {
            return Err(DecodeError::new(
                ErrorKind::StringOverrun {
                    len,
                    available: self.remaining(),
                },
                field,
                start,
            ));
        }
        let bytes = self.take(len, field)?;
        // "Text is encoded using UTF-8."
        std::str::from_utf8(bytes).map_err(|e| {
            DecodeError::new(ErrorKind::InvalidUtf8, field, start + 2 + e.valid_up_to())
        })
    }

    /// Rejects bytes left over after the last field.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::new(
                ErrorKind::TrailingBytes { count },
                "payload",
                self.offset(),
            )),
        }
    }
}

/// Appends big-endian fields and strings to an output buffer.
pub(crate) trait Writer {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_i64(&mut self, v: i64);
    fn put_str(&mut self, s: &str) -> Result<(), super::error::EncodeError>;
}

impl Writer for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_str(&mut self, s: &str) -> Result<(), super::error::EncodeError> {
        let len = u16::try_from(s.len()).map_err(|_| super::error::EncodeError::TooLong)?;
        self.put_u16(len);
        self.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
