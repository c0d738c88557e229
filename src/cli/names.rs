//! The command line's names for the codec's wire enums (error_type,
//! conn_type, mode), derived from the codec itself.
//!
//! Every value 0..=255 that the codec knows gets a name: its variant's name
//! in kebab case (`ErrorType::ServerError` is `server-error`), and, where it
//! differs, its meaning with dashes for spaces (`client-auth-failed`). A
//! code added to `proto` is therefore named here without anyone retyping a
//! table. The only spellings written by hand are the mode aliases people
//! say out loud (`kick`, `op`, `ban`).

use crate::proto::{ConnType, ErrorType, Mode};
use std::fmt::Debug;
use std::sync::OnceLock;

/// One value of a wire enum and the words that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The main spelling, shown first in help.
    pub name: String,
    /// Other accepted spellings.
    pub aliases: Vec<String>,
    pub value: u8,
    /// The codec's description (`client auth failed`).
    pub meaning: &'static str,
}

/// Spellings of modes beyond the codec's names: `solec channel mode` has
/// always said `kick`, `op` and `ban`.
const MODE_ALIASES: [(&str, Mode); 3] = [
    ("kick", Mode::Leave),
    ("op", Mode::Operator),
    ("ban", Mode::Banned),
];

/// Every error_type the codec knows, by value.
pub fn error_types() -> &'static [Name] {
    static TABLE: OnceLock<Vec<Name>> = OnceLock::new();
    TABLE.get_or_init(|| table(ErrorType::describe))
}

/// Every conn_type the codec knows, by value.
pub fn conn_types() -> &'static [Name] {
    static TABLE: OnceLock<Vec<Name>> = OnceLock::new();
    TABLE.get_or_init(|| table(ConnType::describe))
}

/// Every mode the codec knows, by value, with [`MODE_ALIASES`].
pub fn modes() -> &'static [Name] {
    static TABLE: OnceLock<Vec<Name>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut names = table(Mode::describe);
        for (alias, mode) in MODE_ALIASES {
            if let Some(n) = names.iter_mut().find(|n| n.value == u8::from(mode)) {
                n.aliases.push(alias.to_owned());
            }
        }
        names
    })
}

/// The value `word` names in `table`, ignoring ASCII case.
pub fn find(table: &[Name], word: &str) -> Option<u8> {
    let is = |s: &String| s.eq_ignore_ascii_case(word);
    let found = table
        .iter()
        .find(|n| is(&n.name) || n.aliases.iter().any(is));
    found.map(|n| n.value)
}

/// The mode `word` names, in any spelling `encode` and `channel` accept.
pub fn mode(word: &str) -> Option<Mode> {
    find(modes(), word).map(Mode::from)
}

/// The names of every value of the enum `T` whose description is
/// `describe`. A value is known when the codec does not decode it to its
/// `Unknown(_)` arm.
fn table<T: From<u8> + Debug + Copy>(describe: fn(T) -> &'static str) -> Vec<Name> {
    let mut names = Vec::new();
    for value in 0..=u8::MAX {
        let known = T::from(value);
        let variant = format!("{known:?}");
        if variant.starts_with("Unknown") {
            continue;
        }
        let meaning = describe(known);
        let name = kebab(&variant);
        let spoken = meaning.replace(' ', "-");
        let plain = spoken.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
        let aliases = match plain && spoken != name {
            true => vec![spoken],
            false => vec![],
        };
        names.push(Name {
            name,
            aliases,
            value,
            meaning,
        });
    }
    names
}

/// `AuthFailed` → `auth-failed`.
fn kebab(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spellings<'a>(table: &'a [Name]) -> Vec<(Vec<&'a str>, u8)> {
        let words = |n: &'a Name| -> Vec<&'a str> {
            let mut w = vec![n.name.as_str()];
            w.extend(n.aliases.iter().map(String::as_str));
            w
        };
        table.iter().map(|n| (words(n), n.value)).collect()
    }

    /// The names scripts and the docs have used so far all still work.
    #[test]
    fn names_follow_the_codec() {
        assert_eq!(
            spellings(error_types()),
            [
                (vec!["auth-failed", "client-auth-failed"], 0x01),
                (vec!["not-found"], 0x02),
                (vec!["unauthorized"], 0x03),
                (vec!["bad-request"], 0x80),
                (vec!["too-large"], 0x81),
                (vec!["unsupported"], 0x82),
                (vec!["server-error"], 0x83),
                (vec!["slow-down"], 0x84),
            ]
        );
        assert_eq!(
            spellings(conn_types()),
            [(vec!["user"], 0x01), (vec!["server"], 0x02)]
        );
        assert_eq!(
            spellings(modes()),
            [
                (vec!["leave", "kick"], 0x00),
                (vec!["member"], 0x01),
                (vec!["operator", "op"], 0x02),
                (vec!["banned", "ban"], 0x03),
            ]
        );
    }

    /// Every value the codec knows has a name that leads back to it.
    #[test]
    fn every_known_value_is_named() {
        for v in 0..=u8::MAX {
            let checks = [
                (
                    error_types(),
                    !matches!(ErrorType::from(v), ErrorType::Unknown(_)),
                ),
                (
                    conn_types(),
                    !matches!(ConnType::from(v), ConnType::Unknown(_)),
                ),
                (modes(), !matches!(Mode::from(v), Mode::Unknown(_))),
            ];
            for (table, known) in checks {
                let named = table.iter().find(|n| n.value == v);
                assert_eq!(named.is_some(), known, "0x{v:02x}");
                if let Some(n) = named {
                    assert_eq!(find(table, &n.name), Some(v));
                }
            }
        }
    }

    #[test]
    fn lookups_ignore_case_and_take_aliases() {
        assert_eq!(find(error_types(), "Server-Error"), Some(0x83));
        assert_eq!(mode("BAN"), Some(Mode::Banned));
        assert_eq!(mode("banned"), Some(Mode::Banned));
        assert_eq!(mode("kick"), Some(Mode::Leave));
        assert_eq!(mode("lurker"), None);
        assert_eq!(kebab("ServerError"), "server-error");
    }
}
