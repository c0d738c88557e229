//! The link's record stream: SOLEC PDUs of many connections, header
//! compressed, as one ordered byte stream that the link cuts into frames.
//!
//! A record is a tag byte, `kind << 4 | conn`, then the kind's fields.
//! `conn` is the connection's wire id, `n << 1 | 1` when the sender of the
//! record opened it and `n << 1` when the receiver did; 15 means the wire
//! id follows as a byte. Compression state (address aliases, the last
//! source and target, the last send_time, and per connection the relay
//! numbers of a server link, so a RelayAck is one byte) lives in the
//! [`Encoder`] and [`Decoder`] of one link direction: the stream is
//! reliable and in order, so both ends update it identically. No state
//! spans the two directions, whose records cross in flight. Nothing here
//! performs IO.

use super::cursor::{put_varint, unzigzag, zigzag, Cursor, ErrorKind, RadioError};
use super::textpack;
use crate::proto::{code, Message, Pdu, HEADER_LEN, MAX_PAYLOAD};
use std::collections::HashMap;

/// Record kinds, the high nibble of the tag.
pub mod kind {
    /// The sender opened a connection; the receiver connects it locally.
    pub const OPEN: u8 = 0x0;
    /// The sender's side of the connection ended.
    pub const CLOSE: u8 = 0x1;
    /// Any PDU as it was: type u8, varint length, payload.
    pub const RAW: u8 = 0x2;
    /// A Success PDU (`01 00 00`): no fields.
    pub const SUCCESS: u8 = 0x3;
    /// An Error PDU: error_type u8.
    pub const ERROR: u8 = 0x4;
    /// A Message PDU: a header byte, then its compressed fields.
    pub const MESSAGE: u8 = 0x5;
    /// A Handshake PDU: ver_major, ver_minor, conn_type.
    pub const HANDSHAKE: u8 = 0x6;
    /// A Message PDU as [`MESSAGE`], its content packed by
    /// `radio::textpack` (only when that is shorter).
    pub const MESSAGE_PACKED: u8 = 0x7;
    /// A RelayAck one above the connection's previous RelayAck: no fields.
    pub const RELAY_ACK_NEXT: u8 = 0x8;
    /// A RelayAck: varint, its number minus the previous RelayAck's.
    pub const RELAY_ACK: u8 = 0x9;
    /// A RelayFrom: varint, its number minus the connection's next relay.
    pub const RELAY_FROM: u8 = 0xA;
    /// A RelayRefused: varint, its number minus the previous RelayAck's
    /// minus one; then error_type u8.
    pub const RELAY_REFUSED: u8 = 0xB;
    /// A LinkNonce: its 32 bytes.
    pub const LINK_NONCE: u8 = 0xC;
    /// A LinkProof: its 64-byte signature.
    pub const LINK_PROOF: u8 = 0xD;
}

/// The conn nibble that says the wire id follows in a byte.
pub const CONN_ESCAPE: u8 = 0x0F;

/// Address aliases per link direction; later addresses are sent literally.
pub const MAX_ALIASES: usize = 255;

/// Message header byte, bits 7–6 (source) and 5–4 (target): how an address is sent.
pub mod addr {
    /// The same as the previous Message's.
    pub const SAME: u8 = 0;
    /// An alias byte follows.
    pub const ALIAS: u8 = 1;
    /// A varint length and the UTF-8 bytes follow; it takes the next alias.
    pub const LITERAL: u8 = 2;
}

/// Message header byte, bits 3–0: the zigzag send_time delta when it is
/// below this; this value means a zigzag varint delta follows.
pub const TIME_ESCAPE: u8 = 0x0F;

/// A connection, from this end's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    /// This end opened it.
    pub mine: bool,
    /// 0..=127, allocated by the end that opened it.
    pub n: u8,
}

impl ConnId {
    /// The largest `n`.
    pub const MAX_N: u8 = 127;

    fn wire(self) -> u8 {
        self.n << 1 | u8::from(self.mine)
    }

