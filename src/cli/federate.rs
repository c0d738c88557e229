//! `solec federate key|add|remove|list|ping`: this server's identity and
//! its known peers, server running or not.
//!
//! With a server on the data directory each command goes through its admin
//! socket and takes effect at once (a ping then runs from the server and is
//! recorded for `list`); otherwise it opens the store and the key file
//! directly, and a ping runs from this process with the server's key.

use super::serve::DataArgs;
use super::{exit, user, Failure};
use crate::server::admin::{self, Reply, Request};
use crate::server::config::Config;
use crate::server::federation::{dial, identity, is_host_port, PeerStatus};
use crate::store::Store;
use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

/// Manage this server's known peers: the servers it federates with, each
/// proven by its Ed25519 key (works whether or not `solec serve` is running).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: FederateCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum FederateCommand {
    /// Print this server's name and public key, `NAME ed25519:BASE64`, the
    /// line the other server's admin gives to `federate add`. Nothing
    /// secret is printed. The key pair is created in the data directory
    /// (server.key, mode 0600) if there is none yet.
    Key(DataOnly),
    /// Add a known peer, or replace one added before; links proven with
    /// its old entry are closed.
    Add(AddArgs),
    /// Forget a known peer added with `add`; its links are closed.
    Remove(NameArgs),
    /// List known peers: address, key fingerprint, link state, messages
    /// queued for it, last success and last error.
    List(ListArgs),
    /// Connect to a peer, prove who we are and check its proof, and print
    /// the round trip. Exits 0 only if both proofs held; 3 if the peer
    /// cannot be reached or does not answer in time, 5 if a proof failed.
    Ping(NameArgs),
}

#[derive(Debug, clap::Args)]
pub struct DataOnly {
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The peer's server name: the part after `@` in its addresses
    pub name: String,

    /// Where it listens: HOST:PORT
    pub address: String,

    /// Its public key, as its `solec federate key` prints it
    #[arg(long, value_name = "KEY")]
    pub key: String,

    /// Its address is a TLS listener: the link runs inside TLS, and the
    /// peer's certificate must be trusted by this machine's CA store
    /// (OpenSSL's; SSL_CERT_FILE names another) for its host name
    #[arg(long)]
    pub tls: bool,

    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, clap::Args)]
pub struct NameArgs {
    /// The peer's server name
    pub name: String,

    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// One JSON object per peer per line: name, address, key, fingerprint,
    /// tls, source (config or store), link (up or down), queued,
    /// last_success (Unix seconds or null), last_error ([Unix seconds,
    /// text] or null), given_up (relays refused or expired since the
    /// server started), last_given_up ([Unix seconds, text] or null)
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub data: DataArgs,
}

pub fn run(args: Args) -> Result<(), Failure> {
    match args.command {
        FederateCommand::Key(a) => key(&a.data),
        FederateCommand::Add(a) => {
            check_name(&a.name)?;
            if !is_host_port(&a.address) {
                return Err(usage(format!("`{}` is not HOST:PORT", a.address)));
            }
            identity::parse_key(&a.key).map_err(usage)?;
            let request = Request::PeerAdd {
                name: a.name,
                address: a.address,
                key: a.key,
                tls: a.tls,
            };
            request_done(&a.data, request)
        }
        FederateCommand::Remove(a) => {
            check_name(&a.name)?;
            request_done(&a.data, Request::PeerRemove { name: a.name })
        }
        FederateCommand::List(a) => list(&a),
        FederateCommand::Ping(a) => {
            check_name(&a.name)?;
            ping(&a)
        }
    }
}

fn usage(message: String) -> Failure {
    Failure::new(exit::USAGE, message)
}

fn check_name(name: &str) -> Result<(), Failure> {
    match crate::proto::address::is_server_name(name) {
        true => Ok(()),
        false => Err(usage(format!(
            "`{name}` is not a server name (a lowercase DNS host name)"
        ))),
    }
}

/// The config (file and `--data`), with its peers checked.
fn config(data: &DataArgs) -> Result<Config, Failure> {
    let config = Config::from_file(data.file_config()?);
    config.peers().map_err(usage)?;
    Ok(config)
}

/// The running server's answer, or None when no server runs.
fn via_server(config: &Config, request: &Request) -> Result<Option<Reply>, Failure> {
    match UnixStream::connect(config.admin_socket()) {
        Ok(stream) => user::via_socket(stream, request).map(Some),
        Err(_) => Ok(None),
    }
}

/// Opens the store when no server runs, with the name it was written for.
fn open_store(config: &Config) -> Result<Store, Failure> {
    config
        .create_data_dir()
        .map_err(|e| Failure::new(exit::FAILURE, e))?;
    let fail = |e: crate::store::StoreError| Failure::new(exit::FAILURE, e.to_string());
    let path = config.store_path();
    let name = Store::recorded_name(&path).map_err(fail)?;
    let name = name.as_deref().unwrap_or(&config.name);
    Store::open(&path, name, user::OFFLINE_CACHE).map_err(fail)
}

