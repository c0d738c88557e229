//! The radio link layer: many SOLEC connections over one lossy, half-duplex
//! LoRa link, exactly once and in order.
//!
//! Sans-IO and driven by the caller's clock (milliseconds): the driver
//! hands in local events ([`Link::open`], [`Link::send`], [`Link::close`])
//! and received frames ([`Link::receive`]), asks for the next frame to put
//! on air ([`Link::poll_transmit`]) whenever the modem can take one, and
//! sleeps until [`Link::poll_timeout`]. Nothing here performs IO or reads
//! a clock, so the tests run hours of traffic on a virtual clock.
//!
//! Records (see `radio::record`) form one ordered stream per direction,
//! cut into frames of at most the MTU. A frame is:
//!
//! ```text
//! header u8      bits 7-6: 0 data, 1 ack, 2 data and ack, 3 extended;
//!                bits 5-3: the data's sequence number mod 8 (else 0);
//!                bits 2-0: the cumulative ack mod 8 (else 0)
//! [flags u8]     extended only: bit 0 data, bit 1 ack, bit 2 a sack
//!                byte follows, bit 3 the epoch follows; others zero
//! [epoch u16]    big-endian, chosen at random when the sender started
//! [sack u8]      bit i set: frame ack + 1 + i has arrived
//! [data]         with data: the stream bytes, at least one
//! ```
//!
//! Sequence numbers count frames modulo 256 inside the link but travel
//! modulo 8: with at most [`WINDOW`] = 4 frames unacknowledged, a frame
//! that arrives is at most 4 behind or 3 ahead of the receiver's next
//! expected one, and an ack names one of at most 5 values past the
//! sender's oldest unacknowledged frame, so 8 values are never ambiguous.
//! A bare ack is one byte, and so is the header of a data frame that
//! carries one.
//!
//! The bitmap covers every frame after a gap. A missing frame is resent when a later one is
//! acknowledged, or (one frame, as a probe) when the retransmission timer,
//! derived from the frames' airtime, runs out. Acks ride on data frames;
//! a bare ack waits [`Config::ack_delay_ms`] for a reply to carry it, and
//! new data waits [`Config::coalesce_ms`] for more to share its frame. An
//! idle link sends nothing at all.
//!
//! Each end announces its epoch on every frame until the peer has
//! acknowledged a data frame that carried it. An end that hears a new
//! epoch from a peer it knew has met a restarted peer: every connection
//! ends and both directions start again from sequence 0 with fresh
//! compression state. An end that has not yet heard the peer's epoch
//! ignores its frames and answers with an ack that announces its own.
//! An end whose incoming stream turns out malformed starts over the same
//! way, under a new epoch, so that its peer does too.

use super::airtime::Phy;
use super::cursor::{Cursor, ErrorKind, RadioError};
use super::ledger::Ledger;
use super::record::{ConnId, Decoder, Encoder, Record};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Header kinds, bits 7-6.
pub mod kind {
    pub const DATA: u8 = 0;
    pub const ACK: u8 = 1;
    pub const DATA_ACK: u8 = 2;
    pub const EXTENDED: u8 = 3;
}

/// Flags byte of an extended header.
pub const FLAG_DATA: u8 = 0x01;
pub const FLAG_ACK: u8 = 0x02;
pub const FLAG_SACK: u8 = 0x04;
pub const FLAG_EPOCH: u8 = 0x08;

/// Sequence numbers and acks travel modulo 8.
const SEQ_MASK: u8 = 0x07;

/// The most header bytes a frame takes: header, flags, epoch, sack.
pub const MAX_HEADER: usize = 5;

/// Unacknowledged frames in flight at most, so that 3-bit sequence numbers
/// and acks are never ambiguous.
pub const WINDOW: u8 = 4;

/// The smallest MTU a link runs with: room for a header and some data.
pub const MIN_MTU: usize = 12;

/// Timer doublings at most, so a long outage still probes now and then.
pub const MAX_BACKOFF: u32 = 5;

/// Slack added to each retransmission timeout for serial and processing
/// delays on both ends.
pub const RTO_MARGIN_MS: f64 = 300.0;