    /// The id a peer's wire value names here: the peer's "mine" is our "theirs".
    fn from_peer_wire(wire: u8) -> ConnId {
        ConnId {
            mine: wire & 1 == 0,
            n: wire >> 1,
        }
    }
}

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = if self.mine { "out" } else { "in" };
        write!(f, "{side}{}", self.n)
    }
}

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Open(ConnId),
    Close(ConnId),
    /// A whole SOLEC PDU, header included, exactly as its sender wrote it.
    Pdu(ConnId, Vec<u8>),
}

/// The compression state both directions keep.
#[derive(Debug, Default)]
struct Context {
    last_src: Option<String>,
    last_tgt: Option<String>,
    last_time: u64,
    /// Relay numbers per open connection; an Open or a Close of the
    /// connection forgets them, so this holds at most one entry per
    /// connection id (256).
    relays: HashMap<ConnId, Relays>,
}

/// What the relay records of one connection's direction count from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Relays {
    /// The number of the previous RelayAck; 0 before the first.
    ack: u64,
    /// The number the next relayed Message or UserMode takes: 1 at first,
    /// a RelayFrom's number after it, one more after each of them.
    next: u64,
}

impl Default for Relays {
    fn default() -> Self {
        Relays { ack: 0, next: 1 }
    }
}

impl Context {
    fn relays(&mut self, id: ConnId) -> &mut Relays {
        self.relays.entry(id).or_default()
    }

