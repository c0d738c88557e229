use super::*;
use crate::proto::Pdu;

const CACHE: usize = 1 << 20;

fn message(text: &str, time: u64) -> Vec<u8> {
    Pdu::Message(crate::proto::Message {
        source_address: "a@x",
        target_address: "#c@x",
        send_time: time,
        message_content: text,
    })
    .to_vec()
    .unwrap()
}

fn append(conv: &str, seq: u64, time: u64, text: &str) -> Change {
    Change::Append {
        conversation: conv.into(),
        seq,
        send_time: time,
        pdu: message(text, time).into(),
    }
}

fn apply(store: &Store, changes: &[Change], next_seq: u64) {
    let mut b = store.batch().unwrap();
    for c in changes {
        b.apply(c).unwrap();
    }
    b.commit(next_seq).unwrap();
}

fn user(name: &str) -> Change {
    Change::PutUser {
        name: name.into(),
        hash: format!(
            "$argon2id$v=19$m=19456,t=2,p=1${}$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
            salt(name)
        ),
    }
}

/// A salt in the PHC string's base64, one per user.
fn salt(name: &str) -> String {
    format!("{name:a<8}").replace(|c: char| !c.is_ascii_alphanumeric(), "a")
}

fn contact(owner: &str, contact: &str) -> Change {
    Change::AddContact {
        owner: owner.into(),
        contact: contact.into(),
    }
}

fn mode(channel: &str, user: &str, mode: Mode) -> Change {
    Change::SetMode {
        channel: channel.into(),
        user: user.into(),
        mode,
    }
}

#[test]
fn everything_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let store = Store::open(&path, "x", CACHE).unwrap();
        let channel = Change::CreateChannel {
            channel: "#c@x".into(),
            seq: 0,
        };
        let changes = [
            user("alice"),
            user("bob"),
            contact("alice", "bob@y"),
            channel,
            mode("#c@x", "alice@x", Mode::Operator),
            append("#c@x", 0, 5, "one"),
        ];
        apply(&store, &changes, 1);
    }
    let store = Store::open(&path, "x", CACHE).unwrap();
    let snap = store.load().unwrap();
    assert_eq!(snap.users.len(), 2);
    assert!(snap.contacts.contains(&("alice".into(), "bob@y".into())));
    assert_eq!(snap.channels["#c@x"]["alice@x"], Mode::Operator);
    assert_eq!(snap.next_seq, 1);
    let history = store.reader().unwrap().history("#c@x", 0, 0, 10).unwrap();
    assert_eq!(history, message("one", 5));
}

#[test]
fn history_is_in_receive_order_from_a_seek() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), "x", CACHE).unwrap();
    let rows = [(0, 30), (1, 10), (2, 20), (3, 40), (4, 20)];
    let mut changes: Vec<Change> = rows
        .iter()
        .map(|&(seq, t)| append("#c@x", seq, t, &seq.to_string()))
        .collect();
    changes.push(append("#d@x", 5, 50, "other"));
    apply(&store, &changes, 6);
    let want = |seqs: &[(u64, u64)]| -> Vec<u8> {
        seqs.iter()
            .flat_map(|(s, t)| message(&s.to_string(), *t))
            .collect()
    };
    let read = |since, offset, count| {
        let reader = store.reader().unwrap();
        reader.history("#c@x", since, offset, count).unwrap()
    };
    // Receive order, not send_time order.
    assert_eq!(read(0, 0, 9), want(&rows));
    assert_eq!(read(20, 0, 9), want(&[(0, 30), (2, 20), (3, 40), (4, 20)]));
    assert_eq!(read(20, 1, 2), want(&[(2, 20), (3, 40)]));
    assert_eq!(read(31, 0, 9), want(&[(3, 40)]));
    assert!(read(0, 5, 9).is_empty());
    assert!(read(41, 0, 9).is_empty());
    // The seek lands on the first message that reached the highest time.
    let txn = store.db().begin_read().unwrap();
    let rises = txn.open_table(RISES).unwrap();
    let starts: Vec<(u64, u64)> = rises
        .range((&b"#c@x"[..], 0)..=(&b"#c@x"[..], u64::MAX))
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            (k.value().1, v.value())
        })
        .collect();
    assert_eq!(starts, [(30, 0), (40, 3)]);
}

