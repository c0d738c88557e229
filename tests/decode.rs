//! `solec decode` and `solec encode`, driven through the binary.
//!
//! One stream of six PDUs, written byte by byte from the draft's layouts, is
//! fed in every accepted hex format and must decode to the same exact text
//! and JSON. The dumps are literal strings captured once from `xxd`,
//! `hexdump -C` and `od`, so the tests need none of those tools. Errors are
//! checked by their exact stderr line and exit status, and `encode` is
//! checked against the same byte vectors and through `decode`.

use crate::util::{run, unhex, TempDir};
use std::process::Output;

/// The stream, one PDU per line, fields separated: Handshake(0, 5, user),
/// UserAuth("alice", "pw"), Message(alice@localhost -> bob@localhost,
/// 1700000000, "hi\n"), Error(not found), unknown type 0x42 with payload
/// 010203, Success. 81 bytes.
const STREAM: [&str; 6] = [
    "03 0003 00 05 01",
    "04 000b 0005 616c696365 0002 7077",
    "05 002d 000f 616c696365406c6f63616c686f7374 000d 626f62406c6f63616c686f7374 \
     000000006553f100 0003 68690a",
    "02 0001 02",
    "42 0003 010203",
    "01 0000",
];

/// `solec decode` of [`STREAM`].
const STREAM_TEXT: &str = r#"at 0: Handshake (0x03), length 3
  ver_major: 0
  ver_minor: 5
  conn_type: 0x01 (user -> server)

at 6: UserAuth (0x04), length 11
  username: "alice"
  password: "pw"

at 20: Message (0x05), length 45
  source_address: "alice@localhost"
  target_address: "bob@localhost"
  send_time: 1700000000 (2023-11-14T22:13:20Z)
  message_content: "hi\n"

at 68: Error (0x02), length 1
  error_type: 0x02 (not found)

at 72: Unknown (0x42), length 3
  payload: 010203

at 78: Success (0x01), length 0
"#;

/// `solec decode --json` of [`STREAM`].
const STREAM_JSON: &str = r#"{"at":0,"type":"Handshake","code":3,"length":3,"ver_major":0,"ver_minor":5,"conn_type":1}
{"at":6,"type":"UserAuth","code":4,"length":11,"username":"alice","password":"pw"}
{"at":20,"type":"Message","code":5,"length":45,"source_address":"alice@localhost","target_address":"bob@localhost","send_time":1700000000,"message_content":"hi\n"}
{"at":68,"type":"Error","code":2,"length":1,"error_type":2}
{"at":72,"type":"Unknown","code":66,"length":3,"payload":"010203"}
{"at":78,"type":"Success","code":1,"length":0}
"#;

/// `xxd` (2-byte groups, ASCII column full of letters).
const XXD: &str = "\
00000000: 0300 0300 0501 0400 0b00 0561 6c69 6365  ...........alice
00000010: 0002 7077 0500 2d00 0f61 6c69 6365 406c  ..pw..-..alice@l
00000020: 6f63 616c 686f 7374 000d 626f 6240 6c6f  ocalhost..bob@lo
00000030: 6361 6c68 6f73 7400 0000 0065 53f1 0000  calhost....eS...
00000040: 0368 690a 0200 0102 4200 0301 0203 0100  .hi.....B.......
00000050: 00                                       .
";

/// `xxd -g1 -u`.
const XXD_G1_UPPER: &str = "\
00000000: 03 00 03 00 05 01 04 00 0B 00 05 61 6C 69 63 65  ...........alice
00000010: 00 02 70 77 05 00 2D 00 0F 61 6C 69 63 65 40 6C  ..pw..-..alice@l
00000020: 6F 63 61 6C 68 6F 73 74 00 0D 62 6F 62 40 6C 6F  ocalhost..bob@lo
00000030: 63 61 6C 68 6F 73 74 00 00 00 00 65 53 F1 00 00  calhost....eS...
00000040: 03 68 69 0A 02 00 01 02 42 00 03 01 02 03 01 00  .hi.....B.......
00000050: 00                                               .
";

