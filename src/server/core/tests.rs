//! The core driven by inputs and a virtual clock: no threads, no sleeps,
//! no sockets; assertions on the effects.

use super::*;
use crate::proto::Mode;
use crate::store::Peer;
use std::time::Duration;

struct Harness {
    core: Core,
    t0: Instant,
    now: Instant,
}

fn limits() -> Limits {
    Limits {
        max_sessions_per_user: 2,
        idle_timeout: Some(Duration::from_secs(60)),
        ..Limits::default()
    }
}

impl Harness {
    fn new(limits: Limits) -> Harness {
        let mut snap = Snapshot::default();
        for u in ["alice", "bob"] {
            snap.users.insert(u.into(), format!("hash-{u}"));
        }
        for (o, c) in [("alice", "bob@x"), ("bob", "alice@x")] {
            snap.contacts.insert((o.into(), c.into()));
        }
        let now = Instant::now();
        Harness {
            core: Core::new("x", limits, snap),
            t0: now,
            now,
        }
    }

    fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
    }

    fn run(&mut self, input: Input) -> Vec<Effect> {
        self.core.handle(self.now, input);
        self.core.effects().collect()
    }

    fn open(&mut self, session: SessionId, user: &str) -> Vec<Effect> {
        let user = user.into();
        self.run(Input::Opened {
            session,
            user,
            trusted: false,
        })
    }

    /// Sends PDUs with no budget limit; returns the effects.
    fn send(&mut self, session: SessionId, pdus: &[Pdu<'_>]) -> Vec<Effect> {
        let bytes = frames(pdus);
        let used = self.core.frames(self.now, session, &bytes, usize::MAX);
        assert_eq!(used, bytes.len());
        self.core.effects().collect()
    }
}

fn frames(pdus: &[Pdu<'_>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for p in pdus {
        p.encode(&mut bytes).unwrap();
    }
    bytes
}

fn message<'a>(from: &'a str, to: &'a str, text: &'a str) -> Pdu<'a> {
    Pdu::Message(proto::Message {
        source_address: from,
        target_address: to,
        send_time: 100,
        message_content: text,
    })
}

fn replies(effects: &[Effect], session: SessionId) -> Vec<Reply> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Reply { to, reply } if *to == session => Some(reply.clone()),
            _ => None,
        })
        .collect()
}

fn closed(effects: &[Effect]) -> Vec<SessionId> {
    let closes = effects.iter().filter_map(|e| match e {
        Effect::Close { to } => Some(*to),
        _ => None,
    });
    closes.collect()
}

#[test]
fn a_direct_message_is_stored_then_pushed_to_the_other_sessions() {
    let mut h = Harness::new(limits());
    h.open(1, "alice");
    h.open(2, "bob");
    h.open(3, "alice");
    let fx = h.send(1, &[message("alice@x", "bob@x", "hi")]);
    let Effect::Store(Change::Charge { user, .. }) = &fx[0] else {
        panic!("store first: {fx:?}");
    };
    assert_eq!(&**user, "alice");
    let Effect::Store(Change::Append {
        conversation, seq, ..
    }) = &fx[1]
    else {
        panic!("store first: {fx:?}");
    };
    assert_eq!(&**conversation, "alice@x bob@x");
    assert_eq!(*seq, 0);
    let pushed: Vec<SessionId> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Push { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(
        pushed,
        [2, 3],
        "the recipient and the sender's other session"
    );
    assert_eq!(replies(&fx, 1), [Reply::Success]);
    assert_eq!(h.core.next_seq(), 1);
}

#[test]
fn rules_answer_errors_and_change_nothing() {
    let mut h = Harness::new(limits());
    h.open(1, "alice");
    let fx = h.send(
        1,
        &[
            message("bob@x", "alice@x", "spoofed"),
            message("alice@x", "carol@x", "nobody"),
            Pdu::Unknown {
                code: 0x99,
                payload: &[],
            },
        ],
    );
    assert_eq!(
        replies(&fx, 1),
        [
            Reply::Error(ErrorType::Unauthorized),
            Reply::Error(ErrorType::NotFound),
            Reply::Error(ErrorType::Unsupported),
        ]
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::Store(_))));
}

