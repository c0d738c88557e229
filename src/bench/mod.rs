//! `solec bench`: load a real solec server and report what it costs.
//!
//! The run, in order: start a private `solec serve` ([`server`]), create
//! its users, open idle authenticated connections and read its memory from
//! /proc, close them; log in the sender/receiver pairs and drive the load
//! through it ([`load`]) while reading its CPU time; time the [`floor`],
//! appends each followed by `fdatasync` on its store's disk, right after;
//! stop it; then drive the same load between two [`federated`] servers
//! when asked; then drive the same load through the in-process [`relay`]
//! as a baseline for this machine. Figures come back as a
//! [`report::Report`]; printing is the command's business.
//!
//! - [`wire`]: the bench's lean SOLEC client and the message stamp.
//! - [`histogram`]: constant-memory latency quantiles.
//! - [`proxy`]: the byte-counting proxy on the federated servers' link.

pub mod federated;
pub mod floor;
pub mod histogram;
pub mod load;
pub mod logins;
pub mod proxy;
pub mod relay;
pub mod report;
pub mod server;
pub mod wire;

use indicatif::{ProgressBar, ProgressStyle};
use load::{bounded, interruptible, Ends, Outcome, Spec};
use report::{Floor, Idle, Ratio, Report, Run};
use server::{Sizing, Spawned};
use smol::LocalExecutor;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use wire::{Clock, Conn};

/// The spawned server's name, the part after `@` in every bench address.
pub const SERVER_NAME: &str = "localhost";

/// Every bench user's password (the users live and die with the run).
pub const PASSWORD: &str = "bench password";

/// The one user all idle connections log in as.
pub const IDLE_USER: &str = "idle";

/// Logins in flight at once. The server checks at most 4 passwords at a
/// time; a few more queued keeps it busy without piling up connections
/// that wait on its handshake timeout.
pub const LOGINS_IN_FLIGHT: usize = 16;

/// Idle connections opened before memory is first read (see
/// `measure_idle`); runs of fewer than four times this skip the warm-up.
pub const IDLE_WARMUP: usize = 2 * LOGINS_IN_FLIGHT;

/// Descriptors the bench needs beyond its connections (store, pipes, tty).
const SPARE_FDS: u64 = 64;

/// Connections the spawned server accepts beyond those the run opens: the
/// idle ones are closed before the pairs log in, but the server may not
/// have seen every close by then.
const SPARE_CONNECTIONS: usize = 16;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub load: Spec,
    /// Idle connections to open after the load; 0 skips the phase.
    pub idle: usize,
    /// Password logins, and as many token logins, to time; 0 skips it.
    pub logins: usize,
    /// fdatasync'd appends to time for the floor; 0 skips it.
    pub floor_appends: u64,
    /// Run the relay baseline.
    pub baseline: bool,
    /// Run the load between two federated servers too.
    pub federated: bool,
    /// Where the server's temporary data directory is created.
    pub temp_parent: PathBuf,
    /// Draw progress bars (on a terminal).
    pub progress: bool,
    /// Set on SIGINT or SIGTERM: the run stops and cleans up.
    pub stop: Arc<AtomicBool>,
}

/// Runs the whole bench.
pub fn run(config: &Config) -> Result<Report, String> {
    raise_fd_limit(config)?;
    let clock = Clock::start();
    let ex = LocalExecutor::new();
    let sizing = Sizing {
        connections: server_connections(config),
        outbox: None,
    };
    let server = Spawned::start(&config.temp_parent, SERVER_NAME, sizing)?;
    let with_log = |e: String| match server.log_tail() {
        tail if tail.contains(" WARN ") || tail.contains(" ERROR ") => {
            format!("{e}\nserver log:\n{tail}")
        }
        _ => e,
    };
    let (solec, idle) = measure_server(&ex, &server, config, clock).map_err(with_log)?;
    let fdatasync_floor = measure_floor(&server, config, &solec)?;
    let logins = match config.logins {
        0 => None,
        _ => Some(logins::measure(&ex, &server, config).map_err(with_log)?),
    };
    let server_warnings = server.warnings.lock().expect("log lock").clone();
    server.stop()?;
    let federated = match config.federated {
        true => Some(federated::measure(&ex, config, clock, &solec)?),
        false => None,
    };
    let baseline = match config.baseline {
        true => Some(measure_baseline(&ex, config, clock)?),
        false => None,
    };
    let ratio = baseline.as_ref().map(|b| Ratio::new(&solec, b));
    let spec = &config.load;
    Ok(Report {
        pairs: spec.pairs,
        messages: spec.messages,
        size: spec.size,
        window: spec.window,
        rate: spec.rate,
        solec,
        fdatasync_floor,
        idle,
        logins,
        baseline,
        ratio,
        federated,
        server_warnings,
    })
}

