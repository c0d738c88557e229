//! solec: a federated, low-bandwidth chat system speaking SOLEC.
//!
//! # Layout
//!
//! - [`proto`]: the sans-IO wire codec (PDUs, deframer, address grammar).
//! - [`cli`]: one module per subcommand; `main.rs` only dispatches here.

pub mod cli;
pub mod proto;
