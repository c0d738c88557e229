//! `solec send`, `history`, `contact` and `channel` against a spawned server.
//!
//! Each test drives the binary as a script would and asserts on exact
//! stdout, stderr and exit status. Messages with known send times are put
//! in with raw clients, so printed history can be compared byte for byte;
//! raw clients also check what the commands stored.

use crate::util::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PW: &str = "secret";

/// A server with users alice, bob and carol, all with password [`PW`].
fn server() -> Server {
    let server = Server::start();
    for name in ["alice", "bob", "carol"] {
        server.add_user(name, PW);
    }
    server
}

/// `solec ARGS --server S --user NAME@localhost`, password from the env.
fn as_user(server: &Server, name: &str, args: &[&str]) -> Command {
    let mut cmd = solec();
    cmd.args(args)
        .args(["--server", &server.server_arg()])
        .args(["--user", &format!("{name}@localhost")])
        .env("SOLEC_PASSWORD", PW);
    cmd
}

fn cli(server: &Server, name: &str, args: &[&str], stdin: &str) -> Output {
    run_cmd(&mut as_user(server, name, args), stdin.as_bytes())
}

/// Asserts the exit status, stdout and stderr, all exactly.
#[track_caller]
fn check(out: &Output, code: i32, stdout: &str, stderr: &str) {
    let (got_out, got_err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        (out.status.code(), got_out.as_ref(), got_err.as_ref()),
        (Some(code), stdout, stderr),
        "(status, stdout, stderr) differ"
    );
}

