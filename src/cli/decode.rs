//! `solec decode`: hex dumps of captured traffic to readable PDUs.
//!
//! Reads the whole input (hex in any of the formats [`super::hexinput`]
//! accepts, or raw bytes), then walks it PDU by PDU with the codec's
//! [`Deframer`], printing a block of text or one JSON line per PDU. The first
//! malformed or truncated PDU ends the walk: everything before it has been
//! printed, and the error names the byte where that PDU starts.

use super::{exit, hexinput, text, Failure};
use crate::proto::{DecodeError, Deframer, Pdu, HEADER_LEN};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::PathBuf;

/// Decode captured SOLEC traffic from hex dumps or raw bytes.
///
/// The input is a stream of PDUs placed end to end, as on the wire. Each PDU
/// is printed as a block: its byte offset in the input, type name and code,
/// payload length, then every field under its draft name. Timestamps show
/// the raw number and the time in RFC 3339 (UTC); strings are quoted, with
/// control and bidirectional-text control characters escaped; error_type,
/// conn_type and mode show the value and its meaning; a type this tool does
/// not know shows its payload in hex.
///
/// Hex is read from the arguments (joined together) or, when there are none,
/// from standard input. Each line may be plain hex (any case; spaces, colons,
/// commas, line breaks and 0x prefixes are ignored), `xxd` output, `hexdump
/// -C` output, or `od -An -tx1` / `od -tx1` output. Offsets and ASCII columns
/// are skipped, `*` lines are expanded where the offsets allow it, and offsets
/// that skip or repeat bytes are errors. A line that starts with a number of
/// six or more hex digits followed by two-digit bytes is read as a dump line,
/// so write plain hex without such a leading group.
///
/// Decoding stops at the first malformed or truncated PDU: the PDUs before it
/// are printed, then the error goes to standard error with the byte offset
/// of that PDU and of the bad field, and the exit status is 1. Input that is
/// not hex exits with status 2, naming the line (or argument) and the token.
/// All offsets count bytes from the start of the input.
///
/// Examples: `solec encode success | solec decode`, `xxd capture.bin | solec
/// decode --json`, `solec decode --raw capture.bin`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Hex to decode; all arguments are joined. Without any, hex is read from
    /// standard input.
    #[arg(value_name = "HEX", conflicts_with = "raw")]
    hex: Vec<String>,

    /// Read raw binary bytes from FILE (`-` for standard input) instead of hex.
    #[arg(long, value_name = "FILE")]
    raw: Option<PathBuf>,

    /// Print one JSON object per PDU per line instead of text blocks.
    ///
    /// Keys: "at" (byte offset of the PDU in the input), "type" (the draft's
    /// name, "Unknown" for codes not known here), "code" and "length" (of the
    /// payload), then each field under its draft name; numbers are JSON
    /// numbers, enumerated values (error_type, conn_type, mode) their numeric
    /// value. An unknown type has "payload" in hex. A malformed or truncated
    /// PDU also ends the output with an object whose "error" is "malformed"
    /// or "truncated", with "at", "reason", and "type", "code", "field" and
    /// "field_at" where they are known, so a reader of standard output alone
    /// sees that the stream was cut.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let bytes = read_input(&args)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = walk(&bytes, args.json, &mut out);
    out.flush()?;
    result
}

/// The input bytes, from hex arguments, hex on standard input, or `--raw`.
fn read_input(args: &Args) -> Result<Vec<u8>, Failure> {
    let usage = |e: hexinput::HexError| Failure::new(exit::USAGE, format!("bad hex input: {e}"));
    if let Some(path) = &args.raw {
        return read_raw(path);
    }
    if !args.hex.is_empty() {
        return hexinput::from_args(&args.hex).map_err(usage);
    }
    let mut raw = Vec::new();
    std::io::stdin().lock().read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).map_err(|_| {
        Failure::new(
            exit::USAGE,
            "standard input is not text; for binary input use `solec decode --raw -`",
        )
    })?;
    hexinput::from_text(&text).map_err(usage)
}

fn read_raw(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    if path.as_os_str() == "-" {
        let mut raw = Vec::new();
        std::io::stdin().lock().read_to_end(&mut raw)?;
        return Ok(raw);
    }
    std::fs::read(path).map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", path.display())))
}

