//! `solec serve` over real loopback TCP, byte for byte: the client sequence,
//! messages and contacts, channels, history, sessions, restarts, limits and
//! malformed input.

use crate::util::*;
use std::time::Duration;

const T: u64 = 1_700_000_000;

/// A server with alice, bob and carol (password `pw`); alice and bob are
/// each other's contacts.
fn three_users() -> Server {
    let s = Server::start();
    for u in ["alice", "bob", "carol"] {
        s.add_user(u, "pw");
    }
    let mut a = s.login("alice", "pw");
    a.send(&contact_add("bob@localhost"));
    a.expect(&SUCCESS);
    let mut b = s.login("bob", "pw");
    b.send(&contact_add("alice@localhost"));
    b.expect(&SUCCESS);
    s
}

#[test]
fn the_client_sequence_byte_for_byte() {
    let s = Server::start();
    s.add_user("alice", "secret");
    let mut c = s.connect();
    c.send(&unhex("03 0003 00 05 01"));
    c.send(&unhex("04 000f 0005 616c696365 0006 736563726574"));
    c.expect(&unhex("01 0000"));
    // A full local address logs in too.
    let mut c = s.connect();
    c.send(&handshake(0, 1, 1));
    c.send(&user_auth("alice@localhost", "secret"));
    c.expect(&SUCCESS);
}

#[test]
fn wrong_password_or_unknown_user_gets_error_01_and_close() {
    let s = Server::start();
    s.add_user("alice", "pw");
    for (user, pw) in [("alice", "PW"), ("nobody", "pw"), ("alice@elsewhere", "pw")] {
        let mut c = s.connect();
        c.send(&handshake(0, 5, 1));
        c.send(&user_auth(user, pw));
        c.expect(&error(0x01));
        c.expect_closed();
    }
}

#[test]
fn another_major_version_is_closed_without_reply() {
    let s = Server::start();
    let mut c = s.connect();
    c.send(&handshake(1, 0, 1));
    c.expect_closed();
}

#[test]
fn unknown_servers_are_unauthorized_and_odd_conn_types_bad() {
    let s = Server::start();
    let mut c = s.connect();
    // A server link (docs/protocol.md 8.3) from a name that is no known peer.
    c.send(&handshake(0, 5, 2));
    c.send(&pdu(0x06, &string("b.example")));
    c.expect(&error(0x03));
    c.expect_closed();
    let mut c = s.connect();
    c.send(&handshake(0, 5, 9));
    c.expect(&error(0x80));
    c.expect_closed();
}

#[test]
fn requests_before_auth_are_refused() {
    let s = Server::start();
    let mut c = s.connect();
    c.send(&message("a@localhost", "b@localhost", T, "hi"));
    c.expect(&error(0x80));
    c.expect_closed();
}

#[test]
fn direct_message_is_stored_and_pushed() {
    let s = three_users();
    let mut a = s.login("alice", "pw");
    let mut b = s.login("bob", "pw");
    let m = message("alice@localhost", "bob@localhost", T, "hello bob");
    a.send(&m);
    a.expect(&SUCCESS);
    b.expect(&m);
    // Both sides read the conversation from history.
    b.send(&history("alice@localhost", 0, 10, 0));
    b.expect(&[m.clone(), SUCCESS.to_vec()].concat());
    a.send(&history("bob@localhost", 0, 10, 0));
    a.expect(&[m, SUCCESS.to_vec()].concat());
}

#[test]
fn spoofed_source_is_unauthorized_and_not_stored() {
    let s = three_users();
    let mut a = s.login("alice", "pw");
    let mut b = s.login("bob", "pw");
    a.send(&message("bob@localhost", "alice@localhost", T, "fake"));
    a.expect(&error(0x03));
    a.send(&message("alice", "bob@localhost", T, "no server part"));
    a.expect(&error(0x03));
    b.expect_silence(Duration::from_millis(200));
    b.send(&history("alice@localhost", 0, 10, 0));
    b.expect(&SUCCESS);
}

#[test]
fn unknown_target_is_not_found_before_contacts() {
    let s = three_users();
    let mut a = s.login("alice", "pw");
    for to in ["dave@localhost", "bob@other.example", "#nochan@localhost"] {
        a.send(&message("alice@localhost", to, T, "x"));
        a.expect(&error(0x02));
    }
    a.send(&message("alice@localhost", "Bob", T, "x"));
    a.expect(&error(0x80));
}