/// `hexdump -C`, with its trailing lone offset line.
const HEXDUMP_C: &str = "\
00000000  03 00 03 00 05 01 04 00  0b 00 05 61 6c 69 63 65  |...........alice|
00000010  00 02 70 77 05 00 2d 00  0f 61 6c 69 63 65 40 6c  |..pw..-..alice@l|
00000020  6f 63 61 6c 68 6f 73 74  00 0d 62 6f 62 40 6c 6f  |ocalhost..bob@lo|
00000030  63 61 6c 68 6f 73 74 00  00 00 00 65 53 f1 00 00  |calhost....eS...|
00000040  03 68 69 0a 02 00 01 02  42 00 03 01 02 03 01 00  |.hi.....B.......|
00000050  00                                                |.|
00000051
";

/// `od -An -tx1`.
const OD_AN: &str = "\
 03 00 03 00 05 01 04 00 0b 00 05 61 6c 69 63 65
 00 02 70 77 05 00 2d 00 0f 61 6c 69 63 65 40 6c
 6f 63 61 6c 68 6f 73 74 00 0d 62 6f 62 40 6c 6f
 63 61 6c 68 6f 73 74 00 00 00 00 65 53 f1 00 00
 03 68 69 0a 02 00 01 02 42 00 03 01 02 03 01 00
 00
";

/// `od -tx1`: octal offsets and a trailing lone offset line.
const OD_OFFSETS: &str = "\
0000000 03 00 03 00 05 01 04 00 0b 00 05 61 6c 69 63 65
0000020 00 02 70 77 05 00 2d 00 0f 61 6c 69 63 65 40 6c
0000040 6f 63 61 6c 68 6f 73 74 00 0d 62 6f 62 40 6c 6f
0000060 63 61 6c 68 6f 73 74 00 00 00 00 65 53 f1 00 00
0000100 03 68 69 0a 02 00 01 02 42 00 03 01 02 03 01 00
0000120 00
0000121
";

fn stream_bytes() -> Vec<u8> {
    unhex(&STREAM.concat())
}

fn stdout(out: &Output) -> &str {
    std::str::from_utf8(&out.stdout).expect("utf-8 stdout")
}

fn stderr(out: &Output) -> &str {
    std::str::from_utf8(&out.stderr).expect("utf-8 stderr")
}

/// Asserts a run succeeded and printed exactly `want`.
fn assert_ok(out: &Output, want: &str) {
    assert_eq!(stderr(out), "", "stderr");
    assert_eq!(stdout(out), want, "stdout");
    assert_eq!(out.status.code(), Some(0), "exit status");
}

/// Asserts a run failed with `code`, printing `want_out` then `want_err`.
fn assert_fails(out: &Output, code: i32, want_out: &str, want_err: &str) {
    assert_eq!(stdout(out), want_out, "stdout");
    assert_eq!(stderr(out), want_err, "stderr");
    assert_eq!(out.status.code(), Some(code), "exit status");
}

/// The first `n` blocks of [`STREAM_TEXT`], as printed before an error.
fn text_blocks(n: usize) -> String {
    let blocks: Vec<&str> = STREAM_TEXT.split("\n\n").take(n).collect();
    format!("{}\n", blocks.join("\n\n").trim_end())
}

