//! `packaging/`: the example config and the systemd unit agree with the
//! server and with each other.
//!
//! The example must parse with the server's own parser, name every config
//! key (the key list comes from the parser itself, so a new key without an
//! example fails here), show the defaults truthfully, and point `data` at
//! the unit's state directory. The unit is hardened and waits for the
//! server's readiness notice, which the server sends.

use crate::util::{handshake, Raw, TempDir, TIMEOUT};
use solec::server::config::{self, FileConfig, Limits};
use std::process::Stdio;

const EXAMPLE: &str = include_str!("../packaging/solec.ron");
const UNIT: &str = include_str!("../packaging/solec.service");

fn example() -> FileConfig {
    config::parse(EXAMPLE).unwrap_or_else(|e| panic!("packaging/solec.ron: {e}"))
}

/// Every key `FileConfig` accepts, as the parser reports them.
pub fn config_keys() -> &'static [&'static str] {
    match config::parse("(no_such_key_here: 0)").map_err(|e| e.code) {
        Err(ron::Error::NoSuchStructField { expected, .. }) => expected,
        other => panic!("unknown keys should be refused with the key list, got {other:?}"),
    }
}

/// The commented-out `tls: (...)` block of the example, uncommented.
fn commented_tls() -> String {
    let lines: Vec<&str> = EXAMPLE
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("// tls: ("))
        .take_while(|l| l.starts_with("//"))
        .map(|l| l.trim_start_matches("//"))
        .collect();
    assert!(!lines.is_empty(), "no commented tls example");
    format!("({})", lines.join("\n"))
}

#[test]
fn example_config_shows_the_defaults() {
    let file = example();
    assert_eq!(file.name.as_deref(), Some("localhost"));
    assert_eq!(file.log.as_deref(), Some("info"));
    assert_eq!(file.tls, None, "TLS is off unless configured");
    let cfg = config::Config::from_file(file.clone());
    let defaults = config::Config::from_file(FileConfig::default());
    assert_eq!(cfg.listen, defaults.listen);
    assert_eq!(cfg.limits, Limits::default());
    // Each limit is written out, not left to the default.
    assert!(file.handshake_timeout_secs.is_some() && file.max_message_bytes.is_some());
    assert!(file.max_pdu_bytes.is_some() && file.max_history_count.is_some());
    assert!(file.max_outbound_queue.is_some() && file.max_connections.is_some());
}

#[test]
fn example_config_names_every_key() {
    let keys = config_keys();
    assert!(keys.contains(&"max_pdu_bytes"), "{keys:?}");
    for key in keys {
        let written = EXAMPLE.lines().any(|l| {
            let l = l.trim().trim_start_matches("//").trim_start();
            l.starts_with(&format!("{key}:"))
        });
        assert!(written, "packaging/solec.ron has no example of `{key}`");
    }
}

#[test]
fn commented_tls_example_parses() {
    let text = commented_tls();
    let file = config::parse(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
    let tls = file.tls.expect("tls");
    assert_eq!(tls.listen, ["0.0.0.0:7448".parse().unwrap()]);
    assert_eq!(tls.key, std::path::Path::new("/etc/solec/key.pem"));
}

/// The value of `Key=` in the unit, which must appear exactly once.
fn unit_value(key: &str) -> &'static str {
    let prefix = format!("{key}=");
    let values: Vec<&str> = UNIT
        .lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect();
    assert_eq!(values.len(), 1, "{key}= in packaging/solec.service");
    values[0]
}

#[test]
fn unit_runs_the_example_config_in_its_state_directory() {
    assert_eq!(
        unit_value("ExecStart"),
        "/usr/bin/solec serve --config /etc/solec/solec.ron"
    );
    let state = unit_value("StateDirectory");
    assert_eq!(state, "solec");
    let data = example().data.expect("data");
    assert_eq!(data, std::path::Path::new("/var/lib").join(state));
}

#[test]
fn unit_allows_max_connections_file_descriptors() {
    let nofile: usize = unit_value("LimitNOFILE").parse().expect("a number");
    let max = example().max_connections.expect("max_connections");
    assert!(
        nofile > max,
        "LimitNOFILE={nofile} but max_connections={max}"
    );
}

#[test]
fn commented_peers_example_is_valid_config() {
    let lines: Vec<&str> = EXAMPLE
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("// peers: ["))
        .take_while(|l| l.starts_with("//"))
        .map(|l| l.trim_start_matches("//"))
        .collect();
    assert!(!lines.is_empty(), "no commented peers example");
    let text = format!("({})", lines.join("\n"));
    let file = config::parse(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
    let cfg = config::Config::from_file(file);
    assert_eq!(cfg.check(), Ok(()));
    assert_eq!(cfg.peers().unwrap()[0].0, "b.example");
}

#[test]
fn unit_waits_for_readiness_and_is_hardened() {
    assert_eq!(unit_value("Type"), "notify");
    assert_eq!(unit_value("NotifyAccess"), "main");
    assert_eq!(unit_value("Restart"), "on-failure");
    assert_eq!(unit_value("DynamicUser"), "yes");
    for key in ["NoNewPrivileges", "ProtectHome", "PrivateTmp"] {
        assert_eq!(unit_value(key), "yes", "{key}");
    }
    assert_eq!(unit_value("ProtectSystem"), "strict");
    // AF_UNIX carries the admin socket and the readiness notice.
    assert_eq!(
        unit_value("RestrictAddressFamilies"),
        "AF_INET AF_INET6 AF_UNIX"
    );
}

/// A `solec serve` child, killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `Type=notify`: `solec serve` sends READY=1 to `$NOTIFY_SOCKET` once its
/// listeners are bound, and a connection made right then is served.
#[test]
fn serve_tells_systemd_it_is_ready_once_it_listens() {
    use std::io::BufRead as _;
    let dir = TempDir::new();
    let socket_path = dir.join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut child = crate::util::solec()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("data"))
        .env("NOTIFY_SOCKET", &socket_path)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn solec serve");
    let stderr = child.stderr.take().unwrap();
    let _child = Child(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(rest) = line.split(" listening on ").nth(1) {
                let _ = tx.send(rest.split(' ').next().unwrap_or_default().to_owned());
            }
        }
    });

    let mut notice = [0u8; 256];
    let n = socket
        .recv(&mut notice)
        .expect("a notice within the timeout");
    assert_eq!(
        std::str::from_utf8(&notice[..n]),
        Ok("READY=1\nSTATUS=serving localhost\n")
    );
    // The listener is logged before the notice is sent, so the line is
    // in the pipe by now; the reader thread may not have read it yet.
    let addr = rx.recv_timeout(TIMEOUT).expect("listening logged");
    let mut raw = Raw::connect(addr.parse().unwrap());
    // A Handshake of another major version is closed without a reply.
    raw.send(&handshake(1, 0, 1));
    raw.expect_closed();
}
