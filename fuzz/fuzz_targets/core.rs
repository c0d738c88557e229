//! Fuzz target `core`: the server's decision core (`solec::server::core`)
//! driven the way the hub drives it, by a sequence of inputs the fuzzer
//! chooses: sessions opening (users and peers), frames of requests with a
//! reply budget, parked frames resumed, malformed frames, closes, admin
//! commands, ticks, time passing, new limits, and a reload of the
//! directory after a failed commit.
//!
//! After every input it drains `Core::effects` and checks that
//! - nothing panics;
//! - no effect names a session that is not open (a refused newcomer gets
//!   its Error and Close, nothing else), and nothing follows a Close;
//! - `frames` returns `used <= bytes.len()`, stops only at a frame
//!   boundary once the budget is spent, and answers each request but Test
//!   exactly once, in order, with an answer of the request's kind
//!   (Features echoes the known flags, ContactList ends with Success);
//! - a malformed frame is answered BadRequest, then Close;
//! - every accepted Message is stored once with the next sequence number,
//!   and pushed only to other open sessions, as the frame it came in;
//! - idle sessions close on a Tick and only those; deleting a user or
//!   changing their password closes their sessions, replacing or removing
//!   a peer closes its links;
//! - the core's session table is exactly the open sessions, and a batch's
//!   effects are bounded by its requests and the sessions open.
//!
//! The input is read with `arbitrary::Unstructured`: one byte picks the
//! next operation, the bytes after it its arguments, up to [`MAX_OPS`].

#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use solec::proto::{self, feature, Deframer, ErrorType, Mode, Pdu};
use solec::server::config::Limits;
use solec::server::core::HISTORY_COST;
use solec::server::core::{Admin, AdminAnswer, Core, Effect, Input, Reply, SessionId};
use solec::store::{Change, Peer, Snapshot};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Operations per input at most, so each run is short.
const MAX_OPS: usize = 96;
/// Requests in one `frames` call at most.
const MAX_REQUESTS: usize = 12;

const SERVER: &str = "x";
/// Local names: some exist at the start, some never do, one is not canonical.
const NAMES: &[&str] = &["alice", "bob", "carol", "dave", "Alice", ""];
/// Addresses the requests use: local users and channels, remote ones, junk.
const ADDRESSES: &[&str] = &[
    "alice@x", "bob@x", "carol@x", "dave@x", "#c@x", "#c/d@x", "#e@x", "alice@y", "#c@y", "x", "",
    "#@x", "bob@x@x", "Alice@x",
];
const PEERS: &[&str] = &["p.example", "q.example", "x", "-bad"];
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g";

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut h = Harness::new();
    for _ in 0..MAX_OPS {
        if u.is_empty() || h.step(&mut u).is_err() {
            break;
        }
    }
});

/// An open session as the effects told it.
#[derive(Debug, Clone)]
struct Open {
    /// Peer name for a peer link, local user name otherwise.
    name: String,
    peer: bool,
    last_active: Instant,
}

struct Harness {
    core: Core,
    snap: Snapshot,
    limits: Limits,
    now: Instant,
    next_id: SessionId,
    open: BTreeMap<SessionId, Open>,
    /// Bytes the hub holds back for a session whose budget ran out.
    parked: BTreeMap<SessionId, Vec<u8>>,
    next_seq: u64,
    next_token: u64,
}

impl Harness {
    fn new() -> Harness {
        let mut snap = Snapshot::default();
        for user in ["alice", "bob", "dave"] {
            snap.users.insert(user.into(), HASH.into());
        }
        for (owner, contact) in [("alice", "bob@x"), ("bob", "alice@x"), ("dave", "alice@x")] {
            snap.contacts.insert((owner.into(), contact.into()));
        }
        let members = [
            ("alice@x".to_string(), Mode::Operator),
            ("bob@x".into(), Mode::Member),
        ];
        snap.channels
            .insert("#c@x".into(), members.into_iter().collect());
        snap.peers
            .insert("p.example".into(), peer("p.example:7447"));
        snap.next_seq = 7;
        let limits = Limits {
            max_sessions_per_user: 3,
            max_channels: 3,
            max_message_bytes: 64,
            max_pdu_bytes: 256,
            max_history_count: 5,
            idle_timeout: Some(Duration::from_secs(60)),
            ..Limits::default()
        };
        let mut core = Core::new(SERVER, limits, snap.clone());
        core.configure_peers([("q.example".to_string(), peer("q.example:7447"))]);
        Harness {
            core,
            next_seq: snap.next_seq,
            snap,
            limits,
            now: Instant::now(),
            next_id: 1,
            open: BTreeMap::new(),
            parked: BTreeMap::new(),
            next_token: 0,
        }
    }

