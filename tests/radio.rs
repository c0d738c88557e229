//! `solec radio`: the airtime calculator, the modem emulator, and SOLEC
//! sessions carried end to end through pseudo-terminals.

use crate::util::*;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn radio_airtime_matches_the_semtech_example() {
    let out = run(
        &[
            "radio", "airtime", "--sf", "9", "--bw", "125", "--cr", "5", "--bytes", "13",
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "164.864\n");
}

#[test]
fn radio_airtime_takes_every_formula_input() {
    let cases: &[(&[&str], &str)] = &[
        (&["--sf", "12", "--bytes", "50"], "2301.952\n"),
        (
            &["--sf", "12", "--bytes", "50", "--ldro", "off"],
            "2138.112\n",
        ),
        (&["--sf", "7", "--bw", "500", "--bytes", "50"], "24.384\n"),
        (
            &["--sf", "9", "--bytes", "13", "--preamble", "12"],
            "181.248\n",
        ),
        (&["--sf", "9", "--bytes", "13", "--no-crc"], "144.384\n"),
        (
            &["--sf", "9", "--bytes", "13", "--implicit-header"],
            "144.384\n",
        ),
    ];
    for (args, want) in cases {
        let mut full = vec!["radio", "airtime"];
        full.extend_from_slice(args);
        let out = run(&full, b"");
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert_eq!(stdout(&out), *want, "{args:?}");
    }
}

#[test]
fn radio_airtime_refuses_bad_values_with_status_2() {
    for args in [
        &["--sf", "13", "--bytes", "5"][..],
        &["--cr", "9", "--bytes", "5"],
        &["--bw", "100", "--bytes", "5"],
        &["--bytes", "256"],
    ] {
        let mut full = vec!["radio", "airtime"];
        full.extend_from_slice(args);
        let out = run(&full, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty());
    }
}

/// A spawned `solec radio …` whose stderr is collected, stopped with
/// SIGTERM (then SIGKILL) when dropped.
struct Proc {
    child: Option<std::process::Child>,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Proc {
    fn spawn(args: &[&str]) -> Proc {
        use std::io::BufRead as _;
        let mut child = solec()
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn solec radio");
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                lines.lock().unwrap().push(line);
            }
        });
        Proc {
            child: Some(child),
            log,
        }
    }

    fn text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits for a log line containing `needle`, returning the rest of it.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            let found = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.split_once(needle).map(|(_, rest)| rest.to_owned()));
            if let Some(rest) = found {
                return rest;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no `{needle}` in the log:\n{}",
                self.text()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and returns the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        signal(child.id(), libc::SIGTERM);
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("ignored SIGTERM; log:\n{}", self.text());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.is_some() {
            let status = self.stop();
            let _ = status;
        }
    }
}

/// Whether this machine can make pseudo-terminals; tests that need them
/// skip (and say so) where it cannot.
fn have_ptys() -> bool {
    let ok = std::path::Path::new("/dev/ptmx").exists();
    if !ok {
        eprintln!("skipped: no /dev/ptmx, so no pseudo-terminals to emulate modems on");
    }
    ok
}

/// Fast radio settings for tests: SF7 at 500 kHz (no US dwell limit).
const RADIO: [&str; 6] = ["--sf", "7", "--bw", "500", "--region", "us915"];

/// An emulator with two ports, a radio on each, and a server behind one.
struct Air {
    dir: TempDir,
    server: Server,
    /// Held so it stops (and removes its ports) with the test.
    _emulator: Proc,
    near: Proc,
    far: Proc,
    /// Where `solec send` connects: the near radio's --listen.
    addr: String,
}

const PW: &str = "pw";

impl Air {
    fn start(kind: &str, extra_emulator: &[&str]) -> Air {
        Air::start_with(kind, extra_emulator, &[])
    }