#[test]
fn contacts_are_needed_both_ways() {
    let s = three_users();
    let mut a = s.login("alice", "pw");
    let mut c = s.login("carol", "pw");
    // Neither has the other.
    c.send(&message("carol@localhost", "alice@localhost", T, "1"));
    c.expect(&error(0x03));
    // Carol adds alice; alice has not added carol.
    c.send(&contact_add("alice@localhost"));
    c.expect(&SUCCESS);
    c.send(&message("carol@localhost", "alice@localhost", T, "2"));
    c.expect(&error(0x03));
    a.send(&message("alice@localhost", "carol@localhost", T, "3"));
    a.expect(&error(0x03));
    a.expect_silence(Duration::from_millis(100));
    // Alice adds carol: now both ways.
    a.send(&contact_add("carol@localhost"));
    a.expect(&SUCCESS);
    let m = message("carol@localhost", "alice@localhost", T, "4");
    c.send(&m);
    c.expect(&SUCCESS);
    a.expect(&m);
    // Alice removes carol: refused again, and the refused text is not shown.
    a.send(&contact_remove("carol@localhost"));
    a.expect(&SUCCESS);
    c.send(&message("carol@localhost", "alice@localhost", T, "5"));
    c.expect(&error(0x03));
    a.send(&history("carol@localhost", 0, 10, 0));
    a.expect(&[m, SUCCESS.to_vec()].concat());
}

#[test]
fn contact_list_and_errors() {
    let s = three_users();
    let mut a = s.login("alice", "pw");
    a.send(&contact_add("carol@localhost"));
    a.expect(&SUCCESS);
    a.send(&contact_add("carol@localhost"));
    a.expect(&SUCCESS);
    a.send(&pdu(0x82, &[]));
    a.expect(
        &[
            contact("bob@localhost"),
            contact("carol@localhost"),
            SUCCESS.to_vec(),
        ]
        .concat(),
    );
    a.send(&contact_add("alice@localhost"));
    a.expect(&error(0x80));
    a.send(&contact_add("dave@localhost"));
    a.expect(&error(0x02));
    a.send(&contact_remove("dave@localhost"));
    a.expect(&error(0x02));
}

#[test]
fn channels_join_send_leave() {
    let s = three_users();
    let mut a = s.login("alice", "pw");
    let mut b = s.login("bob", "pw");
    let mut c = s.login("carol", "pw");
    let ch = "#pi/general@localhost";
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    // Not a member yet.
    b.send(&message("bob@localhost", ch, T, "early"));
    b.expect(&error(0x03));
    b.send(&history(ch, 0, 10, 0));
    b.expect(&error(0x03));
    b.send(&user_mode("bob@localhost", ch, 1));
    b.expect(&SUCCESS);
    c.send(&user_mode("carol@localhost", ch, 1));
    c.expect(&SUCCESS);
    let m = message("bob@localhost", ch, T, "hi all");
    b.send(&m);
    b.expect(&SUCCESS);
    a.expect(&m);
    c.expect(&m);
    b.expect_silence(Duration::from_millis(100));
    // Carol leaves: no more pushes, no more sending or reading.
    c.send(&user_mode("carol@localhost", ch, 0));
    c.expect(&SUCCESS);
    a.send(&message("alice@localhost", ch, T, "bye"));
    a.expect(&SUCCESS);
    c.send(&message("carol@localhost", ch, T, "still here?"));
    c.expect(&error(0x03));
    c.send(&user_mode("carol@localhost", ch, 0));
    c.expect(&error(0x02));
    c.send(&user_mode("carol@localhost", "#nochan@localhost", 2));
    c.expect(&error(0x02));
}

