//! Session tokens (docs/protocol.md, section 8.6): a password login may ask
//! for a token, a later login presents it in place of the password; tokens
//! expire, are bound to their user, and go with a new password or the
//! user. The client commands keep them under `$XDG_STATE_HOME/solec`.

use crate::util::*;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const PW: &str = "secret";

fn token_request() -> Vec<u8> {
    pdu(0x8c, &[])
}

fn token_auth(user: &str, token: &[u8; 32]) -> Vec<u8> {
    let mut payload = string(user);
    payload.extend_from_slice(token);
    pdu(0x8e, &payload)
}

/// Logs `user` in with the password and asks for a token; returns the
/// token and its expiry as the server sent them.
fn issue(server: &Server, user: &str) -> ([u8; 32], u64) {
    let mut c = server.connect();
    c.send(&handshake(0, 5, 1));
    c.send(&user_auth(user, PW));
    c.send(&token_request());
    c.expect(&SUCCESS);
    let reply = c.read_pdu();
    assert_eq!(&reply[..3], &[0x8d, 0x00, 0x28], "{}", spaced_hex(&reply));
    let token: [u8; 32] = reply[3..35].try_into().unwrap();
    let expires = u64::from_be_bytes(reply[35..43].try_into().unwrap());
    (token, expires)
}