    /// As [`Air::start`], with extra options for the near radio.
    fn start_with(kind: &str, extra_emulator: &[&str], extra_near: &[&str]) -> Air {
        let server = Server::start();
        for name in ["alice", "bob"] {
            server.add_user(name, PW);
        }
        for (me, other) in [("alice", "bob"), ("bob", "alice")] {
            let mut c = server.login(me, PW);
            c.send(&contact_add(&format!("{other}@localhost")));
            c.expect(&SUCCESS);
        }
        let dir = TempDir::new();
        let (a, b, log) = (dir.join("a"), dir.join("b"), dir.join("air.jsonl"));
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let mut args = vec![
            "radio", "emulate", "--modem", kind, "--port", a, "--port", b,
        ];
        args.extend(["--sf", "7", "--bw", "500", "--log", log.to_str().unwrap()]);
        args.extend_from_slice(extra_emulator);
        let emulator = Proc::spawn(&args);
        emulator.wait_for("emulating 2 ports");
        assert!(dir.join("a").exists() && dir.join("b").exists());
        let server_addr = server.server_arg();
        let mut far_args = vec!["radio", "--device", b, "--modem", kind];
        far_args.extend(["--connect", &server_addr]);
        far_args.extend(RADIO);
        let far = Proc::spawn(&far_args);
        far.wait_for("radio ready");
        let mut near_args = vec!["radio", "--device", a, "--modem", kind];
        near_args.extend(["--listen", "127.0.0.1:0"]);
        near_args.extend(RADIO);
        near_args.extend_from_slice(extra_near);
        let near = Proc::spawn(&near_args);
        let addr = near.wait_for("radio listening on ").trim().to_owned();
        near.wait_for("radio ready");
        Air {
            dir,
            server,
            _emulator: emulator,
            near,
            far,
            addr,
        }
    }

    /// `solec send bob` as alice through the air, one message per line.
    fn send(&self, lines: &[&str]) -> std::process::Output {
        let mut input = format!("{PW}\n");
        for l in lines {
            input.push_str(l);
            input.push('\n');
        }
        run(
            &[
                "send",
                "bob",
                "--server",
                &self.addr,
                "--user",
                "alice@localhost",
                "--password-stdin",
            ],
            input.as_bytes(),
        )
    }

    /// Bob's history of alice, read from the server directly.
    fn history(&self) -> Vec<String> {
        let out = run_cmd(
            solec()
                .args(["history", "alice", "--server", &self.server.server_arg()])
                .args(["--user", "bob@localhost"])
                .env("SOLEC_PASSWORD", PW),
            b"",
        );
        assert!(out.status.success(), "{out:?}");
        stdout(&out)
            .lines()
            .map(|l| l.split_once(": ").unwrap().1.to_owned())
            .collect()
    }

    /// Every frame the emulator logged: (from the near side, bytes, lost,
    /// airtime in ms).
    fn frames(&self) -> Vec<(bool, u64, bool, f64)> {
        let text = std::fs::read_to_string(self.dir.join("air.jsonl")).unwrap();
        let near = self.dir.join("a");
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
                for key in ["t_ms", "from", "bytes", "airtime_ms", "lost"] {
                    assert!(v.get(key).is_some(), "{key} missing in {l}");
                }
                (
                    v["from"] == near.to_str().unwrap(),
                    v["bytes"].as_u64().unwrap(),
                    v["lost"].as_bool().unwrap(),
                    v["airtime_ms"].as_f64().unwrap(),
                )
            })
            .collect()
    }

    /// Waits until the emulator has logged no new frame for a while (the
    /// last acks and closes have gone), returning every frame so far.
    fn settled_frames(&self) -> Vec<(bool, u64, bool, f64)> {
        let deadline = std::time::Instant::now() + TIMEOUT * 2;
        let mut last = self.frames();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(1500));
            let now = self.frames();
            if now.len() == last.len() || std::time::Instant::now() > deadline {
                return now;
            }
            last = now;
        }
    }
}