/// What the link needs to know about its radio.
#[derive(Debug, Clone)]
pub struct Config {
    pub phy: Phy,
    /// Largest frame the link hands the modem, in bytes.
    pub mtu: usize,
    /// Bytes the modem adds on air to each frame (RNode's 1-byte header,
    /// transparent framing's length and CRC).
    pub overhead: usize,
    /// The modem carries frames as Base64 text (RYLR): 4 bytes on air per 3.
    pub base64: bool,
    /// Duty cycle as a fraction, if one applies.
    pub duty_cycle: Option<f64>,
    /// Longest single transmission, in ms, if limited.
    pub max_dwell_ms: Option<f64>,
    /// How long a bare ack waits for outgoing data to ride on.
    pub ack_delay_ms: u64,
    /// How long new data waits for more to share its frame (every frame
    /// costs a preamble and a header on air), unless it fills a frame or
    /// an ack is going anyway.
    pub coalesce_ms: u64,
    /// This end's epoch: a value unlikely to repeat across restarts.
    pub epoch: u16,
}

/// A configuration the radio or region cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl Config {
    /// Checks the MTU against the dwell limit and shrinks it to fit.
    pub fn checked(mut self) -> Result<Config, ConfigError> {
        if let Some(dwell) = self.max_dwell_ms {
            while self.mtu > 0 && self.phy.airtime_ms(self.on_air_bytes(self.mtu)) > dwell {
                self.mtu -= 1;
            }
        }
        if self.mtu < MIN_MTU {
            return Err(ConfigError(format!(
                "frames of at least {MIN_MTU} bytes must fit the modem and the dwell limit, but only {} do at SF{} and {} kHz",
                self.mtu,
                self.phy.sf,
                f64::from(self.phy.bw_hz) / 1000.0
            )));
        }
        Ok(self)
    }

    /// Airtime of a frame of `bytes` as handed to the modem.
    pub fn airtime_ms(&self, bytes: usize) -> f64 {
        self.phy.airtime_ms(self.on_air_bytes(bytes))
    }

    /// Bytes on air for a frame of `bytes`.
    pub fn on_air_bytes(&self, bytes: usize) -> usize {
        let carried = if self.base64 {
            (bytes * 4).div_ceil(3)
        } else {
            bytes
        };
        carried + self.overhead
    }

    /// The retransmission timeout before backoff: a full frame of the
    /// peer's might be on air, then its ack after the ack delay.
    pub fn rto_ms(&self) -> f64 {
        2.0 * self.airtime_ms(self.mtu) + self.ack_delay_ms as f64 + RTO_MARGIN_MS
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    pub epoch: Option<u16>,
    pub ack: Option<Ack>,
    pub data: Option<(u8, &'a [u8])>,
}

/// A cumulative ack and its selective bitmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub next: u8,
    pub sack: u8,
}

