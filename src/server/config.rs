//! Server configuration: the RON file's shape, its defaults, and the merged
//! [`Config`] the server runs with.
//!
//! Every limit the server enforces on peers lives here with its default, so
//! an operator can see and change it in one place (`packaging/solec.ron`).

use super::passwords;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The port `solec serve` listens on when nothing else is said.
pub use crate::proto::DEFAULT_PORT;

/// The server name when nothing else is said.
pub const DEFAULT_NAME: &str = "localhost";

/// The store file inside the data directory.
pub const STORE_FILE: &str = "solec.redb";

/// The local admin socket inside the data directory.
pub const ADMIN_SOCKET: &str = "admin.sock";

/// Longest timeout accepted from a config file: a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Bytes of a Message payload besides its content, at the longest
/// addresses: two strings of `#` + 64 + `@` + 253 bytes, the timestamp, and
/// the content's length prefix.
pub const MESSAGE_OVERHEAD: usize = 2 * (2 + 1 + 64 + 1 + 253) + 8 + 2;

/// Networks exempt from the per-address limits unless configured: this
/// host, so local scripts are never throttled.
pub const DEFAULT_TRUSTED: [&str; 2] = ["127.0.0.1/32", "::1/128"];

/// The smallest reply budget: one PDU of the largest size, so every
/// request can be answered.
pub const MIN_REPLY_BUDGET: usize = crate::proto::HEADER_LEN + crate::proto::MAX_PAYLOAD;

/// The RON config file. Every key is optional; absent keys take defaults.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Server name: the `server` part of every local address.
    pub name: Option<String>,
    /// Data directory holding the store and the admin socket.
    pub data: Option<PathBuf>,
    /// Plain TCP listen addresses.
    pub listen: Option<Vec<SocketAddr>>,
    /// TLS listener: addresses, certificate chain and key (PEM).
    pub tls: Option<TlsConfig>,
    /// Seconds a connection may take to authenticate.
    pub handshake_timeout_secs: Option<u64>,
    /// Seconds a write to a client may make no progress before the
    /// connection is closed.
    pub write_timeout_secs: Option<u64>,
    /// Largest `message_content` accepted, in bytes.
    pub max_message_bytes: Option<usize>,
    /// Largest inbound PDU payload, in bytes.
    pub max_pdu_bytes: Option<usize>,
    /// Largest History reply, in messages.
    pub max_history_count: Option<u64>,
    /// Stored messages one History request may look at, skipped ones
    /// included.
    pub max_history_scan: Option<u64>,
    /// Bytes of stored messages one local user may have sent.
    pub max_stored_bytes_per_user: Option<u64>,
    /// PDUs queued to one session before it is dropped as too slow.
    pub max_outbound_queue: Option<usize>,
    /// Simultaneous connections accepted.
    pub max_connections: Option<usize>,
    /// Channels this server holds; joining a new one past it is refused.
    pub max_channels: Option<usize>,
    /// Channels one user may be operator of and still create another.
    pub max_channels_per_user: Option<usize>,
    /// Bytes of replies queued for one session before its further requests
    /// wait undecoded.
    pub reply_budget_bytes: Option<usize>,
    /// Sessions one user may have open at once.
    pub max_sessions_per_user: Option<usize>,
    /// Seconds a logged-in session may send nothing before it is closed;
    /// 0 never closes.
    pub idle_timeout_secs: Option<u64>,
    /// Bytes of the store's page cache.
    pub store_cache_bytes: Option<usize>,
    /// Requests a user's sessions may send at once after a pause.
    pub rate_limit_burst: Option<u32>,
    /// Requests a user's sessions may send a second, sustained; 0 turns
    /// the rate limit off.
    pub rate_limit_per_sec: Option<u32>,
    /// Networks (`ADDR/PREFIX`) exempt from the per-address limits.
    pub trusted_networks: Option<Vec<String>>,
    /// Connections open at once from one address (an IPv6 /64).
    pub max_connections_per_ip: Option<usize>,
    /// New connections one address may open per minute.
    pub max_new_connections_per_ip_per_minute: Option<u32>,
    /// Milliseconds a login attempt waits after one failed attempt from its
    /// address; doubled for each further failure.
    pub auth_failure_delay_ms: Option<u64>,
    /// Longest wait, in seconds, after an address's failed logins.
    pub auth_failure_delay_max_secs: Option<u64>,
    /// Seconds after which failed logins are forgotten.
    pub auth_failure_forget_secs: Option<u64>,
    /// Seconds a message for a peer server may wait in its outbox before
    /// it is given up and its sender told.
    pub outbox_lifetime_secs: Option<u64>,
    /// Messages one peer server's outbox holds before new ones for it are
    /// refused.
    pub max_outbox_messages: Option<usize>,
    /// Longest wait, in seconds, between attempts to reach a peer server.
    pub link_backoff_max_secs: Option<u64>,
    /// Seconds a session token logs in for after it is issued; 0 issues
    /// none.
    pub token_lifetime_secs: Option<u64>,
    /// Largest argon2 memory cost (KiB) of a password hash the server
    /// takes or checks; at least the one `solec user` hashes with.
    pub max_argon2_memory_kib: Option<u32>,
    /// Largest argon2 pass count of a password hash.
    pub max_argon2_passes: Option<u32>,
    /// Largest argon2 lane count of a password hash.
    pub max_argon2_lanes: Option<u32>,
    /// Log level: error, warn, info or debug.
    pub log: Option<String>,
    /// Known peer servers, besides those added with `solec federate add`.
    pub peers: Option<Vec<PeerConfig>>,
}

