//! Untrusted text made safe to print on a terminal, one line per value.
//!
//! Message contents and addresses come from the network. Printed raw, a
//! control character could move the cursor or rewrite the screen, and a
//! bidirectional-text control could make a line read differently from the
//! bytes it holds. `solec history` and `solec decode` both escape through
//! [`escape`], so the two can never disagree on what is dangerous.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The text with `\` doubled and control and bidi-control characters
/// escaped (`\n`, `\r`, `\t`, others as `\u{1b}`), so it is one line and
/// the escaping can be undone.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || needs_escape(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    escape_into(&mut out, text, None);
    Cow::Owned(out)
}

/// The text in double quotes, escaped as [`escape`] does and with `"`
/// escaped too.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    escape_into(&mut out, text, Some('"'));
    out.push('"');
    out
}

fn escape_into(out: &mut String, text: &str, quote: Option<char>) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if Some(c) == quote => {
                out.push('\\');
                out.push(c);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Characters that reorder the text around them when displayed: the
/// marks (ALM, LRM, RLM), embeddings and overrides (LRE..RLO) and isolates
/// (LRI..PDI) of Unicode's bidirectional algorithm.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_one_message_on_one_line() {
        assert!(matches!(
            escape("plain text, ünïcode"),
            Cow::Borrowed("plain text, ünïcode")
        ));
        assert_eq!(escape("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(
            escape("\u{1b}[31m \u{7f} \u{85}"),
            "\\u{1b}[31m \\u{7f} \\u{85}"
        );
        assert_eq!(escape("C:\\dir\\n"), "C:\\\\dir\\\\n");
        assert_eq!(escape("say \"hi\""), "say \"hi\"");
    }

    #[test]
    fn bidi_controls_are_escaped() {
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        let all = "\u{61c}\u{200e}\u{200f}\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}\
                   \u{2066}\u{2067}\u{2068}\u{2069}";
        let want = "\\u{61c}\\u{200e}\\u{200f}\\u{202a}\\u{202b}\\u{202c}\\u{202d}\
                    \\u{202e}\\u{2066}\\u{2067}\\u{2068}\\u{2069}";
        assert_eq!(escape(all), want);
        // Letters of right-to-left scripts are text, not controls.
        assert_eq!(escape("שלום مرحبا"), "שלום مرحبا");
    }

    #[test]
    fn quote_also_escapes_double_quotes() {
        assert_eq!(quote("a\"b\\c\n\t\r"), r#""a\"b\\c\n\t\r""#);
        assert_eq!(quote("\u{1b}[2J\u{202e}é"), r#""\u{1b}[2J\u{202e}é""#);
        assert_eq!(quote(""), "\"\"");
    }
}
