//! `solec decode`: hex dumps of captured traffic to readable PDUs.

/// Decode captured SOLEC traffic from hex dumps or raw bytes.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), super::Failure> {
    Err(super::Failure::new(
        super::exit::FAILURE,
        "decode: in progress",
    ))
}