/// Makes `a` and `b` contacts of each other, with raw clients.
fn befriend(server: &Server, a: &str, b: &str) {
    for (me, other) in [(a, b), (b, a)] {
        let mut c = server.login(me, PW);
        c.send(&contact_add(&format!("{other}@localhost")));
        c.expect(&SUCCESS);
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `1700000000` → `2023-11-14T22:13:20Z`, counted out year by year and
/// month by month rather than with src/time.rs's formula, so the tests do
/// not trust the code they check.
fn rfc3339(secs: u64) -> String {
    let leap = |y: u64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let (mut days, rem) = (secs / 86_400, secs % 86_400);
    let mut year = 1970;
    while days >= 365 + u64::from(leap(year)) {
        days -= 365 + u64::from(leap(year));
        year += 1;
    }
    let february = 28 + u64::from(leap(year));
    let lengths = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 0;
    while days >= lengths[month] {
        days -= lengths[month];
        month += 1;
    }
    format!(
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        month + 1,
        days + 1,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[test]
fn the_tests_own_clock_arithmetic() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
}

/// Checks `history` exactly for messages (source, target, text) that
/// `solec send` stored at times only known to lie in `sent`. `history(json)`
/// runs the command: its `--json` lines must hold exactly `want`, each with
/// a send_time in `sent`, and its text lines must then be exactly those
/// messages at those times.
#[track_caller]
fn check_history(
    history: impl Fn(bool) -> Output,
    want: &[(&str, &str, &str)],
    sent: std::ops::RangeInclusive<u64>,
) {
    let json = history(true);
    let lines: Vec<String> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), want.len(), "{json:?}");
    let (mut want_json, mut want_text) = (String::new(), String::new());
    for (line, (from, to, text)) in lines.iter().zip(want) {
        let m: serde_json::Value = serde_json::from_str(line).unwrap();
        let time = m["send_time"].as_u64().unwrap();
        assert!(sent.contains(&time), "{time} not in {sent:?}");
        want_json += &format!(
            "{{\"source_address\":\"{from}\",\"target_address\":\"{to}\",\
             \"send_time\":{time},\"message_content\":\"{text}\"}}\n"
        );
        want_text += &format!("{} {from}: {text}\n", rfc3339(time));
    }
    check(&json, 0, &want_json, "");
    check(&history(false), 0, &want_text, "");
}

#[test]
fn history_prints_text_and_json_exactly() {
    let server = server();
    befriend(&server, "alice", "bob");
    let mut alice = server.login("alice", PW);
    let mut bob = server.login("bob", PW);
    alice.send(&message(
        "alice@localhost",
        "bob@localhost",
        1_700_000_000,
        "hi bob",
    ));
    alice.expect(&SUCCESS);
    bob.expect(&message(
        "alice@localhost",
        "bob@localhost",
        1_700_000_000,
        "hi bob",
    ));
    let tricky = "two\nlines, a \\ and \u{1b}[1m é";
    bob.send(&message(
        "bob@localhost",
        "alice@localhost",
        1_700_000_061,
        tricky,
    ));
    bob.expect(&SUCCESS);

    check(
        &cli(&server, "alice", &["history", "bob"], ""),
        0,
        "2023-11-14T22:13:20Z alice@localhost: hi bob\n\
         2023-11-14T22:14:21Z bob@localhost: two\\nlines, a \\\\ and \\u{1b}[1m é\n",
        "",
    );
    check(
        &cli(
            &server,
            "bob",
            &["history", "alice@localhost", "--json"],
            "",
        ),
        0,
        "{\"source_address\":\"alice@localhost\",\"target_address\":\"bob@localhost\",\
         \"send_time\":1700000000,\"message_content\":\"hi bob\"}\n\
         {\"source_address\":\"bob@localhost\",\"target_address\":\"alice@localhost\",\
         \"send_time\":1700000061,\"message_content\":\"two\\nlines, a \\\\ and \\u001b[1m é\"}\n",
        "",
    );
    // --since (all three forms), --count and --offset select exactly.
    let second = "2023-11-14T22:14:21Z bob@localhost: two\\nlines, a \\\\ and \\u{1b}[1m é\n";
    for since in ["2023-11-14T22:14:00Z", "1700000040"] {
        let out = cli(&server, "alice", &["history", "bob", "--since", since], "");
        check(&out, 0, second, "");
    }
    let out = cli(
        &server,
        "alice",
        &["history", "bob", "--since", "2023-11-15"],
        "",
    );
    check(&out, 0, "", "");
    let out = cli(&server, "alice", &["history", "bob", "--offset", "1"], "");
    check(&out, 0, second, "");
    let out = cli(&server, "alice", &["history", "bob", "--count", "1"], "");
    check(
        &out,
        0,
        "2023-11-14T22:13:20Z alice@localhost: hi bob\n",
        "",
    );
}

/// A right-to-left override from the network must not reach the terminal
/// raw: it would show `evil.exe` as `exe.live`. History escapes it as
/// `solec decode` does; JSON keeps the text as it is.
#[test]
fn history_escapes_bidi_controls() {
    let server = server();
    befriend(&server, "alice", "bob");
    let mut bob = server.login("bob", PW);
    let text = "see \u{202e}exe.live\u{202c} and \u{2066}x\u{2069}\u{200f}";
    bob.send(&message(
        "bob@localhost",
        "alice@localhost",
        1_700_000_000,
        text,
    ));
    bob.expect(&SUCCESS);
    check(
        &cli(&server, "alice", &["history", "bob"], ""),
        0,
        "2023-11-14T22:13:20Z bob@localhost: see \\u{202e}exe.live\\u{202c} and \
         \\u{2066}x\\u{2069}\\u{200f}\n",
        "",
    );
    let out = cli(&server, "alice", &["history", "bob", "--json"], "");
    let line = format!(
        "{{\"source_address\":\"bob@localhost\",\"target_address\":\"alice@localhost\",\
         \"send_time\":1700000000,\"message_content\":\"{text}\"}}\n"
    );
    check(&out, 0, &line, "");
}

#[test]
fn send_then_history_round_trip() {
    let server = server();
    befriend(&server, "alice", "bob");
    let before = now();
    let out = cli(&server, "alice", &["send", "bob", "hello", "", "world"], "");
    check(&out, 0, "", "");
    let after = now();

    let history = |json: bool| {
        let args: &[&str] = if json { &["--json"] } else { &[] };
        cli(&server, "bob", &[&["history", "alice"], args].concat(), "")
    };
    let want = [("alice@localhost", "bob@localhost", "hello  world")];
    check_history(history, &want, before..=after);
}

#[test]
fn direct_messages_need_contacts_both_ways() {
    let server = server();
    check(
        &cli(&server, "alice", &["contact", "add", "bob"], ""),
        0,
        "",
        "",
    );
    check(
        &cli(&server, "alice", &["send", "bob", "hi"], ""),
        5,
        "",
        "solec: alice@localhost -> bob@localhost: unauthorized (0x03)\n",
    );
    let out = cli(&server, "bob", &["contact", "add", "alice@localhost"], "");
    check(&out, 0, "", "");
    check(
        &cli(&server, "alice", &["send", "bob", "hi"], ""),
        0,
        "",
        "",
    );
    check(
        &cli(&server, "bob", &["send", "alice", "hello"], ""),
        0,
        "",
        "",
    );

    // Adding twice changes nothing; the list is sorted, one per line.
    check(
        &cli(&server, "alice", &["contact", "add", "carol"], ""),
        0,
        "",
        "",
    );
    check(
        &cli(&server, "alice", &["contact", "add", "bob"], ""),
        0,
        "",
        "",
    );
    check(
        &cli(&server, "alice", &["contact", "list"], ""),
        0,
        "bob@localhost\ncarol@localhost\n",
        "",
    );
    // Removing one side is enough to stop messages either way.
    let out = cli(&server, "bob", &["contact", "remove", "alice"], "");
    check(&out, 0, "", "");
    check(&cli(&server, "bob", &["contact", "list"], ""), 0, "", "");
    check(
        &cli(&server, "alice", &["send", "bob", "still there?"], ""),
        5,
        "",
        "solec: alice@localhost -> bob@localhost: unauthorized (0x03)\n",
    );
    check(
        &cli(&server, "bob", &["contact", "remove", "alice"], ""),
        5,
        "",
        "solec: contact remove alice@localhost: not found (0x02)\n",
    );
    check(
        &cli(&server, "bob", &["contact", "add", "nobody"], ""),
        5,
        "",
        "solec: contact add nobody@localhost: not found (0x02)\n",
    );
}

#[test]
fn channel_join_send_history_and_modes() {
    let server = server();
    let general = "#general@localhost";
    check(
        &cli(&server, "bob", &["send", general, "early"], ""),
        5,
        "",
        "solec: bob@localhost -> #general@localhost: not found (0x02)\n",
    );
    // alice creates it, so she is its operator; `general` means the same.
    check(
        &cli(&server, "alice", &["channel", "join", "general"], ""),
        0,
        "",
        "",
    );
    check(
        &cli(&server, "bob", &["send", general, "not yet"], ""),
        5,
        "",
        "solec: bob@localhost -> #general@localhost: unauthorized (0x03)\n",
    );
    check(
        &cli(&server, "bob", &["channel", "join", general], ""),
        0,
        "",
        "",
    );
    let before = now();
    check(
        &cli(&server, "bob", &["send", general, "hi all"], ""),
        0,
        "",
        "",
    );
    check(
        &cli(&server, "alice", &["send", general, "hi bob"], ""),
        0,
        "",
        "",
    );
    let after = now();
    let history = |json: bool| {
        let args: &[&str] = if json { &["--json"] } else { &[] };
        cli(&server, "bob", &[&["history", general], args].concat(), "")
    };
    let want = [
        ("bob@localhost", general, "hi all"),
        ("alice@localhost", general, "hi bob"),
    ];
    check_history(history, &want, before..=after);

    // Only an operator sets modes; a ban keeps bob out of the history.
    check(
        &cli(
            &server,
            "bob",
            &["channel", "mode", "general", "alice", "ban"],
            "",
        ),
        5,
        "",
        "solec: mode #general@localhost alice@localhost banned: unauthorized (0x03)\n",
    );
    let out = cli(
        &server,
        "alice",
        &["channel", "mode", "general", "bob", "3"],
        "",
    );
    check(&out, 0, "", "");
    check(
        &cli(&server, "bob", &["history", general], ""),
        5,
        "",
        "solec: history #general@localhost: unauthorized (0x03)\n",
    );
    check(
        &cli(&server, "bob", &["channel", "join", "#general"], ""),
        5,
        "",
        "solec: join #general@localhost: unauthorized (0x03)\n",
    );
    // Kicking lifts the ban; leaving twice is refused.
    let out = cli(
        &server,
        "alice",
        &["channel", "mode", "general", "bob", "kick"],
        "",
    );
    check(&out, 0, "", "");
    check(
        &cli(&server, "bob", &["channel", "join", "general"], ""),
        0,
        "",
        "",
    );
    check(
        &cli(&server, "bob", &["channel", "leave", "general"], ""),
        0,
        "",
        "",
    );
    check(
        &cli(&server, "bob", &["channel", "leave", "general"], ""),
        5,
        "",
        "solec: leave #general@localhost: not found (0x02)\n",
    );
    // `banned`, as `solec encode user-mode` spells it, is a ban too.
    let out = cli(
        &server,
        "alice",
        &["channel", "mode", "general", "bob", "banned"],
        "",
    );
    check(&out, 0, "", "");
    check(
        &cli(&server, "bob", &["channel", "join", "general"], ""),
        5,
        "",
        "solec: join #general@localhost: unauthorized (0x03)\n",
    );
}

#[test]
fn pipelined_send_stores_every_line_in_order() {
    let server = server();
    befriend(&server, "alice", "bob");
    let mut input = String::new();
    for i in 1..=2000 {
        input.push_str(&format!("message {i}\n"));
        if i % 500 == 0 {
            input.push('\n'); // skipped
        }
    }
    let (started, before) = (Instant::now(), now());
    check(&cli(&server, "alice", &["send", "bob"], &input), 0, "", "");
    eprintln!("2000 pipelined messages sent in {:?}", started.elapsed());
    let after = now();

    let history = |json: bool| {
        let args: &[&str] = if json { &["--json"] } else { &[] };
        cli(&server, "bob", &[&["history", "alice"], args].concat(), "")
    };
    let texts: Vec<String> = (1..=2000).map(|i| format!("message {i}")).collect();
    let want: Vec<(&str, &str, &str)> = texts
        .iter()
        .map(|t| ("alice@localhost", "bob@localhost", t.as_str()))
        .collect();
    check_history(history, &want, before..=after);
}

#[test]
fn refused_lines_are_reported_and_the_rest_sent() {
    let server = server();
    befriend(&server, "alice", "bob");
    let long = "x".repeat(5000); // over the default 4096-byte limit
    let input = format!("first\n{long}\nthird\r\n");
    check(
        &cli(&server, "alice", &["send", "bob"], &input),
        5,
        "",
        "solec: line 2: alice@localhost -> bob@localhost: too large (0x81)\n\
         solec: 1 of 3 messages not sent\n",
    );
    let out = cli(&server, "bob", &["history", "alice"], "");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let texts: Vec<&str> = text.lines().map(|l| &l[21..]).collect();
    assert_eq!(texts, ["alice@localhost: first", "alice@localhost: third"]);

    // Lines that cannot be sent at all are usage errors, and come first here.
    let out = run_cmd(
        &mut as_user(&server, "carol", &["send", "bob"]),
        b"\xff\xfe\nhello\n",
    );
    check(
        &out,
        2,
        "",
        "solec: line 1: carol@localhost -> bob@localhost: not UTF-8\n\
         solec: line 2: carol@localhost -> bob@localhost: unauthorized (0x03)\n\
         solec: 2 of 2 messages not sent\n",
    );
}

#[test]
fn exit_codes() {
    let server = server();
    // 2: bad arguments and bad addresses, before any connection.
    let out = cli(&server, "alice", &["send", "Bob", "hi"], "");
    check(
        &out,
        2,
        "",
        "solec: `Bob`: user name must be 1-64 bytes of lowercase [a-z0-9._-]\n",
    );
    let out = run(&["send", "bob", "hi", "--user", "alice"], b"");
    check(
        &out,
        2,
        "",
        "solec: --user `alice` needs the server part, as in alice@localhost\n",
    );
    for since in ["soon", "2023-02-31", "99999999999999999-01-01"] {
        let out = run(
            &["history", "bob", "--user", "a@localhost", "--since", since],
            b"",
        );
        assert_eq!(out.status.code(), Some(2), "{out:?}");
    }
    let out = run(&["contact", "list"], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let no_password = run(&["contact", "list", "--user", "alice@localhost"], b"");
    check(
        &no_password,
        2,
        "",
        "solec: no password: use --password-stdin, --password-file or SOLEC_PASSWORD \
         (there is no terminal to ask on)\n",
    );

    // 3: nothing listens on a port just freed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().to_string();
    drop(closed);
    let mut cmd = solec();
    cmd.args([
        "contact",
        "list",
        "--user",
        "alice@localhost",
        "--server",
        &port,
    ])
    .env("SOLEC_PASSWORD", PW);
    let out = run_cmd(&mut cmd, b"");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(&format!("solec: cannot connect to {port}: ")),
        "{err}"
    );

    // 4: wrong password.
    let mut cmd = as_user(&server, "alice", &["contact", "list"]);
    let out = run_cmd(cmd.env("SOLEC_PASSWORD", "wrong"), b"");
    check(
        &out,
        4,
        "",
        "solec: alice@localhost: user name or password refused: client auth failed (0x01)\n",
    );

    // 5: refused, naming the error.
    check(
        &cli(&server, "alice", &["history", "nobody"], ""),
        5,
        "",
        "solec: history nobody@localhost: not found (0x02)\n",
    );
}

#[test]
fn options_come_from_the_environment_and_files() {
    let server = server();
    let env = |cmd: &mut Command| {
        cmd.env("SOLEC_SERVER", server.server_arg())
            .env("SOLEC_USER", "alice@localhost");
    };
    let mut cmd = solec();
    env(cmd
        .args(["contact", "add", "bob"])
        .env("SOLEC_PASSWORD", PW));
    check(&run_cmd(&mut cmd, b""), 0, "", "");

    // --password-file: its first line, over SOLEC_PASSWORD.
    let file = server.dir.join("password");
    std::fs::write(&file, format!("{PW}\nignored\n")).unwrap();
    let mut cmd = solec();
    env(cmd
        .args(["contact", "list", "--password-file"])
        .arg(&file)
        .env("SOLEC_PASSWORD", "wrong"));
    check(&run_cmd(&mut cmd, b""), 0, "bob@localhost\n", "");

    // --password-stdin comes first of all; for `send` the rest is messages.
    befriend(&server, "alice", "bob");
    let mut cmd = solec();
    env(cmd
        .args(["send", "bob", "--password-stdin"])
        .env("SOLEC_PASSWORD", "wrong"));
    let out = run_cmd(&mut cmd, format!("{PW}\nfrom stdin\n").as_bytes());
    check(&out, 0, "", "");
    let out = cli(&server, "bob", &["history", "alice"], "");
    assert!(
        out.stdout.ends_with(b" alice@localhost: from stdin\n"),
        "{out:?}"
    );
}

/// A running `solec history --follow` with its stdout read line by line.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(mut cmd: Command) -> Follower {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Follower { child, lines }
    }

    #[track_caller]
    fn line(&self) -> String {
        self.lines
            .recv_timeout(TIMEOUT)
            .expect("a line within TIMEOUT")
    }

    /// Waits for the exit status, killing the process after TIMEOUT.
    fn status(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + TIMEOUT;
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("follower did not exit");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = self.child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }
}