#[test]
fn sessions_per_user_are_capped() {
    let mut h = Harness::new(limits());
    h.open(1, "alice");
    h.open(2, "alice");
    let fx = h.open(3, "alice");
    assert_eq!(replies(&fx, 3), [Reply::Error(ErrorType::TooLarge)]);
    assert_eq!(closed(&fx), [3]);
    // A closed session frees its slot.
    h.run(Input::Closed { session: 1 });
    let fx = h.open(4, "alice");
    assert_eq!(replies(&fx, 4), [Reply::Success]);
    assert_eq!(h.core.session_count(), 2);
}

#[test]
fn passwd_and_del_end_the_users_sessions_after_the_change() {
    let mut h = Harness::new(limits());
    h.open(1, "alice");
    h.open(2, "alice");
    h.open(3, "bob");
    let hash = crate::server::passwords::DECOY_HASH.clone();
    let fx = h.run(Input::Admin {
        token: 7,
        command: Admin::Passwd {
            name: "alice".into(),
            hash,
        },
    });
    assert!(matches!(fx[0], Effect::Store(Change::PutUser { .. })));
    assert_eq!(closed(&fx), [1, 2]);
    assert!(matches!(
        fx.last(),
        Some(Effect::Admin {
            token: 7,
            answer: Ok(_)
        })
    ));
    let fx = h.run(Input::Admin {
        token: 8,
        command: Admin::Del { name: "bob".into() },
    });
    assert_eq!(closed(&fx), [3]);
    assert_eq!(h.core.session_count(), 0);
    assert!(h.core.lookup("bob").is_none());
}

#[test]
fn idle_sessions_close_on_a_tick_past_the_timeout() {
    let mut h = Harness::new(limits());
    h.open(1, "alice");
    h.open(2, "bob");
    h.advance(40);
    h.send(
        2,
        &[Pdu::Test(proto::Test {
            num1: 0,
            num2: 0,
            num3: 0,
            num4: 0,
        })],
    );
    h.advance(20);
    assert_eq!(closed(&h.run(Input::Tick)), [1], "alice was silent 60 s");
    h.advance(39);
    assert!(closed(&h.run(Input::Tick)).is_empty());
    h.advance(1);
    assert_eq!(closed(&h.run(Input::Tick)), [2]);
    assert!(h.now.duration_since(h.t0) == Duration::from_secs(100));
}

#[test]
fn a_budget_stops_decoding_and_the_rest_is_handed_back() {
    let mut h = Harness::new(limits());
    h.open(1, "alice");
    let list = frames(&[Pdu::ContactList]);
    let burst: Vec<u8> = list
        .iter()
        .copied()
        .cycle()
        .take(list.len() * 1000)
        .collect();
    // Each reply is one Contact PDU and Success.
    let one = Pdu::Contact(proto::Contact { address: "bob@x" })
        .to_vec()
        .unwrap()
        .len()
        + 3;
    let used = h.core.frames(h.now, 1, &burst, 10 * one);
    assert_eq!(used, 10 * list.len(), "stops once 10 replies fill the room");
    assert_eq!(h.core.effects().count(), 10);
    let rest = &burst[used..];
    assert_eq!(h.core.frames(h.now, 1, rest, usize::MAX), rest.len());
    assert_eq!(h.core.effects().count(), 990);
}

#[test]
fn history_is_a_cursor_and_features_turn_on_items() {
    let mut h = Harness::new(limits());
    h.open(1, "alice");
    h.send(1, &[message("alice@x", "bob@x", "one")]);
    let history = Pdu::History(proto::History {
        channel_address: "bob@x",
        since: 0,
        count: 50,
        offset: 0,
    });
    let fx = h.send(1, &[history]);
    let Some(Effect::History { items: false, .. }) = fx.first() else {
        panic!("{fx:?}");
    };
    let ask = Pdu::Features(proto::Features { flags: 0xFFFF });
    let fx = h.send(1, &[ask, history]);
    let on = Pdu::Features(proto::Features {
        flags: feature::HISTORY_ITEMS,
    });
    assert_eq!(replies(&fx, 1), [Reply::Bytes(on.to_vec().unwrap())]);
    assert!(matches!(fx[1], Effect::History { items: true, .. }));
}

