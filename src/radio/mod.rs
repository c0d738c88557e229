//! `solec radio`: SOLEC connections carried over a serial-attached LoRa
//! modem.
//!
//! - [`airtime`]: the Semtech time-on-air formula and the PHY settings.
//! - [`cursor`]: the checked cursor and error type of every radio codec.
//! - [`kiss`]: KISS framing and the RNode firmware's commands.
//! - [`record`]: the compressed record stream SOLEC PDUs travel in.
//! - [`textpack`]: the fixed Huffman code that packs message text.
//! - [`link`]: the sans-IO link layer: frames, acks, resends, multiplexing.
//! - [`ledger`]: the duty-cycle and dwell-time ledger.
//! - [`modem`]: the modem drivers behind one trait (rnode, kiss, rylr,
//!   transparent) and the `auto` probe.
//! - [`emulator`]: the emulated modems and their simulated channel.
//! - [`region`]: regional presets (duty cycle, dwell time, power, band).
//! - [`serial`]: raw termios on a tty, and the emulator's ptys.
//! - [`bridge`]: the threads that pump a link between a modem and TCP.
//! - [`rng`]: a small seeded generator for losses and jitter.
//! - [`rylr`]: REYAX AT command lines and their Base64 data field.
//! - [`transparent`]: length + CRC framing for modules with no frame
//!   boundaries (Ebyte E22/E32, Waveshare HAT).

pub mod airtime;
pub mod bridge;
pub mod cursor;
pub mod emulator;
pub mod kiss;
pub mod ledger;
pub mod link;
pub mod modem;
pub mod record;
pub mod region;
pub mod rng;
pub mod rylr;
pub mod serial;
pub mod textpack;
pub mod transparent;