#[test]
fn history_chunks_resume_and_leave_out_later_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), "x", CACHE).unwrap();
    let changes: Vec<Change> = (0..10).map(|s| append("#c@x", s, s, "m")).collect();
    apply(&store, &changes, 10);
    let one = message("m", 0).len();
    // Asked when 8 messages existed: the last two came later.
    let mut cursor = HistoryCursor::new("#c@x".into(), 0, 1, 100, 8);
    let mut chunks = Vec::new();
    while !cursor.done() {
        let mut out = Vec::new();
        let reader = store.reader().unwrap();
        reader
            .history_chunk(&mut cursor, 2 * one, &mut out, |p, o| {
                o.extend_from_slice(p)
            })
            .unwrap();
        chunks.push(out.len() / one);
        assert!(chunks.len() < 20, "the cursor must advance");
    }
    assert_eq!(chunks.iter().sum::<usize>(), 7);
    assert!(chunks.iter().all(|&n| n <= 2), "{chunks:?}");
}

#[test]
fn a_chunk_looks_at_a_bounded_number_of_rows_and_a_reply_stops_at_its_scan_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), "x", CACHE).unwrap();
    let n = 3 * super::history::CHUNK_ROWS;
    let changes: Vec<Change> = (0..n).map(|s| append("#c@x", s, s, "m")).collect();
    apply(&store, &changes, n);
    let one = message("m", 0).len();
    // An offset past all but the last row: the first chunks add nothing.
    let mut cursor = HistoryCursor::new("#c@x".into(), 0, n - 1, 10, n);
    let mut chunks = Vec::new();
    while !cursor.done() {
        let mut out = Vec::new();
        let reader = store.reader().unwrap();
        reader
            .history_chunk(&mut cursor, usize::MAX, &mut out, |p, o| {
                o.extend_from_slice(p)
            })
            .unwrap();
        chunks.push(out.len() / one);
        assert!(chunks.len() < 10, "the cursor must advance");
    }
    assert_eq!(
        chunks,
        [0, 0, 1],
        "each chunk looks at CHUNK_ROWS rows at most"
    );
    assert!(!cursor.cut());
    // The same with a scan limit short of the offset: nothing, and cut.
    let limit = super::history::CHUNK_ROWS + 5;
    let mut cursor = HistoryCursor::new("#c@x".into(), 0, n - 1, 10, n).with_scan_limit(limit);
    let reader = store.reader().unwrap();
    let mut out = Vec::new();
    while !cursor.done() {
        reader
            .history_chunk(&mut cursor, usize::MAX, &mut out, |p, o| {
                o.extend_from_slice(p)
            })
            .unwrap();
    }
    assert!(out.is_empty());
    assert!(cursor.cut());
    // A limit the reply fits in does not cut it.
    let mut cursor = HistoryCursor::new("#c@x".into(), 0, 2, 3, n).with_scan_limit(5);
    out.clear();
    while !cursor.done() {
        reader
            .history_chunk(&mut cursor, usize::MAX, &mut out, |p, o| {
                o.extend_from_slice(p)
            })
            .unwrap();
    }
    assert_eq!(out.len(), 3 * one);
    assert!(!cursor.cut());
}

