//! The modem emulator's core: several ports, each behaving as a modem of
//! one kind, joined by one simulated half-duplex LoRa channel.
//!
//! Sans-IO and driven by the caller's clock (ms): bytes from each port's
//! host go in ([`Emulator::from_host`]), and [`Emulator::poll`] returns the
//! bytes each host should read and one [`Heard`] line per frame that has
//! finished its airtime. The pseudo-terminals live in `cli::radio::emulate`.
//!
//! The channel: a frame takes its airtime by the Semtech formula; a modem
//! senses the carrier before sending and backs off a random number of
//! slots, but a frame that starts within [`DETECT_MS`] of another cannot
//! hear it, and overlapping frames collide and are lost to everyone.
//! `loss` drops frames at random, or in bursts (Gilbert–Elliott).

use super::airtime::Phy;
use super::kiss::{self, rnode};
use super::modem::{Kind, TRANSPARENT_PACKET};
use super::rng::Rng;
use super::rylr;
use std::collections::VecDeque;

/// Time a modem needs to notice another's preamble, in ms.
pub const DETECT_MS: u64 = 5;

/// Carrier-sense backoff, before every frame and again whenever the
/// channel is busy (p-persistent CSMA, as RNode and KISS TNCs do): a random
/// number of slots below this...
pub const BACKOFF_SLOTS: u64 = 8;
/// ...of this many ms each, longer than [`DETECT_MS`], so two modems only
/// collide when they pick the same slot.
pub const SLOT_MS: u64 = 6;

/// A transparent module sends what it has after this much UART silence.
pub const UART_GAP_MS: u64 = 10;

/// RSSI and SNR the emulated modems report for every frame.
pub const RSSI_DBM: i16 = -60;
pub const SNR_DB: i16 = 9;

/// How frames are lost besides collisions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// Each frame lost with this probability.
    Random(f64),
    /// Gilbert–Elliott: a bad state losing every frame, entered so that
    /// the long-run loss is `rate` in bursts of `mean_burst` frames.
    Burst { rate: f64, mean_burst: f64 },
}

/// One frame that has finished on air, for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    pub start_ms: u64,
    pub from: usize,
    /// The frame as the host handed it to the modem.
    pub bytes: usize,
    pub airtime_ms: f64,
    pub lost: bool,
}

/// What the caller must do after a poll.
#[derive(Debug, Default)]
pub struct Output {
    pub writes: Vec<(usize, Vec<u8>)>,
    pub heard: Vec<Heard>,
}

enum Host {
    Kiss(kiss::Deframer),
    Rnode(kiss::Deframer),
    Rylr(rylr::Lines),
    Transparent { buf: Vec<u8>, last_byte: u64 },
}

struct Port {
    host: Host,
    queue: VecDeque<Vec<u8>>,
    /// Not before this time may the port try to send.
    try_at: u64,
    sending: bool,
}

struct OnAir {
    from: usize,
    start: u64,
    end: u64,
    bytes: Vec<u8>,
    airtime_ms: f64,
    lost: bool,
}

pub struct Emulator {
    kind: Kind,
    phy: Phy,
    ports: Vec<Port>,
    air: Vec<OnAir>,
    rng: Rng,
    loss: Loss,
    bad_state: bool,
    /// The latest end of a finished frame: no frame starts before it.
    floor: u64,
}

impl Emulator {
    pub fn new(kind: Kind, phy: Phy, ports: usize, loss: Loss, seed: u64) -> Emulator {
        let ports = (0..ports)
            .map(|_| Port {
                host: match kind {
                    Kind::Rnode => Host::Rnode(kiss::Deframer::new()),
                    Kind::Rylr => Host::Rylr(rylr::Lines::default()),
                    Kind::Transparent => Host::Transparent {
                        buf: Vec::new(),
                        last_byte: 0,
                    },
                    Kind::Kiss | Kind::Auto => Host::Kiss(kiss::Deframer::new()),
                },
                queue: VecDeque::new(),
                try_at: 0,
                sending: false,
            })
            .collect();
        Emulator {
            kind,
            phy,
            ports,
            air: Vec::new(),
            rng: Rng::new(seed),
            loss,
            bad_state: false,
            floor: 0,
        }
    }

