//! solec: a federated, low-bandwidth chat system speaking SOLEC.
//!
//! # Layout
//!
//! - [`proto`]: the sans-IO wire codec (PDUs, deframer, address grammar).
//! - [`store`]: the redb file; the only module that names redb types.
//! - [`server`]: `solec serve`: config, connection driver, session state
//!   machine, the hub that owns all shared state, the admin socket, and
//!   federation (the server's Ed25519 identity, known peers, the link
//!   handshake).
//! - [`client`]: log in, pipeline requests, tell replies from pushes; the
//!   `send`, `history`, `contact` and `channel` commands use it.
//! - [`radio`]: `solec radio`: LoRa airtime, modem framing, the link layer
//!   that carries SOLEC connections over a modem, and the modem emulator.
//! - [`time`]: Unix seconds to RFC 3339 and back.
//! - [`signals`]: SIGINT/SIGTERM as an async event.
//! - [`bench`](mod@bench): `solec bench`: a private server, sender/receiver load,
//!   idle connections, /proc readings, and a bare relay as the baseline;
//!   with `--federated`, two servers and a byte-counting proxy on their link.
//! - [`cli`]: one module per subcommand; `main.rs` only dispatches here.

pub mod bench;
pub mod cli;
pub mod client;
pub mod proto;
pub mod radio;
pub mod server;
pub mod signals;
pub mod store;
pub mod time;
