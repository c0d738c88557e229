//! Hex text to bytes: plain hex and the dumps of `xxd`, `hexdump -C` and `od`.
//!
//! Each line is classified on its own, with a little memory of the lines
//! before it (a dump's trailing offset line, `*` for collapsed repeats, and
//! offsets that must follow on). Offsets and ASCII columns are dropped, never
//! read as data. Pure text in, bytes out: no IO, so `decode` and `encode raw`
//! share it and it is tested with strings.
//!
//! The rules, in the order they are tried on a line:
//! - blank lines are skipped;
//! - `*` repeats the previous dump line up to the next offset (hex offsets
//!   only: `xxd`, `hexdump -C`);
//! - `OFFSET: hex-groups  ascii` (an offset of 4 or more hex digits, a colon
//!   and a space) is `xxd`;
//! - `OFFSET b1 b2 … [|ascii|]` (an offset of 6 or more hex digits at the
//!   start of the line, then two-digit bytes) is `hexdump -C` when it has the
//!   `|ascii|` column, `od -tx1` otherwise;
//! - a lone offset right after such a line is the dump's trailer;
//! - `OFFSET w1 w2 …` with four-digit words (`hexdump`, `od -x`) is refused:
//!   their byte order depends on the machine that made them;
//! - anything else is plain hex: spaces, colons, commas, line breaks and
//!   `0x` prefixes are ignored, so a byte may even be split across lines.

use std::fmt;
use std::ops::Range;

/// Offset digits that mark an `xxd` line (`xxd` prints 8).
const XXD_MIN_OFFSET_DIGITS: usize = 4;

/// Offset digits that mark a `hexdump -C` or `od` line (`od -Ax` prints 6,
/// `od` 7, `hexdump -C` 8); fewer would make short plain-hex groups ambiguous.
const DUMP_MIN_OFFSET_DIGITS: usize = 6;

/// The offset width of `hexdump` and `od` without options, whose 16-bit
/// words would come out byte-swapped if read as bytes on most machines.
const WORD_DUMP_OFFSET_DIGITS: usize = 7;

/// No dump prints a longer offset (a u64 in hex); a longer token is data.
const MAX_OFFSET_DIGITS: usize = 16;

/// Whether `token` can be a dump offset of at least `min` digits.
fn is_offset(token: &str, min: usize) -> bool {
    (min..=MAX_OFFSET_DIGITS).contains(&token.len()) && is_hex(token)
}

/// The most bytes one `*` may stand for: a corrupt offset must not make the
/// parser allocate without bound.
pub const MAX_STAR_BYTES: u64 = 16 << 20;

/// Where a piece of hex input came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A line of standard input (1-based).
    Line(usize),
    /// A single-line command-line argument (1-based).
    Arg(usize),
    /// A line inside a multi-line argument (both 1-based).
    ArgLine(usize, usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Arg(n) => write!(f, "argument {n}"),
            Location::ArgLine(n, l) => write!(f, "argument {n}, line {l}"),
        }
    }
}

/// Input that is not hex in any accepted format: where, what, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexError {
    pub at: Location,
    /// The offending token, as written.
    pub token: String,
    pub reason: String,
}

/// Tokens longer than this are shortened in messages.
const TOKEN_SHOWN_CHARS: usize = 40;

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.token.chars().take(TOKEN_SHOWN_CHARS).collect();
        let more = if shown.len() < self.token.len() {
            "…"
        } else {
            ""
        };
        write!(f, "{}: {}: `{shown}{more}`", self.at, self.reason)
    }
}

impl std::error::Error for HexError {}

/// Bytes from text read from standard input; errors name `line N`.
pub fn from_text(text: &str) -> Result<Vec<u8>, HexError> {
    let mut p = Parser::default();
    for (i, line) in text.lines().enumerate() {
        p.line(Location::Line(i + 1), line)?;
    }
    p.finish()
}

/// Bytes from command-line arguments, joined; errors name `argument N`.
pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<Vec<u8>, HexError> {
    let mut p = Parser::default();
    for (i, arg) in args.iter().enumerate() {
        let arg = arg.as_ref();
        if arg.contains('\n') {
            for (l, line) in arg.lines().enumerate() {
                p.line(Location::ArgLine(i + 1, l + 1), line)?;
            }
        } else {
            p.line(Location::Arg(i + 1), arg)?;
        }
    }
    p.finish()
}