    /// Bytes a port's host wrote; returns immediate replies.
    pub fn from_host(&mut self, port: usize, bytes: &[u8], now: u64) -> Vec<(usize, Vec<u8>)> {
        let mut replies = Vec::new();
        let mut frames = Vec::new();
        match &mut self.ports[port].host {
            Host::Kiss(d) => frames.extend(
                d.feed(bytes)
                    .into_iter()
                    .flatten()
                    .filter(|f| f.command == kiss::CMD_DATA)
                    .map(|f| f.data),
            ),
            Host::Rnode(d) => {
                for f in d.feed(bytes).into_iter().flatten() {
                    match (f.command, f.data.as_slice()) {
                        (rnode::DATA, _) => frames.push(f.data),
                        (rnode::DETECT, [rnode::DETECT_REQ]) => {
                            replies.push(kiss_frame(rnode::DETECT, &[rnode::DETECT_RESP]))
                        }
                        // The firmware echoes each setting it takes.
                        (command, data) => replies.push(kiss_frame(command, data)),
                    }
                }
            }
            Host::Rylr(lines) => {
                for line in lines.feed(bytes) {
                    match line.strip_prefix(b"AT+SEND=") {
                        Some(rest) => match send_data(rest) {
                            Some(data) => frames.push(data.to_vec()),
                            None => replies.push(b"+ERR=5\r\n".to_vec()),
                        },
                        None if line.starts_with(b"AT") => replies.push(b"+OK\r\n".to_vec()),
                        None => replies.push(b"+ERR=1\r\n".to_vec()),
                    }
                }
            }
            Host::Transparent { buf, last_byte } => {
                buf.extend_from_slice(bytes);
                *last_byte = now;
            }
        }
        for f in frames {
            self.queue(port, f, now);
        }
        replies.into_iter().map(|r| (port, r)).collect()
    }

    fn queue(&mut self, port: usize, frame: Vec<u8>, now: u64) {
        let slots = self.rng.next_u64() % BACKOFF_SLOTS;
        let p = &mut self.ports[port];
        if p.queue.is_empty() && !p.sending {
            p.try_at = now + slots * SLOT_MS;
        }
        p.queue.push_back(frame);
    }

    /// Bytes on air for a frame the host handed over as `bytes`.
    fn on_air(&self, bytes: usize) -> usize {
        match self.kind {
            Kind::Rnode => bytes + 1,
            _ => bytes,
        }
    }

    /// Advances the channel to `now`.
    pub fn poll(&mut self, now: u64) -> Output {
        let mut out = Output::default();
        self.flush_transparent(now);
        self.finish(now, &mut out);
        self.start(now);
        out
    }

    fn flush_transparent(&mut self, now: u64) {
        for port in 0..self.ports.len() {
            let Host::Transparent { buf, last_byte } = &mut self.ports[port].host else {
                continue;
            };
            let mut chunks = Vec::new();
            while buf.len() >= TRANSPARENT_PACKET {
                chunks.push(buf.drain(..TRANSPARENT_PACKET).collect::<Vec<u8>>());
            }
            if !buf.is_empty() && now >= *last_byte + UART_GAP_MS {
                chunks.push(std::mem::take(buf));
            }
            for c in chunks {
                self.queue(port, c, now);
            }
        }
    }