    fn step(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        match u.int_in_range(0u8..=11)? {
            0 | 1 => {
                let user = pick(u, NAMES)?.to_string();
                let session = self.fresh();
                self.opened(Input::Opened { session, user });
            }
            2 => {
                let name = pick(u, PEERS)?.to_string();
                let at = u.arbitrary()?;
                let session = self.fresh();
                self.opened(Input::PeerOpened { session, name, at });
            }
            3..=5 => {
                let session = self.any_session(u)?;
                let bytes = requests(u, self.limits.max_pdu_bytes)?;
                let room = self.room(u)?;
                match self.parked.get_mut(&session) {
                    Some(held) => held.extend_from_slice(&bytes),
                    None => self.frames(session, bytes, room),
                }
            }
            6 => {
                let session = self.any_session(u)?;
                if let Some(held) = self.parked.remove(&session) {
                    let room = self.room(u)?;
                    self.frames(session, held, room);
                }
            }
            7 => {
                let session = self.any_session(u)?;
                let fx = self.run(Input::Malformed { session });
                if self.open.contains_key(&session) {
                    assert!(
                        matches!(
                            fx.as_slice(),
                            [
                                Effect::Reply {
                                    reply: Reply::Error(ErrorType::BadRequest),
                                    ..
                                },
                                Effect::Close { .. }
                            ]
                        ),
                        "{fx:?}"
                    );
                }
                self.apply(&fx, None);
            }
            8 => {
                let session = self.any_session(u)?;
                let fx = self.run(Input::Closed { session });
                assert!(fx.is_empty(), "{fx:?}");
                self.open.remove(&session);
                self.parked.remove(&session);
                self.check_tables();
            }
            9 => self.admin(u)?,
            10 => {
                let secs = u.int_in_range(0u64..=90)?;
                self.now += Duration::from_secs(secs);
                self.tick();
            }
            _ => self.reconfigure(u)?,
        }
        Ok(())
    }

    fn fresh(&mut self) -> SessionId {
        self.next_id += 1;
        self.next_id - 1
    }

    /// An open, closed or never used session id.
    fn any_session(&self, u: &mut Unstructured<'_>) -> Result<SessionId> {
        u.int_in_range(0..=self.next_id)
    }

    fn room(&self, u: &mut Unstructured<'_>) -> Result<usize> {
        Ok(match u.int_in_range(0u8..=3)? {
            0 => usize::MAX,
            1 => self.limits.reply_budget,
            _ => u.int_in_range(0..=2 * HISTORY_COST)?,
        })
    }

    fn run(&mut self, input: Input) -> Vec<Effect> {
        self.core.handle(self.now, input);
        self.core.effects().collect()
    }

    /// A user or peer connection authenticated: it is opened with Success,
    /// or refused with an Error and a Close.
    fn opened(&mut self, input: Input) {
        let (session, name, peer) = match &input {
            Input::Opened { session, user } => (*session, user.clone(), false),
            Input::PeerOpened { session, name, .. } => (*session, name.clone(), true),
            _ => unreachable!(),
        };
        let fx = self.run(input);
        match fx.as_slice() {
            [Effect::Reply {
                to,
                reply: Reply::Success,
            }] => assert_eq!(*to, session),
            [Effect::Reply {
                to,
                reply: Reply::Error(_),
            }, Effect::Close { to: closed }] => {
                assert_eq!((*to, *closed), (session, session));
                return self.check_tables();
            }
            other => panic!("opening {session}: {other:?}"),
        }
        let last_active = self.now;
        let open = Open {
            name,
            peer,
            last_active,
        };
        self.open.insert(session, open);
        self.check_tables();
    }

    /// Checks a batch against the open sessions and updates them: every
    /// effect names an open session (or `newcomer`), stored messages take
    /// consecutive sequence numbers.
    fn apply(&mut self, fx: &[Effect], newcomer: Option<SessionId>) {
        for e in fx {
            if let Some(to) = e.session() {
                assert!(
                    self.open.contains_key(&to) || Some(to) == newcomer,
                    "effect for session {to}, which is not open: {fx:?}"
                );
            }
            match e {
                Effect::Close { to } => {
                    self.open.remove(to);
                    self.parked.remove(to);
                }
                Effect::Store(Change::Append { seq, .. }) => {
                    assert_eq!(*seq, self.next_seq, "{fx:?}");
                    self.next_seq += 1;
                }
                _ => {}
            }
        }
        self.check_tables();
    }

