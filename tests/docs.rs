//! `docs/protocol.md` is the wire contract; these tests keep it true.
//!
//! Every ```` ```hex ```` block must decode into whole PDUs under the
//! server's default limits and re-encode to the same bytes; every line of a
//! ```` ```hex-malformed ```` block must be refused; every byte vector of the
//! codec's own tests must appear as an example; and every PDU type and error
//! code the codec knows must have a row in the document's tables.

use solec::proto::{type_name, Deframer, ErrorType};
use solec::server::config::Limits;

const PROTOCOL_MD: &str = include_str!("../docs/protocol.md");

/// The codec's byte-vector table, read as text: it is `#[cfg(test)]` code in
/// the library, out of reach of this crate.
const CODEC_TESTS: &str = include_str!("../src/proto/tests.rs");

/// One fenced block: its info string, the line its first byte is on, its lines.
struct Block {
    info: &'static str,
    line: usize,
    lines: Vec<&'static str>,
}

fn blocks(md: &'static str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in md.lines().enumerate() {
        match (open.take(), line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim(),
                    line: i + 2,
                    lines: Vec::new(),
                })
            }
            (Some(block), Some(_)) => out.push(block),
            (Some(mut block), None) => {
                block.lines.push(line);
                open = Some(block);
            }
            (None, None) => {}
        }
    }
    assert!(
        open.is_none(),
        "docs/protocol.md has an unclosed code fence"
    );
    out
}

/// The bytes of one line of a hex block: `#` starts a comment.
fn line_bytes(line: &str, where_: &str) -> Vec<u8> {
    let code = line.split('#').next().unwrap_or_default();
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(&digits).unwrap_or_else(|e| panic!("{where_}: bad hex {digits:?}: {e}"))
}

fn block_bytes(block: &Block) -> Vec<u8> {
    let where_ = format!("docs/protocol.md block at line {}", block.line);
    block
        .lines
        .iter()
        .flat_map(|l| line_bytes(l, &where_))
        .collect()
}

/// The deframer the server runs with by default.
fn server_deframer() -> Deframer {
    Deframer::with_max_payload(Limits::default().max_pdu_bytes)
}

/// Splits a block's bytes into PDUs, checking each decodes and re-encodes
/// exactly; returns each PDU's bytes.
fn checked_pdus(bytes: &[u8], where_: &str) -> Vec<Vec<u8>> {
    let deframer = server_deframer();
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (pdu, used) = match deframer.decode(rest) {
            Ok(Some(found)) => found,
            Ok(None) => panic!("{where_}: PDU {} is cut short", out.len() + 1),
            Err(e) => panic!("{where_}: PDU {} does not decode: {e}", out.len() + 1),
        };
        let frame = &rest[..used];
        assert_eq!(
            pdu.to_vec().expect("re-encode"),
            frame,
            "{where_}: PDU {} re-encodes differently",
            out.len() + 1
        );
        out.push(frame.to_vec());
        rest = &rest[used..];
    }
    out
}

fn blocks_of(info: &str) -> Vec<Block> {
    blocks(PROTOCOL_MD)
        .into_iter()
        .filter(|b| b.info == info)
        .collect()
}

/// Every PDU shown in a ```` ```hex ```` block.
fn documented_pdus() -> Vec<Vec<u8>> {
    blocks_of("hex")
        .iter()
        .flat_map(|b| {
            checked_pdus(
                &block_bytes(b),
                &format!("docs/protocol.md block at line {}", b.line),
            )
        })
        .collect()
}

#[test]
fn hex_examples_decode_and_reencode() {
    let pdus = documented_pdus();
    assert!(
        pdus.len() >= 30,
        "only {} PDUs found in examples",
        pdus.len()
    );
}