#[test]
fn radio_carries_a_client_session_and_each_further_hi_is_small() {
    if !have_ptys() {
        return;
    }
    let air = Air::start("rnode", &[]);
    // A first session teaches the link the addresses.
    let out = air.send(&["hi"]);
    assert!(out.status.success(), "{out:?}\nnear:\n{}", air.near.text());
    let before_one = air.settled_frames();
    let out = air.send(&["hi"]);
    assert!(out.status.success(), "{out:?}");
    let after_one = air.settled_frames();
    let out = air.send(&["hi"; 5]);
    assert!(out.status.success(), "{out:?}");
    let after_five = air.settled_frames();
    assert_eq!(air.history(), ["hi"; 7]);

    let bytes = |f: &[(bool, u64, bool, f64)]| f.iter().map(|x| x.1).sum::<u64>();
    let one = bytes(&after_one[before_one.len()..]);
    let five = bytes(&after_five[after_one.len()..]);
    let lost = after_five[before_one.len()..].iter().any(|f| f.2);
    let per_hi = (five - one) as f64 / 4.0;
    eprintln!(
        "on air: a session with one \"hi\" {one} B, with five {five} B: {per_hi} B per further \"hi\", both directions{}",
        if lost { " (with collisions)" } else { "" }
    );
    if lost {
        eprintln!("skipped the byte budget check: frames collided, so resends are counted");
    } else {
        assert!(per_hi <= 16.0, "{per_hi} B per further hi");
    }
    // Every frame's RSSI and SNR show in the log, and each message its
    // size as a PDU and on the link.
    assert!(air.near.text().contains("RSSI -60 dBm, SNR 9 dB"));
    assert!(air.far.text().contains("on air: "));
    assert!(air.near.text().contains(": Message of 47 B goes as "));
    assert!(air.far.text().contains(": Message of 47 B arrived"));
}

#[test]
fn radio_works_over_every_modem_kind() {
    if !have_ptys() {
        return;
    }
    for kind in ["kiss", "rylr", "transparent"] {
        let air = Air::start(kind, &[]);
        let out = air.send(&["one", "two"]);
        assert!(
            out.status.success(),
            "{kind}: {out:?}\nnear:\n{}\nfar:\n{}",
            air.near.text(),
            air.far.text()
        );
        assert_eq!(air.history(), ["one", "two"], "{kind}");
    }
}

#[test]
fn radio_delivers_200_messages_once_and_in_order_through_20_percent_loss() {
    if !have_ptys() {
        return;
    }
    let air = Air::start("rnode", &["--loss", "0.2", "--seed", "7"]);
    let texts: Vec<String> = (1..=200).map(|i| format!("m{i}")).collect();
    let lines: Vec<&str> = texts.iter().map(String::as_str).collect();
    let out = air.send(&lines);
    assert!(out.status.success(), "{out:?}\nnear:\n{}", air.near.text());
    assert_eq!(air.history(), texts);
    // A 4 KiB message crosses in fragments of at most the MTU.
    let big = "x".repeat(4096);
    let out = air.send(&[&big]);
    assert!(out.status.success(), "{out:?}\nnear:\n{}", air.near.text());
    assert_eq!(air.history().last(), Some(&big));
    let frames = air.frames();
    assert!(frames.iter().any(|f| f.2), "the emulator lost frames");
    let full = frames.iter().filter(|f| f.0 && f.1 >= 240).count();
    assert!(full >= 16, "{full} full-size fragments");
    assert!(
        frames.iter().all(|f| f.1 <= 254),
        "no frame over the RNode MTU"
    );
}

#[test]
fn the_emulator_removes_its_ports_on_sigterm() {
    if !have_ptys() {
        return;
    }
    let dir = TempDir::new();
    let (a, b) = (dir.join("a"), dir.join("b"));
    let mut emu = Proc::spawn(&[
        "radio",
        "emulate",
        "--modem",
        "kiss",
        "--port",
        a.to_str().unwrap(),
        "--port",
        b.to_str().unwrap(),
    ]);
    emu.wait_for("emulating 2 ports");
    assert!(a.exists() && b.exists());
    assert!(emu.stop().success());
    assert!(!a.exists() && !b.exists());
}

#[test]
fn radio_auto_probes_and_names_the_modem() {
    if !have_ptys() {
        return;
    }
    for kind in ["rnode", "rylr"] {
        let dir = TempDir::new();
        let (a, b) = (dir.join("a"), dir.join("b"));
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let emu = Proc::spawn(&[
            "radio", "emulate", "--modem", kind, "--port", a, "--port", b,
        ]);
        emu.wait_for("emulating 2 ports");
        let mut args = vec!["radio", "--device", a, "--modem", "auto"];
        args.extend(["--connect", "127.0.0.1:9"]);
        args.extend(RADIO);
        let radio = Proc::spawn(&args);
        radio.wait_for(&format!("modem auto: found {kind}"));
        radio.wait_for("radio ready");
    }
    // A plain KISS TNC answers neither probe: a clear failure, status 1.
    let dir = TempDir::new();
    let (a, b) = (dir.join("a"), dir.join("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let emu = Proc::spawn(&[
        "radio", "emulate", "--modem", "kiss", "--port", a, "--port", b,
    ]);
    emu.wait_for("emulating 2 ports");
    let mut args = vec!["radio", "--device", a, "--modem", "auto"];
    args.extend(["--connect", "127.0.0.1:9"]);
    args.extend(RADIO);
    let out = run(&args, b"");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--modem kiss"));
}