    fn check_tables(&self) {
        assert_eq!(self.core.session_count(), self.open.len());
        assert_eq!(self.core.next_seq(), self.next_seq);
    }

    /// One `frames` call, checked against a reading of the same bytes.
    fn frames(&mut self, session: SessionId, bytes: Vec<u8>, room: usize) {
        let before = self.open.get(&session).cloned();
        let used = self.core.frames(self.now, session, &bytes, room);
        let fx: Vec<Effect> = self.core.effects().collect();
        assert!(used <= bytes.len(), "used {used} of {}", bytes.len());
        let Some(open) = before else {
            assert!(fx.is_empty(), "frames of unknown session {session}: {fx:?}");
            assert!(used == bytes.len() || room == 0);
            return;
        };
        let bound = 4 + requests_in(&bytes) * (4 + self.open.len());
        assert!(fx.len() <= bound, "{} effects: {fx:?}", fx.len());
        let expected_used = self.check_answers(session, &open, &bytes, room, &fx);
        assert_eq!(used, expected_used, "{fx:?}");
        self.check_pushes(session, &bytes[..used], &fx);
        self.apply(&fx, None);
        if used < bytes.len() && self.open.contains_key(&session) {
            self.parked.insert(session, bytes[used..].to_vec());
        }
    }

    /// Walks the requests the way `frames` promises to and matches each
    /// with its answer; returns how many bytes it should have used.
    fn check_answers(
        &mut self,
        session: SessionId,
        open: &Open,
        bytes: &[u8],
        room: usize,
        fx: &[Effect],
    ) -> usize {
        let deframer = Deframer::with_max_payload(self.limits.max_pdu_bytes);
        let mut answers = fx.iter().filter(|e| {
            e.session() == Some(session)
                && matches!(e, Effect::Reply { .. } | Effect::History { .. })
        });
        let (mut at, mut spent, mut active) = (0, 0, false);
        while at < bytes.len() && spent < room {
            let Ok(Some((pdu, len))) = deframer.decode(&bytes[at..]) else {
                let answer = answers.next();
                assert!(
                    matches!(
                        answer,
                        Some(Effect::Reply {
                            reply: Reply::Error(ErrorType::BadRequest),
                            ..
                        })
                    ),
                    "malformed frame answered {answer:?}"
                );
                assert!(
                    matches!(fx.last(), Some(Effect::Close { to }) if *to == session),
                    "{fx:?}"
                );
                at = bytes.len();
                break;
            };
            at += len;
            active = true;
            if let Pdu::Test(_) = pdu {
                continue;
            }
            let answer = answers
                .next()
                .unwrap_or_else(|| panic!("no answer to {pdu:?}: {fx:?}"));
            spent += match answer {
                Effect::Reply { reply, .. } => {
                    check_reply(open, &pdu, reply, self.limits.max_message_bytes);
                    reply.len()
                }
                _ => {
                    assert!(
                        matches!(pdu, Pdu::History(_)) && !open.peer,
                        "{pdu:?}: {answer:?}"
                    );
                    HISTORY_COST
                }
            };
        }
        assert!(
            answers.next().is_none(),
            "answers past the requests: {fx:?}"
        );
        if active {
            if let Some(o) = self.open.get_mut(&session) {
                o.last_active = self.now;
            }
        }
        at
    }

    /// Each accepted Message is stored as the frame it came in and pushed
    /// to other sessions only, once each.
    fn check_pushes(&self, session: SessionId, bytes: &[u8], fx: &[Effect]) {
        let mut stored: Option<&[u8]> = None;
        let mut pushed = Vec::new();
        for e in fx {
            match e {
                Effect::Store(Change::Append { pdu, .. }) => {
                    assert!(contains_frame(bytes, pdu), "stored a frame not sent");
                    stored = Some(pdu);
                    pushed.clear();
                }
                Effect::Push { to, pdu } => {
                    assert_ne!(*to, session, "pushed back to the sender");
                    assert_eq!(Some(&**pdu), stored, "push without its Append");
                    assert!(!pushed.contains(to), "pushed twice to {to}");
                    assert!(!self.open[to].peer, "pushed to a peer link");
                    pushed.push(*to);
                }
                _ => {}
            }
        }
    }

