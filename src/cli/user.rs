//! `solec user add|del|list|passwd`: manage accounts, server running or not.
//!
//! With a server on the data directory the command goes through its admin
//! socket and takes effect at once; otherwise it opens the store directly.
//! Passwords are hashed here, never by the server.

use super::serve::DataArgs;
use super::{exit, Failure};
use crate::server::admin::{self, Reply, Request};
use crate::server::config::Config;
use crate::server::passwords;
use crate::store::Store;
use std::io::{BufRead as _, BufReader, IsTerminal as _, Write as _};
use std::os::unix::net::UnixStream;

/// Manage user accounts (works whether or not `solec serve` is running).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is asked twice on a terminal.
    Add(NameArgs),
    /// Delete a user with their contacts, channel memberships and direct
    /// conversations; their sessions are closed. Their channel messages stay.
    Del(NameArgs),
    /// List user names, one per line.
    List(ListArgs),
    /// Change a user's password.
    Passwd(NameArgs),
}

#[derive(Debug, clap::Args)]
pub struct NameArgs {
    /// User name: the local part of the address (lowercase [a-z0-9._-])
    pub name: String,

    /// Read the password from the first line of standard input
    #[arg(long)]
    pub password_stdin: bool,

    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub data: DataArgs,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let (request, data) = match args.command {
        UserCommand::Add(a) => (
            Request::Add {
                hash: new_hash(&a)?,
                name: a.name,
            },
            a.data,
        ),
        UserCommand::Passwd(a) => (
            Request::Passwd {
                hash: new_hash(&a)?,
                name: a.name,
            },
            a.data,
        ),
        UserCommand::Del(a) => (Request::Del { name: a.name }, a.data),
        UserCommand::List(a) => (Request::List, a.data),
    };
    let config = Config::from_file(data.file_config()?);
    let reply = match UnixStream::connect(config.admin_socket()) {
        Ok(stream) => via_socket(stream, &request)?,
        Err(_) => direct(&config, request)?,
    };
    match reply {
        Reply {
            ok: true, users, ..
        } => {
            let mut out = std::io::stdout().lock();
            for user in users.unwrap_or_default() {
                writeln!(out, "{user}")?;
            }
            Ok(())
        }
        Reply { error, .. } => Err(Failure::new(
            exit::REFUSED,
            error.unwrap_or_else(|| "refused".into()),
        )),
    }
}

/// Validates the name and hashes the password the user gives.
fn new_hash(args: &NameArgs) -> Result<String, Failure> {
    if !crate::proto::address::is_user_name(&args.name) {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "`{}` is not a valid user name (1-64 bytes of lowercase [a-z0-9._-])",
                args.name
            ),
        ));
    }
    let password = read_new_password(args.password_stdin)?;
    passwords::hash(&password).map_err(|e| Failure::new(exit::FAILURE, e))
}

fn read_new_password(from_stdin: bool) -> Result<String, Failure> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        let second = rpassword::prompt_password("Again: ")?;
        if first != second {
            return Err(Failure::new(exit::USAGE, "the passwords differ"));
        }
        first
    } else {
        return Err(Failure::new(
            exit::USAGE,
            "no terminal to ask for the password; use --password-stdin",
        ));
    };
    if password.is_empty() {
        return Err(Failure::new(exit::USAGE, "the password is empty"));
    }
    Ok(password)
}

/// How long `solec user` waits for a running server's answer.
pub const ADMIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) fn via_socket(stream: UnixStream, request: &Request) -> Result<Reply, Failure> {
    via_socket_with(stream, request, ADMIN_TIMEOUT)
}

/// [`via_socket`], waiting at most `timeout` for the answer.
pub(super) fn via_socket_with(
    stream: UnixStream,
    request: &Request,
    timeout: std::time::Duration,
) -> Result<Reply, Failure> {
    let broken = |e: std::io::Error| Failure::new(exit::CONNECT, format!("admin socket: {e}"));
    // A wedged server must not hang a script forever.
    stream.set_read_timeout(Some(timeout)).map_err(broken)?;
    stream.set_write_timeout(Some(timeout)).map_err(broken)?;
    let mut line = serde_json::to_string(request).expect("request serialises");
    line.push('\n');
    (&stream).write_all(line.as_bytes()).map_err(broken)?;
    let mut answer = String::new();
    BufReader::new(&stream)
        .read_line(&mut answer)
        .map_err(broken)?;
    serde_json::from_str(&answer)
        .map_err(|e| Failure::new(exit::FAILURE, format!("admin socket answered badly: {e}")))
}

/// No server runs: apply the command to the store in this process, with
/// the server name the store was written for.
fn direct(config: &Config, request: Request) -> Result<Reply, Failure> {
    config
        .create_data_dir()
        .map_err(|e| Failure::new(exit::FAILURE, e))?;
    let fail = |e: crate::store::StoreError| Failure::new(exit::FAILURE, e.to_string());
    let path = config.store_path();
    let recorded = Store::recorded_name(&path).map_err(fail)?;
    if recorded.is_none() && path.exists() {
        // Migrating needs the server's name, which only its config knows
        // for sure: leave that to `solec serve`.
        return Err(Failure::new(
            exit::FAILURE,
            format!(
                "{} was written by an earlier release; start `solec serve` on it once                  to upgrade it, then run this again",
                path.display()
            ),
        ));
    }
    let name = recorded.as_deref().unwrap_or(&config.name);
    let store = Store::open(&path, name, OFFLINE_CACHE).map_err(fail)?;
    let command = request
        .try_into()
        .map_err(|e: String| Failure::new(exit::USAGE, e))?;
    Ok(admin::reply(admin::apply_offline(&store, command)))
}

/// The page cache of a one-change `solec user`: it reads a few pages.
pub(super) const OFFLINE_CACHE: usize = 1 << 20;
