//! `solec bench`: a tiny load delivers every message exactly once, through
//! the real server, the baseline relay and two federated servers, and the
//! bench leaves no server process and no data directory behind, even when
//! interrupted. No timing is asserted: the figures depend on the machine.

use crate::util::{run, signal, solec, TempDir, TIMEOUT};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// 2 pairs x 50 messages, 10 idle connections, a floor of 50 appends, in
/// `temp`.
fn tiny(temp: &TempDir, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["bench", "--pairs", "2", "--messages", "50", "--idle", "10"];
    args.extend(["--floor-appends", "50", "--temp-dir"]);
    args.push(temp.path().to_str().unwrap());
    args.extend(extra);
    run(&args, b"")
}

/// The report line starting with `key: `.
fn line<'a>(stdout: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}: ");
    stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no `{key}:` line in\n{stdout}"))
}

/// The numbers of `line`, in order: in `p50 0.123 ms, p99 ...` the 0.123s.
fn numbers(line: &str) -> Vec<f64> {
    let words: Vec<&str> = line.split([' ', ',', '(']).collect();
    words
        .windows(2)
        .filter(|w| w[1] == "ms" || w[1] == "x")
        .map(|w| w[0].parse().unwrap_or_else(|_| panic!("{line}")))
        .collect()
}

/// The fdatasync floor's lines: p50 <= p99 <= max, all above zero, and
/// solec's p99 set against the floor's.
fn assert_floor(stdout: &str, temp: &TempDir) {
    let floor = line(stdout, "fdatasync floor");
    let on = format!(" ms (50 appends of 128 bytes on {})", temp.path().display());
    assert!(floor.starts_with("fdatasync floor: p50 "), "{floor}");
    assert!(floor.ends_with(&on), "{floor}");
    let [p50, p99, max] = numbers(floor)[..] else {
        panic!("{floor}")
    };
    assert!(0.0 < max && p50 <= p99 && p99 <= max, "{floor}");
    let solec_p99 = numbers(line(stdout, "solec latency"))[1];
    let less = line(stdout, "solec p99 - floor p99");
    assert!(less.ends_with(" ms"), "{less}");
    let less = numbers(less)[0];
    assert!((less - (solec_p99 - p99)).abs() <= 0.0016, "{stdout}");
    let over = line(stdout, "solec p99 / floor p99");
    assert!(over.ends_with(" x"), "{over}");
    assert!(numbers(over)[0] > 0.0, "{over}");
}

/// Nothing left in the temp parent and no process still naming it.
fn assert_clean(temp: &TempDir) {
    let left: Vec<_> = std::fs::read_dir(temp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let needle = temp.path().to_str().unwrap().as_bytes();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let hit = cmdline.windows(needle.len()).any(|w| w == needle);
        assert!(!hit, "process {:?} still runs on it", entry.file_name());
    }
}

