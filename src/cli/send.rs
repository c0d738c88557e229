//! `solec send`.

/// (in progress)
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), super::Failure> {
    Err(super::Failure::new(super::exit::FAILURE, "send: in progress"))
}
