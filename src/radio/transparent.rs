//! Framing for transparent UART modules (Ebyte E22/E32, the Waveshare
//! SX126x HAT), whose byte stream has no frame boundaries: a long write is
//! split into sub-packets on air, and bytes can be lost or corrupted in the
//! middle of a frame.
//!
//! A frame is `LEN u8`, `LEN` bytes of data, then a CRC-16/CCITT-FALSE
//! (big-endian) over `LEN` and the data. The reader never trusts write or
//! read boundaries: it looks for the earliest offset where a whole frame
//! with a good CRC starts, drops the bytes before it, and keeps at most two
//! frames' worth of bytes waiting.

/// Bytes the framing adds: the length and the CRC.
pub const OVERHEAD: usize = 3;

/// The longest data field (the length is one byte).
pub const MAX_DATA: usize = 255;

/// Buffered bytes kept while no frame is found: two of the longest frames.
pub const MAX_BUFFERED: usize = 2 * (MAX_DATA + OVERHEAD);

/// CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no xorout.
pub fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0xFFFF, |mut crc: u16, &b| {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                crc << 1 ^ 0x1021
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// Appends one frame. `data` must be at most [`MAX_DATA`] bytes.
pub fn encode(data: &[u8], out: &mut Vec<u8>) {
    assert!(data.len() <= MAX_DATA, "transparent frame too long");
    let start = out.len();
    out.push(data.len() as u8);
    out.extend_from_slice(data);
    let crc = crc16(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Finds frames in a stream with arbitrary boundaries and losses.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
    /// Bytes dropped so far as not part of any good frame.
    pub discarded: u64,
}

impl Deframer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes, returning every frame now complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some((at, len)) = self.find() {
            self.discarded += at as u64;
            out.push(self.buf[at + 1..at + 1 + len].to_vec());
            self.buf.drain(..at + 1 + len + 2);
        }
        if self.buf.len() > MAX_BUFFERED {
            let excess = self.buf.len() - MAX_BUFFERED;
            self.discarded += excess as u64;
            self.buf.drain(..excess);
        }
        out
    }

    /// Drops a partial frame, for when the line has been quiet long enough
    /// that its rest will not come.
    pub fn reset(&mut self) {
        self.discarded += self.buf.len() as u64;
        self.buf.clear();
    }

    /// The earliest whole frame with a good CRC: its offset and data length.
    fn find(&self) -> Option<(usize, usize)> {
        (0..self.buf.len()).find_map(|at| {
            let len = usize::from(self.buf[at]);
            let end = at + 1 + len;
            let crc = self.buf.get(end..end + 2)?;
            let good = crc16(&self.buf[at..end]) == u16::from_be_bytes([crc[0], crc[1]]);
            good.then_some((at, len))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(data, &mut out);
        out
    }

    #[test]
    fn crc_check_value() {
        // The catalogue's check value for CRC-16/CCITT-FALSE.
        assert_eq!(crc16(b"123456789"), 0x29B1);
    }

    #[test]
    fn frame_layout() {
        // LEN 02, "hi", CRC over 02 68 69.
        let crc = crc16(&[0x02, 0x68, 0x69]).to_be_bytes();
        assert_eq!(frame(b"hi"), [0x02, 0x68, 0x69, crc[0], crc[1]]);
        assert_eq!(frame(b"").len(), OVERHEAD);
    }

    #[test]
    fn any_chunking_gives_the_same_frames() {
        let stream = [frame(b"first"), frame(&[0xAB; 200]), frame(b"")].concat();
        let want = vec![b"first".to_vec(), vec![0xAB; 200], vec![]];
        for chunk in [1, 2, 3, 7, 64, 1000] {
            let mut d = Deframer::new();
            let got: Vec<_> = stream.chunks(chunk).flat_map(|c| d.feed(c)).collect();
            assert_eq!(got, want, "chunks of {chunk}");
            assert_eq!(d.discarded, 0);
        }
    }

    #[test]
    fn garbage_and_lost_bytes_are_skipped() {
        let mut damaged = frame(b"lost in the middle");
        damaged.remove(5);
        let stream = [vec![0x00, 0x13, 0xFF], damaged, frame(b"ok")].concat();
        let mut d = Deframer::new();
        assert_eq!(d.feed(&stream), [b"ok".to_vec()]);
        assert!(d.discarded > 0);
    }

    #[test]
    fn a_false_length_does_not_hold_up_later_frames() {
        // 0xF0 claims 240 bytes; the good frame after it is found anyway.
        let stream = [vec![0xF0, 0x01], frame(b"next")].concat();
        assert_eq!(Deframer::new().feed(&stream), [b"next".to_vec()]);
    }

    #[test]
    fn the_buffer_is_bounded() {
        let mut d = Deframer::new();
        for _ in 0..10 {
            d.feed(&[0xFF; 300]);
        }
        assert!(d.buf.len() <= MAX_BUFFERED);
        d.reset();
        assert_eq!(d.feed(&frame(b"x")), [b"x".to_vec()]);
    }
}
