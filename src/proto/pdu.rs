//! Every SOLEC payload: one struct per payload type, its decoder and encoder,
//! and the [`Pdu`] enum that joins them.
//!
//! Strings borrow from the input buffer, so decoding allocates nothing.
//! Wire enums keep an `Unknown` arm: values this crate does not know survive
//! decoding so that `solec decode` can show them and the server can answer.

use super::error::{DecodeError, EncodeError, ErrorKind};
use super::reader::{Reader, Writer};

/// Bytes in a PDU header: `type u8` then `length u16`.
pub const HEADER_LEN: usize = 3;

/// The largest payload the 16-bit length field can announce.
pub const MAX_PAYLOAD: usize = u16::MAX as usize;

/// PDU type codes, as in the draft's Table 1 plus this project's extensions.
pub mod code {
    pub const RESERVED: u8 = 0x00;
    pub const SUCCESS: u8 = 0x01;
    pub const ERROR: u8 = 0x02;
    pub const HANDSHAKE: u8 = 0x03;
    pub const USER_AUTH: u8 = 0x04;
    pub const MESSAGE: u8 = 0x05;
    pub const SERVER_AUTH: u8 = 0x06;
    pub const USER_MODE: u8 = 0x07;
    pub const HISTORY: u8 = 0x08;
    /// Extension: add an address to the sender's contacts.
    pub const CONTACT_ADD: u8 = 0x80;
    /// Extension: remove an address from the sender's contacts.
    pub const CONTACT_REMOVE: u8 = 0x81;
    /// Extension: ask for the sender's contacts.
    pub const CONTACT_LIST: u8 = 0x82;
    /// Extension: one contact in the reply to a ContactList.
    pub const CONTACT: u8 = 0x83;
    /// Extension: ask for optional behaviour (request), or say what is on
    /// (the server's reply).
    pub const FEATURES: u8 = 0x84;
    /// Extension: one message of a History reply, to a session that turned
    /// on [`super::feature::HISTORY_ITEMS`]; the payload is a Message's.
    pub const HISTORY_ITEM: u8 = 0x85;
    /// Extension: a fresh nonce from one end of a server-to-server link,
    /// for the other end to sign.
    pub const LINK_NONCE: u8 = 0x86;
    /// Extension: a server's signature over the link transcript, proving
    /// it holds the private key of its name.
    pub const LINK_PROOF: u8 = 0x87;
    /// Extension: the relay number of the next Message on a server link;
    /// each Message after it on that link takes the next number.
    pub const RELAY_FROM: u8 = 0x88;
    /// Extension: every relayed Message up to this number is durably
    /// stored or refused by the receiving server.
    pub const RELAY_ACK: u8 = 0x89;
    /// Extension: the receiving server refused relayed Message `number`.
    pub const RELAY_REFUSED: u8 = 0x8A;
    /// Extension: a History request a server forwards, for one of its
    /// users, to the home server of a channel.
    pub const RELAY_HISTORY: u8 = 0x8B;
    /// Extension: a logged-in user asks for a session token, to log in
    /// with later instead of the password.
    pub const TOKEN_REQUEST: u8 = 0x8C;
    /// Extension: the server's answer to a TokenRequest: the token and
    /// when it expires.
    pub const TOKEN: u8 = 0x8D;
    /// Extension: logs in with a session token, in place of UserAuth.
    pub const TOKEN_AUTH: u8 = 0x8E;
    pub const TEST: u8 = 0xFF;
}

/// Bits of a [`Features`] PDU.
pub mod feature {
    /// History replies carry their messages as HistoryItem (0x85), so a
    /// client tells them from pushed Messages by type alone.
    pub const HISTORY_ITEMS: u16 = 0x0001;
    /// Every bit this build knows.
    pub const KNOWN: u16 = HISTORY_ITEMS;
}

/// The whole Success PDU.
pub const SUCCESS_PDU: [u8; 3] = [code::SUCCESS, 0, 0];

/// The whole Error PDU of type `e`.
pub fn error_frame(e: ErrorType) -> [u8; 4] {
    [code::ERROR, 0, 1, e.into()]
}

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this crate does not know, kept as it was on the wire.
            Unknown(u8),
        }

        impl From<u8> for $name {
            fn from(v: u8) -> Self {
                match v {
                    $($value => $name::$variant,)*
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for u8 {
            fn from(v: $name) -> u8 {
                match v {
                    $($name::$variant => $value,)*
                    $name::Unknown(other) => other,
                }
            }
        }

        impl $name {
            /// A short human name for the value; `unknown` for values not known here.
            pub fn describe(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Unknown(_) => "unknown",
                }
            }
        }
    };
}