    fn finish(&mut self, now: u64, out: &mut Output) {
        let (done, flying): (Vec<OnAir>, Vec<OnAir>) =
            self.air.drain(..).partition(|f| f.end <= now);
        self.air = flying;
        for f in done {
            self.floor = self.floor.max(f.end);
            self.ports[f.from].sending = false;
            out.heard.push(Heard {
                start_ms: f.start,
                from: f.from,
                bytes: f.bytes.len(),
                airtime_ms: f.airtime_ms,
                lost: f.lost,
            });
            if let Some(ready) = self.tx_done() {
                out.writes.push((f.from, ready));
            }
            if f.lost {
                continue;
            }
            for to in (0..self.ports.len()).filter(|&p| p != f.from) {
                out.writes.push((to, self.to_host(&f.bytes)));
            }
        }
    }

    /// Starts the frames whose backoff has run out by `now`, each at the
    /// moment its backoff ended (not when this poll happens to run), in
    /// that order: a late poll must not make modems that would have heard
    /// each other collide.
    fn start(&mut self, now: u64) {
        let mut due: Vec<usize> = (0..self.ports.len())
            .filter(|&i| {
                let p = &self.ports[i];
                !p.sending && !p.queue.is_empty() && p.try_at <= now
            })
            .collect();
        due.sort_by_key(|&i| (self.ports[i].try_at, i));
        for port in due {
            // Never before a frame already finished had ended.
            let t = self.ports[port].try_at.max(self.floor);
            let sensed = self
                .air
                .iter()
                .any(|f| f.start + DETECT_MS <= t && f.end > t);
            if sensed {
                let end = self.air.iter().map(|f| f.end).max().unwrap_or(t);
                let slots = self.rng.next_u64() % BACKOFF_SLOTS;
                self.ports[port].try_at = end + 1 + slots * SLOT_MS;
                continue;
            }
            let bytes = self.ports[port].queue.pop_front().unwrap_or_default();
            let airtime_ms = self.phy.airtime_ms(self.on_air(bytes.len()));
            let end = t + airtime_ms.ceil() as u64;
            let mut lost = self.lose();
            for other in &mut self.air {
                if other.end > t {
                    other.lost = true;
                    lost = true;
                }
            }
            let p = &mut self.ports[port];
            p.sending = true;
            // The next queued frame backs off anew once this one is done.
            p.try_at = end + (self.rng.next_u64() % BACKOFF_SLOTS) * SLOT_MS;
            self.air.push(OnAir {
                from: port,
                start: t,
                end,
                bytes,
                airtime_ms,
                lost,
            });
        }
    }

    fn lose(&mut self) -> bool {
        match self.loss {
            Loss::Random(p) => self.rng.chance(p),
            Loss::Burst { rate, mean_burst } => {
                let leave_bad = 1.0 / mean_burst.max(1.0);
                let enter_bad = (rate * leave_bad / (1.0 - rate).max(1e-9)).min(1.0);
                let flip = if self.bad_state { leave_bad } else { enter_bad };
                if self.rng.chance(flip) {
                    self.bad_state = !self.bad_state;
                }
                self.bad_state
            }
        }
    }

    /// What the sender's host reads when its frame has gone.
    fn tx_done(&self) -> Option<Vec<u8>> {
        match self.kind {
            Kind::Rnode => Some(kiss_frame(rnode::READY, &[0x01])),
            Kind::Rylr => Some(b"+OK\r\n".to_vec()),
            _ => None,
        }
    }

    /// What a receiving host reads for a frame heard.
    fn to_host(&self, bytes: &[u8]) -> Vec<u8> {
        match self.kind {
            Kind::Rnode => {
                let rssi = (RSSI_DBM + rnode::RSSI_OFFSET) as u8;
                let snr = (SNR_DB * 4) as u8;
                [
                    kiss_frame(rnode::STAT_RSSI, &[rssi]),
                    kiss_frame(rnode::STAT_SNR, &[snr]),
                    kiss_frame(rnode::DATA, bytes),
                ]
                .concat()
            }
            Kind::Rylr => {
                let mut line = format!("+RCV=0,{},", bytes.len()).into_bytes();
                line.extend_from_slice(bytes);
                line.extend(format!(",{RSSI_DBM},{SNR_DB}\r\n").into_bytes());
                line
            }
            Kind::Transparent => bytes.to_vec(),
            Kind::Kiss | Kind::Auto => kiss_frame(kiss::CMD_DATA, bytes),
        }
    }