#[test]
fn a_tiny_load_arrives_complete() {
    let temp = TempDir::new();
    let out = tiny(&temp, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    for key in ["solec", "baseline"] {
        let delivered = line(&stdout, key);
        assert!(
            delivered.starts_with(&format!("{key}: 100 delivered in ")),
            "{delivered}"
        );
        assert_eq!(
            line(&stdout, &format!("{key} missing")),
            format!("{key} missing: 0")
        );
        assert_eq!(
            line(&stdout, &format!("{key} duplicates")),
            format!("{key} duplicates: 0")
        );
    }
    let load = line(&stdout, "load");
    assert_eq!(
        load,
        "load: 2 pairs x 50 messages x 64 bytes, window 64, unpaced"
    );
    assert!(line(&stdout, "idle").starts_with("idle: 10 authenticated connections, "));
    assert!(line(&stdout, "server cpu").ends_with(" µs per delivered message"));
    assert!(line(&stdout, "solec/baseline").contains(" x throughput, "));
    assert_floor(&stdout, &temp);
    assert_clean(&temp);
}

#[test]
fn json_report_paced() {
    let temp = TempDir::new();
    let out = tiny(
        &temp,
        &["--json", "--rate", "500", "--size", "24", "--no-baseline"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["rate"], 500);
    assert_eq!(report["size"], 24);
    assert_eq!(report["solec"]["delivered"], 100);
    assert_eq!(report["solec"]["missing"], 0);
    assert_eq!(report["solec"]["duplicates"], 0);
    assert_eq!(report["solec"]["stalled"], false);
    assert!(report["solec"]["server_cpu_us_per_message"].is_number());
    assert_eq!(report["idle"]["connections"], 10);
    assert!(report["baseline"].is_null(), "{report}");
    let floor = &report["fdatasync_floor"];
    assert_eq!(floor["appends"], 50, "{report}");
    assert_eq!(floor["record_bytes"], 128);
    assert_eq!(floor["dir"], temp.path().to_str().unwrap());
    let us = |v: &serde_json::Value| v.as_f64().unwrap_or_else(|| panic!("{report}"));
    let lat = &floor["latency_us"];
    let (p50, p99, max) = (us(&lat["p50"]), us(&lat["p99"]), us(&lat["max"]));
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{floor}");
    let solec_p99 = us(&report["solec"]["latency_us"]["p99"]);
    let less = us(&floor["solec_p99_minus_floor_p99_us"]);
    assert!((less - (solec_p99 - p99)).abs() < 1e-6, "{report}");
    let over = us(&floor["solec_p99_over_floor_p99"]);
    assert!((over - solec_p99 / p99).abs() < 1e-6, "{report}");
    assert_clean(&temp);
}

/// Two federated servers: every message crosses the link once, the
/// restart's queued messages arrive once, the link's bytes are set against
/// the PDUs', and both servers and their directories are gone after.
#[test]
fn a_tiny_federated_load_arrives_complete() {
    let temp = TempDir::new();
    let mut args = vec!["bench", "--pairs", "2", "--messages", "20"];
    args.extend(["--idle", "0", "--no-baseline", "--federated"]);
    args.extend(["--floor-appends", "0", "--temp-dir"]);
    args.push(temp.path().to_str().unwrap());
    let out = run(&args, b"");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        line(&stdout, "federated servers"),
        "federated servers: a.bench -> b.bench"
    );
    let delivered = line(&stdout, "federated");
    assert!(
        delivered.starts_with("federated: 40 delivered in "),
        "{delivered}"
    );
    for key in ["federated", "restart"] {
        for what in ["missing", "duplicates"] {
            assert_eq!(
                line(&stdout, &format!("{key} {what}")),
                format!("{key} {what}: 0"),
                "{stdout}"
            );
        }
    }
    assert!(line(&stdout, "federated/single").ends_with(" x throughput"));
    // s0@a.bench -> r0@b.bench with 64 bytes of content: a 101-byte PDU,
    // and the link carried every one of them, and more.
    let link = line(&stdout, "link");
    assert!(link.contains(" (Message PDU 101.00 bytes, +"), "{link}");
    let per_message: f64 = link
        .split(" bytes per relayed message")
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{link}"));
    assert!(per_message > 101.0, "{link}");
    let restart = line(&stdout, "restart");
    assert!(
        restart.starts_with("restart: b.bench stopped with SIGTERM for "),
        "{restart}"
    );
    assert!(
        restart.contains(" while 100 messages were queued for it; "),
        "{restart}"
    );
    assert!(restart.contains(", first message delivered "), "{restart}");
    // --floor-appends 0 skips the floor.
    assert!(!stdout.contains("floor"), "{stdout}");
    assert_clean(&temp);
}

#[test]
fn bad_flags_are_usage_errors() {
    for flags in [["--size", "23"], ["--pairs", "0"], ["--window", "1001"]] {
        let out = run(&[&["bench"][..], &flags].concat(), b"");
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {out:?}");
    }
}

#[test]
fn interrupted_it_stops_the_server_and_cleans_up() {
    let temp = TempDir::new();
    let mut child = solec()
        .args([
            "bench",
            "--pairs",
            "2",
            "--messages",
            "100000",
            "--rate",
            "10",
        ])
        .args(["--idle", "0", "--temp-dir"])
        .arg(temp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_entry(temp.path(), &mut child);
    // Give it time to reach the load phase, then interrupt.
    std::thread::sleep(Duration::from_millis(500));
    signal(child.id(), libc::SIGINT);
    let deadline = Instant::now() + TIMEOUT * 2;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("bench ignored SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "solec: interrupted\n");
    assert_clean(&temp);
}

/// Waits until the bench has created its data directory under `parent`.
fn wait_for_entry(parent: &Path, child: &mut std::process::Child) {
    let deadline = Instant::now() + TIMEOUT;
    while std::fs::read_dir(parent).unwrap().next().is_none() {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("bench did not create its data directory");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `--logins N`: N password logins and N token logins of one user, timed
/// in the same run, both rates printed.
#[test]
fn logins_times_password_and_token_logins() {
    let temp = TempDir::new();
    let mut args = vec!["bench", "--pairs", "1", "--messages", "1", "--idle", "0"];
    args.extend(["--no-baseline", "--logins", "8", "--temp-dir"]);
    args.push(temp.path().to_str().unwrap());
    let out = run(&args, b"");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let logins = line(&stdout, "logins");
    assert!(logins.starts_with("logins: 8 each, "), "{logins}");
    assert!(
        logins.contains(" password logins/s, ") && logins.contains(" token logins/s ("),
        "{logins}"
    );
}
