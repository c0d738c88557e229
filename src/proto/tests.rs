//! Byte vectors, round trips, byte-at-a-time deframing and the malformed
//! input table. The byte vectors are the worked examples of
//! `docs/protocol.md`.

use super::*;
use proptest::prelude::*;

/// `(hex, PDU)`: every payload type, byte for byte.
pub(crate) fn vectors() -> Vec<(&'static str, Pdu<'static>)> {
    vec![
        ("01 0000", Pdu::Success),
        ("02 0001 02", ErrorType::NotFound.into()),
        (
            "03 0003 00 05 01",
            Pdu::Handshake(Handshake {
                ver_major: 0,
                ver_minor: 5,
                conn_type: ConnType::User,
            }),
        ),
        (
            "04 000f 0005 616c696365 0006 736563726574",
            Pdu::UserAuth(UserAuth {
                username: "alice",
                password: "secret",
            }),
        ),
        (
            "05 0016 0003 614062 0003 634062 000000006553f100 0002 6869",
            Pdu::Message(Message {
                source_address: "a@b",
                target_address: "c@b",
                send_time: 1_700_000_000,
                message_content: "hi",
            }),
        ),
        (
            "06 000b 0009 622e6578616d706c65",
            Pdu::ServerAuth(ServerAuth { name: "b.example" }),
        ),
        (
            "07 000c 0003 614062 0004 23634062 01",
            Pdu::UserMode(UserMode {
                user_address: "a@b",
                channel_address: "#c@b",
                mode: Mode::Member,
            }),
        ),
        (
            "08 001e 0004 23634062 0000000000000000 000000000000000a 0000000000000000",
            Pdu::History(History {
                channel_address: "#c@b",
                since: 0,
                count: 10,
                offset: 0,
            }),
        ),
        (
            "80 0005 0003 634062",
            Pdu::ContactAdd(Contact { address: "c@b" }),
        ),
        (
            "81 0005 0003 634062",
            Pdu::ContactRemove(Contact { address: "c@b" }),
        ),
        ("82 0000", Pdu::ContactList),
        (
            "83 0005 0003 634062",
            Pdu::Contact(Contact { address: "c@b" }),
        ),
        ("84 0002 0001", Pdu::Features(Features { flags: 1 })),
        (
            "85 0016 0003 614062 0003 634062 0000000065000000 0002 6869",
            Pdu::HistoryItem(Message {
                source_address: "a@b",
                target_address: "c@b",
                send_time: 0x65000000,
                message_content: "hi",
            }),
        ),
        (
            "86 0020 0001020304050607 08090a0b0c0d0e0f 1011121314151617 18191a1b1c1d1e1f",
            Pdu::LinkNonce(LinkNonce {
                nonce: leak(hex::decode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").unwrap()),
            }),
        ),
        (
            "87 0040 b7070b92e53f58a6735acbc788622894 ca949fb925eaefa4a03fb205c5acd610 f0ca96c4fa0f9cf8d0a07ecf82cbd5c3 f63db5b5e0f419ed9ed9f5c1c5903504",
            Pdu::LinkProof(LinkProof {
                signature: leak(hex::decode("b7070b92e53f58a6735acbc788622894ca949fb925eaefa4a03fb205c5acd610f0ca96c4fa0f9cf8d0a07ecf82cbd5c3f63db5b5e0f419ed9ed9f5c1c5903504").unwrap()),
            }),
        ),
        (
            "88 0008 0000000000000007",
            Pdu::RelayFrom(Relay { number: 7 }),
        ),
        (
            "89 0008 0000000000000102",
            Pdu::RelayAck(Relay { number: 0x102 }),
        ),
        (
            "8a 0009 0000000000000009 03",
            Pdu::RelayRefused(RelayRefused {
                number: 9,
                error_type: ErrorType::Unauthorized,
            }),
        ),
        (
            "8b 0024 0003 614062 0005 2363406362 0000000065000000 0000000000000032 0000000000000000",
            Pdu::RelayHistory(RelayHistory {
                requester: "a@b",
                history: History {
                    channel_address: "#c@cb",
                    since: 0x65000000,
                    count: 50,
                    offset: 0,
                },
            }),
        ),
        ("8c 0000", Pdu::TokenRequest),
        (
            "8d 0028 5f2e8c1d9a4b7e3f60d1c2b3a4958677 8899aabbccddeeff0011223344556677 0000000065f6b880",
            Pdu::Token(Token {
                token: leak(hex::decode("5f2e8c1d9a4b7e3f60d1c2b3a49586778899aabbccddeeff0011223344556677").unwrap()),
                expires: 0x65f6b880,
            }),
        ),
        (
            "8e 0027 0005 616c696365 5f2e8c1d9a4b7e3f60d1c2b3a4958677 8899aabbccddeeff0011223344556677",
            Pdu::TokenAuth(TokenAuth {
                username: "alice",
                token: leak(hex::decode("5f2e8c1d9a4b7e3f60d1c2b3a49586778899aabbccddeeff0011223344556677").unwrap()),
            }),
        ),
        (
            "ff 000f 01 0002 00000003 0000000000000004",
            Pdu::Test(Test {
                num1: 1,
                num2: 2,
                num3: 3,
                num4: 4,
            }),
        ),
        (
            "42 0002 dead",
            Pdu::Unknown {
                code: 0x42,
                payload: &[0xde, 0xad],
            },
        ),
    ]
}

/// A fixed-size field for a `'static` vector.
fn leak<const N: usize>(bytes: Vec<u8>) -> &'static [u8; N] {
    Box::leak(Box::new(<[u8; N]>::try_from(bytes).unwrap()))
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

#[test]
fn byte_vectors_decode_and_encode() {
    for (hex, want) in vectors() {
        let bytes = unhex(hex);
        let (got, used) = Deframer::default().decode(&bytes).unwrap().unwrap();
        assert_eq!(got, want, "{hex}");
        assert_eq!(used, bytes.len(), "{hex}");
        assert_eq!(want.to_vec().unwrap(), bytes, "{hex}");
    }
}

#[test]
fn byte_at_a_time_matches_whole() {
    let stream: Vec<u8> = vectors().iter().flat_map(|(h, _)| unhex(h)).collect();
    let deframer = Deframer::default();
    let mut fed = Vec::new();
    let mut got = Vec::new();
    for &b in &stream {
        fed.push(b);
        if let Some((pdu, used)) = deframer.decode(&fed).unwrap() {
            got.push(pdu.to_vec().unwrap());
            assert_eq!(used, fed.len());
            fed.clear();
        }
    }
    assert!(fed.is_empty());
    let want: Vec<Vec<u8>> = vectors().iter().map(|(h, _)| unhex(h)).collect();
    assert_eq!(got, want);
}

#[test]
fn malformed_inputs() {
    use ErrorKind::*;
    let table: &[(&str, ErrorKind, &str, usize)] = &[
        ("00 0000", ReservedType, "type", 0),
        (
            "8e 0009 0005 616c696365 0102",
            Truncated {
                needed: 32,
                available: 2,
            },
            "token",
            10,
        ),
        ("8c 0001 00", TrailingBytes { count: 1 }, "payload", 3),
        (
            "02 0000",
            Truncated {
                needed: 1,
                available: 0,
            },
            "error_type",
            3,
        ),
        ("02 0002 0101", TrailingBytes { count: 1 }, "payload", 4),
        (
            "03 0002 0005",
            Truncated {
                needed: 1,
                available: 0,
            },
            "conn_type",
            5,
        ),
        (
            "04 0001 00",
            Truncated {
                needed: 2,
                available: 1,
            },
            "username",
            3,
        ),
        (
            "04 0004 0009 6162",
            StringOverrun {
                len: 9,
                available: 2,
            },
            "username",
            3,
        ),
        ("04 0006 0002 ff61 0000", InvalidUtf8, "username", 5),
        (
            "04 0003 0000 00",
            Truncated {
                needed: 2,
                available: 1,
            },
            "password",
            5,
        ),
        (
            "05 0008 0000 0000 00000000",
            Truncated {
                needed: 8,
                available: 4,
            },
            "send_time",
            7,
        ),
        (
            "07 0004 0000 0000",
            Truncated {
                needed: 1,
                available: 0,
            },
            "mode",
            7,
        ),
        (
            "08 000e 0000 0000000000000000 00000000",
            Truncated {
                needed: 8,
                available: 4,
            },
            "count",
            13,
        ),
        ("01 0001 00", TrailingBytes { count: 1 }, "payload", 3),
        ("82 0001 00", TrailingBytes { count: 1 }, "payload", 3),
        (
            "86 0002 0001",
            Truncated {
                needed: 32,
                available: 2,
            },
            "nonce",
            3,
        ),
        ("87 0041 00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000 00", TrailingBytes { count: 1 }, "payload", 67),
        (
            "ff 0001 01",
            Truncated {
                needed: 2,
                available: 0,
            },
            "num2",
            4,
        ),
    ];
    for &(hex, kind, field, offset) in table {
        let bytes = unhex(hex);
        let err = Deframer::default().decode(&bytes).expect_err(hex);
        assert_eq!(err, DecodeError::new(kind, field, offset), "{hex}");
    }
}

#[test]
fn length_over_limit_is_refused_from_the_header() {
    let deframer = Deframer::with_max_payload(16);
    let err = deframer.decode(&[0x05, 0x00, 0x11]).unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::TooLong {
            length: 17,
            max: 16
        }
    );
    assert_eq!(deframer.decode(&[0x05, 0x00, 0x10]), Ok(None));
}