wire_enum! {
    /// `error_type` of an Error payload (draft Table 3, plus extensions).
    ErrorType {
        /// Client auth failed: invalid username or password.
        AuthFailed = 0x01 => "client auth failed",
        /// The user or channel does not exist or cannot be reached.
        NotFound = 0x02 => "not found",
        /// The requester may not do this.
        Unauthorized = 0x03 => "unauthorized",
        /// Extension: a well-formed PDU with a value the server rejects
        /// (bad address, negative count), or a malformed PDU.
        BadRequest = 0x80 => "bad request",
        /// Extension: the message content is over the server's limit.
        TooLarge = 0x81 => "too large",
        /// Extension: the server does not implement this PDU type here.
        Unsupported = 0x82 => "unsupported",
        /// Extension: the server failed (its store refused a read or write);
        /// the request was not carried out and may be retried.
        ServerError = 0x83 => "server error",
        /// Extension: the user is over the server's request rate; the
        /// request was not carried out and may be sent again later.
        SlowDown = 0x84 => "slow down",
    }
}

wire_enum! {
    /// `conn_type` of a Handshake payload.
    ConnType {
        /// A user connecting to a server.
        User = 0x01 => "user -> server",
        /// A server connecting to another server.
        Server = 0x02 => "server -> server",
    }
}

wire_enum! {
    /// `mode` of a UserMode payload.
    Mode {
        /// Leave the channel, or kick when set by an operator.
        Leave = 0x00 => "leave",
        Member = 0x01 => "member",
        Operator = 0x02 => "operator",
        Banned = 0x03 => "banned",
    }
}

/// 0x02 Error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    pub error_type: ErrorType,
}

/// 0x03 Handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    pub ver_major: u8,
    pub ver_minor: u8,
    pub conn_type: ConnType,
}

/// 0x04 UserAuth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserAuth<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

/// 0x05 Message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub source_address: &'a str,
    pub target_address: &'a str,
    /// Unix seconds, UTC, as the sender set it.
    pub send_time: u64,
    pub message_content: &'a str,
}

/// 0x06 ServerAuth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerAuth<'a> {
    pub name: &'a str,
}

/// 0x07 UserMode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserMode<'a> {
    pub user_address: &'a str,
    pub channel_address: &'a str,
    pub mode: Mode,
}

/// 0x08 History.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History<'a> {
    pub channel_address: &'a str,
    pub since: u64,
    pub count: i64,
    pub offset: i64,
}

/// 0x80 ContactAdd, 0x81 ContactRemove and 0x83 Contact (extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contact<'a> {
    pub address: &'a str,
}

/// 0x84 Features (extension): a client asks for the optional behaviours in
/// `flags`; the server answers with a Features PDU of those it turned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    pub flags: u16,
}

/// Bytes in a [`LinkNonce`].
pub const NONCE_LEN: usize = 32;

/// Bytes in a [`LinkProof`]'s Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// 0x86 LinkNonce (extension): 32 bytes the other server must sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkNonce<'a> {
    pub nonce: &'a [u8; NONCE_LEN],
}

/// 0x87 LinkProof (extension): an Ed25519 signature over the link
/// transcript (`docs/protocol.md`, section 8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkProof<'a> {
    pub signature: &'a [u8; SIGNATURE_LEN],
}

/// 0x88 RelayFrom and 0x89 RelayAck (extensions): a relay number of a
/// server link (`docs/protocol.md`, section 8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relay {
    pub number: u64,
}

/// 0x8A RelayRefused (extension): relayed Message `number` was refused
/// with `error_type`, and will not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayRefused {
    pub number: u64,
    pub error_type: ErrorType,
}

/// 0x8B RelayHistory (extension): History for `requester`, a user of the
/// server that forwards it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayHistory<'a> {
    pub requester: &'a str,
    pub history: History<'a>,
}

/// Bytes in a session token ([`Token`], [`TokenAuth`]): 256 bits from
/// the OS generator.
pub const TOKEN_LEN: usize = 32;

