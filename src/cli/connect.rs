//! The options every client command shares (`--server`, `--user`, the
//! password sources, `--tls`, `--ca`) and the plumbing around them: from
//! options to a [`Login`], from a login to a [`Client`], and from client
//! errors and refusals to exit codes. `send`, `history`, `contact` and
//! `channel` flatten [`ConnectArgs`] and use nothing else to connect.

use super::{exit, Failure};
use crate::client::{self, Client, ClientError, Credential, Login};
use crate::proto::{address, Address, ErrorType};
use std::io::{BufRead as _, IsTerminal as _};
use std::path::{Path, PathBuf};

/// The environment variable holding the password, when no option gives one.
pub const PASSWORD_ENV: &str = "SOLEC_PASSWORD";

/// The exit status section shared by the commands that make one request.
pub const EXIT_STATUS: &str = "\
Exit status: 0 done; 2 bad arguments, a bad address or no password; \
3 cannot connect, the connection closed, or no reply within --timeout; 4 the server refused the user \
name or password (client auth failed, 0x01); 5 the server refused the \
request, and the message names its error (not found 0x02, unauthorized \
0x03, bad request 0x80, ...).";

/// How to reach the server and log in.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectArgs {
    /// Server to connect to, as HOST:PORT (HOST alone means port 7447)
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "SOLEC_SERVER",
        default_value = "127.0.0.1:7447"
    )]
    pub server: String,

    /// Your full address, like alice@localhost: the login name, and the
    /// source of what you send
    #[arg(long, value_name = "ADDRESS", env = "SOLEC_USER")]
    pub user: String,

    /// Read the password from the first line of standard input
    ///
    /// The password comes from the first of: this option (for `send`, the
    /// lines after it are the messages), --password-file, the environment
    /// variable SOLEC_PASSWORD, or a prompt on the terminal. With none of
    /// them and no terminal, the command fails with exit status 2.
    #[arg(long)]
    pub password_stdin: bool,

    /// Read the password from the first line of FILE
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// Connect with TLS; the server's certificate must name the host of
    /// --server
    #[arg(long)]
    pub tls: bool,

    /// With --tls, also trust the PEM certificate(s) in FILE: a private CA,
    /// or the server's self-signed certificate
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca: Option<PathBuf>,

    /// Give up (exit status 3) when the server sends nothing for SECONDS
    /// while a reply is owed; `history --follow` waits for new messages
    /// without limit. Connecting and logging in may take this long too, when
    /// it is over 10 s (a slow link such as `solec radio`)
    #[arg(long, value_name = "SECONDS", default_value_t = client::REPLY_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_SECS))]
    pub timeout: u64,

    /// Log in with the password only: neither use nor keep a session token
    ///
    /// Without it, a password login asks the server for a session token and
    /// keeps it in $XDG_STATE_HOME/solec/tokens/HOST:PORT/ADDRESS (else
    /// ~/.local/state/solec/...; mode 0600), and later logins to the same
    /// server as the same user present it instead of the password, which
    /// saves the server an argon2 check (and you the prompt). A token the
    /// server refuses (expired, or revoked by a new password) is deleted,
    /// and the password is used.
    #[arg(long, env = "SOLEC_NO_TOKEN",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub no_token: bool,
}

/// The longest `--timeout`: a day is already more than any reply needs.
const MAX_TIMEOUT_SECS: u64 = 86_400;

impl ConnectArgs {
    /// Checks the options and gathers the password (which may read the
    /// first line of standard input or prompt).
    pub fn login(&self) -> Result<Login, Failure> {
        self.user_server()?;
        let tls = match (&self.tls, &self.ca) {
            (false, _) => None,
            (true, None) => Some(Vec::new()),
            (true, Some(path)) => Some(read(path)?),
        };
        let token_file = match self.no_token {
            true => None,
            false => super::tokens::path_for(&client::with_port(&self.server), &self.user),
        };
        let has_token = token_file
            .as_deref()
            .is_some_and(|p| super::tokens::load(p, crate::time::now()).is_some());
        // With a token, a password that would take a prompt waits until
        // the token is refused, if it ever is.
        let password = match self.given_password()? {
            Some(password) => Some(password),
            None if has_token => None,
            None => Some(prompt_password(&self.user)?),
        };
        Ok(Login {
            server: self.server.clone(),
            user: self.user.clone(),
            password,
            tls,
            reply_timeout: std::time::Duration::from_secs(self.timeout),
            token_file,
        })
    }

    /// A user or channel address, completed with the server of --user when
    /// it has no `@` (`bob` is `bob@localhost` for alice@localhost).
    pub fn address(&self, input: &str) -> Result<String, Failure> {
        let full = if input.contains('@') {
            input.to_owned()
        } else {
            format!("{input}@{}", self.user_server()?)
        };
        Address::parse(&full).map_err(|e| usage(format!("`{input}`: {e}")))?;
        Ok(full)
    }

    /// A channel address; the `#` may be left out as well as the `@server`.
    pub fn channel(&self, input: &str) -> Result<String, Failure> {
        let full = if input.starts_with('#') {
            self.address(input)?
        } else {
            self.address(&format!("#{input}"))?
        };
        Ok(full)
    }

