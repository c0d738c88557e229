//! The SOLEC wire codec: bytes in, values out.
//!
//! Sans-IO: nothing here touches a socket, a file or a clock, so the same
//! code serves the server, the clients, `solec decode` and the fuzzer.
//!
//! - [`pdu`]: every payload type and the [`Pdu`] enum.
//! - [`frame`]: the streaming [`Deframer`].
//! - [`address`]: the `user@server` / `#channel@server` grammar.
//! - [`reader`]: the checked cursor the decoders read with.

pub mod address;
pub mod error;
pub mod frame;
pub mod pdu;
pub mod reader;

#[cfg(test)]
mod tests;

pub use address::Address;
pub use error::{DecodeError, EncodeError, ErrorKind};
pub use frame::Deframer;
pub use pdu::{
    code, error_frame, feature, type_name, ConnType, Contact, Error, ErrorType, Features,
    Handshake, History, LinkNonce, LinkProof, Message, Mode, Pdu, Relay, RelayHistory,
    RelayRefused, ServerAuth, Test, Token, TokenAuth, UserAuth, UserMode, HEADER_LEN, MAX_PAYLOAD,
    NONCE_LEN, SIGNATURE_LEN, SUCCESS_PDU, TOKEN_LEN,
};

/// The port SOLEC servers listen on unless told otherwise; clients and
/// servers both use it.
pub const DEFAULT_PORT: u16 = 7447;

/// Protocol version implemented here: draft revision 0.5.
pub const VERSION_MAJOR: u8 = 0;
/// See [`VERSION_MAJOR`].
pub const VERSION_MINOR: u8 = 5;
