//! `solec radio`: the bridge between local SOLEC connections and a LoRa
//! modem, and its helper subcommands (`airtime`).

use super::Failure;

pub mod airtime;

/// Carry SOLEC connections over a serial-attached LoRa modem.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    Airtime(airtime::Args),
}

pub fn run(args: Args) -> Result<(), Failure> {
    match args.command {
        Command::Airtime(args) => airtime::run(args),
    }
}