#[test]
fn operators_kick_ban_and_promote() {
    let s = three_users();
    let mut a = s.login("alice", "pw");
    let mut b = s.login("bob", "pw");
    let mut c = s.login("carol", "pw");
    let ch = "#ops@localhost";
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    b.send(&user_mode("bob@localhost", ch, 1));
    b.expect(&SUCCESS);
    // Members may not change others, nor make themselves operator.
    for mode in 0..=3 {
        b.send(&user_mode("alice@localhost", ch, mode));
        b.expect(&error(0x03));
    }
    b.send(&user_mode("bob@localhost", ch, 2));
    b.expect(&error(0x03));
    // Ban carol before she ever joins; her join is refused.
    a.send(&user_mode("carol@localhost", ch, 3));
    a.expect(&SUCCESS);
    c.send(&user_mode("carol@localhost", ch, 1));
    c.expect(&error(0x03));
    // Kick bob: he can no longer read; he may rejoin.
    a.send(&user_mode("bob@localhost", ch, 0));
    a.expect(&SUCCESS);
    b.send(&history(ch, 0, 10, 0));
    b.expect(&error(0x03));
    b.send(&user_mode("bob@localhost", ch, 1));
    b.expect(&SUCCESS);
    // Promote bob; he lifts carol's ban.
    a.send(&user_mode("bob@localhost", ch, 2));
    a.expect(&SUCCESS);
    b.send(&user_mode("carol@localhost", ch, 1));
    b.expect(&SUCCESS);
    let m = message("carol@localhost", ch, T, "in");
    c.send(&m);
    c.expect(&SUCCESS);
    a.expect(&m);
    b.expect(&m);
    a.send(&user_mode("carol@localhost", ch, 9));
    a.expect(&error(0x80));
    a.send(&user_mode("dave@localhost", ch, 1));
    a.expect(&error(0x02));
}

#[test]
fn history_pages_with_since_count_offset() {
    let s = three_users();
    let mut a = s.login("alice", "pw");
    let ch = "#h@localhost";
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    // Receive order differs from send_time order on purpose.
    let times = [50, 10, 40, 20, 30];
    let msgs: Vec<Vec<u8>> = times
        .iter()
        .map(|t| message("alice@localhost", ch, *t, &format!("at {t}")))
        .collect();
    for m in &msgs {
        a.send(m);
        a.expect(&SUCCESS);
    }
    let page = |idx: &[usize]| -> Vec<u8> {
        let mut out: Vec<u8> = idx.iter().flat_map(|&i| msgs[i].clone()).collect();
        out.extend(SUCCESS);
        out
    };
    a.send(&history(ch, 0, 100, 0));
    a.expect(&page(&[0, 1, 2, 3, 4]));
    a.send(&history(ch, 30, 100, 0));
    a.expect(&page(&[0, 2, 4]));
    a.send(&history(ch, 0, 2, 1));
    a.expect(&page(&[1, 2]));
    a.send(&history(ch, 20, 2, 2));
    a.expect(&page(&[3, 4]));
    a.send(&history(ch, 20, 9, 3));
    a.expect(&page(&[4]));
    a.send(&history(ch, 0, 0, 0));
    a.expect(&SUCCESS);
    a.send(&history(ch, 0, 10, 9));
    a.expect(&SUCCESS);
    a.send(&history(ch, 0, -1, 0));
    a.expect(&error(0x80));
    a.send(&history(ch, 0, 1, -1));
    a.expect(&error(0x80));
    a.send(&history("#nochan@localhost", 0, 1, 0));
    a.expect(&error(0x02));
    a.send(&history("dave@localhost", 0, 1, 0));
    a.expect(&error(0x02));
}

#[test]
fn direct_history_pages() {
    let s = three_users();
    let mut a = s.login("alice", "pw");
    let mut b = s.login("bob", "pw");
    let m1 = message("alice@localhost", "bob@localhost", 100, "one");
    let m2 = message("bob@localhost", "alice@localhost", 200, "two");
    let m3 = message("alice@localhost", "bob@localhost", 300, "three");
    a.send(&m1);
    a.expect(&SUCCESS);
    b.send(&m2);
    b.expect(&[m1.clone(), SUCCESS.to_vec()].concat());
    a.send(&m3);
    a.expect(&[m2.clone(), SUCCESS.to_vec()].concat());
    b.expect(&m3);
    a.send(&history("bob@localhost", 150, 1, 1));
    a.expect(&[m3.clone(), SUCCESS.to_vec()].concat());
    b.send(&history("alice@localhost", 0, 2, 0));
    b.expect(&[m1, m2, SUCCESS.to_vec()].concat());
    // Carol's conversation with alice is empty, not alice and bob's.
    let mut c = s.login("carol", "pw");
    c.send(&history("alice@localhost", 0, 10, 0));
    c.expect(&SUCCESS);
}