#[test]
fn a_malformed_frame_closes_the_session() {
    let mut h = Harness::new(limits());
    h.open(1, "alice");
    h.core.frames(h.now, 1, &[0x05, 0x00], usize::MAX);
    let fx: Vec<Effect> = h.core.effects().collect();
    assert_eq!(replies(&fx, 1), [Reply::Error(ErrorType::BadRequest)]);
    assert_eq!(closed(&fx), [1]);
    assert_eq!(h.core.session_count(), 0);
}

#[test]
fn channel_messages_reach_local_members_only() {
    let mut h = Harness::new(limits());
    h.open(1, "alice");
    h.open(2, "bob");
    let join = |who| {
        Pdu::UserMode(proto::UserMode {
            user_address: who,
            channel_address: "#c@x",
            mode: Mode::Member,
        })
    };
    let fx = h.send(1, &[join("alice@x")]);
    assert_eq!(
        fx.iter().filter(|e| matches!(e, Effect::Store(_))).count(),
        2,
        "create and operator"
    );
    h.send(2, &[join("bob@x")]);
    let fx = h.send(1, &[message("alice@x", "#c@x", "all")]);
    let pushed: Vec<_> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Push { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(pushed, [2]);
}

fn peer(key: u8) -> Peer {
    Peer {
        address: "b.example:7447".into(),
        key: [key; 32],
        tls: false,
    }
}

fn admin(h: &mut Harness, command: Admin) -> (Vec<Effect>, AdminReply) {
    let fx = h.run(Input::Admin { token: 1, command });
    let answer = match fx.last() {
        Some(Effect::Admin { answer, .. }) => answer.clone(),
        other => panic!("no admin answer: {other:?}"),
    };
    (fx, answer)
}

#[test]
fn a_proven_peer_relays_by_number_and_each_relay_is_dealt_with_once() {
    let mut h = Harness::new(limits());
    let add = Admin::PeerAdd {
        name: "b.example".into(),
        peer: peer(1),
    };
    let (fx, answer) = admin(&mut h, add);
    assert_eq!(answer, Ok(AdminAnswer::Done));
    assert!(matches!(fx[0], Effect::Store(Change::PutPeer { .. })));
    assert_eq!(h.core.peer_key("b.example"), Some([1; 32]));
    // alice accepts messages from bob@b.example.
    h.open(1, "alice");
    h.send(
        1,
        &[Pdu::ContactAdd(proto::Contact {
            address: "bob@b.example",
        })],
    );
    let fx = h.run(Input::PeerOpened {
        session: 9,
        name: "b.example".into(),
        at: 50,
    });
    assert_eq!(
        replies(&fx, 9),
        [Reply::Success, Reply::Bytes(relay::ack(0))]
    );
    // No number yet: a link error, nothing stored.
    let fx = h.send(
        9,
        &[message("bob@b.example", "alice@x", "hi"), Pdu::ContactList],
    );
    let errors = [
        Reply::Error(ErrorType::BadRequest),
        Reply::Error(ErrorType::Unsupported),
    ];
    assert_eq!(replies(&fx, 9), errors);
    assert!(!fx
        .iter()
        .any(|e| matches!(e, Effect::Store(_) | Effect::Push { .. })));
    // Relay 1 stored and pushed; relay 2 spoofs another domain.
    let fx = h.send(
        9,
        &[
            Pdu::RelayFrom(proto::Relay { number: 1 }),
            message("bob@b.example", "alice@x", "hi"),
            message("eve@x", "alice@x", "spoofed"),
        ],
    );
    let refused = Pdu::RelayRefused(proto::RelayRefused {
        number: 2,
        error_type: ErrorType::Unauthorized,
    });
    assert_eq!(
        replies(&fx, 9),
        [
            Reply::Bytes(refused.to_vec().unwrap()),
            Reply::Bytes(relay::ack(2))
        ]
    );
    let stored: Vec<_> = fx
        .iter()
        .filter(|e| matches!(e, Effect::Store(_)))
        .collect();
    assert!(matches!(stored[0], Effect::Store(Change::Append { .. })));
    assert!(matches!(
        stored[1],
        Effect::Store(Change::Received { number: 2, .. })
    ));
    assert_eq!(stored.len(), 2);
    assert_eq!(
        fx.iter()
            .filter(|e| matches!(e, Effect::Push { to: 1, .. }))
            .count(),
        1
    );
    // Sent again on a new link: acknowledged, not stored twice.
    h.run(Input::PeerOpened {
        session: 10,
        name: "b.example".into(),
        at: 51,
    });
    let fx = h.send(
        10,
        &[
            Pdu::RelayFrom(proto::Relay { number: 1 }),
            message("bob@b.example", "alice@x", "hi"),
        ],
    );
    assert_eq!(replies(&fx, 10), [Reply::Bytes(relay::ack(2))]);
    assert!(!fx.iter().any(|e| matches!(
        e,
        Effect::Push { .. } | Effect::Store(Change::Append { .. })
    )));
    let (_, Ok(AdminAnswer::Peers(list))) = admin(&mut h, Admin::PeerList) else {
        panic!()
    };
    assert_eq!(
        (list[0].link.as_str(), list[0].last_success),
        ("up", Some(51))
    );
    h.run(Input::Closed { session: 10 });
    // A new key for the peer ends the link proven with the old one.
    let replace = Admin::PeerAdd {
        name: "b.example".into(),
        peer: peer(2),
    };
    let (fx, _) = admin(&mut h, replace);
    assert_eq!(closed(&fx), [9]);
    assert!(fx.iter().any(|e| matches!(e, Effect::Wake { .. })));
    let (fx, _) = admin(
        &mut h,
        Admin::PeerRemove {
            name: "b.example".into(),
        },
    );
    assert!(matches!(fx[0], Effect::Store(Change::DeletePeer { .. })));
    assert_eq!(h.core.peer_key("b.example"), None);
    // Removed while its proof was being checked: refused.
    let fx = h.run(Input::PeerOpened {
        session: 10,
        name: "b.example".into(),
        at: 60,
    });
    assert_eq!(replies(&fx, 10), [Reply::Error(ErrorType::Unauthorized)]);
    assert_eq!(closed(&fx), [10]);
}

#[test]
fn config_peers_are_changed_in_the_config_only() {
    let mut h = Harness::new(limits());
    h.core.configure_peers([("b.example".to_owned(), peer(1))]);
    for command in [
        Admin::PeerAdd {
            name: "b.example".into(),
            peer: peer(2),
        },
        Admin::PeerRemove {
            name: "b.example".into(),
        },
        Admin::PeerAdd {
            name: "x".into(),
            peer: peer(2),
        },
        Admin::PeerAdd {
            name: "c.example".into(),
            peer: Peer {
                address: "nowhere".into(),
                ..peer(2)
            },
        },
    ] {
        let (fx, answer) = admin(&mut h, command);
        assert!(answer.is_err(), "{fx:?}");
        assert!(!fx.iter().any(|e| matches!(e, Effect::Store(_))));
    }
    assert_eq!(h.core.peer_key("b.example"), Some([1; 32]));
    // A reload after a failed commit keeps them.
    h.core.reload(Snapshot::default());
    assert_eq!(h.core.peer_key("b.example"), Some([1; 32]));
}

#[test]
fn relays_out_wait_in_the_outbox_until_acknowledged_or_expired() {
    let mut h = Harness::new(Limits {
        max_outbox_messages: 2,
        outbox_lifetime: Duration::from_secs(100),
        ..limits()
    });
    let _ = admin(
        &mut h,
        Admin::PeerAdd {
            name: "b.example".into(),
            peer: peer(1),
        },
    );
    h.core.set_unix_time(1000);
    h.open(1, "alice");
    h.open(2, "alice");
    // Not a contact yet: refused on this side.
    let fx = h.send(1, &[message("alice@x", "bob@b.example", "1")]);
    assert_eq!(replies(&fx, 1), [Reply::Error(ErrorType::Unauthorized)]);
    h.send(
        1,
        &[Pdu::ContactAdd(proto::Contact {
            address: "bob@b.example",
        })],
    );
    // A server that is not a known peer: not found, as before.
    let fx = h.send(1, &[message("alice@x", "bob@c.example", "1")]);
    assert_eq!(replies(&fx, 1), [Reply::Error(ErrorType::NotFound)]);

    let fx = h.send(
        1,
        &[
            message("alice@x", "bob@b.example", "1"),
            message("alice@x", "bob@b.example", "2"),
            message("alice@x", "bob@b.example", "3"),
        ],
    );
    assert_eq!(
        replies(&fx, 1),
        [
            Reply::Success,
            Reply::Success,
            Reply::Error(ErrorType::TooLarge)
        ]
    );
    let queued: Vec<(u64, u64)> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Store(Change::Enqueue {
                number, deadline, ..
            }) => Some((*number, *deadline)),
            _ => None,
        })
        .collect();
    assert_eq!(queued, [(1, 1100), (2, 1100)]);
    // alice's other session sees what she sent; the link is woken.
    assert_eq!(
        fx.iter()
            .filter(|e| matches!(e, Effect::Push { to: 2, .. }))
            .count(),
        2
    );
    assert!(fx.iter().any(|e| matches!(e, Effect::Wake { .. })));
    let work = h.core.link_work("b.example").unwrap();
    assert_eq!((work.pending, work.upto), (true, 3));

    // Relay 1 acknowledged: it leaves the outbox.
    let fx = h.run(Input::Relayed {
        peer: "b.example".into(),
        upto: 1,
        refused: vec![],
    });
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Store(Change::Dequeue { upto: 1, .. }))));
    // Relay 2 outlives its lifetime: given up, alice told by the postmaster.
    h.core.set_unix_time(1100);
    let fx = h.run(Input::Tick);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Store(Change::DequeueOne { number: 2, .. }))));
    let notices: Vec<&Arc<[u8]>> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Push { pdu, .. } => Some(pdu),
            _ => None,
        })
        .collect();
    assert_eq!(notices.len(), 2, "one per session of alice");
    let deframer = Deframer::with_max_payload(proto::MAX_PAYLOAD);
    let Ok(Some((Pdu::Message(m), _))) = deframer.decode(notices[0]) else {
        panic!()
    };
    assert_eq!(
        (m.source_address, m.target_address),
        ("postmaster@x", "alice@x")
    );
    assert!(m
        .message_content
        .starts_with("Not delivered to bob@b.example: "));
    let work = h.core.link_work("b.example").unwrap();
    assert_eq!((work.pending, work.upto), (false, 3));
    let (_, Ok(AdminAnswer::Peers(list))) = admin(&mut h, Admin::PeerList) else {
        panic!()
    };
    assert_eq!(list[0].queued, 0);
    assert_eq!(list[0].given_up, 1);
    assert!(list[0]
        .last_given_up
        .as_ref()
        .unwrap()
        .1
        .contains("expired"));
}

