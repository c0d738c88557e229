//! The streaming deframer: finds whole PDUs in a byte buffer.
//!
//! "Not enough bytes yet" is `Ok(None)`, never an error, so a PDU fed one
//! byte at a time decodes exactly as one fed whole. Only malformed input is
//! an error.

use super::error::{DecodeError, ErrorKind};
use super::pdu::{Pdu, HEADER_LEN, MAX_PAYLOAD};

/// Splits a byte stream into PDUs, rejecting payloads over `max_payload`.
#[derive(Debug, Clone, Copy)]
pub struct Deframer {
    max_payload: usize,
}

impl Default for Deframer {
    /// Accepts any payload the 16-bit length can announce.
    fn default() -> Self {
        Deframer {
            max_payload: MAX_PAYLOAD,
        }
    }
}

impl Deframer {
    /// A deframer that refuses payloads longer than `max_payload` bytes as
    /// soon as their header arrives, before the payload is buffered.
    pub fn with_max_payload(max_payload: usize) -> Self {
        Deframer { max_payload }
    }

    /// The total size of the PDU at the start of `buf`, once its header is
    /// there: `Ok(None)` until three bytes are buffered.
    pub fn frame_len(&self, buf: &[u8]) -> Result<Option<usize>, DecodeError> {
        let Some(header) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let length = usize::from(u16::from_be_bytes([header[1], header[2]]));
        if length > self.max_payload {
            return Err(DecodeError::new(
                ErrorKind::TooLong {
                    length,
                    max: self.max_payload,
                },
                "length",
                1,
            ));
        }
        Ok(Some(HEADER_LEN + length))
    }

    /// Decodes the PDU at the start of `buf`, returning it with the number
    /// of bytes it used, or `Ok(None)` when more bytes are needed.
    pub fn decode<'a>(&self, buf: &'a [u8]) -> Result<Option<(Pdu<'a>, usize)>, DecodeError> {
        let Some(len) = self.frame_len(buf)? else {
            return Ok(None);
        };
        let Some(frame) = buf.get(..len) else {
            return Ok(None);
        };
        let pdu = Pdu::decode(frame[0], &frame[HEADER_LEN..])?;
        Ok(Some((pdu, len)))
    }
}
