//! `solec encode`: build a PDU from arguments and print its hex.
//!
//! The mirror of `solec decode`: one subcommand per PDU type, fields under
//! the draft's names, output that `decode` reads back. Nothing beyond what
//! fits on the wire is checked, so deliberately wrong requests (bad
//! addresses, negative counts, unknown modes, raw payloads) can be built to
//! test a server.

use super::names::{self, Name};
use super::{exit, hexinput, Failure};
use crate::proto::{
    Contact, Error, Handshake, History, Message, Pdu, ServerAuth, Test, UserAuth, UserMode,
    VERSION_MAJOR, VERSION_MINOR,
};
use clap::builder::{PossibleValue, TypedValueParser};
use clap::Subcommand;
use std::io::Write;

/// Print the hex of a PDU built from arguments.
///
/// The output is one line of lowercase hex that `solec decode` reads back,
/// so PDUs can be built, joined and inspected from the shell, for example
/// `{ solec encode handshake; solec encode user-auth alice secret; } | solec
/// decode`. Numbers may be decimal or 0x-prefixed hex. Values are not checked
/// beyond fitting their wire types, so requests a server must refuse can be
/// built on purpose; strings longer than 65535 bytes are refused (exit status
/// 2).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Separate the bytes with spaces.
    #[arg(long, global = true)]
    spaced: bool,

    #[command(subcommand)]
    pdu: PduArgs,
}

#[derive(Debug, Subcommand)]
enum PduArgs {
    /// 0x01 Success (no payload).
    Success,
    /// 0x02 Error.
    Error {
        /// error_type: a number, or a name
        #[arg(value_parser = Named(names::error_types))]
        error_type: u8,
    },
    /// 0x03 Handshake, by default the one a client of this version sends.
    Handshake {
        /// ver_major.
        #[arg(long, default_value_t = VERSION_MAJOR, value_parser = parse_u8)]
        major: u8,
        /// ver_minor.
        #[arg(long, default_value_t = VERSION_MINOR, value_parser = parse_u8)]
        minor: u8,
        /// conn_type: a number, or a name
        #[arg(long, default_value = "user", value_parser = Named(names::conn_types))]
        conn_type: u8,
    },
    /// 0x04 UserAuth.
    ///
    /// The password is visible to other local users in the process list:
    /// use a test account.
    UserAuth {
        /// username: a local name (alice) or a full address (alice@server).
        username: String,
        /// password.
        password: String,
    },
    /// 0x05 Message.
    Message {
        /// source_address, e.g. alice@example.org.
        #[arg(long, value_name = "ADDRESS")]
        from: String,
        /// target_address: a user or a #channel@server.
        #[arg(long, value_name = "ADDRESS")]
        to: String,
        /// send_time: Unix seconds, or a UTC time as `solec decode` shows it
        /// (2023-11-14T22:13:20Z); the current time by default.
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        time: Option<u64>,
        /// message_content.
        #[arg(long)]
        text: String,
    },
    /// 0x06 ServerAuth.
    ServerAuth {
        /// name: the connecting server's name.
        name: String,
    },
    /// 0x07 UserMode.
    UserMode {
        /// user_address: whose mode changes.
        user_address: String,
        /// channel_address: a #channel@server.
        channel_address: String,
        /// mode: a number, or a name
        #[arg(value_parser = Named(names::modes))]
        mode: u8,
    },
    /// 0x08 History.
    History {
        /// channel_address: a #channel@server, or user@server for a direct
        /// conversation.
        channel_address: String,
        /// since: Unix seconds, or a UTC time (2023-11-14T22:13:20Z).
        #[arg(long, value_name = "TIME", default_value_t = 0, value_parser = parse_time)]
        since: u64,
        /// count: how many messages at most.
        #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
        count: i64,
        /// offset: how many matching messages to skip.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        offset: i64,
    },
    /// 0x80 ContactAdd (extension).
    ContactAdd {
        /// address: the user to add, user@server.
        address: String,
    },
    /// 0x81 ContactRemove (extension).
    ContactRemove {
        /// address: the user to remove, user@server.
        address: String,
    },
    /// 0x82 ContactList (extension; no payload).
    ContactList,
    /// 0x83 Contact (extension).
    Contact {
        /// address: one contact, user@server.
        address: String,
    },
    /// 0xFF Test.
    Test {
        /// num1, uint8.
        #[arg(value_parser = parse_u8)]
        num1: u8,
        /// num2, uint16.
        #[arg(value_parser = parse_u16)]
        num2: u16,
        /// num3, uint32.
        #[arg(value_parser = parse_u32)]
        num3: u32,
        /// num4, uint64.
        #[arg(value_parser = parse_u64)]
        num4: u64,
    },
    /// Any type code with any payload, for PDUs this tool has no shape for
    /// or deliberately malformed ones.
    Raw {
        /// The type code.
        #[arg(value_parser = parse_u8)]
        code: u8,
        /// The payload as hex (arguments are joined); empty when absent.
        payload: Vec<String>,
    },
}