#[test]
fn deleting_a_user_drops_their_rows_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), "x", CACHE).unwrap();
    let channel = Change::CreateChannel {
        channel: "#c@x".into(),
        seq: 0,
    };
    apply(
        &store,
        &[
            user("alice"),
            user("bob"),
            contact("alice", "bob@x"),
            contact("bob", "alice@x"),
            contact("bob", "carol@y"),
            channel,
            mode("#c@x", "alice@x", Mode::Member),
            mode("#c@x", "bob@x", Mode::Operator),
            append("alice@x bob@x", 0, 1, "private"),
            append("bob@x carol@y", 1, 1, "others'"),
            append("#c@x", 2, 1, "public"),
        ],
        3,
    );
    store
        .apply_now(&Change::DeleteUser {
            name: "alice".into(),
        })
        .unwrap();
    let read = |conv| store.reader().unwrap().history(conv, 0, 0, 9).unwrap();
    assert!(read("alice@x bob@x").is_empty());
    assert_eq!(read("bob@x carol@y"), message("others'", 1));
    assert_eq!(read("#c@x"), message("public", 1));
    let snap = store.load().unwrap();
    let contacts: Vec<_> = snap.contacts.iter().cloned().collect();
    assert_eq!(contacts, [("bob".to_owned(), "carol@y".to_owned())]);
    assert_eq!(snap.channels["#c@x"].len(), 1);
    assert_eq!(snap.users.keys().collect::<Vec<_>>(), ["bob"]);
    assert_eq!(snap.next_seq, 3, "apply_now keeps the counter");
}

#[test]
fn a_version_one_store_migrates_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-v1.redb"),
        &path,
    )
    .unwrap();
    let store = Store::open(&path, "a.example", CACHE).unwrap();
    let snap = store.load().unwrap();
    assert_eq!(
        snap.users.keys().collect::<Vec<_>>(),
        ["alice", "bob", "carol"]
    );
    assert!(snap.users["alice"].starts_with("$argon2id$"));
    let contacts: Vec<_> = snap.contacts.iter().cloned().collect();
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        contacts,
        [
            pair("alice", "bob@a.example"),
            pair("alice", "carol@a.example"),
            pair("bob", "alice@a.example")
        ]
    );
    let general = &snap.channels["#general@a.example"];
    assert_eq!(general["alice@a.example"], Mode::Operator);
    assert_eq!(general["bob@a.example"], Mode::Member);
    assert_eq!(general["carol@a.example"], Mode::Banned);
    assert_eq!(snap.next_seq, 4);
    let reader = store.reader().unwrap();
    let direct = reader
        .history("alice@a.example bob@a.example", 0, 0, 9)
        .unwrap();
    assert_eq!(count_pdus(&direct), 3);
    let channel = reader.history("#general@a.example", 0, 0, 9).unwrap();
    assert_eq!(count_pdus(&channel), 1);
    // Stored bytes per user are counted from the messages, once.
    let mut want = BTreeMap::new();
    for pdu in pdus(&direct).into_iter().chain(pdus(&channel)) {
        *want.entry(local_sender(&pdu)).or_insert(0) += pdu.len() as u64;
    }
    assert_eq!(snap.usage, want);
    assert!(want.len() >= 2, "{want:?}");
    drop((reader, store));
    // Opening again finds version 2 and changes nothing.
    let again = Store::open(&path, "a.example", CACHE).unwrap();
    assert_eq!(again.load().unwrap(), snap);
    // Deleting a migrated user uses the migrated indexes.
    again
        .apply_now(&Change::DeleteUser {
            name: "alice".into(),
        })
        .unwrap();
    let reader = again.reader().unwrap();
    let direct = reader
        .history("alice@a.example bob@a.example", 0, 0, 9)
        .unwrap();
    assert!(direct.is_empty());
    // Alice's count goes; bob's loses his half of their conversation.
    let mut left = BTreeMap::new();
    for pdu in pdus(&channel) {
        let sender = local_sender(&pdu);
        if sender != "alice" {
            *left.entry(sender).or_insert(0) += pdu.len() as u64;
        }
    }
    assert_eq!(again.usage().unwrap(), left);
}

/// The PDUs of a History reply.
fn pdus(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some((_, used)) = crate::proto::Deframer::default().decode(bytes).unwrap() {
        out.push(bytes[..used].to_vec());
        bytes = &bytes[used..];
    }
    out
}

/// The local part of a Message PDU's source address.
fn local_sender(pdu: &[u8]) -> String {
    match crate::proto::Deframer::default().decode(pdu).unwrap() {
        Some((crate::proto::Pdu::Message(m), _)) => {
            m.source_address.split('@').next().unwrap().into()
        }
        other => panic!("not a message: {other:?}"),
    }
}

