//! KISS framing (Chepponis & Karn) and the RNode firmware's KISS commands.
//!
//! `FEND` opens and closes a frame; inside it `FEND` becomes `FESC TFEND`
//! and `FESC` becomes `FESC TFESC`. The first byte of a frame is its
//! command (low nibble) and port (high nibble). Sans-IO: bytes in, frames
//! out; the serial port lives in `radio::serial`.

use super::cursor::{ErrorKind, RadioError};

pub const FEND: u8 = 0xC0;
pub const FESC: u8 = 0xDB;
pub const TFEND: u8 = 0xDC;
pub const TFESC: u8 = 0xDD;

/// KISS command 0: a data frame for port 0.
pub const CMD_DATA: u8 = 0x00;

/// The longest unescaped frame (command byte included) a deframer keeps:
/// RNode's `HW_MTU` of 508 plus the command byte. Longer frames are
/// dropped and reported, so a stream of garbage cannot grow memory.
pub const MAX_FRAME: usize = 509;

/// Appends one KISS frame: `FEND`, the escaped command and data, `FEND`.
pub fn encode(command: u8, data: &[u8], out: &mut Vec<u8>) {
    out.push(FEND);
    for &b in std::iter::once(&command).chain(data) {
        match b {
            FEND => out.extend_from_slice(&[FESC, TFEND]),
            FESC => out.extend_from_slice(&[FESC, TFESC]),
            b => out.push(b),
        }
    }
    out.push(FEND);
}

/// One whole KISS frame: its command byte and unescaped data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub command: u8,
    pub data: Vec<u8>,
}

/// Splits a KISS byte stream into frames. Bytes before the first `FEND`
/// are ignored; back-to-back `FEND`s are not empty frames.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
    in_frame: bool,
    escaped: bool,
    /// The frame being read is already known bad; skip to the next FEND.
    broken: Option<RadioError>,
}

impl Deframer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes, returning every frame (or framing error) they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Result<Frame, RadioError>> {
        bytes.iter().filter_map(|&b| self.push(b)).collect()
    }

    fn push(&mut self, b: u8) -> Option<Result<Frame, RadioError>> {
        if b == FEND {
            let done = self.end_frame();
            self.in_frame = true;
            return done;
        }
        if !self.in_frame || self.broken.is_some() {
            return None;
        }
        let byte = match (self.escaped, b) {
            (false, FESC) => {
                self.escaped = true;
                return None;
            }
            (false, b) => b,
            (true, TFEND) => FEND,
            (true, TFESC) => FESC,
            (true, other) => {
                // "FESC followed by anything else is an error": drop the frame.
                self.broken = Some(RadioError::new(
                    ErrorKind::Invalid {
                        value: u64::from(other),
                    },
                    "escaped byte",
                    self.buf.len(),
                ));
                return None;
            }
        };
        self.escaped = false;
        if self.buf.len() == MAX_FRAME {
            self.broken = Some(RadioError::new(
                ErrorKind::TooLong {
                    length: MAX_FRAME + 1,
                    max: MAX_FRAME,
                },
                "KISS frame",
                MAX_FRAME,
            ));
            return None;
        }
        self.buf.push(byte);
        None
    }

    fn end_frame(&mut self) -> Option<Result<Frame, RadioError>> {
        let escaped = std::mem::replace(&mut self.escaped, false);
        let buf = std::mem::take(&mut self.buf);
        if let Some(e) = self.broken.take() {
            return Some(Err(e));
        }
        if escaped {
            return Some(Err(RadioError::new(
                ErrorKind::Truncated {
                    needed: 1,
                    available: 0,
                },
                "escaped byte",
                buf.len(),
            )));
        }
        let (&command, data) = buf.split_first()?;
        Some(Ok(Frame {
            command,
            data: data.to_vec(),
        }))
    }
}

/// The RNode firmware's commands (markqvist/RNode_Firmware `Framing.h`).
pub mod rnode {
    use super::{encode, Frame};

