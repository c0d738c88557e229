//! Fuzz target `address`: arbitrary strings through the address grammar of
//! `solec::proto::address`, checked against a second, deliberately naive
//! reading of the grammar as `docs/protocol.md` states it.
//!
//! For every input it checks that
//! - `Address::parse` accepts exactly the strings the reference accepts,
//!   with the same error for those it refuses;
//! - an accepted address borrows its parts from the input and puts them
//!   back together into exactly the input (`local@server`, `#name@server`);
//! - `is_user_name`, `is_channel_name` and `is_server_name` agree with the
//!   reference for the input itself and for each side of its first `@`;
//! - errors display without panic.
//!
//! Input layout: the bytes as a string, lossily decoded from UTF-8 (so the
//! fuzzer also explores multi-byte characters next to `@`, `#` and `/`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use solec::proto::address::{
    is_channel_name, is_server_name, is_user_name, Address, AddressError, MAX_LABEL_LEN,
    MAX_NAME_LEN, MAX_SERVER_LEN,
};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let s: &str = &s;
    check_predicates(s);
    if let Some((local, server)) = s.split_once('@') {
        check_predicates(local);
        check_predicates(server);
        if let Some(name) = local.strip_prefix('#') {
            check_predicates(name);
        }
    }
    let got = Address::parse(s);
    assert_eq!(got.map(|_| ()), reference_parse(s), "{s:?}");
    match got {
        Ok(Address::User { local, server }) => {
            assert_eq!(format!("{local}@{server}"), s);
            assert!(borrows(s, local) && borrows(s, server));
            assert_eq!(Address::User { local, server }.server(), server);
        }
        Ok(Address::Channel { name, server }) => {
            assert_eq!(format!("#{name}@{server}"), s);
            assert!(borrows(s, name) && borrows(s, server));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});

fn check_predicates(s: &str) {
    assert_eq!(is_user_name(s), reference_name(s, false), "user {s:?}");
    assert_eq!(is_channel_name(s), reference_name(s, true), "channel {s:?}");
    assert_eq!(is_server_name(s), reference_server(s), "server {s:?}");
}

/// Whether `part` is a slice of `whole`, not a copy.
fn borrows(whole: &str, part: &str) -> bool {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}

/// The grammar read character by character: split at the first `@`; the
/// server part must be a host name; a leading `#` makes a channel.
fn reference_parse(s: &str) -> Result<(), AddressError> {
    let Some(at) = s.chars().position(|c| c == '@') else {
        return Err(AddressError::MissingServer);
    };
    let chars: Vec<char> = s.chars().collect();
    let local: String = chars[..at].iter().collect();
    let server: String = chars[at + 1..].iter().collect();
    if !reference_server(&server) {
        return Err(AddressError::BadServer);
    }
    match local.strip_prefix('#') {
        Some(name) if reference_name(name, true) => Ok(()),
        Some(_) => Err(AddressError::BadChannel),
        None if reference_name(&local, false) => Ok(()),
        None => Err(AddressError::BadLocal),
    }
}

/// 1–64 bytes of lowercase letters, digits, `.`, `_`, `-`; a channel name
/// may also hold `/`, never first, last or twice in a row.
fn reference_name(s: &str, channel: bool) -> bool {
    let mut prev_slash = true;
    for c in s.chars() {
        let slash = c == '/';
        let ok = c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
        if !(ok || (channel && slash)) || (slash && prev_slash) {
            return false;
        }
        prev_slash = slash;
    }
    !s.is_empty() && s.len() <= MAX_NAME_LEN && !prev_slash
}

/// A lowercase DNS host name: labels of 1–63 bytes of `[a-z0-9-]`, not
/// starting or ending with `-`, joined by single dots, 253 bytes at most.
fn reference_server(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_SERVER_LEN {
        return false;
    }
    let mut label = String::new();
    let mut labels = Vec::new();
    for c in s.chars() {
        if c == '.' {
            labels.push(std::mem::take(&mut label));
        } else {
            label.push(c);
        }
    }
    labels.push(label);
    labels.iter().all(|l| {
        !l.is_empty()
            && l.len() <= MAX_LABEL_LEN
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    })
}
