//! `solec encode`: build a PDU from arguments and print its hex.

/// Print the hex of a PDU built from arguments.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), super::Failure> {
    Err(super::Failure::new(
        super::exit::FAILURE,
        "encode: in progress",
    ))
}
