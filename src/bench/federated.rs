//! `solec bench --federated`: the load from the users of one server to the
//! users of another, over a real server link.
//!
//! Two private servers, [`SENDING`] and [`RECEIVING`], each with its own
//! temporary directory and loopback port, become known peers of each other
//! through the binary's own `solec federate key` and `solec federate add`;
//! the sending server's entry for the receiving one points at a counting
//! [`Proxy`] in front of it, so every byte of the link is counted. Pair `i`
//! is `s{i}@a.bench` (logged in on the sending server) and `r{i}@b.bench`
//! (on the receiving one), each the other's contact on both servers.
//!
//! Measured: the load as on one server (delivered msg/s, latency, missing,
//! duplicated), each server's CPU, the link's bytes per relayed message
//! next to the Message PDU's own size, and a restart: the receiving server
//! stops with SIGTERM, [`RESTART_MESSAGES`] are queued for it in the
//! sending server's outbox, it starts again on the same port, and the time
//! until its user has the first of them is taken.

use super::load::{self, interruptible, stamp_of, Ends, Outcome, Tally};
use super::proxy::{Bytes, Proxy};
use super::report::{Federated, Link, Restart, Run};
use super::server::{Sizing, Spawned};
use super::wire::{self, expect_success, Clock, Conn};
use super::{Config, PASSWORD};
use crate::proto::{Message, Pdu};
use smol::future::FutureExt as _;
use smol::io::AsyncWriteExt as _;
use smol::{LocalExecutor, Timer};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The server the senders log in on.
pub const SENDING: &str = "a.bench";

/// The server the receivers log in on.
pub const RECEIVING: &str = "b.bench";

/// Messages queued for the receiving server while it is down.
pub const RESTART_MESSAGES: u64 = 100;

/// How long the queued messages may take to arrive after the restart:
/// past the longest wait between link attempts (`link_backoff_max_secs`,
/// 60 by default), with margin.
pub const RESTART_TIMEOUT: Duration = Duration::from_secs(90);

/// How long the receiver keeps reading after the last queued message, so a
/// retransmission shown twice is counted.
const RESTART_LINGER: Duration = Duration::from_millis(200);

/// How long the sending server's outbox may take to empty once every
/// message has arrived: its acknowledgements are still on the way.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How often `solec federate list` is asked whether it has.
const DRAIN_POLL: Duration = Duration::from_millis(50);

/// Runs the federated load and the restart; `single` is the one-server
/// run of the same load, for the ratio.
pub fn measure(
    ex: &LocalExecutor<'_>,
    config: &Config,
    clock: Clock,
    single: &Run,
) -> Result<Federated, String> {
    let sizing = Sizing {
        connections: super::server_connections(config),
        outbox: Some(outbox_size(config)),
    };
    let a = Spawned::start(&config.temp_parent, SENDING, sizing)?;
    let mut b = Spawned::start(&config.temp_parent, RECEIVING, sizing)?;
    let proxy = Proxy::start(b.addr)?;
    let measured = measure_servers(ex, config, clock, &a, &mut b, &proxy);
    let measured = measured.map_err(|e| with_logs(e, &[&a, &b]));
    let mut warnings = Vec::new();
    for s in [&a, &b] {
        let logged = s.warnings.lock().expect("log lock");
        warnings.extend(logged.iter().map(|w| format!("{}: {w}", s.name)));
    }
    drop(proxy);
    let (stopped_a, stopped_b) = (a.stop(), b.stop());
    let (run, cpu, link, restart) = measured?;
    stopped_a?;
    stopped_b?;
    let per_message = |us: u64| us as f64 / run.delivered.max(1) as f64;
    Ok(Federated {
        from: SENDING.to_owned(),
        to: RECEIVING.to_owned(),
        throughput_ratio: run.messages_per_second / single.messages_per_second,
        sender_cpu_us_per_message: per_message(cpu[0]),
        receiver_cpu_us_per_message: per_message(cpu[1]),
        run,
        link,
        restart,
        server_warnings: warnings,
    })
}

/// The sending server's max_outbox_messages: the whole load and the
/// restart's messages may wait in it at once (the default would refuse the
/// larger runs the flags allow).
fn outbox_size(config: &Config) -> usize {
    let load = config.load.pairs as u64 * config.load.messages;
    usize::try_from(load + RESTART_MESSAGES).unwrap_or(usize::MAX)
}

/// An error with the servers' last log lines, when they warned.
fn with_logs(e: String, servers: &[&Spawned]) -> String {
    let mut out = e;
    for s in servers {
        match s.log_tail() {
            tail if tail.contains(" WARN ") || tail.contains(" ERROR ") => {
                out += &format!("\n{} log:\n{tail}", s.name);
            }
            _ => {}
        }
    }
    out
}

type Measured = (Run, Vec<u64>, Link, Restart);