#[test]
fn follow_prints_new_messages_of_the_conversation_until_sigint() {
    let server = server();
    befriend(&server, "alice", "bob");
    befriend(&server, "alice", "carol");
    let mut bob = server.login("bob", PW);
    bob.send(&message(
        "bob@localhost",
        "alice@localhost",
        1_700_000_000,
        "old",
    ));
    bob.expect(&SUCCESS);

    let follower = Follower::start(as_user(&server, "alice", &["history", "bob", "--follow"]));
    assert_eq!(follower.line(), "2023-11-14T22:13:20Z bob@localhost: old");
    // Another conversation is not printed; bob's new message is.
    let mut carol = server.login("carol", PW);
    carol.send(&message(
        "carol@localhost",
        "alice@localhost",
        1_700_000_100,
        "psst",
    ));
    carol.expect(&SUCCESS);
    bob.send(&message(
        "bob@localhost",
        "alice@localhost",
        1_700_000_200,
        "new",
    ));
    bob.expect(&SUCCESS);
    assert_eq!(follower.line(), "2023-11-14T22:16:40Z bob@localhost: new");
    // So is what alice sends bob from elsewhere.
    check(
        &cli(&server, "alice", &["send", "bob", "mine"], ""),
        0,
        "",
        "",
    );
    assert!(follower.line().ends_with(" alice@localhost: mine"));

    signal(follower.child.id(), libc::SIGINT);
    assert_eq!(follower.status(), (Some(0), String::new()));
}