#[test]
fn history_count_is_capped_by_config() {
    let s = Server::start_with_config("(max_history_count: 2)");
    s.add_user("alice", "pw");
    let mut a = s.login("alice", "pw");
    let ch = "#cap@localhost";
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    let msgs: Vec<Vec<u8>> = (0..3)
        .map(|i| message("alice@localhost", ch, T, &i.to_string()))
        .collect();
    for m in &msgs {
        a.send(m);
        a.expect(&SUCCESS);
    }
    a.send(&history(ch, 0, 100, 0));
    a.expect(&[msgs[0].clone(), msgs[1].clone(), SUCCESS.to_vec()].concat());
}

#[test]
fn two_sessions_of_one_user_both_receive() {
    let s = three_users();
    let mut a = s.login("alice", "pw");
    let mut b1 = s.login("bob", "pw");
    let mut b2 = s.login("bob", "pw");
    let m = message("alice@localhost", "bob@localhost", T, "to both");
    a.send(&m);
    a.expect(&SUCCESS);
    b1.expect(&m);
    b2.expect(&m);
    // A sender's other session sees what it sent.
    let mut a2 = s.login("alice", "pw");
    let m = message("alice@localhost", "bob@localhost", T, "echo");
    a.send(&m);
    a.expect(&SUCCESS);
    a2.expect(&m);
    a.expect_silence(Duration::from_millis(100));
}

#[test]
fn restart_keeps_users_contacts_channels_and_history() {
    let mut s = three_users();
    let ch = "#keep@localhost";
    let m = message("alice@localhost", "bob@localhost", T, "kept");
    let cm = message("bob@localhost", ch, T, "kept in channel");
    {
        let mut a = s.login("alice", "pw");
        let mut b = s.login("bob", "pw");
        a.send(&user_mode("alice@localhost", ch, 1));
        a.expect(&SUCCESS);
        a.send(&user_mode("carol@localhost", ch, 3));
        a.expect(&SUCCESS);
        b.send(&user_mode("bob@localhost", ch, 1));
        b.expect(&SUCCESS);
        a.send(&m);
        a.expect(&SUCCESS);
        b.send(&cm);
        b.expect(&[m.clone(), SUCCESS.to_vec()].concat());
    }
    s.restart();
    let mut a = s.login("alice", "pw");
    a.send(&history("bob@localhost", 0, 10, 0));
    a.expect(&[m.clone(), SUCCESS.to_vec()].concat());
    a.send(&history(ch, 0, 10, 0));
    a.expect(&[cm, SUCCESS.to_vec()].concat());
    // Contacts survived: the message is accepted; ops survived: alice kicks.
    a.send(&m);
    a.expect(&SUCCESS);
    a.send(&user_mode("bob@localhost", ch, 0));
    a.expect(&SUCCESS);
    // The ban survived.
    let mut c = s.login("carol", "pw");
    c.send(&user_mode("carol@localhost", ch, 1));
    c.expect(&error(0x03));
}

#[test]
fn user_add_and_del_while_running_take_effect_at_once() {
    let s = Server::start();
    s.add_user("alice", "pw");
    let mut a = s.login("alice", "pw");
    s.add_user("bob", "pw2");
    s.login("bob", "pw2");
    let out = run(&["user", "list", "--data", s.data()], b"");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alice\nbob\n");
    let out = run(
        &["user", "add", "bob", "--password-stdin", "--data", s.data()],
        b"x\n",
    );
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let out = run(
        &[
            "user",
            "passwd",
            "bob",
            "--password-stdin",
            "--data",
            s.data(),
        ],
        b"new\n",
    );
    assert!(out.status.success(), "{out:?}");
    let mut c = s.connect();
    c.send(&handshake(0, 5, 1));
    c.send(&user_auth("bob", "pw2"));
    c.expect(&error(0x01));
    s.login("bob", "new");
    // Deleting alice closes her session.
    let out = run(&["user", "del", "alice", "--data", s.data()], b"");
    assert!(out.status.success(), "{out:?}");
    a.expect_closed();
}

