//! Parse the command line, run it, turn the outcome into an exit code.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = solec::cli::Cli::parse();
    match solec::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                // A closed stdout or stderr (`solec decode | head`) is not an error.
                let _ = writeln!(std::io::stderr(), "solec: {failure}");
            }
            ExitCode::from(failure.code)
        }
    }
}