fn measure_servers(
    ex: &LocalExecutor<'_>,
    config: &Config,
    clock: Clock,
    a: &Spawned,
    b: &mut Spawned,
    proxy: &Proxy,
) -> Result<Measured, String> {
    befriend(a, b, proxy)?;
    let hash = crate::server::passwords::hash(PASSWORD)?;
    let pairs = 0..config.load.pairs;
    a.add_users(
        &pairs.clone().map(load::sender_name).collect::<Vec<_>>(),
        &hash,
    )?;
    b.add_users(&pairs.map(load::receiver_name).collect::<Vec<_>>(), &hash)?;
    let ends = Ends {
        sender: a.addr,
        sender_server: SENDING.to_owned(),
        receiver: b.addr,
        receiver_server: RECEIVING.to_owned(),
    };
    let before = proxy.bytes();
    let (outcome, cpu) = super::measure_load(ex, &ends, config, clock, &[a, &*b])?;
    if !outcome.stalled {
        drained(a, config)?;
    }
    let link = link_figures(&ends, config, &outcome, proxy.bytes() - before)?;
    let run = Run::new(&config.load, &outcome, None);
    let restart = measure_restart(b, proxy, &ends, config, clock)?;
    Ok((run, cpu, link, restart))
}

/// Makes the two servers known peers of each other; the sender's entry for
/// the receiver points at the proxy.
fn befriend(a: &Spawned, b: &Spawned, proxy: &Proxy) -> Result<(), String> {
    let (key_a, key_b) = (a.public_key()?, b.public_key()?);
    let via_proxy = proxy.addr.to_string();
    a.federate(&["add", RECEIVING, &via_proxy, "--key", &key_b])?;
    b.federate(&["add", SENDING, &a.addr.to_string(), "--key", &key_a])?;
    Ok(())
}

/// Waits until `a`'s outbox for the receiver is empty: every relay is
/// acknowledged, so every acknowledgement has crossed the proxy.
fn drained(a: &Spawned, config: &Config) -> Result<(), String> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        let listed = a.federate(&["list", "--json"])?;
        if queued(&listed, RECEIVING) == Some(0) {
            return Ok(());
        }
        if config.stop.load(Ordering::Relaxed) {
            return Err(load::INTERRUPTED.into());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "every message arrived, but {SENDING}'s outbox for {RECEIVING} \
                 was not empty {} s later: {}",
                DRAIN_TIMEOUT.as_secs(),
                listed.trim()
            ));
        }
        std::thread::sleep(DRAIN_POLL);
    }
}

/// The `queued` figure of peer `name` in `solec federate list --json`.
fn queued(listed: &str, name: &str) -> Option<u64> {
    listed
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|peer| peer["name"] == name)
        .and_then(|peer| peer["queued"].as_u64())
}

/// The link's bytes set against the Message PDUs it carried.
fn link_figures(
    ends: &Ends,
    config: &Config,
    outcome: &Outcome,
    bytes: Bytes,
) -> Result<Link, String> {
    let relayed = outcome.tally.distinct + outcome.tally.duplicates;
    let pdu = message_pdu_bytes(ends, config)?;
    let per_message = (bytes.forward + bytes.back) as f64 / relayed.max(1) as f64;
    Ok(Link {
        forward_bytes: bytes.forward,
        back_bytes: bytes.back,
        relayed,
        bytes_per_message: per_message,
        message_pdu_bytes: pdu,
        overhead_bytes_per_message: per_message - pdu,
    })
}

/// The size of the load's Message PDUs, header included, averaged over
/// the pairs (their addresses differ in length; each pair sends as many).
fn message_pdu_bytes(ends: &Ends, config: &Config) -> Result<f64, String> {
    let mut content = String::new();
    wire::stamp(&mut content, 0, 0, config.load.size);
    let mut total = 0;
    for i in 0..config.load.pairs {
        let (source, target) = (ends.sender_address(i), ends.receiver_address(i));
        let message = Pdu::Message(Message {
            source_address: &source,
            target_address: &target,
            send_time: 0,
            message_content: &content,
        });
        total += message.to_vec().map_err(|e| e.to_string())?.len();
    }
    Ok(total as f64 / config.load.pairs as f64)
}

/// Stops the receiving server, queues [`RESTART_MESSAGES`] for its user
/// `r0` on the sending server, starts it again and times the first
/// delivery. The proxy holds a link made before `r0` is logged in, so no
/// message reaches the store unseen; that costs the measurement at most
/// one login.
fn measure_restart(
    b: &mut Spawned,
    proxy: &Proxy,
    ends: &Ends,
    config: &Config,
    clock: Clock,
) -> Result<Restart, String> {
    let stop = &config.stop;
    let stopping = Instant::now();
    b.halt()?;
    smol::block_on(interruptible(queue(ends, config, clock), stop))?;
    proxy.hold(true);
    let started = Instant::now();
    b.resume()?;
    let listening = started.elapsed();
    let r0 = load::receiver_name(0);
    let login = Conn::login(b.addr, &r0, PASSWORD);
    let receiver = smol::block_on(interruptible(login, stop));
    proxy.hold(false);
    let receiving = receive_queued(receiver?, started);
    let (tally, first) = smol::block_on(interruptible(receiving, stop))?;
    Ok(Restart {
        queued: RESTART_MESSAGES,
        down_seconds: (started - stopping).as_secs_f64(),
        listening_seconds: listening.as_secs_f64(),
        first_delivery_seconds: first.map(|d| d.as_secs_f64()),
        delivered: tally.distinct,
        missing: RESTART_MESSAGES - tally.distinct,
        duplicates: tally.duplicates,
    })
}