#[test]
fn user_commands_work_without_a_server() {
    let dir = TempDir::new();
    let data = dir.path().to_str().unwrap();
    let out = run(
        &["user", "add", "alice", "--password-stdin", "--data", data],
        b"pw\n",
    );
    assert!(out.status.success(), "{out:?}");
    let out = run(
        &[
            "user",
            "add",
            "Bad Name",
            "--password-stdin",
            "--data",
            data,
        ],
        b"pw\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["user", "add", "bob", "--data", data], b"");
    assert_eq!(
        out.status.code(),
        Some(2),
        "no terminal and no --password-stdin"
    );
    let out = run(&["user", "del", "nobody", "--data", data], b"");
    assert_eq!(out.status.code(), Some(5));
    let s = Server::start_with(dir, &[]);
    s.login("alice", "pw");
}

#[test]
fn test_pdus_are_ignored_and_unknown_types_get_unsupported() {
    let s = three_users();
    let mut a = s.login("alice", "pw");
    a.send(&unhex("ff 000f 01 0002 00000003 0000000000000004"));
    a.send(&pdu(0x42, b"xyz"));
    a.expect(&error(0x82));
    for code in [0x01, 0xfe] {
        a.send(&pdu(code, &[]));
        a.expect(&error(0x82));
    }
    a.send(&contact("bob@localhost"));
    a.expect(&error(0x82));
    a.send(&handshake(0, 5, 1));
    a.expect(&error(0x82));
    // Still open and working.
    a.send(&message("alice@localhost", "bob@localhost", T, "ok"));
    a.expect(&SUCCESS);
}

#[test]
fn content_over_the_limit_is_too_large() {
    let s = three_users();
    let mut a = s.login("alice", "pw");
    let big = "x".repeat(4097);
    a.send(&message("alice@localhost", "bob@localhost", T, &big));
    a.expect(&error(0x81));
    let fits = "x".repeat(4096);
    a.send(&message("alice@localhost", "bob@localhost", T, &fits));
    a.expect(&SUCCESS);
}

/// Each malformed input gets Error 0x80 and a close; a connection dropped
/// mid-PDU just ends; the server keeps serving others throughout.
#[test]
fn malformed_input_matrix() {
    let s = three_users();
    let mut bystander = s.login("bob", "pw");
    let over_limit = [0x05, 0x20, 0x01]; // 8193 > max_pdu_bytes 8192
    let bad_utf8 = pdu(0x80, &[0x00, 0x02, 0xc3, 0x28]);
    let truncated_field = pdu(0x08, &[0x00, 0x01, b'#']);
    let reserved = pdu(0x00, &[]);
    let trailing = pdu(0x82, &[0x00]);
    for bad in [
        &over_limit[..],
        &bad_utf8,
        &truncated_field,
        &reserved,
        &trailing,
    ] {
        let mut a = s.login("alice", "pw");
        a.send(bad);
        a.expect(&error(0x80));
        a.expect_closed();
    }
    // Before authentication too.
    let mut c = s.connect();
    c.send(&over_limit);
    c.expect(&error(0x80));
    c.expect_closed();
    // Dropped mid-PDU, before and after auth.
    let mut c = s.connect();
    c.send(&handshake(0, 5, 1)[..2]);
    drop(c);
    let mut a = s.login("alice", "pw");
    a.send(&message("alice@localhost", "bob@localhost", T, "cut")[..10]);
    drop(a);
    // One byte at a time decodes like a whole PDU.
    let mut a = s.connect();
    let m = message("alice@localhost", "bob@localhost", T, "slowly");
    let all = [handshake(0, 5, 1), user_auth("alice", "pw"), m.clone()].concat();
    for byte in &all {
        a.send(&[*byte]);
    }
    a.expect(&[SUCCESS.to_vec(), SUCCESS.to_vec()].concat());
    bystander.expect(&m);
    bystander.send(&history("alice@localhost", 0, 10, 0));
    bystander.expect(&[m, SUCCESS.to_vec()].concat());
}

#[test]
fn unauthenticated_connections_time_out() {
    let s = Server::start_with_config("(handshake_timeout_secs: 1)");
    s.add_user("alice", "pw");
    let started = std::time::Instant::now();
    let mut idle = s.connect();
    let mut half = s.connect();
    half.send(&handshake(0, 5, 1));
    idle.expect_closed();
    half.expect_closed();
    assert!(started.elapsed() >= Duration::from_millis(900));
    // An authenticated session is not timed out.
    let mut a = s.login("alice", "pw");
    a.expect_silence(Duration::from_millis(1500));
}

#[test]
fn connections_over_the_limit_are_closed() {
    let s = Server::start_with_config("(max_connections: 2)");
    s.add_user("alice", "pw");
    let _a = s.login("alice", "pw");
    let _b = s.login("alice", "pw");
    let mut c = s.connect();
    c.expect_closed();
}

#[test]
fn sigterm_finishes_and_exits_zero() {
    let mut s = three_users();
    let mut a = s.login("alice", "pw");
    // Pipelined requests the server has received are answered before it exits.
    let m = message("alice@localhost", "bob@localhost", T, "last words");
    let n = 500;
    let burst: Vec<u8> = std::iter::repeat_n(m.clone(), n).flatten().collect();
    a.send(&burst);
    // Stop while the burst is in flight; whatever was acknowledged is kept.
    let status = s.stop();
    assert_eq!(status.code(), Some(0), "{}", s.log_text());
    let mut replies = Vec::new();
    // A server closing with some of the burst still unread makes the
    // kernel reset the connection: replies after the reset are lost to
    // the client, which is fine, since it counts only what it read.
    match std::io::Read::read_to_end(&mut a.stream, &mut replies) {
        Ok(_) => assert_eq!(replies.len() % 3, 0, "the stream ends on a PDU boundary"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            replies.truncate(replies.len() / 3 * 3)
        }
        Err(e) => panic!("reading the replies: {e}"),
    }
    assert_bytes!(replies, SUCCESS.repeat(replies.len() / 3));
    assert!(!s.dir.join("admin.sock").exists());
    s.restart();
    let mut b = s.login("bob", "pw");
    b.send(&history("alice@localhost", 0, i64::MAX, 0));
    let acknowledged = replies.len() / 3;
    let stored = b.read_exact(acknowledged * m.len());
    assert_bytes!(stored, m.repeat(acknowledged));
}

/// Many simultaneous logins must not each hold argon2's memory at once.
#[test]
fn concurrent_logins_are_bounded_in_memory() {
    let s = Server::start_with_config("(max_sessions_per_user: 32)");
    s.add_user("alice", "pw");
    let logins: Vec<_> = (0..32)
        .map(|_| {
            let addr = s.addr;
            std::thread::spawn(move || {
                let mut c = Raw::connect(addr);
                c.send(&[handshake(0, 5, 1), user_auth("alice", "pw")].concat());
                c.expect(&SUCCESS);
                c
            })
        })
        .collect();
    let sessions: Vec<Raw> = logins.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(sessions.len(), 32);
    // Four checks of 19 MiB at a time, plus the server itself; 32 at once
    // would need over 600 MiB.
    let peak = s.status_kib("VmHWM:");
    assert!(peak < 200 * 1024, "peak RSS {peak} KiB");
}

/// Connections that have not logged in hold little while they wait, and
/// give it back when they close: a burst of half-open connections does not
/// leave the server larger than it was.
#[test]
fn half_open_connections_are_small_and_their_memory_comes_back() {
    let s = Server::start();
    s.add_user("alice", "pw");
    // A login first: its threads and their stacks are there before.
    let _session = s.login("alice", "pw");
    // Under a default limit of 1024 open files, with room for the rest.
    let n = 800;
    let before = s.status_kib("VmRSS:");
    let mut conns: Vec<Raw> = (0..n).map(|_| s.connect()).collect();
    for c in &mut conns {
        // Half a Handshake: the server reads it and waits for the rest.
        c.send(&handshake(0, 5, 1)[..4]);
    }
    // Time for the server to read them all.
    std::thread::sleep(Duration::from_secs(1));
    let open = s.status_kib("VmRSS:");
    let per_conn = (open.saturating_sub(before)) as f64 / n as f64;
    // A full read buffer each (16 KiB) would be over 16.
    assert!(per_conn < 8.0, "{per_conn:.1} KiB per half-open connection");
    drop(conns);
    // Trimmed within a tick or two of them closing.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = s.status_kib("VmRSS:");
        if now < before + 2048 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "RSS {before} KiB before, {open} KiB open, {now} KiB after they closed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Logged-in idle sessions are small, also after a crowd logged in at once:
/// the garbage of the logins (replies, waits for the password-check pool)
/// does not stay resident between the sessions that outlive it.
#[test]
fn idle_sessions_stay_small_after_a_crowd_of_logins() {
    // Under a default limit of 1024 open files, with room for the rest.
    let (warmup, n, in_flight) = (32, 480, 16);
    let s = Server::start_with_config(&format!("(max_sessions_per_user: {})", warmup + n));
    s.add_user("alice", "pw");
    // `count` logins, `in_flight` of them under way at any time.
    let log_in = |count: usize, sessions: &mut Vec<Raw>| {
        let mut pending = std::collections::VecDeque::new();
        for started in 0..count + in_flight {
            if started >= in_flight {
                let mut c: Raw = pending.pop_front().unwrap();
                c.expect(&SUCCESS);
                sessions.push(c);
            }
            if started < count {
                let mut c = s.connect();
                c.send(&[handshake(0, 5, 1), user_auth("alice", "pw")].concat());
                pending.push_back(c);
            }
        }
    };
    // The checking threads and the tables are there before the count.
    let mut sessions = Vec::new();
    log_in(warmup, &mut sessions);
    std::thread::sleep(Duration::from_millis(200));
    let before = s.status_kib("VmRSS:");
    log_in(n, &mut sessions);
    std::thread::sleep(Duration::from_millis(500));
    let after = s.status_kib("VmRSS:");
    let per_session = after.saturating_sub(before) as f64 / n as f64;
    // About 1.5 KiB each in a debug build; a kilobyte more when each login
    // left a hole of its replies and waits behind.
    assert!(per_session < 2.2, "{per_session:.2} KiB per idle session");
    drop(sessions);
}

/// A session that stops reading is dropped once `max_outbound_queue` PDUs
/// wait for it; the sender and the store are not held back.
#[test]
fn a_session_that_does_not_read_is_dropped() {
    let s = Server::start_with_config("(max_outbound_queue: 16)");
    for u in ["alice", "bob"] {
        s.add_user(u, "pw");
    }
    let mut a = s.login("alice", "pw");
    let mut b = s.login("bob", "pw");
    a.send(&contact_add("bob@localhost"));
    a.expect(&SUCCESS);
    b.send(&contact_add("alice@localhost"));
    b.expect(&SUCCESS);
    shrink_receive_buffer(&b.stream);
    // Far more than the socket buffers hold, and bob reads nothing.
    let m = message("alice@localhost", "bob@localhost", T, &"x".repeat(4000));
    let n = 4000;
    let writer = {
        let mut stream = a.stream.try_clone().unwrap();
        let m = m.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            for _ in 0..n {
                stream.write_all(&m).unwrap();
            }
        })
    };
    a.expect(&SUCCESS.repeat(n));
    writer.join().unwrap();
    wait_for_log(&s, "not reading");
    // Bob gets what was already on its way, then the close.
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut b.stream, &mut got).unwrap();
    assert!(got.len() < n * m.len(), "bob was not dropped");
    assert_eq!(
        got.len() % m.len(),
        0,
        "bob's stream ends on a PDU boundary"
    );
    // Everything is in the history.
    let mut a2 = s.login("alice", "pw");
    a2.send(&history("bob@localhost", 0, 500, n as i64 - 1));
    a2.expect(&[m, SUCCESS.to_vec()].concat());
}

