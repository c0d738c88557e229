//! The address grammar: `user@server` and `#channel@server`.
//!
//! This is a layer above the codec, which accepts any UTF-8 string; the
//! server validates addresses with it. Local parts and channel names are
//! lowercase `[a-z0-9._-]`, 1–64 bytes; channel names may also use `/`
//! between non-empty levels (`#pi/general@a.example`). Server names are
//! lowercase DNS host names.

use std::fmt;

/// Longest local part or channel name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Longest server name, in bytes (the DNS limit).
pub const MAX_SERVER_LEN: usize = 253;

/// Longest label of a server name, in bytes (the DNS limit).
pub const MAX_LABEL_LEN: usize = 63;

/// A parsed address, borrowing from the string it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Address<'a> {
    /// `local@server`
    User { local: &'a str, server: &'a str },
    /// `#name@server`; `name` is without the `#`.
    Channel { name: &'a str, server: &'a str },
}

/// Why a string is not an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressError {
    MissingServer,
    BadLocal,
    BadChannel,
    BadServer,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressError::MissingServer => "address has no `@server` part",
            AddressError::BadLocal => "user name must be 1-64 bytes of lowercase [a-z0-9._-]",
            AddressError::BadChannel => {
                "channel name must be 1-64 bytes of lowercase [a-z0-9._-/] with non-empty levels"
            }
            AddressError::BadServer => "server name must be a lowercase DNS host name",
        })
    }
}

impl std::error::Error for AddressError {}

impl<'a> Address<'a> {
    /// Parses `user@server` or `#channel@server`.
    pub fn parse(s: &'a str) -> Result<Self, AddressError> {
        let (local, server) = s.split_once('@').ok_or(AddressError::MissingServer)?;
        if !is_server_name(server) {
            return Err(AddressError::BadServer);
        }
        match local.strip_prefix('#') {
            Some(name) if is_channel_name(name) => Ok(Address::Channel { name, server }),
            Some(_) => Err(AddressError::BadChannel),
            None if is_user_name(local) => Ok(Address::User { local, server }),
            None => Err(AddressError::BadLocal),
        }
    }

    /// The server part.
    pub fn server(&self) -> &'a str {
        match self {
            Address::User { server, .. } | Address::Channel { server, .. } => server,
        }
    }
}

fn is_name_byte(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-')
}

/// A user's local part: 1–64 bytes of `[a-z0-9._-]` (so never `#`).
pub fn is_user_name(s: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&s.len()) && s.bytes().all(is_name_byte)
}

/// A channel name without its `#`: like a user name, plus `/` between
/// non-empty hierarchy levels.
pub fn is_channel_name(s: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&s.len())
        && s.split('/')
            .all(|level| !level.is_empty() && level.bytes().all(is_name_byte))
}

/// A lowercase DNS host name: dot-separated labels of `[a-z0-9-]`, 1–63
/// bytes each, not starting or ending with `-`, 253 bytes at most.
pub fn is_server_name(s: &str) -> bool {
    (1..=MAX_SERVER_LEN).contains(&s.len())
        && s.split('.').all(|label| {
            (1..=MAX_LABEL_LEN).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_users_and_channels() {
        assert_eq!(
            Address::parse("alice@a.example"),
            Ok(Address::User {
                local: "alice",
                server: "a.example"
            })
        );
        assert_eq!(
            Address::parse("#pi/general@a.example"),
            Ok(Address::Channel {
                name: "pi/general",
                server: "a.example"
            })
        );
        assert!(Address::parse("a.b_c-9@localhost").is_ok());
        assert!(Address::parse(&format!("{}@x", "a".repeat(MAX_NAME_LEN))).is_ok());
    }

    #[test]
    fn rejects_malformed() {
        use AddressError::*;
        for (input, want) in [
            ("alice", MissingServer),
            ("@a.example", BadLocal),
            ("Alice@a.example", BadLocal),
            ("al ice@a.example", BadLocal),
            ("#@a.example", BadChannel),
            ("#pi//general@a.example", BadChannel),
            ("#/pi@a.example", BadChannel),
            ("#pi/@a.example", BadChannel),
            ("alice@", BadServer),
            ("alice@a..example", BadServer),
            ("alice@-a.example", BadServer),
            ("alice@A.example", BadServer),
            ("alice@b@c", BadServer),
        ] {
            assert_eq!(Address::parse(input), Err(want), "{input}");
        }
        let long = format!("{}@x", "a".repeat(MAX_NAME_LEN + 1));
        assert_eq!(Address::parse(&long), Err(BadLocal));
        let long_label = format!("a@{}", "b".repeat(MAX_LABEL_LEN + 1));
        assert_eq!(Address::parse(&long_label), Err(BadServer));
    }
}