/// A follower whose server goes away says so and keeps trying to
/// reconnect, until a signal ends it (status 0).
#[test]
fn follow_keeps_reconnecting_when_the_server_goes() {
    let mut server = server();
    let mut cmd = as_user(&server, "alice", &["channel", "join", "general"]);
    check(&run_cmd(&mut cmd, b""), 0, "", "");
    let mut bob = server.login("bob", PW);
    bob.send(&user_mode("bob@localhost", "#general@localhost", 1));
    bob.expect(&SUCCESS);
    bob.send(&message(
        "bob@localhost",
        "#general@localhost",
        1_700_000_000,
        "x",
    ));
    bob.expect(&SUCCESS);

    let cmd = as_user(
        &server,
        "alice",
        &["history", "#general@localhost", "--follow", "--json"],
    );
    let follower = Follower::start(cmd);
    assert!(follower.line().contains("\"message_content\":\"x\""));
    bob.send(&message(
        "bob@localhost",
        "#general@localhost",
        1_700_000_001,
        "y",
    ));
    bob.expect(&SUCCESS);
    assert!(follower.line().contains("\"message_content\":\"y\""));
    drop(bob);
    assert!(server.stop().success());
    // The first try comes after a second, the next two seconds later.
    std::thread::sleep(Duration::from_millis(1500));
    signal(follower.child.id(), libc::SIGINT);
    let (code, stderr) = follower.status();
    assert_eq!(code, Some(0), "{stderr}");
    let addr = server.server_arg();
    assert_eq!(
        stderr.lines().next(),
        Some(format!("solec: {addr} closed the connection; reconnecting in 1 s").as_str()),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "solec: cannot connect to {addr}: Connection refused (os error 111); reconnecting in 2 s"
        )),
        "{stderr}"
    );
}

