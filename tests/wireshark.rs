//! `packaging/wireshark/solec.lua` on real traffic: tshark captures a
//! spawned `solec serve` on loopback while the real clients talk to it, then
//! reads the capture back through the dissector and the test checks the
//! fields it shows, by their draft names. Every worked example of
//! docs/protocol.md, written to a capture by text2pcap, must show the same
//! fields and values as `solec decode --json`.
//!
//! Needs tshark, dumpcap and text2pcap (Debian package `tshark`) and the right to
//! capture on `lo` (root, or the `wireshark` group). Without them the test
//! prints why and passes, unless `SOLEC_REQUIRE_TSHARK=1` (set by `.ci/run`)
//! makes that a failure.

use crate::util::{self, message, Server, SUCCESS, TIMEOUT};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PW: &str = "wire-password";
const DISSECTOR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/wireshark/solec.lua");

/// Why the test cannot run here, if it cannot.
fn missing_tools() -> Option<String> {
    for tool in ["tshark", "dumpcap", "text2pcap"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!(
                "`{tool}` is not installed (apt-get install tshark)"
            ));
        }
    }
    None
}

/// Prints why the test is skipped, or fails when the caller requires it.
fn skip(reason: &str) {
    if std::env::var_os("SOLEC_REQUIRE_TSHARK").is_some_and(|v| v == "1") {
        panic!("SOLEC_REQUIRE_TSHARK=1 but {reason}");
    }
    eprintln!("skipped: {reason}");
}

