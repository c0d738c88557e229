//! The bench's findings: readable `key: value` lines, or one JSON object.
//!
//! Lines start with a stable key (`solec missing: 0`) so scripts can grep
//! them; `--json` carries the same figures with units in the field names.

use super::floor::Timings;
use super::histogram::Histogram;
use super::load::{Outcome, Spec};
use serde::Serialize;
use std::fmt;

/// Everything one `solec bench` measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub pairs: usize,
    pub messages: u64,
    pub size: usize,
    pub window: usize,
    /// Messages per second over all senders; null when unpaced.
    pub rate: Option<u64>,
    pub solec: Run,
    /// Timed right after solec's load; null with `--floor-appends 0`.
    pub fdatasync_floor: Option<Floor>,
    pub idle: Option<Idle>,
    /// Password and session-token logins, with `--logins`.
    pub logins: Option<super::logins::Logins>,
    pub baseline: Option<Run>,
    /// solec divided by baseline.
    pub ratio: Option<Ratio>,
    /// Two federated servers, with `--federated`.
    pub federated: Option<Federated>,
    /// WARN and ERROR lines from the server's log.
    pub server_warnings: Vec<String>,
}

/// One load through one server.
#[derive(Debug, Serialize)]
pub struct Run {
    pub delivered: u64,
    pub missing: u64,
    pub duplicates: u64,
    /// From the first send to the last delivery.
    pub seconds: f64,
    pub messages_per_second: f64,
    pub latency_us: Latency,
    /// Server user+system CPU over the load, per delivered message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_message: Option<f64>,
    /// Ended after a long time without progress.
    pub stalled: bool,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// Percentiles of nanosecond values, in microseconds.
    fn of(h: &Histogram) -> Latency {
        let us = |ns: u64| ns as f64 / 1e3;
        Latency {
            p50: us(h.quantile(0.5)),
            p99: us(h.quantile(0.99)),
            max: us(h.max()),
        }
    }
}

/// Appends of a small record, each followed by `fdatasync`, on the disk
/// of the server's store: the least a durable Success can cost there.
#[derive(Debug, Serialize)]
pub struct Floor {
    /// The directory the server's data directory was created in.
    pub dir: String,
    pub appends: u64,
    pub record_bytes: usize,
    /// One append's write and `fdatasync`.
    pub latency_us: Latency,
    /// solec's p99 less the floor's: what the server adds to the flush.
    pub solec_p99_minus_floor_p99_us: f64,
    /// solec's p99 divided by the floor's.
    pub solec_p99_over_floor_p99: f64,
}

impl Floor {
    pub fn new(t: &Timings, dir: &std::path::Path, solec: &Run) -> Floor {
        let latency_us = Latency::of(&t.latency);
        let p99 = solec.latency_us.p99;
        Floor {
            dir: dir.display().to_string(),
            appends: t.appends,
            record_bytes: super::floor::RECORD_BYTES,
            solec_p99_minus_floor_p99_us: p99 - latency_us.p99,
            solec_p99_over_floor_p99: p99 / latency_us.p99.max(0.001),
            latency_us,
        }
    }

    fn lines(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.latency_us;
        writeln!(
            f,
            "fdatasync floor: p50 {} ms, p99 {} ms, max {} ms ({} appends of {} bytes on {})",
            ms(l.p50),
            ms(l.p99),
            ms(l.max),
            self.appends,
            self.record_bytes,
            self.dir
        )?;
        writeln!(
            f,
            "solec p99 - floor p99: {} ms",
            ms(self.solec_p99_minus_floor_p99_us)
        )?;
        writeln!(
            f,
            "solec p99 / floor p99: {:.2} x",
            self.solec_p99_over_floor_p99
        )
    }
}

/// Server memory for idle authenticated connections.
#[derive(Debug, Serialize)]
pub struct Idle {
    pub connections: usize,
    /// Opened before `rss_before_kib` was read, so not in the per-connection figure.
    pub warmup: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub kib_per_connection: f64,
}