    /// The next time `poll` has something to do, if any.
    pub fn next_wakeup(&self) -> Option<u64> {
        let ends = self.air.iter().map(|f| f.end);
        let tries = self
            .ports
            .iter()
            .filter(|p| !p.sending && !p.queue.is_empty())
            .map(|p| p.try_at);
        let gaps = self.ports.iter().filter_map(|p| match &p.host {
            Host::Transparent { buf, last_byte } if !buf.is_empty() => {
                Some(last_byte + UART_GAP_MS)
            }
            _ => None,
        });
        ends.chain(tries).chain(gaps).min()
    }
}

fn kiss_frame(command: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    kiss::encode(command, data, &mut out);
    out
}

/// The data field of `AT+SEND=<address>,<length>,<data>`, checked against
/// its length; the emulated module, like the real one, carries it as text.
fn send_data(rest: &[u8]) -> Option<&[u8]> {
    let mut parts = rest.splitn(3, |&b| b == b',');
    let _address = parts.next()?;
    let len: usize = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let data = parts.next()?;
    (data.len() == len && len <= rylr::MAX_DATA).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radio::modem::{self, Report, Settings};

    fn phy() -> Phy {
        Phy::new(7, 500_000, 5).unwrap()
    }

    fn settings() -> Settings {
        Settings {
            freq_hz: 869_525_000,
            bw_hz: 500_000,
            sf: 7,
            cr: 5,
            power_dbm: 14,
            preamble: 8,
            duty_cycle_pct: None,
        }
    }

    /// Runs the emulator until quiet, returning what each port read.
    fn settle(e: &mut Emulator, now: &mut u64, heard: &mut Vec<Heard>) -> Vec<Vec<u8>> {
        let mut read = vec![Vec::new(); e.ports.len()];
        for _ in 0..1000 {
            let out = e.poll(*now);
            for (p, b) in out.writes {
                read[p].extend(b);
            }
            heard.extend(out.heard);
            match e.next_wakeup() {
                Some(t) => *now = t.max(*now),
                None => break,
            }
        }
        read
    }

    #[test]
    fn each_kind_carries_a_frame_to_the_other_port() {
        for kind in [Kind::Rnode, Kind::Kiss, Kind::Rylr, Kind::Transparent] {
            let mut e = Emulator::new(kind, phy(), 2, Loss::Random(0.0), 1);
            let mut host = modem::driver(kind, settings());
            let mut far = modem::driver(kind, settings());
            let frame = b"\xc0\xdb any bytes \x00\x01".to_vec();
            let (mut now, mut heard) = (0, Vec::new());
            e.from_host(0, &host.encode(&frame), now);
            let read = settle(&mut e, &mut now, &mut heard);
            let reports = far.feed(&read[1]);
            assert!(
                reports.contains(&Report::Frame(frame.clone())),
                "{kind}: {reports:?}"
            );
            assert_eq!(heard.len(), 1);
            assert!(!heard[0].lost);
            let handed = host.encode(&frame).len();
            match kind {
                // The data field of AT+SEND, not the command around it.
                Kind::Rylr => assert_eq!(heard[0].bytes, rylr::base64(&frame).len()),
                Kind::Kiss | Kind::Rnode => assert_eq!(heard[0].bytes, frame.len()),
                _ => assert_eq!(heard[0].bytes, handed),
            }
            if host.flow_controlled() {
                assert!(host.feed(&read[0]).contains(&Report::Ready), "{kind}");
            }
        }
    }

    #[test]
    fn rnode_answers_detect_and_echoes_settings() {
        let mut e = Emulator::new(Kind::Rnode, phy(), 2, Loss::Random(0.0), 1);
        let replies = e.from_host(0, &modem::probe(), 0);
        assert_eq!(modem::identify(&replies[0].1), Some(Kind::Rnode));
        let mut r = Emulator::new(Kind::Rylr, phy(), 2, Loss::Random(0.0), 1);
        let replies = r.from_host(0, &modem::probe(), 0);
        assert_eq!(modem::identify(&replies.concat_bytes()), Some(Kind::Rylr));
    }

    trait Concat {
        fn concat_bytes(&self) -> Vec<u8>;
    }
    impl Concat for Vec<(usize, Vec<u8>)> {
        fn concat_bytes(&self) -> Vec<u8> {
            self.iter().flat_map(|(_, b)| b.clone()).collect()
        }
    }

    #[test]
    fn frames_starting_too_close_collide_and_carrier_sense_defers_the_rest() {
        let mut e = Emulator::new(Kind::Kiss, phy(), 2, Loss::Random(0.0), 1);
        let frame = kiss_frame(0, &[0x42; 20]);
        let (mut collided, mut deferred) = (0, 0);
        let mut now = 0;
        for _ in 0..50 {
            let mut heard = Vec::new();
            e.from_host(0, &frame, now);
            e.from_host(1, &frame, now);
            settle(&mut e, &mut now, &mut heard);
            assert_eq!(heard.len(), 2);
            let gap = heard[0].start_ms.abs_diff(heard[1].start_ms);
            if gap < DETECT_MS {
                assert!(heard.iter().all(|h| h.lost), "{heard:?}");
                collided += 1;
            } else {
                assert!(heard.iter().all(|h| !h.lost), "{heard:?}");
                let first = heard.iter().map(|h| h.start_ms).min().unwrap();
                assert!(
                    gap >= heard[0].airtime_ms as u64,
                    "waited for the first: {first}"
                );
                deferred += 1;
            }
            now += 1000;
        }
        assert!(collided > 0 && deferred > collided, "{collided} {deferred}");
    }

    #[test]
    fn a_late_poll_does_not_make_modems_collide() {
        let mut e = Emulator::new(Kind::Kiss, phy(), 2, Loss::Random(0.0), 1);
        let frame = kiss_frame(0, &[0x42; 20]);
        e.from_host(0, &frame, 0);
        e.from_host(1, &frame, 0);
        e.ports[0].try_at = 0;
        e.ports[1].try_at = DETECT_MS + 1;
        // The first poll comes long after both backoffs ended.
        let (mut now, mut heard) = (500, Vec::new());
        settle(&mut e, &mut now, &mut heard);
        assert_eq!(heard.len(), 2);
        assert!(heard.iter().all(|h| !h.lost), "{heard:?}");
        assert_eq!(heard[0].start_ms, 0);
    }

    #[test]
    fn losses_random_and_in_bursts_match_their_rate() {
        for loss in [
            Loss::Random(0.2),
            Loss::Burst {
                rate: 0.2,
                mean_burst: 4.0,
            },
        ] {
            let mut e = Emulator::new(Kind::Kiss, phy(), 2, loss, 3);
            let lost = (0..5000).filter(|_| e.lose()).count();
            assert!((800..1200).contains(&lost), "{loss:?}: {lost}");
        }
    }

    #[test]
    fn a_transparent_module_sends_after_uart_silence_in_sub_packets() {
        let mut e = Emulator::new(Kind::Transparent, phy(), 2, Loss::Random(0.0), 1);
        let (mut now, mut heard) = (0, Vec::new());
        e.from_host(0, &[0x11; 300], now);
        let read = settle(&mut e, &mut now, &mut heard);
        assert_eq!(heard.iter().map(|h| h.bytes).collect::<Vec<_>>(), [240, 60]);
        assert_eq!(read[1], [0x11; 300]);
    }
}