/// A live tshark capture of one TCP port on `lo`, killed on drop.
struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    /// Starts capturing and returns once tshark says it is capturing.
    fn start(port: u16, file: &Path) -> Result<Capture, String> {
        let mut child = Command::new("tshark")
            .args(["-i", "lo", "-f", &format!("tcp port {port}"), "-q", "-w"])
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start tshark: {e}"))?;
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("Capturing on") {
                    let _ = tx.send(Ok(()));
                }
                seen.push(line);
            }
            let _ = tx.send(Err(seen.join("\n")));
        });
        let capture = Capture {
            child,
            file: file.to_owned(),
        };
        match rx.recv_timeout(TIMEOUT * 3) {
            Ok(Ok(())) => {
                // dumpcap reports before its first poll of the socket.
                std::thread::sleep(Duration::from_millis(300));
                Ok(capture)
            }
            Ok(Err(stderr)) => Err(format!("tshark cannot capture on lo:\n{stderr}")),
            Err(_) => Err("tshark did not start capturing in time".to_owned()),
        }
    }

    /// Stops the capture (SIGINT, so dumpcap flushes) and returns the file.
    fn finish(mut self) -> PathBuf {
        // Let the last segments reach the capture buffer first.
        std::thread::sleep(Duration::from_millis(500));
        util::signal(self.child.id(), libc::SIGINT);
        let status = self.child.wait().expect("tshark exits");
        assert!(status.success(), "tshark capture: {status}");
        self.file.clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One PDU as the dissector shows it in `tshark -V`: its name and its
/// top-level `field: value` lines.
#[derive(Debug)]
struct Shown {
    name: String,
    fields: Vec<(String, String)>,
}

impl Shown {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The dissector's tree for every PDU in `file`, in capture order, with
/// `port` decoded as SOLEC (the capture's port is not the default one).
fn dissect(file: &Path, port: u16) -> Vec<Shown> {
    tshark_tree(file, &["-d", &format!("tcp.port=={port},solec")])
}

/// The same for a capture on the default port 7447, without Decode As.
fn dissect_default_port(file: &Path) -> Vec<Shown> {
    tshark_tree(file, &[])
}

fn tshark_tree(file: &Path, extra: &[&str]) -> Vec<Shown> {
    let out = Command::new("tshark")
        .args(["-X", &format!("lua_script:{DISSECTOR}")])
        .args(extra)
        .args(["-V", "-O", "solec", "-Y", "solec", "-r"])
        .arg(file)
        .output()
        .expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark -r: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Lua: Error"), "{stderr}");
    parse_tree(&text)
}

/// Reads `SOLEC Name` headers and the four-space-indented fields under them.
fn parse_tree(text: &str) -> Vec<Shown> {
    let mut shown: Vec<Shown> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("SOLEC ") {
            shown.push(Shown {
                name: name.to_owned(),
                fields: Vec::new(),
            });
        } else if let (Some(rest), Some(last)) = (line.strip_prefix("    "), shown.last_mut()) {
            // Deeper lines are a field's parts; `[...]` are expert infos.
            if rest.starts_with(' ') || rest.starts_with('[') {
                continue;
            }
            if let Some((k, v)) = rest.split_once(": ") {
                last.fields.push((k.to_owned(), v.to_owned()));
            } else if let Some(k) = rest.strip_suffix(':') {
                last.fields.push((k.to_owned(), String::new()));
            }
        }
    }
    shown
}

fn cli(server: &Server, user: &str, args: &[&str]) {
    let mut cmd = util::solec();
    cmd.args(args)
        .args(["--server", &server.server_arg()])
        .args(["--user", &format!("{user}@localhost")])
        .env("SOLEC_PASSWORD", PW);
    let out = util::run_cmd(&mut cmd, b"");
    assert!(out.status.success(), "solec {args:?}: {out:?}");
}

/// The traffic under capture: the real clients join a channel, post and read
/// its history; a raw client sends a Message split over two TCP segments
/// and then a malformed PDU.
fn talk(server: &Server) {
    cli(server, "alice", &["channel", "join", "general"]);
    cli(
        server,
        "alice",
        &["send", "#general", "hello over the wire"],
    );
    cli(server, "alice", &["history", "#general"]);

    let mut raw = server.login("alice", PW);
    let split = message(
        "alice@localhost",
        "#general@localhost",
        1_700_000_000,
        "in two",
    );
    raw.send(&split[..9]);
    std::thread::sleep(Duration::from_millis(200));
    raw.send(&split[9..]);
    raw.expect(&SUCCESS);
    // A UserAuth whose username claims 9 bytes of the 2 there are.
    raw.send(&util::unhex("04 0004 0009 6162"));
    raw.expect(&util::error(0x80));
    raw.expect_closed();
}

#[test]
fn dissector_shows_a_live_capture_field_by_field() {
    if let Some(reason) = missing_tools() {
        return skip(&reason);
    }
    let server = Server::start();
    server.add_user("alice", PW);
    let file = server.dir.join("solec.pcapng");
    let capture = match Capture::start(server.addr.port(), &file) {
        Ok(c) => c,
        Err(reason) => return skip(&reason),
    };
    talk(&server);
    let shown = dissect(&capture.finish(), server.addr.port());
    let names: Vec<&str> = shown.iter().map(|s| s.name.as_str()).collect();

    // The send: a Message with every field by its draft name.
    let sent = shown
        .iter()
        .find(|s| s.name.starts_with("Message") && s.field("message_content").is_some())
        .unwrap_or_else(|| panic!("no Message shown: {names:?}"));
    assert_eq!(sent.field("type"), Some("Message (0x05)"));
    assert_eq!(sent.field("source_address"), Some("alice@localhost"));
    assert_eq!(sent.field("target_address"), Some("#general@localhost"));
    assert_eq!(sent.field("message_content"), Some("hello over the wire"));
    assert!(sent.field("send_time").is_some(), "{sent:?}");

    // The history: History, then the stored Message, then Success.
    let at = shown
        .iter()
        .position(|s| s.name.starts_with("History"))
        .unwrap_or_else(|| panic!("no History shown: {names:?}"));
    let request = &shown[at];
    assert_eq!(request.field("channel_address"), Some("#general@localhost"));
    for field in ["since", "count", "offset"] {
        assert!(request.field(field).is_some(), "no {field}: {request:?}");
    }
    // The client's Features request was pipelined behind its login, so
    // the answer to it may come after the History request in the capture.
    let reply: Vec<&Shown> = shown[at + 1..]
        .iter()
        .filter(|s| s.name != "Features")
        .take(2)
        .collect();
    assert_eq!(
        reply[0].field("message_content"),
        Some("hello over the wire")
    );
    assert_eq!(reply[1].name, "Success", "{names:?}");

    // Reassembled across two segments: the whole Message, its date shown.
    let split = shown
        .iter()
        .find(|s| s.field("message_content") == Some("in two"))
        .unwrap_or_else(|| panic!("split Message not reassembled: {names:?}"));
    assert_eq!(
        split.field("send_time"),
        Some("1700000000 (2023-11-14 22:13:20 UTC)")
    );

    // The malformed UserAuth is marked, and the Error 0x80 after it named.
    let bad = shown
        .iter()
        .find(|s| s.name == "UserAuth [Malformed]")
        .unwrap_or_else(|| panic!("malformed UserAuth not marked: {names:?}"));
    assert_eq!(bad.field("type"), Some("UserAuth (0x04)"));
    assert!(
        shown
            .iter()
            .any(|s| s.name == "Error" && s.field("error_type") == Some("bad request (0x80)")),
        "{names:?}"
    );
}

#[test]
fn the_tree_parser_reads_tshark_verbose_output() {
    let text = "Frame 1\nSOLEC History\n    type: History (0x08)\n    channel_address: #c@b\n        string length: 4\n    since: 0\n    [Expert Info (Note/Undecoded): x]\nSOLEC Success\n    type: Success (0x01)\n";
    let shown = parse_tree(text);
    assert_eq!(shown.len(), 2);
    assert_eq!(shown[0].field("channel_address"), Some("#c@b"));
    assert_eq!(shown[0].field("string length"), None);
    assert_eq!(shown[0].fields.len(), 3, "{shown:?}");
    assert_eq!(shown[1].name, "Success");
}

const PROTOCOL_MD: &str = include_str!("../docs/protocol.md");

/// Every ```` ```INFO ```` block of docs/protocol.md, as the bytes of
/// each of its lines (`#` starts a comment).
fn documented_blocks(info: &str) -> Vec<Vec<Vec<u8>>> {
    let mut blocks = Vec::new();
    let mut inside = false;
    for line in PROTOCOL_MD.lines() {
        if let Some(fence) = line.strip_prefix("```") {
            inside = !inside && fence == info;
            if inside {
                blocks.push(Vec::new());
            }
            continue;
        }
        let hex = line.split('#').next().unwrap_or_default();
        if let (true, Some(block)) = (inside && !hex.trim().is_empty(), blocks.last_mut()) {
            block.push(util::unhex(hex));
        }
    }
    blocks
}

/// Splits a run of whole PDUs by their length fields.
fn split_pdus(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut pdus = Vec::new();
    while bytes.len() >= 3 {
        let end = 3 + usize::from(u16::from_be_bytes([bytes[1], bytes[2]]));
        pdus.push(bytes[..end].to_vec());
        bytes = &bytes[end..];
    }
    assert!(bytes.is_empty(), "a documented PDU is cut short");
    pdus
}

/// A capture of `segments` sent in order on one TCP connection to port
/// 7447, written by text2pcap (shipped with tshark).
fn pcap_of(segments: &[Vec<u8>], dir: &Path) -> PathBuf {
    let text: String = segments
        .iter()
        .map(|s| format!("0000 {}\n\n", util::spaced_hex(s)))
        .collect();
    let (input, output) = (dir.join("pdus.txt"), dir.join("pdus.pcap"));
    std::fs::write(&input, text).unwrap();
    let out = Command::new("text2pcap")
        .args(["-q", "-T", "40000,7447"])
        .args([&input, &output])
        .output()
        .expect("run text2pcap");
    assert!(out.status.success(), "text2pcap: {out:?}");
    output
}

/// A dissector value read as the number `solec decode --json` gives:
/// `user -> server (0x01)` is 1, `1700000000 (2023-...)` is 1700000000.
fn shown_number(value: &str) -> Option<i128> {
    if let Some(hex) = value
        .rsplit_once("(0x")
        .and_then(|(_, h)| h.strip_suffix(')'))
    {
        return i128::from_str_radix(hex, 16).ok();
    }
    value.split(' ').next()?.parse().ok()
}

/// Every PDU of every worked example in docs/protocol.md shows, on the
/// default port, exactly the fields `solec decode --json` gives it, by the
/// same names and with the same values; each malformed example is marked.
#[test]
fn dissector_agrees_with_decode_on_every_documented_pdu() {
    if let Some(reason) = missing_tools() {
        return skip(&reason);
    }
    let dir = util::TempDir::new();
    let pdus: Vec<Vec<u8>> = documented_blocks("hex")
        .iter()
        .flat_map(|block| split_pdus(&block.concat()))
        .collect();
    let all = pdus.concat();
    let decoded = util::run(&["decode", "--json"], util::spaced_hex(&all).as_bytes());
    assert!(decoded.status.success(), "{decoded:?}");
    let decoded: Vec<(String, serde_json::Value)> = String::from_utf8_lossy(&decoded.stdout)
        .lines()
        .map(|l| (l.to_owned(), serde_json::from_str(l).unwrap()))
        .collect();

    let shown = dissect_default_port(&pcap_of(&pdus, dir.path()));
    assert_eq!(shown.len(), decoded.len(), "{shown:?}");
    for (shown, (line, want)) in shown.iter().zip(&decoded) {
        let want = want.as_object().unwrap();
        // In the line's order, which is the wire order (the map sorts them).
        let mut expected: Vec<&String> = want
            .keys()
            .filter(|k| !["at", "type", "code", "length"].contains(&k.as_str()))
            .collect();
        expected.sort_by_key(|k| line.find(&format!("\"{k}\":")));
        let got: Vec<&String> = shown
            .fields
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !["type", "length"].contains(&k.as_str()))
            .collect();
        assert_eq!(got, expected, "{} fields", shown.name);
        for key in expected {
            let value = shown.field(key).unwrap();
            match &want[key] {
                serde_json::Value::String(s) => assert_eq!(value, s, "{}.{key}", shown.name),
                serde_json::Value::Number(n) => assert_eq!(
                    shown_number(value),
                    n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
                    "{}.{key} = {value}",
                    shown.name
                ),
                other => panic!("unexpected JSON {other}"),
            }
        }
    }

    // The last malformed example announces a payload longer than
    // max_pdu_bytes and sends none: there is no whole PDU to show.
    let malformed = documented_blocks("hex-malformed").concat();
    let shown = dissect_default_port(&pcap_of(&malformed, dir.path()));
    let names: Vec<&str> = shown.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), malformed.len() - 1, "{names:?}");
    assert!(
        names.iter().all(|n| n.ends_with(" [Malformed]")),
        "{names:?}"
    );
}