/// One known peer server of the config file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Its server name, the part after `@` in its addresses.
    pub name: String,
    /// `host:port` of its listener.
    pub address: String,
    /// Its public key, `ed25519:BASE64` as `solec federate key` prints it.
    pub key: String,
    /// Whether its address is a TLS listener.
    #[serde(default)]
    pub tls: bool,
}

/// The TLS listener's settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub listen: Vec<SocketAddr>,
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8).
    pub key: PathBuf,
}

/// Limits enforced on peers; each has a test that exercises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub handshake_timeout: Duration,
    pub write_timeout: Duration,
    pub max_message_bytes: usize,
    pub max_pdu_bytes: usize,
    pub max_history_count: u64,
    pub max_history_scan: u64,
    pub max_stored_bytes_per_user: u64,
    pub max_outbound_queue: usize,
    pub max_connections: usize,
    pub max_channels: usize,
    pub max_channels_per_user: usize,
    pub reply_budget: usize,
    pub max_sessions_per_user: usize,
    pub idle_timeout: Option<Duration>,
    pub store_cache_bytes: usize,
    pub rate_limit_burst: u32,
    pub rate_limit_per_sec: u32,
    pub max_connections_per_ip: usize,
    pub max_new_connections_per_ip_per_minute: u32,
    pub auth_failure_delay: Duration,
    pub auth_failure_delay_max: Duration,
    pub auth_failure_forget: Duration,
    pub outbox_lifetime: Duration,
    pub max_outbox_messages: usize,
    pub link_backoff_max: Duration,
    /// Zero: TokenRequest is refused, and no token is issued.
    pub token_lifetime: Duration,
    pub max_argon2_memory_kib: u32,
    pub max_argon2_passes: u32,
    pub max_argon2_lanes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(60),
            max_message_bytes: 4096,
            max_pdu_bytes: 8192,
            max_history_count: 500,
            // A 4 KiB message a row: one request reads at most 400 MiB,
            // a minute of an SD card, in chunks that take turns with
            // everyone else's.
            max_history_scan: 100_000,
            // About a million short messages; a hundred users fill 6.4 GiB.
            max_stored_bytes_per_user: 64 << 20,
            max_outbound_queue: 1024,
            max_connections: 10_000,
            max_channels: 10_000,
            // Plenty for a person or a bot's rooms; 100 users to fill the
            // server's channels.
            max_channels_per_user: 100,
            // Four History chunks: a Pi with a thousand busy sessions
            // holds at most a quarter of a GiB of replies.
            reply_budget: 256 * 1024,
            max_sessions_per_user: 16,
            idle_timeout: Some(Duration::from_secs(3600)),
            // redb's default is 1 GiB, more than many Pis have.
            store_cache_bytes: 32 << 20,
            // A script may pipeline a History page's worth of messages
            // (500) at once; a person never sends 50 requests a second,
            // and 50 commits a second is what an SD card takes in stride.
            rate_limit_burst: 500,
            rate_limit_per_sec: 50,
            // A household behind one NAT address, with room to spare.
            max_connections_per_ip: 32,
            max_new_connections_per_ip_per_minute: 120,
            // A mistyped password costs a retry half a second; ten wrong
            // ones in a row, a minute per attempt.
            auth_failure_delay: Duration::from_millis(500),
            auth_failure_delay_max: Duration::from_secs(60),
            auth_failure_forget: Duration::from_secs(900),
            // As mail servers do: a peer may be down over a long weekend.
            outbox_lifetime: Duration::from_secs(5 * 24 * 3600),
            // About 40 bytes of memory each, plus its row in the store.
            max_outbox_messages: 100_000,
            link_backoff_max: Duration::from_secs(60),
            // A laptop that reconnects daily logs in with its password
            // about once a month.
            token_lifetime: Duration::from_secs(30 * 24 * 3600),
            // What `solec user` hashes with: a hash made elsewhere with
            // more memory would let each login attempt take that much.
            max_argon2_memory_kib: passwords::MEMORY_KIB,
            max_argon2_passes: passwords::ITERATIONS,
            max_argon2_lanes: passwords::PARALLELISM,
        }
    }
}

