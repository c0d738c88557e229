//! A damaged store never panics the server, damage is never served, and
//! `solec store check` / `solec store backup` work as documented.

use crate::util::*;
use std::io::Read as _;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const T: u64 = 1_700_000_000;
const CH: &str = "#c@localhost";

/// A server with alice in channel CH and `n` messages in it, stopped; the
/// data directory and the messages' exact bytes.
fn stopped_store(n: u64) -> (TempDir, Vec<Vec<u8>>) {
    let mut s = Server::start();
    s.add_user("alice", "pw");
    let mut a = s.login("alice", "pw");
    a.send(&user_mode("alice@localhost", CH, 1));
    a.expect(&SUCCESS);
    let sent: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            message(
                "alice@localhost",
                CH,
                T + i,
                &format!("text-{i:04}-of-the-message"),
            )
        })
        .collect();
    for m in &sent {
        a.send(m);
        a.expect(&SUCCESS);
    }
    drop(a);
    assert!(s.stop().success());
    let dir = std::mem::replace(&mut s.dir, TempDir::new());
    (dir, sent)
}

/// Output of a command that must not have panicked.
fn no_panic(what: &str, status: ExitStatus, stderr: &[u8]) -> String {
    let err = String::from_utf8_lossy(stderr).into_owned();
    assert_ne!(status.code(), Some(101), "{what} panicked: {err}");
    assert!(!err.contains("panicked"), "{what} panicked: {err}");
    err
}