/// Whether `token` logs `user` in on a fresh connection. A refusal must be
/// Error 0x01 and a close, as for a wrong password.
fn token_logs_in(server: &Server, user: &str, token: &[u8; 32]) -> bool {
    let mut c = server.connect();
    c.send(&handshake(0, 5, 1));
    c.send(&token_auth(user, token));
    let reply = c.read_pdu();
    if reply == SUCCESS {
        return true;
    }
    assert_bytes!(reply, error(0x01));
    c.expect_closed();
    false
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_token_logs_its_user_in_in_place_of_the_password() {
    let server = Server::start();
    server.add_user("alice", PW);
    let (token, expires) = issue(&server, "alice");
    // The default lifetime: 30 days.
    let lifetime = expires.abs_diff(unix_now() + 30 * 24 * 3600);
    assert!(lifetime <= 5, "expires {expires}");
    // The full address works as in UserAuth, and the session is a real one.
    let mut c = server.connect();
    c.send(&handshake(0, 5, 1));
    c.send(&token_auth("alice@localhost", &token));
    c.expect(&SUCCESS);
    c.send(&pdu(0x82, &[])); // ContactList: none yet
    c.expect(&SUCCESS);
    // Twice is fine: a token is not used up.
    assert!(token_logs_in(&server, "alice", &token));
    // Any other 32 bytes are a wrong token.
    let mut wrong = token;
    wrong[31] ^= 1;
    assert!(!token_logs_in(&server, "alice", &wrong));
    // After login a TokenAuth is a request the server does not take.
    let mut c = server.login("alice", PW);
    c.send(&token_auth("alice", &token));
    c.expect(&error(0x82));
}

#[test]
fn a_token_of_alice_cannot_log_in_as_bob() {
    let server = Server::start();
    server.add_user("alice", PW);
    server.add_user("bob", PW);
    let (alice, _) = issue(&server, "alice");
    let (bob, _) = issue(&server, "bob");
    assert_ne!(alice, bob);
    assert!(!token_logs_in(&server, "bob", &alice));
    assert!(!token_logs_in(&server, "carol", &alice));
    assert!(token_logs_in(&server, "bob", &bob));
    assert!(token_logs_in(&server, "alice", &alice));
}

#[test]
fn an_expired_token_is_refused() {
    let server = Server::start_with_config("(token_lifetime_secs: 1)");
    server.add_user("alice", PW);
    let (token, expires) = issue(&server, "alice");
    // Expiry is in whole seconds: wait until the clock is past it.
    while unix_now() < expires {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!token_logs_in(&server, "alice", &token));
}

#[test]
fn a_server_that_issues_none_answers_unsupported() {
    let server = Server::start_with_config("(token_lifetime_secs: 0)");
    server.add_user("alice", PW);
    let mut c = server.login("alice", PW);
    c.send(&token_request());
    c.expect(&error(0x82));
}

#[test]
fn passwd_and_del_revoke_tokens_through_the_server_and_offline() {
    let mut server = Server::start();
    server.add_user("alice", PW);
    server.add_user("bob", PW);
    let data = server.data().to_owned();
    let user = |args: &[&str], stdin: &str| {
        let mut all = vec!["user"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--data", &data]);
        let out = run(&all, stdin.as_bytes());
        assert!(out.status.success(), "{out:?}");
    };
    // Through the admin socket.
    let (alice, _) = issue(&server, "alice");
    let (bob, _) = issue(&server, "bob");
    user(&["passwd", "alice", "--password-stdin"], "new\n");
    assert!(!token_logs_in(&server, "alice", &alice));
    assert!(token_logs_in(&server, "bob", &bob));
    user(&["del", "bob"], "");
    user(&["add", "bob", "--password-stdin"], &format!("{PW}\n"));
    assert!(!token_logs_in(&server, "bob", &bob));
    // Straight to the store, with no server running.
    let (bob, _) = issue(&server, "bob");
    assert!(server.stop().success());
    user(&["passwd", "bob", "--password-stdin"], "newer\n");
    server.restart();
    assert!(!token_logs_in(&server, "bob", &bob));
    // The table is one `store check` knows.
    server.add_user("carol", PW);
    issue(&server, "carol");
    assert!(server.stop().success());
    let out = run(&["store", "check", "--data", server.data()], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("session tokens"),
        "{out:?}"
    );
}

#[test]
fn tokens_survive_a_restart_and_the_oldest_goes_past_the_bound() {
    let mut server = Server::start();
    server.add_user("alice", PW);
    let first = issue(&server, "alice").0;
    let mut rest = Vec::new();
    for _ in 0..32 {
        rest.push(issue(&server, "alice").0);
    }
    server.restart();
    assert!(!token_logs_in(&server, "alice", &first));
    assert!(token_logs_in(&server, "alice", &rest[0]));
    assert!(token_logs_in(&server, "alice", &rest[31]));
}

#[test]
fn wrong_tokens_count_as_failed_logins_for_the_throttle() {
    let server = Server::start_with_config("(auth_failure_delay_ms: 400)");
    server.add_user("alice", PW);
    let (token, _) = issue(&server, "alice");
    let mut wrong = token;
    wrong[0] ^= 0xff;
    // From an address outside trusted_networks.
    let from = [127, 0, 0, 23];
    let mut c = server.connect_from(from).unwrap();
    c.send(&handshake(0, 5, 1));
    c.send(&token_auth("alice", &wrong));
    c.expect(&error(0x01));
    let started = Instant::now();
    let mut c = server.connect_from(from).unwrap();
    c.send(&handshake(0, 5, 1));
    c.send(&token_auth("alice", &token));
    c.expect(&SUCCESS);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(350), "{waited:?}");
}

/// A `solec` client command as `user`, with tokens on and kept in `state`.
fn client(server: &Server, state: &Path, user: &str, password: &str, args: &[&str]) -> Command {
    let mut cmd = solec();
    cmd.env_remove("SOLEC_NO_TOKEN")
        .env("XDG_STATE_HOME", state)
        .env("SOLEC_PASSWORD", password)
        .args(args)
        .args(["--server", &server.server_arg()])
        .args(["--user", &format!("{user}@localhost")]);
    cmd
}

fn token_file(server: &Server, state: &Path, user: &str) -> PathBuf {
    state
        .join("solec/tokens")
        .join(server.server_arg())
        .join(format!("{user}@localhost"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[track_caller]
fn exits(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{out:?}");
}

#[test]
fn the_client_keeps_a_token_and_logs_in_with_it() {
    let server = Server::start();
    server.add_user("alice", PW);
    let state = TempDir::new();
    let list = ["contact", "list"];
    exits(
        &run_cmd(&mut client(&server, state.path(), "alice", PW, &list), b""),
        0,
    );
    let file = token_file(&server, state.path(), "alice");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    assert_eq!(mode(&state.join("solec")), 0o700);
    let kept = std::fs::read_to_string(&file).unwrap();
    // Reused: a wrong password does not matter while the token logs in.
    let wrong = client(&server, state.path(), "alice", "wrong", &list);
    exits(&run_cmd(&mut { wrong }, b""), 0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), kept);
    // Nor does having none at all, where a prompt has no terminal.
    let mut none = client(&server, state.path(), "alice", "", &list);
    exits(&run_cmd(none.env_remove("SOLEC_PASSWORD"), b""), 0);
    // The token in the file is one the server takes.
    let token: [u8; 32] = hex::decode(kept.split(' ').next().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    assert!(token_logs_in(&server, "alice", &token));
    // --no-token: the password alone, right or wrong.
    let mut no = client(&server, state.path(), "alice", "wrong", &list);
    exits(&run_cmd(no.arg("--no-token"), b""), 4);
    let mut no = client(&server, state.path(), "bob", PW, &list);
    server.add_user("bob", PW);
    exits(&run_cmd(no.arg("--no-token"), b""), 0);
    assert!(!token_file(&server, state.path(), "bob").exists());
}

#[test]
fn the_client_falls_back_to_the_password_when_its_token_is_refused() {
    let server = Server::start();
    server.add_user("alice", PW);
    let state = TempDir::new();
    let list = ["contact", "list"];
    exits(
        &run_cmd(&mut client(&server, state.path(), "alice", PW, &list), b""),
        0,
    );
    let file = token_file(&server, state.path(), "alice");
    let old = std::fs::read_to_string(&file).unwrap();
    let out = run(
        &[
            "user",
            "passwd",
            "alice",
            "--password-stdin",
            "--data",
            server.data(),
        ],
        b"new\n",
    );
    assert!(out.status.success(), "{out:?}");
    // Refused token, wrong password: auth failed, and the token is gone.
    let wrong = client(&server, state.path(), "alice", PW, &list);
    exits(&run_cmd(&mut { wrong }, b""), 4);
    assert!(!file.exists());
    // Right password: logged in, with a new token kept.
    exits(
        &run_cmd(
            &mut client(&server, state.path(), "alice", "new", &list),
            b"",
        ),
        0,
    );
    let new = std::fs::read_to_string(&file).unwrap();
    assert_ne!(new, old);
    // A token refused while the password is right: logged in all the same.
    std::fs::write(&file, old).unwrap();
    exits(
        &run_cmd(
            &mut client(&server, state.path(), "alice", "new", &list),
            b"",
        ),
        0,
    );
    assert_ne!(std::fs::read_to_string(&file).unwrap(), new);
}