fn test_pdu() -> Pdu<'static> {
    Pdu::Test(proto::Test {
        num1: 1,
        num2: 2,
        num3: 3,
        num4: 4,
    })
}

/// Errors 0x84 among the replies to `session`.
fn slow_downs(effects: &[Effect], session: SessionId) -> usize {
    let replies = replies(effects, session);
    let slow = Reply::Error(ErrorType::SlowDown);
    replies.iter().filter(|r| **r == slow).count()
}

#[test]
fn a_user_over_the_rate_is_told_to_slow_down_across_sessions() {
    let limits = Limits {
        rate_limit_burst: 10,
        rate_limit_per_sec: 5,
        ..limits()
    };
    let mut h = Harness::new(limits);
    h.open(1, "alice");
    h.open(2, "alice");
    h.open(3, "bob");
    let fx = h.send(1, &[test_pdu(); 8]);
    assert_eq!(slow_downs(&fx, 1), 0);
    // The second session shares the bucket: 2 left, then refused.
    let fx = h.send(2, &[test_pdu(); 4]);
    assert_eq!(slow_downs(&fx, 2), 2);
    let fx = h.send(1, &[message("alice@x", "bob@x", "hi")]);
    assert_eq!(replies(&fx, 1), [Reply::Error(ErrorType::SlowDown)]);
    assert!(!fx.iter().any(|e| matches!(e, Effect::Store(_))));
    // Others are served meanwhile.
    let fx = h.send(3, &[message("bob@x", "alice@x", "hi")]);
    assert_eq!(replies(&fx, 3), [Reply::Success]);
    // Five a second come back.
    h.advance(1);
    let fx = h.send(1, &[test_pdu(); 6]);
    assert_eq!(slow_downs(&fx, 1), 1);
}