fn json_lines(n: usize) -> String {
    STREAM_JSON
        .lines()
        .take(n)
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn every_input_format_decodes_to_the_same_text() {
    let bytes = stream_bytes();
    let spaced_upper: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
    let c_array: Vec<String> = bytes.iter().map(|b| format!("0x{b:02x}")).collect();
    let formats = [
        ("plain, one PDU a line", STREAM.join("\n")),
        ("plain, one line", hex::encode(&bytes)),
        ("plain, colons, upper case", spaced_upper.join(":")),
        ("plain, 0x and commas, CRLF", c_array.join(",\r\n")),
        ("xxd", XXD.to_string()),
        ("xxd -g1 -u", XXD_G1_UPPER.to_string()),
        ("hexdump -C", HEXDUMP_C.to_string()),
        ("od -An -tx1", OD_AN.to_string()),
        ("od -tx1", OD_OFFSETS.to_string()),
    ];
    for (name, input) in formats {
        let out = run(&["decode"], input.as_bytes());
        assert_eq!(stderr(&out), "", "{name}: stderr");
        assert_eq!(stdout(&out), STREAM_TEXT, "{name}: stdout");
        assert_eq!(out.status.code(), Some(0), "{name}: exit status");
    }
}

#[test]
fn hex_arguments_are_joined() {
    let mut args = vec!["decode"];
    args.extend(STREAM.iter().flat_map(|pdu| pdu.split(' ')));
    assert_ok(&run(&args, b""), STREAM_TEXT);
}

#[test]
fn json_is_one_exact_line_per_pdu() {
    assert_ok(&run(&["decode", "--json"], XXD.as_bytes()), STREAM_JSON);
}

#[test]
fn json_names_history_offset_apart_from_stream_position() {
    // Success, then History("#c@l", since 1700000000, count 20, offset -3)
    // starting at byte 3.
    let input = "010000 08001e 0004 2363406c 000000006553f100 0000000000000014 fffffffffffffffd";
    let want = concat!(
        r#"{"at":0,"type":"Success","code":1,"length":0}"#,
        "\n",
        r##"{"at":3,"type":"History","code":8,"length":30,"channel_address":"#c@l","since":1700000000,"count":20,"offset":-3}"##,
        "\n",
    );
    assert_ok(&run(&["decode", "--json", input], b""), want);
}

#[test]
fn json_shows_enum_values_and_every_test_width() {
    let input = "\
        03 0003 00 05 09\n\
        07 000c 0003 626f62 0004 2363406c 02\n\
        ff 000f ff ffff ffffffff ffffffffffffffff\n";
    let want = concat!(
        r#"{"at":0,"type":"Handshake","code":3,"length":3,"ver_major":0,"ver_minor":5,"conn_type":9}"#,
        "\n",
        r##"{"at":6,"type":"UserMode","code":7,"length":12,"user_address":"bob","channel_address":"#c@l","mode":2}"##,
        "\n",
        r#"{"at":21,"type":"Test","code":255,"length":15,"num1":255,"num2":65535,"num3":4294967295,"num4":18446744073709551615}"#,
        "\n",
    );
    assert_ok(&run(&["decode", "--json"], input.as_bytes()), want);
}

#[test]
fn message_block_escapes_controls_and_shows_the_time() {
    // Message(alice@localhost -> #rust@localhost, 0, "say \"hi\"\t\x1b[2J\u{202e}é").
    let content = "say \"hi\"\t\u{1b}[2J\u{202e}é";
    let payload = format!(
        "000f{}000f{}0000000000000000{:04x}{}",
        hex::encode("alice@localhost"),
        hex::encode("#rust@localhost"),
        content.len(),
        hex::encode(content),
    );
    let input = format!("05{:04x}{payload}", payload.len() / 2);
    let want = r##"at 0: Message (0x05), length 62
  source_address: "alice@localhost"
  target_address: "#rust@localhost"
  send_time: 0 (1970-01-01T00:00:00Z)
  message_content: "say \"hi\"\t\u{1b}[2J\u{202e}é"
"##;
    assert_ok(&run(&["decode", &input], b""), want);
}

#[test]
fn the_largest_time_still_shows_a_date() {
    // History("x", since u64::MAX, 0, 0).
    let input = "08 001b 0001 78 ffffffffffffffff 0000000000000000 0000000000000000";
    let want = "at 0: History (0x08), length 27\n  channel_address: \"x\"\n  \
                since: 18446744073709551615 (584554051223-11-09T07:00:15Z)\n  count: 0\n  \
                offset: 0\n";
    assert_ok(&run(&["decode", input], b""), want);
}

/// The first three PDUs of [`STREAM`], then a Message whose target_address
/// (at byte 68 + 8) claims 9 bytes with 1 left, then a Success never shown.
fn malformed_stream() -> String {
    let bad = "05 0008 0003 616263 0009 62";
    format!("{}\n{bad}\n01 0000\n", STREAM[..3].join("\n"))
}

#[test]
fn malformed_pdu_is_reported_after_the_pdus_before_it() {
    let out = run(&["decode"], malformed_stream().as_bytes());
    let err = "solec: malformed Message (0x05) at byte 68: string `target_address` at offset 76 \
               claims 9 bytes but only 1 remain in the payload\n";
    assert_fails(&out, 1, &text_blocks(3), err);
}

#[test]
fn malformed_pdu_in_json_ends_with_an_error_object() {
    let out = run(&["decode", "--json"], malformed_stream().as_bytes());
    let reason = "malformed Message (0x05) at byte 68: string `target_address` at offset 76 \
                  claims 9 bytes but only 1 remain in the payload";
    let want = format!(
        "{}{{\"at\":68,\"error\":\"malformed\",\"type\":\"Message\",\"code\":5,\
         \"field\":\"target_address\",\"field_at\":76,\"reason\":\"{reason}\"}}\n",
        json_lines(3)
    );
    assert_fails(&out, 1, &want, &format!("solec: {reason}\n"));
}

#[test]
fn bad_fields_are_reported_at_their_absolute_offset() {
    let cases = [
        // Error with a byte after error_type.
        (
            "010000 02000202ff",
            "malformed Error (0x02) at byte 3: 1 trailing bytes after the last field, at offset 7",
        ),
        // ServerAuth whose name is not UTF-8.
        (
            "010000 0600030001ff",
            "malformed ServerAuth (0x06) at byte 3: string `name` has invalid UTF-8 at offset 8",
        ),
        // The reserved type.
        (
            "010000 000000",
            "malformed Reserved (0x00) at byte 3: type 0x00 is reserved",
        ),
    ];
    for (input, reason) in cases {
        let out = run(&["decode", input], b"");
        let want_out = "at 0: Success (0x01), length 0\n";
        assert_fails(&out, 1, want_out, &format!("solec: {reason}\n"));
    }
}

#[test]
fn truncated_last_pdu_is_reported_not_dropped() {
    // The Message's header says 45 payload bytes; 11 follow.
    let input = format!(
        "{}\n05 002d 000f 616c696365406c6f63\n",
        STREAM[..2].join("\n")
    );
    let out = run(&["decode"], input.as_bytes());
    let err = "solec: truncated Message (0x05) at byte 20: the header announces 45 payload \
               bytes but the input ends after 11\n";
    assert_fails(&out, 1, &text_blocks(2), err);
}

#[test]
fn truncated_header_is_reported() {
    let out = run(&["decode", "--json", STREAM[0], "0500"], b"");
    let reason = "truncated Message (0x05) at byte 6: the input ends inside the 3-byte header, \
                  after 2 byte(s)";
    let want = format!(
        "{}{{\"at\":6,\"error\":\"truncated\",\"type\":\"Message\",\"code\":5,\"reason\":\"{reason}\"}}\n",
        json_lines(1)
    );
    assert_fails(&out, 1, &want, &format!("solec: {reason}\n"));
}

#[test]
fn bad_hex_names_the_line_and_token() {
    let out = run(&["decode"], b"030003000501\n04 000b 00zz\n");
    assert_fails(
        &out,
        2,
        "",
        "solec: bad hex input: line 2: not hex: `00zz`\n",
    );

    let out = run(&["decode", "0300", "03x0"], b"");
    assert_fails(
        &out,
        2,
        "",
        "solec: bad hex input: argument 2: not hex: `03x0`\n",
    );

    let out = run(&["decode"], b"0300\n030\n");
    let err = "solec: bad hex input: line 2: odd number of hex digits: the last byte is \
               missing a digit: `030`\n";
    assert_fails(&out, 2, "", err);
}

#[test]
fn broken_dumps_are_refused_not_misread() {
    let dropped_line: String = XXD
        .lines()
        .filter(|l| !l.starts_with("00000020"))
        .collect::<Vec<_>>()
        .join("\n");
    let out = run(&["decode"], dropped_line.as_bytes());
    let err = "solec: bad hex input: line 3: offset does not follow the lines before it \
               (expected 00000020): a line is missing or was edited: `00000030`\n";
    assert_fails(&out, 2, "", err);

    let words = "0000000 0003 0003 0501 0400\n0000010\n";
    let out = run(&["decode"], words.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("solec: bad hex input: line 1: this looks like 16-bit words"));

    let binary = run(&["decode"], &stream_bytes());
    let err = "solec: standard input is not text; for binary input use `solec decode --raw -`\n";
    assert_fails(&binary, 2, "", err);
}

/// Offsets at the top of the 64-bit range: an error naming the line, not
/// a panic (exit 101) on overflow.
#[test]
fn dump_offsets_past_u64_max_are_refused() {
    let err = "solec: bad hex input: line 1: the dump's bytes run past offset \
               ffffffffffffffff, the largest a dump can have: `ffffffffffffffff`\n";
    let xxd = "ffffffffffffffff: 0102  ..\nffffffffffffffff: 0304  ..\n";
    assert_fails(&run(&["decode"], xxd.as_bytes()), 2, "", err);
    let hexdump = "ffffffffffffffff  01 02  |..|\nffffffffffffffff  03 04  |..|\n";
    assert_fails(&run(&["decode"], hexdump.as_bytes()), 2, "", err);
}

/// Unknown type 0x42 with 60 zero bytes, where the dump collapsed a line.
const ZEROS_HEXDUMP_C: &str = "\
00000000  42 00 3c 00 00 00 00 00  00 00 00 00 00 00 00 00  |B.<.............|
00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
*
00000030  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00     |...............|
0000003f
";

#[test]
fn collapsed_lines_are_expanded_from_hex_offsets() {
    let want = format!(
        "at 0: Unknown (0x42), length 60\n  payload: {}\n",
        "00".repeat(60)
    );
    assert_ok(&run(&["decode"], ZEROS_HEXDUMP_C.as_bytes()), &want);
}

#[test]
fn collapsed_lines_without_offsets_are_refused() {
    let od = " 42 00 3c 00 00 00 00 00 00 00 00 00 00 00 00 00\n \
              00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n*\n \
              00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n";
    let out = run(&["decode"], od.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).starts_with("solec: bad hex input: line 3: "),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("-v"), "{}", stderr(&out));
}

