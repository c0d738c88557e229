//! `solec radio`: the airtime calculator, the modem emulator, SOLEC
//! sessions carried end to end through pseudo-terminals, and two servers
//! federated over the emulated air, with the bytes each message costs.

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

    /// Every frame the emulator logged.
    fn frames(&self) -> Vec<(bool, u64, bool, f64)> {
        frames_logged(&self.dir, "a")
    }

    /// Every frame, once the link has gone quiet.
    fn settled_frames(&self) -> Vec<(bool, u64, bool, f64)> {
        settled_frames(&self.dir, "a")
    }
}

/// Every frame the emulator logged to `dir/air.jsonl`: (from port
/// `dir/near`, bytes, lost, airtime in ms).
fn frames_logged(dir: &TempDir, near: &str) -> Vec<(bool, u64, bool, f64)> {
    let text = std::fs::read_to_string(dir.join("air.jsonl")).unwrap();
    let near = dir.join(near);
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

/// Waits until the emulator has logged no new frame for a while (the last
/// acks and closes have gone), returning every frame so far.
fn settled_frames(dir: &TempDir, near: &str) -> Vec<(bool, u64, bool, f64)> {
    let deadline = std::time::Instant::now() + TIMEOUT * 2;
    let mut last = frames_logged(dir, near);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let now = frames_logged(dir, near);
        if now.len() == last.len() || std::time::Instant::now() > deadline {
            return now;
        }
        last = now;
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

/// Whole PDUs, in order.
type Pdus = Vec<Vec<u8>>;

/// The PDUs each worked example of docs/protocol.md section 15 carries:
/// (near to far, far to near), in the order of the blocks.
fn documented_pdus() -> Vec<(Pdus, Pdus)> {
    let relay = |code: u8, n: u64| pdu(code, &n.to_be_bytes());
    let bytes = |from: u8| (from..from + 32).collect::<Vec<u8>>();
    let client = (
        vec![
            handshake(0, 5, 1),
            user_auth("alice", "s3cr3"),
            message("alice@localhost", "bob@localhost", 1_764_600_000, "hi"),
            message("alice@localhost", "bob@localhost", 1_764_600_003, "hi"),
        ],
        vec![SUCCESS.to_vec(); 3],
    );
    // The nonces and signatures of section 8.3's worked example.
    let sig_a = unhex(
        "b7070b92e53f58a6735acbc788622894ca949fb925eaefa4a03fb205c5acd610\
         f0ca96c4fa0f9cf8d0a07ecf82cbd5c3f63db5b5e0f419ed9ed9f5c1c5903504",
    );
    let sig_b = unhex(
        "92a9745294735be737360d0a4e57c1123e045cb5de1af2b9292c58371cc75344\
         786086ab5be3ae2dbc372348fcbe78d24d5a3633d46d64093a6b283620513401",
    );
    let servers = (
        vec![
            handshake(0, 5, 2),
            pdu(0x06, &string("a.example")),
            pdu(0x86, &bytes(0x00)),
            pdu(0x87, &sig_a),
            relay(0x88, 1),
            message("alice@a.example", "bob@b.example", 1_764_600_000, "hi"),
            message("alice@a.example", "bob@b.example", 1_764_600_003, "hi"),
        ],
        vec![
            pdu(0x86, &bytes(0x20)),
            pdu(0x87, &sig_b),
            SUCCESS.to_vec(),
            relay(0x89, 0),
            relay(0x89, 1),
            relay(0x89, 2),
        ],
    );
    vec![client, servers]
}

#[test]
fn radio_the_documented_frames_decode_and_carry_the_documented_sessions() {
    use solec::radio::link::Frame;
    use solec::radio::record::{Decoder, Record};
    let blocks = documented_frames();
    let want = documented_pdus();
    assert_eq!(
        blocks.len(),
        want.len(),
        "radio-frames blocks in docs/protocol.md"
    );
    for (block, (near, far)) in blocks.into_iter().zip(want) {
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
        assert_eq!(pdus(&records[0]), near, "line {}", block[0].0);
        assert_eq!(pdus(&records[1]), far, "line {}", block[0].0);
        assert!(matches!(records[0].first(), Some(Record::Open(_))));
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

/// Two servers and their radios: a.example behind radio A, b.example
/// behind radio B, each radio listening for its own server's outbound
/// link and connecting the other side's to its server.
struct Federated {
    dir: TempDir,
    a: Server,
    b: Server,
    _emulator: Proc,
    radio_a: Proc,
    radio_b: Proc,
}

impl Federated {
    fn start() -> Federated {
        let dir = TempDir::new();
        let (pa, pb, log) = (dir.join("a"), dir.join("b"), dir.join("air.jsonl"));
        let (pa, pb) = (pa.to_str().unwrap(), pb.to_str().unwrap());
        let mut args = vec!["radio", "emulate", "--modem", "rnode"];
        args.extend(["--port", pa, "--port", pb, "--sf", "7", "--bw", "500"]);
        args.extend(["--log", log.to_str().unwrap()]);
        let emulator = Proc::spawn(&args);
        emulator.wait_for("emulating 2 ports");
        let a = Server::start_with_config("(name: \"a.example\")");
        let b = Server::start_with_config("(name: \"b.example\")");
        let radio = |port: &str, server: &Server| {
            let mut args = vec!["radio", "--device", port, "--modem", "rnode"];
            let own = server.server_arg();
            args.extend(["--listen", "127.0.0.1:0", "--connect", &own]);
            args.extend(RADIO);
            let p = Proc::spawn(&args);
            let addr = p.wait_for("radio listening on ").trim().to_owned();
            p.wait_for("radio ready");
            (p, addr)
        };
        let (radio_a, listen_a) = radio(pa, &a);
        let (radio_b, listen_b) = radio(pb, &b);
        // Each server reaches the other through its own radio.
        let (ka, kb) = (key_of(&a), key_of(&b));
        federate(&a, &["add", "b.example", &listen_a, "--key", &kb]);
        federate(&b, &["add", "a.example", &listen_b, "--key", &ka]);
        for (s, user, contact) in [
            (&a, "alice", "bob@b.example"),
            (&b, "bob", "alice@a.example"),
        ] {
            s.add_user(user, PW);
            let mut c = s.login(user, PW);
            c.send(&contact_add(contact));
            c.expect(&SUCCESS);
        }
        Federated {
            dir,
            a,
            b,
            _emulator: emulator,
            radio_a,
            radio_b,
        }
    }

    /// `solec send` of one line, as `user@server` on `server`.
    fn send(&self, server: &Server, user: &str, to: &str, text: &str) {
        let out = run_cmd(
            solec()
                .args(["send", to, text, "--server", &server.server_arg()])
                .args(["--user", user])
                .env("SOLEC_PASSWORD", PW),
            b"",
        );
        assert!(out.status.success(), "{out:?}");
    }

    /// Waits until `user`'s history with `with` on `server` holds `want`.
    fn wait_history(&self, server: &Server, user: &str, with: &str, want: &[&str]) {
        let deadline = std::time::Instant::now() + TIMEOUT * 3;
        loop {
            let out = run_cmd(
                solec()
                    .args(["history", with, "--server", &server.server_arg()])
                    .args(["--user", user])
                    .env("SOLEC_PASSWORD", PW),
                b"",
            );
            assert!(out.status.success(), "{out:?}");
            let got: Vec<String> = stdout(&out)
                .lines()
                .map(|l| l.split_once(": ").unwrap().1.to_owned())
                .collect();
            if got == want {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{user}'s history with {with}: {got:?}, not {want:?}\nradio A:\n{}\nradio B:\n{}",
                self.radio_a.text(),
                self.radio_b.text()
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    fn settled_frames(&self) -> Vec<(bool, u64, bool, f64)> {
        settled_frames(&self.dir, "a")
    }
}

fn federate(s: &Server, args: &[&str]) {
    let mut all = vec!["federate"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data", s.data()]);
    let out = run(&all, b"");
    assert!(out.status.success(), "{out:?}");
}

fn key_of(s: &Server) -> String {
    let out = run(&["federate", "key", "--data", s.data()], b"");
    assert!(out.status.success(), "{out:?}");
    stdout(&out).split_whitespace().nth(1).unwrap().to_owned()
}

/// The bytes on air for one relayed message, from the frames after it was
/// sent: the message is the sender's first frame and the receiver's bare
/// link acks before its first data frame; the acknowledgement is the rest
/// (the RelayAck's frame and the link acks of it).
fn message_and_ack(frames: &[(bool, u64, bool, f64)], from_near: bool) -> (u64, u64) {
    let first = frames
        .iter()
        .position(|f| f.0 == from_near)
        .expect("the message's frame");
    let reply = frames[first + 1..]
        .iter()
        .position(|f| f.0 != from_near && f.1 > 1)
        .map_or(frames.len(), |i| first + 1 + i);
    let total: u64 = frames.iter().map(|f| f.1).sum();
    let message = frames[first].1
        + frames[first + 1..reply]
            .iter()
            .filter(|f| f.0 != from_near)
            .map(|f| f.1)
            .sum::<u64>();
    (message, total - message)
}

#[test]
fn radio_federates_two_servers_and_a_hi_costs_few_bytes_each_way() {
    if !have_ptys() {
        return;
    }
    let f = Federated::start();
    // The first message each way sets up its link (8.3) and teaches the
    // radios the addresses.
    f.send(&f.a, "alice@a.example", "bob@b.example", "hi");
    f.wait_history(&f.b, "bob@b.example", "alice@a.example", &["hi"]);
    f.send(&f.b, "bob@b.example", "alice@a.example", "hi");
    f.wait_history(&f.a, "alice@a.example", "bob@b.example", &["hi", "hi"]);
    let cold = f.settled_frames();
    let set_up: u64 = cold.iter().map(|x| x.1).sum();

    // Then, with both links set up, one "hi" each way.
    f.send(&f.a, "alice@a.example", "bob@b.example", "hi");
    f.wait_history(&f.b, "bob@b.example", "alice@a.example", &["hi"; 3]);
    let after_a = f.settled_frames();
    f.send(&f.b, "bob@b.example", "alice@a.example", "hi");
    f.wait_history(&f.a, "alice@a.example", "bob@b.example", &["hi"; 4]);
    let after_b = f.settled_frames();

    let a_to_b = &after_a[cold.len()..];
    let b_to_a = &after_b[after_a.len()..];
    let (msg_ab, ack_ab) = message_and_ack(a_to_b, true);
    let (msg_ba, ack_ba) = message_and_ack(b_to_a, false);
    let sizes = |fs: &[(bool, u64, bool, f64)]| -> Vec<String> {
        fs.iter()
            .map(|x| format!("{}{}", if x.0 { "A" } else { "B" }, x.1))
            .collect()
    };
    eprintln!(
        "on air: both links set up and the first hi each way {set_up} B in {} frames; \
         then alice@a.example -> bob@b.example \"hi\" {msg_ab} B, its RelayAck {ack_ab} B {:?}; \
         bob -> alice {msg_ba} B, its RelayAck {ack_ba} B {:?}",
        cold.len(),
        sizes(a_to_b),
        sizes(b_to_a)
    );
    if a_to_b.iter().chain(b_to_a).any(|x| x.2) {
        eprintln!("skipped the byte budget check: frames collided, so resends are counted");
        return;
    }
    for (msg, ack) in [(msg_ab, ack_ab), (msg_ba, ack_ba)] {
        assert!(msg <= 12, "{msg} B for the message: {:?}", sizes(a_to_b));
        assert!(
            ack <= 3,
            "{ack} B for its acknowledgement: {:?}",
            sizes(a_to_b)
        );
    }
    assert!(f.radio_a.text().contains("RelayAck of 11 B arrived"));
    assert!(f.radio_b.text().contains("RelayAck of 11 B goes as 1 B"));
}