#[test]
fn trusted_sessions_are_not_rate_limited() {
    let limits = Limits {
        rate_limit_burst: 1,
        rate_limit_per_sec: 1,
        ..limits()
    };
    let mut h = Harness::new(limits);
    let user = "alice".into();
    h.run(Input::Opened {
        session: 1,
        user,
        trusted: true,
    });
    let fx = h.send(1, &[test_pdu(); 100]);
    assert_eq!(slow_downs(&fx, 1), 0);
    // Full buckets are forgotten on a tick; others stay.
    h.open(2, "bob");
    h.send(2, &[test_pdu(); 2]);
    h.run(Input::Tick);
    assert_eq!(h.core.buckets.len(), 1);
    h.advance(1);
    h.run(Input::Tick);
    assert!(h.core.buckets.is_empty());
}

#[test]
fn stored_bytes_are_charged_to_the_sender_up_to_the_quota() {
    let one = frames(&[message("alice@x", "bob@x", "hi")]).len() as u64;
    let mut h = Harness::new(Limits {
        max_stored_bytes_per_user: 2 * one,
        ..limits()
    });
    h.open(1, "alice");
    h.open(2, "bob");
    for _ in 0..2 {
        let fx = h.send(1, &[message("alice@x", "bob@x", "hi")]);
        assert_eq!(replies(&fx, 1), [Reply::Success]);
        let charged: Vec<_> = fx
            .iter()
            .filter_map(|e| match e {
                Effect::Store(Change::Charge { user, bytes }) => Some((user.to_string(), *bytes)),
                _ => None,
            })
            .collect();
        assert_eq!(charged, [("alice".to_owned(), one)]);
    }
    assert_eq!(h.core.usage("alice"), 2 * one);
    let fx = h.send(1, &[message("alice@x", "bob@x", "hi")]);
    assert_eq!(replies(&fx, 1), [Reply::Error(ErrorType::TooLarge)]);
    assert!(
        !fx.iter()
            .any(|e| matches!(e, Effect::Store(_) | Effect::Push { .. })),
        "nothing stored or pushed: {fx:?}"
    );
    // Bob has his own quota.
    let fx = h.send(2, &[message("bob@x", "alice@x", "hi")]);
    assert_eq!(replies(&fx, 2), [Reply::Success]);
    // What the store counts after a deletion is what the core counts.
    h.core.set_usage([("alice".to_owned(), one)].into());
    let fx = h.send(1, &[message("alice@x", "bob@x", "hi")]);
    assert_eq!(replies(&fx, 1), [Reply::Success]);
}