/// Which tool wrote a dump line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Xxd,
    HexdumpC,
    Od,
}

impl Kind {
    /// Whether offsets are known to be hex and can be checked and used to
    /// expand `*`. `od` prints octal, decimal or hex depending on `-A`.
    fn hex_offsets(self) -> bool {
        matches!(self, Kind::Xxd | Kind::HexdumpC)
    }
}

/// One dump line, offset split from data.
struct DumpLine<'a> {
    kind: Kind,
    offset: &'a str,
    bytes: Vec<u8>,
}

/// The dump being read: enough to check offsets and expand `*`.
struct Dump {
    kind: Kind,
    /// The offset printed on the dump's first line, and where its bytes
    /// start in the output.
    base: u64,
    start: usize,
    /// The previous line's bytes in the output, which `*` repeats.
    last: Range<usize>,
    star: Option<Location>,
}

#[derive(Default)]
struct Parser {
    out: Vec<u8>,
    /// A high nibble waiting for its partner (plain hex ignores line breaks),
    /// with the token it came from for the error if none follows.
    half: Option<(u8, Location, String)>,
    dump: Option<Dump>,
}

fn err(at: Location, token: &str, reason: impl Into<String>) -> HexError {
    HexError {
        at,
        token: token.to_string(),
        reason: reason.into(),
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn nibble(c: u8) -> u8 {
    // Only called on ASCII hex digits.
    (c as char).to_digit(16).unwrap_or(0) as u8
}

/// Cuts off an ASCII column: `  |text|` (`hexdump -C`) or `  >text<`
/// (`od -tx1z`). The first delimiter is the column's: hex has neither.
fn strip_ascii(text: &str) -> (&str, Option<char>) {
    for (marker, open, close) in [("  |", '|', '|'), ("  >", '>', '<')] {
        if text.ends_with(close) {
            if let Some(i) = text.find(marker) {
                return (&text[..i], Some(open));
            }
        }
    }
    (text, None)
}

/// Parses a line shaped `OFFSET: groups  ascii`, or `None` if it is not one.
fn xxd_line(text: &str, at: Location) -> Result<Option<DumpLine<'_>>, HexError> {
    let t = text.trim_start();
    let Some((offset, rest)) = t.split_once(':') else {
        return Ok(None);
    };
    if !is_offset(offset, XXD_MIN_OFFSET_DIGITS) || !(rest.is_empty() || rest.starts_with(' ')) {
        return Ok(None);
    }
    // Groups are one space apart; two spaces open the ASCII column.
    let area = &rest[1.min(rest.len())..];
    let area = area.split("  ").next().unwrap_or("");
    let mut bytes = Vec::new();
    for group in area.split_whitespace() {
        if !is_hex(group) || group.len() % 2 != 0 {
            return Err(err(at, group, "not a group of hex bytes in `xxd` output"));
        }
        push_digits(&mut bytes, group);
    }
    Ok(Some(DumpLine {
        kind: Kind::Xxd,
        offset,
        bytes,
    }))
}

/// Parses a line shaped `OFFSET b1 b2 …`, or `None` if it is not one. A line
/// that has the shape (an ASCII column, or an offset inside a dump) but
/// holds something other than two-digit bytes is an error, not plain hex:
/// reading it as plain hex would turn its offset into data.
fn offset_line(text: &str, in_dump: bool, at: Location) -> Result<Option<DumpLine<'_>>, HexError> {
    let (area, ascii) = strip_ascii(text);
    let mut tokens = area.split_whitespace();
    let Some(offset) = tokens.next() else {
        return Ok(None);
    };
    let rest: Vec<&str> = tokens.collect();
    if !is_offset(offset, DUMP_MIN_OFFSET_DIGITS) || rest.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = rest.iter().find(|t| t.len() != 2 || !is_hex(t)) {
        let words = rest.iter().all(|t| t.len() == 4 && is_hex(t));
        if words && offset.len() == WORD_DUMP_OFFSET_DIGITS {
            return Err(err(
                at,
                offset,
                "this looks like 16-bit words from `hexdump` or `od -x`, whose byte order \
                 depends on the machine; dump bytes with `hexdump -C`, `xxd` or `od -tx1`",
            ));
        }
        if ascii.is_some() || in_dump {
            return Err(err(at, bad, "not a two-digit byte in a dump line"));
        }
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(rest.len());
    rest.iter().for_each(|t| push_digits(&mut bytes, t));
    let kind = if ascii == Some('|') {
        Kind::HexdumpC
    } else {
        Kind::Od
    };
    Ok(Some(DumpLine {
        kind,
        offset,
        bytes,
    }))
}

fn hex_offset(at: Location, token: &str) -> Result<u64, HexError> {
    u64::from_str_radix(token, 16).map_err(|_| err(at, token, "offset too large"))
}

/// Appends an even run of hex digits as bytes.
fn push_digits(out: &mut Vec<u8>, digits: &str) {
    out.extend(
        digits
            .as_bytes()
            .chunks_exact(2)
            .map(|p| nibble(p[0]) << 4 | nibble(p[1])),
    );
}

impl Parser {
    fn line(&mut self, at: Location, raw: &str) -> Result<(), HexError> {
        let text = raw.trim_end();
        if text.is_empty() {
            return Ok(());
        }
        if text.trim_start() == "*" {
            return self.star(at, text.trim_start());
        }
        if let Some(line) = xxd_line(text, at)? {
            return self.dump_line(at, line);
        }
        let in_dump = matches!(&self.dump, Some(d) if d.kind != Kind::Xxd);
        if let Some(line) = offset_line(text, in_dump, at)? {
            return self.dump_line(at, line);
        }
        if in_dump && is_offset(text, DUMP_MIN_OFFSET_DIGITS) {
            return self.trailer(at, text);
        }
        self.end_dump()?;
        self.plain(at, strip_ascii(text).0)
    }

    /// `*`: the dump tool left out lines equal to the previous one.
    fn star(&mut self, at: Location, token: &str) -> Result<(), HexError> {
        match &mut self.dump {
            Some(d) if d.kind.hex_offsets() && d.star.is_none() && !d.last.is_empty() => {
                d.star = Some(at);
                Ok(())
            }
            _ => Err(err(
                at,
                token,
                "this dump left out repeated lines and their number cannot be recovered \
                 without hex offsets; rerun the dump tool with -v (`od -v`, `hexdump -v -C`)",
            )),
        }
    }

    fn dump_line(&mut self, at: Location, line: DumpLine<'_>) -> Result<(), HexError> {
        let continues = matches!(&self.dump, Some(d) if d.kind == line.kind);
        if !continues {
            self.end_dump()?;
            self.check_no_half()?;
        }
        let offset = self.place(at, line.kind, line.offset, continues)?;
        let start = self.out.len();
        self.out.extend_from_slice(&line.bytes);
        let d = self.dump.get_or_insert(Dump {
            kind: line.kind,
            base: offset,
            start,
            last: start..start,
            star: None,
        });
        d.last = start..self.out.len();
        // The next line's offset must exist, so the checks above never overflow.
        self.position(at, line.offset).map(drop)
    }

    /// Checks a line's offset against the bytes read so far in its dump,
    /// expanding a pending `*`, and returns it (0 where the radix is not
    /// known). An offset of 0 starts a new dump: dumps may be concatenated.
    fn place(
        &mut self,
        at: Location,
        kind: Kind,
        token: &str,
        continues: bool,
    ) -> Result<u64, HexError> {
        if !kind.hex_offsets() {
            return Ok(0);
        }
        let offset = hex_offset(at, token)?;
        if !continues {
            return Ok(offset);
        }
        self.expand_star(at, token, offset)?;
        if offset == 0 {
            self.dump = None;
        } else {
            self.check_position(at, token, offset)?;
        }
        Ok(offset)
    }

    fn check_position(&self, at: Location, token: &str, offset: u64) -> Result<(), HexError> {
        let expected = self.position(at, token)?;
        if offset == expected {
            return Ok(());
        }
        let reason = format!(
            "offset does not follow the lines before it (expected {expected:08x}): \
             a line is missing or was edited"
        );
        Err(err(at, token, reason))
    }

    /// The dump offset the next line should carry. A dump whose bytes run
    /// past the largest 64-bit offset is an error, not a wrap to 0.
    fn position(&self, at: Location, token: &str) -> Result<u64, HexError> {
        let Some(d) = &self.dump else {
            return Ok(0);
        };
        let read = u64::try_from(self.out.len() - d.start).unwrap_or(u64::MAX);
        d.base.checked_add(read).ok_or_else(|| {
            let reason = format!(
                "the dump's bytes run past offset {:x}, the largest a dump can have",
                u64::MAX
            );
            err(at, token, reason)
        })
    }

    /// Repeats the last dump line until `offset`, if a `*` is pending.
    fn expand_star(&mut self, at: Location, token: &str, offset: u64) -> Result<(), HexError> {
        let position = self.position(at, token)?;
        let Some(d) = self.dump.as_mut() else {
            return Ok(());
        };
        if d.star.take().is_none() {
            return Ok(());
        }
        let unit = d.last.len() as u64;
        let gap = offset.checked_sub(position).unwrap_or(u64::MAX);
        if gap % unit != 0 || gap > MAX_STAR_BYTES {
            let reason = format!(
                "offset after `*` is not a whole number of repeated {unit}-byte lines \
                 after {position:08x}"
            );
            return Err(err(at, token, reason));
        }
        for _ in 0..gap / unit {
            self.out.extend_from_within(d.last.clone());
        }
        Ok(())
    }

    /// A lone offset after `hexdump -C` or `od` lines: the dump's length.
    fn trailer(&mut self, at: Location, token: &str) -> Result<(), HexError> {
        if self.dump.as_ref().is_some_and(|d| d.kind.hex_offsets()) {
            let offset = hex_offset(at, token)?;
            self.expand_star(at, token, offset)?;
            self.check_position(at, token, offset)?;
        }
        self.dump = None;
        Ok(())
    }

    /// Leaves the current dump, which must not end on a pending `*`.
    fn end_dump(&mut self) -> Result<(), HexError> {
        match self.dump.take() {
            Some(Dump { star: Some(at), .. }) => Err(err(
                at,
                "*",
                "the dump ends after `*` with no offset to say how many lines it stands for",
            )),
            _ => Ok(()),
        }
    }

    fn check_no_half(&mut self) -> Result<(), HexError> {
        match self.half.take() {
            Some((_, at, token)) => Err(err(
                at,
                &token,
                "odd number of hex digits: the last byte is missing a digit",
            )),
            None => Ok(()),
        }
    }

    /// Plain hex: tokens split at spaces, colons and commas, each one hex
    /// digits with an optional `0x`.
    fn plain(&mut self, at: Location, text: &str) -> Result<(), HexError> {
        let separators = |c: char| c.is_whitespace() || c == ':' || c == ',';
        for token in text.split(separators).filter(|t| !t.is_empty()) {
            let digits = token
                .strip_prefix("0x")
                .or_else(|| token.strip_prefix("0X"))
                .unwrap_or(token);
            if !is_hex(digits) {
                return Err(err(at, token, "not hex"));
            }
            for c in digits.bytes().map(nibble) {
                match self.half.take() {
                    Some((high, ..)) => self.out.push(high << 4 | c),
                    None => self.half = Some((c, at, token.to_string())),
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<u8>, HexError> {
        self.end_dump()?;
        self.check_no_half()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Vec<u8> {
        from_text(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn plain_hex_ignores_separators_and_prefixes() {
        let want = vec![0x03, 0x00, 0xab, 0xcd];
        for text in [
            "0300abcd",
            "03 00 AB cd",
            "03:00:ab:cd",
            "0x03, 0x00, 0xAB, 0XCD",
            "030\n0ab\ncd\n",
        ] {
            assert_eq!(bytes(text), want, "{text:?}");
        }
    }

    #[test]
    fn bad_plain_hex_names_line_and_token() {
        let e = from_text("0300\n03 zz 00\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2: not hex: `zz`");
        let e = from_text("0300\n030\n").unwrap_err();
        assert_eq!(e.at, Location::Line(2));
        assert_eq!(e.token, "030");
    }

    #[test]
    fn args_are_joined_and_named() {
        assert_eq!(from_args(&["03", "0", "0"]).unwrap(), vec![0x03, 0x00]);
        let e = from_args(&["03", "0g"]).unwrap_err();
        assert_eq!(e.to_string(), "argument 2: not hex: `0g`");
        let e = from_args(&["03\n00\nq"]).unwrap_err();
        assert_eq!(e.at, Location::ArgLine(1, 3));
    }

    #[test]
    fn xxd_ascii_column_is_not_data() {
        // The ASCII column holds text that is itself valid hex.
        let text = "00000000: 6162 6364 6566 6162 6364 6566 6162 6364  abcdefabcdefabcd\n\
                    00000010: 6162                                     ab\n";
        assert_eq!(bytes(text), b"abcdefabcdefabcdab");
    }

    #[test]
    fn hexdump_and_od_offsets_and_trailers_are_not_data() {
        let hexdump =
            "00000000  61 62 63 64 65 66 61 62  63 64 65 66 61 62 63 64  |abcdefabcdefabcd|\n\
                       00000010  61 62                                             |ab|\n\
                       00000012\n";
        let od = "0000000 61 62 63 64 65 66 61 62 63 64 65 66 61 62 63 64\n\
                  0000020 61 62\n\
                  0000022\n";
        assert_eq!(bytes(hexdump), b"abcdefabcdefabcdab");
        assert_eq!(bytes(od), b"abcdefabcdefabcdab");
    }

    #[test]
    fn star_repeats_lines_up_to_the_next_offset() {
        let text =
            "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
                    *\n\
                    00000030  01                                                |.|\n\
                    00000031\n";
        let mut want = vec![0u8; 48];
        want.push(1);
        assert_eq!(bytes(text), want);
        let xxd = "00000000: 0000 0000  ....\n*\n00000010: 01  .\n";
        let mut want = vec![0u8; 16];
        want.push(1);
        assert_eq!(bytes(xxd), want);
    }

    #[test]
    fn star_without_hex_offsets_is_refused() {
        let e = from_text(" 00 00\n*\n 01\n").unwrap_err();
        assert_eq!(e.at, Location::Line(2));
        let e = from_text("0000000 00 00\n*\n0000020 01\n").unwrap_err();
        assert_eq!(e.at, Location::Line(2));
    }

    #[test]
    fn star_expansion_is_bounded() {
        let text = "00000000  00 00  |..|\n*\nffffffff\n";
        assert!(from_text(text).is_err());
    }

    /// Offsets near u64::MAX are refused, never wrapped or overflowed.
    #[test]
    fn offsets_past_u64_max_are_errors() {
        let e = from_text("ffffffffffffffff: 0102  ..\nffffffffffffffff: 0304  ..\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: the dump's bytes run past offset ffffffffffffffff, the largest a dump \
             can have: `ffffffffffffffff`"
        );
        let e = from_text("fffffffffffffffe  01 02  |..|\n").unwrap_err();
        assert_eq!(e.at, Location::Line(1));
        let last = "fffffffffffffffe: 01  .\n";
        assert_eq!(bytes(last), vec![1]);
    }

    #[test]
    fn missing_dump_line_is_reported() {
        let text = "00000000: 0102  ..\n00000004: 0304  ..\n";
        let e = from_text(text).unwrap_err();
        assert_eq!(e.at, Location::Line(2));
        assert_eq!(e.token, "00000004");
    }

    #[test]
    fn concatenated_dumps_restart_at_zero() {
        let text = "00000000: 0102  ..\n00000000: 0304  ..\n";
        assert_eq!(bytes(text), vec![1, 2, 3, 4]);
    }

    #[test]
    fn corrupt_dump_line_is_an_error_not_plain_hex() {
        let text = "00000000  61 62 6  |ab|\n";
        let e = from_text(text).unwrap_err();
        assert_eq!(e.token, "6");
        let e = from_text("00000000: 61zz  a\n").unwrap_err();
        assert_eq!(e.token, "61zz");
    }

    #[test]
    fn word_dumps_are_refused() {
        let e = from_text("0000000 0003 0003 0501 0100\n0000010\n").unwrap_err();
        assert_eq!(e.at, Location::Line(1));
        assert_eq!(e.token, "0000000");
    }

    #[test]
    fn od_z_ascii_column_is_not_data() {
        let text = "0000000 61 62  >ab<\n0000002\n";
        assert_eq!(bytes(text), b"ab");
    }
}
