//! `solec store check|backup`: verify a store offline, copy it at any time.
//!
//! `check` reads the file itself and never writes it, so it refuses a
//! store a running server holds (check a backup of it instead). `backup`
//! goes through a running server's admin socket, which copies inside one
//! read transaction while it keeps serving; with no server it copies the
//! file itself. Either way the copy is checked before the command ends.

use super::serve::DataArgs;
use super::user::via_socket_with;
use super::{exit, Failure};
use crate::server::admin::{Reply, Request};
use crate::server::config::Config;
use crate::store::{backup, check, StoreError};
use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Verify the store, or copy it while the server runs.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Verify a store no server holds: redb's page checksums, every
    /// message's checksum, the History index and every reverse index.
    /// Prints a summary; exits 0 if clean, 1 if damage was found, 2 if the
    /// check cannot run (no such store, or a server holds it: check a
    /// backup). The file is never written.
    Check(CheckArgs),
    /// Write a consistent copy of the store to a new file, then check it.
    /// With a server running on the data directory the server makes the
    /// copy, holding every message it acknowledged before the backup
    /// began; otherwise this command copies the file itself.
    Backup(BackupArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Store file to check instead of the data directory's (a backup, say)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The new file to write; an existing file is never overwritten
    #[arg(value_name = "DEST")]
    pub dest: PathBuf,

    #[command(flatten)]
    pub data: DataArgs,
}

/// How long `solec store backup` waits for a running server's copy: a
/// whole store read and written, on an SD card.
pub const BACKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

pub fn run(args: Args) -> Result<(), Failure> {
    match args.command {
        StoreCommand::Check(a) => run_check(a),
        StoreCommand::Backup(a) => run_backup(a),
    }
}

fn run_check(args: CheckArgs) -> Result<(), Failure> {
    let path = match args.file {
        Some(file) => file,
        None => Config::from_file(args.data.file_config()?).store_path(),
    };
    let report = check_file(&path)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{report}")?;
    match report.clean() {
        true => Ok(()),
        false => Err(Failure::silent(exit::FAILURE)),
    }
}

/// Checks `path`, with the failures that stop a check as exit 2.
fn check_file(path: &Path) -> Result<check::Report, Failure> {
    if !path.is_file() {
        let msg = format!("no store at {}", path.display());
        return Err(Failure::new(exit::USAGE, msg));
    }
    check::check(path).map_err(|e| match e {
        StoreError::InUse(_) => Failure::new(
            exit::USAGE,
            format!(
                "{} is held by a running server; check a copy: \
                 `solec store backup FILE`, then `solec store check FILE`",
                path.display()
            ),
        ),
        e => Failure::new(exit::FAILURE, e.to_string()),
    })
}

fn run_backup(args: BackupArgs) -> Result<(), Failure> {
    let usage = |m: String| Failure::new(exit::USAGE, m);
    // The server resolves the path, from its own working directory.
    let dest = std::path::absolute(&args.dest)
        .map_err(|e| usage(format!("{}: {e}", args.dest.display())))?;
    if dest.exists() {
        return Err(usage(format!("{} exists already", dest.display())));
    }
    let config = Config::from_file(args.data.file_config()?);
    let messages = match UnixStream::connect(config.admin_socket()) {
        Ok(stream) => via_server(stream, &dest)?,
        Err(_) => offline(&config.store_path(), &dest)?,
    };
    let report = check_file(&dest)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "backed up {} to {}: {messages} messages",
        config.store_path().display(),
        dest.display()
    )?;
    writeln!(out, "{report}")?;
    match report.clean() {
        true => Ok(()),
        false => Err(Failure::silent(exit::FAILURE)),
    }
}

/// The running server copies; returns the messages copied.
fn via_server(stream: UnixStream, dest: &Path) -> Result<u64, Failure> {
    let Some(path) = dest.to_str() else {
        let msg = format!(
            "{} is not UTF-8, which the admin socket needs",
            dest.display()
        );
        return Err(Failure::new(exit::USAGE, msg));
    };
    let request = Request::Backup { path: path.into() };
    match via_socket_with(stream, &request, BACKUP_TIMEOUT)? {
        Reply {
            ok: true, messages, ..
        } => Ok(messages.unwrap_or_default()),
        Reply { error, .. } => Err(Failure::new(
            exit::FAILURE,
            error.unwrap_or_else(|| "the server refused the backup".into()),
        )),
    }
}

/// No server runs: copy the file here, without writing it.
fn offline(store: &Path, dest: &Path) -> Result<u64, Failure> {
    if !store.is_file() {
        let msg = format!("no store at {}", store.display());
        return Err(Failure::new(exit::USAGE, msg));
    }
    match backup::backup_offline(store, dest) {
        Ok(copied) => Ok(copied.messages),
        Err(e) => Err(Failure::new(exit::FAILURE, format!("backup failed: {e}"))),
    }
}