#[test]
fn a_history_offset_past_the_scan_limit_is_refused() {
    let mut h = Harness::new(Limits {
        max_history_scan: 10,
        ..limits()
    });
    h.open(1, "alice");
    let ask = |offset| {
        Pdu::History(proto::History {
            channel_address: "bob@x",
            since: 0,
            count: 5,
            offset,
        })
    };
    let fx = h.send(1, &[ask(10)]);
    assert_eq!(replies(&fx, 1), [Reply::Error(ErrorType::TooLarge)]);
    let fx = h.send(1, &[ask(9)]);
    let Some(Effect::History { cursor, by, .. }) = fx.first() else {
        panic!("a History read: {fx:?}");
    };
    assert_eq!(&**by, "alice", "the read takes alice's turn");
    assert!(!cursor.done());
}

/// The token a Token reply carries, and its expiry.
fn issued(effects: &[Effect], session: SessionId) -> ([u8; 32], u64) {
    let replies = replies(effects, session);
    let [Reply::Bytes(b)] = &replies[..] else {
        panic!("not one reply: {replies:?}");
    };
    match Pdu::decode(b[0], &b[3..]) {
        Ok(Pdu::Token(t)) => (*t.token, t.expires),
        other => panic!("not a Token: {other:?}"),
    }
}

