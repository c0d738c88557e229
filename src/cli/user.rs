//! `solec user add|del|list|passwd`: manage accounts, server running or not.
//!
//! With a server on the data directory the command goes through its admin
//! socket and takes effect at once; otherwise it opens the store directly.
//! Passwords are hashed here, never by the server.
//!
//! Root without `--data` or `--config` means the packaged service (see
//! `packaging/solec.service`) when it is installed here, not root's own
//! data directory, so `sudo solec user add` reaches the running service.

use super::serve::DataArgs;
use super::{exit, Failure};
use crate::server::admin::{self, Reply, Request};
use crate::server::config::Config;
use crate::server::config::MESSAGE_OVERHEAD;
use crate::server::passwords;
use crate::store::Store;
use std::io::{BufRead as _, BufReader, ErrorKind, IsTerminal as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Manage user accounts (works whether or not `solec serve` is running).
///
/// With a server running on the data directory the command goes through its
/// admin socket and takes effect at once; otherwise it changes the store
/// itself, creating the data directory (and saying so) if there is none.
///
/// Run as root without --data or --config, it uses the packaged service's
/// config /etc/solec/solec.ron if it exists, else its data directory
/// /var/lib/solec if that exists, else the usual default.
///
/// A running server that does not answer within 30 s gives exit status 3;
/// the request was sent, so the change may still take effect, and the
/// message says so: check with `solec user list`.
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

    /// Read the password from the first line of standard input: its line
    /// ending (\n or \r\n) is not part of it, as for the clients'
    /// --password-stdin. It must not be empty, nor hold control characters
    /// other than tab, nor be longer than 256 bytes, so that every client
    /// can send it.
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
    match admin_request(data, |_| request)? {
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

/// Sends the request `make` builds from the config to the server running
/// on the data directory, or applies it to the store when none runs.
pub(super) fn admin_request(
    data: DataArgs,
    make: impl FnOnce(&Config) -> Request,
) -> Result<Reply, Failure> {
    let data = system_default(data, is_root(), |p| p.exists());
    let config = Config::from_file(data.file_config()?);
    let request = make(&config);
    match UnixStream::connect(config.admin_socket()) {
        Ok(stream) => via_socket(stream, &request),
        Err(_) => direct(&config, request),
    }
}

/// The packaged service's config file (packaging/solec.service).
pub const SYSTEM_CONFIG: &str = "/etc/solec/solec.ron";

/// The packaged service's data directory, its `StateDirectory`.
pub const SYSTEM_DATA: &str = "/var/lib/solec";

/// For root with neither --data nor --config: the packaged service's
/// config if it is installed, else its data directory if that exists.
/// Anyone else, or given either option, keeps what they said.
fn system_default(mut data: DataArgs, root: bool, exists: impl Fn(&Path) -> bool) -> DataArgs {
    if !root || data.data.is_some() || data.config.is_some() {
        return data;
    }
    if exists(Path::new(SYSTEM_CONFIG)) {
        data.config = Some(SYSTEM_CONFIG.into());
    } else if exists(Path::new(SYSTEM_DATA)) {
        data.data = Some(SYSTEM_DATA.into());
    }
    data
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
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

/// The longest password `solec user` takes: every client can send it to
/// every server. A UserAuth carries the full user address (at most
/// [`MAX_ADDRESS`] bytes) and the password, each with a 2-byte length, and
/// the smallest `max_pdu_bytes` a server can be configured with is
/// [`MESSAGE_OVERHEAD`] (a Message with empty content).
pub const MAX_PASSWORD_BYTES: usize = 256;

/// The longest user address, `local@server`.
const MAX_ADDRESS: usize = 64 + 1 + 253;

const _: () = assert!(2 + MAX_ADDRESS + 2 + MAX_PASSWORD_BYTES <= MESSAGE_OVERHEAD);

fn read_new_password(from_stdin: bool) -> Result<String, Failure> {
    let password = if from_stdin {
        read_password_line(std::io::stdin().lock())?
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
    check_password(&password).map_err(|e| Failure::new(exit::USAGE, e))?;
    Ok(password)
}

/// The first line of `input`, read no further than a password can be
/// long, without its line ending, as the clients take it.
fn read_password_line(input: impl std::io::BufRead) -> Result<String, Failure> {
    let usage = |e: String| Failure::new(exit::USAGE, format!("--password-stdin: {e}"));
    let mut line = Vec::new();
    // The longest password, its \r\n, and one byte to tell it is too long.
    let most = MAX_PASSWORD_BYTES + 3;
    input
        .take(most as u64)
        .read_until(b'\n', &mut line)
        .map_err(|e| usage(format!("cannot read the password: {e}")))?;
    if line.is_empty() {
        return Err(usage("standard input is empty: no password".into()));
    }
    if line.len() == most && !line.ends_with(b"\n") {
        return Err(usage(format!(
            "the password is more than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    let text = String::from_utf8(line).map_err(|_| usage("the password is not UTF-8".into()))?;
    Ok(super::connect::first_line(&text).to_owned())
}

/// Refuses a password some client could not send, naming what is wrong.
fn check_password(password: &str) -> Result<(), String> {
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password is {} bytes, more than {MAX_PASSWORD_BYTES}",
            password.len()
        ));
    }
    // A line ending ends the password in every source the clients read;
    // NUL cannot be in an environment variable; the others a terminal
    // takes as editing keys or signals. A tab types as itself.
    if let Some(c) = password.chars().find(|&c| c.is_control() && c != '\t') {
        return Err(format!(
            "the password holds the control character {c:?}, which not every \
             client can send"
        ));
    }
    Ok(())
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
    match BufReader::new(&stream).read_line(&mut answer) {
        Ok(0) => return Err(no_answer(request, "the server closed it without answering")),
        Ok(_) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            let why = format!("no answer within {} s", ADMIN_TIMEOUT.as_secs());
            return Err(no_answer(request, &why));
        }
        Err(e) => return Err(no_answer(request, &e.to_string())),
    }
    serde_json::from_str(&answer)
        .map_err(|e| Failure::new(exit::FAILURE, format!("admin socket answered badly: {e}")))
}

/// A request sent that got no answer (exit status 3). The server may have
/// read it and may still apply it, so a change is never reported as simply
/// failed: the message says where to look.
fn no_answer(request: &Request, why: &str) -> Failure {
    let check = match request {
        Request::Add { .. } | Request::Passwd { .. } | Request::Del { .. } => "solec user list",
        Request::PeerAdd { .. } | Request::PeerRemove { .. } => "solec federate list",
        Request::Backup { .. } => "solec store check DEST",
        Request::ChannelDelete { .. } => "solec channel delete CHANNEL again",
        Request::List | Request::PeerList | Request::PeerPing { .. } | Request::Key => {
            return Failure::new(exit::CONNECT, format!("admin socket: {why}"));
        }
    };
    Failure::new(
        exit::CONNECT,
        format!(
            "admin socket: {why}; the request was sent, so the change may still take \
             effect: check with `{check}`"
        ),
    )
}

/// No server runs: apply the command to the store in this process, with
/// the server name the store was written for.
fn direct(config: &Config, request: Request) -> Result<Reply, Failure> {
    if !config.data.exists() {
        eprintln!(
            "solec: {} does not exist; creating it for a new store",
            config.data.display()
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn data(data: Option<&str>, config: Option<&str>) -> DataArgs {
        DataArgs {
            data: data.map(Into::into),
            config: config.map(Into::into),
        }
    }

    #[test]
    fn root_without_options_means_the_packaged_service() {
        let pick = |root, given: DataArgs, installed: &[&str]| {
            let d = system_default(given, root, |p| installed.iter().any(|i| p == Path::new(i)));
            (d.data, d.config)
        };
        let both = [SYSTEM_CONFIG, SYSTEM_DATA];
        assert_eq!(
            pick(true, data(None, None), &both),
            (None, Some(SYSTEM_CONFIG.into()))
        );
        assert_eq!(
            pick(true, data(None, None), &[SYSTEM_DATA]),
            (Some(SYSTEM_DATA.into()), None)
        );
        assert_eq!(pick(true, data(None, None), &[]), (None, None));
        // What was said, or anyone but root, stays as it is.
        assert_eq!(
            pick(true, data(Some("/d"), None), &both),
            (Some("/d".into()), None)
        );
        assert_eq!(
            pick(true, data(None, Some("/c")), &both),
            (None, Some("/c".into()))
        );
        assert_eq!(pick(false, data(None, None), &both), (None, None));
    }

    #[test]
    fn a_password_line_is_read_as_the_clients_read_it() {
        let read = |bytes: &[u8]| read_password_line(bytes).map_err(|f| f.message);
        assert_eq!(read(b"pw\n").unwrap(), "pw");
        assert_eq!(read(b"pw\r\n").unwrap(), "pw");
        assert_eq!(read(b"pw").unwrap(), "pw");
        assert_eq!(read(b"pw\nsecond line\n").unwrap(), "pw");
        // Only \r\n is a line ending, as for the clients' str::lines.
        assert_eq!(read(b"pw\r\r\n").unwrap(), "pw\r");
        assert_eq!(
            read(b"").unwrap_err(),
            "--password-stdin: standard input is empty: no password"
        );
        let longest = "x".repeat(MAX_PASSWORD_BYTES);
        assert_eq!(read(format!("{longest}\r\n").as_bytes()).unwrap(), longest);
        let err = read(format!("{longest}xxx").as_bytes()).unwrap_err();
        assert!(err.contains("the password is more than 256 bytes"), "{err}");
        assert!(read(b"\xff\n")
            .unwrap_err()
            .contains("password is not UTF-8"));
    }

    #[test]
    fn passwords_no_client_could_send_are_refused() {
        assert_eq!(check_password("correct horse"), Ok(()));
        assert_eq!(check_password("pässwörd"), Ok(()));
        assert_eq!(check_password("tab\tbed"), Ok(()));
        assert_eq!(check_password(&"x".repeat(256)), Ok(()));
        for (bad, why) in [
            ("", "the password is empty"),
            ("pw\r", "control character '\\r'"),
            ("a\u{1b}b", "control character '\\u{1b}'"),
            ("a\0b", "control character"),
        ] {
            let err = check_password(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        assert!(check_password(&"x".repeat(257))
            .unwrap_err()
            .contains("257 bytes"));
    }
}