/// The same load from users of one server to users of another.
#[derive(Debug, Serialize)]
pub struct Federated {
    /// The sending server's name and the receiving server's.
    pub from: String,
    pub to: String,
    pub run: Run,
    /// This run's throughput divided by the single server's.
    pub throughput_ratio: f64,
    /// Each server's user+system CPU over the load, per delivered message.
    pub sender_cpu_us_per_message: f64,
    pub receiver_cpu_us_per_message: f64,
    pub link: Link,
    pub restart: Restart,
    /// WARN and ERROR lines from both servers' logs, each after its name.
    pub server_warnings: Vec<String>,
}

/// The link's bytes over the load, as the proxy between the servers
/// counted them (SOLEC bytes, handshake included).
#[derive(Debug, Serialize)]
pub struct Link {
    /// Sending server to receiving server: the relays.
    pub forward_bytes: u64,
    /// Back: the acknowledgements.
    pub back_bytes: u64,
    pub relayed: u64,
    /// Both ways, per relayed message.
    pub bytes_per_message: f64,
    /// The Message PDUs' own size, on average over the pairs.
    pub message_pdu_bytes: f64,
    /// `bytes_per_message` less `message_pdu_bytes`.
    pub overhead_bytes_per_message: f64,
}

/// The receiving server stopped with SIGTERM while the sender's outbox
/// held messages for it, and started again on the same port.
#[derive(Debug, Serialize)]
pub struct Restart {
    /// Messages queued for it while it was down.
    pub queued: u64,
    /// From its stop signal to its start again.
    pub down_seconds: f64,
    /// From its start to listening.
    pub listening_seconds: f64,
    /// From its start to the first queued message reaching its user; null
    /// if none did within the wait.
    pub first_delivery_seconds: Option<f64>,
    pub delivered: u64,
    pub missing: u64,
    pub duplicates: u64,
}

impl Federated {
    pub fn complete(&self) -> bool {
        self.run.complete() && self.restart.missing == 0 && self.restart.duplicates == 0
    }

