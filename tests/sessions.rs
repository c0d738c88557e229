//! The server core's limits and extensions, black-box: reply budgets,
//! sessions per user, idle sessions, admin changes that end sessions, the
//! HistoryItem extension, and a store written by an earlier release.

use crate::util::*;
use std::time::{Duration, Instant};

const T: u64 = 1_700_000_000;

/// A long name, so a contact list costs many bytes to send.
fn long_name(i: usize) -> String {
    format!("{i:02}{}", "x".repeat(62))
}

/// A client that pipelines ContactList requests and does not read makes
/// the server queue at most its reply budget, not every reply at once;
/// others are served meanwhile, and every reply still arrives in order.
#[test]
fn a_burst_without_reading_is_held_to_the_reply_budget() {
    let s = Server::start();
    s.add_user("alice", "pw");
    s.add_user("bob", "pw");
    let names: Vec<String> = (0..50).map(long_name).collect();
    std::thread::scope(|scope| {
        for chunk in names.chunks(10) {
            scope.spawn(|| chunk.iter().for_each(|n| s.add_user(n, "pw")));
        }
    });
    let mut alice = s.login("alice", "pw");
    for n in &names {
        alice.send(&contact_add(&format!("{n}@localhost")));
        alice.expect(&SUCCESS);
    }
    let one_reply: Vec<u8> = names
        .iter()
        .flat_map(|n| contact(&format!("{n}@localhost")))
        .chain(SUCCESS)
        .collect();
    let before = s.status_kib("VmRSS:");
    // 5,000 requests in 15 KiB; their replies are 19 MB.
    const REQUESTS: usize = 5_000;
    let burst = pdu(0x82, &[]).repeat(REQUESTS);
    alice.send(&burst);
    std::thread::sleep(Duration::from_millis(1500));
    let grown = s.status_kib("VmRSS:").saturating_sub(before);
    // Someone else is served at once.
    let mut bob = s.login("bob", "pw");
    let started = Instant::now();
    bob.send(&history("alice@localhost", 0, 10, 0));
    bob.expect(&SUCCESS);
    let waited = started.elapsed();
    assert!(
        grown < 8 * 1024,
        "server grew by {grown} KiB with {} KiB of replies owed",
        REQUESTS * one_reply.len() / 1024
    );
    assert!(waited < Duration::from_secs(5), "bob waited {waited:?}");
    // Nothing is lost: every reply comes, whole and in order.
    for i in 0..REQUESTS {
        let got = alice.read_exact(one_reply.len());
        assert!(got == one_reply, "reply {i} differs");
    }
    alice.expect_silence(Duration::from_millis(100));
}

#[test]
fn sessions_per_user_are_capped() {
    let s = Server::start_with_config("(max_sessions_per_user: 2)");
    s.add_user("alice", "pw");
    let first = s.login("alice", "pw");
    let _second = s.login("alice", "pw");
    let mut third = s.connect();
    third.send(&[handshake(0, 5, 1), user_auth("alice", "pw")].concat());
    third.expect(&error(0x81));
    third.expect_closed();
    drop(first);
    // The slot is free once the server has seen the close.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut again = s.connect();
        again.send(&[handshake(0, 5, 1), user_auth("alice", "pw")].concat());
        if again.read_pdu() == SUCCESS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed session's slot stayed taken"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_sessions_are_closed_and_test_pdus_keep_them_open() {
    let s = Server::start_with_config("(idle_timeout_secs: 2)");
    s.add_user("alice", "pw");
    let mut quiet = s.login("alice", "pw");
    let mut busy = s.login("alice", "pw");
    let test = pdu(0xff, &[0; 15]);
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(500));
        busy.send(&test);
    }
    // Three seconds on, the quiet one is gone and the busy one is not.
    quiet.expect_closed();
    busy.send(&history("alice@localhost", 0, 1, 0));
    busy.expect(&SUCCESS);
}

#[test]
fn passwd_and_del_end_the_users_sessions() {
    let s = Server::start();
    s.add_user("alice", "old");
    s.add_user("bob", "pw");
    let mut alice = s.login("alice", "old");
    let mut bob = s.login("bob", "pw");
    let out = run(
        &[
            "user",
            "passwd",
            "alice",
            "--password-stdin",
            "--data",
            s.data(),
        ],
        b"new\n",
    );
    assert!(out.status.success(), "{out:?}");
    alice.expect_closed();
    s.login("alice", "new");
    let out = run(&["user", "del", "bob", "--data", s.data()], b"");
    assert!(out.status.success(), "{out:?}");
    bob.expect_closed();
}

