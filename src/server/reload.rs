//! SIGHUP: read the config again and put in force what can change while
//! the server runs, without dropping a session.
//!
//! Reloaded: every limit (connections and the hub take the new values for
//! what they do next; failed logins counted so far stay counted) and the TLS certificate and key (new TLS connections
//! use them; open ones keep theirs). The server name, the data directory,
//! the listen addresses, the trusted networks, the config's peers and the
//! store's cache size need a restart: a reload that changes them says so
//! and leaves them as they are. A config
//! that does not parse or check is refused whole, and the server goes on
//! as it was.

use super::config::{Config, Limits};
use super::conn::Shared;
use super::hub::Event;
use std::sync::{Arc, RwLock};

/// Reads the config as it is now, merged with the command line.
pub type Reread = Box<dyn Fn() -> Result<Config, String> + Send>;

/// The TLS acceptor in force, replaced by a reload.
pub type SharedAcceptor = Arc<RwLock<Option<super::tls::Acceptor>>>;

/// What a reload needs to reach.
pub struct Reloader {
    pub running: Config,
    pub reread: Reread,
    pub shared: Arc<Shared>,
    pub acceptor: SharedAcceptor,
}

impl Reloader {
    /// Reloads on each hangup until the server stops.
    pub async fn run(mut self, hangups: smol::channel::Receiver<()>) {
        while hangups.recv().await.is_ok() {
            match (self.reread)() {
                Ok(config) => self.apply(config).await,
                Err(e) => log::error!("SIGHUP: config not reloaded, the running one stays: {e}"),
            }
        }
    }

    async fn apply(&mut self, new: Config) {
        let old = &self.running;
        for (what, same) in [
            ("name", old.name == new.name),
            ("data", old.data == new.data),
            ("listen", old.listen == new.listen),
            // Known peers of the file; `solec federate add` works at once.
            ("peers", old.peers == new.peers),
            (
                "trusted_networks",
                old.trusted_networks == new.trusted_networks,
            ),
            (
                "tls listen",
                old.tls.as_ref().map(|t| &t.listen) == new.tls.as_ref().map(|t| &t.listen),
            ),
            (
                "store_cache_bytes",
                old.limits.store_cache_bytes == new.limits.store_cache_bytes,
            ),
        ] {
            if !same {
                log::warn!("SIGHUP: a change of {what} takes effect only on a restart");
            }
        }
        let mut limits = new.limits;
        limits.store_cache_bytes = old.limits.store_cache_bytes;
        let changed = changes(&old.limits, &limits);
        if changed.is_empty() {
            log::info!("SIGHUP: limits unchanged");
        } else {
            let mut rules = new.admission_rules();
            // Trusted networks are read at start only.
            rules.trusted = self.running.admission_rules().trusted;
            self.shared.set_limits(limits, rules);
            if self
                .shared
                .hub
                .send(Event::Reload(Box::new(limits)))
                .await
                .is_err()
            {
                return;
            }
            log::info!("SIGHUP: reloaded limits: {}", changed.join(", "));
        }
        self.running.limits = limits;
        if let Some(tls) = &new.tls {
            match super::tls::acceptor(tls) {
                Ok(acceptor) => {
                    *self.acceptor.write().unwrap_or_else(|e| e.into_inner()) = Some(acceptor);
                    log::info!(
                        "SIGHUP: reloaded the TLS certificate {} and key {}",
                        tls.cert.display(),
                        tls.key.display()
                    );
                    self.running.tls = new.tls.clone();
                }
                Err(e) => log::error!("SIGHUP: TLS not reloaded, the running one stays: {e}"),
            }
        }
    }
}

/// `key: old -> new` for each limit that differs.
fn changes(old: &Limits, new: &Limits) -> Vec<String> {
    // Every field by name, so a new limit does not compile until it is
    // listed below too.
    let Limits {
        handshake_timeout: _,
        write_timeout: _,
        max_message_bytes: _,
        max_pdu_bytes: _,
        max_history_count: _,
        max_history_scan: _,
        max_stored_bytes_per_user: _,
        max_outbound_queue: _,
        max_connections: _,
        max_channels: _,
        max_channels_per_user: _,
        reply_budget: _,
        max_sessions_per_user: _,
        idle_timeout: _,
        store_cache_bytes: _,
        rate_limit_burst: _,
        rate_limit_per_sec: _,
        max_connections_per_ip: _,
        max_new_connections_per_ip_per_minute: _,
        auth_failure_delay: _,
        auth_failure_delay_max: _,
        auth_failure_forget: _,
        outbox_lifetime: _,
        max_outbox_messages: _,
        link_backoff_max: _,
        token_lifetime: _,
        max_argon2_memory_kib: _,
        max_argon2_passes: _,
        max_argon2_lanes: _,
    } = old;
    macro_rules! diff {
        ($($field:ident),*) => {{
            let mut out = Vec::new();
            $(if old.$field != new.$field {
                out.push(format!(
                    "{}: {:?} -> {:?}",
                    stringify!($field),
                    old.$field,
                    new.$field
                ));
            })*
            out
        }};
    }
    diff!(
        handshake_timeout,
        write_timeout,
        max_message_bytes,
        max_pdu_bytes,
        max_history_count,
        max_history_scan,
        max_stored_bytes_per_user,
        max_outbound_queue,
        max_connections,
        max_channels,
        max_channels_per_user,
        reply_budget,
        max_sessions_per_user,
        idle_timeout,
        store_cache_bytes,
        rate_limit_burst,
        rate_limit_per_sec,
        max_connections_per_ip,
        max_new_connections_per_ip_per_minute,
        auth_failure_delay,
        auth_failure_delay_max,
        auth_failure_forget,
        outbox_lifetime,
        max_outbox_messages,
        link_backoff_max,
        token_lifetime,
        max_argon2_memory_kib,
        max_argon2_passes,
        max_argon2_lanes
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_each_limit_that_differs() {
        let old = Limits::default();
        assert!(changes(&old, &old).is_empty());
        let new = Limits {
            max_sessions_per_user: 2,
            max_channels: 5,
            ..old
        };
        assert_eq!(
            changes(&old, &new),
            ["max_channels: 10000 -> 5", "max_sessions_per_user: 16 -> 2"]
        );
    }
}