/// Sends [`RESTART_MESSAGES`] from pair 0's sender and waits until the
/// sending server has acknowledged every one: they are in its outbox.
async fn queue(ends: &Ends, config: &Config, clock: Clock) -> Result<(), String> {
    let mut conn = Conn::login(ends.sender, &load::sender_name(0), PASSWORD).await?;
    let (source, target) = (ends.sender_address(0), ends.receiver_address(0));
    let (mut content, mut bytes) = (String::new(), Vec::new());
    for seq in 0..RESTART_MESSAGES {
        wire::stamp(&mut content, seq, clock.ns(), config.load.size);
        let message = Pdu::Message(Message {
            source_address: &source,
            target_address: &target,
            send_time: crate::time::now(),
            message_content: &content,
        });
        message.encode(&mut bytes).map_err(|e| e.to_string())?;
    }
    let mut writer = &conn.stream;
    writer
        .write_all(&bytes)
        .await
        .map_err(|e| format!("write failed: {e}"))?;
    let mut acked = 0;
    while acked < RESTART_MESSAGES {
        conn.frames.fill(&conn.stream).await?;
        while let Some(frame) = conn.frames.next_frame() {
            expect_success(frame)?;
            acked += 1;
        }
    }
    Ok(())
}

/// Reads the queued messages until all have come (and [`RESTART_LINGER`]
/// more) or [`RESTART_TIMEOUT`] has passed since `started`; returns the
/// tally and when the first came.
async fn receive_queued(
    mut conn: Conn,
    started: Instant,
) -> Result<(Tally, Option<Duration>), String> {
    let mut tally = Tally::new(RESTART_MESSAGES);
    let mut first = None;
    let mut all_at = None;
    let deadline = started + RESTART_TIMEOUT;
    loop {
        let end = all_at.map_or(deadline, |at| at + RESTART_LINGER);
        // A read cut short by the timer has taken no bytes.
        let read = async { conn.frames.fill(&conn.stream).await.map(|()| true) };
        let timeout = async {
            Timer::at(end).await;
            Ok(false)
        };
        if !read.or(timeout).await? {
            return Ok((tally, first));
        }
        while let Some(frame) = conn.frames.next_frame() {
            first.get_or_insert_with(|| started.elapsed());
            tally.record(stamp_of(frame)?.0, 0)?;
        }
        if tally.distinct == RESTART_MESSAGES {
            all_at.get_or_insert_with(Instant::now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::load::Spec;
    use std::sync::Arc;

    fn config(pairs: usize, messages: u64) -> Config {
        Config {
            load: Spec {
                pairs,
                messages,
                size: 64,
                window: 1,
                rate: None,
            },
            idle: 0,
            logins: 0,
            floor_appends: 0,
            baseline: false,
            federated: true,
            temp_parent: std::path::PathBuf::new(),
            progress: false,
            stop: Arc::default(),
        }
    }

    /// The whole load and the restart's messages fit in the outbox, past
    /// the server's default for the default run.
    #[test]
    fn the_outbox_takes_the_whole_load() {
        let default = crate::server::config::Limits::default().max_outbox_messages;
        assert_eq!(outbox_size(&config(50, 2000)), 100_100);
        assert!(outbox_size(&config(50, 2000)) > default);
        assert_eq!(
            outbox_size(&config(10_000, u64::from(u32::MAX))),
            42_949_672_950_100
        );
    }

    #[test]
    fn reads_the_queue_of_one_peer() {
        let listed = "{\"name\":\"c.bench\",\"queued\":7}\n\
                      {\"name\":\"b.bench\",\"link\":\"up\",\"queued\":0}\n";
        assert_eq!(queued(listed, "b.bench"), Some(0));
        assert_eq!(queued(listed, "c.bench"), Some(7));
        assert_eq!(queued(listed, "d.bench"), None);
    }

    /// 3 header + 2 + 10 + 2 + 10 address bytes + 8 + 2 + 64; pair 10's
    /// addresses are a byte longer each.
    #[test]
    fn message_pdu_size_is_averaged_over_the_pairs() {
        let ends = Ends {
            sender: ([127, 0, 0, 1], 1).into(),
            sender_server: SENDING.to_owned(),
            receiver: ([127, 0, 0, 1], 2).into(),
            receiver_server: RECEIVING.to_owned(),
        };
        assert_eq!(message_pdu_bytes(&ends, &config(2, 1)), Ok(101.0));
        let eleven = message_pdu_bytes(&ends, &config(11, 1)).unwrap();
        assert!((eleven - 1113.0 / 11.0).abs() < 1e-9, "{eleven}");
    }
}