#[test]
fn radio_refuses_values_the_modem_or_region_cannot_take() {
    let base = [
        "radio",
        "--device",
        "/nonexistent",
        "--connect",
        "127.0.0.1:9",
    ];
    let cases: &[(&[&str], &str)] = &[
        (&["--modem", "rnode", "--sf", "13"], "spreading factor 13"),
        (&["--modem", "rnode", "--cr", "9"], "coding rate 9"),
        (&["--modem", "rnode", "--bw", "100"], "not a LoRa bandwidth"),
        (&["--modem", "rylr", "--sf", "12"], "RYLR"),
        (
            &["--modem", "rylr", "--region", "us915", "--power", "30"],
            "at most 22 dBm",
        ),
        (&["--modem", "rnode", "--power", "30"], "27 dBm"),
        (&["--modem", "rnode", "--freq", "869300000"], "sub-band"),
        (
            &["--modem", "rnode", "--region", "us915", "--sf", "11"],
            "dwell",
        ),
        (&["--modem", "rnode", "--duty-cycle", "0"], "--duty-cycle"),
        (&["--modem", "rnode", "--baud", "12345"], "--baud"),
    ];
    for (args, want) in cases {
        let out = run(&[&base[..], args].concat(), b"");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let out = run(&["radio", "--device", "/x", "--modem", "kiss"], b"");
    assert_eq!(out.status.code(), Some(2), "no role: {out:?}");
    let out = run(
        &["radio", "--modem", "kiss", "--connect", "127.0.0.1:9"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "no device: {out:?}");
}

/// The frames of every ```` ```radio-frames ```` block in
/// docs/protocol.md: (line, from the near end, bytes). A line starting
/// `a>` or `b>` begins a frame, other lines continue it, `#` starts a
/// comment.
fn documented_frames() -> Vec<Vec<(usize, bool, Vec<u8>)>> {
    let md = include_str!("../docs/protocol.md");
    let mut blocks = Vec::new();
    let mut open: Option<Vec<(usize, bool, Vec<u8>)>> = None;
    for (i, line) in md.lines().enumerate() {
        if line.starts_with("```") {
            match open.take() {
                Some(block) => blocks.push(block),
                None if line.trim() == "```radio-frames" => open = Some(Vec::new()),
                None => {}
            }
            continue;
        }
        let Some(block) = &mut open else { continue };
        let code = line.split('#').next().unwrap();
        let (start, rest) = match code.trim_start().split_at_checked(2) {
            Some(("a>", rest)) => (Some(true), rest),
            Some(("b>", rest)) => (Some(false), rest),
            _ => (None, code),
        };
        let bytes = unhex(rest);
        match start {
            Some(near) => block.push((i + 1, near, bytes)),
            None if bytes.is_empty() => {}
            None => block
                .last_mut()
                .unwrap_or_else(|| panic!("line {}: continues no frame", i + 1))
                .2
                .extend(bytes),
        }
    }
    blocks
}

#[test]
fn radio_the_documented_frames_decode_and_carry_the_documented_session() {
    use solec::radio::link::Frame;
    use solec::radio::record::{Decoder, Record};
    let blocks = documented_frames();
    assert!(
        !blocks.is_empty(),
        "no radio-frames block in docs/protocol.md"
    );
    for block in blocks {
        // Per direction: the stream bytes in order, and the records in them.
        let mut streams = [Vec::new(), Vec::new()];
        for (line, near, bytes) in &block {
            let frame = Frame::decode(bytes)
                .unwrap_or_else(|e| panic!("docs/protocol.md line {line}: {e}"));
            let mut again = Vec::new();
            frame.encode(&mut again);
            assert_bytes!(again, bytes);
            if let Some((_, data)) = frame.data {
                streams[usize::from(!near)].extend_from_slice(data);
            }
        }
        let records: Vec<Vec<Record>> = streams
            .iter()
            .map(|s| {
                let mut dec = Decoder::new();
                let (mut at, mut out) = (0, Vec::new());
                while at < s.len() {
                    let (r, used) = dec.decode(&s[at..]).unwrap().expect("whole records");
                    out.push(r);
                    at += used;
                }
                out
            })
            .collect();
        let pdus = |rs: &[Record]| -> Vec<Vec<u8>> {
            rs.iter()
                .filter_map(|r| match r {
                    Record::Pdu(_, p) => Some(p.clone()),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            pdus(&records[0]),
            [
                handshake(0, 5, 1),
                user_auth("alice", "s3cr3"),
                message("alice@localhost", "bob@localhost", 1_764_600_000, "hi"),
                message("alice@localhost", "bob@localhost", 1_764_600_003, "hi"),
            ]
        );
        assert_eq!(pdus(&records[1]), vec![SUCCESS.to_vec(); 3]);
        assert!(matches!(records[0].first(), Some(Record::Open(_))));
        assert!(matches!(records[0].last(), Some(Record::Close(_))));
    }
}

#[test]
fn radio_never_exceeds_its_duty_cycle_and_makes_traffic_wait() {
    if !have_ptys() {
        return;
    }
    // 0.01 % of an hour is 360 ms of airtime: a login fits, a 4 KiB
    // message (about 17 frames of 30 ms or more) does not.
    let air = Air::start_with("rnode", &[], &["--duty-cycle", "0.01"]);
    let out = air.send(&["hi"]);
    assert!(out.status.success(), "{out:?}\nnear:\n{}", air.near.text());
    let big = "y".repeat(4096);
    let mut send = solec()
        .args([
            "send",
            "bob",
            "--server",
            &air.addr,
            "--user",
            "alice@localhost",
        ])
        .env("SOLEC_PASSWORD", PW)
        .arg(&big)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    air.near.wait_for("duty-cycle budget spent: traffic waits");
    let frames = air.settled_frames();
    let _ = send.kill();
    let _ = send.wait();
    let near_airtime: f64 = frames.iter().filter(|f| f.0).map(|f| f.3).sum();
    eprintln!("near radio: {near_airtime:.3} ms on air of a 360 ms budget");
    assert!(near_airtime <= 360.0, "{near_airtime} ms");
    // The message waits for budget; it is not lost, and not delivered yet.
    assert_eq!(air.history(), ["hi"]);
}

#[test]
fn radio_shows_a_progress_bar_for_a_long_message_on_a_terminal() {
    if !have_ptys() {
        return;
    }
    use std::io::Read as _;
    let air = Air::start("rnode", &[]);
    // A second near radio whose stderr is a terminal, on a fresh
    // emulator pair so the first one's link is left alone.
    let dir = TempDir::new();
    let (a, b) = (dir.join("a"), dir.join("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let emu = Proc::spawn(&[
        "radio", "emulate", "--modem", "rnode", "--port", a, "--port", b, "--sf", "7", "--bw",
        "500",
    ]);
    emu.wait_for("emulating 2 ports");
    let server_addr = air.server.server_arg();
    let mut far_args = vec!["radio", "--device", b, "--modem", "rnode"];
    far_args.extend(["--connect", &server_addr]);
    far_args.extend(RADIO);
    let far = Proc::spawn(&far_args);
    far.wait_for("radio ready");
    let pty = solec::radio::serial::openpty().expect("a pty");
    let near = solec()
        .args([
            "radio",
            "--device",
            a,
            "--modem",
            "rnode",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(RADIO)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(pty.slave))
        .spawn()
        .unwrap();
    let near = Proc {
        child: Some(near),
        log: Default::default(),
    };
    let mut master = pty.master;
    let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = master.read(&mut buf) {
            seen.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let wait_screen = |needle: &str| -> String {
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            let text = screen.lock().unwrap().clone();
            if let Some((_, rest)) = text.split_once(needle) {
                return rest.to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no `{needle}` in:\n{text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let addr: String = wait_screen("radio listening on ")
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let big = "z".repeat(4096);
    let out = run_cmd(
        solec()
            .args([
                "send",
                "bob",
                "--server",
                &addr,
                "--user",
                "alice@localhost",
                // 4 KiB over the emulated air takes a while on a busy host.
                "--timeout",
                "120",
            ])
            .env("SOLEC_PASSWORD", PW)
            .arg(&big),
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    // The bar, not a log line: "1.50 KiB/4.03 KiB over the air".
    wait_screen("KiB over the air");
    drop(near);
    assert_eq!(air.history().last(), Some(&big));
}
