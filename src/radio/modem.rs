//! Modem drivers behind one trait: how frames go to a modem and come back,
//! for each host protocol `solec radio` speaks.
//!
//! Sans-IO: a driver turns frames into the bytes to write, and the bytes
//! read into [`Report`]s. The serial port and the timing live in
//! `radio::bridge`.

use super::kiss::{self, rnode};
use super::{rylr, transparent};
use std::fmt;

/// The modem kinds (the command line's `--modem`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// RNode firmware: KISS with RNode's commands, flow control by READY.
    Rnode,
    /// A plain KISS TNC.
    Kiss,
    /// REYAX RYLR896/998 AT commands, data as Base64 text.
    Rylr,
    /// Ebyte E22/E32-style transparent UART modules and the Waveshare HAT.
    Transparent,
    /// Probe the port: RNode answers DETECT, an RYLR answers AT.
    Auto,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Rnode => "rnode",
            Kind::Kiss => "kiss",
            Kind::Rylr => "rylr",
            Kind::Transparent => "transparent",
            Kind::Auto => "auto",
        })
    }
}

/// What the modem told the host.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A frame heard on air.
    Frame(Vec<u8>),
    /// The modem can take the next frame.
    Ready,
    /// Signal strength of the next (RNode) or last (RYLR) frame, dBm.
    Rssi(i16),
    /// Signal-to-noise ratio, dB.
    Snr(f32),
    /// The modem refused or failed something.
    Error(String),
    /// Bytes that are not a frame (framing errors, unknown replies).
    Noise(String),
}

/// The radio settings a driver brings its modem up with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub freq_hz: u32,
    pub bw_hz: u32,
    pub sf: u8,
    pub cr: u8,
    pub power_dbm: u8,
    pub preamble: u16,
    /// Duty cycle in percent, if one applies.
    pub duty_cycle_pct: Option<f64>,
}

/// One host protocol.
pub trait Modem: Send {
    fn kind(&self) -> Kind;
    /// Bytes to write once the port is open.
    fn bring_up(&mut self) -> Vec<u8>;
    /// The bytes that hand `frame` to the modem for transmission.
    fn encode(&mut self, frame: &[u8]) -> Vec<u8>;
    /// Reads bytes from the modem.
    fn feed(&mut self, bytes: &[u8]) -> Vec<Report>;
    /// The largest frame the link may hand over.
    fn mtu(&self) -> usize;
    /// Bytes on air beyond the frame (a header the modem adds, or framing
    /// the host adds that is sent along).
    fn overhead(&self) -> usize;
    /// Frames travel as Base64 text.
    fn base64(&self) -> bool {
        false
    }
    /// After each frame, wait for [`Report::Ready`] before the next.
    fn flow_controlled(&self) -> bool;
    /// The line has been quiet for a while: forget partial input.
    fn quiet(&mut self) {}
}

/// The driver for `kind` (not `Auto`, which the bridge resolves by probing).
pub fn driver(kind: Kind, settings: Settings) -> Box<dyn Modem> {
    match kind {
        Kind::Rnode => Box::new(Rnode::new(settings)),
        Kind::Kiss | Kind::Auto => Box::new(Kiss::default()),
        Kind::Rylr => Box::new(Rylr::new(settings)),
        Kind::Transparent => Box::new(Transparent::default()),
    }
}

/// Checks the settings against what the modem kind can do.
pub fn check(kind: Kind, s: &Settings) -> Result<(), String> {
    match kind {
        Kind::Rylr => rylr::check(&rylr_settings(s)),
        _ => Ok(()),
    }
}

fn kiss_reports(deframer: &mut kiss::Deframer, bytes: &[u8]) -> Vec<Result<kiss::Frame, String>> {
    deframer
        .feed(bytes)
        .into_iter()
        .map(|f| f.map_err(|e| format!("bad KISS frame: {e}")))
        .collect()
}

/// A plain KISS TNC: data frames on port 0, nothing else.
#[derive(Debug, Default)]
pub struct Kiss {
    deframer: kiss::Deframer,
}

impl Modem for Kiss {
    fn kind(&self) -> Kind {
        Kind::Kiss
    }
    fn bring_up(&mut self) -> Vec<u8> {
        Vec::new()
    }
    fn encode(&mut self, frame: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        kiss::encode(kiss::CMD_DATA, frame, &mut out);
        out
    }
    fn feed(&mut self, bytes: &[u8]) -> Vec<Report> {
        kiss_reports(&mut self.deframer, bytes)
            .into_iter()
            .map(|f| match f {
                Ok(f) if f.command == kiss::CMD_DATA => Report::Frame(f.data),
                Ok(f) => Report::Noise(format!("KISS command {:#04x}", f.command)),
                Err(e) => Report::Noise(e),
            })
            .collect()
    }
    fn mtu(&self) -> usize {
        super::airtime::MAX_FRAME
    }
    fn overhead(&self) -> usize {
        0
    }
    fn flow_controlled(&self) -> bool {
        false
    }
}