#[test]
fn tls_round_trip_with_a_self_signed_certificate() {
    let dir = TempDir::new();
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key_pair.serialize_pem()).unwrap();
    let config = dir.join("solec.ron");
    let ron = format!(
        "(tls: (listen: [\"127.0.0.1:0\"], cert: {:?}, key: {:?}))",
        cert_path, key_path
    );
    std::fs::File::create(&config)
        .and_then(|mut f| f.write_all(ron.as_bytes()))
        .unwrap();
    let server = Server::start_with(dir, &["--config", config.to_str().unwrap()]);
    for name in ["alice", "bob"] {
        server.add_user(name, PW);
    }
    befriend(&server, "alice", "bob");
    let port = server.tls_addr.expect("a TLS listener").port();
    let ca = cert_path.to_str().unwrap();

    let tls = |name: &str, host: &str, args: &[&str]| {
        let mut cmd = solec();
        cmd.args(args)
            .args(["--user", &format!("{name}@localhost")])
            .args(["--tls", "--ca", ca, "--server", &format!("{host}:{port}")])
            .env("SOLEC_PASSWORD", PW);
        run_cmd(&mut cmd, b"")
    };
    // Longer than the server's first read of a TLS connection after a pause.
    let text = format!("over tls {}", "x".repeat(3000));
    let before = now();
    check(
        &tls("alice", "localhost", &["send", "bob", &text]),
        0,
        "",
        "",
    );
    let after = now();
    let history = |json: bool| {
        let args: &[&str] = if json { &["--json"] } else { &[] };
        tls("bob", "127.0.0.1", &[&["history", "alice"], args].concat())
    };
    let want = [("alice@localhost", "bob@localhost", text.as_str())];
    check_history(history, &want, before..=after);

    // Without --ca the certificate is not trusted: a connection failure.
    let mut cmd = solec();
    cmd.args(["contact", "list", "--tls", "--user", "alice@localhost"])
        .args(["--server", &format!("localhost:{port}")])
        .env("SOLEC_PASSWORD", PW);
    let out = run_cmd(&mut cmd, b"");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(&format!("solec: TLS with localhost:{port} failed: ")),
        "{err}"
    );
}