/// The spawned server's max_connections: every idle connection and both
/// ends of every pair, plus [`SPARE_CONNECTIONS`]. The server's default
/// (10,000) is below what `--idle` and `--pairs` allow.
pub fn server_connections(config: &Config) -> usize {
    let logins = match config.logins {
        0 => 0,
        // Closed connections the server may not have seen go yet.
        _ => 4 * LOGINS_IN_FLIGHT,
    };
    config.idle + 2 * config.load.pairs + logins + SPARE_CONNECTIONS
}

/// The load and idle phases against the spawned server.
fn measure_server(
    ex: &LocalExecutor<'_>,
    server: &Spawned,
    config: &Config,
    clock: Clock,
) -> Result<(Run, Option<Idle>), String> {
    let hash = crate::server::passwords::hash(PASSWORD)?;
    let mut users = vec![IDLE_USER.to_owned()];
    for i in 0..config.load.pairs {
        users.extend([load::sender_name(i), load::receiver_name(i)]);
    }
    server.add_users(&users, &hash)?;
    // Idle first: after the load, new connections would reuse the heap its
    // queues and buffers freed, and look cheaper than they are.
    let idle = match config.idle {
        0 => None,
        _ => Some(measure_idle(ex, server, config)?),
    };
    let ends = Ends::single(server.addr);
    let (outcome, cpu) = measure_load(ex, &ends, config, clock, &[server])?;
    let run = Run::new(&config.load, &outcome, cpu.first().copied());
    Ok((run, idle))
}

/// The floor in the server's data directory, on the disk of its store,
/// right after the load: close to it in time, and with the server idle.
fn measure_floor(server: &Spawned, config: &Config, solec: &Run) -> Result<Option<Floor>, String> {
    if config.floor_appends == 0 {
        return Ok(None);
    }
    let timings = floor::measure(
        server.dir(),
        config.floor_appends,
        floor::MAX_TIME,
        &config.stop,
    )?;
    Ok(Some(Floor::new(&timings, &config.temp_parent, solec)))
}

fn measure_baseline(ex: &LocalExecutor<'_>, config: &Config, clock: Clock) -> Result<Run, String> {
    let relay = relay::Relay::start()?;
    let measured = measure_load(ex, &Ends::single(relay.addr), config, clock, &[]);
    drop(relay);
    Ok(Run::new(&config.load, &measured?.0, None))
}

/// Logs in the pairs, then drives the load; returns with its outcome the
/// CPU time each of `servers` spent over the load alone (logins
/// excluded), in microseconds.
fn measure_load(
    ex: &LocalExecutor<'_>,
    ends: &Ends,
    config: &Config,
    clock: Clock,
    servers: &[&Spawned],
) -> Result<(Outcome, Vec<u64>), String> {
    let spec = config.load;
    let stop = &config.stop;
    let bar = progress(config, spec.pairs as u64, "login pairs");
    let setup = load::connect_pairs(ex, ends, &spec, &bar);
    let pairs = smol::block_on(ex.run(interruptible(setup, stop)))?;
    bar.finish_and_clear();
    let cpu_before = servers
        .iter()
        .map(|s| s.cpu_us())
        .collect::<Result<Vec<_>, _>>()?;
    let bar = progress(config, spec.pairs as u64 * spec.messages, "messages");
    let driving = load::drive(ex, pairs, ends, spec, clock, stop, &bar);
    let (outcome, conns) = smol::block_on(ex.run(driving))?;
    let mut cpu = Vec::with_capacity(servers.len());
    for (s, before) in servers.iter().zip(cpu_before) {
        cpu.push(s.cpu_us()?.saturating_sub(before));
    }
    bar.finish_and_clear();
    drop(conns);
    Ok((outcome, cpu))
}