impl Limits {
    /// The per-user rate limit these limits set.
    pub fn rate(&self) -> super::rate::Rate {
        super::rate::Rate {
            burst: self.rate_limit_burst,
            per_sec: self.rate_limit_per_sec,
        }
    }

    /// The bounds on password hashes these limits set.
    pub fn argon2_bounds(&self) -> passwords::Bounds {
        passwords::Bounds {
            memory_kib: self.max_argon2_memory_kib,
            passes: self.max_argon2_passes,
            lanes: self.max_argon2_lanes,
        }
    }
}

/// Everything `solec serve` needs, after merging flags, file and defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    pub data: PathBuf,
    pub listen: Vec<SocketAddr>,
    pub tls: Option<TlsConfig>,
    pub limits: Limits,
    /// Known peers from the file, not yet checked (see [`Config::peers`]).
    pub peers: Vec<PeerConfig>,
    /// `ADDR/PREFIX` strings, checked by [`Config::check`].
    pub trusted_networks: Vec<String>,
}

impl Config {
    /// Merges a config file's values over the defaults.
    pub fn from_file(file: FileConfig) -> Config {
        let d = Limits::default();
        Config {
            name: file.name.unwrap_or_else(|| DEFAULT_NAME.to_owned()),
            data: file.data.unwrap_or_else(default_data_dir),
            listen: file
                .listen
                .unwrap_or_else(|| vec![SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))]),
            tls: file.tls,
            peers: file.peers.unwrap_or_default(),
            limits: Limits {
                handshake_timeout: file
                    .handshake_timeout_secs
                    .map_or(d.handshake_timeout, Duration::from_secs),
                write_timeout: file
                    .write_timeout_secs
                    .map_or(d.write_timeout, Duration::from_secs),
                max_message_bytes: file.max_message_bytes.unwrap_or(d.max_message_bytes),
                max_pdu_bytes: file.max_pdu_bytes.unwrap_or(d.max_pdu_bytes),
                max_history_count: file.max_history_count.unwrap_or(d.max_history_count),
                max_history_scan: file.max_history_scan.unwrap_or(d.max_history_scan),
                max_stored_bytes_per_user: file
                    .max_stored_bytes_per_user
                    .unwrap_or(d.max_stored_bytes_per_user),
                max_outbound_queue: file.max_outbound_queue.unwrap_or(d.max_outbound_queue),
                max_connections: file.max_connections.unwrap_or(d.max_connections),
                max_channels: file.max_channels.unwrap_or(d.max_channels),
                max_channels_per_user: file
                    .max_channels_per_user
                    .unwrap_or(d.max_channels_per_user),
                reply_budget: file.reply_budget_bytes.unwrap_or(d.reply_budget),
                max_sessions_per_user: file
                    .max_sessions_per_user
                    .unwrap_or(d.max_sessions_per_user),
                idle_timeout: match file.idle_timeout_secs {
                    None => d.idle_timeout,
                    Some(0) => None,
                    Some(secs) => Some(Duration::from_secs(secs)),
                },
                store_cache_bytes: file.store_cache_bytes.unwrap_or(d.store_cache_bytes),
                rate_limit_burst: file.rate_limit_burst.unwrap_or(d.rate_limit_burst),
                rate_limit_per_sec: file.rate_limit_per_sec.unwrap_or(d.rate_limit_per_sec),
                max_connections_per_ip: file
                    .max_connections_per_ip
                    .unwrap_or(d.max_connections_per_ip),
                max_new_connections_per_ip_per_minute: file
                    .max_new_connections_per_ip_per_minute
                    .unwrap_or(d.max_new_connections_per_ip_per_minute),
                auth_failure_delay: file
                    .auth_failure_delay_ms
                    .map_or(d.auth_failure_delay, Duration::from_millis),
                auth_failure_delay_max: file
                    .auth_failure_delay_max_secs
                    .map_or(d.auth_failure_delay_max, Duration::from_secs),
                auth_failure_forget: file
                    .auth_failure_forget_secs
                    .map_or(d.auth_failure_forget, Duration::from_secs),
                outbox_lifetime: file
                    .outbox_lifetime_secs
                    .map_or(d.outbox_lifetime, Duration::from_secs),
                max_outbox_messages: file.max_outbox_messages.unwrap_or(d.max_outbox_messages),
                link_backoff_max: file
                    .link_backoff_max_secs
                    .map_or(d.link_backoff_max, Duration::from_secs),
                token_lifetime: file
                    .token_lifetime_secs
                    .map_or(d.token_lifetime, Duration::from_secs),
                max_argon2_memory_kib: file
                    .max_argon2_memory_kib
                    .unwrap_or(d.max_argon2_memory_kib),
                max_argon2_passes: file.max_argon2_passes.unwrap_or(d.max_argon2_passes),
                max_argon2_lanes: file.max_argon2_lanes.unwrap_or(d.max_argon2_lanes),
            },
            trusted_networks: file
                .trusted_networks
                .unwrap_or_else(|| DEFAULT_TRUSTED.iter().map(|s| s.to_string()).collect()),
        }
    }

    /// Refuses limits the server cannot honour.
    pub fn check(&self) -> Result<(), String> {
        let l = &self.limits;
        for (key, t) in [
            ("handshake_timeout_secs", l.handshake_timeout),
            ("write_timeout_secs", l.write_timeout),
        ] {
            if t.is_zero() || t > MAX_TIMEOUT {
                return Err(format!(
                    "{key} must be 1 to {} seconds",
                    MAX_TIMEOUT.as_secs()
                ));
            }
        }
        let least_pdu = l.max_message_bytes + MESSAGE_OVERHEAD;
        if !(least_pdu..=crate::proto::MAX_PAYLOAD).contains(&l.max_pdu_bytes) {
            return Err(format!(
                "max_pdu_bytes must be {least_pdu} (max_message_bytes plus a Message's \
                 other fields) to {}",
                crate::proto::MAX_PAYLOAD
            ));
        }
        if l.max_outbound_queue == 0 || l.max_connections == 0 || l.max_sessions_per_user == 0 {
            return Err(
                "max_outbound_queue, max_connections and max_sessions_per_user must be at least 1"
                    .into(),
            );
        }
        if l.reply_budget < MIN_REPLY_BUDGET {
            return Err(format!(
                "reply_budget_bytes must be at least {MIN_REPLY_BUDGET}"
            ));
        }
        if l.max_connections_per_ip == 0 || l.max_new_connections_per_ip_per_minute == 0 {
            return Err(
                "max_connections_per_ip and max_new_connections_per_ip_per_minute must be \
                 at least 1"
                    .into(),
            );
        }
        let (b, least) = (l.argon2_bounds(), passwords::Bounds::default());
        if b.memory_kib < least.memory_kib || b.passes < least.passes || b.lanes < least.lanes {
            return Err(format!(
                "max_argon2_memory_kib, max_argon2_passes and max_argon2_lanes must be at \
                 least {}, {} and {}: the parameters `solec user` hashes with",
                passwords::MEMORY_KIB,
                passwords::ITERATIONS,
                passwords::PARALLELISM
            ));
        }
        self.trusted()?;
        if l.auth_failure_delay < Duration::from_millis(1)
            || l.auth_failure_delay > l.auth_failure_delay_max
            || l.auth_failure_delay_max > MAX_TIMEOUT
        {
            return Err(format!(
                "auth_failure_delay_ms must be at least 1 and at most \
                 auth_failure_delay_max_secs, itself at most {}",
                MAX_TIMEOUT.as_secs()
            ));
        }
        if l.auth_failure_forget.is_zero() || l.auth_failure_forget > MAX_TIMEOUT {
            return Err(format!(
                "auth_failure_forget_secs must be 1 to {}",
                MAX_TIMEOUT.as_secs()
            ));
        }
        if l.rate_limit_per_sec > 0 && l.rate_limit_burst == 0 {
            return Err(
                "rate_limit_burst must be at least 1 (rate_limit_per_sec: 0 turns \
                 the rate limit off)"
                    .into(),
            );
        }
        if l.outbox_lifetime.is_zero() || l.max_outbox_messages == 0 {
            return Err("outbox_lifetime_secs and max_outbox_messages must be at least 1".into());
        }
        if l.link_backoff_max < Duration::from_secs(1) || l.link_backoff_max > MAX_TIMEOUT {
            return Err(format!(
                "link_backoff_max_secs must be 1 to {}",
                MAX_TIMEOUT.as_secs()
            ));
        }
        if l.idle_timeout.is_some_and(|t| t > MAX_TIMEOUT) {
            return Err(format!(
                "idle_timeout_secs must be 0 (never) to {}",
                MAX_TIMEOUT.as_secs()
            ));
        }
        self.peers().map(|_| ())
    }

    /// The config file's peers, checked: host names, `host:port`
    /// addresses, Ed25519 keys, each name once and not this server's.
    pub fn peers(&self) -> Result<Vec<(String, crate::store::Peer)>, String> {
        let mut out: Vec<(String, crate::store::Peer)> = Vec::new();
        for p in &self.peers {
            let bad = |e: String| format!("peers: {}: {e}", p.name);
            let key = crate::server::federation::identity::parse_key(&p.key).map_err(bad)?;
            let peer = crate::store::Peer {
                address: p.address.clone(),
                key,
                tls: p.tls,
            };
            crate::server::core::check_peer(&p.name, &peer).map_err(bad)?;
            if p.name == self.name || out.iter().any(|(n, _)| *n == p.name) {
                return Err(bad("listed twice, or this server's own name".into()));
            }
            out.push((p.name.clone(), peer));
        }
        Ok(out)
    }

    /// The trusted networks, parsed.
    pub fn trusted(&self) -> Result<Vec<super::admission::Network>, String> {
        let parse = |s: &String| {
            super::admission::Network::parse(s).map_err(|e| format!("trusted_networks: {e}"))
        };
        self.trusted_networks.iter().map(parse).collect()
    }

    /// The admission rules these settings make.
    pub fn admission_rules(&self) -> super::admission::Rules {
        super::admission::Rules {
            max_connections: self.limits.max_connections,
            max_per_address: self.limits.max_connections_per_ip,
            max_new_per_minute: self.limits.max_new_connections_per_ip_per_minute,
            trusted: self.trusted().unwrap_or_default(),
        }
    }

    pub fn store_path(&self) -> PathBuf {
        self.data.join(STORE_FILE)
    }

    pub fn admin_socket(&self) -> PathBuf {
        self.data.join(ADMIN_SOCKET)
    }

    /// Creates the data directory, owner-only, if it does not exist. It
    /// holds password hashes and private messages.
    ///
    /// An existing one that others may enter is tightened to 0700, so no
    /// other local user can reach the store or the admin socket in it.
    pub fn create_data_dir(&self) -> Result<(), String> {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        let dir = &self.data;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mode = std::fs::metadata(dir)
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
                format!(
                    "{} is open to other users (mode {:o}) and cannot be made 0700: {e}",
                    dir.display(),
                    mode & 0o777
                )
            })?;
            log::warn!(
                "{} was open to other users (mode {:o}); it is 0700 now",
                dir.display(),
                mode & 0o777
            );
        }
        Ok(())
    }
}