#[test]
fn partial_input_needs_more() {
    let bytes = unhex(vectors()[4].0);
    for end in 0..bytes.len() {
        assert_eq!(Deframer::default().decode(&bytes[..end]), Ok(None));
    }
}

#[test]
fn encoding_refuses_oversized_strings() {
    let big = "x".repeat(MAX_PAYLOAD);
    let mut out = vec![7];
    let msg = Pdu::Message(Message {
        source_address: "a@b",
        target_address: "c@b",
        send_time: 0,
        message_content: &big,
    });
    assert_eq!(msg.encode(&mut out), Err(EncodeError::TooLong));
    assert_eq!(out, [7], "a failed encode leaves the buffer as it was");
    let too_long = "x".repeat(MAX_PAYLOAD + 1);
    let auth = Pdu::ServerAuth(ServerAuth { name: &too_long });
    assert_eq!(auth.to_vec(), Err(EncodeError::TooLong));
}

/// An owned PDU, so proptest can generate values that `Pdu` borrows from.
#[derive(Debug, Clone)]
enum Owned {
    Success,
    Error(u8),
    Handshake(u8, u8, u8),
    UserAuth(String, String),
    Message(String, String, u64, String),
    ServerAuth(String),
    UserMode(String, String, u8),
    History(String, u64, i64, i64),
    ContactAdd(String),
    ContactRemove(String),
    ContactList,
    Contact(String),
    Features(u16),
    HistoryItem(String, String, u64, String),
    LinkNonce([u8; 32]),
    LinkProof(Vec<u8>),
    RelayFrom(u64),
    RelayAck(u64),
    RelayRefused(u64, u8),
    RelayHistory(String, String, u64, i64, i64),
    TokenRequest,
    Token([u8; 32], u64),
    TokenAuth(String, [u8; 32]),
    Test(u8, u16, u32, u64),
    Unknown(u8, Vec<u8>),
}