#[test]
fn a_token_is_stored_before_it_is_given_and_logs_in_only_its_user() {
    let mut h = Harness::new(limits());
    h.core.set_unix_time(1000);
    h.open(1, "alice");
    let fx = h.send(1, &[Pdu::TokenRequest]);
    // The hash goes to the store, in the batch the reply waits for.
    let stored = fx.iter().find_map(|e| match e {
        Effect::Store(Change::PutToken { user, token }) => Some((user.clone(), *token)),
        _ => None,
    });
    let (token, expires) = issued(&fx, 1);
    let hash = tokens::hash(&token);
    let (user, row) = stored.expect("a PutToken");
    assert_eq!(
        (user.as_str(), row.hash, row.expires),
        ("alice", hash, expires)
    );
    assert_eq!(expires, 1000 + limits().token_lifetime.as_secs());
    assert_ne!(row.hash, token, "the store keeps the hash, not the token");
    assert_eq!(h.core.token_login("alice", &hash).as_deref(), Some("alice"));
    assert_eq!(
        h.core.token_login("alice@x", &hash).as_deref(),
        Some("alice")
    );
    assert_eq!(h.core.token_login("bob", &hash), None);
    // Expired: refused at once, and the next sweep frees its row.
    h.core.set_unix_time(expires);
    assert_eq!(h.core.token_login("alice", &hash), None);
    let fx = h.run(Input::Tick);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Store(Change::DeleteToken { user, .. }) if user == "alice")));
}

#[test]
fn passwd_revokes_tokens_and_no_lifetime_issues_none() {
    let mut h = Harness::new(limits());
    h.core.set_unix_time(1000);
    h.open(1, "alice");
    let (token, _) = issued(&h.send(1, &[Pdu::TokenRequest]), 1);
    let hash = crate::server::passwords::DECOY_HASH.clone();
    let (fx, answer) = admin(
        &mut h,
        Admin::Passwd {
            name: "alice".into(),
            hash,
        },
    );
    assert!(answer.is_ok());
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Store(Change::DeleteTokens { user }) if user == "alice")));
    assert_eq!(h.core.token_login("alice", &tokens::hash(&token)), None);
    let mut h = Harness::new(Limits {
        token_lifetime: Duration::ZERO,
        ..limits()
    });
    h.open(1, "alice");
    let fx = h.send(1, &[Pdu::TokenRequest]);
    assert_eq!(replies(&fx, 1), [Reply::Error(ErrorType::Unsupported)]);
    assert!(!fx.iter().any(|e| matches!(e, Effect::Store(_))));
}

/// A user's sessions: one inline, more in a list, and the last removal
/// says the entry can go.
#[test]
fn session_ids_keep_one_inline_and_say_when_none_is_left() {
    let mut ids = Ids::default();
    assert_eq!(ids.len(), 0);
    ids.push(7);
    assert!(matches!(ids, Ids::One(7)));
    ids.push(8);
    ids.push(9);
    assert_eq!(ids.iter().copied().collect::<Vec<_>>(), [7, 8, 9]);
    assert!(!ids.remove(8));
    assert!(!ids.remove(42), "an id that is not there changes nothing");
    assert!(!ids.remove(7));
    assert!(matches!(ids, Ids::One(9)));
    assert!(ids.remove(9));
    assert_eq!(ids.len(), 0);
}