/// Runs a store command on the server or, without one, on the store.
fn request(data: &DataArgs, request: Request) -> Result<Reply, Failure> {
    let config = config(data)?;
    if let Some(reply) = via_server(&config, &request)? {
        return Ok(reply);
    }
    let store = open_store(&config)?;
    let command = request.try_into().map_err(usage)?;
    let peers = config.peers().map_err(usage)?;
    Ok(admin::reply(admin::apply_offline_peers(
        &store, &peers, command,
    )))
}

fn refused(reply: Reply) -> Failure {
    let code = match reply.failure.as_deref() {
        Some("unreachable") => exit::CONNECT,
        _ => exit::REFUSED,
    };
    Failure::new(code, reply.error.unwrap_or_else(|| "refused".into()))
}

fn request_done(data: &DataArgs, r: Request) -> Result<(), Failure> {
    match request(data, r)? {
        Reply { ok: true, .. } => Ok(()),
        reply => Err(refused(reply)),
    }
}

fn key(data: &DataArgs) -> Result<(), Failure> {
    let config = config(data)?;
    let reply = match via_server(&config, &Request::Key)? {
        Some(reply) => reply,
        None => {
            let store = open_store(&config)?;
            let id = identity::Identity::load_or_create(&config.data)
                .map_err(|e| Failure::new(exit::FAILURE, e))?;
            admin::key_reply(store.name(), &id)
        }
    };
    match reply {
        Reply {
            ok: true,
            name: Some(name),
            key: Some(key),
            ..
        } => {
            writeln!(std::io::stdout(), "{name} {key}")?;
            Ok(())
        }
        reply => Err(refused(reply)),
    }
}

fn list(args: &ListArgs) -> Result<(), Failure> {
    let peers = match request(&args.data, Request::PeerList)? {
        Reply {
            ok: true, peers, ..
        } => peers.unwrap_or_default(),
        reply => return Err(refused(reply)),
    };
    let mut out = std::io::stdout().lock();
    for p in &peers {
        if args.json {
            serde_json::to_writer(&mut out, p).map_err(std::io::Error::from)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", line(p))?;
        }
    }
    Ok(())
}

/// One peer as a line of text.
fn line(p: &PeerStatus) -> String {
    let when = |t: u64| crate::time::rfc3339(t);
    let tls = if p.tls { " tls" } else { "" };
    let success = p.last_success.map_or("never".into(), when);
    let error = p
        .last_error
        .as_ref()
        .map_or("none".into(), |(t, e)| format!("{} {e}", when(*t)));
    let given_up = match &p.last_given_up {
        Some((t, why)) => format!(", given up {} (last {} {why})", p.given_up, when(*t)),
        None => String::new(),
    };
    format!(
        "{} {}{tls} {} link {} queued {} ({}) last success {success}, last error \
         {error}{given_up}",
        p.name, p.address, p.fingerprint, p.link, p.queued, p.source
    )
}

fn ping(args: &NameArgs) -> Result<(), Failure> {
    let config = config(&args.data)?;
    let request = Request::PeerPing {
        name: args.name.clone(),
    };
    let reply = match via_server(&config, &request)? {
        Some(reply) => reply,
        None => ping_here(&config, &args.name)?,
    };
    match reply {
        Reply {
            ok: true,
            round_trip_us: Some(rtt),
            handshake_us: Some(total),
            ..
        } => {
            let ms = |us: u64| us as f64 / 1000.0;
            writeln!(
                std::io::stdout(),
                "{}: both proofs held; round trip {:.2} ms, handshake {:.2} ms",
                args.name,
                ms(rtt),
                ms(total)
            )?;
            Ok(())
        }
        reply => Err(refused(reply)),
    }
}

/// No server runs: ping from this process, as the server would.
fn ping_here(config: &Config, name: &str) -> Result<Reply, Failure> {
    let store = open_store(config)?;
    let peers = config.peers().map_err(usage)?;
    let listed = admin::apply_offline_peers(&store, &peers, crate::server::core::Admin::PeerList);
    let own = store.name().to_owned();
    drop(store);
    let Ok(crate::server::core::AdminAnswer::Peers(list)) = listed else {
        return Ok(admin::reply(listed));
    };
    let Some(p) = list.into_iter().find(|p| p.name == name) else {
        return Ok(admin::reply(Err(format!("no peer {name}"))));
    };
    let target = dial::Target {
        name: p.name,
        address: p.address,
        key: identity::parse_key(&p.key).map_err(usage)?,
        tls: p.tls,
    };
    let id = identity::Identity::load_or_create(&config.data)
        .map_err(|e| Failure::new(exit::FAILURE, e))?;
    let timeout = config.limits.handshake_timeout;
    let outcome = smol::block_on(dial::ping(&own, Arc::new(id), &target, timeout));
    Ok(admin::ping_reply(outcome))
}
