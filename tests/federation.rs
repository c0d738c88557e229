//! Federation, black-box: each server's key, known peers through `solec
//! federate` with and without a running server, `ping` between two real
//! servers, and a raw test peer that speaks the link handshake of
//! `docs/protocol.md` section 8.3 byte by byte: an unknown name, a wrong
//! key, a replayed proof and a slow proof are each refused with Error 0x03
//! and a close.

use crate::util::*;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use std::os::unix::fs::PermissionsExt as _;
use std::process::Output;
use std::time::Duration;

/// RFC 8032 section 7.1 TEST 1 and TEST 2 secret keys: the test peer's
/// key, and another.
const TEST1: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const TEST2: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

fn secret(hex_seed: &str) -> SigningKey {
    SigningKey::from_bytes(&unhex(hex_seed).try_into().unwrap())
}

fn key_text(key: &SigningKey) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes());
    format!("ed25519:{b64}")
}

/// A server named `name`.
fn named(name: &str, extra: &str) -> Server {
    Server::start_with_config(&format!("(name: \"{name}\", {extra})"))
}

/// `solec federate ARGS --data DIR`.
fn federate(data: &str, args: &[&str]) -> Output {
    let mut all = vec!["federate"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data", data]);
    run(&all, b"")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The `ed25519:...` that `solec federate key` prints for `s`.
fn key_of(s: &Server, name: &str) -> String {
    let line = ok(federate(s.data(), &["key"]));
    let key = line.trim().strip_prefix(&format!("{name} ")).expect(&line);
    assert!(key.starts_with("ed25519:") && key.len() == 8 + 44, "{line}");
    key.to_owned()
}

fn list_json(data: &str) -> Vec<serde_json::Value> {
    ok(federate(data, &["list", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn two_servers_add_each_other_and_ping_both_ways() {
    let mut a = named("a.test", "");
    let b = named("b.test", "");
    let (ka, kb) = (key_of(&a, "a.test"), key_of(&b, "b.test"));
    let key_file = a.dir.join("server.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!std::fs::read_to_string(&key_file)
        .unwrap()
        .contains(&ka[8..]));
    ok(federate(
        a.data(),
        &["add", "b.test", &b.server_arg(), "--key", &kb],
    ));
    ok(federate(
        b.data(),
        &["add", "a.test", &a.server_arg(), "--key", &ka],
    ));

    let out = ok(federate(a.data(), &["ping", "b.test"]));
    assert!(
        out.starts_with("b.test: both proofs held; round trip "),
        "{out}"
    );
    assert!(out.contains(" ms, handshake "), "{out}");
    ok(federate(b.data(), &["ping", "a.test"]));

    let peers = list_json(a.data());
    assert_eq!(peers.len(), 1, "{peers:?}");
    let p = &peers[0];
    assert_eq!(p["name"], "b.test");
    assert_eq!(p["address"], b.server_arg());
    assert_eq!(p["key"], kb);
    assert!(p["fingerprint"].as_str().unwrap().starts_with("SHA256:"));
    assert_eq!(p["queued"], 0);
    assert_eq!(p["source"], "store");
    assert!(p["last_success"].as_u64().is_some(), "{p}");
    // b saw a's proven link, and a's ping of it.
    let on_b = &list_json(b.data())[0];
    assert!(on_b["last_success"].as_u64().is_some(), "{on_b}");
    let text = ok(federate(a.data(), &["list"]));
    assert!(
        text.starts_with(&format!("b.test {} SHA256:", b.server_arg())),
        "{text}"
    );

    // The key and the peer survive a restart.
    a.restart();
    assert_eq!(key_of(&a, "a.test"), ka);
    // b's entry for a still names a's old port: a pings b, b cannot reach a.
    ok(federate(a.data(), &["ping", "b.test"]));
    let out = federate(b.data(), &["ping", "a.test"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = &list_json(b.data())[0]["last_error"];
    assert!(err[1].as_str().unwrap().contains("connect"), "{err}");

    // Removed from b, a's ping is refused: b no longer knows it.
    ok(federate(b.data(), &["remove", "a.test"]));
    let out = federate(a.data(), &["ping", "b.test"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("0x03"),
        "{out:?}"
    );
}

/// The transcript of docs/protocol.md 8.3, built here by hand.
fn transcript(role: u8, connector: &str, acceptor: &str, nc: &[u8], na: &[u8]) -> Vec<u8> {
    [
        b"SOLEC server link v1".to_vec(),
        vec![role],
        string(connector),
        string(acceptor),
        nc.to_vec(),
        na.to_vec(),
    ]
    .concat()
}

/// A raw test peer `c.test` against `b`: sends the opening with nonce
/// `nc`, checks b's proof with `b_key`, and returns b's nonce.
fn open_link(b: &Server, b_key: &VerifyingKey, nc: &[u8; 32]) -> (Raw, Vec<u8>) {
    let mut c = b.connect();
    c.send(
        &[
            handshake(0, 5, 2),
            pdu(0x06, &string("c.test")),
            pdu(0x86, nc),
        ]
        .concat(),
    );
    let nonce = c.read_pdu();
    assert_eq!(nonce[..3], [0x86, 0x00, 0x20]);
    let na = nonce[3..].to_vec();
    let proof = c.read_pdu();
    assert_eq!(proof[..3], [0x87, 0x00, 0x40]);
    let signature = ed25519_dalek::Signature::from_bytes(&proof[3..].try_into().unwrap());
    let signed = transcript(0x02, "c.test", "b.test", nc, &na);
    b_key
        .verify(&signed, &signature)
        .expect("b's proof verifies with its key");
    (c, na)
}

fn proof_by(key: &SigningKey, nc: &[u8], na: &[u8]) -> Vec<u8> {
    let signed = transcript(0x01, "c.test", "b.test", nc, na);
    pdu(0x87, &key.sign(&signed).to_bytes())
}

#[test]
fn a_raw_peer_is_proven_or_refused_with_0x03() {
    let b = named("b.test", "handshake_timeout_secs: 3");
    let c_key = secret(TEST1);
    ok(federate(
        b.data(),
        &["add", "c.test", "127.0.0.1:9", "--key", &key_text(&c_key)],
    ));
    let b_key = key_of(&b, "b.test");
    let b_key = {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&b_key[8..])
            .unwrap();
        VerifyingKey::from_bytes(&raw.try_into().unwrap()).unwrap()
    };

    // An unknown name: refused before any proof.
    let mut z = b.connect();
    z.send(
        &[
            handshake(0, 5, 2),
            pdu(0x06, &string("z.test")),
            pdu(0x86, &[7; 32]),
        ]
        .concat(),
    );
    z.expect(&error(0x03));
    z.expect_closed();

    // The right name, signed with another key.
    let (mut c, na) = open_link(&b, &b_key, &[1; 32]);
    c.send(&proof_by(&secret(TEST2), &[1; 32], &na));
    c.expect(&error(0x03));
    c.expect_closed();
    let listed = &list_json(b.data())[0];
    let why = listed["last_error"][1].as_str().unwrap_or_default();
    assert!(why.contains("does not verify"), "{listed}");

    // The right key: Success, and a peer session.
    let (mut c, na) = open_link(&b, &b_key, &[2; 32]);
    let good = proof_by(&c_key, &[2; 32], &na);
    c.send(&good);
    c.expect(&SUCCESS);
    // Then where its relays resume: none received yet.
    c.expect(&pdu(0x89, &0u64.to_be_bytes()));
    let listed = &list_json(b.data())[0];
    assert_eq!(listed["link"], "up", "{listed}");
    drop(c);

    // The same proof replayed on a new connection, same nonce and all.
    let (mut c, _) = open_link(&b, &b_key, &[2; 32]);
    c.send(&good);
    c.expect(&error(0x03));
    c.expect_closed();

    // b's own proof sent back to it.
    let mut c = b.connect();
    c.send(
        &[
            handshake(0, 5, 2),
            pdu(0x06, &string("c.test")),
            pdu(0x86, &[3; 32]),
        ]
        .concat(),
    );
    let _nonce = c.read_pdu();
    let theirs = c.read_pdu();
    c.send(&theirs);
    c.expect(&error(0x03));
    c.expect_closed();

    // Too slow: no proof within handshake_timeout_secs.
    let (mut c, na) = open_link(&b, &b_key, &[4; 32]);
    c.stream
        .set_read_timeout(Some(Duration::from_secs(8)))
        .unwrap();
    c.expect(&error(0x03));
    c.expect_closed();
    let late = proof_by(&c_key, &[4; 32], &na);
    let _ = std::io::Write::write_all(&mut c.stream, &late);
}

#[test]
fn bad_arguments_exit_2() {
    let dir = TempDir::new();
    let data = dir.path().to_str().unwrap();
    let key = key_text(&secret(TEST1));
    for args in [
        vec!["add", "B.test", "127.0.0.1:1", "--key", &key],
        vec!["add", "b_test", "127.0.0.1:1", "--key", &key],
        vec!["add", "b.test", "127.0.0.1", "--key", &key],
        vec!["add", "b.test", "127.0.0.1:0", "--key", &key],
        vec!["add", "b.test", "127.0.0.1:1", "--key", "ed25519:AAAA"],
        vec!["add", "b.test", "127.0.0.1:1", "--key", &key[1..]],
        vec!["remove", "not a name"],
        vec!["ping", "-x-"],
    ] {
        let out = federate(data, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    assert!(
        !dir.join("solec.redb").exists(),
        "a bad argument changed nothing"
    );
}

/// No server runs: the store and the config's peers, directly.
#[test]
fn without_a_server_peers_live_in_the_store_and_the_config() {
    let dir = TempDir::new();
    let cfg = dir.join("solec.ron");
    let (k1, k2) = (key_text(&secret(TEST1)), key_text(&secret(TEST2)));
    std::fs::write(
        &cfg,
        format!(
            r#"(name: "a.test", data: "{}", peers: [(name: "c.test", address: "127.0.0.1:9", key: "{k2}", tls: true)])"#,
            dir.path().display()
        ),
    )
    .unwrap();
    let with_config = |args: &[&str]| {
        let mut all = vec!["federate"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", cfg.to_str().unwrap()]);
        run(&all, b"")
    };
    let line = ok(with_config(&["key"]));
    assert!(line.starts_with("a.test ed25519:"), "{line}");
    assert_eq!(ok(with_config(&["key"])), line, "the key is kept");
    ok(with_config(&[
        "add",
        "b.test",
        "b.example:7447",
        "--key",
        &k1,
    ]));
    let listed: Vec<serde_json::Value> = ok(with_config(&["list", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<_> = listed
        .iter()
        .map(|p| (p["name"].clone(), p["source"].clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("b.test".into(), "store".into()),
            ("c.test".into(), "config".into())
        ]
    );
    assert_eq!(listed[1]["tls"], true);
    assert_eq!(listed[0]["link"], "down");
    let refused = with_config(&["remove", "c.test"]);
    assert_eq!(refused.status.code(), Some(5), "{refused:?}");
    let refused = with_config(&["remove", "nobody.test"]);
    assert_eq!(refused.status.code(), Some(5), "{refused:?}");
    ok(with_config(&["remove", "b.test"]));
    // Nothing listens on port 9: unreachable, exit 3.
    let out = with_config(&["ping", "c.test"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    // A server started on this config knows c.test from the file.
    let s = Server::start_with(dir, &["--config", cfg.to_str().unwrap()]);
    let listed = list_json(s.data());
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["source"], "config");
}

/// A peer whose address is a TLS listener: the link runs inside TLS, and
/// the peer's certificate must be trusted (here through SSL_CERT_FILE).
#[test]
fn a_tls_peer_is_reached_through_tls() {
    let dir = TempDir::new();
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key_pair.serialize_pem()).unwrap();
    let config = dir.join("solec.ron");
    let ron = format!(
        "(name: \"b.test\", tls: (listen: [\"127.0.0.1:0\"], cert: {cert_path:?}, key: {key_path:?}))"
    );
    std::fs::write(&config, ron).unwrap();
    let b = Server::start_with(dir, &["--config", config.to_str().unwrap()]);
    let port = b.tls_addr.expect("a TLS listener").port();

    // a runs no server: its ping runs from the command, with a's key.
    let a = TempDir::new();
    let a_cfg = a.join("solec.ron");
    std::fs::write(&a_cfg, format!("(name: \"a.test\", data: {:?})", a.path())).unwrap();
    let on_a = |args: &[&str], ca: Option<&std::path::Path>| {
        let mut cmd = solec();
        cmd.arg("federate")
            .args(args)
            .args(["--config", a_cfg.to_str().unwrap()]);
        if let Some(ca) = ca {
            cmd.env("SSL_CERT_FILE", ca);
        }
        run_cmd(&mut cmd, b"")
    };
    let ka = ok(on_a(&["key"], None));
    let ka = ka.trim().strip_prefix("a.test ").unwrap().to_owned();
    let kb = key_of(&b, "b.test");
    ok(federate(
        b.data(),
        &["add", "a.test", "127.0.0.1:9", "--key", &ka],
    ));
    let address = format!("localhost:{port}");
    ok(on_a(
        &["add", "b.test", &address, "--key", &kb, "--tls"],
        None,
    ));
    let out = ok(on_a(&["ping", "b.test"], Some(&cert_path)));
    assert!(out.starts_with("b.test: both proofs held"), "{out}");
    // Not trusted: no link, whatever the keys say.
    let out = on_a(&["ping", "b.test"], None);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("TLS with"),
        "{out:?}"
    );
}

#[test]
fn decode_shows_the_link_pdus() {
    let nonce: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
    let sig = "ab".repeat(64);
    let out = ok(run(
        &["decode", "86", "0020", &nonce, "87", "0040", &sig],
        b"",
    ));
    assert_eq!(
        out,
        format!(
            "at 0: LinkNonce (0x86), length 32\n  nonce: {nonce}\n\n\
             at 35: LinkProof (0x87), length 64\n  signature: {sig}\n"
        )
    );
}

/// The config's peers are read at start: a SIGHUP that changes them says
/// they need a restart and keeps the running list.
#[test]
fn sighup_keeps_the_configs_peers_until_a_restart() {
    let k1 = key_text(&secret(TEST1));
    let peer = |name: &str| format!(r#"(name: "{name}", address: "127.0.0.1:9", key: "{k1}")"#);
    let s = named("a.test", &format!("peers: [{}]", peer("b.test")));
    let cfg = format!("(name: \"a.test\", peers: [{}])", peer("c.test"));
    std::fs::write(s.dir.join("solec.ron"), cfg).unwrap();
    signal(s.pid(), libc::SIGHUP);
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !s
        .log_text()
        .contains("a change of peers takes effect only on a restart")
    {
        assert!(std::time::Instant::now() < deadline, "{}", s.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    let listed = list_json(s.data());
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "b.test");
}
