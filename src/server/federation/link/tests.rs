//! Both ends of the handshake against each other, byte for byte, and the
//! worked example of `docs/protocol.md` recomputed.

use super::*;
use crate::proto::Deframer;
use std::time::Duration;

const DOC: &str = include_str!("../../../../docs/protocol.md");

/// RFC 8032 section 7.1, TEST 1 and TEST 2 secret keys.
const TEST1: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const TEST2: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

fn id(hex_seed: &str) -> Arc<Identity> {
    let seed: [u8; 32] = hex::decode(hex_seed).unwrap().try_into().unwrap();
    Arc::new(Identity::from_seed(seed))
}

fn nonce(first: u8) -> [u8; 32] {
    std::array::from_fn(|i| first + i as u8)
}

struct Pair {
    a: Connector,
    b: Acceptor,
    a_key: [u8; 32],
    now: Instant,
}

fn pair() -> Pair {
    let now = Instant::now();
    let (a, b) = (id(TEST1), id(TEST2));
    let a_key = a.public();
    Pair {
        a: Connector::new(
            "a.example",
            a,
            "b.example",
            b.public(),
            nonce(0x00),
            now + Duration::from_secs(10),
        ),
        b: Acceptor::new("b.example", b, nonce(0x20), now + Duration::from_secs(10)),
        a_key,
        now,
    }
}

/// Every whole PDU in `bytes`, re-encoded one by one.
fn split(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (_, used) = Deframer::default().decode(rest).unwrap().unwrap();
        out.push(rest[..used].to_vec());
        rest = &rest[used..];
    }
    out
}

fn decode(frame: &[u8]) -> Pdu<'_> {
    Deframer::default().decode(frame).unwrap().unwrap().0
}

/// The connector's opening after its Handshake, which the session state
/// machine reads before the acceptor starts.
fn opening(p: &Pair) -> Vec<u8> {
    let start = p.a.start();
    assert_eq!(start[..6], [0x03, 0x00, 0x03, 0x00, 0x05, 0x02]);
    start[6..].to_vec()
}

/// Feeds the connector's bytes to the acceptor, answering its lookup with
/// `key`; returns its last answer.
fn accept_all(p: &mut Pair, bytes: &[u8], key: Option<[u8; 32]>) -> Accept {
    let mut last = Accept::Nothing;
    for frame in split(bytes) {
        last = p.b.on_pdu(p.now, &decode(&frame));
        if let Accept::Lookup(name) = &last {
            assert_eq!(name, "a.example");
            last = p.b.on_key(p.now, key);
        }
        if matches!(last, Accept::Refuse(_)) {
            break;
        }
    }
    last
}

fn connect_all(p: &mut Pair, bytes: &[u8]) -> Connect {
    let mut last = Connect::Nothing;
    for frame in split(bytes) {
        last = p.a.on_pdu(p.now, &decode(&frame));
    }
    last
}

/// Runs the handshake to the connector's proof; returns the acceptor's
/// answer bytes and the proof bytes.
fn to_proof(p: &mut Pair) -> (Vec<u8>, Vec<u8>) {
    let opening = opening(p);
    let key = Some(p.a_key);
    let Accept::Send(answer) = accept_all(p, &opening, key) else {
        panic!("no answer")
    };
    let Connect::Send(proof) = connect_all(p, &answer) else {
        panic!("no proof")
    };
    (answer, proof)
}

#[test]
fn both_proofs_hold_and_the_link_comes_up() {
    let mut p = pair();
    let (_, proof) = to_proof(&mut p);
    assert!(p.a.proven());
    assert_eq!(
        accept_all(&mut p, &proof, None),
        Accept::Up("a.example".into())
    );
    assert_eq!(connect_all(&mut p, &crate::proto::SUCCESS_PDU), Connect::Up);
}

#[test]
fn an_unknown_name_is_refused_at_once() {
    let mut p = pair();
    let opening = opening(&p);
    assert_eq!(
        accept_all(&mut p, &opening, None),
        Accept::Refuse(ErrorType::Unauthorized)
    );
}

#[test]
fn a_proof_by_another_key_is_refused() {
    let mut p = pair();
    let opening = opening(&p);
    let other = id(TEST2).public();
    let Accept::Send(answer) = accept_all(&mut p, &opening, Some(other)) else {
        panic!()
    };
    let Connect::Send(proof) = connect_all(&mut p, &answer) else {
        panic!()
    };
    assert_eq!(
        accept_all(&mut p, &proof, None),
        Accept::Refuse(ErrorType::Unauthorized)
    );
    let (name, why) = p.b.refused_peer().unwrap();
    assert_eq!(name, "a.example");
    assert!(why.contains("does not verify"), "{why}");
}

#[test]
fn a_recorded_proof_fails_on_another_connection() {
    let mut p = pair();
    let (_, proof) = to_proof(&mut p);
    // A new connection: the acceptor picks a new nonce; the attacker
    // replays the whole recorded opening and proof.
    let mut q = pair();
    q.b = Acceptor::new(
        "b.example",
        id(TEST2),
        nonce(0x40),
        q.now + Duration::from_secs(10),
    );
    let opening = opening(&q);
    let key = Some(q.a_key);
    assert!(matches!(accept_all(&mut q, &opening, key), Accept::Send(_)));
    assert_eq!(
        accept_all(&mut q, &proof, None),
        Accept::Refuse(ErrorType::Unauthorized)
    );
}