/// RNode firmware.
#[derive(Debug)]
pub struct Rnode {
    settings: Settings,
    deframer: kiss::Deframer,
}

/// RNode sends a packet over 254 bytes as two LoRa frames, losing it if
/// either is lost: the link stays below.
pub const RNODE_MTU: usize = 254;

impl Rnode {
    pub fn new(settings: Settings) -> Rnode {
        Rnode {
            settings,
            deframer: kiss::Deframer::new(),
        }
    }
}

impl Modem for Rnode {
    fn kind(&self) -> Kind {
        Kind::Rnode
    }
    fn bring_up(&mut self) -> Vec<u8> {
        let s = &self.settings;
        rnode::bring_up(&rnode::Settings {
            freq_hz: s.freq_hz,
            bw_hz: s.bw_hz,
            power_dbm: s.power_dbm,
            sf: s.sf,
            cr: s.cr,
            airtime_lock_pct: s.duty_cycle_pct,
        })
    }
    fn encode(&mut self, frame: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        kiss::encode(rnode::DATA, frame, &mut out);
        out
    }
    fn feed(&mut self, bytes: &[u8]) -> Vec<Report> {
        kiss_reports(&mut self.deframer, bytes)
            .into_iter()
            .filter_map(|f| match f.map(rnode::report) {
                Ok(rnode::Report::Data(d)) => Some(Report::Frame(d)),
                Ok(rnode::Report::Ready) => Some(Report::Ready),
                Ok(rnode::Report::Rssi(v)) => Some(Report::Rssi(v)),
                Ok(rnode::Report::Snr(v)) => Some(Report::Snr(v)),
                Ok(rnode::Report::Error(code)) => {
                    Some(Report::Error(format!("RNode error {code:#04x}")))
                }
                Ok(rnode::Report::Detected | rnode::Report::Other(_)) => None,
                Err(e) => Some(Report::Noise(e)),
            })
            .collect()
    }
    fn mtu(&self) -> usize {
        RNODE_MTU
    }
    fn overhead(&self) -> usize {
        1
    }
    fn flow_controlled(&self) -> bool {
        true
    }
}

fn rylr_settings(s: &Settings) -> rylr::Settings {
    rylr::Settings {
        address: 0,
        network_id: 18,
        freq_hz: s.freq_hz,
        sf: s.sf,
        bw_hz: s.bw_hz,
        cr: s.cr,
        preamble: s.preamble,
        power_dbm: s.power_dbm,
    }
}

/// REYAX RYLR896/998.
#[derive(Debug)]
pub struct Rylr {
    settings: Settings,
    lines: rylr::Lines,
}

impl Rylr {
    pub fn new(settings: Settings) -> Rylr {
        Rylr {
            settings,
            lines: rylr::Lines::default(),
        }
    }
}

impl Modem for Rylr {
    fn kind(&self) -> Kind {
        Kind::Rylr
    }
    fn bring_up(&mut self) -> Vec<u8> {
        rylr::bring_up(&rylr_settings(&self.settings))
            .iter()
            .flat_map(|c| rylr::command_line(c))
            .collect()
    }
    fn encode(&mut self, frame: &[u8]) -> Vec<u8> {
        rylr::send_line(rylr::BROADCAST, frame)
    }
    fn feed(&mut self, bytes: &[u8]) -> Vec<Report> {
        let mut out = Vec::new();
        for line in self.lines.feed(bytes) {
            match rylr::parse_reply(&line) {
                Ok(rylr::Reply::Ok) => out.push(Report::Ready),
                Ok(rylr::Reply::Err(n)) => {
                    out.push(Report::Error(format!("RYLR +ERR={n}")));
                    out.push(Report::Ready);
                }
                Ok(rylr::Reply::Received {
                    data, rssi, snr, ..
                }) => {
                    out.push(Report::Rssi(rssi));
                    out.push(Report::Snr(f32::from(snr)));
                    out.push(Report::Frame(data));
                }
                Ok(rylr::Reply::Ready | rylr::Reply::Other(_)) => {}
                Err(e) => out.push(Report::Noise(format!("bad RYLR line: {e}"))),
            }
        }
        out
    }
    fn mtu(&self) -> usize {
        rylr::MTU
    }
    fn overhead(&self) -> usize {
        0
    }
    fn base64(&self) -> bool {
        true
    }
    fn flow_controlled(&self) -> bool {
        true
    }
}