impl<'a> Frame<'a> {
    pub fn decode(buf: &'a [u8]) -> Result<Frame<'a>, RadioError> {
        let mut c = Cursor::new(buf);
        let header = c.u8("header")?;
        let (seq, ack_next) = (header >> 3 & SEQ_MASK, header & SEQ_MASK);
        let invalid = |value: u8, field, offset| {
            RadioError::new(
                ErrorKind::Invalid {
                    value: u64::from(value),
                },
                field,
                offset,
            )
        };
        let flags = match header >> 6 {
            kind::DATA => FLAG_DATA,
            kind::ACK => FLAG_ACK,
            kind::DATA_ACK => FLAG_DATA | FLAG_ACK,
            _ => c.u8("flags")?,
        };
        // Unused fields are zero, and a frame carries data or an ack; a
        // sack needs an ack. Anything else is damaged, or not ours.
        let reserved = !(FLAG_DATA | FLAG_ACK | FLAG_SACK | FLAG_EPOCH);
        if flags & reserved != 0
            || flags & (FLAG_DATA | FLAG_ACK) == 0
            || (flags & FLAG_SACK != 0 && flags & FLAG_ACK == 0)
            || (flags & FLAG_DATA == 0 && seq != 0)
            || (flags & FLAG_ACK == 0 && ack_next != 0)
        {
            let at = if header >> 6 == kind::EXTENDED { 1 } else { 0 };
            return Err(invalid(if at == 1 { flags } else { header }, "header", at));
        }
        let epoch = if flags & FLAG_EPOCH != 0 {
            Some(c.u16("epoch")?)
        } else {
            None
        };
        let ack = if flags & FLAG_ACK != 0 {
            let sack = if flags & FLAG_SACK != 0 {
                c.u8("sack")?
            } else {
                0
            };
            Some(Ack {
                next: ack_next,
                sack,
            })
        } else {
            None
        };
        let data = if flags & FLAG_DATA != 0 {
            let bytes = c.rest();
            if bytes.is_empty() {
                return Err(RadioError::new(
                    ErrorKind::Truncated {
                        needed: 1,
                        available: 0,
                    },
                    "data",
                    c.offset(),
                ));
            }
            Some((seq, bytes))
        } else {
            None
        };
        c.finish()?;
        Ok(Frame { epoch, ack, data })
    }

    /// Appends the frame. Sequence numbers and acks go on the wire modulo
    /// 8; only their low three bits are used.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut flags = 0;
        let (mut seq, mut next) = (0, 0);
        if let Some((s, _)) = self.data {
            flags |= FLAG_DATA;
            seq = s & SEQ_MASK;
        }
        if let Some(ack) = self.ack {
            flags |= FLAG_ACK;
            next = ack.next & SEQ_MASK;
            if ack.sack != 0 {
                flags |= FLAG_SACK;
            }
        }
        if self.epoch.is_some() {
            flags |= FLAG_EPOCH;
        }
        let kind = match flags {
            FLAG_DATA => kind::DATA,
            FLAG_ACK => kind::ACK,
            f if f == FLAG_DATA | FLAG_ACK => kind::DATA_ACK,
            _ => kind::EXTENDED,
        };
        out.push(kind << 6 | seq << 3 | next);
        if kind == kind::EXTENDED {
            out.push(flags);
        }
        if let Some(epoch) = self.epoch {
            out.extend_from_slice(&epoch.to_be_bytes());
        }
        if let Some(ack) = self.ack.filter(|a| a.sack != 0) {
            out.push(ack.sack);
        }
        if let Some((_, bytes)) = self.data {
            out.extend_from_slice(bytes);
        }
    }
}

/// What the link tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The peer opened a connection: connect it locally.
    Opened(ConnId),
    /// A whole SOLEC PDU for a local connection, in order, once.
    Pdu(ConnId, Vec<u8>),
    /// The peer's side of a connection ended.
    Closed(ConnId),
}

/// One frame to put on air now.
#[derive(Debug, Clone, PartialEq)]
pub struct Transmit {
    pub bytes: Vec<u8>,
    pub airtime_ms: f64,
    /// The frame carries data resent after a loss.
    pub resend: bool,
    /// The frame carries only an ack.
    pub bare_ack: bool,
}

/// Counters for logs and tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub frames_sent: u64,
    pub bytes_sent: u64,
    pub airtime_ms: f64,
    pub resent: u64,
    pub bare_acks: u64,
    pub duplicates: u64,
    pub bad_frames: u64,
}

#[derive(Debug)]
struct Inflight {
    seq: u8,
    bytes: Vec<u8>,
    /// The order in which frames were last put on air.
    sent_order: u64,
    sacked: bool,
    resend: bool,
    /// Last sent carrying this end's epoch.
    with_epoch: bool,
}

/// A frame built but not yet committed to.
struct Pending {
    bytes: Vec<u8>,
    /// The data frame's sequence number; `None` for a bare ack.
    seq: Option<u8>,
    resend: bool,
    /// Stream bytes leaving `unsent` with this frame.
    new: Option<Vec<u8>>,
}

#[derive(Debug, Default)]
struct Conn {
    sent_close: bool,
    got_close: bool,
}