#[test]
fn the_acceptors_own_proof_sent_back_is_refused() {
    let mut p = pair();
    let opening = opening(&p);
    let key = Some(p.a_key);
    let Accept::Send(answer) = accept_all(&mut p, &opening, key) else {
        panic!()
    };
    // Reflect its LinkProof: same names, same nonces, other role.
    let reflected = split(&answer).pop().unwrap();
    assert_eq!(
        accept_all(&mut p, &reflected, None),
        Accept::Refuse(ErrorType::Unauthorized)
    );
}

#[test]
fn a_proof_after_the_deadline_is_refused() {
    let mut p = pair();
    let (_, proof) = to_proof(&mut p);
    p.now += Duration::from_secs(10);
    assert_eq!(
        accept_all(&mut p, &proof, None),
        Accept::Refuse(ErrorType::Unauthorized)
    );
    assert_eq!(p.b.on_timeout(), Accept::Refuse(ErrorType::Unauthorized));
}

#[test]
fn the_connector_refuses_an_acceptor_with_another_key() {
    let mut p = pair();
    p.a = Connector::new(
        "a.example",
        id(TEST1),
        "b.example",
        id(TEST1).public(),
        nonce(0),
        p.now + Duration::from_secs(10),
    );
    let opening = opening(&p);
    let key = Some(p.a_key);
    let Accept::Send(answer) = accept_all(&mut p, &opening, key) else {
        panic!()
    };
    assert_eq!(
        connect_all(&mut p, &answer),
        Connect::Fail(LinkError::BadProof)
    );
}

#[test]
fn out_of_sequence_pdus_are_refused() {
    let mut p = pair();
    let proof = pdus(&[LinkProof {
        signature: &[0; 64],
    }
    .into()]);
    assert_eq!(
        accept_all(&mut p, &proof, None),
        Accept::Refuse(ErrorType::BadRequest)
    );
    assert_eq!(
        connect_all(&mut p, &proto::error_frame(ErrorType::Unauthorized)),
        Connect::Fail(LinkError::Refused(ErrorType::Unauthorized))
    );
}

/// The hex of `bytes`, as docs/protocol.md section 8.3 shows it.
fn hex_of(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The worked example: a.example (RFC 8032 TEST 1) connects to b.example
/// (TEST 2) with nonces 00..1f and 20..3f. Every value printed in the
/// document is recomputed here.
#[test]
fn the_documented_example_is_what_the_code_computes() {
    let mut p = pair();
    let opening = p.a.start();
    let (answer, proof) = to_proof(&mut p);
    let signed_b = transcript(
        Role::Acceptor,
        "a.example",
        "b.example",
        &nonce(0),
        &nonce(0x20),
    );
    let signed_a = transcript(
        Role::Connector,
        "a.example",
        "b.example",
        &nonce(0),
        &nonce(0x20),
    );
    let sig_b = id(TEST2).sign(&signed_b);
    let sig_a = id(TEST1).sign(&signed_a);
    assert_eq!(split(&answer)[1][3..], sig_b);
    assert_eq!(proof[3..], sig_a);
    let flat: String = DOC.split_whitespace().collect::<String>();
    for (what, bytes) in [
        ("the opening", &opening[..]),
        ("the acceptor's transcript", &signed_b[..]),
        ("the connector's transcript", &signed_a[..]),
        ("the acceptor's answer", &answer[..]),
        ("the connector's proof", &proof[..]),
        ("a.example's public key", &id(TEST1).public()[..]),
        ("b.example's public key", &id(TEST2).public()[..]),
    ] {
        // Strip comments and spaces as a reader would.
        let doc_hex: String = DOC
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default())
            .collect::<String>()
            .split_whitespace()
            .collect();
        assert!(
            doc_hex.contains(&hex_of(bytes)) || flat.contains(&hex_of(bytes)),
            "docs/protocol.md does not show {what}: {}",
            hex_of(bytes)
        );
    }
}

/// A connector without a's secret key never brings a link up, whatever
/// it sends in whatever order.
mod without_the_key {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Sent {
        Name(&'static str),
        Nonce([u8; 32]),
        Proof(Vec<u8>),
        Test,
        Success,
    }

    fn sent() -> impl Strategy<Value = Sent> {
        prop_oneof![
            prop::sample::select(vec!["a.example", "b.example", "z.example"]).prop_map(Sent::Name),
            any::<[u8; 32]>().prop_map(Sent::Nonce),
            proptest::collection::vec(any::<u8>(), 64).prop_map(Sent::Proof),
            Just(Sent::Test),
            Just(Sent::Success),
        ]
    }

    proptest! {
        #[test]
        fn no_sequence_brings_the_link_up(seq in proptest::collection::vec(sent(), 1..8)) {
            let mut p = pair();
            for s in seq {
                let sig;
                let pdu = match &s {
                    Sent::Name(n) => Pdu::ServerAuth(proto::ServerAuth { name: n }),
                    Sent::Nonce(n) => LinkNonce { nonce: n }.into(),
                    Sent::Proof(b) => {
                        sig = <[u8; 64]>::try_from(b.as_slice()).unwrap();
                        LinkProof { signature: &sig }.into()
                    }
                    Sent::Test => Pdu::Test(proto::Test { num1: 0, num2: 0, num3: 0, num4: 0 }),
                    Sent::Success => Pdu::Success,
                };
                let mut answer = p.b.on_pdu(p.now, &pdu);
                if let Accept::Lookup(name) = &answer {
                    let key = (name == "a.example").then_some(p.a_key);
                    answer = p.b.on_key(p.now, key);
                }
                prop_assert!(!matches!(answer, Accept::Up(_)));
                if matches!(answer, Accept::Refuse(_)) {
                    break;
                }
            }
        }
    }
}