/// The sub-packet size of E22 modules and the Waveshare HAT at its largest.
pub const TRANSPARENT_PACKET: usize = 240;

/// A transparent UART module: the host's own length + CRC framing.
#[derive(Debug, Default)]
pub struct Transparent {
    deframer: transparent::Deframer,
}

impl Modem for Transparent {
    fn kind(&self) -> Kind {
        Kind::Transparent
    }
    fn bring_up(&mut self) -> Vec<u8> {
        Vec::new()
    }
    fn encode(&mut self, frame: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        transparent::encode(frame, &mut out);
        out
    }
    fn feed(&mut self, bytes: &[u8]) -> Vec<Report> {
        self.deframer
            .feed(bytes)
            .into_iter()
            .map(Report::Frame)
            .collect()
    }
    fn mtu(&self) -> usize {
        TRANSPARENT_PACKET - transparent::OVERHEAD
    }
    fn overhead(&self) -> usize {
        transparent::OVERHEAD
    }
    fn flow_controlled(&self) -> bool {
        false
    }
    fn quiet(&mut self) {
        self.deframer.reset();
    }
}

/// What the probe writes for `--modem auto`: an RNode DETECT, then `AT`
/// on a line of its own (an AT module answers the KISS bytes with an
/// error line and `AT` with `+OK`).
pub fn probe() -> Vec<u8> {
    let mut out = Vec::new();
    kiss::encode(rnode::DETECT, &[rnode::DETECT_REQ], &mut out);
    out.extend(b"\r\n");
    out.extend(rylr::command_line("AT"));
    out
}

/// Which modem answered the probe, from everything read so far.
pub fn identify(reply: &[u8]) -> Option<Kind> {
    let detected = kiss::Deframer::new()
        .feed(reply)
        .into_iter()
        .flatten()
        .any(|f| rnode::report(f) == rnode::Report::Detected);
    if detected {
        return Some(Kind::Rnode);
    }
    let ok = rylr::Lines::default()
        .feed(reply)
        .iter()
        .any(|l| matches!(rylr::parse_reply(l), Ok(rylr::Reply::Ok)));
    ok.then_some(Kind::Rylr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            freq_hz: 869_525_000,
            bw_hz: 125_000,
            sf: 9,
            cr: 5,
            power_dbm: 14,
            preamble: 8,
            duty_cycle_pct: None,
        }
    }

    #[test]
    fn every_driver_carries_any_bytes_both_ways() {
        let frame: Vec<u8> = (0..=255u8).cycle().take(180).collect();
        for kind in [Kind::Rnode, Kind::Kiss, Kind::Transparent] {
            let mut d = driver(kind, settings());
            let wire = d.encode(&frame);
            assert_eq!(d.feed(&wire), [Report::Frame(frame.clone())], "{kind}");
        }
        // RYLR: the module answers with +RCV carrying the same data field.
        let mut d = driver(Kind::Rylr, settings());
        let line = d.encode(&frame);
        let data = &line[b"AT+SEND=0,".len()..line.len() - 2];
        let mut rcv = b"+RCV=0,".to_vec();
        rcv.extend_from_slice(data);
        rcv.extend_from_slice(b",-40,9\r\n+OK\r\n");
        assert_eq!(
            d.feed(&rcv),
            [
                Report::Rssi(-40),
                Report::Snr(9.0),
                Report::Frame(frame),
                Report::Ready
            ]
        );
    }

    #[test]
    fn mtus_fit_each_modem() {
        assert_eq!(driver(Kind::Rnode, settings()).mtu(), 254);
        assert_eq!(driver(Kind::Rylr, settings()).mtu(), 180);
        assert_eq!(driver(Kind::Transparent, settings()).mtu(), 237);
    }

    #[test]
    fn the_probe_tells_rnode_from_rylr() {
        assert_eq!(identify(&[0xC0, 0x08, 0x46, 0xC0]), Some(Kind::Rnode));
        assert_eq!(identify(b"+OK\r\n"), Some(Kind::Rylr));
        assert_eq!(identify(b""), None);
        assert_eq!(&probe()[..4], [0xC0, 0x08, 0x73, 0xC0]);
        assert!(probe().ends_with(b"\r\nAT\r\n"));
    }

    #[test]
    fn rylr_settings_are_checked() {
        assert!(check(
            Kind::Rylr,
            &Settings {
                sf: 12,
                ..settings()
            }
        )
        .is_err());
        assert!(check(
            Kind::Rnode,
            &Settings {
                sf: 12,
                ..settings()
            }
        )
        .is_ok());
    }
}