    fn tick(&mut self) {
        let fx = self.run(Input::Tick);
        let limit = self.limits.idle_timeout;
        let mut idle: Vec<SessionId> = self
            .open
            .iter()
            .filter(|(_, o)| limit.is_some_and(|l| self.now.duration_since(o.last_active) >= l))
            .map(|(&id, _)| id)
            .collect();
        let mut closed: Vec<SessionId> = fx
            .iter()
            .map(|e| match e {
                Effect::Close { to } => *to,
                other => panic!("a Tick did {other:?}"),
            })
            .collect();
        idle.sort_unstable();
        closed.sort_unstable();
        assert_eq!(closed, idle);
        self.apply(&fx, None);
    }

    fn admin(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let name = pick(u, NAMES)?.to_string();
        let peer_name = pick(u, PEERS)?.to_string();
        let hash = if u.arbitrary()? { HASH } else { "plain" }.to_string();
        let command = match u.int_in_range(0u8..=7)? {
            0 => Admin::Add { name, hash },
            1 => Admin::Passwd { name, hash },
            2 => Admin::Del { name },
            3 => Admin::List,
            4 => Admin::PeerAdd {
                peer: peer(if u.arbitrary()? {
                    "h.example:1"
                } else {
                    "nohost"
                }),
                name: peer_name,
            },
            5 => Admin::PeerRemove { name: peer_name },
            6 => Admin::PeerList,
            _ => Admin::PeerOutcome {
                name: peer_name,
                at: u.arbitrary()?,
                error: u.arbitrary::<bool>()?.then(|| "refused".into()),
            },
        };
        // Who must be gone once the command succeeded.
        let ends = match &command {
            Admin::Passwd { name, .. } | Admin::Del { name } => Some((name.clone(), false)),
            Admin::PeerAdd { name, .. } | Admin::PeerRemove { name } => Some((name.clone(), true)),
            _ => None,
        };
        let token = self.next_token;
        self.next_token += 1;
        let fx = self.run(Input::Admin { token, command });
        let answers: Vec<_> = fx
            .iter()
            .filter_map(|e| match e {
                Effect::Admin { token, answer } => Some((*token, answer)),
                _ => None,
            })
            .collect();
        assert!(
            matches!(answers.as_slice(), [(t, _)] if *t == token),
            "{fx:?}"
        );
        assert!(fx.len() <= 2 + self.open.len(), "{fx:?}");
        let ok = answers[0].1.is_ok();
        if let Ok(AdminAnswer::Users(users)) = answers[0].1 {
            assert!(users.windows(2).all(|w| w[0] < w[1]), "{users:?}");
        }
        self.apply(&fx, None);
        if let (true, Some((gone, peer))) = (ok, ends) {
            let left = self.open.values().any(|o| o.name == gone && o.peer == peer);
            assert!(!left, "{gone} still has sessions: {fx:?}");
        }
        Ok(())
    }

    /// New limits, or the directory reloaded as after a failed commit.
    fn reconfigure(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        if u.arbitrary()? {
            self.core.reload(self.snap.clone());
            self.next_seq = self.snap.next_seq;
        } else {
            self.limits.max_sessions_per_user = u.int_in_range(0..=4)?;
            self.limits.max_channels = u.int_in_range(0..=4)?;
            self.limits.max_message_bytes = u.int_in_range(0..=80)?;
            self.limits.max_pdu_bytes = u.int_in_range(0..=300)?;
            self.limits.max_history_count = u.int_in_range(0..=6)?;
            self.limits.idle_timeout = match u.int_in_range(0u8..=2)? {
                0 => None,
                n => Some(Duration::from_secs(30 * u64::from(n))),
            };
            self.core.set_limits(self.limits);
        }
        self.check_tables();
        Ok(())
    }
}