    /// Updates the connection's state for a record, once it is whole. Both
    /// ends call it with the same records in the same order.
    fn after(&mut self, record: &Record) {
        match record {
            Record::Open(id) | Record::Close(id) => {
                self.relays.remove(id);
            }
            Record::Pdu(id, bytes) => {
                let number = |b: &[u8]| {
                    b.get(HEADER_LEN..HEADER_LEN + 8)
                        .and_then(|n| n.try_into().ok())
                        .map(u64::from_be_bytes)
                };
                let r = self.relays(*id);
                match (bytes.first().copied(), bytes.len()) {
                    (Some(code::MESSAGE | code::USER_MODE), _) => r.next = r.next.wrapping_add(1),
                    (Some(code::RELAY_FROM), RELAY_PDU_LEN) => {
                        r.next = number(bytes).unwrap_or(r.next)
                    }
                    (Some(code::RELAY_ACK), RELAY_PDU_LEN) => {
                        r.ack = number(bytes).unwrap_or(r.ack)
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A RelayFrom or RelayAck PDU: header and a u64.
const RELAY_PDU_LEN: usize = HEADER_LEN + 8;

/// Encodes records for one link direction.
#[derive(Debug, Default)]
pub struct Encoder {
    ctx: Context,
    aliases: HashMap<String, u8>,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one record.
    pub fn encode(&mut self, record: &Record, out: &mut Vec<u8>) {
        match record {
            Record::Open(id) => tag(kind::OPEN, *id, out),
            Record::Close(id) => tag(kind::CLOSE, *id, out),
            Record::Pdu(id, bytes) => self.pdu(*id, bytes, out),
        }
        self.ctx.after(record);
    }

    fn pdu(&mut self, id: ConnId, bytes: &[u8], out: &mut Vec<u8>) {
        let decoded = bytes
            .get(HEADER_LEN..)
            .and_then(|payload| Pdu::decode(bytes[0], payload).ok());
        match decoded {
            Some(Pdu::Success) => tag(kind::SUCCESS, id, out),
            Some(Pdu::Error(e)) => {
                tag(kind::ERROR, id, out);
                out.push(e.error_type.into());
            }
            Some(Pdu::Handshake(h)) => {
                tag(kind::HANDSHAKE, id, out);
                out.extend_from_slice(&[h.ver_major, h.ver_minor, h.conn_type.into()]);
            }
            Some(Pdu::RelayAck(r)) => {
                let delta = r.number.wrapping_sub(self.ctx.relays(id).ack);
                if delta == 1 {
                    tag(kind::RELAY_ACK_NEXT, id, out);
                } else {
                    tag(kind::RELAY_ACK, id, out);
                    put_varint(out, delta);
                }
            }
            Some(Pdu::RelayFrom(r)) => {
                tag(kind::RELAY_FROM, id, out);
                put_varint(out, r.number.wrapping_sub(self.ctx.relays(id).next));
            }
            Some(Pdu::RelayRefused(r)) => {
                tag(kind::RELAY_REFUSED, id, out);
                let after = self.ctx.relays(id).ack.wrapping_add(1);
                put_varint(out, r.number.wrapping_sub(after));
                out.push(r.error_type.into());
            }
            Some(Pdu::LinkNonce(n)) => {
                tag(kind::LINK_NONCE, id, out);
                out.extend_from_slice(n.nonce);
            }
            Some(Pdu::LinkProof(p)) => {
                tag(kind::LINK_PROOF, id, out);
                out.extend_from_slice(p.signature);
            }
            Some(Pdu::Message(m)) => {
                let content = m.message_content.as_bytes();
                let packed = textpack::packed_len(content) < content.len();
                tag(
                    if packed {
                        kind::MESSAGE_PACKED
                    } else {
                        kind::MESSAGE
                    },
                    id,
                    out,
                );
                self.message(&m, packed, out);
            }
            _ => {
                tag(kind::RAW, id, out);
                out.push(bytes.first().copied().unwrap_or(0));
                let payload = bytes.get(HEADER_LEN..).unwrap_or_default();
                put_varint(out, payload.len() as u64);
                out.extend_from_slice(payload);
            }
        }
    }

    fn message(&mut self, m: &Message<'_>, packed: bool, out: &mut Vec<u8>) {
        let head_at = out.len();
        out.push(0);
        let last_src = self.ctx.last_src.take();
        let last_tgt = self.ctx.last_tgt.take();
        let src = self.address(m.source_address, last_src.as_deref(), out);
        let tgt = self.address(m.target_address, last_tgt.as_deref(), out);
        let delta = zigzag(m.send_time.wrapping_sub(self.ctx.last_time) as i64);
        let time = if delta < u64::from(TIME_ESCAPE) {
            delta as u8
        } else {
            put_varint(out, delta);
            TIME_ESCAPE
        };
        out[head_at] = src << 6 | tgt << 4 | time;
        put_varint(out, m.message_content.len() as u64);
        if packed {
            textpack::pack(m.message_content.as_bytes(), out);
        } else {
            out.extend_from_slice(m.message_content.as_bytes());
        }
        self.ctx.last_src = Some(m.source_address.to_owned());
        self.ctx.last_tgt = Some(m.target_address.to_owned());
        self.ctx.last_time = m.send_time;
    }

    /// Writes an address field and returns its 2-bit mode.
    fn address(&mut self, address: &str, last: Option<&str>, out: &mut Vec<u8>) -> u8 {
        if last == Some(address) {
            return addr::SAME;
        }
        if let Some(&alias) = self.aliases.get(address) {
            out.push(alias);
            return addr::ALIAS;
        }
        put_varint(out, address.len() as u64);
        out.extend_from_slice(address.as_bytes());
        if self.aliases.len() < MAX_ALIASES {
            let next = self.aliases.len() as u8;
            self.aliases.insert(address.to_owned(), next);
        }
        addr::LITERAL
    }
}

fn tag(kind: u8, id: ConnId, out: &mut Vec<u8>) {
    let wire = id.wire();
    if wire < CONN_ESCAPE {
        out.push(kind << 4 | wire);
    } else {
        out.extend_from_slice(&[kind << 4 | CONN_ESCAPE, wire]);
    }
}

/// Decodes the records of one link direction.
#[derive(Debug, Default)]
pub struct Decoder {
    ctx: Context,
    aliases: Vec<String>,
}

/// An address as the Message header byte announced it, before any state changes.
enum AddrField<'a> {
    Same,
    Alias(u8),
    Literal(&'a str),
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The record at the start of `buf` and the bytes it used; `Ok(None)`
    /// while it is incomplete (the state is then left untouched).
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<(Record, usize)>, RadioError> {
        let mut c = Cursor::new(buf);
        match self.record(&mut c) {
            Ok(record) => {
                self.ctx.after(&record);
                Ok(Some((record, c.offset())))
            }
            Err(e) if e.is_truncated() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn record(&mut self, c: &mut Cursor<'_>) -> Result<Record, RadioError> {
        let tag = c.u8("tag")?;
        let wire = match tag & 0x0F {
            CONN_ESCAPE => c.u8("conn")?,
            wire => wire,
        };
        let id = ConnId::from_peer_wire(wire);
        let pdu = |bytes: Vec<u8>| Ok(Record::Pdu(id, bytes));
        match tag >> 4 {
            kind::OPEN => Ok(Record::Open(id)),
            kind::CLOSE => Ok(Record::Close(id)),
            kind::SUCCESS => pdu(frame_pdu(code::SUCCESS, &[])),
            kind::ERROR => pdu(frame_pdu(code::ERROR, c.take(1, "error_type")?)),
            kind::HANDSHAKE => pdu(frame_pdu(code::HANDSHAKE, c.take(3, "handshake")?)),
            kind::RAW => {
                let code = c.u8("pdu type")?;
                let len = c.len("pdu length", MAX_PAYLOAD)?;
                pdu(frame_pdu(code, c.take(len, "pdu payload")?))
            }
            kind::MESSAGE => pdu(self.message(c, false)?),
            kind::MESSAGE_PACKED => pdu(self.message(c, true)?),
            kind::RELAY_ACK_NEXT => {
                let number = self.ctx.relays(id).ack.wrapping_add(1);
                pdu(frame_pdu(code::RELAY_ACK, &number.to_be_bytes()))
            }
            kind::RELAY_ACK => {
                let delta = c.varint("relay ack delta")?;
                let number = self.ctx.relays(id).ack.wrapping_add(delta);
                pdu(frame_pdu(code::RELAY_ACK, &number.to_be_bytes()))
            }
            kind::RELAY_FROM => {
                let delta = c.varint("relay from delta")?;
                let number = self.ctx.relays(id).next.wrapping_add(delta);
                pdu(frame_pdu(code::RELAY_FROM, &number.to_be_bytes()))
            }
            kind::RELAY_REFUSED => {
                let delta = c.varint("relay refused delta")?;
                let error_type = c.u8("error_type")?;
                let after = self.ctx.relays(id).ack.wrapping_add(1);
                let mut payload = after.wrapping_add(delta).to_be_bytes().to_vec();
                payload.push(error_type);
                pdu(frame_pdu(code::RELAY_REFUSED, &payload))
            }
            kind::LINK_NONCE => pdu(frame_pdu(
                code::LINK_NONCE,
                c.take(crate::proto::NONCE_LEN, "nonce")?,
            )),
            kind::LINK_PROOF => pdu(frame_pdu(
                code::LINK_PROOF,
                c.take(crate::proto::SIGNATURE_LEN, "signature")?,
            )),
            other => Err(RadioError::new(
                ErrorKind::Invalid {
                    value: u64::from(other),
                },
                "record kind",
                0,
            )),
        }
    }

    fn message(&mut self, c: &mut Cursor<'_>, packed: bool) -> Result<Vec<u8>, RadioError> {
        let head = c.u8("message header")?;
        let src = address_field(c, head >> 6, "source_address")?;
        let tgt = address_field(c, head >> 4 & 3, "target_address")?;
        let delta = match head & 0x0F {
            TIME_ESCAPE => c.varint("send_time delta")?,
            small => u64::from(small),
        };
        let len = c.len("content length", MAX_PAYLOAD)?;
        let unpacked;
        let content = if packed {
            let at = c.offset();
            unpacked = textpack::unpack(c, len)?;
            std::str::from_utf8(&unpacked).map_err(|e| {
                RadioError::new(
                    ErrorKind::Invalid {
                        value: u64::from(unpacked[e.valid_up_to()]),
                    },
                    "message_content",
                    at,
                )
            })?
        } else {
            utf8(c, len, "message_content")?
        };
        // Complete: only now may the shared state change.
        let src = self.resolve(src, self.ctx.last_src.clone(), c.offset())?;
        let tgt = self.resolve(tgt, self.ctx.last_tgt.clone(), c.offset())?;
        let send_time = self.ctx.last_time.wrapping_add(unzigzag(delta) as u64);
        let msg = Message {
            source_address: &src,
            target_address: &tgt,
            send_time,
            message_content: content,
        };
        let bytes = Pdu::from(msg).to_vec().map_err(|_| {
            RadioError::new(
                ErrorKind::TooLong {
                    length: len,
                    max: MAX_PAYLOAD,
                },
                "message",
                0,
            )
        })?;
        self.ctx.last_time = send_time;
        self.ctx.last_src = Some(src);
        self.ctx.last_tgt = Some(tgt);
        Ok(bytes)
    }

    fn resolve(
        &mut self,
        field: AddrField<'_>,
        last: Option<String>,
        offset: usize,
    ) -> Result<String, RadioError> {
        let invalid =
            |value: u64, what| RadioError::new(ErrorKind::Invalid { value }, what, offset);
        match field {
            AddrField::Same => last.ok_or_else(|| invalid(0, "address (no previous one)")),
            AddrField::Alias(a) => self
                .aliases
                .get(usize::from(a))
                .cloned()
                .ok_or_else(|| invalid(u64::from(a), "address alias")),
            AddrField::Literal(s) => {
                if self.aliases.len() < MAX_ALIASES {
                    self.aliases.push(s.to_owned());
                }
                Ok(s.to_owned())
            }
        }
    }
}

fn address_field<'a>(
    c: &mut Cursor<'a>,
    mode: u8,
    field: &'static str,
) -> Result<AddrField<'a>, RadioError> {
    match mode {
        addr::SAME => Ok(AddrField::Same),
        addr::ALIAS => Ok(AddrField::Alias(c.u8(field)?)),
        addr::LITERAL => {
            let len = c.len(field, MAX_PAYLOAD)?;
            Ok(AddrField::Literal(utf8(c, len, field)?))
        }
        other => Err(RadioError::new(
            ErrorKind::Invalid {
                value: u64::from(other),
            },
            field,
            c.offset(),
        )),
    }
}

fn utf8<'a>(c: &mut Cursor<'a>, len: usize, field: &'static str) -> Result<&'a str, RadioError> {
    let at = c.offset();
    let bytes = c.take(len, field)?;
    std::str::from_utf8(bytes).map_err(|e| {
        RadioError::new(
            ErrorKind::Invalid {
                value: u64::from(bytes[e.valid_up_to()]),
            },
            field,
            at + e.valid_up_to(),
        )
    })
}

fn frame_pdu(code: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![code];
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT0: ConnId = ConnId { mine: true, n: 0 };

    fn message(from: &str, to: &str, time: u64, text: &str) -> Vec<u8> {
        Pdu::from(Message {
            source_address: from,
            target_address: to,
            send_time: time,
            message_content: text,
        })
        .to_vec()
        .unwrap()
    }

    /// Encodes on one end, decodes on the other, returning the bytes on
    /// the stream per record.
    fn across(records: &[Record]) -> Vec<Vec<u8>> {
        let (mut enc, mut dec) = (Encoder::new(), Decoder::new());
        records
            .iter()
            .map(|r| {
                let mut out = Vec::new();
                enc.encode(r, &mut out);
                let (got, used) = dec.decode(&out).unwrap().unwrap();
                assert_eq!(used, out.len());
                let flipped = match r {
                    Record::Open(id) => Record::Open(ConnId {
                        mine: !id.mine,
                        ..*id
                    }),
                    Record::Close(id) => Record::Close(ConnId {
                        mine: !id.mine,
                        ..*id
                    }),
                    Record::Pdu(id, b) => Record::Pdu(
                        ConnId {
                            mine: !id.mine,
                            ..*id
                        },
                        b.clone(),
                    ),
                };
                assert_eq!(got, flipped);
                out
            })
            .collect()
    }

    #[test]
    fn a_client_session_compresses_to_a_few_bytes_a_message() {
        let t = 1_764_600_000;
        let got = across(&[
            Record::Open(OUT0),
            Record::Pdu(OUT0, vec![0x03, 0x00, 0x03, 0x00, 0x05, 0x01]),
            Record::Pdu(OUT0, message("alice@localhost", "bob@localhost", t, "hi")),
            Record::Pdu(
                OUT0,
                message("alice@localhost", "bob@localhost", t + 1, "hi"),
            ),
            Record::Pdu(
                OUT0,
                message("alice@localhost", "carol@localhost", t + 1, "yo"),
            ),
            Record::Pdu(OUT0, message("alice@localhost", "bob@localhost", t, "hi")),
            Record::Pdu(OUT0, vec![0x01, 0x00, 0x00]),
            Record::Pdu(OUT0, vec![0x02, 0x00, 0x01, 0x02]),
            Record::Close(OUT0),
        ]);
        assert_eq!(got[0], [0x01]);
        assert_eq!(got[1], [0x61, 0x00, 0x05, 0x01]);
        // Tag (a packed Message), header (literal, literal, varint time),
        // both addresses, time, "hi" packed into one byte.
        let mut first = vec![0x71, 0xAF, 15];
        first.extend(b"alice@localhost");
        first.push(13);
        first.extend(b"bob@localhost");
        put_varint(&mut first, zigzag(t as i64));
        first.extend([2, 0x56]);
        assert_eq!(got[2], first);
        // Same source, same target, delta +1 (zigzag 2): four bytes.
        assert_eq!(got[3], [0x71, 0x02, 2, 0x56]);
        // A new target is a literal, and takes alias 2; "yo" needs 10 bits,
        // no fewer bytes packed, so it goes as it is.
        assert_eq!(got[4][..3], [0x51, 0x20, 15]);
        assert!(got[4].ends_with(b"\x02yo"));
        // Back to bob: alias 1; delta -1 (zigzag 1).
        assert_eq!(got[5], [0x71, 0x11, 0x01, 2, 0x56]);
        assert_eq!(got[6], [0x31]);
        assert_eq!(got[7], [0x41, 0x02]);
        assert_eq!(got[8], [0x11]);
    }

    #[test]
    fn longer_text_is_packed_and_short_text_is_not() {
        let long = "see you at the station at seven, bring the tickets please";
        let got = across(&[
            Record::Pdu(OUT0, message("alice@localhost", "bob@localhost", 9, long)),
            Record::Pdu(OUT0, message("alice@localhost", "bob@localhost", 9, "hi")),
            Record::Pdu(OUT0, message("alice@localhost", "bob@localhost", 9, "ÄÖÜ€")),
        ]);
        assert_eq!(got[0][0] >> 4, kind::MESSAGE_PACKED);
        assert!(got[0].len() < 40 + long.len() * 7 / 10, "{}", got[0].len());
        // "hi" packs into one byte; "yo" would take two, so it is not packed.
        assert_eq!(got[1], [0x71, 0x00, 2, 0x56]);
        // Rare bytes would grow: sent as they are.
        assert_eq!(got[2][0] >> 4, kind::MESSAGE);
    }

    #[test]
    fn other_pdus_travel_raw_and_exact() {
        let auth = [
            &[0x04, 0x00, 0x0A, 0x00, 0x03][..],
            b"bob",
            &[0x00, 0x03],
            b"pwd",
        ]
        .concat();
        let unknown = vec![0x42, 0x00, 0x02, 0xAA, 0xBB];
        // A Message that does not decode (trailing byte) is not compressed.
        let mut odd = message("a@b", "c@d", 1, "x");
        odd.push(0);
        odd[2] += 1;
        let got = across(&[
            Record::Pdu(OUT0, auth.clone()),
            Record::Pdu(OUT0, unknown),
            Record::Pdu(OUT0, odd),
        ]);
        assert_eq!(got[0][..3], [0x21, 0x04, 0x0A]);
        assert_eq!(got[1], [0x21, 0x42, 0x02, 0xAA, 0xBB]);
        assert_eq!(got[2][0], 0x21);
    }

    fn relay(code: u8, number: u64) -> Vec<u8> {
        frame_pdu(code, &number.to_be_bytes())
    }

    fn refused(number: u64, error_type: u8) -> Vec<u8> {
        let mut payload = number.to_be_bytes().to_vec();
        payload.push(error_type);
        frame_pdu(code::RELAY_REFUSED, &payload)
    }

    #[test]
    fn a_server_link_sends_relay_numbers_as_small_deltas() {
        let t = 1_764_600_000;
        let hi = |t| message("alice@a.example", "bob@b.example", t, "hi");
        let theirs = ConnId { mine: false, n: 0 };
        let got = across(&[
            // The acceptor's first RelayAck: where the connector resumes.
            Record::Pdu(theirs, relay(code::RELAY_ACK, 300)),
            Record::Pdu(OUT0, relay(code::RELAY_FROM, 301)),
            Record::Pdu(OUT0, hi(t)),
            Record::Pdu(OUT0, hi(t + 2)),
            Record::Pdu(theirs, refused(301, 0x03)),
            Record::Pdu(theirs, relay(code::RELAY_ACK, 302)),
            Record::Pdu(OUT0, hi(t + 3)),
            Record::Pdu(theirs, relay(code::RELAY_ACK, 303)),
            // Relay 304 left the outbox: the numbers jump, so RelayFrom again.
            Record::Pdu(OUT0, relay(code::RELAY_FROM, 305)),
            Record::Pdu(OUT0, relay(code::RELAY_FROM, 304)),
        ]);
        assert_eq!(got[0], [0x90, 0xAC, 0x02]); // 300 from 0
        assert_eq!(got[1], [0xA1, 0xAC, 0x02]); // 301 from 1
        assert_eq!(got[3], [0x71, 0x04, 2, 0x56]);
        assert_eq!(got[4], [0xB0, 0x00, 0x03]); // the first after 300
        assert_eq!(got[5], [0x90, 0x02]); // 302 from 300
        assert_eq!(got[6], [0x71, 0x02, 2, 0x56]);
        assert_eq!(got[7], [0x80]); // 303: one above 302
        assert_eq!(got[8], [0xA1, 0x01]); // next would be 304
                                          // Backwards wraps: long, but exact.
        assert_eq!(got[9].len(), 11);
    }

    #[test]
    fn link_proofs_and_nonces_lose_their_type_and_length() {
        let nonce = frame_pdu(code::LINK_NONCE, &[7; 32]);
        let proof = frame_pdu(code::LINK_PROOF, &[9; 64]);
        let got = across(&[Record::Pdu(OUT0, nonce), Record::Pdu(OUT0, proof)]);
        assert_eq!(got[0].len(), 33);
        assert_eq!(got[0][..2], [0xC1, 7]);
        assert_eq!(got[1].len(), 65);
        assert_eq!(got[1][..2], [0xD1, 9]);
    }

    #[test]
    fn relay_records_are_never_longer_than_raw_ones() {
        let high = ConnId { mine: true, n: 100 };
        for id in [OUT0, high] {
            for pdu in [
                relay(code::RELAY_ACK, u64::MAX),
                relay(code::RELAY_FROM, 0),
                refused(0, 0xFF),
                refused(u64::MAX, 0x80),
            ] {
                let mut raw = Vec::new();
                tag(kind::RAW, id, &mut raw);
                raw.push(pdu[0]);
                put_varint(&mut raw, (pdu.len() - HEADER_LEN) as u64);
                raw.extend_from_slice(&pdu[HEADER_LEN..]);
                let got = across(&[Record::Pdu(id, pdu.clone())]);
                assert!(got[0].len() <= raw.len(), "{pdu:02x?}: {:02x?}", got[0]);
                assert_ne!(got[0][0] >> 4, kind::RAW);
            }
        }
        // Of the wrong length: Raw, and exact.
        let short = frame_pdu(code::RELAY_ACK, &[1, 2, 3]);
        let got = across(&[Record::Pdu(OUT0, short)]);
        assert_eq!(got[0][..2], [0x21, code::RELAY_ACK]);
    }

    #[test]
    fn relay_numbers_start_over_with_each_connection() {
        let mut stream = Vec::new();
        let mut enc = Encoder::new();
        for r in [
            Record::Open(OUT0),
            Record::Pdu(OUT0, relay(code::RELAY_ACK, 1)),
            Record::Close(OUT0),
            Record::Open(OUT0),
            Record::Pdu(OUT0, relay(code::RELAY_ACK, 1)),
        ] {
            let at = stream.len();
            enc.encode(&r, &mut stream);
            if matches!(r, Record::Pdu(..)) {
                assert_eq!(stream[at..], [0x81], "1 is one above 0 on each connection");
            }
        }
        let mut dec = Decoder::new();
        let mut at = 0;
        let mut acks = Vec::new();
        while at < stream.len() {
            let (r, used) = dec.decode(&stream[at..]).unwrap().unwrap();
            if let Record::Pdu(_, p) = r {
                acks.push(p);
            }
            at += used;
        }
        assert_eq!(acks, [relay(code::RELAY_ACK, 1), relay(code::RELAY_ACK, 1)]);
    }

    #[test]
    fn high_connection_ids_take_an_escape_byte() {
        let theirs = ConnId { mine: false, n: 7 };
        let high = ConnId { mine: true, n: 100 };
        let got = across(&[Record::Open(theirs), Record::Open(high)]);
        assert_eq!(got[0], [0x0E]);
        assert_eq!(got[1], [0x0F, 201]);
    }

    #[test]
    fn incomplete_records_wait_and_change_nothing() {
        let mut enc = Encoder::new();
        let mut stream = Vec::new();
        let m = message("alice@a.example", "bob@b.example", 99, "hello");
        enc.encode(&Record::Pdu(OUT0, m.clone()), &mut stream);
        enc.encode(&Record::Pdu(OUT0, m.clone()), &mut stream);
        let mut dec = Decoder::new();
        let mut at = 0;
        let mut got = Vec::new();
        // Byte by byte: each prefix is "not yet", never an error.
        for end in 1..=stream.len() {
            if let Some((Record::Pdu(_, bytes), used)) = dec.decode(&stream[at..end]).unwrap() {
                got.push(bytes);
                at += used;
            }
        }
        assert_eq!(got, [m.clone(), m]);
    }

    #[test]
    fn malformed_records_are_errors() {
        let mut dec = Decoder::new();
        for (bad, field) in [
            (&[0xE1][..], "record kind"),
            (
                &[
                    0x91, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02,
                ],
                "relay ack delta",
            ),
            (&[0x51, 0x00, 0x00], "address (no previous one)"),
            (&[0x51, 0x50, 0x07, 0x07, 0x00, 0x00], "address alias"),
            (&[0x51, 0xF0], "source_address"),
            (
                &[0x51, 0xA0, 0x01, 0xFF, 0x01, b'x', 0x00],
                "source_address",
            ),
        ] {
            let e = dec.decode(bad).unwrap_err();
            assert_eq!(e.field, field, "{bad:02x?}");
        }
    }
}
