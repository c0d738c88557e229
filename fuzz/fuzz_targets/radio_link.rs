//! Fuzz target `radio_link`: two ends of the radio link layer
//! (`solec::radio::link::Link`) joined by a channel the fuzzer controls,
//! on a virtual clock.
//!
//! The fuzzer chooses what each end's driver does (open, send a PDU,
//! close, let time pass, poll for a frame) and what the channel does with
//! each frame (deliver it, lose it, deliver it twice), and it may put
//! damaged frames or bytes of its own on air. For every input it checks
//! that
//! - nothing panics, whatever arrives;
//! - every frame that decodes re-encodes to a frame that decodes the same;
//! - one `receive` yields a bounded number of events;
//! - every PDU an end delivers is a whole SOLEC frame;
//! - while only real frames travel (lost or duplicated, never reordered
//!   or damaged): every frame is accepted, and what each end delivers is,
//!   in order, a prefix of what the other end sent (opens, PDUs byte for
//!   byte, closes); once the input is spent, a lossless channel brings
//!   both ends to idle within a bounded number of steps with everything
//!   delivered exactly once.
//!
//! The input is read with `arbitrary::Unstructured`: first the link
//! settings, then one byte per operation and its arguments, up to
//! [`MAX_OPS`].

#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use solec::proto::{self, Pdu};
use solec::radio::airtime::Phy;
use solec::radio::link::{Config, Event, Frame, Link, MIN_MTU};
use solec::radio::record::ConnId;
use std::collections::VecDeque;

/// Operations per input at most.
const MAX_OPS: usize = 128;
/// Steps the lossless channel gets to bring both ends to idle.
const SETTLE_STEPS: usize = 20_000;
/// Largest payload of a PDU the fuzzer sends.
const MAX_PAYLOAD: usize = 120;
/// Connections a record stream can name at most (two id spaces of 128).
const MAX_CONNS: usize = 256;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mut pair) = Pair::new(&mut u) else {
        return;
    };
    for _ in 0..MAX_OPS {
        if u.is_empty() || pair.step(&mut u).is_err() {
            break;
        }
    }
    if pair.clean {
        pair.settle();
    }
});

/// What one end's driver asked its link to carry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Record {
    Open(ConnId),
    Pdu(ConnId, Vec<u8>),
    Close(ConnId),
}

struct End {
    link: Link,
    /// Records this end's link accepted to send, in order.
    sent: Vec<Record>,
    /// Events this end's link delivered, in order.
    got: Vec<Event>,
    /// Connections the driver knows of (opened here or by the peer).
    conns: Vec<ConnId>,
}

struct Pair {
    ends: [End; 2],
    /// Frames on air, per direction: `air[i]` goes from end i to the other.
    air: [VecDeque<Vec<u8>>; 2],
    now: u64,
    /// Only real frames, in order, have travelled so far.
    clean: bool,
}

impl Pair {
    fn new(u: &mut Unstructured<'_>) -> Result<Pair> {
        let sf = u.int_in_range(7..=12)?;
        let phy = Phy::new(sf, 125_000, 5).expect("a LoRa setting");
        let cfg = Config {
            phy,
            mtu: *u.choose(&[MIN_MTU, 13, 40, 200, 255])?,
            overhead: u.int_in_range(0..=3)?,
            base64: u.arbitrary()?,
            duty_cycle: u.arbitrary::<bool>()?.then_some(0.1),
            max_dwell_ms: None,
            ack_delay_ms: u.int_in_range(0..=300)?,
            coalesce_ms: u.int_in_range(0..=100)?,
            epoch: u.arbitrary()?,
        };
        let cfg = cfg.checked().expect("no dwell limit");
        let other = Config {
            epoch: u.arbitrary()?,
            ..cfg.clone()
        };
        // Two ends of the same epoch look like one end that never restarted.
        if other.epoch == cfg.epoch {
            return Err(libfuzzer_sys::arbitrary::Error::IncorrectFormat);
        }
        Ok(Pair {
            ends: [End::new(cfg), End::new(other)],
            air: [VecDeque::new(), VecDeque::new()],
            now: 0,
            clean: true,
        })
    }