/// Opens `config.idle` authenticated connections and reads how much the
/// server's resident memory grew per connection. The first
/// [`IDLE_WARMUP`] are not counted: they pay one-time costs (the password
/// checking threads, table growth) that the next thousand do not.
fn measure_idle(ex: &LocalExecutor<'_>, server: &Spawned, config: &Config) -> Result<Idle, String> {
    let n = config.idle;
    let warmup = if n >= 4 * IDLE_WARMUP { IDLE_WARMUP } else { 0 };
    let bar = progress(config, n as u64, "idle logins");
    let first = open_idle(ex, server, config, warmup, &bar)?;
    let before = server.rss_kib()?;
    let rest = open_idle(ex, server, config, n - warmup, &bar)?;
    let after = server.rss_kib()?;
    bar.finish_and_clear();
    drop((first, rest));
    Ok(Idle {
        connections: n,
        warmup,
        rss_before_kib: before,
        rss_after_kib: after,
        kib_per_connection: (after as f64 - before as f64) / (n - warmup) as f64,
    })
}

fn open_idle(
    ex: &LocalExecutor<'_>,
    server: &Spawned,
    config: &Config,
    n: usize,
    bar: &ProgressBar,
) -> Result<Vec<Conn>, String> {
    let addr = server.addr;
    let logins = bounded(ex, n, LOGINS_IN_FLIGHT, bar, |_| {
        Conn::login(addr, IDLE_USER, PASSWORD)
    });
    smol::block_on(ex.run(interruptible(logins, &config.stop)))
}

/// A progress bar on stderr when `config.progress`, else a hidden one.
fn progress(config: &Config, len: u64, what: &str) -> ProgressBar {
    if !config.progress {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {per_sec}")
        .expect("constant template")
        .progress_chars("=> ");
    ProgressBar::new(len)
        .with_style(style)
        .with_message(what.to_owned())
}

/// Raises the soft descriptor limit to what the run needs (the server
/// inherits it), or says how far `ulimit -n` must go.
fn raise_fd_limit(config: &Config) -> Result<(), String> {
    let pairs = config.load.pairs as u64;
    // The baseline relay runs in-process: both ends of every pair's sockets.
    let need = (config.idle as u64 + 2 * pairs).max(4 * pairs) + SPARE_FDS;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `lim`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err("cannot read the open-files limit".into());
        }
        if lim.rlim_cur >= need {
            return Ok(());
        }
        if lim.rlim_max >= need {
            lim.rlim_cur = need;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                return Ok(());
            }
        }
    }
    Err(format!(
        "this run needs {need} open files but the limit is {} (hard {}); \
         lower --idle or --pairs, or raise `ulimit -n`",
        lim.rlim_cur, lim.rlim_max
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: usize, idle: usize) -> Config {
        Config {
            load: Spec {
                pairs,
                messages: 1,
                size: wire::STAMP_LEN,
                window: 1,
                rate: None,
            },
            idle,
            logins: 0,
            floor_appends: 0,
            baseline: false,
            federated: false,
            temp_parent: PathBuf::new(),
            progress: false,
            stop: Arc::default(),
        }
    }

    /// The largest run the flags allow is past the server's default of
    /// 10,000 connections, and still fits.
    #[test]
    fn the_server_takes_every_connection_of_the_run() {
        let default = crate::server::config::Limits::default().max_connections;
        let (pairs, idle) = (10_000, 1_000_000);
        let need = server_connections(&config(pairs, idle));
        assert!(need > default);
        assert_eq!(need, idle + 2 * pairs + SPARE_CONNECTIONS);
        assert_eq!(server_connections(&config(2, 10)), 30);
    }
}
