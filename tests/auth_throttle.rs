//! Failed logins slow down their own address, not honest users: a flood of
//! wrong passwords from other addresses does not queue a correct one
//! behind it, and an address that keeps failing waits longer each time,
//! then is refused unchecked (docs/protocol.md, section 11).

use crate::util::*;
use std::io::Read as _;
use std::time::{Duration, Instant};

/// Addresses flooding with wrong passwords, and attempts from each.
const ATTACKERS: std::ops::Range<u8> = 10..20;
const ATTEMPTS_EACH: usize = 100;

/// What one wrong-password connection got: Error 0x01, or a silent close
/// (its login deadline passed while it waited).
#[derive(Debug, Default)]
struct Outcomes {
    refused: usize,
    silent: usize,
}

/// Opens `ATTEMPTS_EACH` connections from `source`, each sending a wrong
/// password at once; says when all are sent, then reads every answer.
fn flood(server: &Server, source: [u8; 4], sent: std::sync::mpsc::Sender<()>) -> Outcomes {
    let mut conns: Vec<Raw> = (0..ATTEMPTS_EACH)
        .map(|_| {
            let mut c = server.connect_from(source).expect("connect");
            c.send(&[handshake(0, 5, 1), user_auth("alice", "wrong")].concat());
            c
        })
        .collect();
    sent.send(()).unwrap();
    let mut outcomes = Outcomes::default();
    for c in &mut conns {
        let mut got = Vec::new();
        let _ = c.stream.read_to_end(&mut got);
        match &got[..] {
            [] => outcomes.silent += 1,
            [0x02, 0x00, 0x01, 0x01] => outcomes.refused += 1,
            other => panic!("a wrong password got {}", spaced_hex(other)),
        }
    }
    outcomes
}

/// 1,000 wrong passwords arrive in parallel from ten addresses; a correct
/// one from another address is checked ahead of them, not after.
#[test]
fn an_honest_login_is_not_queued_behind_a_flood_of_wrong_passwords() {
    // Only this host is trusted; the admission limits are raised so the
    // flood reaches the password checks.
    let s = Server::start_with_config(
        r#"(trusted_networks: ["127.0.0.1/32"], max_connections_per_ip: 1000,
            max_new_connections_per_ip_per_minute: 100000)"#,
    );
    s.add_user("alice", "pw");
    s.add_user("bob", "pw");
    let (sent_tx, sent) = std::sync::mpsc::channel();
    let outcomes = std::thread::scope(|scope| {
        let attackers: Vec<_> = ATTACKERS
            .map(|n| {
                let (s, tx) = (&s, sent_tx.clone());
                scope.spawn(move || flood(s, [127, 0, 0, n], tx))
            })
            .collect();
        for _ in ATTACKERS {
            sent.recv_timeout(TIMEOUT).expect("the attackers sent");
        }
        // Both an account under attack and another one.
        for user in ["alice", "bob"] {
            let started = Instant::now();
            let mut c = s.connect_from([127, 0, 0, 9]).unwrap();
            c.send(&[handshake(0, 5, 1), user_auth(user, "pw")].concat());
            c.expect(&SUCCESS);
            let took = started.elapsed();
            println!("honest login of {user} during a flood of 1,000 wrong passwords: {took:?}");
            assert!(took < Duration::from_secs(5), "{took:?}");
        }
        attackers
            .into_iter()
            .map(|a| a.join().unwrap())
            .collect::<Vec<_>>()
    });
    let refused: usize = outcomes.iter().map(|o| o.refused).sum();
    let silent: usize = outcomes.iter().map(|o| o.silent).sum();
    println!("wrong passwords: {refused} got Error 0x01, {silent} timed out");
    assert_eq!(refused + silent, ATTACKERS.len() * ATTEMPTS_EACH);
    assert!(refused > 0, "no wrong password was answered");
}

/// Reads one reply to a login sent just now; how long it took.
fn reply_time(c: &mut Raw, want: &[u8]) -> Duration {
    let started = Instant::now();
    c.expect(want);
    started.elapsed()
}

/// Logs in from `source` as alice with `password`.
fn attempt(s: &Server, source: u8, password: &str) -> Raw {
    let mut c = s.connect_from([127, 0, 0, source]).unwrap();
    c.send(&[handshake(0, 5, 1), user_auth("alice", password)].concat());
    c
}

/// An address that fails waits 2.5 s for its next check; after two
/// failures it would wait 5 s, past its 4 s to log in, so even the right
/// password is refused at once. Another address logs in as alice at once.
#[test]
fn repeated_failures_from_one_address_are_delayed_then_refused() {
    let s = Server::start_with_config(
        "(trusted_networks: [], auth_failure_delay_ms: 2500, handshake_timeout_secs: 4)",
    );
    s.add_user("alice", "pw");
    let failing = 2;
    reply_time(&mut attempt(&s, failing, "wrong"), &error(0x01));
    let second = reply_time(&mut attempt(&s, failing, "wrong"), &error(0x01));
    assert!(second >= Duration::from_millis(2400), "{second:?}");
    let mut right = attempt(&s, failing, "pw");
    let third = reply_time(&mut right, &error(0x01));
    right.expect_closed();
    assert!(
        third < Duration::from_millis(2500),
        "{third:?}, not at once"
    );
    // The account is not locked: a clean address gets in at once.
    let mut other = attempt(&s, 3, "pw");
    let took = reply_time(&mut other, &SUCCESS);
    println!("waits: {second:?} for the second failure, {third:?} to refuse the third; {took:?} for another address");
    assert!(took < Duration::from_millis(2500), "{took:?}");
    // Summed in the log, not one line per attempt.
    let log = s.log_text();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("throttled ")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].ends_with("0 refused unchecked, 1 delayed"),
        "{log}"
    );
}