/// Starts `solec serve` on `dir` and waits until it serves or exits.
/// Returns the child if it serves, with its stderr so far; or its exit.
fn try_serve(dir: &Path) -> Result<Serving, (ExitStatus, String)> {
    let mut child = solec()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn solec serve");
    let mut stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let writer = log.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            writer
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            reader.join().unwrap();
            return Err((status, log.lock().unwrap().clone()));
        }
        let text = log.lock().unwrap().clone();
        if text.contains(" serving ") {
            let addr = text
                .split(" listening on ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .expect("the log names the address")
                .parse()
                .unwrap();
            return Ok(Serving {
                child,
                addr,
                log,
                reader,
            });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server neither served nor exited: {text}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A server [`try_serve`] started.
struct Serving {
    child: Child,
    addr: std::net::SocketAddr,
    log: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

/// Stops a server the test started, asserting it did not panic.
fn stop(serving: Serving) {
    let Serving {
        mut child,
        log,
        reader,
        ..
    } = serving;
    signal(child.id(), libc::SIGTERM);
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server ignored SIGTERM: {}", log.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    reader.join().unwrap();
    no_panic("serve", status, log.lock().unwrap().as_bytes());
}

/// Logs in and reads CH's history; every PDU served must be one of `sent`.
/// Returns how many were served.
fn served_history(addr: std::net::SocketAddr, sent: &[Vec<u8>]) -> usize {
    let mut c = Raw::connect(addr);
    c.send(&[handshake(0, 5, 1), user_auth("alice", "pw")].concat());
    if c.read_pdu() != SUCCESS {
        return 0; // a damaged user row: refused, not a panic
    }
    c.send(&history(CH, 0, 500, 0));
    let mut served = 0;
    loop {
        let pdu = c.read_pdu();
        match pdu[0] {
            0x01 => return served,
            0x02 => return served, // a store error ends the reply
            _ => {
                assert!(
                    sent.contains(&pdu),
                    "served a damaged message: {}",
                    spaced_hex(&pdu)
                );
                served += 1;
                assert!(served <= sent.len(), "more messages than were sent");
            }
        }
    }
}

/// Flipping a byte anywhere in the store: `store check` and `serve` never
/// panic; the server either refuses to start naming the file, or starts
/// and serves no altered message.
#[test]
fn a_flipped_byte_never_panics_and_is_never_served() {
    let (dir, sent) = stopped_store(40);
    let original = std::fs::read(dir.join("solec.redb")).unwrap();
    // Bytes that hold something: flipping zeros of unused space tells little.
    let used: Vec<usize> = (0..original.len()).filter(|&i| original[i] != 0).collect();
    const TRIES: usize = 48;
    let (mut refused, mut reported, mut started) = (0, 0, 0);
    for k in 0..TRIES {
        let at = used[k * used.len() / TRIES];
        let copy = TempDir::new();
        let mut bytes = original.clone();
        bytes[at] ^= 0xFF;
        let file = copy.join("solec.redb");
        std::fs::write(&file, &bytes).unwrap();
        let out = run(&["store", "check", file.to_str().unwrap()], b"");
        no_panic(&format!("check, byte {at}"), out.status, &out.stderr);
        let code = out.status.code();
        assert!(matches!(code, Some(0 | 1)), "check, byte {at}: {out:?}");
        if code == Some(1) {
            reported += 1;
        }
        match try_serve(copy.path()) {
            Err((status, log)) => {
                no_panic(&format!("serve, byte {at}"), status, log.as_bytes());
                assert!(
                    log.contains(file.to_str().unwrap()),
                    "byte {at}: the error names the file: {log}"
                );
                refused += 1;
            }
            Ok(serving) => {
                served_history(serving.addr, &sent);
                stop(serving);
                started += 1;
            }
        }
    }
    eprintln!(
        "{TRIES} flips: check reported {reported}; serve refused {refused}, started {started}"
    );
    assert!(
        reported > 0 && started > 0,
        "the flips reached both kinds of outcome"
    );
}

/// The altered text of a stored message: History leaves it out, the log
/// says so, and `store check` names it.
#[test]
fn an_altered_message_is_left_out_and_reported() {
    let (dir, sent) = stopped_store(3);
    let path = dir.join("solec.redb");
    let mut bytes = std::fs::read(&path).unwrap();
    let needle = b"text-0001-of";
    let mut found = 0;
    for i in 0..bytes.len() - needle.len() {
        if &bytes[i..i + needle.len()] == needle {
            bytes[i] = b'T';
            found += 1;
        }
    }
    assert!(found > 0, "the message text is in the file");
    std::fs::write(&path, &bytes).unwrap();
    let out = run(
        &["store", "check", "--data", dir.path().to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("message 1 of conversation \"#c@localhost\" fails its checksum"),
        "{report}"
    );
    assert!(report.contains("pages fail redb's checksums"), "{report}");
    let s = Server::start_with(dir, &[]);
    let mut a = s.login("alice", "pw");
    a.send(&history(CH, 0, 10, 0));
    a.expect(&[sent[0].clone(), sent[2].clone(), SUCCESS.to_vec()].concat());
    // Logged by the History writer, which may get to it after the reply.
    let logged = || {
        s.log_text()
            .contains("left 1 damaged message(s) out of a History reply")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !logged() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(logged(), "{}", s.log_text());
}

/// A backup taken while a client keeps sending holds every message
/// acknowledged before it began, and passes the check; `store check`
/// refuses the store the server holds.
#[test]
fn a_backup_while_writing_holds_every_acknowledged_message() {
    let s = Server::start();
    s.add_user("alice", "pw");
    let mut a = s.login("alice", "pw");
    a.send(&user_mode("alice@localhost", CH, 1));
    a.expect(&SUCCESS);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, done) = (acked.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..400u64 {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                let m = message("alice@localhost", CH, T + i, &format!("m{i}"));
                a.send(&m);
                a.expect(&SUCCESS);
                acked.lock().unwrap().push(m);
            }
        })
    };
    let deadline = Instant::now() + TIMEOUT;
    while acked.lock().unwrap().len() < 20 {
        assert!(Instant::now() < deadline, "the writer is stuck");
        std::thread::sleep(Duration::from_millis(5));
    }
    let held = run(&["store", "check", "--data", s.data()], b"");
    assert_eq!(held.status.code(), Some(2), "{held:?}");
    assert!(String::from_utf8_lossy(&held.stderr).contains("held by a running server"));
    let before = acked.lock().unwrap().clone();
    let backups = TempDir::new();
    let dest = backups.join("copy.redb");
    let out = run(
        &[
            "store",
            "backup",
            dest.to_str().unwrap(),
            "--data",
            s.data(),
        ],
        b"",
    );
    done.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.ends_with("clean\n"), "{said}");
    let again = run(
        &[
            "store",
            "backup",
            dest.to_str().unwrap(),
            "--data",
            s.data(),
        ],
        b"",
    );
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing file is never overwritten: {again:?}"
    );
    let out = run(&["store", "check", dest.to_str().unwrap()], b"");
    assert!(out.status.success(), "{out:?}");
    // The copy serves as a store of its own.
    let restored = TempDir::new();
    std::fs::copy(&dest, restored.join("solec.redb")).unwrap();
    let r = Server::start_with(restored, &[]);
    let mut c = r.login("alice", "pw");
    c.send(&history(CH, 0, 500, 0));
    let mut got = Vec::new();
    loop {
        let pdu = c.read_pdu();
        if pdu == SUCCESS {
            break;
        }
        got.push(pdu);
    }
    assert!(
        got.len() >= before.len(),
        "{} of {}",
        got.len(),
        before.len()
    );
    assert_eq!(got[..before.len()], before[..]);
}