#[test]
fn channel_creation_stops_at_max_channels() {
    let s = Server::start_with_config("(max_channels: 2)");
    s.add_user("alice", "pw");
    s.add_user("bob", "pw");
    let mut a = s.login("alice", "pw");
    for ch in ["#one@localhost", "#two@localhost"] {
        a.send(&user_mode("alice@localhost", ch, 1));
        a.expect(&SUCCESS);
    }
    a.send(&user_mode("alice@localhost", "#three@localhost", 1));
    a.expect(&error(0x81));
    let mut b = s.login("bob", "pw");
    b.send(&user_mode("bob@localhost", "#one@localhost", 1));
    b.expect(&SUCCESS);
}

/// The data directory holds password hashes and private messages.
#[test]
fn the_data_directory_and_store_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let data = dir.join("fresh/data");
    let out = run(
        &[
            "user",
            "add",
            "alice",
            "--password-stdin",
            "--data",
            data.to_str().unwrap(),
        ],
        b"pw\n",
    );
    assert!(out.status.success(), "{out:?}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("solec.redb")), 0o600);
}

/// Makes the kernel buffer little for this socket, so a test that stops
/// reading fills it quickly whatever the host's TCP tuning.
fn shrink_receive_buffer(stream: &std::net::TcpStream) {
    set_receive_buffer(stream, 4096);
}