/// Why a received frame was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiveError {
    /// The frame is malformed (or not a solec frame).
    Frame(RadioError),
    /// The record stream is malformed: the peer speaks something else.
    Stream(RadioError),
}

/// One end of a radio link.
#[derive(Debug)]
pub struct Link {
    cfg: Config,
    ledger: Ledger,
    // Sending.
    encoder: Encoder,
    unsent: VecDeque<u8>,
    /// When the link first saw `unsent` non-empty.
    unsent_since: Option<u64>,
    next_seq: u8,
    inflight: VecDeque<Inflight>,
    sent_order: u64,
    rto_at: Option<u64>,
    backoff: u32,
    // Receiving.
    decoder: Decoder,
    expect: u8,
    /// Frames that arrived after a gap, by sequence number.
    early: BTreeMap<u8, Vec<u8>>,
    stream: Vec<u8>,
    ack_at: Option<u64>,
    broken: Option<RadioError>,
    events: VecDeque<Event>,
    // Epochs.
    /// Frames carry this end's epoch until the peer has acknowledged it.
    announce: bool,
    peer_epoch: Option<u16>,
    // Connections.
    conns: HashMap<ConnId, Conn>,
    next_conn: u8,
    pub stats: Stats,
}

impl Link {
    pub fn new(cfg: Config) -> Link {
        Link {
            ledger: Ledger::new(cfg.duty_cycle, cfg.max_dwell_ms),
            cfg,
            encoder: Encoder::new(),
            unsent: VecDeque::new(),
            unsent_since: None,
            next_seq: 0,
            inflight: VecDeque::new(),
            sent_order: 0,
            rto_at: None,
            backoff: 0,
            decoder: Decoder::new(),
            expect: 0,
            early: BTreeMap::new(),
            stream: Vec::new(),
            ack_at: None,
            broken: None,
            events: VecDeque::new(),
            announce: true,
            peer_epoch: None,
            conns: HashMap::new(),
            next_conn: 0,
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// A new local connection to carry; `None` when 128 are open already.
    pub fn open(&mut self) -> Option<ConnId> {
        let id = (0..=ConnId::MAX_N)
            .map(|i| ConnId {
                mine: true,
                n: (self.next_conn + i) % (ConnId::MAX_N + 1),
            })
            .find(|id| !self.conns.contains_key(id))?;
        self.next_conn = (id.n + 1) % (ConnId::MAX_N + 1);
        self.conns.insert(id, Conn::default());
        self.push(&Record::Open(id));
        Some(id)
    }

    /// One whole SOLEC PDU from a local connection. Returns the bytes its
    /// record takes on the stream (before frame headers), or `None` when
    /// the connection is closed and the PDU dropped.
    pub fn send(&mut self, id: ConnId, pdu: &[u8]) -> Option<usize> {
        if self.conns.get(&id).is_some_and(|c| !c.sent_close) {
            Some(self.push(&Record::Pdu(id, pdu.to_vec())))
        } else {
            None
        }
    }

    /// The local side of a connection ended (or could not be made).
    pub fn close(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if !conn.sent_close {
            conn.sent_close = true;
            let done = conn.got_close;
            self.push(&Record::Close(id));
            if done {
                self.conns.remove(&id);
            }
        }
    }

    /// Stream bytes not yet acknowledged or not yet sent: the driver stops
    /// reading local connections while this is large, so messages wait on
    /// the server rather than in memory.
    pub fn backlog(&self) -> usize {
        self.unsent.len() + self.inflight.iter().map(|f| f.bytes.len()).sum::<usize>()
    }

    /// Whether everything sent has been acknowledged.
    pub fn is_idle(&self) -> bool {
        self.unsent.is_empty() && self.inflight.is_empty() && self.ack_at.is_none()
    }

    fn push(&mut self, record: &Record) -> usize {
        let mut bytes = Vec::new();
        self.encoder.encode(record, &mut bytes);
        let len = bytes.len();
        self.unsent.extend(bytes);
        len
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// A frame from the modem.
    pub fn receive(&mut self, bytes: &[u8], now: u64) -> Result<(), ReceiveError> {
        let frame = Frame::decode(bytes).map_err(|e| {
            self.stats.bad_frames += 1;
            ReceiveError::Frame(e)
        })?;
        if !self.check_epoch(frame.epoch, now) {
            return Ok(());
        }
        if let Some(ack) = frame.ack {
            self.on_ack(ack, now);
        }
        if let Some((seq, data)) = frame.data {
            self.on_data(seq, data, now);
        }
        match self.broken.take() {
            Some(e) => {
                // The streams no longer agree: start over under a new epoch,
                // which makes the peer start over too.
                self.cfg.epoch = self.cfg.epoch.wrapping_add(1);
                self.reset();
                self.ack_at = Some(now);
                Err(ReceiveError::Stream(e))
            }
            None => Ok(()),
        }
    }

    /// Whether to use a frame, resetting the link if the peer restarted.
    fn check_epoch(&mut self, epoch: Option<u16>, now: u64) -> bool {
        match (epoch, self.peer_epoch) {
            (Some(e), Some(known)) if e == known => true,
            (Some(e), Some(_)) => {
                self.reset();
                self.peer_epoch = Some(e);
                true
            }
            (Some(e), None) => {
                self.peer_epoch = Some(e);
                true
            }
            (None, Some(_)) => true,
            (None, None) => {
                // The peer knew an earlier run of this end: tell it ours.
                self.ack_at = Some(now);
                false
            }
        }
    }

    /// The peer restarted: its connections and both streams are gone.
    fn reset(&mut self) {
        let mut open: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.got_close)
            .map(|(id, _)| *id)
            .collect();
        open.sort();
        self.events.extend(open.into_iter().map(Event::Closed));
        *self = Link {
            stats: std::mem::take(&mut self.stats),
            events: std::mem::take(&mut self.events),
            next_conn: self.next_conn,
            ledger: self.ledger.clone(),
            ..Link::new(self.cfg.clone())
        };
    }

    fn on_data(&mut self, wire_seq: u8, data: &[u8], now: u64) {
        // Ack every data frame, duplicates too: the ack that would have
        // stopped the resend may be what was lost.
        self.ack_at = Some(now + self.cfg.ack_delay_ms);
        // 0..4 ahead of the next expected frame; 4..8 means 4..1 behind.
        let ahead = wire_seq.wrapping_sub(self.expect) & SEQ_MASK;
        let seq = self.expect.wrapping_add(ahead);
        if ahead >= WINDOW || (ahead > 0 && self.early.contains_key(&seq)) {
            self.stats.duplicates += 1;
            return;
        }
        if ahead > 0 {
            self.early.insert(seq, data.to_vec());
            return;
        }
        self.stream.extend_from_slice(data);
        self.expect = self.expect.wrapping_add(1);
        while let Some(bytes) = self.early.remove(&self.expect) {
            self.stream.extend_from_slice(&bytes);
            self.expect = self.expect.wrapping_add(1);
        }
        self.read_records();
    }

    fn read_records(&mut self) {
        if self.broken.is_some() {
            return;
        }
        let mut at = 0;
        loop {
            match self.decoder.decode(&self.stream[at..]) {
                Ok(Some((record, used))) => {
                    at += used;
                    self.deliver(record);
                }
                Ok(None) => break,
                Err(e) => {
                    self.broken = Some(e);
                    break;
                }
            }
        }
        self.stream.drain(..at);
    }

    fn deliver(&mut self, record: Record) {
        match record {
            Record::Open(id) => {
                self.conns.insert(id, Conn::default());
                self.events.push_back(Event::Opened(id));
            }
            Record::Pdu(id, pdu) => {
                if self.conns.get(&id).is_some_and(|c| !c.got_close) {
                    self.events.push_back(Event::Pdu(id, pdu));
                }
            }
            Record::Close(id) => {
                if let Some(conn) = self.conns.get_mut(&id) {
                    conn.got_close = true;
                    if conn.sent_close {
                        self.conns.remove(&id);
                    }
                    self.events.push_back(Event::Closed(id));
                }
            }
        }
    }

    fn on_ack(&mut self, ack: Ack, now: u64) {
        let Some(base) = self.inflight.front().map(|f| f.seq) else {
            return;
        };
        let acked = ack.next.wrapping_sub(base) & SEQ_MASK;
        if usize::from(acked) > self.inflight.len() {
            return; // Older than what is in flight, or nonsense.
        }
        let ack = Ack {
            next: base.wrapping_add(acked),
            ..ack
        };
        let mut progress = acked > 0;
        let mut proof = false;
        for f in self.inflight.drain(..usize::from(acked)) {
            proof |= f.with_epoch;
        }
        let mut newest_sacked = None;
        for f in &mut self.inflight {
            let bit = f.seq.wrapping_sub(ack.next).wrapping_sub(1);
            if bit < 8 && ack.sack & (1 << bit) != 0 {
                if !f.sacked {
                    f.sacked = true;
                    progress = true;
                    proof |= f.with_epoch;
                }
                newest_sacked = newest_sacked.max(Some(f.sent_order));
            }
        }
        // A frame put on air before one that arrived, and not itself
        // acknowledged, was lost: the channel keeps order.
        if let Some(newest) = newest_sacked {
            for f in &mut self.inflight {
                if !f.sacked && f.sent_order < newest {
                    f.resend = true;
                }
            }
        }
        if proof {
            self.announce = false;
        }
        if progress {
            self.backoff = 0;
            self.rto_at = self.pending_inflight().then(|| now + self.rto_now());
        }
    }

    fn pending_inflight(&self) -> bool {
        self.inflight.iter().any(|f| !f.sacked)
    }

    fn rto_now(&self) -> u64 {
        (self.cfg.rto_ms() * f64::from(1u32 << self.backoff)).ceil() as u64
    }

    /// Fires the retransmission timer if it is due.
    fn check_timer(&mut self, now: u64) {
        if self.rto_at.is_some_and(|t| now >= t) {
            self.rto_at = None;
            if let Some(f) = self.inflight.iter_mut().find(|f| !f.sacked) {
                f.resend = true;
                self.backoff = (self.backoff + 1).min(MAX_BACKOFF);
            }
        }
    }

    /// The frame to transmit now, if any is due and the airtime budget
    /// allows it. Call whenever the modem can take a frame.
    pub fn poll_transmit(&mut self, now: u64) -> Option<Transmit> {
        self.check_timer(now);
        if !self.unsent.is_empty() && self.unsent_since.is_none() {
            self.unsent_since = Some(now);
        }
        let ack_due = self.ack_at.is_some_and(|t| now >= t);
        let Pending {
            bytes,
            seq,
            resend,
            new,
        } = self.next_frame(ack_due, now)?;
        let airtime_ms = self.cfg.airtime_ms(bytes.len());
        if self.ledger.earliest(now, airtime_ms) != Some(now) {
            return None;
        }
        self.ledger.record(now, airtime_ms);
        if let Some(chunk) = new {
            self.unsent.drain(..chunk.len());
            if self.unsent.is_empty() {
                self.unsent_since = None;
            }
            self.inflight.push_back(Inflight {
                seq: self.next_seq,
                bytes: chunk,
                sent_order: 0,
                sacked: false,
                resend: false,
                with_epoch: false,
            });
            self.next_seq = self.next_seq.wrapping_add(1);
        }
        if let Some(seq) = seq {
            self.sent_order += 1;
            let order = self.sent_order;
            let with_epoch = self.announce;
            if let Some(f) = self.inflight.iter_mut().find(|f| f.seq == seq) {
                f.sent_order = order;
                f.resend = false;
                f.with_epoch = with_epoch;
            }
            let rto = self.rto_now();
            self.rto_at = Some(now + airtime_ms.ceil() as u64 + rto);
        }
        self.ack_at = None;
        self.stats.frames_sent += 1;
        self.stats.bytes_sent += bytes.len() as u64;
        self.stats.airtime_ms += airtime_ms;
        self.stats.resent += u64::from(resend);
        self.stats.bare_acks += u64::from(seq.is_none());
        Some(Transmit {
            bytes,
            airtime_ms,
            resend,
            bare_ack: seq.is_none(),
        })
    }

    /// Builds the frame that would go now, if any.
    fn next_frame(&self, ack_due: bool, now: u64) -> Option<Pending> {
        let ack = self.ack_at.map(|_| self.ack());
        let epoch = self.announce.then_some(self.cfg.epoch);
        let mut bytes = Vec::new();
        if let Some(f) = self.inflight.iter().find(|f| f.resend && !f.sacked) {
            Frame {
                epoch,
                ack,
                data: Some((f.seq, &f.bytes)),
            }
            .encode(&mut bytes);
            return Some(Pending {
                bytes,
                seq: Some(f.seq),
                resend: true,
                new: None,
            });
        }
        if self.data_ready(ack_due, now) && self.inflight.len() < usize::from(WINDOW) {
            let n = self.unsent.len().min(self.cfg.mtu - MAX_HEADER);
            let chunk: Vec<u8> = self.unsent.iter().take(n).copied().collect();
            Frame {
                epoch,
                ack,
                data: Some((self.next_seq, &chunk)),
            }
            .encode(&mut bytes);
            return Some(Pending {
                bytes,
                seq: Some(self.next_seq),
                resend: false,
                new: Some(chunk),
            });
        }
        if ack_due {
            Frame {
                epoch,
                ack,
                data: None,
            }
            .encode(&mut bytes);
            return Some(Pending {
                bytes,
                seq: None,
                resend: false,
                new: None,
            });
        }
        None
    }

    /// Whether new data goes now: it fills a frame, it has waited long
    /// enough for company, or an ack is going anyway.
    fn data_ready(&self, ack_due: bool, now: u64) -> bool {
        !self.unsent.is_empty()
            && (ack_due
                || self.unsent.len() >= self.cfg.mtu - MAX_HEADER
                || self
                    .unsent_since
                    .is_some_and(|t| now >= t + self.cfg.coalesce_ms))
    }

    fn ack(&self) -> Ack {
        let sack = self
            .early
            .keys()
            .map(|&seq| seq.wrapping_sub(self.expect))
            .filter(|ahead| (1..=8).contains(ahead))
            .fold(0u8, |m, ahead| m | 1 << (ahead - 1));
        Ack {
            next: self.expect,
            sack,
        }
    }

    /// When a frame is due but the airtime budget holds it back: the time
    /// it may go.
    pub fn held_until(&self, now: u64) -> Option<u64> {
        let ack_due = self.ack_at.is_some_and(|t| now >= t);
        let next = self.next_frame(ack_due, now)?;
        let t = self
            .ledger
            .earliest(now, self.cfg.airtime_ms(next.bytes.len()))?;
        (t > now).then_some(t)
    }

    /// When the driver should call [`Link::poll_transmit`] next, if nothing
    /// else happens first. `None`: the link is idle and needs no call.
    pub fn poll_timeout(&self, now: u64) -> Option<u64> {
        let mut at: Option<u64> = None;
        let mut consider = |t: u64| at = Some(at.map_or(t, |a| a.min(t)));
        // An ack already due goes with the next frame the budget allows.
        if let Some(t) = self.ack_at.filter(|&t| t > now) {
            consider(t);
        }
        if let Some(t) = self.rto_at {
            consider(t);
        }
        if !self.unsent.is_empty() {
            // New data goes once it has waited for company (or now, if the
            // link has not looked at it yet); once due, only the window or
            // the budget holds it, and those have their own times.
            match self.unsent_since {
                None => consider(now),
                Some(t) if t + self.cfg.coalesce_ms > now => consider(t + self.cfg.coalesce_ms),
                Some(_) => {}
            }
        }
        let ack_due = self.ack_at.is_some_and(|t| now >= t);
        if let Some(next) = self.next_frame(ack_due, now) {
            let airtime = self.cfg.airtime_ms(next.bytes.len());
            // A frame that can never fit would have been refused by Config::checked.
            if let Some(t) = self.ledger.earliest(now, airtime) {
                consider(t);
            }
        }
        at
    }
}

#[cfg(test)]
mod tests;
