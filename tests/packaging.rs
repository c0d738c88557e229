//! `packaging/`: the example config and the systemd unit agree with the
//! server and with each other.
//!
//! The example must parse with the server's own parser, name every config
//! key (the key list comes from the parser itself, so a new key without an
//! example fails here), show the defaults truthfully, and point `data` at
//! the unit's state directory.

use solec::server::config::{self, FileConfig, Limits};

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