fn set_receive_buffer(stream: &std::net::TcpStream, size: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt on a socket we own, with a valid int option.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
}

/// Waits (boundedly) for a line containing `text` in the server log.
fn wait_for_log(s: &Server, text: &str) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !s.log_text().contains(text) {
        assert!(
            std::time::Instant::now() < deadline,
            "no `{text}` in log:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A client that asks for a lot and stops reading is let go after
/// `write_timeout_secs`, instead of holding its replies (and the store's
/// old pages) forever; others are served meanwhile.
#[test]
fn a_client_that_stops_reading_is_closed_after_the_write_timeout() {
    let s = Server::start_with_config("(write_timeout_secs: 1)");
    s.add_user("alice", "pw");
    let mut a = s.login("alice", "pw");
    let ch = "#big@localhost";
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    let m = message("alice@localhost", ch, T, &"x".repeat(4000));
    a.send(&m.repeat(200));
    a.expect(&SUCCESS.repeat(200));
    let mut stalled = s.login("alice", "pw");
    shrink_receive_buffer(&stalled.stream);
    // 10 replies of 800 kB each; nothing is read.
    stalled.send(&history(ch, 0, 200, 0).repeat(10));
    wait_for_log(&s, "peer stopped reading");
    // Meanwhile the server answers others.
    a.send(&history(ch, 0, 1, 0));
    a.expect(&[m.clone(), SUCCESS.to_vec()].concat());
    // Draining what the kernel already holds through a tiny window takes
    // long; the log line above is the server's decision to close.
}

/// The login deadline covers the password check too: a flood of logins
/// cannot hold connection slots past it.
#[test]
fn the_login_deadline_covers_password_checks() {
    let s = Server::start_with_config("(handshake_timeout_secs: 1)");
    s.add_user("alice", "pw");
    let started = std::time::Instant::now();
    let mut clients: Vec<Raw> = (0..300)
        .map(|_| {
            let mut c = s.connect();
            c.send(&[handshake(0, 5, 1), user_auth("alice", "wrong")].concat());
            c
        })
        .collect();
    let mut silent = 0;
    for c in &mut clients {
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut c.stream, &mut got).unwrap();
        match &got[..] {
            [] => silent += 1,
            [0x02, 0x00, 0x01, 0x01] => {}
            other => panic!("unexpected reply {}", spaced_hex(other)),
        }
    }
    // 300 checks take several seconds of CPU; past the deadline they are
    // dropped, not answered late.
    assert!(silent > 0, "every login was answered, none timed out");
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[test]
fn sigterm_does_not_wait_for_connections_still_logging_in() {
    let mut s = Server::start();
    let mut idle = s.connect();
    idle.send(&handshake(0, 5, 1));
    let started = std::time::Instant::now();
    assert_eq!(s.stop().code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "waited for the drain timeout"
    );
    idle.expect_closed();
}

#[test]
fn a_recreated_user_does_not_inherit_direct_messages() {
    let s = three_users();
    let mut b = s.login("bob", "pw");
    b.send(&message("bob@localhost", "alice@localhost", T, "secret"));
    b.expect(&SUCCESS);
    let out = run(&["user", "del", "alice", "--data", s.data()], b"");
    assert!(out.status.success(), "{out:?}");
    s.add_user("alice", "new");
    let mut a = s.login("alice", "new");
    a.send(&history("bob@localhost", 0, 10, 0));
    a.expect(&SUCCESS);
}

#[test]
fn the_admin_socket_checks_names_and_hashes() {
    use std::io::{BufRead, Write};
    let s = Server::start();
    let sock = std::os::unix::net::UnixStream::connect(s.dir.join("admin.sock")).unwrap();
    let mut lines = std::io::BufReader::new(sock.try_clone().unwrap());
    let mut ask = |req: &str| {
        (&sock).write_all(format!("{req}\n").as_bytes()).unwrap();
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        line
    };
    let bad_name = ask(
        r##"{"op":"add","name":"#x","hash":"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}"##,
    );
    assert!(bad_name.contains("not a valid user name"), "{bad_name}");
    let bad_hash = ask(r#"{"op":"add","name":"x","hash":"junk"}"#);
    assert!(bad_hash.contains("not an argon2"), "{bad_hash}");
    let long = ask(&"x".repeat(5000));
    assert!(long.contains("too long"), "{long}");
    assert_eq!(ask(r#"{"op":"list"}"#), "{\"ok\":true,\"users\":[]}\n");
}

#[test]
fn impossible_limits_stop_the_server_with_a_usage_error() {
    let dir = TempDir::new();
    let cfg = dir.join("solec.ron");
    std::fs::write(&cfg, "(handshake_timeout_secs: 18446744073709551615)").unwrap();
    let out = run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            cfg.to_str().unwrap(),
            "--data",
            dir.path().to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("handshake_timeout_secs"));
}