/// With no server, `store backup` copies the file itself and leaves it
/// as it was; `store check` says a clean store is clean.
#[test]
fn an_offline_backup_and_check() {
    let (dir, _) = stopped_store(5);
    let path = dir.join("solec.redb");
    let before = std::fs::read(&path).unwrap();
    let data = dir.path().to_str().unwrap();
    let out = run(&["store", "check", "--data", data], b"");
    assert!(out.status.success(), "{out:?}");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("1 users, 0 contacts, 1 channels, 1 memberships, 5 messages"),
        "{report}"
    );
    let dest = dir.join("copy.redb");
    let out = run(
        &["store", "backup", dest.to_str().unwrap(), "--data", data],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(": 5 messages"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the store is untouched"
    );
    let out = run(
        &["store", "check", dir.join("none.redb").to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// Every PDU of a History of CH from its start, up to 500.
fn channel_history(c: &mut Raw) -> Vec<Vec<u8>> {
    c.send(&history(CH, 0, 500, 0));
    let mut got = Vec::new();
    loop {
        let pdu = c.read_pdu();
        if pdu == SUCCESS {
            return got;
        }
        got.push(pdu);
    }
}

/// A batch of messages is durable once it is in the journal beside the
/// store, and waits there for redb up to a second. A server killed in
/// that second takes the messages in at its next start, once; an offline
/// backup made before that start holds them and leaves the store as it
/// was; a backup put in the store's place ignores the journal beside it,
/// which is not its own.
#[test]
fn a_killed_servers_journal_is_taken_in_once_and_backed_up() {
    let mut s = Server::start();
    s.add_user("alice", "pw");
    let mut a = s.login("alice", "pw");
    a.send(&user_mode("alice@localhost", CH, 1));
    a.expect(&SUCCESS);
    let sent: Vec<Vec<u8>> = (0..20)
        .map(|i| message("alice@localhost", CH, T + i, &format!("journal-{i:02}")))
        .collect();
    for m in &sent {
        a.send(m);
        a.expect(&SUCCESS);
    }
    // History sees the journal's messages before they are in redb.
    assert_eq!(channel_history(&mut a), sent);
    drop(a);
    s.kill();
    let journal = s.dir.join("solec.redb.journal");
    assert!(std::fs::metadata(&journal).unwrap().len() > 0);

    let store = s.dir.join("solec.redb");
    let before = std::fs::read(&store).unwrap();
    let copies = TempDir::new();
    let backup = copies.join("backup.redb");
    let out = run(
        &[
            "store",
            "backup",
            backup.to_str().unwrap(),
            "--data",
            s.data(),
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(": 20 messages"), "{said}");
    assert_eq!(
        std::fs::read(&store).unwrap(),
        before,
        "the store is untouched"
    );

    let taken = |s: &Server| s.log_text().matches("message(s) taken in from").count();
    s.restart();
    // One record per message: each was acknowledged before the next.
    let log = s.log_text();
    assert!(
        log.contains("20 record(s) with 20 message(s) taken in from"),
        "{log}"
    );
    assert_eq!(taken(&s), 1);
    let mut a = s.login("alice", "pw");
    assert_eq!(channel_history(&mut a), sent);
    drop(a);
    // A stopped server leaves nothing in its journal.
    s.restart();
    assert_eq!(taken(&s), 1);

    assert!(s.stop().success());
    std::fs::copy(&backup, &store).unwrap();
    s.restart();
    assert_eq!(taken(&s), 1, "{}", s.log_text());
    let mut a = s.login("alice", "pw");
    assert_eq!(channel_history(&mut a), sent);
}

/// With no event after them, a burst's messages are moved from the
/// journal into redb a second later: a server killed after that has
/// nothing to take in.
#[test]
fn an_idle_server_moves_its_journal_into_the_store() {
    let mut s = Server::start();
    s.add_user("alice", "pw");
    let mut a = s.login("alice", "pw");
    a.send(&user_mode("alice@localhost", CH, 1));
    a.expect(&SUCCESS);
    let sent: Vec<Vec<u8>> = (0..3)
        .map(|i| message("alice@localhost", CH, T + i, &format!("idle-{i}")))
        .collect();
    for m in &sent {
        a.send(m);
        a.expect(&SUCCESS);
    }
    // The journal waits a second at most (SETTLE_AFTER); the server's
    // next tick is ten seconds away.
    std::thread::sleep(Duration::from_millis(2500));
    s.kill();
    s.restart();
    let log = s.log_text();
    assert!(!log.contains("taken in from"), "{log}");
    let mut a = s.login("alice", "pw");
    assert_eq!(channel_history(&mut a), sent);
}