/// 0x8D Token (extension): a session token for the logged-in user, good
/// until Unix time `expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub token: &'a [u8; TOKEN_LEN],
    pub expires: u64,
}

/// 0x8E TokenAuth (extension): logs `username` in with a token it was
/// given, in place of a UserAuth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenAuth<'a> {
    pub username: &'a str,
    pub token: &'a [u8; TOKEN_LEN],
}

/// 0xFF Test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Test {
    pub num1: u8,
    pub num2: u16,
    pub num3: u32,
    pub num4: u64,
}

/// One decoded PDU. Strings borrow from the buffer it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pdu<'a> {
    Success,
    Error(Error),
    Handshake(Handshake),
    UserAuth(UserAuth<'a>),
    Message(Message<'a>),
    ServerAuth(ServerAuth<'a>),
    UserMode(UserMode<'a>),
    History(History<'a>),
    ContactAdd(Contact<'a>),
    ContactRemove(Contact<'a>),
    ContactList,
    Contact(Contact<'a>),
    Features(Features),
    HistoryItem(Message<'a>),
    LinkNonce(LinkNonce<'a>),
    LinkProof(LinkProof<'a>),
    RelayFrom(Relay),
    RelayAck(Relay),
    RelayRefused(RelayRefused),
    RelayHistory(RelayHistory<'a>),
    TokenRequest,
    Token(Token<'a>),
    TokenAuth(TokenAuth<'a>),
    Test(Test),
    /// A type this crate does not know, with its raw payload.
    Unknown {
        code: u8,
        payload: &'a [u8],
    },
}

impl<'a> Pdu<'a> {
    /// Decodes one payload of type `code`. Offsets in errors count from the
    /// PDU's type byte.
    pub fn decode(code: u8, payload: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload, HEADER_LEN);
        let pdu = match code {
            // "0x00 ... R": reserved, never valid on the wire.
            code::RESERVED => {
                return Err(DecodeError::new(ErrorKind::ReservedType, "type", 0));
            }
            code::SUCCESS => Pdu::Success,
            code::ERROR => Pdu::Error(Error {
                error_type: r.u8("error_type")?.into(),
            }),
            code::HANDSHAKE => Pdu::Handshake(Handshake {
                ver_major: r.u8("ver_major")?,
                ver_minor: r.u8("ver_minor")?,
                conn_type: r.u8("conn_type")?.into(),
            }),
            code::USER_AUTH => Pdu::UserAuth(UserAuth {
                username: r.string("username")?,
                password: r.string("password")?,
            }),
            code::MESSAGE => Pdu::Message(Message {
                source_address: r.string("source_address")?,
                target_address: r.string("target_address")?,
                send_time: r.u64("send_time")?,
                message_content: r.string("message_content")?,
            }),
            code::SERVER_AUTH => Pdu::ServerAuth(ServerAuth {
                name: r.string("name")?,
            }),
            code::USER_MODE => Pdu::UserMode(UserMode {
                user_address: r.string("user_address")?,
                channel_address: r.string("channel_address")?,
                mode: r.u8("mode")?.into(),
            }),
            code::HISTORY => Pdu::History(History {
                channel_address: r.string("channel_address")?,
                since: r.u64("since")?,
                count: r.i64("count")?,
                offset: r.i64("offset")?,
            }),
            code::CONTACT_ADD => Pdu::ContactAdd(Contact {
                address: r.string("address")?,
            }),
            code::CONTACT_REMOVE => Pdu::ContactRemove(Contact {
                address: r.string("address")?,
            }),
            code::CONTACT_LIST => Pdu::ContactList,
            code::CONTACT => Pdu::Contact(Contact {
                address: r.string("address")?,
            }),
            code::FEATURES => Pdu::Features(Features {
                flags: r.u16("flags")?,
            }),
            code::HISTORY_ITEM => Pdu::HistoryItem(Message {
                source_address: r.string("source_address")?,
                target_address: r.string("target_address")?,
                send_time: r.u64("send_time")?,
                message_content: r.string("message_content")?,
            }),
            code::LINK_NONCE => Pdu::LinkNonce(LinkNonce {
                nonce: r.array_ref("nonce")?,
            }),
            code::LINK_PROOF => Pdu::LinkProof(LinkProof {
                signature: r.array_ref("signature")?,
            }),
            code::RELAY_FROM => Pdu::RelayFrom(Relay {
                number: r.u64("number")?,
            }),
            code::RELAY_ACK => Pdu::RelayAck(Relay {
                number: r.u64("number")?,
            }),
            code::RELAY_REFUSED => Pdu::RelayRefused(RelayRefused {
                number: r.u64("number")?,
                error_type: r.u8("error_type")?.into(),
            }),
            code::RELAY_HISTORY => Pdu::RelayHistory(RelayHistory {
                requester: r.string("requester")?,
                history: History {
                    channel_address: r.string("channel_address")?,
                    since: r.u64("since")?,
                    count: r.i64("count")?,
                    offset: r.i64("offset")?,
                },
            }),
            code::TOKEN_REQUEST => Pdu::TokenRequest,
            code::TOKEN => Pdu::Token(Token {
                token: r.array_ref("token")?,
                expires: r.u64("expires")?,
            }),
            code::TOKEN_AUTH => Pdu::TokenAuth(TokenAuth {
                username: r.string("username")?,
                token: r.array_ref("token")?,
            }),
            code::TEST => Pdu::Test(Test {
                num1: r.u8("num1")?,
                num2: r.u16("num2")?,
                num3: r.u32("num3")?,
                num4: r.u64("num4")?,
            }),
            code => return Ok(Pdu::Unknown { code, payload }),
        };
        r.finish()?;
        Ok(pdu)
    }

    /// The PDU type code.
    pub fn code(&self) -> u8 {
        match self {
            Pdu::Success => code::SUCCESS,
            Pdu::Error(_) => code::ERROR,
            Pdu::Handshake(_) => code::HANDSHAKE,
            Pdu::UserAuth(_) => code::USER_AUTH,
            Pdu::Message(_) => code::MESSAGE,
            Pdu::ServerAuth(_) => code::SERVER_AUTH,
            Pdu::UserMode(_) => code::USER_MODE,
            Pdu::History(_) => code::HISTORY,
            Pdu::ContactAdd(_) => code::CONTACT_ADD,
            Pdu::ContactRemove(_) => code::CONTACT_REMOVE,
            Pdu::ContactList => code::CONTACT_LIST,
            Pdu::Contact(_) => code::CONTACT,
            Pdu::Features(_) => code::FEATURES,
            Pdu::HistoryItem(_) => code::HISTORY_ITEM,
            Pdu::LinkNonce(_) => code::LINK_NONCE,
            Pdu::LinkProof(_) => code::LINK_PROOF,
            Pdu::RelayFrom(_) => code::RELAY_FROM,
            Pdu::RelayAck(_) => code::RELAY_ACK,
            Pdu::RelayRefused(_) => code::RELAY_REFUSED,
            Pdu::RelayHistory(_) => code::RELAY_HISTORY,
            Pdu::TokenRequest => code::TOKEN_REQUEST,
            Pdu::Token(_) => code::TOKEN,
            Pdu::TokenAuth(_) => code::TOKEN_AUTH,
            Pdu::Test(_) => code::TEST,
            Pdu::Unknown { code, .. } => *code,
        }
    }

    /// The draft's name for the type (`Message`, `UserAuth`, …).
    pub fn name(&self) -> &'static str {
        type_name(self.code())
    }

    /// Appends the whole PDU, header and payload, to `out`.
    ///
    /// On error `out` is left as it was.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        out.put_u8(self.code());
        out.put_u16(0);
        let res = self.encode_payload(out).and_then(|()| {
            let len =
                u16::try_from(out.len() - start - HEADER_LEN).map_err(|_| EncodeError::TooLong)?;
            out[start + 1..start + HEADER_LEN].copy_from_slice(&len.to_be_bytes());
            Ok(())
        });
        if res.is_err() {
            out.truncate(start);
        }
        res
    }

    /// The PDU as a fresh byte vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }

    fn encode_payload(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Pdu::Success | Pdu::ContactList | Pdu::TokenRequest => {}
            Pdu::Error(e) => out.put_u8(e.error_type.into()),
            Pdu::Handshake(h) => {
                out.put_u8(h.ver_major);
                out.put_u8(h.ver_minor);
                out.put_u8(h.conn_type.into());
            }
            Pdu::UserAuth(a) => {
                out.put_str(a.username)?;
                out.put_str(a.password)?;
            }
            Pdu::Message(m) | Pdu::HistoryItem(m) => {
                out.put_str(m.source_address)?;
                out.put_str(m.target_address)?;
                out.put_u64(m.send_time);
                out.put_str(m.message_content)?;
            }
            Pdu::ServerAuth(s) => out.put_str(s.name)?,
            Pdu::UserMode(u) => {
                out.put_str(u.user_address)?;
                out.put_str(u.channel_address)?;
                out.put_u8(u.mode.into());
            }
            Pdu::RelayHistory(RelayHistory {
                requester,
                history: h,
            }) => {
                out.put_str(requester)?;
                out.put_str(h.channel_address)?;
                out.put_u64(h.since);
                out.put_i64(h.count);
                out.put_i64(h.offset);
            }
            Pdu::History(h) => {
                out.put_str(h.channel_address)?;
                out.put_u64(h.since);
                out.put_i64(h.count);
                out.put_i64(h.offset);
            }
            Pdu::ContactAdd(c) | Pdu::ContactRemove(c) | Pdu::Contact(c) => {
                out.put_str(c.address)?
            }
            Pdu::Features(f) => out.put_u16(f.flags),
            Pdu::LinkNonce(n) => out.extend_from_slice(n.nonce),
            Pdu::LinkProof(p) => out.extend_from_slice(p.signature),
            Pdu::RelayFrom(r) | Pdu::RelayAck(r) => out.put_u64(r.number),
            Pdu::RelayRefused(r) => {
                out.put_u64(r.number);
                out.put_u8(r.error_type.into());
            }
            Pdu::Token(t) => {
                out.extend_from_slice(t.token);
                out.put_u64(t.expires);
            }
            Pdu::TokenAuth(t) => {
                out.put_str(t.username)?;
                out.extend_from_slice(t.token);
            }
            Pdu::Test(t) => {
                out.put_u8(t.num1);
                out.put_u16(t.num2);
                out.put_u32(t.num3);
                out.put_u64(t.num4);
            }
            Pdu::Unknown { payload, .. } => out.extend_from_slice(payload),
        }
        Ok(())
    }
}

/// The name of a PDU type code, `Unknown` for codes not known here.
pub fn type_name(code: u8) -> &'static str {
    match code {
        code::RESERVED => "Reserved",
        code::SUCCESS => "Success",
        code::ERROR => "Error",
        code::HANDSHAKE => "Handshake",
        code::USER_AUTH => "UserAuth",
        code::MESSAGE => "Message",
        code::SERVER_AUTH => "ServerAuth",
        code::USER_MODE => "UserMode",
        code::HISTORY => "History",
        code::CONTACT_ADD => "ContactAdd",
        code::CONTACT_REMOVE => "ContactRemove",
        code::CONTACT_LIST => "ContactList",
        code::CONTACT => "Contact",
        code::FEATURES => "Features",
        code::HISTORY_ITEM => "HistoryItem",
        code::LINK_NONCE => "LinkNonce",
        code::LINK_PROOF => "LinkProof",
        code::RELAY_FROM => "RelayFrom",
        code::RELAY_ACK => "RelayAck",
        code::RELAY_REFUSED => "RelayRefused",
        code::RELAY_HISTORY => "RelayHistory",
        code::TOKEN_REQUEST => "TokenRequest",
        code::TOKEN => "Token",
        code::TOKEN_AUTH => "TokenAuth",
        code::TEST => "Test",
        _ => "Unknown",
    }
}

macro_rules! into_pdu {
    ($($ty:ident $(<$lt:lifetime>)? => $variant:ident,)*) => {$(
        impl<'a> From<$ty $(<$lt>)?> for Pdu<'a> {
            fn from(p: $ty $(<$lt>)?) -> Self {
                Pdu::$variant(p)
            }
        }
    )*};
}

into_pdu! {
    Error => Error,
    Handshake => Handshake,
    UserAuth<'a> => UserAuth,
    Message<'a> => Message,
    ServerAuth<'a> => ServerAuth,
    UserMode<'a> => UserMode,
    History<'a> => History,
    Features => Features,
    LinkNonce<'a> => LinkNonce,
    LinkProof<'a> => LinkProof,
    RelayRefused => RelayRefused,
    Token<'a> => Token,
    TokenAuth<'a> => TokenAuth,
    Test => Test,
}

impl From<ErrorType> for Pdu<'_> {
    fn from(error_type: ErrorType) -> Self {
        Pdu::Error(Error { error_type })
    }
}