fn count_pdus(mut bytes: &[u8]) -> usize {
    let mut n = 0;
    while let Some((_, used)) = crate::proto::Deframer::default().decode(bytes).unwrap() {
        bytes = &bytes[used..];
        n += 1;
    }
    n
}

#[test]
fn a_newer_store_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let store = Store::open(&path, "x", CACHE).unwrap();
        let txn = store.db().begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert(SCHEMA_VERSION, SCHEMA + 1)
            .unwrap();
        txn.commit().unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path, "x", CACHE).err().expect("refused");
    assert!(
        matches!(err, StoreError::NewerSchema { found, .. } if found == SCHEMA + 1),
        "{err}"
    );
    assert!(err.to_string().contains("newer"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "left untouched");
}

#[test]
fn another_servers_store_is_refused_unless_it_holds_users_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    apply(
        &Store::open(&path, "x", CACHE).unwrap(),
        &[user("alice")],
        0,
    );
    // Users only: the store takes the new name.
    let store = Store::open(&path, "y", CACHE).unwrap();
    apply(&store, &[contact("alice", "bob@y")], 0);
    drop(store);
    assert_eq!(Store::recorded_name(&path).unwrap().as_deref(), Some("y"));
    let err = Store::open(&path, "x", CACHE).err().expect("refused");
    assert!(matches!(err, StoreError::OtherServer { .. }), "{err}");
}

#[test]
fn peers_are_stored_replaced_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let peer = |address: &str, tls| Peer {
        address: address.into(),
        key: [9; 32],
        tls,
    };
    {
        let store = Store::open(&path, "x", CACHE).unwrap();
        let put = |name: &str, p: Peer| Change::PutPeer {
            name: name.into(),
            peer: p,
        };
        let changes = [
            put("b.example", peer("b.example:1", false)),
            put("c.example", peer("c.example:1", false)),
            put("b.example", peer("b.example:2", true)),
        ];
        apply(&store, &changes, 0);
    }
    let store = Store::open(&path, "x", CACHE).unwrap();
    let peers = store.load().unwrap().peers;
    assert_eq!(peers.len(), 2);
    assert_eq!(peers["b.example"], peer("b.example:2", true));
    let gone = Change::DeletePeer {
        name: "c.example".into(),
    };
    store.apply_now(&gone).unwrap();
    let names: Vec<String> = store.peers().unwrap().into_keys().collect();
    assert_eq!(names, ["b.example"]);
}

/// An acknowledgement takes that peer's relays up to its number out of
/// the outbox, across the batches that queued them, and nothing else.
#[test]
fn a_dequeue_takes_one_peers_relays_up_to_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), "x", CACHE).unwrap();
    let enqueue = |peer: &str, number: u64| Change::Enqueue {
        peer: peer.into(),
        number,
        deadline: u64::MAX,
        pdu: message(&format!("{peer} {number}"), number).into(),
    };
    let first: Vec<Change> = (1..=300).map(|n| enqueue("b.example", n)).collect();
    apply(&store, &first, 0);
    let c = (1..=3).map(|n| enqueue("c.example", n));
    let more: Vec<Change> = (301..=400)
        .map(|n| enqueue("b.example", n))
        .chain(c)
        .collect();
    apply(&store, &more, 0);
    let dequeue = |upto| Change::Dequeue {
        peer: "b.example".into(),
        upto,
    };
    let left = |peer: &str| -> Vec<u64> {
        let rows = store.outbox(peer, 0, usize::MAX, usize::MAX).unwrap();
        rows.iter().map(|r| r.number).collect()
    };
    apply(&store, &[dequeue(250), dequeue(320)], 0);
    assert_eq!(left("b.example"), (321..=400).collect::<Vec<_>>());
    assert_eq!(left("c.example"), [1, 2, 3]);
    // Rows queued earlier in the same batch are in the outbox it reads.
    let mut same: Vec<Change> = (401..=410).map(|n| enqueue("b.example", n)).collect();
    same.push(dequeue(405));
    apply(&store, &same, 0);
    let kept: Vec<u64> = (406..=410).collect();
    assert_eq!(left("b.example"), kept);
    let expire = Change::DequeueOne {
        peer: "c.example".into(),
        number: 2,
    };
    apply(&store, &[enqueue("c.example", 4), expire], 0);
    assert_eq!(left("c.example"), [1, 3, 4]);
    apply(&store, &[dequeue(320), dequeue(u64::MAX)], 0);
    assert_eq!(left("b.example"), [0u64; 0]);
    let relays = store.load().unwrap().relays;
    assert!(relays["b.example"].queued.is_empty());
    assert_eq!(relays["c.example"].queued.len(), 3);
    assert_eq!(relays["b.example"].next_out, 411);
}

