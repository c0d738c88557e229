//! `solec bench`: the flags, then [`crate::bench`] does the work.

use super::{exit, Failure};
use crate::bench::{self, floor, load::Spec, wire::STAMP_LEN};
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Measure a solec server on this machine: throughput, latency, CPU and
/// memory, for sizing the hardware it will run on.
///
/// Starts a private `solec serve` on a loopback port with a temporary data
/// directory and creates its users. Its config raises max_connections, and
/// max_sessions_per_user (the idle connections are one user's), to what the
/// run opens (IDLE + 2 x PAIRS, plus a margin), since the defaults would
/// refuse the larger runs these flags allow. First IDLE connections log in
/// and sit idle, the growth of the server's resident memory per connection
/// is reported, and they close. Then PAIRS senders
/// each send MESSAGES messages to their own receiver (the two are each
/// other's contacts), keeping WINDOW requests in flight, as fast as
/// possible or at --rate; every message carries its sequence number and
/// send time. Reported: delivered messages per second, latency
/// percentiles, missing and duplicated messages, and the server's CPU time
/// per delivered message.
///
/// Right after the load, with the server idle, the fdatasync floor is
/// timed on the disk of its store: in the server's data directory, N
/// appends (--floor-appends; fewer if 2 s run out) of a 128-byte record,
/// about one Message PDU, each followed by fdatasync, to a scratch file
/// removed after. Reported: `fdatasync floor: p50 A ms, p99 B ms, max C
/// ms (N appends of 128 bytes on DIR)`, each append's write and flush;
/// `solec p99 - floor p99: D ms`, what the server adds to the flush every
/// durable Success waits for, to set against the p99 of a server that
/// stores nothing; and `solec p99 / floor p99: E x`.
///
/// The server is then stopped and its directory removed. Last, the same
/// load runs through a trivial in-process relay that stores nothing, as a
/// baseline for this machine, and the ratios solec/baseline are printed.
///
/// With --federated, the same load also runs between two private servers,
/// a.bench and b.bench, after the single one: each is made a known peer of
/// the other with `solec federate key` and `solec federate add`, the PAIRS
/// senders log in on a.bench and the receivers on b.bench, and a.bench's
/// max_outbox_messages rises to PAIRS x MESSAGES + 100. a.bench reaches
/// b.bench through an in-process proxy that counts the link's bytes.
/// Reported: delivered messages per second and its ratio to the single
/// server's, latency, missing and duplicated messages, each server's CPU
/// time per message, the link's bytes per relayed message next to the
/// Message PDU's size, and a restart: b.bench stops with SIGTERM, 100
/// messages are queued for it on a.bench, it starts again on the same
/// port, and the time until its user has the first of them is printed.
///
/// The report is `key: value` lines (`solec missing: 0`), or one JSON
/// object with --json. Exits 1 if any message was lost or duplicated.
/// Ctrl-C stops the server and removes its directory before exiting. Linux
/// only (reads /proc).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sender/receiver pairs
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub pairs: u32,

    /// Messages each sender sends
    #[arg(long, value_name = "M", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..=u64::from(u32::MAX)))]
    pub messages: u64,

    /// Bytes of message_content per message (at least 24: the stamp)
    #[arg(long, value_name = "BYTES", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(STAMP_LEN as i64..=4096))]
    pub size: u32,

    /// Requests each sender keeps unacknowledged (at most 1000: past the
    /// server's max_outbound_queue of 1024 it stops reading the sender)
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub window: u32,

    /// Pace all senders together at R messages per second in total
    /// [default: as fast as possible]
    #[arg(long, value_name = "R",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: Option<u64>,

    /// Idle authenticated connections to open, and close, before the load (0
    /// skips it)
    #[arg(long, value_name = "N", default_value_t = 2000,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub idle: u32,

    /// Also time N password logins and N session-token logins of one user,
    /// 16 at a time, each closed at its Success, and print both rates (0
    /// skips it)
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub logins: u32,

    /// Appends, each followed by fdatasync, timed for the floor (fewer if
    /// 2 s run out first; 0 skips it)
    #[arg(long, value_name = "N", default_value_t = floor::DEFAULT_APPENDS,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub floor_appends: u64,

    /// Skip the in-process relay baseline
    #[arg(long)]
    pub no_baseline: bool,

    /// Also run the load from a.bench to b.bench, two federated servers,
    /// and a restart of b.bench (see above)
    #[arg(long)]
    pub federated: bool,

    /// Print the report as one JSON object
    #[arg(long)]
    pub json: bool,

    /// Directory to create the server's temporary data directory in; put it
    /// on the disk the real server will use, since /tmp may be in memory
    /// [default: $TMPDIR, else /tmp]
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| Failure::new(exit::FAILURE, format!("cannot handle signals: {e}")))?;
    }
    let config = bench::Config {
        load: Spec {
            pairs: args.pairs as usize,
            messages: args.messages,
            size: args.size as usize,
            window: args.window as usize,
            rate: args.rate,
        },
        idle: args.idle as usize,
        logins: args.logins as usize,
        floor_appends: args.floor_appends,
        baseline: !args.no_baseline,
        federated: args.federated,
        temp_parent: args.temp_dir.unwrap_or_else(std::env::temp_dir),
        progress: std::io::stderr().is_terminal(),
        stop,
    };
    let report = bench::run(&config).map_err(|e| Failure::new(exit::FAILURE, e))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::to_string(&report).expect("report serialises");
        writeln!(out, "{json}")?;
    } else {
        write!(out, "{report}")?;
    }
    out.flush()?;
    match report.complete() {
        true => Ok(()),
        false => Err(Failure::new(
            exit::FAILURE,
            "messages were lost or duplicated",
        )),
    }
}