/// A scripted stand-in for a server, for what a real one will not do on
/// cue: it accepts one connection on a free loopback port, checks the
/// Handshake and UserAuth of alice@localhost and answers Success, then runs
/// `script` on the connection. Joining the thread re-raises its panics.
struct Fake {
    addr: String,
    thread: std::thread::JoinHandle<()>,
}

impl Fake {
    fn start(script: impl FnOnce(&mut Raw) + Send + 'static) -> Fake {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let thread = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            let mut conn = Raw { stream };
            conn.expect(&handshake(0, 5, 1));
            conn.expect(&user_auth("alice@localhost", PW));
            conn.send(&SUCCESS);
            script(&mut conn);
        });
        Fake { addr, thread }
    }

    /// `solec ARGS` logged in to this fake as alice.
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = solec();
        cmd.args(args)
            .args(["--server", &self.addr, "--user", "alice@localhost"])
            .env("SOLEC_PASSWORD", PW);
        run_cmd(&mut cmd, b"")
    }

    fn join(self) {
        self.thread.join().expect("the fake server's script");
    }
}

/// Reads one request, then says nothing until the client hangs up, which
/// must come before the fake's own read timeout.
fn read_and_fall_silent(conn: &mut Raw) {
    conn.read_pdu();
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut conn.stream, &mut rest).expect("the client hangs up");
}