#[test]
fn raw_bytes_from_a_file_and_from_stdin() {
    let dir = TempDir::new();
    let path = dir.join("capture.bin");
    std::fs::write(&path, stream_bytes()).unwrap();
    assert_ok(
        &run(&["decode", "--raw", path.to_str().unwrap()], b""),
        STREAM_TEXT,
    );
    assert_ok(
        &run(&["decode", "--raw", "-", "--json"], &stream_bytes()),
        STREAM_JSON,
    );

    let missing = dir.join("missing.bin");
    let out = run(&["decode", "--raw", missing.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("missing.bin"), "{}", stderr(&out));
}

#[test]
fn empty_input_decodes_to_nothing() {
    assert_ok(&run(&["decode"], b""), "");
}

/// Runs `solec encode ARGS`, checks it printed one line of lowercase hex,
/// and returns the bytes.
fn encode(args: &[&str]) -> Vec<u8> {
    let mut full = vec!["encode"];
    full.extend_from_slice(args);
    let out = run(&full, b"");
    assert_eq!(stderr(&out), "", "encode {args:?}");
    assert_eq!(out.status.code(), Some(0), "encode {args:?}");
    let line = stdout(&out).strip_suffix('\n').expect("newline-terminated");
    assert!(
        line.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{line:?}"
    );
    unhex(line)
}

#[test]
fn encode_matches_the_draft_byte_vectors() {
    let message = [
        "message",
        "--from",
        "alice@localhost",
        "--to",
        "bob@localhost",
        "--time",
        "1700000000",
        "--text",
        "hi\n",
    ];
    let cases: [&[&str]; 6] = [
        &["handshake"],
        &["user-auth", "alice", "pw"],
        &message,
        &["error", "not-found"],
        &["raw", "0x42", "01", "0203"],
        &["success"],
    ];
    for (args, want) in cases.iter().zip(STREAM) {
        assert_bytes!(encode(args), unhex(want));
    }
    // The time as `decode` prints it gives the same bytes.
    let mut by_date = message;
    by_date[6] = "2023-11-14T22:13:20Z";
    assert_bytes!(encode(&by_date), unhex(STREAM[2]));
}

/// The names come from the codec: every error type it knows has one
/// (server-error, 0x83, was missed by a hand-typed table), and the modes
/// take the spellings `solec channel mode` uses too.
#[test]
fn encode_names_every_value_the_codec_knows() {
    let cases: [(&[&str], &str); 10] = [
        (&["error", "server-error"], "02 0001 83"),
        (&["error", "client-auth-failed"], "02 0001 01"),
        (&["error", "Too-Large"], "02 0001 81"),
        (&["handshake", "--conn-type", "server"], "03 0003 00 05 02"),
        (
            &["user-mode", "a@b", "#c@b", "banned"],
            "07 000c 0003 614062 0004 23634062 03",
        ),
        (
            &["user-mode", "a@b", "#c@b", "ban"],
            "07 000c 0003 614062 0004 23634062 03",
        ),
        (
            &["user-mode", "a@b", "#c@b", "op"],
            "07 000c 0003 614062 0004 23634062 02",
        ),
        (
            &["user-mode", "a@b", "#c@b", "operator"],
            "07 000c 0003 614062 0004 23634062 02",
        ),
        (
            &["user-mode", "a@b", "#c@b", "kick"],
            "07 000c 0003 614062 0004 23634062 00",
        ),
        (
            &["user-mode", "a@b", "#c@b", "member"],
            "07 000c 0003 614062 0004 23634062 01",
        ),
    ];
    for (args, want) in cases {
        assert_bytes!(encode(args), unhex(want));
    }
}

#[test]
fn encode_then_decode_round_trips_every_type() {
    let cases: [(&[&str], &str); 14] = [
        (
            &[
                "handshake",
                "--major",
                "1",
                "--minor",
                "0x02",
                "--conn-type",
                "server",
            ],
            r#""type":"Handshake","code":3,"length":3,"ver_major":1,"ver_minor":2,"conn_type":2"#,
        ),
        (
            &["error", "0x09"],
            r#""type":"Error","code":2,"length":1,"error_type":9"#,
        ),
        (
            &["user-auth", "bob@localhost", "p\"w"],
            r#""type":"UserAuth","code":4,"length":20,"username":"bob@localhost","password":"p\"w""#,
        ),
        (
            &[
                "message", "--from", "a@b", "--to", "#c@b", "--time", "0x10", "--text", "é",
            ],
            r##""type":"Message","code":5,"length":23,"source_address":"a@b","target_address":"#c@b","send_time":16,"message_content":"é""##,
        ),
        (
            &["server-auth", "peer"],
            r#""type":"ServerAuth","code":6,"length":6,"name":"peer""#,
        ),
        (
            &["user-mode", "bob@b", "#c@b", "operator"],
            r##""type":"UserMode","code":7,"length":14,"user_address":"bob@b","channel_address":"#c@b","mode":2"##,
        ),
        (
            &[
                "history", "#c@b", "--since", "5", "--count", "-1", "--offset", "7",
            ],
            r##""type":"History","code":8,"length":30,"channel_address":"#c@b","since":5,"count":-1,"offset":7"##,
        ),
        (
            &["history", "a@b"],
            r#""type":"History","code":8,"length":29,"channel_address":"a@b","since":0,"count":50,"offset":0"#,
        ),
        (
            &["contact-add", "a@b"],
            r#""type":"ContactAdd","code":128,"length":5,"address":"a@b""#,
        ),
        (
            &["contact-remove", "a@b"],
            r#""type":"ContactRemove","code":129,"length":5,"address":"a@b""#,
        ),
        (
            &["contact-list"],
            r#""type":"ContactList","code":130,"length":0"#,
        ),
        (
            &["contact", "a@b"],
            r#""type":"Contact","code":131,"length":5,"address":"a@b""#,
        ),
        (
            &["test", "1", "0x0203", "4", "18446744073709551615"],
            r#""type":"Test","code":255,"length":15,"num1":1,"num2":515,"num3":4,"num4":18446744073709551615"#,
        ),
        (
            &["raw", "0x90"],
            r#""type":"Unknown","code":144,"length":0,"payload":"""#,
        ),
    ];
    for (args, fields) in cases {
        let hex = hex::encode(encode(args));
        let out = run(&["decode", "--json", &hex], b"");
        assert_ok(&out, &format!("{{\"at\":0,{fields}}}\n"));
    }
}

#[test]
fn concatenated_encodings_decode_as_one_stream() {
    let mut stream = String::new();
    for args in [
        &["success"][..],
        &["error", "unsupported"],
        &["contact-list"],
    ] {
        stream += &format!("{}\n", hex::encode(encode(args)));
    }
    let want = "at 0: Success (0x01), length 0\n\n\
                at 3: Error (0x02), length 1\n  error_type: 0x82 (unsupported)\n\n\
                at 7: ContactList (0x82), length 0\n";
    assert_ok(&run(&["decode"], stream.as_bytes()), want);
}

#[test]
fn message_time_defaults_to_now() {
    let now = || {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        since.unwrap().as_secs()
    };
    let before = now();
    let bytes = encode(&["message", "--from", "a@b", "--to", "c@b", "--text", ""]);
    let after = now();
    // 05 len, 0003 "a@b", 0003 "c@b", then the 8-byte send_time.
    let time = u64::from_be_bytes(bytes[13..21].try_into().unwrap());
    assert!(
        (before..=after).contains(&time),
        "{before} <= {time} <= {after}"
    );
}

/// Dates that do not exist are refused (exit 2), not moved to the next
/// month or overflowed into a panic.
#[test]
fn encode_refuses_impossible_times() {
    for time in [
        "2023-02-31",
        "2023-02-29T12:00:00Z",
        "99999999999999999-01-01",
    ] {
        let args = [
            "encode", "message", "--from", "a@b", "--to", "c@b", "--text", "",
        ];
        let out = run(&[&args[..], &["--time", time]].concat(), b"");
        let want = format!(
            "error: invalid value '{time}' for '--time <TIME>': `{time}` is neither Unix \
             seconds nor a UTC time like 2023-11-14T22:13:20Z\n\n\
             For more information, try '--help'.\n"
        );
        assert_fails(&out, 2, "", &want);
    }
    let leap = encode(&[
        "message",
        "--from",
        "a@b",
        "--to",
        "c@b",
        "--text",
        "",
        "--time",
        "2024-02-29",
    ]);
    assert_eq!(leap[13..21], 1_709_164_800u64.to_be_bytes());
}

#[test]
fn spaced_output() {
    let out = run(&["encode", "--spaced", "error", "auth-failed"], b"");
    assert_ok(&out, "02 00 01 01\n");
    let out = run(&["encode", "success", "--spaced"], b"");
    assert_ok(&out, "01 00 00\n");
}

#[test]
fn encode_refuses_what_cannot_be_encoded() {
    let long = "a".repeat(65_536);
    let out = run(&["encode", "server-auth", &long], b"");
    assert_fails(
        &out,
        2,
        "",
        "solec: value too long for its 16-bit length field\n",
    );

    let out = run(&["encode", "test", "256", "0", "0", "0"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("256 does not fit in 8 bits"),
        "{}",
        stderr(&out)
    );

    let out = run(&["encode", "user-mode", "a@b", "#c@b", "lurker"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("leave, member, operator, banned"),
        "{}",
        stderr(&out)
    );

    let out = run(&["encode", "raw", "1", "0g"], b"");
    assert_fails(
        &out,
        2,
        "",
        "solec: bad hex payload: argument 1: not hex: `0g`\n",
    );
}