/// A store of version 3, as that release wrote it: an outbox of a row per
/// relay, 300 for b.example and 2 for c.example, whose next numbers are
/// 301 and 3.
fn write_v3_store(path: &Path) {
    {
        let store = Store::open(path, "x", CACHE).unwrap();
        drop(store);
    }
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        txn.delete_table(OUTBOX_RUNS).unwrap();
        let mut old = txn.open_table(migrate::V3_OUTBOX).unwrap();
        let mut next = txn.open_table(RELAY_OUT).unwrap();
        for (peer, count) in [("b.example", 300), ("c.example", 2)] {
            for n in 1..=count {
                let pdu = message(&format!("{peer} {n}"), n);
                old.insert((peer, n), (n + 1000, &pdu[..])).unwrap();
            }
            next.insert(peer, count + 1).unwrap();
        }
        txn.open_table(META)
            .unwrap()
            .insert(SCHEMA_VERSION, 3)
            .unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn a_version_three_outbox_becomes_runs_and_keeps_every_relay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    write_v3_store(&path);
    let store = Store::open(&path, "x", CACHE).unwrap();
    let rows = store
        .outbox("b.example", 0, usize::MAX, usize::MAX)
        .unwrap();
    let numbers: Vec<u64> = rows.iter().map(|r| r.number).collect();
    assert_eq!(numbers, (1..=300).collect::<Vec<_>>());
    assert_eq!(rows[41].deadline, 1042);
    assert_eq!(rows[41].pdu, message("b.example 42", 42));
    let relays = store.load().unwrap().relays;
    assert_eq!(relays["c.example"].queued.len(), 2);
    assert_eq!(relays["b.example"].next_out, 301);
    // More than one run: the migration bounds a run as a batch does.
    let txn = store.db().begin_read().unwrap();
    let runs = txn.open_table(OUTBOX_RUNS).unwrap().len().unwrap();
    assert!(runs >= 3, "{runs} runs");
    assert!(!txn
        .list_tables()
        .unwrap()
        .any(|t| redb::TableHandle::name(&t) == "outbox"));
    drop((txn, store));
    let report = check::check(&path).unwrap();
    assert!(report.clean(), "{report}");
    assert_eq!(report.schema, Some(SCHEMA));
    assert!(report.counts.contains(&("relays queued", 302)), "{report}");
}

/// Reading from a number in the middle of a run starts at that number,
/// and a partial acknowledgement keeps the rest of the run.
#[test]
fn the_outbox_reads_and_dequeues_inside_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), "x", CACHE).unwrap();
    let enqueue = |number: u64| Change::Enqueue {
        peer: "b.example".into(),
        number,
        deadline: u64::MAX,
        pdu: message(&format!("{number}"), number).into(),
    };
    apply(&store, &(1..=10).map(enqueue).collect::<Vec<_>>(), 0);
    let from = |n, max| -> Vec<u64> {
        let rows = store.outbox("b.example", n, max, usize::MAX).unwrap();
        rows.iter().map(|r| r.number).collect()
    };
    assert_eq!(from(4, 3), [4, 5, 6]);
    assert_eq!(from(10, 9), [10]);
    assert_eq!(from(11, 9), [0u64; 0]);
    let dequeue = Change::Dequeue {
        peer: "b.example".into(),
        upto: 6,
    };
    apply(&store, &[dequeue], 0);
    assert_eq!(from(0, 99), [7, 8, 9, 10]);
    let expire = Change::DequeueOne {
        peer: "b.example".into(),
        number: 7,
    };
    apply(&store, &[expire], 0);
    assert_eq!(from(0, 99), [8, 9, 10]);
    assert_eq!(from(8, 1), [8]);
    // A relay that is not there: nothing changes.
    let absent = Change::DequeueOne {
        peer: "b.example".into(),
        number: 7,
    };
    apply(&store, &[absent], 0);
    assert_eq!(from(0, 99), [8, 9, 10]);
}

