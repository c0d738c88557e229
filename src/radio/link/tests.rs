//! The link on a virtual clock: two ends joined by a simulated half-duplex
//! channel that loses, duplicates and reorders frames on demand.

use super::*;
use crate::radio::rng::Rng;

fn config() -> Config {
    Config {
        phy: Phy::new(9, 125_000, 5).unwrap(),
        mtu: 200,
        overhead: 1,
        base64: false,
        duty_cycle: None,
        max_dwell_ms: None,
        ack_delay_ms: 150,
        coalesce_ms: 50,
        epoch: 0x0E01,
    }
    .checked()
    .unwrap()
}

/// One frame on air, as the emulator logs it.
#[derive(Debug, Clone)]
struct OnAir {
    t: u64,
    from: usize,
    bytes: Vec<u8>,
    airtime: f64,
    lost: bool,
}

/// Decides to lose a frame: (from, index of the frame from that end, bytes).
type DropRule = Box<dyn FnMut(usize, u64, &[u8]) -> bool>;

/// Two links and a channel between them.
struct Sim {
    ends: [Link; 2],
    got: [Vec<Event>; 2],
    now: u64,
    busy_until: u64,
    /// (arrival time, to, bytes)
    flying: Vec<(u64, usize, Vec<u8>)>,
    rng: Rng,
    loss: f64,
    duplicate: f64,
    /// Extra random delay of up to this many ms, so frames overtake.
    reorder_ms: u64,
    drop: DropRule,
    sent: [u64; 2],
    log: Vec<OnAir>,
    /// End 1 answers every Message and UserAuth with Success, like a server.
    serve: bool,
    /// End 1 answers every Message with a RelayAck of its count, like the
    /// accepting end of a server link.
    relayed: Option<u64>,
}

impl Sim {
    fn new(cfg: Config, seed: u64) -> Sim {
        Sim {
            ends: [
                Link::new(cfg.clone()),
                Link::new(Config {
                    epoch: 0x0E02,
                    ..cfg
                }),
            ],
            got: [Vec::new(), Vec::new()],
            now: 0,
            busy_until: 0,
            flying: Vec::new(),
            rng: Rng::new(seed),
            loss: 0.0,
            duplicate: 0.0,
            reorder_ms: 0,
            drop: Box::new(|_, _, _| false),
            sent: [0, 0],
            log: Vec::new(),
            serve: false,
            relayed: None,
        }
    }

    /// Runs until both ends are idle and nothing is in the air, or `limit`
    /// ms of virtual time pass.
    fn run(&mut self, limit: u64) {
        let end = self.now + limit;
        while self.now < end {
            self.deliver();
            self.transmit();
            let Some(next) = self.next_time() else {
                return;
            };
            self.now = next.max(self.now + 1).min(end);
        }
    }

    fn deliver(&mut self) {
        let now = self.now;
        let (due, later): (Vec<_>, Vec<_>) = self.flying.drain(..).partition(|(t, _, _)| *t <= now);
        self.flying = later;
        for (_, to, bytes) in due {
            self.ends[to].receive(&bytes, now).unwrap();
            while let Some(e) = self.ends[to].poll_event() {
                if self.serve && to == 1 {
                    if let Event::Pdu(id, pdu) = &e {
                        if matches!(pdu[0], 0x04 | 0x05) {
                            self.ends[1].send(*id, &[0x01, 0x00, 0x00]);
                        }
                    }
                }
                if let (Some(n), 1, Event::Pdu(id, pdu)) = (&mut self.relayed, to, &e) {
                    if pdu[0] == 0x05 {
                        *n += 1;
                        let ack = crate::proto::Pdu::RelayAck(crate::proto::Relay { number: *n });
                        self.ends[1].send(*id, &ack.to_vec().unwrap());
                    }
                }
                self.got[to].push(e);
            }
        }
    }