/// What a session may be answered for `pdu` (not Test, not History).
fn check_reply(open: &Open, pdu: &Pdu<'_>, reply: &Reply, max_message_bytes: usize) {
    if open.peer {
        assert_eq!(
            reply,
            &Reply::Error(ErrorType::Unsupported),
            "peer sent {pdu:?}"
        );
        return;
    }
    let ok_or_refused = matches!(reply, Reply::Success | Reply::Error(_));
    match pdu {
        Pdu::Message(m) => {
            assert!(ok_or_refused, "{pdu:?}: {reply:?}");
            if *reply == Reply::Success {
                assert_eq!(m.source_address, format!("{}@{SERVER}", open.name));
                assert!(m.message_content.len() <= max_message_bytes);
            }
        }
        Pdu::UserMode(_) | Pdu::ContactAdd(_) | Pdu::ContactRemove(_) => {
            assert!(ok_or_refused, "{pdu:?}: {reply:?}")
        }
        Pdu::History(_) => assert!(matches!(reply, Reply::Error(_)), "{reply:?}"),
        Pdu::ContactList => {
            let Reply::Bytes(bytes) = reply else {
                panic!("ContactList: {reply:?}");
            };
            let mut at = 0;
            loop {
                match Deframer::default().decode(&bytes[at..]) {
                    Ok(Some((Pdu::Contact(_), len))) => at += len,
                    Ok(Some((Pdu::Success, len))) if at + len == bytes.len() => break,
                    other => panic!("ContactList reply {bytes:?}: {other:?}"),
                }
            }
        }
        Pdu::Features(f) => {
            let on = Pdu::Features(proto::Features {
                flags: f.flags & feature::KNOWN,
            });
            assert_eq!(reply, &Reply::Bytes(on.to_vec().unwrap()));
        }
        _ => assert_eq!(reply, &Reply::Error(ErrorType::Unsupported), "{pdu:?}"),
    }
}

fn pick<'a>(u: &mut Unstructured<'_>, from: &[&'a str]) -> Result<&'a str> {
    u.choose(from).copied()
}

fn peer(address: &str) -> Peer {
    Peer {
        address: address.into(),
        key: [7; 32],
        tls: false,
    }
}

/// Whole frames as the connection forwards them: requests built from the
/// address pool, or a type byte with any payload of the announced length.
fn requests(u: &mut Unstructured<'_>, max_pdu: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..u.int_in_range(0..=MAX_REQUESTS)? {
        if u.ratio(1, 8)? {
            let code = u.arbitrary()?;
            let len = u.int_in_range(0..=max_pdu.min(600))?;
            let payload = u.bytes(len)?;
            out.push(code);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            out.extend_from_slice(payload);
            continue;
        }
        let a = pick(u, ADDRESSES)?;
        let b = pick(u, ADDRESSES)?;
        let text: &str = u.arbitrary()?;
        let pdu = match u.int_in_range(0u8..=9)? {
            0 | 1 => Pdu::Message(proto::Message {
                source_address: a,
                target_address: b,
                send_time: u.arbitrary()?,
                message_content: text,
            }),
            2 => Pdu::UserMode(proto::UserMode {
                user_address: a,
                channel_address: b,
                mode: Mode::from(u.int_in_range(0u8..=4)?),
            }),
            3 => Pdu::History(proto::History {
                channel_address: a,
                since: u.arbitrary()?,
                count: u.int_in_range(-2..=8)?,
                offset: u.int_in_range(-2..=8)?,
            }),
            4 => Pdu::ContactAdd(proto::Contact { address: a }),
            5 => Pdu::ContactRemove(proto::Contact { address: a }),
            6 => Pdu::ContactList,
            7 => Pdu::Features(proto::Features {
                flags: u.arbitrary()?,
            }),
            8 => Pdu::Test(proto::Test {
                num1: 1,
                num2: 2,
                num3: 3,
                num4: 4,
            }),
            _ => Pdu::Success,
        };
        // Too long for a PDU: skip it, as a client could not send it.
        let _ = pdu.encode(&mut out);
    }
    Ok(out)
}

/// Frames in `bytes` by their headers alone.
fn requests_in(bytes: &[u8]) -> usize {
    let mut at = 0;
    let mut n = 0;
    while let Some(h) = bytes.get(at..at + 3) {
        at += 3 + usize::from(u16::from_be_bytes([h[1], h[2]]));
        n += 1;
    }
    n
}

/// Whether `frame` is one of the frames of `bytes`.
fn contains_frame(bytes: &[u8], frame: &[u8]) -> bool {
    let mut at = 0;
    while let Some(h) = bytes.get(at..at + 3) {
        let end = at + 3 + usize::from(u16::from_be_bytes([h[1], h[2]]));
        if bytes.get(at..end) == Some(frame) {
            return true;
        }
        at = end;
    }
    false
}