/// A store of version 2 (messages without checksums), as that release
/// wrote it: one channel message.
fn write_v2_store(path: &Path) {
    let db = redb::Database::create(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let v2 = migrate::V2_MESSAGES;
        let pdu = message("old", 5);
        let conv = &b"#c@x"[..];
        txn.open_table(v2)
            .unwrap()
            .insert((conv, 0), (5, &pdu[..]))
            .unwrap();
        txn.open_table(RISES).unwrap().insert((conv, 5), 0).unwrap();
        txn.open_table(CHANNELS).unwrap().insert("#c@x", 0).unwrap();
        let mut meta = txn.open_table(META).unwrap();
        meta.insert(SCHEMA_VERSION, 2).unwrap();
        meta.insert(NEXT_SEQ, 1).unwrap();
        txn.open_table(SETTINGS)
            .unwrap()
            .insert(SERVER_NAME, "x")
            .unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn a_version_two_store_gains_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    write_v2_store(&path);
    let store = Store::open(&path, "x", CACHE).unwrap();
    let history = store.reader().unwrap().history("#c@x", 0, 0, 9).unwrap();
    assert_eq!(history, message("old", 5));
    drop(store);
    let report = check::check(&path).unwrap();
    assert!(report.clean(), "{report}");
    assert_eq!(report.schema, Some(SCHEMA));
    assert!(report.counts.contains(&("messages", 1)), "{report}");
}

/// Replaces message `seq` of `conv`'s stored PDU, keeping its checksum,
/// as a flipped bit on the disk would.
fn alter(store: &Store, conv: &str, seq: u64, pdu: &[u8]) {
    let txn = store.db().begin_write().unwrap();
    {
        let mut t = txn.open_table(MESSAGES).unwrap();
        let key = (conv.as_bytes(), seq);
        let (time, sum) = {
            let v = t.get(key).unwrap().unwrap();
            let (time, sum, _) = v.value();
            (time, sum)
        };
        t.insert(key, (time, sum, pdu)).unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn a_damaged_message_is_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let store = Store::open(&path, "x", CACHE).unwrap();
    let changes: Vec<Change> = (0..4)
        .map(|s| append("#c@x", s, s, &format!("m{s}")))
        .collect();
    apply(&store, &changes, 4);
    alter(&store, "#c@x", 1, &message("M1", 1));
    let read = |offset, count| {
        let reader = store.reader().unwrap();
        reader.history("#c@x", 0, offset, count).unwrap()
    };
    let want = |s: &[u64]| -> Vec<u8> {
        s.iter()
            .flat_map(|s| message(&format!("m{s}"), *s))
            .collect()
    };
    assert_eq!(read(0, 9), want(&[0, 2, 3]));
    // The damaged row counts for neither offset nor count.
    assert_eq!(read(1, 1), want(&[2]));
    drop(store);
    let report = check::check(&path).unwrap();
    assert_eq!(report.problem_count, 1, "{report}");
    assert!(
        report.problems[0].contains("message 1 of conversation \"#c@x\""),
        "{report}"
    );
}

#[test]
fn check_finds_broken_indexes_and_counter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let store = Store::open(&path, "x", CACHE).unwrap();
        let channel = Change::CreateChannel {
            channel: "#c@x".into(),
            seq: 0,
        };
        let changes = [
            user("alice"),
            contact("alice", "bob@x"),
            channel,
            mode("#c@x", "alice@x", Mode::Operator),
            append("alice@x bob@x", 0, 1, "hi"),
            append("#c@x", 1, 1, "all"),
        ];
        apply(&store, &changes, 2);
        let report = check::check(&path);
        assert!(matches!(report, Err(StoreError::InUse(_))), "{report:?}");
        let txn = store.db().begin_write().unwrap();
        txn.open_table(CONTACT_OF)
            .unwrap()
            .remove(("bob@x", "alice"))
            .unwrap();
        txn.open_table(MEMBERSHIPS)
            .unwrap()
            .remove(("alice@x", "#c@x"))
            .unwrap();
        txn.open_table(RISES)
            .unwrap()
            .remove((&b"#c@x"[..], 1))
            .unwrap();
        txn.open_table(CONVERSATIONS)
            .unwrap()
            .remove(("bob@x", "alice@x bob@x"))
            .unwrap();
        txn.open_table(META).unwrap().insert(NEXT_SEQ, 1).unwrap();
        txn.commit().unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let report = check::check(&path).unwrap();
    let text = report.to_string();
    assert_eq!(report.problem_count, 5, "{text}");
    for needle in [
        "contact_of lacks",
        "memberships lacks",
        "History index",
        "conversations lacks",
        "counter is 1",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "check never writes");
}

#[test]
fn a_backup_holds_everything_and_passes_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let store = Store::open(&path, "x", CACHE).unwrap();
    let changes: Vec<Change> = (0..50).map(|s| append("#c@x", s, s, "m")).collect();
    apply(&store, &[user("alice"), contact("alice", "bob@y")], 0);
    apply(&store, &changes, 50);
    let dest = dir.path().join("copy.redb");
    let copied = store.backup(&dest).unwrap();
    assert_eq!((copied.messages, copied.damaged), (50, 0));
    assert!(matches!(store.backup(&dest), Err(StoreError::Exists(_))));
    assert!(!dir.path().join("copy.redb.partial").exists());
    let snap = store.load().unwrap();
    let history = store.reader().unwrap().history("#c@x", 0, 0, 99).unwrap();
    drop(store);
    let report = check::check(&dest).unwrap();
    assert!(report.clean(), "{report}");
    // Offline, from the file itself, the same.
    let dest2 = dir.path().join("copy2.redb");
    assert_eq!(backup::backup_offline(&path, &dest2).unwrap(), copied);
    for copy in [&dest, &dest2] {
        let copy = Store::open(copy, "x", CACHE).unwrap();
        assert_eq!(copy.load().unwrap(), snap);
        let got = copy.reader().unwrap().history("#c@x", 0, 0, 99).unwrap();
        assert_eq!(got, history);
    }
}