/// With HistoryItem on, a History reply's messages come as 0x85 and a push
/// stays 0x05; without it the reply is as the draft has it.
#[test]
fn history_items_tell_the_reply_from_pushes() {
    let s = Server::start();
    for u in ["alice", "bob"] {
        s.add_user(u, "pw");
    }
    let mut alice = s.login("alice", "pw");
    let mut bob = s.login("bob", "pw");
    alice.send(&contact_add("bob@localhost"));
    bob.send(&contact_add("alice@localhost"));
    alice.expect(&SUCCESS);
    bob.expect(&SUCCESS);
    let m = message("alice@localhost", "bob@localhost", T, "hi");
    alice.send(&m);
    alice.expect(&SUCCESS);
    bob.expect(&m);
    // Asking for every bit turns on the known one only.
    bob.send(&pdu(0x84, &[0xff, 0xff]));
    bob.expect(&pdu(0x84, &[0x00, 0x01]));
    bob.send(&history("alice@localhost", 0, 10, 0));
    let mut item = m.clone();
    item[0] = 0x85;
    bob.expect(&[item, SUCCESS.to_vec()].concat());
    let m2 = message("alice@localhost", "bob@localhost", T, "again");
    alice.send(&m2);
    alice.expect(&SUCCESS);
    bob.expect(&m2);
    // Turned off again, the draft's bytes come back.
    bob.send(&pdu(0x84, &[0x00, 0x00]));
    bob.expect(&pdu(0x84, &[0x00, 0x00]));
    bob.send(&history("alice@localhost", 0, 1, 0));
    bob.expect(&[m, SUCCESS.to_vec()].concat());
}

/// A store written by the release before schema versions opens with this
/// one: users, passwords, contacts, modes and messages all survive.
#[test]
fn a_store_from_the_previous_release_is_migrated() {
    let dir = TempDir::new();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-v1.redb"),
        dir.join("solec.redb"),
    )
    .unwrap();
    let s = Server::start_with(dir, &["--name", "a.example"]);
    assert!(
        s.log_text().contains("store migrated to schema 2"),
        "{}",
        s.log_text()
    );
    let mut alice = s.login("alice", "alice-password");
    alice.send(&pdu(0x82, &[]));
    alice.expect(
        &[
            contact("bob@a.example"),
            contact("carol@a.example"),
            SUCCESS.to_vec(),
        ]
        .concat(),
    );
    alice.send(&history("bob@a.example", 0, 10, 0));
    let direct = [
        ("alice@a.example", "bob@a.example", "hello bob"),
        ("alice@a.example", "bob@a.example", "second line"),
        ("bob@a.example", "alice@a.example", "hi alice"),
    ];
    for (from, to, text) in direct {
        let got = alice.read_pdu();
        assert_eq!(&got[..3], &message(from, to, 0, text)[..3], "{text}");
        assert!(got.ends_with(text.as_bytes()), "{text}");
    }
    alice.expect(&SUCCESS);
    let mut carol = s.login("carol", "carol-password");
    carol.send(&user_mode("carol@a.example", "#general@a.example", 1));
    carol.expect(&error(0x03));
    let mut bob = s.login("bob", "bob-password");
    bob.send(&history("#general@a.example", 0, 10, 0));
    let got = bob.read_pdu();
    assert!(got.ends_with(b"welcome all"));
    bob.expect(&SUCCESS);
    // A message after the migration joins the same conversation.
    let m = message("bob@a.example", "alice@a.example", T, "after");
    bob.send(&m);
    bob.expect(&SUCCESS);
    alice.expect(&m);
    alice.send(&history("bob@a.example", 0, 10, 3));
    alice.expect(&[m, SUCCESS.to_vec()].concat());
}