/// A server that stops answering after the login must not hang a script:
/// each request/reply command gives up after --timeout with exit status 3.
#[test]
fn a_silent_server_times_out_with_status_3() {
    for args in [
        &["contact", "list"][..],
        &["send", "bob", "hi"],
        &["history", "bob"],
        &["channel", "join", "general"],
    ] {
        let fake = Fake::start(read_and_fall_silent);
        let started = Instant::now();
        let out = fake.run(&[args, &["--timeout", "1"]].concat());
        let waited = started.elapsed();
        let err = format!("solec: no reply from {} within 1 s\n", fake.addr);
        check(&out, 3, "", &err);
        assert!(
            waited >= Duration::from_secs(1),
            "{args:?} gave up after {waited:?}"
        );
        fake.join();
    }
    // Lines piped to `send` are given up on the same way, saying how far
    // the batch got.
    let fake = Fake::start(read_and_fall_silent);
    let mut cmd = solec();
    cmd.args(["send", "bob", "--timeout", "1"])
        .args(["--server", &fake.addr, "--user", "alice@localhost"])
        .env("SOLEC_PASSWORD", PW);
    let out = run_cmd(&mut cmd, b"one\ntwo\n");
    let err = format!(
        "solec: no reply from {} within 1 s (0 of 2 messages answered)\n",
        fake.addr
    );
    check(&out, 3, "", &err);
    fake.join();
}

/// --follow waits for pushes without limit: --timeout bounds only replies.
#[test]
fn follow_outlasts_the_reply_timeout() {
    let server = server();
    befriend(&server, "alice", "bob");
    let cmd = as_user(
        &server,
        "alice",
        &["history", "bob", "--follow", "--timeout", "1"],
    );
    let follower = Follower::start(cmd);
    std::thread::sleep(Duration::from_millis(2500));
    let mut bob = server.login("bob", PW);
    bob.send(&message(
        "bob@localhost",
        "alice@localhost",
        1_700_000_000,
        "late",
    ));
    bob.expect(&SUCCESS);
    assert_eq!(follower.line(), "2023-11-14T22:13:20Z bob@localhost: late");
    signal(follower.child.id(), libc::SIGINT);
    assert_eq!(follower.status(), (Some(0), String::new()));
}

/// A server capping each History reply at 3 (max_history_count) answers
/// the client's pages of 500 with 3 messages each: short pages are not the
/// end, and all 10 messages print exactly once.
#[test]
fn history_pages_through_a_server_capped_below_the_page() {
    let dir = TempDir::new();
    let config = dir.join("solec.ron");
    std::fs::write(&config, "(max_history_count: 3)").unwrap();
    let server = Server::start_with(dir, &["--config", config.to_str().unwrap()]);
    for name in ["alice", "bob"] {
        server.add_user(name, PW);
    }
    befriend(&server, "alice", "bob");
    let mut bob = server.login("bob", PW);
    let mut want = String::new();
    for i in 0..10 {
        let time = 1_700_000_000 + i;
        bob.send(&message(
            "bob@localhost",
            "alice@localhost",
            time,
            &format!("m{i}"),
        ));
        bob.expect(&SUCCESS);
        want += &format!("{} bob@localhost: m{i}\n", rfc3339(time));
    }
    check(
        &cli(&server, "alice", &["history", "bob"], ""),
        0,
        &want,
        "",
    );
    let out = cli(
        &server,
        "alice",
        &["history", "bob", "--offset", "2", "--count", "5"],
        "",
    );
    let middle: String = want
        .lines()
        .skip(2)
        .take(5)
        .map(|l| format!("{l}\n"))
        .collect();
    check(&out, 0, &middle, "");
}

/// The next request from the client, or `None` once it hangs up.
fn read_request(conn: &mut Raw) -> Option<Vec<u8>> {
    let mut header = [0u8; 3];
    std::io::Read::read_exact(&mut conn.stream, &mut header).ok()?;
    let len = u16::from_be_bytes([header[1], header[2]]) as usize;
    let mut pdu = header.to_vec();
    pdu.extend(conn.read_exact(len));
    Some(pdu)
}

