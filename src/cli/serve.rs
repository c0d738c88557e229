//! `solec serve`: run the server on embedded defaults or a RON config.

use super::{exit, Failure};
use crate::server::config::{self, Config, FileConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the server keeps its data; shared by `serve` and `user`.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Data directory holding the store (solec.redb) and the admin socket
    /// [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// RON config file (see packaging/solec.ron); flags override its values
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl DataArgs {
    /// The config file's values (or defaults) with `--data` applied.
    pub fn file_config(&self) -> Result<FileConfig, Failure> {
        let mut file = match &self.config {
            Some(path) => config::read_file(path).map_err(|e| Failure::new(exit::USAGE, e))?,
            None => FileConfig::default(),
        };
        if let Some(data) = &self.data {
            file.data = Some(data.clone());
        }
        Ok(file)
    }
}

/// Run the SOLEC server.
///
/// With no arguments it listens on 127.0.0.1:7447 as server `localhost`,
/// keeping its data under $XDG_DATA_HOME/solec. SIGINT or SIGTERM stops it
/// cleanly: it stops accepting, writes the replies already queued, closes
/// the store and exits 0. SIGHUP reads the config file again and puts new
/// limits and TLS certificates in force without dropping a session; the
/// name, data directory, listen addresses and the config's peers need a
/// restart.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,

    /// Address to listen on for plain TCP (repeatable) [default: 127.0.0.1:7447]
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,

    /// Server name: the part after `@` in local addresses [default: localhost]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Log level: error, warn, info or debug [default: info]
    #[arg(long, value_name = "LEVEL", env = "SOLEC_LOG")]
    pub log: Option<String>,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let (config, level) = load(&args)?;
    super::logger::init(super::logger::parse_level(&level).map_err(usage)?);
    // SIGHUP reads the file again, with the same flags over it.
    let reread = Box::new(move || load(&args).map(|(c, _)| c).map_err(|f| f.to_string()));
    crate::server::run(config, reread).map_err(|e| Failure::new(exit::FAILURE, e))
}

/// The config from the file, the flags and the defaults, checked; and the
/// log level.
fn load(args: &Args) -> Result<(Config, String), Failure> {
    let mut file = args.data.file_config()?;
    if !args.listen.is_empty() {
        file.listen = Some(args.listen.clone());
    }
    if let Some(name) = &args.name {
        file.name = Some(name.clone());
    }
    let level = args
        .log
        .clone()
        .or(file.log.clone())
        .unwrap_or_else(|| "info".into());
    let config = Config::from_file(file);
    config.check().map_err(usage)?;
    if !crate::proto::address::is_server_name(&config.name) {
        return Err(usage(format!(
            "server name `{}` is not a lowercase DNS host name",
            config.name
        )));
    }
    Ok((config, level))
}

fn usage(message: String) -> Failure {
    Failure::new(exit::USAGE, message)
}