    fn step(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let side = usize::from(u.arbitrary::<bool>()?);
        match u.int_in_range(0u8..=13)? {
            0 => self.ends[side].open(),
            1..=3 => {
                let pdu = pdu(u)?;
                let end = &mut self.ends[side];
                if let Some(&id) = u.choose(&end.conns).ok() {
                    end.send(id, pdu);
                }
            }
            4 => {
                let end = &mut self.ends[side];
                if let Some(&id) = u.choose(&end.conns).ok() {
                    end.close(id);
                }
            }
            5 => self.now += u.int_in_range(0..=5_000)?,
            6 => {
                if let Some(t) = self.ends[side].link.poll_timeout(self.now) {
                    self.now = self.now.max(t);
                }
            }
            7 | 8 => {
                self.transmit(side);
            }
            9 | 10 => {
                if let Some(bytes) = self.air[side].pop_front() {
                    self.deliver(side, &bytes);
                }
            }
            11 => {
                self.air[side].pop_front();
            }
            12 => {
                if let Some(bytes) = self.air[side].front().cloned() {
                    self.deliver(side, &bytes);
                }
            }
            _ => {
                // Damage: bytes of the fuzzer's own, or a real frame with
                // one byte changed.
                let mut bytes = match self.air[side].pop_front() {
                    Some(b) if u.arbitrary()? => b,
                    _ => {
                        let len = u.int_in_range(0..=64)?;
                        u.bytes(len)?.to_vec()
                    }
                };
                if let Some(i) = (!bytes.is_empty()).then(|| u.choose_index(bytes.len())) {
                    bytes[i?] ^= u.int_in_range(1..=255)?;
                }
                self.clean = false;
                self.deliver(side, &bytes);
            }
        }
        Ok(())
    }

    fn transmit(&mut self, side: usize) -> bool {
        let Some(t) = self.ends[side].link.poll_transmit(self.now) else {
            return false;
        };
        assert!(t.bytes.len() <= self.ends[side].link.config().mtu);
        assert!(t.airtime_ms > 0.0);
        self.air[side].push_back(t.bytes);
        true
    }

    /// Hands a frame from end `from` to the other end.
    fn deliver(&mut self, from: usize, bytes: &[u8]) {
        check_frame(bytes);
        let to = 1 - from;
        let end = &mut self.ends[to];
        let result = end.link.receive(bytes, self.now);
        if self.clean {
            assert_eq!(result, Ok(()), "a real frame refused: {bytes:02x?}");
        }
        let before = end.got.len();
        while let Some(event) = end.link.poll_event() {
            match &event {
                Event::Opened(id) => end.conns.push(*id),
                Event::Pdu(_, pdu) => check_pdu(pdu),
                Event::Closed(_) => {}
            }
            end.got.push(event);
        }
        let events = end.got.len() - before;
        assert!(events <= bytes.len() + MAX_CONNS, "{events} events");
        if self.clean {
            let sent = self.ends[from].sent.iter().map(as_received);
            let got = &self.ends[to].got;
            assert!(
                got.iter().cloned().eq(sent.take(got.len())),
                "end {to} got something else than end {from} sent"
            );
        }
    }

    /// A lossless channel: both ends poll and deliver at once until idle.
    fn settle(&mut self) {
        for side in 0..2 {
            while let Some(bytes) = self.air[side].pop_front() {
                self.deliver(side, &bytes);
            }
        }
        for _ in 0..SETTLE_STEPS {
            let mut sent = false;
            for side in 0..2 {
                if self.transmit(side) {
                    sent = true;
                    let bytes = self.air[side].pop_front().expect("just sent");
                    self.deliver(side, &bytes);
                }
            }
            if sent {
                continue;
            }
            let next = (0..2)
                .filter_map(|i| self.ends[i].link.poll_timeout(self.now))
                .min();
            match next {
                Some(t) => self.now = self.now.max(t).max(self.now + 1),
                None => break,
            }
        }
        for side in 0..2 {
            let (end, peer) = (&self.ends[side], &self.ends[1 - side]);
            assert!(end.link.is_idle(), "end {side} not idle after settling");
            let sent: Vec<Event> = peer.sent.iter().map(as_received).collect();
            assert_eq!(end.got, sent, "end {side} did not get all");
        }
    }
}