#[test]
fn malformed_examples_are_refused() {
    let mut seen = 0;
    for block in blocks_of("hex-malformed") {
        for (i, line) in block.lines.iter().enumerate() {
            let where_ = format!("docs/protocol.md line {}", block.line + i);
            let bytes = line_bytes(line, &where_);
            match server_deframer().decode(&bytes) {
                Err(_) => seen += 1,
                Ok(None) => panic!("{where_}: shown as malformed, but only cut short"),
                Ok(Some((pdu, _))) => panic!("{where_}: shown as malformed, but is {pdu:?}"),
            }
        }
    }
    assert!(seen >= 5, "only {seen} malformed examples found");
}

/// The hex strings of `vectors()` in `src/proto/tests.rs`.
fn codec_vectors() -> Vec<Vec<u8>> {
    let start = CODEC_TESTS
        .find("fn vectors()")
        .expect("vectors() in codec tests");
    let body = &CODEC_TESTS[start..];
    let body = &body[..body.find("\n}\n").expect("end of vectors()")];
    body.split('"')
        .skip(1)
        .step_by(2)
        .filter(|lit| lit.contains(' ') && lit.chars().all(|c| c == ' ' || c.is_ascii_hexdigit()))
        .map(|lit| line_bytes(lit, "src/proto/tests.rs"))
        .collect()
}

#[test]
fn every_codec_vector_is_a_worked_example() {
    let documented = documented_pdus();
    let vectors = codec_vectors();
    assert!(vectors.len() >= 14, "found {} vectors", vectors.len());
    for v in vectors {
        assert!(
            documented.contains(&v),
            "codec vector {} is not an example in docs/protocol.md",
            hex::encode(&v)
        );
    }
}

/// Whether a table row `| 0xNN | name |` is in the document.
fn has_row(code: u8, name: &str) -> bool {
    let prefix = format!("| 0x{code:02X} |");
    PROTOCOL_MD.lines().any(|line| {
        line.strip_prefix(&prefix)
            .and_then(|rest| rest.split('|').next())
            .is_some_and(|cell| cell.trim() == name)
    })
}

#[test]
fn every_known_type_and_error_code_has_a_row() {
    let mut checked = 0;
    for code in 0..=u8::MAX {
        if type_name(code) != "Unknown" {
            assert!(
                has_row(code, type_name(code)),
                "no row for type 0x{code:02X}"
            );
            checked += 1;
        }
        let error = ErrorType::from(code);
        if error.describe() != "unknown" {
            assert!(
                has_row(code, error.describe()),
                "no row for error 0x{code:02X}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 14 + 6,
        "only {checked} known types and error codes"
    );
    assert!(!has_row(0x42, "Unknown"));
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether rustdoc would compile and run a fence with this info string.
fn is_doctest_fence(info: &str) -> bool {
    info.is_empty()
        || info.split(',').map(str::trim).any(|attr| {
            attr == "rust"
                || attr == "should_panic"
                || attr == "no_run"
                || attr == "compile_fail"
                || attr.starts_with("edition")
        })
}

/// The README's test command, `cargo test --all-targets`, runs the lib, bin,
/// integration and bench targets but not doctests; so the crate keeps none
/// (doc code blocks are ```` ```text ````), and this test says so when one
/// appears.
#[test]
fn no_doc_examples_escape_the_readme_test_command() {
    let mut files = Vec::new();
    rust_files(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 5, "found only {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        // Only opening fences carry an info string; closing ones are bare.
        let mut open = false;
        for (i, line) in text.lines().enumerate() {
            let doc = line.trim_start();
            let Some(doc) = doc.strip_prefix("///").or_else(|| doc.strip_prefix("//!")) else {
                continue;
            };
            if let Some(info) = doc.trim_start().strip_prefix("```") {
                open = !open;
                if !open {
                    continue;
                }
                assert!(
                    !is_doctest_fence(info.trim_start_matches('`').trim()),
                    "{}:{}: a doctest would not run under `cargo test --all-targets`; \
                     mark the block ```text or move the example into a test",
                    file.display(),
                    i + 1
                );
            }
        }
    }
}
