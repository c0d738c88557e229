//! The command line: one module per subcommand, each with `Args` and `run`.
//!
//! Clap types stop here; they become plain config structs before they reach
//! the server. The `match` in [`run`] is the table of contents, and the doc
//! comments on the clap types are the one source of `--help`, the man pages
//! and the shell completions.

use clap::{Parser, Subcommand};
use std::fmt;

pub mod bench;
pub mod channel;
pub mod connect;
pub mod contact;
pub mod decode;
pub mod encode;
pub mod federate;
mod hexinput;
pub mod history;
pub mod logger;
mod names;
pub mod radio;
pub mod send;
pub mod serve;
pub mod store;
mod text;
mod tokens;
pub mod user;

/// solec: a federated, low-bandwidth chat system speaking SOLEC.
#[derive(Debug, Parser)]
#[command(
    name = "solec",
    version,
    propagate_version = true,
    after_long_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Serve(serve::Args),
    User(user::Args),
    Store(store::Args),
    Federate(federate::Args),
    Send(send::Args),
    History(history::Args),
    Contact(contact::Args),
    Channel(channel::Args),
    Decode(decode::Args),
    Encode(encode::Args),
    Bench(bench::Args),
    Radio(radio::Args),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::User(args) => user::run(args),
        Command::Store(args) => store::run(args),
        Command::Federate(args) => federate::run(args),
        Command::Send(args) => send::run(args),
        Command::History(args) => history::run(args),
        Command::Contact(args) => contact::run(args),
        Command::Channel(args) => channel::run(args),
        Command::Decode(args) => decode::run(args),
        Command::Encode(args) => encode::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Radio(args) => radio::run(args),
    }
}

/// The exit code table shown by `solec --help` and in `solec(1)`.
const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  another failure (malformed input to decode, an IO error)
  2  bad command line or bad input value
  3  the server could not be reached, did not answer in time, or the connection broke
  4  the server refused the user name or password (Error 0x01)
  5  the server refused a request (not found, unauthorized, too large, ...)";

/// Exit codes, documented in `solec(1)` and relied on by scripts.
pub mod exit {
    /// Everything worked.
    pub const OK: u8 = 0;
    /// A failure not listed below (malformed input to `decode`, IO errors).
    pub const FAILURE: u8 = 1;
    /// Bad command line or bad input value.
    pub const USAGE: u8 = 2;
    /// The server could not be reached, did not answer in time, or the connection broke.
    pub const CONNECT: u8 = 3;
    /// The server refused the user name or password (Error 0x01).
    pub const AUTH: u8 = 4;
    /// The server refused a request (not found, unauthorized, or another Error).
    pub const REFUSED: u8 = 5;

    /// Every code above, in order.
    pub const ALL: [u8; 6] = [OK, FAILURE, USAGE, CONNECT, AUTH, REFUSED];
}

/// A failed command: the exit code and the one line `main` prints.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// A failure with no message: the command already reported it.
    pub fn silent(code: u8) -> Self {
        Failure::new(code, String::new())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<std::io::Error> for Failure {
    /// A broken pipe on output (`solec decode | head`) is success.
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::BrokenPipe => Failure::silent(exit::OK),
            _ => Failure::new(exit::FAILURE, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_lists_every_exit_code() {
        let listed: Vec<u8> = EXIT_CODES
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(listed, exit::ALL);
    }
}