/// A run closes once its PDUs reach `RUN_MAX_BYTES`, however few relays
/// it holds, and every relay still reads back in order.
#[test]
fn a_run_closes_at_its_byte_bound() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), "x", CACHE).unwrap();
    let text = "x".repeat(runs::RUN_MAX_BYTES / 4);
    let enqueue = |number: u64| Change::Enqueue {
        peer: "b.example".into(),
        number,
        deadline: u64::MAX,
        pdu: message(&text, number).into(),
    };
    apply(&store, &(1..=10).map(enqueue).collect::<Vec<_>>(), 0);
    // Each PDU is a little over a quarter of the bound: four close a run.
    let txn = store.db().begin_read().unwrap();
    let runs = txn.open_table(OUTBOX_RUNS).unwrap().len().unwrap();
    assert_eq!(runs, 3);
    drop(txn);
    let rows = store
        .outbox("b.example", 0, usize::MAX, usize::MAX)
        .unwrap();
    let numbers: Vec<u64> = rows.iter().map(|r| r.number).collect();
    assert_eq!(numbers, (1..=10).collect::<Vec<_>>());
}

fn charge(user: &str, bytes: u64) -> Change {
    Change::Charge {
        user: user.into(),
        bytes,
    }
}

/// A batch of messages and charges waits in the journal: History, the
/// usage counts and the counter see it before redb holds it, a settle
/// moves it, and a store reopened without a settle takes it in once.
#[test]
fn a_message_batch_waits_in_the_journal_and_is_seen_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let store = Store::open(&path, "x", CACHE).unwrap();
    store.apply_now(&user("a")).unwrap();
    let (first, second) = (append("#c@x", 0, 100, "one"), charge("a", 3));
    store.commit(&[&first, &second], 1).unwrap();
    let third = append("#c@x", 1, 90, "two");
    store.commit(&[&third, &charge("a", 3)], 2).unwrap();
    let in_redb = |store: &Store| store.reader().unwrap().history("#c@x", 0, 0, 10).unwrap();
    assert!(in_redb(&store).is_empty(), "redb has nothing yet");
    let history = |store: &Store, since: u64| {
        let mut cursor = HistoryCursor::new("#c@x".into(), since, 0, 10, u64::MAX);
        let mut out = Vec::new();
        while !cursor.done() {
            let r = store.history_reader(&cursor).unwrap();
            r.history_chunk(&mut cursor, usize::MAX, &mut out, |p, o| {
                o.extend_from_slice(p)
            })
            .unwrap();
        }
        out
    };
    let both = [message("one", 100), message("two", 90)].concat();
    assert_eq!(history(&store, 0), both);
    // From the first message sent at or after `since`, as a rise would.
    assert_eq!(history(&store, 95), message("one", 100));
    assert_eq!(history(&store, 101), Vec::<u8>::new());
    assert_eq!(store.usage().unwrap()["a"], 6);
    assert_eq!(store.load().unwrap().next_seq, 2);
    assert!(!store.settle_due(Instant::now()));
    assert!(store.settle_due(Instant::now() + SETTLE_AFTER));

    store.settle().unwrap();
    assert_eq!(in_redb(&store), both);
    assert_eq!(history(&store, 0), both);
    assert_eq!(store.usage().unwrap()["a"], 6);

    // Left in the journal at a drop: the next open takes it in, once.
    store
        .commit(&[&append("#c@x", 2, 110, "three"), &charge("a", 5)], 3)
        .unwrap();
    drop(store);
    for _ in 0..2 {
        let store = Store::open(&path, "x", CACHE).unwrap();
        let all = [
            message("one", 100),
            message("two", 90),
            message("three", 110),
        ]
        .concat();
        assert_eq!(in_redb(&store), all);
        assert_eq!(store.usage().unwrap()["a"], 11);
        assert_eq!(store.load().unwrap().next_seq, 3);
    }
    let report = check::check(&path).unwrap();
    assert!(report.clean(), "{report}");
}