    fn lines(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "federated servers: {} -> {}", self.from, self.to)?;
        self.run.lines(f, "federated")?;
        writeln!(
            f,
            "federated/single: {:.2} x throughput",
            self.throughput_ratio
        )?;
        writeln!(
            f,
            "federated server cpu: {} {:.2} µs + {} {:.2} µs per delivered message",
            self.from, self.sender_cpu_us_per_message, self.to, self.receiver_cpu_us_per_message
        )?;
        let l = &self.link;
        writeln!(
            f,
            "link: {} bytes {} -> {}, {} bytes back, {:.2} bytes per relayed message \
             (Message PDU {:.2} bytes, {:+.2})",
            l.forward_bytes,
            self.from,
            self.to,
            l.back_bytes,
            l.bytes_per_message,
            l.message_pdu_bytes,
            l.overhead_bytes_per_message
        )?;
        let r = &self.restart;
        let first = match r.first_delivery_seconds {
            Some(s) => format!("first message delivered {s:.3} s after its start"),
            None => "no message delivered".to_owned(),
        };
        writeln!(
            f,
            "restart: {} stopped with SIGTERM for {:.3} s while {} messages were queued for it; \
             listening {:.3} s after its start, {first}",
            self.to, r.down_seconds, r.queued, r.listening_seconds
        )?;
        writeln!(f, "restart missing: {}", r.missing)?;
        writeln!(f, "restart duplicates: {}", r.duplicates)?;
        for w in &self.server_warnings {
            writeln!(f, "federated server log: {w}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Serialize)]
pub struct Ratio {
    pub messages_per_second: f64,
    pub p99: f64,
}

impl Run {
    /// Figures from a load's outcome; `cpu_us` is the server's CPU time
    /// over the load when it was measured.
    pub fn new(spec: &Spec, o: &Outcome, cpu_us: Option<u64>) -> Run {
        let delivered = o.tally.distinct;
        let ns = o.last_delivery_ns.saturating_sub(o.first_send_ns).max(1);
        let seconds = ns as f64 / 1e9;
        Run {
            delivered,
            missing: spec.pairs as u64 * spec.messages - delivered,
            duplicates: o.tally.duplicates,
            seconds,
            messages_per_second: delivered as f64 / seconds,
            latency_us: Latency::of(&o.tally.latency),
            server_cpu_us_per_message: cpu_us.map(|c| c as f64 / delivered.max(1) as f64),
            stalled: o.stalled,
        }
    }

    /// Whether every message arrived exactly once.
    pub fn complete(&self) -> bool {
        self.missing == 0 && self.duplicates == 0
    }

    fn lines(&self, f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
        writeln!(
            f,
            "{name}: {} delivered in {:.3} s = {:.0} msg/s",
            self.delivered, self.seconds, self.messages_per_second
        )?;
        let l = &self.latency_us;
        writeln!(
            f,
            "{name} latency: p50 {} ms, p99 {} ms, max {} ms",
            ms(l.p50),
            ms(l.p99),
            ms(l.max)
        )?;
        writeln!(f, "{name} missing: {}", self.missing)?;
        writeln!(f, "{name} duplicates: {}", self.duplicates)?;
        if self.stalled {
            writeln!(
                f,
                "{name} stalled: nothing moved for {} s, stopped waiting",
                super::load::STALL.as_secs()
            )?;
        }
        Ok(())
    }
}

fn ms(us: f64) -> String {
    format!("{:.3}", us / 1e3)
}

impl Ratio {
    pub fn new(solec: &Run, baseline: &Run) -> Ratio {
        Ratio {
            messages_per_second: solec.messages_per_second / baseline.messages_per_second,
            p99: solec.latency_us.p99 / baseline.latency_us.p99.max(0.001),
        }
    }
}

impl Report {
    /// Every message of every run arrived exactly once.
    pub fn complete(&self) -> bool {
        self.solec.complete()
            && self.baseline.as_ref().is_none_or(Run::complete)
            && self.federated.as_ref().is_none_or(Federated::complete)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pace = match self.rate {
            Some(r) => format!("paced at {r} msg/s"),
            None => "unpaced".into(),
        };
        writeln!(
            f,
            "load: {} pairs x {} messages x {} bytes, window {}, {pace}",
            self.pairs, self.messages, self.size, self.window
        )?;
        self.solec.lines(f, "solec")?;
        if let Some(cpu) = self.solec.server_cpu_us_per_message {
            writeln!(f, "server cpu: {cpu:.2} µs per delivered message")?;
        }
        if let Some(floor) = &self.fdatasync_floor {
            floor.lines(f)?;
        }
        if let Some(idle) = &self.idle {
            writeln!(
                f,
                "idle: {} authenticated connections, {:.2} KiB each \
                 (server RSS {} -> {} KiB over the last {})",
                idle.connections,
                idle.kib_per_connection,
                idle.rss_before_kib,
                idle.rss_after_kib,
                idle.connections - idle.warmup
            )?;
        }
        if let Some(l) = &self.logins {
            writeln!(
                f,
                "logins: {} each, {:.0} password logins/s, {:.0} token logins/s ({:.1} x)",
                l.count, l.password_per_second, l.token_per_second, l.ratio
            )?;
        }
        if let Some(baseline) = &self.baseline {
            baseline.lines(f, "baseline")?;
        }
        if let Some(r) = &self.ratio {
            writeln!(
                f,
                "solec/baseline: {:.2} x throughput, {:.2} x p99",
                r.messages_per_second, r.p99
            )?;
        }
        for w in &self.server_warnings {
            writeln!(f, "server log: {w}")?;
        }
        if let Some(federated) = &self.federated {
            federated.lines(f)?;
        }
        Ok(())
    }
}
