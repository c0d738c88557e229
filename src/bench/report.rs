//! The bench's findings: readable `key: value` lines, or one JSON object.
//!
//! Lines start with a stable key (`solec missing: 0`) so scripts can grep
//! them; `--json` carries the same figures with units in the field names.

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
    pub idle: Option<Idle>,
    pub baseline: Option<Run>,
    /// solec divided by baseline.
    pub ratio: Option<Ratio>,
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
        let us = |ns: u64| ns as f64 / 1e3;
        let lat = &o.tally.latency;
        Run {
            delivered,
            missing: spec.pairs as u64 * spec.messages - delivered,
            duplicates: o.tally.duplicates,
            seconds,
            messages_per_second: delivered as f64 / seconds,
            latency_us: Latency {
                p50: us(lat.quantile(0.5)),
                p99: us(lat.quantile(0.99)),
                max: us(lat.max()),
            },
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
        self.solec.complete() && self.baseline.as_ref().is_none_or(Run::complete)
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
        Ok(())
    }
}