/// A batch that changes anything but messages commits to redb, with what
/// the journal holds before it in the same transaction.
#[test]
fn any_other_batch_takes_the_journal_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let store = Store::open(&path, "x", CACHE).unwrap();
    store.commit(&[&append("#c@x", 0, 100, "one")], 1).unwrap();
    // The channel's deletion deletes the message waiting in the journal too.
    let delete = Change::DeleteChannel {
        channel: "#c@x".into(),
    };
    store.commit(&[&delete], 1).unwrap();
    assert!(store
        .history_reader(&HistoryCursor::new("#c@x".into(), 0, 0, 10, u64::MAX))
        .unwrap()
        .history("#c@x", 0, 0, 10)
        .unwrap()
        .is_empty());
    drop(store);
    let store = Store::open(&path, "x", CACHE).unwrap();
    assert!(store
        .reader()
        .unwrap()
        .history("#c@x", 0, 0, 10)
        .unwrap()
        .is_empty());
}

/// A version 4 store opens as version 5 with its rows as they were.
#[test]
fn a_version_four_store_opens_as_five() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let store = Store::open(&path, "x", CACHE).unwrap();
        apply(&store, &[user("a"), append("#c@x", 0, 100, "one")], 1);
    }
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            meta.insert(SCHEMA_VERSION, 4).unwrap();
            meta.remove(JOURNAL_NONCE).unwrap();
        }
        txn.commit().unwrap();
    }
    let store = Store::open(&path, "x", CACHE).unwrap();
    assert_eq!(store.version().unwrap(), Some(SCHEMA));
    assert_eq!(SCHEMA, 5);
    let history = store.reader().unwrap().history("#c@x", 0, 0, 10).unwrap();
    assert_eq!(history, message("one", 100));
    assert!(store.has_user("a").unwrap());
}
