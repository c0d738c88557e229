//! Delivery between servers, black-box: direct messages across two real
//! servers with history kept on both; a raw test peer that relays by the
//! bytes of `docs/protocol.md` section 8.4 and meets the receiving
//! server's own rules (contacts, spoofed domains, duplicates); SIGKILL of
//! the receiving and of the sending server while messages flow, with
//! every message arriving exactly once; and a relay whose lifetime ends,
//! told to its sender by the postmaster.

use crate::util::*;
use std::time::{Duration, Instant};

/// A server named `name` with extra config.
pub(crate) fn named(name: &str, extra: &str) -> Server {
    Server::start_with_config(&format!("(name: \"{name}\", {extra})"))
}

fn ok(out: std::process::Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn federate(s: &Server, args: &[&str]) -> String {
    let mut all = vec!["federate"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data", s.data()]);
    ok(run(&all, b""))
}

fn key_of(s: &Server) -> String {
    let line = federate(s, &["key"]);
    line.split_whitespace().nth(1).unwrap().to_owned()
}

/// Makes `a` and `b` known peers of each other.
pub(crate) fn link(a: &Server, a_name: &str, b: &Server, b_name: &str) {
    let (ka, kb) = (key_of(a), key_of(b));
    federate(a, &["add", b_name, &b.server_arg(), "--key", &kb]);
    federate(b, &["add", a_name, &a.server_arg(), "--key", &ka]);
}

fn relay_from(n: u64) -> Vec<u8> {
    pdu(0x88, &n.to_be_bytes())
}

fn relay_ack(n: u64) -> Vec<u8> {
    pdu(0x89, &n.to_be_bytes())
}

fn relay_refused(n: u64, e: u8) -> Vec<u8> {
    pdu(0x8a, &[n.to_be_bytes().to_vec(), vec![e]].concat())
}

/// A History request's Message PDUs, up to its Success.
fn history_of(c: &mut Raw, with: &str) -> Vec<Vec<u8>> {
    c.send(&history(with, 0, 500, 0));
    let mut out = Vec::new();
    loop {
        let p = c.read_pdu();
        if p == SUCCESS {
            return out;
        }
        assert_eq!(p[0], 0x05, "{p:02x?}");
        out.push(p);
    }
}

/// The `message_content` of a Message PDU.
fn content(p: &[u8]) -> String {
    let mut at = 3;
    for _ in 0..2 {
        let len = u16::from_be_bytes([p[at], p[at + 1]]) as usize;
        at += 2 + len;
    }
    at += 8;
    let len = u16::from_be_bytes([p[at], p[at + 1]]) as usize;
    String::from_utf8(p[at + 2..at + 2 + len].to_vec()).unwrap()
}

/// Logs in and adds `contacts`.
pub(crate) fn user_with_contacts(s: &Server, user: &str, contacts: &[&str]) -> Raw {
    s.add_user(user, "pw");
    let mut c = s.login(user, "pw");
    for a in contacts {
        c.send(&contact_add(a));
        c.expect(&SUCCESS);
    }
    c
}

#[test]
fn direct_messages_cross_both_ways_and_are_kept_on_both_servers() {
    let a = named("a.test", "");
    let b = named("b.test", "");
    link(&a, "a.test", &b, "b.test");
    let mut alice = user_with_contacts(&a, "alice", &["bob@b.test"]);
    let mut bob = user_with_contacts(&b, "bob", &["alice@a.test"]);

    let hello = message("alice@a.test", "bob@b.test", 1_700_000_000, "hello b");
    alice.send(&hello);
    alice.expect(&SUCCESS);
    bob.expect(&hello);
    let back = message("bob@b.test", "alice@a.test", 1_700_000_001, "hello a");
    bob.send(&back);
    bob.expect(&SUCCESS);
    alice.expect(&back);

    assert_eq!(
        history_of(&mut alice, "bob@b.test"),
        [hello.clone(), back.clone()]
    );
    assert_eq!(history_of(&mut bob, "alice@a.test"), [hello, back]);

    // A user of a server that is not a known peer: Error 0x02, as before.
    alice.send(&contact_add("carol@c.test"));
    alice.expect(&error(0x02));
    alice.send(&message("alice@a.test", "carol@c.test", 1, "x"));
    alice.expect(&error(0x02));
    // Not a contact on the sending side: refused there.
    alice.send(&message("alice@a.test", "dave@b.test", 1, "x"));
    alice.expect(&error(0x03));
}

/// A raw peer `c.test`, proven to `b` with the RFC 8032 TEST 1 key.
fn raw_peer(b: &Server) -> Raw {
    use ed25519_dalek::{Signer as _, SigningKey};
    let seed = unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let key = SigningKey::from_bytes(&seed.try_into().unwrap());
    let key_text = {
        use base64::Engine as _;
        let raw = key.verifying_key().to_bytes();
        format!(
            "ed25519:{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    };
    federate(b, &["add", "c.test", "127.0.0.1:9", "--key", &key_text]);
    let mut c = b.connect();
    let nc = [9u8; 32];
    c.send(
        &[
            handshake(0, 5, 2),
            pdu(0x06, &string("c.test")),
            pdu(0x86, &nc),
        ]
        .concat(),
    );
    let na = c.read_pdu()[3..].to_vec();
    let _their_proof = c.read_pdu();
    let signed = [
        b"SOLEC server link v1".to_vec(),
        vec![0x01],
        string("c.test"),
        string("b.test"),
        nc.to_vec(),
        na,
    ]
    .concat();
    c.send(&pdu(0x87, &key.sign(&signed).to_bytes()));
    c.expect(&SUCCESS);
    c
}

#[test]
fn the_receiving_server_applies_its_own_rules() {
    let b = named("b.test", "");
    let mut c = raw_peer(&b);
    // Nothing received from c.test yet.
    c.expect(&relay_ack(0));
    b.add_user("bob", "pw");
    b.add_user("mallory", "pw");
    let mut bob = b.login("bob", "pw");

    // A Message with no relay number is a broken link, not a relay.
    c.send(&message("x@c.test", "bob@b.test", 1, "no number"));
    c.expect(&error(0x80));

    // bob does not have x@c.test as a contact: c skipped its check, b
    // does not.
    let first = message("x@c.test", "bob@b.test", 1, "one");
    c.send(&[relay_from(1), first].concat());
    c.expect(&relay_refused(1, 0x03));
    c.expect(&relay_ack(1));
    bob.send(&contact_add("x@c.test"));
    bob.expect(&SUCCESS);

    // Now it is delivered, once, even when sent again.
    let second = message("x@c.test", "bob@b.test", 2, "two");
    c.send(&second);
    c.expect(&relay_ack(2));
    bob.expect(&second);
    c.send(&[relay_from(2), second.clone()].concat());
    c.expect(&relay_ack(2));

    // A source on another domain than the peer's, a target on another
    // server, a user b does not have: each refused and not stored.
    let spoofed = message("mallory@b.test", "bob@b.test", 3, "spoofed");
    let elsewhere = message("x@c.test", "someone@a.test", 4, "elsewhere");
    let nobody = message("x@c.test", "nobody@b.test", 5, "nobody");
    c.send(&[spoofed, elsewhere, nobody].concat());
    c.expect(
        &[
            relay_refused(3, 0x03),
            relay_refused(4, 0x03),
            relay_refused(5, 0x02),
            relay_ack(5),
        ]
        .concat(),
    );
    // A UserMode for a user of another domain than the peer's.
    c.send(&user_mode("mallory@a.test", "#x@b.test", 1));
    c.expect(&[relay_refused(6, 0x03), relay_ack(6)].concat());
    bob.expect_silence(Duration::from_millis(200));
    assert_eq!(history_of(&mut bob, "x@c.test"), [second]);
    assert_eq!(
        history_of(&mut bob, "mallory@b.test"),
        Vec::<Vec<u8>>::new()
    );

    // The numbers survive a restart: a peer resumes after the last one.
    drop(c);
    let mut b = b;
    b.restart();
    let mut c = raw_peer(&b);
    c.expect(&relay_ack(6));
}

/// Sends `n` messages from `user` of `s` to `to`, `batch` at a time, and
/// returns the contents whose Success came back.
fn send_many(s: &Server, user: &str, to: &str, n: usize) -> Vec<String> {
    let mut c = s.login(user, "pw");
    let mut acknowledged = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let bytes: Vec<u8> = chunk
            .iter()
            .flat_map(|i| {
                message(
                    &format!("{user}@a.test"),
                    to,
                    1_700_000_000,
                    &format!("m{i}"),
                )
            })
            .collect();
        c.send(&bytes);
        for i in chunk {
            c.expect(&SUCCESS);
            acknowledged.push(format!("m{i}"));
        }
    }
    acknowledged
}

/// Waits until `bob` of `b` has `n` messages from alice in history, and
/// returns their contents.
fn wait_for_history(b: &Server, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut bob = b.login("bob", "pw");
        let got: Vec<String> = history_of_all(&mut bob, "alice@a.test");
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every message of a conversation, paging through History.
///
/// Messages relayed while it pages are pushed to `c` too, and a pushed
/// Message looks exactly like a History item: counting one would double
/// it on the next page. So the session turns on *history items* (docs
/// section 5.16) and skips every pushed 0x05.
pub(crate) fn history_of_all(c: &mut Raw, with: &str) -> Vec<String> {
    const HISTORY_ITEMS: [u8; 5] = [0x84, 0x00, 0x02, 0x00, 0x01];
    c.send(&HISTORY_ITEMS);
    let mut p = c.read_pdu();
    while p[0] == 0x05 {
        p = c.read_pdu();
    }
    assert_eq!(p, HISTORY_ITEMS);
    let mut out = Vec::new();
    loop {
        c.send(&history(with, 0, 500, out.len() as i64));
        let mut page = 0;
        loop {
            let p = c.read_pdu();
            if p == SUCCESS {
                break;
            }
            if p[0] == 0x05 {
                continue;
            }
            assert_eq!(p[0], 0x85, "{p:02x?}");
            out.push(content(&p));
            page += 1;
        }
        if page < 500 {
            return out;
        }
    }
}

pub(crate) fn exactly_once(got: &[String], sent: &[String]) {
    let mut sorted = got.to_vec();
    sorted.sort();
    let before = sorted.len();
    sorted.dedup();
    assert_eq!(before, sorted.len(), "duplicates in history");
    let mut want = sent.to_vec();
    want.sort();
    assert_eq!(sorted, want);
    // And in the order they were sent.
    assert_eq!(got, sent);
}

#[test]
fn sigkill_of_the_receiver_loses_and_doubles_nothing() {
    let a = named("a.test", "link_backoff_max_secs: 1");
    let mut b = named("b.test", "");
    link(&a, "a.test", &b, "b.test");
    user_with_contacts(&a, "alice", &["bob@b.test"]);
    user_with_contacts(&b, "bob", &["alice@a.test"]);
    // Kill b while a's outbox drains into it.
    let sent = std::thread::scope(|scope| {
        let sending = scope.spawn(|| send_many(&a, "alice", "bob@b.test", 1000));
        std::thread::sleep(Duration::from_millis(50));
        b.kill_and_restart();
        std::thread::sleep(Duration::from_millis(300));
        b.kill_and_restart();
        sending.join().unwrap()
    });
    assert_eq!(sent.len(), 1000);
    let got = wait_for_history(&b, 1000);
    exactly_once(&got, &sent);
}

#[test]
fn sigkill_of_the_sender_loses_and_doubles_nothing() {
    let mut a = named("a.test", "link_backoff_max_secs: 1");
    let b = named("b.test", "");
    link(&a, "a.test", &b, "b.test");
    user_with_contacts(&a, "alice", &["bob@b.test"]);
    user_with_contacts(&b, "bob", &["alice@a.test"]);
    let sent = send_many(&a, "alice", "bob@b.test", 1000);
    // Killed while its outbox may still be draining.
    a.kill_and_restart();
    let got = wait_for_history(&b, 1000);
    exactly_once(&got, &sent);
    let listed = federate(&a, &["list", "--json"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut listed = listed;
    while !listed.contains("\"queued\":0") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        listed = federate(&a, &["list", "--json"]);
    }
    assert!(listed.contains("\"queued\":0"), "{listed}");
}

#[test]
fn a_relay_whose_lifetime_ends_is_given_up_and_its_sender_told() {
    let a = named(
        "a.test",
        "outbox_lifetime_secs: 1, link_backoff_max_secs: 1, idle_timeout_secs: 2",
    );
    // b.test is known but nothing listens there.
    let b = named("b.test", "");
    let kb = key_of(&b);
    drop(b);
    federate(&a, &["add", "b.test", "127.0.0.1:9", "--key", &kb]);
    let mut alice = user_with_contacts(&a, "alice", &["bob@b.test"]);
    alice.send(&message(
        "alice@a.test",
        "bob@b.test",
        1_700_000_000,
        "lost",
    ));
    alice.expect(&SUCCESS);
    // The idle timeout of 2 s makes the core tick every second.
    let notice = alice.read_pdu();
    assert_eq!(notice[0], 0x05);
    assert_eq!(notice[3..5], [0, 17]);
    assert_eq!(&notice[5..22], b"postmaster@a.test");
    let text = content(&notice);
    assert!(text.starts_with("Not delivered to bob@b.test: "), "{text}");
    let listed = federate(&a, &["list", "--json"]);
    assert!(listed.contains("\"queued\":0"), "{listed}");
    assert!(listed.contains("\"given_up\":1"), "{listed}");
    assert!(listed.contains("expired undelivered"), "{listed}");
    // The notice is kept, and the name cannot be taken.
    assert_eq!(history_of(&mut alice, "postmaster@a.test").len(), 1);
    let out = run(
        &[
            "user",
            "add",
            "postmaster",
            "--password-stdin",
            "--data",
            a.data(),
        ],
        b"pw\n",
    );
    assert!(!out.status.success(), "{out:?}");
}

/// Sends `bytes` until the reply is `want`, for state that crosses a link
/// on its own time; panics after 20 s.
fn until(c: &mut Raw, bytes: &[u8], want: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        c.send(bytes);
        let mut got = c.read_pdu();
        // A History answered with messages: read them off to its end.
        while got[0] == 0x05 {
            got = c.read_pdu();
        }
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {got:02x?}, want {want:02x?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_channel_on_b_has_members_on_a_b_and_c() {
    let a = named("a.test", "link_backoff_max_secs: 1");
    let b = named("b.test", "link_backoff_max_secs: 1");
    let c = named("c.test", "link_backoff_max_secs: 1");
    link(&a, "a.test", &b, "b.test");
    link(&c, "c.test", &b, "b.test");
    let mut bob = user_with_contacts(&b, "bob", &[]);
    let mut alice = user_with_contacts(&a, "alice", &[]);
    let mut carol = user_with_contacts(&c, "carol", &[]);
    bob.send(&user_mode("bob@b.test", "#c@b.test", 1));
    bob.expect(&SUCCESS);
    // Joins from a and c travel to b, which applies them.
    alice.send(&user_mode("alice@a.test", "#c@b.test", 1));
    alice.expect(&SUCCESS);
    carol.send(&user_mode("carol@c.test", "#c@b.test", 1));
    carol.expect(&SUCCESS);
    // Operators act on the channel's home server, not from afar.
    alice.send(&user_mode("carol@c.test", "#c@b.test", 3));
    alice.expect(&error(0x82));
    let ask = history("#c@b.test", 0, 10, 0);
    until(&mut alice, &ask, &SUCCESS);
    until(&mut carol, &ask, &SUCCESS);

    // One message of b's reaches every member; one from a too, back to a.
    let hi = message("bob@b.test", "#c@b.test", 1_700_000_000, "hi all");
    bob.send(&hi);
    bob.expect(&SUCCESS);
    alice.expect(&hi);
    carol.expect(&hi);
    let from_a = message("alice@a.test", "#c@b.test", 1_700_000_001, "from a");
    alice.send(&from_a);
    alice.expect(&SUCCESS);
    bob.expect(&from_a);
    carol.expect(&from_a);
    alice.expect(&from_a);

    // History through a: asked of b over the link, one reply sequence.
    alice.send(&history("#c@b.test", 0, 10, 0));
    alice.expect(&[hi.clone(), from_a.clone(), SUCCESS.to_vec()].concat());

    // bob bans alice: a hears of it, and refuses her at once from then.
    bob.send(&user_mode("alice@a.test", "#c@b.test", 3));
    bob.expect(&SUCCESS);
    let after = message("alice@a.test", "#c@b.test", 1_700_000_002, "after");
    until(&mut alice, &after, &error(0x03));
    let bye = message("bob@b.test", "#c@b.test", 1_700_000_003, "bye");
    bob.send(&bye);
    bob.expect(&SUCCESS);
    carol.expect(&bye);
    // Nothing of the channel reaches alice any more. An "after" that a
    // took before it heard of the ban was refused by b, and a tells her
    // so from its postmaster: that is all she may get.
    for pdu in alice.pdus_until_silent(Duration::from_millis(300)) {
        assert_eq!(&pdu[5..22], b"postmaster@a.test", "{pdu:02x?}");
        let text = content(&pdu);
        assert!(text.starts_with("Not delivered to #c@b.test: "), "{text}");
    }
    alice.send(&history("#c@b.test", 0, 10, 0));
    alice.expect(&error(0x03));
    // And a banned user's join is refused by b, undone on a.
    alice.send(&user_mode("alice@a.test", "#c@b.test", 1));
    alice.expect(&SUCCESS);
    let notice = alice.read_pdu();
    assert!(
        content(&notice).starts_with("Not delivered to #c@b.test: "),
        "{}",
        content(&notice)
    );
    until(&mut alice, &after, &error(0x03));
}

/// A raw peer `b.test` that accepts a's link: it proves itself with the
/// RFC 8032 TEST 1 key and checks nothing of a's proof.
fn accept_raw(listener: &std::net::TcpListener) -> Raw {
    use ed25519_dalek::{Signer as _, SigningKey};
    let seed = unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let key = SigningKey::from_bytes(&seed.try_into().unwrap());
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut b = Raw { stream };
    assert_eq!(b.read_pdu(), handshake(0, 5, 2));
    assert_eq!(b.read_pdu(), pdu(0x06, &string("a.test")));
    let nc = b.read_pdu()[3..].to_vec();
    let na = [5u8; 32];
    let signed = [
        b"SOLEC server link v1".to_vec(),
        vec![0x02],
        string("a.test"),
        string("b.test"),
        nc,
        na.to_vec(),
    ]
    .concat();
    b.send(&[pdu(0x86, &na), pdu(0x87, &key.sign(&signed).to_bytes())].concat());
    assert_eq!(b.read_pdu()[0], 0x87);
    b.send(&[SUCCESS.to_vec(), relay_ack(0)].concat());
    b
}

#[test]
fn a_peer_gone_in_the_middle_of_a_history_is_an_error_not_a_hang() {
    let a = named("a.test", "");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b_addr = listener.local_addr().unwrap().to_string();
    let b_key = {
        use base64::Engine as _;
        use ed25519_dalek::SigningKey;
        let seed = unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let key = SigningKey::from_bytes(&seed.try_into().unwrap());
        let raw = key.verifying_key().to_bytes();
        format!(
            "ed25519:{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    };
    federate(&a, &["add", "b.test", &b_addr, "--key", &b_key]);
    let mut alice = user_with_contacts(&a, "alice", &[]);
    let join = user_mode("alice@a.test", "#c@b.test", 1);
    alice.send(&join);
    alice.expect(&SUCCESS);
    // The join arrives as relay 1, by the bytes of section 8.5.
    let mut b = accept_raw(&listener);
    b.expect(&[relay_from(1), join].concat());
    b.send(&relay_ack(1));

    alice.send(&history("#c@b.test", 0, 10, 0));
    let asked = b.read_pdu();
    let mut want = vec![0x8b];
    let body = [
        string("alice@a.test"),
        string("#c@b.test"),
        0u64.to_be_bytes().to_vec(),
        10i64.to_be_bytes().to_vec(),
        0i64.to_be_bytes().to_vec(),
    ]
    .concat();
    want.extend((body.len() as u16).to_be_bytes());
    want.extend(body);
    assert_bytes!(asked, want);
    // Two items, then b is gone.
    // Longer than any PDU of the handshake.
    let item = message("bob@b.test", "#c@b.test", 1_700_000_000, &"z".repeat(3000));
    let mut as_item = item.clone();
    as_item[0] = 0x85;
    b.send(&[as_item.clone(), as_item].concat());
    alice.expect(&[item.clone(), item].concat());
    drop(b);
    alice.expect(&error(0x83));
    // With b down, a History is answered at once, with an error too.
    drop(listener);
    alice.send(&history("#c@b.test", 0, 10, 0));
    alice.expect(&error(0x83));
}