    pub const DATA: u8 = 0x00;
    pub const FREQUENCY: u8 = 0x01;
    pub const BANDWIDTH: u8 = 0x02;
    pub const TXPOWER: u8 = 0x03;
    pub const SF: u8 = 0x04;
    pub const CR: u8 = 0x05;
    pub const RADIO_STATE: u8 = 0x06;
    pub const DETECT: u8 = 0x08;
    pub const ST_ALOCK: u8 = 0x0B;
    pub const LT_ALOCK: u8 = 0x0C;
    pub const READY: u8 = 0x0F;
    pub const STAT_RSSI: u8 = 0x23;
    pub const STAT_SNR: u8 = 0x24;
    pub const ERROR: u8 = 0x90;

    /// What the host sends with DETECT, and what an RNode answers.
    pub const DETECT_REQ: u8 = 0x73;
    pub const DETECT_RESP: u8 = 0x46;
    pub const RADIO_ON: u8 = 0x01;
    /// `STAT_RSSI` carries dBm + 157.
    pub const RSSI_OFFSET: i16 = 157;

    /// The settings an RNode is brought up with.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Settings {
        pub freq_hz: u32,
        pub bw_hz: u32,
        pub power_dbm: u8,
        pub sf: u8,
        pub cr: u8,
        /// Long-term airtime lock in percent, when a duty cycle applies.
        pub airtime_lock_pct: Option<f64>,
    }

    /// The bring-up sequence in the order Reticulum's `initRadio` uses:
    /// detect, frequency, bandwidth, TX power, SF, CR, airtime locks,
    /// radio state on.
    pub fn bring_up(s: &Settings) -> Vec<u8> {
        let mut out = Vec::new();
        encode(DETECT, &[DETECT_REQ], &mut out);
        encode(FREQUENCY, &s.freq_hz.to_be_bytes(), &mut out);
        encode(BANDWIDTH, &s.bw_hz.to_be_bytes(), &mut out);
        encode(TXPOWER, &[s.power_dbm], &mut out);
        encode(SF, &[s.sf], &mut out);
        encode(CR, &[s.cr], &mut out);
        if let Some(pct) = s.airtime_lock_pct {
            // u16 big-endian: percent × 100.
            let lock = (pct * 100.0).round().clamp(0.0, 10_000.0) as u16;
            encode(ST_ALOCK, &lock.to_be_bytes(), &mut out);
            encode(LT_ALOCK, &lock.to_be_bytes(), &mut out);
        }
        encode(RADIO_STATE, &[RADIO_ON], &mut out);
        out
    }

    /// What an RNode frame means to the host.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Report {
        Data(Vec<u8>),
        Ready,
        Rssi(i16),
        Snr(f32),
        Detected,
        Error(u8),
        /// A setting echoed back, or a report this host does not use.
        Other(u8),
    }

    pub fn report(frame: Frame) -> Report {
        match (frame.command, frame.data.as_slice()) {
            (DATA, _) => Report::Data(frame.data),
            (READY, _) => Report::Ready,
            (STAT_RSSI, [v]) => Report::Rssi(i16::from(*v) - RSSI_OFFSET),
            (STAT_SNR, [v]) => Report::Snr(f32::from(*v as i8) * 0.25),
            (DETECT, [DETECT_RESP]) => Report::Detected,
            (ERROR, [code, ..]) => Report::Error(*code),
            (command, _) => Report::Other(command),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kiss(command: u8, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(command, data, &mut out);
        out
    }

    #[test]
    fn escaping_of_fend_and_fesc() {
        assert_eq!(
            kiss(0x00, &[0x01, 0xC0, 0x02, 0xDB, 0x03]),
            [0xC0, 0x00, 0x01, 0xDB, 0xDC, 0x02, 0xDB, 0xDD, 0x03, 0xC0]
        );
        // TFEND and TFESC alone are ordinary bytes.
        assert_eq!(kiss(0x00, &[0xDC, 0xDD]), [0xC0, 0x00, 0xDC, 0xDD, 0xC0]);
    }

    #[test]
    fn deframing_byte_by_byte_equals_whole() {
        let data = [0x01, 0xC0, 0x02, 0xDB, 0x03];
        let mut stream = vec![0x55, 0xC0, 0xC0]; // noise, then empty FENDs
        stream.extend(kiss(0x00, &data));
        stream.extend(kiss(0x0F, &[]));
        let want = vec![
            Ok(Frame {
                command: 0x00,
                data: data.to_vec(),
            }),
            Ok(Frame {
                command: 0x0F,
                data: vec![],
            }),
        ];
        assert_eq!(Deframer::new().feed(&stream), want);
        let mut d = Deframer::new();
        let one_by_one: Vec<_> = stream.iter().flat_map(|b| d.feed(&[*b])).collect();
        assert_eq!(one_by_one, want);
    }

    #[test]
    fn a_bad_escape_drops_only_its_frame() {
        let mut stream = vec![0xC0, 0x00, 0x01, 0xDB, 0x42, 0x02, 0xC0];
        stream.extend(kiss(0x00, &[0x07]));
        let got = Deframer::new().feed(&stream);
        assert_eq!(got.len(), 2);
        assert!(matches!(
            got[0],
            Err(RadioError {
                kind: ErrorKind::Invalid { value: 0x42 },
                ..
            })
        ));
        assert_eq!(
            got[1],
            Ok(Frame {
                command: 0,
                data: vec![7]
            })
        );
    }

    #[test]
    fn an_overlong_frame_is_refused_and_the_next_one_read() {
        let mut stream = kiss(0x00, &vec![0x11; MAX_FRAME + 5]);
        stream.extend(kiss(0x00, &[0x22]));
        let got = Deframer::new().feed(&stream);
        assert!(matches!(
            got[0],
            Err(RadioError {
                kind: ErrorKind::TooLong { .. },
                ..
            })
        ));
        assert_eq!(got[1].as_ref().unwrap().data, [0x22]);
    }

    #[test]
    fn rnode_bring_up_in_reticulum_order() {
        let s = rnode::Settings {
            freq_hz: 869_525_000,
            bw_hz: 125_000,
            power_dbm: 14,
            sf: 9,
            cr: 5,
            airtime_lock_pct: Some(10.0),
        };
        let want: Vec<u8> = [
            &[0xC0, 0x08, 0x73, 0xC0][..],
            // 869525000 = 0x33D3E608
            &[0xC0, 0x01, 0x33, 0xD3, 0xE6, 0x08, 0xC0],
            // 125000 = 0x0001E848
            &[0xC0, 0x02, 0x00, 0x01, 0xE8, 0x48, 0xC0],
            &[0xC0, 0x03, 0x0E, 0xC0],
            &[0xC0, 0x04, 0x09, 0xC0],
            &[0xC0, 0x05, 0x05, 0xC0],
            // 10 % → 1000 = 0x03E8
            &[0xC0, 0x0B, 0x03, 0xE8, 0xC0],
            &[0xC0, 0x0C, 0x03, 0xE8, 0xC0],
            &[0xC0, 0x06, 0x01, 0xC0],
        ]
        .concat();
        assert_eq!(rnode::bring_up(&s), want);
        let no_lock = rnode::Settings {
            airtime_lock_pct: None,
            ..s
        };
        assert!(!rnode::bring_up(&no_lock)
            .windows(2)
            .any(|w| w == [0xC0, 0x0B]));
    }

    #[test]
    fn rnode_reports() {
        use rnode::Report;
        let mut d = Deframer::new();
        let stream = [
            &[0xC0, 0x23, 0x5A, 0xC0][..], // 90 - 157 = -67 dBm
            &[0xC0, 0x24, 0xF6, 0xC0],     // -10 × 0.25 = -2.5 dB
            &[0xC0, 0x00, 0x41, 0x42, 0xC0],
            &[0xC0, 0x0F, 0x01, 0xC0],
            &[0xC0, 0x08, 0x46, 0xC0],
            &[0xC0, 0x90, 0x04, 0xC0],
            &[0xC0, 0x01, 0x33, 0xD3, 0xE6, 0x08, 0xC0],
        ]
        .concat();
        let got: Vec<_> = d
            .feed(&stream)
            .into_iter()
            .map(|f| rnode::report(f.unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                Report::Rssi(-67),
                Report::Snr(-2.5),
                Report::Data(vec![0x41, 0x42]),
                Report::Ready,
                Report::Detected,
                Report::Error(0x04),
                Report::Other(0x01),
            ]
        );
    }
}