pub fn run(args: Args) -> Result<(), Failure> {
    let payload = match &args.pdu {
        PduArgs::Raw { payload, .. } => hexinput::from_args(payload)
            .map_err(|e| Failure::new(exit::USAGE, format!("bad hex payload: {e}")))?,
        _ => Vec::new(),
    };
    let pdu = build(&args.pdu, &payload);
    let bytes = pdu
        .to_vec()
        .map_err(|e| Failure::new(exit::USAGE, e.to_string()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", format_hex(&bytes, args.spaced))?;
    out.flush()?;
    Ok(())
}

/// The PDU the arguments describe; `payload` is the parsed hex of `raw`.
fn build<'a>(args: &'a PduArgs, payload: &'a [u8]) -> Pdu<'a> {
    match args {
        PduArgs::Success => Pdu::Success,
        PduArgs::Error { error_type } => Error {
            error_type: (*error_type).into(),
        }
        .into(),
        PduArgs::Handshake {
            major,
            minor,
            conn_type,
        } => Handshake {
            ver_major: *major,
            ver_minor: *minor,
            conn_type: (*conn_type).into(),
        }
        .into(),
        PduArgs::UserAuth { username, password } => UserAuth { username, password }.into(),
        PduArgs::Message {
            from,
            to,
            time,
            text,
        } => Message {
            source_address: from,
            target_address: to,
            send_time: time.unwrap_or_else(crate::time::now),
            message_content: text,
        }
        .into(),
        PduArgs::ServerAuth { name } => ServerAuth { name }.into(),
        PduArgs::UserMode {
            user_address,
            channel_address,
            mode,
        } => UserMode {
            user_address,
            channel_address,
            mode: (*mode).into(),
        }
        .into(),
        PduArgs::History {
            channel_address,
            since,
            count,
            offset,
        } => History {
            channel_address,
            since: *since,
            count: *count,
            offset: *offset,
        }
        .into(),
        PduArgs::ContactAdd { address } => Pdu::ContactAdd(Contact { address }),
        PduArgs::ContactRemove { address } => Pdu::ContactRemove(Contact { address }),
        PduArgs::ContactList => Pdu::ContactList,
        PduArgs::Contact { address } => Pdu::Contact(Contact { address }),
        PduArgs::Test {
            num1,
            num2,
            num3,
            num4,
        } => Test {
            num1: *num1,
            num2: *num2,
            num3: *num3,
            num4: *num4,
        }
        .into(),
        PduArgs::Raw { code, .. } => Pdu::Unknown {
            code: *code,
            payload,
        },
    }
}

fn format_hex(bytes: &[u8], spaced: bool) -> String {
    if !spaced {
        return hex::encode(bytes);
    }
    let pairs: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    pairs.join(" ")
}

/// A number in decimal or with a `0x` prefix in hex.
fn parse_u64(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("`{s}` is not a number (decimal, or hex with 0x)"))
}

/// A timestamp: a number as [`parse_u64`] takes it, or RFC 3339 UTC text.
fn parse_time(s: &str) -> Result<u64, String> {
    parse_u64(s).or_else(|_| {
        crate::time::parse(s).ok_or_else(|| {
            format!("`{s}` is neither Unix seconds nor a UTC time like 2023-11-14T22:13:20Z")
        })
    })
}

fn parse_sized<T: TryFrom<u64>>(s: &str) -> Result<T, String> {
    let n = parse_u64(s)?;
    T::try_from(n).map_err(|_| format!("{n} does not fit in {} bits", 8 * size_of::<T>()))
}

fn parse_u8(s: &str) -> Result<u8, String> {
    parse_sized(s)
}

fn parse_u16(s: &str) -> Result<u16, String> {
    parse_sized(s)
}

fn parse_u32(s: &str) -> Result<u32, String> {
    parse_sized(s)
}

/// A number, or one of the names in `table`.
fn parse_named(s: &str, table: &[Name]) -> Result<u8, String> {
    if let Some(v) = names::find(table, s) {
        return Ok(v);
    }
    parse_u8(s).map_err(|_| {
        let names: Vec<&str> = table.iter().map(|n| n.name.as_str()).collect();
        format!("`{s}` is neither a number nor one of {}", names.join(", "))
    })
}

/// A wire enum's value: a number, or one of the codec's names for it (see
/// [`names`]), which `--help`, the man page and completions list.
#[derive(Clone, Copy)]
struct Named(fn() -> &'static [Name]);

impl TypedValueParser for Named {
    type Value = u8;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<u8, clap::Error> {
        let table = (self.0)();
        // A plain function parser words its errors as clap does for others.
        let parse = move |s: &str| parse_named(s, table);
        parse.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let values = (self.0)().iter().map(|n| {
            let also = match n.aliases.is_empty() {
                true => String::new(),
                false => format!(" (also {})", n.aliases.join(", ")),
            };
            PossibleValue::new(n.name.as_str())
                .aliases(n.aliases.iter().map(String::as_str))
                .help(format!("0x{:02x}, {}{also}", n.value, n.meaning))
        });
        Some(Box::new(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ConnType, ErrorType, Mode};

    fn named(s: &str, table: fn() -> &'static [Name]) -> Result<u8, String> {
        parse_named(s, table())
    }

    /// Names come from the codec, so every code it knows can be named.
    #[test]
    fn names_match_the_codec() {
        let e = |s| ErrorType::from(named(s, names::error_types).unwrap());
        assert_eq!(e("auth-failed"), ErrorType::AuthFailed);
        assert_eq!(e("server-error"), ErrorType::ServerError);
        assert_eq!(e("0x83"), ErrorType::ServerError);
        let c = |s| ConnType::from(named(s, names::conn_types).unwrap());
        assert_eq!(c("server"), ConnType::Server);
        let m = |s| Mode::from(named(s, names::modes).unwrap());
        assert_eq!(m("banned"), Mode::Banned);
        assert_eq!(m("ban"), Mode::Banned);
        assert_eq!(m("op"), Mode::Operator);
        assert_eq!(m("kick"), Mode::Leave);
    }

    #[test]
    fn numbers_in_decimal_or_hex_within_their_width() {
        assert_eq!(parse_u8("0x7f"), Ok(0x7f));
        assert_eq!(parse_u16("65535"), Ok(65535));
        assert!(parse_u8("256").is_err());
        assert!(parse_u64("-1").is_err());
        assert_eq!(named("9", names::modes), Ok(9));
        assert_eq!(
            named("lurker", names::modes),
            Err("`lurker` is neither a number nor one of leave, member, operator, banned".into())
        );
    }

    #[test]
    fn times_as_decode_prints_them() {
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000));
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_time("0x10"), Ok(16));
        assert!(parse_time("yesterday").is_err());
    }
}