/// Reads and parses a RON config file.
pub fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("config {}: {e}", path.display()))
}

/// Parses RON config text. Optional keys take their value bare
/// (`name: "pi.example"`); writing `Some(...)` works too.
pub fn parse(text: &str) -> Result<FileConfig, ron::error::SpannedError> {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(text)
}

/// `$XDG_DATA_HOME/solec`, else `~/.local/share/solec`, else `./solec-data`.
pub fn default_data_dir() -> PathBuf {
    let nonempty = |v: std::ffi::OsString| (!v.is_empty()).then(|| PathBuf::from(v));
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").and_then(nonempty) {
        return xdg.join("solec");
    }
    match std::env::var_os("HOME").and_then(nonempty) {
        Some(home) => home.join(".local/share/solec"),
        None => PathBuf::from("solec-data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let cfg = Config::from_file(parse("()").unwrap());
        assert_eq!(cfg.name, "localhost");
        assert_eq!(cfg.listen, vec!["127.0.0.1:7447".parse().unwrap()]);
        assert_eq!(cfg.limits, Limits::default());
        assert_eq!(cfg.limits.max_message_bytes, 4096);
        assert_eq!(cfg.limits.max_history_count, 500);
        assert_eq!(cfg.limits.handshake_timeout, Duration::from_secs(10));
        assert_eq!(cfg.limits.max_sessions_per_user, 16);
        assert_eq!(cfg.limits.reply_budget, 256 * 1024);
        assert_eq!(cfg.limits.idle_timeout, Some(Duration::from_secs(3600)));
        assert_eq!(cfg.limits.argon2_bounds(), passwords::Bounds::default());
        assert_eq!(cfg.limits.max_argon2_memory_kib, 19 * 1024);
        assert_eq!(cfg.limits.auth_failure_delay, Duration::from_millis(500));
        assert_eq!(cfg.limits.auth_failure_delay_max, Duration::from_secs(60));
        assert_eq!(cfg.limits.auth_failure_forget, Duration::from_secs(900));
        let never = Config::from_file(parse("(idle_timeout_secs: 0)").unwrap());
        assert_eq!(never.limits.idle_timeout, None);
    }

    #[test]
    fn impossible_limits_are_refused() {
        let check = |text: &str| Config::from_file(parse(text).unwrap()).check();
        assert_eq!(check("()"), Ok(()));
        for bad in [
            "(handshake_timeout_secs: 18446744073709551615)",
            "(handshake_timeout_secs: 0)",
            "(write_timeout_secs: 86401)",
            "(max_pdu_bytes: 70000)",
            "(max_message_bytes: 8000)",
            "(max_outbound_queue: 0)",
            "(max_connections: 0)",
            "(max_sessions_per_user: 0)",
            "(reply_budget_bytes: 1000)",
            "(idle_timeout_secs: 86401)",
            "(max_connections_per_ip: 0)",
            "(trusted_networks: [\"10.0.0.0/40\"])",
            "(max_argon2_memory_kib: 19455)",
            "(max_argon2_passes: 1)",
            "(max_argon2_lanes: 0)",
            "(auth_failure_delay_ms: 0)",
            "(auth_failure_delay_ms: 61000)",
            "(auth_failure_delay_max_secs: 86401)",
            "(auth_failure_forget_secs: 0)",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check("(max_message_bytes: 7540, write_timeout_secs: 86400)"),
            Ok(())
        );
        assert_eq!(check("(max_argon2_memory_kib: 262144)"), Ok(()));
    }

    #[test]
    fn peers_are_checked() {
        let key = "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        let cfg = |peers: &str| Config::from_file(parse(&format!("(peers: [{peers}])")).unwrap());
        let good = cfg(&format!(
            r#"(name: "b.example", address: "b.example:7447", key: "{key}")"#
        ));
        assert_eq!(good.check(), Ok(()));
        assert!(!good.peers().unwrap()[0].1.tls);
        for bad in [
            format!(r#"(name: "B", address: "b.example:7447", key: "{key}")"#),
            format!(r#"(name: "b.example", address: "b.example", key: "{key}")"#),
            r#"(name: "b.example", address: "b.example:1", key: "ed25519:AAAA")"#.to_owned(),
            format!(r#"(name: "localhost", address: "b.example:1", key: "{key}")"#),
        ] {
            assert!(cfg(&bad).check().is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(parse("(nmae: \"x\")").is_err());
    }

    #[test]
    fn file_values_override() {
        let file = parse(
            r#"(name: "pi.example", listen: ["0.0.0.0:1"], max_history_count: Some(7),
               tls: (listen: ["127.0.0.1:2"], cert: "c.pem", key: "k.pem"))"#,
        )
        .unwrap();
        let cfg = Config::from_file(file);
        assert_eq!(cfg.name, "pi.example");
        assert_eq!(cfg.limits.max_history_count, 7);
        assert_eq!(cfg.tls.unwrap().cert, PathBuf::from("c.pem"));
    }
}