impl Owned {
    fn pdu(&self) -> Pdu<'_> {
        match self {
            Owned::Success => Pdu::Success,
            Owned::Error(e) => ErrorType::from(*e).into(),
            Owned::Handshake(a, b, c) => Pdu::Handshake(Handshake {
                ver_major: *a,
                ver_minor: *b,
                conn_type: (*c).into(),
            }),
            Owned::UserAuth(u, p) => Pdu::UserAuth(UserAuth {
                username: u,
                password: p,
            }),
            Owned::Message(s, t, time, c) => Pdu::Message(Message {
                source_address: s,
                target_address: t,
                send_time: *time,
                message_content: c,
            }),
            Owned::ServerAuth(n) => Pdu::ServerAuth(ServerAuth { name: n }),
            Owned::UserMode(u, c, m) => Pdu::UserMode(UserMode {
                user_address: u,
                channel_address: c,
                mode: (*m).into(),
            }),
            Owned::History(c, s, n, o) => Pdu::History(History {
                channel_address: c,
                since: *s,
                count: *n,
                offset: *o,
            }),
            Owned::ContactAdd(a) => Pdu::ContactAdd(Contact { address: a }),
            Owned::ContactRemove(a) => Pdu::ContactRemove(Contact { address: a }),
            Owned::ContactList => Pdu::ContactList,
            Owned::Contact(a) => Pdu::Contact(Contact { address: a }),
            Owned::Features(f) => Pdu::Features(Features { flags: *f }),
            Owned::HistoryItem(s, t, time, c) => Pdu::HistoryItem(Message {
                source_address: s,
                target_address: t,
                send_time: *time,
                message_content: c,
            }),
            Owned::LinkNonce(n) => Pdu::LinkNonce(LinkNonce { nonce: n }),
            Owned::LinkProof(p) => Pdu::LinkProof(LinkProof {
                signature: p.as_slice().try_into().unwrap(),
            }),
            Owned::RelayFrom(n) => Pdu::RelayFrom(Relay { number: *n }),
            Owned::RelayAck(n) => Pdu::RelayAck(Relay { number: *n }),
            Owned::RelayRefused(n, e) => Pdu::RelayRefused(RelayRefused {
                number: *n,
                error_type: (*e).into(),
            }),
            Owned::RelayHistory(r, c, s, n, o) => Pdu::RelayHistory(RelayHistory {
                requester: r,
                history: History {
                    channel_address: c,
                    since: *s,
                    count: *n,
                    offset: *o,
                },
            }),
            Owned::TokenRequest => Pdu::TokenRequest,
            Owned::Token(t, e) => Pdu::Token(Token {
                token: t,
                expires: *e,
            }),
            Owned::TokenAuth(u, t) => Pdu::TokenAuth(TokenAuth {
                username: u,
                token: t,
            }),
            Owned::Test(a, b, c, d) => Pdu::Test(Test {
                num1: *a,
                num2: *b,
                num3: *c,
                num4: *d,
            }),
            Owned::Unknown(code, payload) => Pdu::Unknown {
                code: *code,
                payload,
            },
        }
    }
}