    /// Half-duplex with perfect carrier sense: one frame on air at a time.
    fn transmit(&mut self) {
        if self.now < self.busy_until {
            return;
        }
        // Alternate who goes first so neither end starves the other.
        let first = (self.now % 2) as usize;
        for from in [first, 1 - first] {
            let Some(tx) = self.ends[from].poll_transmit(self.now) else {
                continue;
            };
            let air = tx.airtime_ms.ceil() as u64;
            self.busy_until = self.now + air;
            let index = self.sent[from];
            self.sent[from] += 1;
            let lost = self.rng.chance(self.loss) || (self.drop)(from, index, &tx.bytes);
            if !lost {
                let copies = if self.rng.chance(self.duplicate) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let extra = match self.reorder_ms {
                        0 => 0,
                        r => self.rng.next_u64() % r,
                    };
                    self.flying
                        .push((self.busy_until + extra, 1 - from, tx.bytes.clone()));
                }
            }
            self.log.push(OnAir {
                t: self.now,
                from,
                bytes: tx.bytes,
                airtime: tx.airtime_ms,
                lost,
            });
            return;
        }
    }

    fn next_time(&self) -> Option<u64> {
        let mut times: Vec<u64> = self.flying.iter().map(|f| f.0).collect();
        if self.busy_until > self.now {
            times.push(self.busy_until);
        }
        for end in &self.ends {
            times.extend(end.poll_timeout(self.now));
        }
        times.into_iter().min()
    }

    fn pdus(&self, to: usize) -> Vec<Vec<u8>> {
        self.got[to]
            .iter()
            .filter_map(|e| match e {
                Event::Pdu(_, p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    fn bytes_on_air(&self, since: usize) -> usize {
        self.log[since..].iter().map(|f| f.bytes.len()).sum()
    }
}

fn message(from: &str, to: &str, time: u64, text: &str) -> Vec<u8> {
    crate::proto::Pdu::from(crate::proto::Message {
        source_address: from,
        target_address: to,
        send_time: time,
        message_content: text,
    })
    .to_vec()
    .unwrap()
}

const HANDSHAKE: [u8; 6] = [0x03, 0x00, 0x03, 0x00, 0x05, 0x01];

fn auth() -> Vec<u8> {
    [
        &[0x04, 0x00, 0x0E, 0x00, 0x05][..],
        b"alice",
        &[0x00, 0x05],
        b"s3cr3",
    ]
    .concat()
}

#[test]
fn frame_vectors() {
    let data = |seq, bytes| Some((seq, bytes));
    let ack = |next, sack| Some(Ack { next, sack });
    let cases: [(Frame<'_>, &[u8]); 6] = [
        (
            Frame {
                epoch: Some(0x0E01),
                ack: ack(0, 0),
                data: data(0, &[0x01][..]),
            },
            &[0xC0, 0x0B, 0x0E, 0x01, 0x01],
        ),
        (
            Frame {
                epoch: None,
                ack: None,
                data: data(2, &[0x51, 0x02]),
            },
            &[0x10, 0x51, 0x02],
        ),
        (
            Frame {
                epoch: None,
                ack: ack(5, 0),
                data: None,
            },
            &[0x45],
        ),
        (
            Frame {
                epoch: None,
                ack: ack(5, 0b101),
                data: None,
            },
            &[0xC5, 0x06, 0x05],
        ),
        (
            Frame {
                epoch: None,
                ack: ack(3, 0),
                data: data(1, &[0x31]),
            },
            &[0x8B, 0x31],
        ),
        (
            Frame {
                epoch: None,
                ack: ack(7, 0x04),
                data: data(7, &[0x31]),
            },
            &[0xFF, 0x07, 0x04, 0x31],
        ),
    ];
    for (frame, bytes) in cases {
        let mut out = Vec::new();
        frame.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(Frame::decode(bytes).unwrap(), frame);
    }
    for bad in [
        &[][..],
        &[0x00],
        &[0x01, 0x31],
        &[0x48],
        &[0x45, 0x01],
        &[0xC0, 0x00],
        &[0xC0, 0x04],
        &[0xC0, 0x12],
        &[0xC0, 0x0A, 0x0E],
    ] {
        assert!(Frame::decode(bad).is_err(), "{bad:02x?}");
    }
}

#[test]
fn a_session_crosses_and_each_further_hi_costs_few_bytes() {
    let mut sim = Sim::new(config(), 1);
    sim.serve = true;
    let id = sim.ends[0].open().unwrap();
    sim.ends[0].send(id, &HANDSHAKE);
    sim.ends[0].send(id, &auth());
    let t = 1_764_600_000;
    sim.ends[0].send(id, &message("alice@localhost", "bob@localhost", t, "hi"));
    sim.run(60_000);
    assert!(matches!(sim.got[1][0], Event::Opened(_)));
    assert_eq!(
        sim.pdus(1),
        [
            HANDSHAKE.to_vec(),
            auth(),
            message("alice@localhost", "bob@localhost", t, "hi")
        ]
    );
    assert_eq!(sim.pdus(0), [vec![1, 0, 0], vec![1, 0, 0]]);
    for i in 1..=5 {
        let before = sim.log.len();
        sim.ends[0].send(
            id,
            &message("alice@localhost", "bob@localhost", t + i, "hi"),
        );
        sim.run(60_000);
        let frames: Vec<_> = sim.log[before..].iter().map(|f| f.bytes.clone()).collect();
        // Data "hi" (5 B), Success with the ack riding on it (2 B), bare ack (1 B).
        assert_eq!(sim.bytes_on_air(before), 8, "{frames:02x?}");
    }
    assert_eq!(sim.pdus(0).len(), 7);
    sim.ends[0].close(id);
    sim.run(60_000);
    assert!(matches!(sim.got[1].last(), Some(Event::Closed(_))));
    assert!(sim.ends[0].is_idle() && sim.ends[1].is_idle());
}

#[test]
fn an_idle_link_is_silent() {
    let mut sim = Sim::new(config(), 2);
    let id = sim.ends[0].open().unwrap();
    sim.ends[0].send(id, &HANDSHAKE);
    sim.run(60_000);
    let frames = sim.log.len();
    assert_eq!(sim.ends[0].poll_timeout(sim.now), None);
    assert_eq!(sim.ends[1].poll_timeout(sim.now), None);
    sim.run(3_600_000);
    assert_eq!(sim.log.len(), frames);
}

/// Sends `n` numbered messages from end 0 and checks end 1 got each once, in order.
fn two_hundred_messages(sim: &mut Sim) {
    let id = sim.ends[0].open().unwrap();
    let msgs: Vec<Vec<u8>> = (0..200)
        .map(|i| {
            message(
                "alice@a.example",
                "bob@b.example",
                1000 + i,
                &format!("m{i}"),
            )
        })
        .collect();
    // In groups of five, each sent once the link has gone quiet: many
    // frames, so losses hit data, acks and replies alike.
    for group in msgs.chunks(5) {
        for m in group {
            sim.ends[0].send(id, m);
        }
        sim.run(3_600_000);
    }
    assert_eq!(sim.pdus(1), msgs);
    assert!(sim.ends[0].is_idle(), "everything acknowledged");
}

#[test]
fn twenty_percent_loss_delivers_200_messages_exactly_once_in_order() {
    for seed in 1..=5 {
        let mut sim = Sim::new(config(), seed);
        sim.loss = 0.2;
        sim.serve = true;
        two_hundred_messages(&mut sim);
        assert_eq!(sim.pdus(0).len(), 200, "every Success came back too");
        assert!(sim.log.iter().any(|f| f.lost));
    }
}

#[test]
fn duplicated_and_reordered_frames_are_delivered_once_in_order() {
    let mut sim = Sim::new(config(), 3);
    sim.duplicate = 0.3;
    sim.reorder_ms = 3000;
    sim.loss = 0.1;
    two_hundred_messages(&mut sim);
    assert!(sim.ends[1].stats.duplicates > 0);
}

#[test]
fn lost_acks_cost_resends_but_no_duplicates_delivered() {
    let mut sim = Sim::new(config(), 4);
    // Every frame from end 1 (acks only: it sends no data) is lost three
    // times out of four.
    let mut rng = Rng::new(9);
    sim.drop = Box::new(move |from, _, _| from == 1 && rng.chance(0.75));
    two_hundred_messages(&mut sim);
    assert!(sim.ends[0].stats.resent > 0);
}

#[test]
fn a_4_kib_message_resends_only_its_missing_fragments() {
    let mut sim = Sim::new(config(), 5);
    let text = "x".repeat(4096);
    let big = message("alice@a.example", "bob@b.example", 1, &text);
    // Lose the 3rd and 7th fragments the first time they go out.
    sim.drop = Box::new(|from, index, _| from == 0 && (index == 2 || index == 6));
    let id = sim.ends[0].open().unwrap();
    sim.ends[0].send(id, &big);
    sim.run(600_000);
    assert_eq!(sim.pdus(1), [big]);
    let data_frames = sim.log.iter().filter(|f| f.from == 0).count() as u64;
    assert!(data_frames >= 21, "{data_frames} fragments");
    assert_eq!(sim.ends[0].stats.resent, 2, "only the two lost fragments");
    // Each fragment fills the MTU but the last.
    assert!(sim
        .log
        .iter()
        .filter(|f| f.from == 0)
        .all(|f| f.bytes.len() <= 200));
}

#[test]
fn a_spent_duty_cycle_budget_makes_traffic_wait_never_drop() {
    let mut cfg = config();
    cfg.duty_cycle = Some(0.01);
    let mut sim = Sim::new(cfg, 6);
    sim.serve = true;
    let id = sim.ends[0].open().unwrap();
    // About 36 s of airtime at SF9: far over the 36 s an hour 1 % allows
    // once the Successes and acks are counted.
    let msgs: Vec<Vec<u8>> = (0..120)
        .map(|i| message("alice@a.example", "bob@b.example", i, &"y".repeat(180)))
        .collect();
    for m in &msgs {
        sim.ends[0].send(id, m);
    }
    sim.run(6 * 3_600_000);
    assert_eq!(sim.pdus(1), msgs);
    let budget = 0.01 * 3_600_000.0;
    for side in 0..2 {
        let mine: Vec<&OnAir> = sim.log.iter().filter(|f| f.from == side).collect();
        for w in &mine {
            let used: f64 = mine
                .iter()
                .filter(|f| f.t >= w.t && f.t < w.t + 3_600_000)
                .map(|f| f.airtime)
                .sum();
            assert!(
                used <= budget + 1e-6,
                "end {side}: {used} ms in the hour from {}",
                w.t
            );
        }
    }
    let last = sim.log.last().unwrap().t;
    assert!(last > 3_600_000, "the budget made traffic wait");
}

#[test]
fn the_dwell_limit_shrinks_the_mtu_or_refuses_the_setting() {
    let mut cfg = config();
    cfg.max_dwell_ms = Some(400.0);
    // SF9/125 kHz: 66 bytes fit 400 ms, less the modem's byte.
    assert_eq!(cfg.clone().checked().unwrap().mtu, 65);
    cfg.phy = Phy::new(11, 125_000, 5).unwrap();
    assert!(cfg.checked().is_err());
}

#[test]
fn connections_are_multiplexed_and_closed_both_ways() {
    let mut sim = Sim::new(config(), 7);
    sim.loss = 0.2;
    let a = sim.ends[0].open().unwrap();
    let b = sim.ends[0].open().unwrap();
    sim.ends[0].send(a, &message("a@x", "b@y", 1, "to a"));
    sim.ends[0].send(b, &message("c@x", "d@y", 2, "to b"));
    sim.run(600_000);
    let opened: Vec<ConnId> = sim.got[1]
        .iter()
        .filter_map(|e| match e {
            Event::Opened(id) => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 2);
    // The far end answers on b, then closes it; end 0 closes a.
    sim.ends[1].send(opened[1], &[0x01, 0x00, 0x00]);
    sim.ends[1].close(opened[1]);
    sim.ends[0].close(a);
    sim.run(600_000);
    assert_eq!(sim.got[0], [Event::Pdu(b, vec![1, 0, 0]), Event::Closed(b)]);
    assert!(matches!(sim.got[1].last(), Some(Event::Closed(id)) if *id == opened[0]));
    // Each end closes what the other closed, and then both are gone.
    sim.ends[0].close(b);
    sim.ends[1].close(opened[0]);
    sim.run(600_000);
    assert!(sim.ends[0].conns.is_empty() && sim.ends[1].conns.is_empty());
}

#[test]
fn a_restarted_peer_resets_the_link_and_new_traffic_flows() {
    let mut sim = Sim::new(config(), 8);
    sim.serve = true;
    let id = sim.ends[0].open().unwrap();
    sim.ends[0].send(id, &HANDSHAKE);
    sim.ends[0].send(
        id,
        &message("alice@localhost", "bob@localhost", 5, "before"),
    );
    sim.run(60_000);
    assert_eq!(sim.pdus(1).len(), 2);
    // The announcing is over: later frames carry no epoch.
    let last = sim.log.last().unwrap();
    assert_eq!(last.bytes[0] & FLAG_EPOCH, 0, "{:02x?}", last.bytes);

    // End 1 restarts: fresh state, a new epoch.
    let cfg = sim.ends[1].config().clone();
    sim.ends[1] = Link::new(Config {
        epoch: 0x0E03,
        ..cfg
    });
    sim.got[1].clear();
    // End 0 knows nothing yet and sends on its old connection; the fresh
    // end ignores that, announces itself, and end 0 ends the connection.
    sim.ends[0].send(id, &message("alice@localhost", "bob@localhost", 6, "lost"));
    sim.run(60_000);
    assert_eq!(sim.got[0].last(), Some(&Event::Closed(id)));
    assert!(
        sim.pdus(1).is_empty(),
        "nothing of the old stream delivered"
    );

    // A new connection crosses from sequence 0 with fresh aliases.
    let id = sim.ends[0].open().unwrap();
    let m = message("alice@localhost", "bob@localhost", 7, "after");
    sim.ends[0].send(id, &HANDSHAKE);
    sim.ends[0].send(id, &m);
    sim.run(60_000);
    assert_eq!(sim.pdus(1), [HANDSHAKE.to_vec(), m]);
}

/// A PDU built by the codec.
fn pdu(p: crate::proto::Pdu<'_>) -> Vec<u8> {
    p.to_vec().unwrap()
}

#[test]
fn a_federated_hi_costs_5_bytes_and_its_relay_ack_3() {
    use crate::proto::{LinkNonce, LinkProof, Pdu, Relay, ServerAuth};
    // Two servers' link (docs/protocol.md 8.3, 8.5) set up over the air;
    // end 1 is the acceptor, which answers each relayed Message with a
    // RelayAck.
    let mut sim = Sim::new(config(), 9);
    let id = sim.ends[0].open().unwrap();
    let link_handshake = [0x03, 0x00, 0x03, 0x00, 0x05, 0x02];
    let server_auth = pdu(Pdu::ServerAuth(ServerAuth { name: "a.example" }));
    let (nc, na, sig) = ([1u8; 32], [2u8; 32], [3u8; 64]);
    for p in [
        link_handshake.to_vec(),
        server_auth,
        pdu(Pdu::LinkNonce(LinkNonce { nonce: &nc })),
    ] {
        sim.ends[0].send(id, &p);
    }
    sim.run(60_000);
    let far = ConnId { mine: false, n: 0 };
    sim.ends[1].send(far, &pdu(Pdu::LinkNonce(LinkNonce { nonce: &na })));
    sim.ends[1].send(far, &pdu(Pdu::LinkProof(LinkProof { signature: &sig })));
    sim.run(60_000);
    sim.ends[0].send(id, &pdu(Pdu::LinkProof(LinkProof { signature: &sig })));
    sim.run(60_000);
    sim.ends[1].send(far, &[0x01, 0x00, 0x00]);
    sim.ends[1].send(far, &pdu(Pdu::RelayAck(Relay { number: 0 })));
    sim.run(60_000);
    let set_up = sim.bytes_on_air(0);
    // The first relay teaches the link both addresses.
    sim.relayed = Some(0);
    sim.ends[0].send(id, &pdu(Pdu::RelayFrom(Relay { number: 1 })));
    let first = message("alice@a.example", "bob@b.example", 1_764_600_000, "hi");
    sim.ends[0].send(id, &first);
    sim.run(60_000);
    assert!(set_up < 300, "{set_up} B to set the link up");
    for t in 1..=5 {
        let before = sim.log.len();
        let hi = message("alice@a.example", "bob@b.example", 1_764_600_000 + t, "hi");
        sim.ends[0].send(id, &hi);
        sim.run(60_000);
        let frames: Vec<_> = sim.log[before..].iter().map(|f| f.bytes.clone()).collect();
        // The Message frame (5 B), then the RelayAck with the link ack on
        // it (2 B), and the sender's link ack of that (1 B).
        assert_eq!(frames.len(), 3, "{frames:02x?}");
        assert_eq!(frames[0].len(), 5, "{frames:02x?}");
        assert_eq!((frames[1].len(), frames[1][1]), (2, 0x80), "{frames:02x?}");
        assert_eq!(frames[2].len(), 1, "{frames:02x?}");
        assert_eq!(sim.pdus(1).last(), Some(&hi));
        let ack = pdu(Pdu::RelayAck(Relay { number: 1 + t }));
        assert_eq!(sim.pdus(0).last(), Some(&ack));
    }
}

#[test]
fn a_malformed_stream_restarts_both_ends_under_a_new_epoch() {
    let mut sim = Sim::new(config(), 10);
    sim.serve = true;
    let id = sim.ends[0].open().unwrap();
    sim.ends[0].send(id, &HANDSHAKE);
    sim.run(60_000);
    // A frame with the next sequence number whose record kind is undefined.
    let mut bad = Vec::new();
    Frame {
        epoch: None,
        ack: None,
        data: Some((sim.ends[1].expect, &[0xE0])),
    }
    .encode(&mut bad);
    let now = sim.now;
    assert!(matches!(
        sim.ends[1].receive(&bad, now),
        Err(ReceiveError::Stream(_))
    ));
    assert_eq!(sim.ends[1].config().epoch, 0x0E03);
    sim.run(60_000);
    assert_eq!(sim.got[0].last(), Some(&Event::Closed(id)));
    let id = sim.ends[0].open().unwrap();
    let m = message("alice@localhost", "bob@localhost", 7, "again");
    sim.ends[0].send(id, &m);
    sim.run(60_000);
    assert_eq!(sim.pdus(1).last(), Some(&m));
}

#[test]
fn burst_losses_delay_but_never_lose_or_duplicate() {
    let mut sim = Sim::new(config(), 11);
    sim.serve = true;
    // Gilbert–Elliott: bursts of about 5 lost frames, 20 % of all frames.
    let (mut rng, mut bad) = (Rng::new(12), false);
    sim.drop = Box::new(move |_, _, _| {
        let flip = if bad { 0.2 } else { 0.05 };
        if rng.chance(flip) {
            bad = !bad;
        }
        bad
    });
    two_hundred_messages(&mut sim);
    assert_eq!(sim.pdus(0).len(), 200);
    assert!(sim.log.iter().filter(|f| f.lost).count() > 20);
}