/// A store from a newer release is refused with a clear message and left
/// as it was.
#[test]
fn a_store_from_a_newer_release_is_refused() {
    let dir = TempDir::new();
    // Written by a newer release: schema_version 99 in the meta table.
    let path = dir.join("solec.redb");
    solec_store_with_version(&path, 99);
    let before = std::fs::read(&path).unwrap();
    let out = solec()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("schema version 99, newer than"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// Writes a redb file whose meta table says `version`.
fn solec_store_with_version(path: &std::path::Path, version: u64) {
    let db = redb::Database::create(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let meta: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
        txn.open_table(meta)
            .unwrap()
            .insert("schema_version", version)
            .unwrap();
    }
    txn.commit().unwrap();
}

/// `solec user` without a server does not upgrade an old store itself: it
/// cannot know the server's name for sure.
#[test]
fn an_offline_user_command_leaves_an_old_store_to_the_server() {
    let dir = TempDir::new();
    let path = dir.join("solec.redb");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-v1.redb"),
        &path,
    )
    .unwrap();
    let before = std::fs::read(&path).unwrap();
    let out = run(
        &["user", "list", "--data", dir.path().to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("start `solec serve` on it once"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "left as it was");
}

/// SIGHUP puts new limits in force without dropping a session, says what
/// changed, and refuses a broken config whole.
#[test]
fn sighup_reloads_limits_and_keeps_sessions() {
    let s = Server::start_with_config("(max_sessions_per_user: 1)");
    s.add_user("alice", "pw");
    let mut first = s.login("alice", "pw");
    let refused = |s: &Server| {
        let mut c = s.connect();
        c.send(&[handshake(0, 5, 1), user_auth("alice", "pw")].concat());
        c.read_pdu() == error(0x81)
    };
    assert!(refused(&s));
    let wait_for_log = |needle: &str| {
        let deadline = Instant::now() + TIMEOUT;
        while !s.log_text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no `{needle}` in:\n{}",
                s.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // A config that does not parse changes nothing.
    std::fs::write(s.dir.join("solec.ron"), "(max_sessions_per_user: )").unwrap();
    signal(s.pid(), libc::SIGHUP);
    wait_for_log("config not reloaded");
    assert!(refused(&s));
    std::fs::write(
        s.dir.join("solec.ron"),
        "(max_sessions_per_user: 2, name: \"other.example\")",
    )
    .unwrap();
    signal(s.pid(), libc::SIGHUP);
    wait_for_log("reloaded limits: max_sessions_per_user: 1 -> 2");
    wait_for_log("a change of name takes effect only on a restart");
    let _second = s.login("alice", "pw");
    // The session from before the reload is still served.
    first.send(&history("alice@localhost", 0, 1, 0));
    first.expect(&SUCCESS);
}

/// A data directory others may enter is tightened before the store and
/// the admin socket are made in it, and the socket is owner-only.
#[test]
fn an_open_data_directory_is_tightened() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new();
    let mode = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(dir.path(), mode).unwrap();
    let s = Server::start_with(dir, &[]);
    let mode_of = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode_of(s.dir.path()), 0o700);
    assert_eq!(mode_of(&s.dir.join("admin.sock")), 0o600);
    assert!(s.log_text().contains("was open to other users (mode 755)"));
}

/// Per-address limits hold for a remote address and not for a trusted
/// one, and refusals are logged summed up, not one line each.
#[test]
fn per_address_limits_spare_trusted_networks() {
    let s = Server::start_with_config(
        "(max_connections_per_ip: 2, max_new_connections_per_ip_per_minute: 4)",
    );
    s.add_user("alice", "pw");
    let login = |c: &mut Raw| {
        c.send(&[handshake(0, 5, 1), user_auth("alice", "pw")].concat());
        c.expect(&SUCCESS);
    };
    let remote = [127, 0, 0, 2];
    let mut a = s.connect_from(remote).unwrap();
    let mut b = s.connect_from(remote).unwrap();
    login(&mut a);
    login(&mut b);
    // The third is closed at once, without a word.
    let mut c = s.connect_from(remote).unwrap();
    c.expect_closed();
    // Another address is not held back by this one.
    login(&mut s.connect_from([127, 0, 0, 3]).unwrap());
    // A slot freed is a slot again, until the minute's four are used.
    drop(a);
    let deadline = Instant::now() + TIMEOUT;
    let mut d = loop {
        let mut d = s.connect_from(remote).unwrap();
        let mut reply = [0u8; 3];
        let sent = std::io::Write::write_all(
            &mut d.stream,
            &[handshake(0, 5, 1), user_auth("alice", "pw")].concat(),
        );
        let read = sent.and_then(|()| std::io::Read::read_exact(&mut d.stream, &mut reply));
        if read.is_ok() && reply == SUCCESS {
            break d;
        }
        assert!(Instant::now() < deadline, "the slot was not freed");
        std::thread::sleep(Duration::from_millis(20));
    };
    d.send(&history("alice@localhost", 0, 1, 0));
    d.expect(&SUCCESS);
    // This host is trusted: ten at once from 127.0.0.1 are fine.
    let here: Vec<Raw> = (0..10).map(|_| s.login("alice", "pw")).collect();
    assert_eq!(here.len(), 10);
    drop(b);
    let log = s.log_text();
    let lines = log.lines().filter(|l| l.contains("refused ")).count();
    assert!((1..=2).contains(&lines), "{log}");
    assert!(log.contains("past max_connections_per_ip"), "{log}");
}
