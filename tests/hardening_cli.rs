//! Hardening of what an admin and a script meet: TLS versions, bounded
//! argon2 parameters, `solec user` and `history --follow` under faults.

use crate::util::*;
use std::process::Command;

const PW: &str = "correct horse";

/// A server with a TLS listener on a self-signed certificate for
/// localhost; the certificate's path, to trust it.
fn tls_server() -> (Server, String) {
    let dir = TempDir::new();
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key_pair.serialize_pem()).unwrap();
    let config = dir.join("solec.ron");
    let ron = format!("(tls: (listen: [\"127.0.0.1:0\"], cert: {cert_path:?}, key: {key_path:?}))");
    std::fs::write(&config, ron).unwrap();
    let server = Server::start_with(dir, &["--config", config.to_str().unwrap()]);
    (server, cert_path.to_str().unwrap().to_owned())
}

/// Whether an `openssl` binary is there to play the foreign client.
fn have_openssl() -> bool {
    let found = Command::new("openssl").arg("version").output().is_ok();
    if !found {
        eprintln!("skipped: no openssl binary");
    }
    found
}

/// `openssl s_client` offering only `version` (`-tls1_3`, ...): its exit
/// status and stderr, where `-brief` reports the outcome.
fn s_client(server: &Server, version: &str) -> (bool, String) {
    let port = server.tls_addr.expect("a TLS listener").port();
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-brief", version])
        .args(["-connect", &format!("127.0.0.1:{port}")])
        // So that the refusal of an old version is the server's, not the
        // client's own security level.
        .args(["-cipher", "DEFAULT@SECLEVEL=0"]);
    let out = run_cmd(&mut cmd, b"");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits until a line of the server log contains `needle`.
fn wait_for_log(server: &Server, needle: &str) -> bool {
    let deadline = std::time::Instant::now() + TIMEOUT;
    while std::time::Instant::now() < deadline {
        if server.log_text().contains(needle) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

#[test]
fn tls_listener_speaks_1_3_and_1_2_and_refuses_older() {
    if !have_openssl() {
        return;
    }
    let (server, _) = tls_server();
    for (flag, want) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let (ok, err) = s_client(&server, flag);
        assert!(ok, "{flag}: {err}");
        assert!(
            err.contains(&format!("Protocol version: {want}\n")),
            "{flag}: {err}"
        );
    }
    for old in ["-tls1_1", "-tls1"] {
        let (ok, err) = s_client(&server, old);
        assert!(!ok, "{old} was accepted: {err}");
        assert!(err.contains("alert protocol version"), "{old}: {err}");
    }
    assert!(wait_for_log(&server, "unsupported protocol"));
}

#[test]
fn solec_clients_negotiate_tls_1_3() {
    let (server, ca) = tls_server();
    server.add_user("alice", PW);
    let port = server.tls_addr.expect("a TLS listener").port();
    let mut cmd = solec();
    cmd.args(["contact", "list", "--user", "alice@localhost", "--tls"])
        .args(["--ca", &ca, "--server", &format!("localhost:{port}")])
        .env("SOLEC_PASSWORD", PW);
    let out = run_cmd(&mut cmd, b"");
    assert!(out.status.success(), "{out:?}");
    assert!(
        wait_for_log(&server, "TLS handshake done: TLSv1.3 "),
        "{}",
        server.log_text()
    );
    assert!(!server.log_text().contains("TLSv1.2"));
}

/// A well-formed argon2id PHC string with memory cost `m` KiB; no password
/// is known for it.
fn phc_with_memory(m: u32) -> String {
    format!(
        "$argon2id$v=19$m={m},t=2,p=1$c29tZXNhbHRzb21lc2FsdA\
         $9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ"
    )
}

/// One request line on the server's admin socket, and its answer.
fn admin(server: &Server, request: &str) -> String {
    use std::io::{BufRead as _, Write as _};
    let sock = std::os::unix::net::UnixStream::connect(server.dir.join("admin.sock")).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    (&sock)
        .write_all(format!("{request}\n").as_bytes())
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(&sock).read_line(&mut line).unwrap();
    line
}

/// 256 MiB, the cost that let eight wrong logins take a GiB.
const HEAVY_KIB: u32 = 256 * 1024;

#[test]
fn the_admin_socket_refuses_a_hash_over_the_argon2_bounds() {
    let server = Server::start();
    let add = |hash: &str| format!(r#"{{"op":"add","name":"mallory","hash":"{hash}"}}"#);
    let answer = admin(&server, &add(&phc_with_memory(HEAVY_KIB)));
    assert!(answer.contains(r#""ok":false"#), "{answer}");
    assert!(
        answer.contains(
            "argon2 m=262144 is over the server's bound of 19456 (max_argon2_memory_kib)"
        ),
        "{answer}"
    );
    // So is one through `passwd`, and nothing was stored.
    server.add_user("alice", PW);
    let passwd = format!(
        r#"{{"op":"passwd","name":"alice","hash":"{}"}}"#,
        phc_with_memory(HEAVY_KIB)
    );
    assert!(admin(&server, &passwd).contains("max_argon2_memory_kib"));
    assert_eq!(
        admin(&server, r#"{"op":"list"}"#),
        "{\"ok\":true,\"users\":[\"alice\"]}\n"
    );
    server.login("alice", PW);
    // At the default cost it is taken.
    let answer = admin(&server, &add(&phc_with_memory(19 * 1024)));
    assert_eq!(answer, "{\"ok\":true}\n");
}

/// A hash over the bound that is already in the store (written under a
/// roomier config) is never run: wrong logins stay cheap, and the log says
/// why the user cannot log in.
#[test]
fn a_stored_hash_over_the_bounds_refuses_logins_unchecked() {
    let dir = TempDir::new();
    let cfg = dir.join("solec.ron");
    std::fs::write(&cfg, format!("(max_argon2_memory_kib: {HEAVY_KIB})")).unwrap();
    let mut server = Server::start_with(dir, &["--config", cfg.to_str().unwrap()]);
    let add = format!(
        r#"{{"op":"add","name":"mallory","hash":"{}"}}"#,
        phc_with_memory(HEAVY_KIB)
    );
    assert_eq!(admin(&server, &add), "{\"ok\":true}\n");
    let wrong_login = |server: &Server| {
        let mut c = server.connect();
        c.send(&handshake(0, 5, 1));
        c.send(&user_auth("mallory", "wrong"));
        c.expect(&error(0x01));
        c.expect_closed();
    };
    // Where the bound allows it, one attempt costs the hash's memory: the
    // measure below can tell.
    wrong_login(&server);
    let heavy = server.status_kib("VmHWM");
    assert!(heavy > u64::from(HEAVY_KIB), "VmHWM {heavy} KiB");

    std::fs::write(&cfg, "()").unwrap();
    server.restart();
    for _ in 0..8 {
        wrong_login(&server);
    }
    let hwm = server.status_kib("VmHWM");
    assert!(hwm < 128 * 1024, "VmHWM {hwm} KiB after 8 wrong logins");
    assert!(wait_for_log(
        &server,
        "login of mallory refused unchecked: its stored password hash: argon2 m=262144 is over"
    ));
}

/// `solec user add NAME --password-stdin --data DIR` with `stdin`.
fn user_add(dir: &std::path::Path, stdin: &[u8]) -> std::process::Output {
    let data = dir.to_str().unwrap();
    run(
        &["user", "add", "alice", "--password-stdin", "--data", data],
        stdin,
    )
}

#[test]
fn password_stdin_takes_one_line_a_client_can_send() {
    let dir = TempDir::new();
    for (stdin, err) in [
        (
            &b""[..],
            "--password-stdin: standard input is empty: no password",
        ),
        (b"\n", "the password is empty"),
        (b"\r\n", "the password is empty"),
        (
            b"pw\x1b[A\n",
            "the password holds the control character '\\u{1b}'",
        ),
        (
            b"pw\r\r\n",
            "the password holds the control character '\\r'",
        ),
        (b"\xff\xfe\n", "--password-stdin: the password is not UTF-8"),
    ] {
        let out = user_add(dir.path(), stdin);
        assert_eq!(out.status.code(), Some(2), "{stdin:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(err), "{stdin:?}: {stderr}");
    }
    let long = format!("{}\n", "x".repeat(257));
    let out = user_add(dir.path(), long.as_bytes());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the password is 257 bytes, more than 256")
    );
    // Nothing was added by any of these.
    let out = run(
        &["user", "list", "--data", dir.path().to_str().unwrap()],
        b"",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");

    // A CRLF line, and a second line left unread: the password is what a
    // client reads from the same line.
    let out = user_add(dir.path(), b"two words\r\nsecond line\n");
    assert!(out.status.success(), "{out:?}");
    let server = Server::start_with(dir, &[]);
    let mut cmd = solec();
    cmd.args(["contact", "list", "--user", "alice@localhost"])
        .args(["--server", &server.server_arg(), "--password-stdin"]);
    let out = run_cmd(&mut cmd, b"two words\r\n");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn user_add_says_which_data_directory_it_creates() {
    if std::path::Path::new("/etc/solec/solec.ron").exists()
        || std::path::Path::new("/var/lib/solec").exists()
    {
        eprintln!("skipped: a packaged solec is installed here");
        return;
    }
    let home = TempDir::new();
    let mut cmd = solec();
    cmd.args(["user", "add", "alice", "--password-stdin"])
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME");
    let out = run_cmd(&mut cmd, b"pw\n");
    assert!(out.status.success(), "{out:?}");
    let data = home.join(".local/share/solec");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "solec: {} does not exist; creating it for a new store\n",
            data.display()
        )
    );
    // The second time it exists, and nothing is said.
    let mut cmd = solec();
    cmd.args(["user", "list"])
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME");
    let out = run_cmd(&mut cmd, b"");
    assert_eq!(
        (out.status.code(), &out.stdout[..], &out.stderr[..]),
        (Some(0), &b"alice\n"[..], &b""[..])
    );
}

/// A server that read the request and never answered may still apply it:
/// the failure (exit status 3) says so, for a change, and not for a list.
#[test]
fn an_unanswered_admin_request_may_still_take_effect() {
    let dir = TempDir::new();
    let listener = std::os::unix::net::UnixListener::bind(dir.join("admin.sock")).unwrap();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let (sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(TIMEOUT)).unwrap();
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(&sock), &mut line).unwrap();
            assert!(line.ends_with("}\n"), "{line}");
        }
    });
    let out = user_add(dir.path(), b"pw\n");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "solec: admin socket: the server closed it without answering; the request was \
         sent, so the change may still take effect: check with `solec user list`\n"
    );
    let out = run(
        &["user", "list", "--data", dir.path().to_str().unwrap()],
        b"",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "solec: admin socket: the server closed it without answering\n"
    );
    server.join().unwrap();
}

/// A free loopback port, for a server that must come back on the same one.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A child process killed if the test ends before it does.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `history --follow` outlives a server restart: it reconnects, prints
/// what was sent while it was away, then follows again.
#[test]
fn follow_reconnects_after_a_restart_and_misses_nothing() {
    use std::io::BufRead as _;
    let listen = format!("127.0.0.1:{}", free_port());
    let mut server = Server::start_with(TempDir::new(), &["--listen", &listen]);
    assert_eq!(server.server_arg(), listen);
    for name in ["alice", "bob"] {
        server.add_user(name, PW);
        let mut cmd = solec();
        cmd.args(["channel", "join", "general", "--server", &listen])
            .args(["--user", &format!("{name}@localhost")])
            .env("SOLEC_PASSWORD", PW);
        assert!(run_cmd(&mut cmd, b"").status.success());
    }
    let post = |server: &Server, time: u64, text: &str| {
        let mut bob = server.login("bob", PW);
        bob.send(&message("bob@localhost", "#general@localhost", time, text));
        bob.expect(&SUCCESS);
    };
    post(&server, 1_700_000_000, "before");

    let child = solec()
        .args(["history", "#general@localhost", "--follow"])
        .args(["--server", &listen, "--user", "alice@localhost"])
        .env("SOLEC_PASSWORD", PW)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut follower = KillOnDrop(Some(child));
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = follower.0.as_mut().unwrap().stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let line = || {
        lines
            .recv_timeout(TIMEOUT * 2)
            .expect("a line from the follower")
    };
    assert_eq!(line(), "2023-11-14T22:13:20Z bob@localhost: before");

    server.restart();
    assert_eq!(server.server_arg(), listen);
    // Sent while the follower may still be away: caught up from History.
    post(&server, 1_700_000_001, "while away");
    assert_eq!(line(), "2023-11-14T22:13:21Z bob@localhost: while away");
    // And followed again once back.
    post(&server, 1_700_000_002, "after");
    assert_eq!(line(), "2023-11-14T22:13:22Z bob@localhost: after");

    let child = follower.0.take().unwrap();
    signal(child.id(), libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "solec: {listen} closed the connection; reconnecting in 1 s\n"
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(&format!("solec: reconnected to {listen}\n")),
        "{stderr}"
    );
}