fn owned() -> impl Strategy<Value = Owned> {
    let s = || ".{0,40}";
    let unknown_code = (0x09u8..=0xfe).prop_filter("known", |c| !(0x80..=0x8e).contains(c));
    prop_oneof![
        Just(Owned::Success),
        any::<u8>().prop_map(Owned::Error),
        any::<(u8, u8, u8)>().prop_map(|(a, b, c)| Owned::Handshake(a, b, c)),
        (s(), s()).prop_map(|(u, p)| Owned::UserAuth(u, p)),
        (s(), s(), any::<u64>(), s()).prop_map(|(a, b, t, c)| Owned::Message(a, b, t, c)),
        s().prop_map(Owned::ServerAuth),
        (s(), s(), any::<u8>()).prop_map(|(u, c, m)| Owned::UserMode(u, c, m)),
        (s(), any::<u64>(), any::<i64>(), any::<i64>())
            .prop_map(|(c, s, n, o)| Owned::History(c, s, n, o)),
        s().prop_map(Owned::ContactAdd),
        s().prop_map(Owned::ContactRemove),
        Just(Owned::ContactList),
        s().prop_map(Owned::Contact),
        any::<u16>().prop_map(Owned::Features),
        (s(), s(), any::<u64>(), s()).prop_map(|(a, b, t, c)| Owned::HistoryItem(a, b, t, c)),
        any::<[u8; 32]>().prop_map(Owned::LinkNonce),
        proptest::collection::vec(any::<u8>(), 64).prop_map(Owned::LinkProof),
        any::<u64>().prop_map(Owned::RelayFrom),
        any::<u64>().prop_map(Owned::RelayAck),
        any::<(u64, u8)>().prop_map(|(n, e)| Owned::RelayRefused(n, e)),
        (s(), s(), any::<u64>(), any::<i64>(), any::<i64>())
            .prop_map(|(r, c, s, n, o)| Owned::RelayHistory(r, c, s, n, o)),
        Just(Owned::TokenRequest),
        any::<([u8; 32], u64)>().prop_map(|(t, e)| Owned::Token(t, e)),
        (s(), any::<[u8; 32]>()).prop_map(|(u, t)| Owned::TokenAuth(u, t)),
        any::<(u8, u16, u32, u64)>().prop_map(|(a, b, c, d)| Owned::Test(a, b, c, d)),
        (unknown_code, proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(c, p)| Owned::Unknown(c, p)),
    ]
}

proptest! {
    #[test]
    fn every_pdu_round_trips(values in proptest::collection::vec(owned(), 1..8)) {
        let mut stream = Vec::new();
        for v in &values {
            v.pdu().encode(&mut stream).unwrap();
        }
        let deframer = Deframer::default();
        let mut rest = &stream[..];
        for v in &values {
            let (pdu, used) = deframer.decode(rest).unwrap().unwrap();
            prop_assert_eq!(pdu, v.pdu());
            rest = &rest[used..];
        }
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut rest = &bytes[..];
        while let Ok(Some((_, used))) = Deframer::default().decode(rest) {
            rest = &rest[used..];
        }
    }
}