/// Answers History requests from `stored`, at most `cap` messages a reply.
/// Just before the first reply it pushes `push`, and stores it too: before
/// that reply's scan when `stored_first`, else after it.
fn serve_history(
    conn: &mut Raw,
    mut stored: Vec<Vec<u8>>,
    cap: usize,
    push: Vec<u8>,
    stored_first: bool,
) {
    let mut push = Some(push);
    while let Some(request) = read_request(conn) {
        if request[0] == 0x84 {
            // A draft server: the HistoryItem extension is refused.
            conn.send(&error(0x82));
            continue;
        }
        assert_eq!(request[0], 0x08, "a History request: {request:02x?}");
        // channel_address (u16 length, bytes), since u64, count i64, offset i64.
        let at = 5 + u16::from_be_bytes([request[3], request[4]]) as usize + 8;
        let number = |i: usize| i64::from_be_bytes(request[i..i + 8].try_into().unwrap());
        let (count, offset) = (number(at) as usize, number(at + 8) as usize);
        let mut reply = Vec::new();
        if let Some(p) = &push {
            reply.extend(p);
            if stored_first {
                stored.push(p.clone());
            }
        }
        for m in stored.iter().skip(offset).take(count.min(cap)) {
            reply.extend(m);
        }
        reply.extend(SUCCESS);
        conn.send(&reply);
        if let Some(p) = push.take() {
            if !stored_first {
                stored.push(p);
            }
        }
    }
}

/// Ten messages from bob to alice (m0..m9), the push `new`, and what
/// `solec history bob` must print for them all.
fn pushed_history(n: u64) -> (Vec<Vec<u8>>, Vec<u8>, String) {
    let (mut stored, mut want) = (Vec::new(), String::new());
    for i in 0..n {
        let time = 1_700_000_000 + i;
        stored.push(message(
            "bob@localhost",
            "alice@localhost",
            time,
            &format!("m{i}"),
        ));
        want += &format!("{} bob@localhost: m{i}\n", rfc3339(time));
    }
    let push = message("bob@localhost", "alice@localhost", 1_800_000_000, "new");
    want += &format!("{} bob@localhost: new\n", rfc3339(1_800_000_000));
    (stored, push, want)
}

/// A message pushed just before a History reply has the bytes of an item.
/// On a server capping replies at 3, taking it for one moved the offset
/// past m3 (never printed) and printed `new` twice; it must print once,
/// last, where the server stored it, and m3 must print.
#[test]
fn a_push_before_a_capped_reply_skips_nothing() {
    let (stored, push, want) = pushed_history(10);
    let fake = Fake::start(move |conn| serve_history(conn, stored, 3, push, false));
    check(&fake.run(&["history", "bob"]), 0, &want, "");
    fake.join();
}

/// The same push stored before the reply's scan is also the reply's last
/// item: it prints once.
#[test]
fn a_push_also_in_the_last_page_prints_once() {
    let (stored, push, want) = pushed_history(3);
    let fake = Fake::start(move |conn| serve_history(conn, stored, 500, push, true));
    check(&fake.run(&["history", "bob"]), 0, &want, "");
    fake.join();
}

/// Lines that are all refused for one reason stop after a few: the rest is
/// counted, not sent and not reported one by one.
#[test]
fn many_refused_lines_give_up_after_five() {
    let server = server();
    let input: String = (1..=300).map(|i| format!("line {i}\n")).collect();
    let out = cli(&server, "alice", &["send", "bob"], &input);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 7, "{err}");
    for (i, l) in lines[..5].iter().enumerate() {
        assert!(l.starts_with(&format!("solec: line {}: ", i + 1)), "{l}");
    }
    assert_eq!(
        lines[5],
        "solec: 5 lines in a row refused: unauthorized (0x03); not sending the rest"
    );
    assert_eq!(lines[6], "solec: 300 of 300 messages not sent");
}

/// Over a slow link a login can take longer than the usual 10 s: a longer
/// --timeout is the login's deadline too.
#[test]
fn a_long_timeout_covers_a_slow_login() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut conn = Raw { stream };
        conn.expect(&handshake(0, 5, 1));
        conn.expect(&user_auth("alice@localhost", PW));
        // Slower than the 10 s a login gets by default.
        std::thread::sleep(Duration::from_secs(11));
        conn.send(&SUCCESS);
        conn.expect(&pdu(0x84, &[0x00, 0x01]));
        conn.send(&error(0x82));
        conn.expect(&pdu(0x82, &[]));
        conn.send(&SUCCESS);
    });
    let mut cmd = solec();
    cmd.args(["contact", "list", "--timeout", "20"])
        .args(["--server", &addr, "--user", "alice@localhost"])
        .env("SOLEC_PASSWORD", PW);
    let out = run_cmd(&mut cmd, b"");
    check(&out, 0, "", "");
    server.join().unwrap();
}