impl End {
    fn new(cfg: Config) -> End {
        End {
            link: Link::new(cfg),
            sent: Vec::new(),
            got: Vec::new(),
            conns: Vec::new(),
        }
    }

    fn open(&mut self) {
        if let Some(id) = self.link.open() {
            assert!(id.mine);
            self.conns.push(id);
            self.sent.push(Record::Open(id));
        }
    }

    fn send(&mut self, id: ConnId, pdu: Vec<u8>) {
        let before = self.link.backlog();
        if let Some(n) = self.link.send(id, &pdu) {
            assert_eq!(self.link.backlog(), before + n);
            self.sent.push(Record::Pdu(id, pdu));
        } else {
            assert_eq!(self.link.backlog(), before);
        }
    }

    /// The link writes a Close record only the first time.
    fn close(&mut self, id: ConnId) {
        let before = self.link.backlog();
        self.link.close(id);
        if self.link.backlog() > before {
            self.sent.push(Record::Close(id));
        }
    }
}

/// The event the other end reports for a record this end sent: its
/// "mine" is the other end's "theirs".
fn as_received(r: &Record) -> Event {
    let flip = |id: &ConnId| ConnId {
        mine: !id.mine,
        n: id.n,
    };
    match r {
        Record::Open(id) => Event::Opened(flip(id)),
        Record::Pdu(id, bytes) => Event::Pdu(flip(id), bytes.clone()),
        Record::Close(id) => Event::Closed(flip(id)),
    }
}

/// A frame that decodes re-encodes to one that decodes the same.
fn check_frame(bytes: &[u8]) {
    if let Ok(frame) = Frame::decode(bytes) {
        let mut again = Vec::new();
        frame.encode(&mut again);
        assert!(
            again.len() <= bytes.len(),
            "{bytes:02x?} grew to {again:02x?}"
        );
        assert_eq!(Frame::decode(&again), Ok(frame));
    }
}

/// A delivered PDU is one whole SOLEC frame.
fn check_pdu(pdu: &[u8]) {
    assert!(pdu.len() >= proto::HEADER_LEN, "{pdu:02x?}");
    let len = usize::from(u16::from_be_bytes([pdu[1], pdu[2]]));
    assert_eq!(pdu.len(), proto::HEADER_LEN + len, "{pdu:02x?}");
}

/// A PDU as a local connection would hand it over: a Message (which the
/// link compresses), a Success, an Error, a Handshake, or any type with
/// any payload.
fn pdu(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    const ADDRESSES: &[&str] = &["alice@a.example", "bob@b.example", "#c@a.example", ""];
    let pdu = match u.int_in_range(0u8..=5)? {
        0 | 1 => {
            let text: &str = u.arbitrary()?;
            let text = &text[..floor_char_boundary(text, MAX_PAYLOAD)];
            Pdu::Message(proto::Message {
                source_address: u.choose(ADDRESSES)?,
                target_address: u.choose(ADDRESSES)?,
                send_time: u.arbitrary()?,
                message_content: text,
            })
            .to_vec()
            .expect("a short Message")
        }
        2 => proto::SUCCESS_PDU.to_vec(),
        3 => proto::error_frame(proto::ErrorType::from(u.arbitrary::<u8>()?)).to_vec(),
        4 => vec![
            proto::code::HANDSHAKE,
            0,
            3,
            u.arbitrary()?,
            u.arbitrary()?,
            u.arbitrary()?,
        ],
        _ => {
            let code = u.arbitrary()?;
            let len = u.int_in_range(0..=MAX_PAYLOAD)?;
            let payload = u.bytes(len)?;
            let mut out = vec![code];
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            out.extend_from_slice(payload);
            out
        }
    };
    Ok(pdu)
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    (0..=max.min(s.len()))
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}