    /// The server part of --user, which must be a user address.
    fn user_server(&self) -> Result<&str, Failure> {
        match Address::parse(&self.user) {
            Ok(Address::User { server, .. }) => Ok(server),
            Ok(Address::Channel { .. }) => Err(usage(format!(
                "--user `{}` is a channel, not a user address",
                self.user
            ))),
            Err(address::AddressError::MissingServer) => Err(usage(format!(
                "--user `{}` needs the server part, as in {}@localhost",
                self.user, self.user
            ))),
            Err(e) => Err(usage(format!("--user `{}`: {e}", self.user))),
        }
    }

    /// The password from the options or the environment, without a
    /// prompt; None if none of them gives one.
    fn given_password(&self) -> Result<Option<String>, Failure> {
        if self.password_stdin {
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line)? == 0 {
                return Err(usage("--password-stdin: standard input is empty"));
            }
            return Ok(Some(first_line(&line).to_owned()));
        }
        if let Some(path) = &self.password_file {
            let bytes = read(path)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| usage(format!("{}: not UTF-8", path.display())))?;
            return Ok(Some(first_line(&text).to_owned()));
        }
        match std::env::var(PASSWORD_ENV) {
            Ok(password) if !password.is_empty() => Ok(Some(password)),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(usage(format!("{PASSWORD_ENV} is not UTF-8")))
            }
            _ => Ok(None),
        }
    }
}

/// Asks for `user`'s password on the terminal.
fn prompt_password(user: &str) -> Result<String, Failure> {
    // rpassword asks on /dev/tty, so a terminal on either side will do.
    if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
        return Err(usage(format!(
            "no password: use --password-stdin, --password-file or {PASSWORD_ENV} \
             (there is no terminal to ask on)"
        )));
    }
    rpassword::prompt_password(format!("Password for {user}: "))
        .map_err(|e| usage(format!("cannot read the password: {e}")))
}

/// The first line of `text`, without its line ending (`\n` or `\r\n`):
/// how every password source of the clients, and `solec user`, reads it.
pub(super) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::new(exit::USAGE, message)
}

/// Connects and logs in, as a command would: failures carry their exit code.
pub async fn connect(login: &Login) -> Result<Client, Failure> {
    log_in(login).await.map_err(|e| login_failure(login, e))
}

/// Logs in with the kept session token if there is one, else (or if the
/// server refuses it) with the password, then asking for a new token.
pub async fn log_in(login: &Login) -> Result<Client, ClientError> {
    let file = login.token_file.as_deref();
    let kept = file.and_then(|p| super::tokens::load(p, crate::time::now()));
    if let (Some(path), Some(token)) = (file, kept) {
        match Client::login(login, Credential::Token(&token)).await {
            // Expired, revoked, or a server that does not know TokenAuth
            // (it refuses it as out of order): the password may still do.
            Err(ClientError::TokenRefused)
            | Err(ClientError::LoginRefused(ErrorType::BadRequest)) => super::tokens::remove(path),
            done => return done,
        }
    }
    let password = match &login.password {
        Some(p) => p.clone(),
        None => prompt_password(&login.user).map_err(|f| ClientError::Setup(f.message))?,
    };
    let how = Credential::Password {
        password: &password,
        want_token: file.is_some(),
    };
    let client = Client::login(login, how).await?;
    if let (Some(path), Some(issued)) = (file, client.issued()) {
        if let Err(e) = super::tokens::save(path, issued) {
            eprintln!(
                "solec: cannot keep the session token in {}: {e}",
                path.display()
            );
        }
    }
    Ok(client)
}

/// The exit code and message for a failed login: a refusal names the user.
pub fn login_failure(login: &Login, e: ClientError) -> Failure {
    match e {
        ClientError::AuthFailed | ClientError::TokenRefused | ClientError::LoginRefused(_) => {
            let failure = failure(e);
            Failure::new(failure.code, format!("{}: {}", login.user, failure.message))
        }
        other => failure(other),
    }
}

/// The exit code and message for a client error.
/// Logs in, sends one request and waits for its Success; `what` names the
/// request in the refusal message.
pub fn one_request(
    login: &Login,
    request: &crate::proto::Pdu<'_>,
    what: &str,
) -> Result<(), Failure> {
    smol::block_on(async {
        let mut client = connect(login).await?;
        client
            .request(request)
            .await
            .map_err(failure)?
            .map_err(|e| refused(what, e))
    })
}

pub fn failure(e: ClientError) -> Failure {
    let code = match e {
        ClientError::Setup(_) => exit::USAGE,
        ClientError::Connect(_)
        | ClientError::Closed(_)
        | ClientError::Timeout(_)
        | ClientError::Protocol(_) => exit::CONNECT,
        ClientError::AuthFailed | ClientError::TokenRefused => exit::AUTH,
        ClientError::LoginRefused(_) => exit::REFUSED,
    };
    Failure::new(code, e.to_string())
}

/// A request the server refused: `what: unauthorized (0x03)`, exit 5.
pub fn refused(what: &str, e: ErrorType) -> Failure {
    Failure::new(exit::REFUSED, format!("{what}: {}", client::describe(e)))
}