/// Decodes and prints every PDU in `bytes`, stopping at the first bad one.
fn walk(bytes: &[u8], json: bool, out: &mut impl Write) -> Result<(), Failure> {
    let deframer = Deframer::default();
    let mut at = 0;
    while at < bytes.len() {
        let problem = match deframer.decode(&bytes[at..]) {
            Ok(Some((pdu, used))) => {
                let length = used - HEADER_LEN;
                let shown = if json {
                    json_line(at, length, &pdu)
                } else {
                    text_block(at, length, &pdu, at == 0)
                };
                out.write_all(shown.as_bytes())?;
                at += used;
                continue;
            }
            Ok(None) => Problem::truncated(at, &bytes[at..]),
            Err(e) => Problem::malformed(at, bytes[at], e),
        };
        if json {
            writeln!(out, "{}", problem.json())?;
        }
        return Err(Failure::new(exit::FAILURE, problem.reason));
    }
    Ok(())
}

/// One field's value, shown one way as text and another as JSON.
enum Value<'a> {
    Unsigned(u64),
    Signed(i64),
    Str(&'a str),
    /// Unix seconds, UTC.
    Time(u64),
    /// A wire enum: its value and what it means.
    Enum(u8, &'static str),
    Bytes(&'a [u8]),
}

/// Every field of `pdu`, in wire order, under its draft name.
fn fields<'a>(pdu: &Pdu<'a>) -> Vec<(&'static str, Value<'a>)> {
    use Value::*;
    match *pdu {
        Pdu::Success | Pdu::ContactList | Pdu::TokenRequest => vec![],
        Pdu::Error(e) => vec![(
            "error_type",
            Enum(e.error_type.into(), e.error_type.describe()),
        )],
        Pdu::Handshake(h) => vec![
            ("ver_major", Unsigned(h.ver_major.into())),
            ("ver_minor", Unsigned(h.ver_minor.into())),
            (
                "conn_type",
                Enum(h.conn_type.into(), h.conn_type.describe()),
            ),
        ],
        Pdu::UserAuth(a) => vec![("username", Str(a.username)), ("password", Str(a.password))],
        Pdu::Features(f) => vec![("flags", Unsigned(f.flags.into()))],
        Pdu::LinkNonce(n) => vec![("nonce", Bytes(n.nonce))],
        Pdu::LinkProof(p) => vec![("signature", Bytes(p.signature))],
        Pdu::RelayFrom(r) | Pdu::RelayAck(r) => vec![("number", Unsigned(r.number))],
        Pdu::Token(t) => vec![("token", Bytes(t.token)), ("expires", Time(t.expires))],
        Pdu::TokenAuth(t) => vec![("username", Str(t.username)), ("token", Bytes(t.token))],
        Pdu::RelayHistory(r) => vec![
            ("requester", Str(r.requester)),
            ("channel_address", Str(r.history.channel_address)),
            ("since", Time(r.history.since)),
            ("count", Signed(r.history.count)),
            ("offset", Signed(r.history.offset)),
        ],
        Pdu::RelayRefused(r) => vec![
            ("number", Unsigned(r.number)),
            (
                "error_type",
                Enum(r.error_type.into(), r.error_type.describe()),
            ),
        ],
        Pdu::Message(m) | Pdu::HistoryItem(m) => vec![
            ("source_address", Str(m.source_address)),
            ("target_address", Str(m.target_address)),
            ("send_time", Time(m.send_time)),
            ("message_content", Str(m.message_content)),
        ],
        Pdu::ServerAuth(s) => vec![("name", Str(s.name))],
        Pdu::UserMode(u) => vec![
            ("user_address", Str(u.user_address)),
            ("channel_address", Str(u.channel_address)),
            ("mode", Enum(u.mode.into(), u.mode.describe())),
        ],
        Pdu::History(h) => vec![
            ("channel_address", Str(h.channel_address)),
            ("since", Time(h.since)),
            ("count", Signed(h.count)),
            ("offset", Signed(h.offset)),
        ],
        Pdu::ContactAdd(c) | Pdu::ContactRemove(c) | Pdu::Contact(c) => {
            vec![("address", Str(c.address))]
        }
        Pdu::Test(t) => vec![
            ("num1", Unsigned(t.num1.into())),
            ("num2", Unsigned(t.num2.into())),
            ("num3", Unsigned(t.num3.into())),
            ("num4", Unsigned(t.num4)),
        ],
        Pdu::Unknown { payload, .. } => vec![("payload", Bytes(payload))],
    }
}

/// A PDU as text: a header line, one indented line per field, and a blank
/// line between blocks.
fn text_block(at: usize, length: usize, pdu: &Pdu<'_>, first: bool) -> String {
    let mut s = String::new();
    if !first {
        s.push('\n');
    }
    let (name, code) = (pdu.name(), pdu.code());
    let _ = writeln!(s, "at {at}: {name} (0x{code:02x}), length {length}");
    for (field, value) in fields(pdu) {
        let _ = writeln!(s, "  {field}: {}", text_value(&value));
    }
    s
}

fn text_value(value: &Value<'_>) -> String {
    match *value {
        Value::Unsigned(n) => n.to_string(),
        Value::Signed(n) => n.to_string(),
        Value::Str(s) => text::quote(s),
        Value::Time(t) => format!("{t} ({})", crate::time::rfc3339(t)),
        Value::Enum(v, meaning) => format!("0x{v:02x} ({meaning})"),
        Value::Bytes([]) => "(empty)".to_string(),
        Value::Bytes(b) => hex::encode(b),
    }
}

/// A PDU as one JSON object, keys in a fixed order, newline-terminated.
fn json_line(at: usize, length: usize, pdu: &Pdu<'_>) -> String {
    let mut obj = JsonObject::default();
    obj.push("at", at.into());
    obj.push("type", pdu.name().into());
    obj.push("code", pdu.code().into());
    obj.push("length", length.into());
    for (field, value) in fields(pdu) {
        obj.push(field, json_value(&value));
    }
    format!("{obj}\n")
}

fn json_value(value: &Value<'_>) -> serde_json::Value {
    match *value {
        Value::Unsigned(n) | Value::Time(n) => n.into(),
        Value::Signed(n) => n.into(),
        Value::Str(s) => s.into(),
        Value::Enum(v, _) => v.into(),
        Value::Bytes(b) => hex::encode(b).into(),
    }
}

/// A JSON object that keeps its keys in insertion order (serde_json's map
/// sorts them unless built with `preserve_order`).
#[derive(Default)]
struct JsonObject(Vec<(&'static str, serde_json::Value)>);

impl JsonObject {
    fn push(&mut self, key: &'static str, value: serde_json::Value) {
        self.0.push((key, value));
    }
}

impl std::fmt::Display for JsonObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("{")?;
        for (i, (key, value)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{}:{value}", serde_json::Value::from(*key))?;
        }
        f.write_str("}")
    }
}

/// Why the walk stopped: the stderr line and the JSON error object.
struct Problem {
    reason: String,
    json: JsonObject,
}

impl Problem {
    /// The input ends inside the PDU starting at `at`.
    fn truncated(at: usize, rest: &[u8]) -> Problem {
        let mut json = JsonObject::default();
        json.push("at", at.into());
        json.push("error", "truncated".into());
        push_type(&mut json, rest[0]);
        let what = describe_type(rest[0]);
        let reason = match rest.get(1..HEADER_LEN) {
            Some(len) => {
                let length = u16::from_be_bytes([len[0], len[1]]);
                let have = rest.len() - HEADER_LEN;
                format!(
                    "truncated {what} at byte {at}: the header announces {length} payload \
                     bytes but the input ends after {have}"
                )
            }
            None => format!(
                "truncated {what} at byte {at}: the input ends inside the {HEADER_LEN}-byte \
                 header, after {} byte(s)",
                rest.len()
            ),
        };
        json.push("reason", reason.as_str().into());
        Problem { reason, json }
    }

    /// The PDU starting at `at` (type `code`) does not decode. The error's
    /// offset counts from the PDU; it is shown counted from the input.
    fn malformed(at: usize, code: u8, e: DecodeError) -> Problem {
        let e = DecodeError {
            offset: at + e.offset,
            ..e
        };
        let reason = format!("malformed {} at byte {at}: {e}", describe_type(code));
        let mut json = JsonObject::default();
        json.push("at", at.into());
        json.push("error", "malformed".into());
        push_type(&mut json, code);
        json.push("field", e.field.into());
        json.push("field_at", e.offset.into());
        json.push("reason", reason.as_str().into());
        Problem { reason, json }
    }

    fn json(&self) -> &JsonObject {
        &self.json
    }
}

fn push_type(json: &mut JsonObject, code: u8) {
    json.push("type", crate::proto::type_name(code).into());
    json.push("code", code.into());
}

/// `Message (0x05)`.
fn describe_type(code: u8) -> String {
    format!("{} (0x{code:02x})", crate::proto::type_name(code))
}
