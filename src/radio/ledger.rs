//! The airtime ledger: transmissions never exceed the duty cycle in any
//! sliding hour, nor the dwell time per transmission.
//!
//! Times are milliseconds on the caller's clock; the ledger never reads a
//! clock itself. A frame that does not fit yet is not refused: the ledger
//! says when it will fit, and the link waits until then.

use std::collections::VecDeque;

/// The sliding window duty cycles are measured over: one hour.
pub const WINDOW_MS: u64 = 3_600_000;

/// Airtime spent and allowed.
#[derive(Debug, Clone)]
pub struct Ledger {
    /// Airtime allowed per window, in ms; `None` when no duty cycle applies.
    budget_ms: Option<f64>,
    /// The longest single transmission, in ms.
    max_dwell_ms: Option<f64>,
    /// (start, airtime) of each transmission that can still count.
    spent: VecDeque<(u64, f64)>,
}

impl Ledger {
    /// `duty` is a fraction (0.01 for 1 %).
    pub fn new(duty: Option<f64>, max_dwell_ms: Option<f64>) -> Ledger {
        Ledger {
            budget_ms: duty.filter(|&d| d < 1.0).map(|d| d * WINDOW_MS as f64),
            max_dwell_ms,
            spent: VecDeque::new(),
        }
    }

    /// Whether a single transmission of `airtime` ms is ever allowed.
    pub fn fits_ever(&self, airtime: f64) -> bool {
        self.max_dwell_ms.is_none_or(|d| airtime <= d)
            && self.budget_ms.is_none_or(|b| airtime <= b)
    }

    /// The earliest time at or after `now` when a transmission of
    /// `airtime` ms may start, or `None` if it never may.
    ///
    /// It may start at `t` when its own airtime plus that of every earlier
    /// transmission ending after `t + airtime - 1 h` fits the budget: the
    /// hour ending with it is the fullest hour it belongs to.
    pub fn earliest(&self, now: u64, airtime: f64) -> Option<u64> {
        if !self.fits_ever(airtime) {
            return None;
        }
        let Some(budget) = self.budget_ms else {
            return Some(now);
        };
        let horizon = now as f64 + airtime - WINDOW_MS as f64;
        let counted: Vec<(u64, f64)> = self
            .spent
            .iter()
            .copied()
            .filter(|&(start, a)| start as f64 + a > horizon)
            .collect();
        let mut sum: f64 = counted.iter().map(|&(_, a)| a).sum();
        if sum + airtime <= budget {
            return Some(now);
        }
        for (start, a) in counted {
            sum -= a;
            if sum + airtime <= budget {
                // This one drops out once `t + airtime - 1 h >= start + a`.
                let t = (start as f64 + a + WINDOW_MS as f64 - airtime).ceil() as u64;
                return Some(t.max(now));
            }
        }
        Some(now)
    }

    /// Books a transmission; forgets those that can no longer count.
    pub fn record(&mut self, start: u64, airtime: f64) {
        self.spent.push_back((start, airtime));
        while let Some(&(s, a)) = self.spent.front() {
            if (s as f64 + a) + (WINDOW_MS as f64) < start as f64 {
                self.spent.pop_front();
            } else {
                break;
            }
        }
    }

    /// Airtime that still counts at `now`, in ms: every transmission that
    /// ended less than an hour ago or is still on air, in full.
    pub fn used_ms(&self, now: u64) -> f64 {
        let from = now as f64 - WINDOW_MS as f64;
        self.spent
            .iter()
            .filter(|&&(s, a)| s as f64 + a > from)
            .map(|&(_, a)| a)
            .sum()
    }

    /// The budget per hour in ms, if a duty cycle applies.
    pub fn budget_ms(&self) -> Option<f64> {
        self.budget_ms
    }

    /// Budget left over the last hour at `now`, in ms.
    pub fn left_ms(&self, now: u64) -> Option<f64> {
        self.budget_ms.map(|b| (b - self.used_ms(now)).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_duty_cycle_everything_goes_now() {
        let l = Ledger::new(None, None);
        assert_eq!(l.earliest(5, 10_000.0), Some(5));
        assert_eq!(Ledger::new(Some(1.0), None).earliest(5, 1.0), Some(5));
    }

    #[test]
    fn dwell_time_is_a_hard_limit() {
        let l = Ledger::new(None, Some(400.0));
        assert_eq!(l.earliest(0, 400.0), Some(0));
        assert_eq!(l.earliest(0, 400.5), None);
    }

    #[test]
    fn a_spent_budget_waits_for_the_oldest_to_slide_out() {
        // 1 % = 36 s an hour; spend it in 36 one-second frames.
        let mut l = Ledger::new(Some(0.01), None);
        for i in 0..36 {
            let t = l.earliest(i * 1000, 1000.0).unwrap();
            assert_eq!(t, i * 1000);
            l.record(t, 1000.0);
        }
        // The 37th waits until the first (0..1000) is an hour old.
        assert_eq!(l.earliest(36_000, 1000.0), Some(WINDOW_MS));
        assert_eq!(l.left_ms(36_000), Some(0.0));
        assert!(l.earliest(0, 36_001.0).is_none());
    }

    /// Airtime inside [from, from + 1 h).
    fn in_window(spent: &[(u64, f64)], from: f64) -> f64 {
        let to = from + WINDOW_MS as f64;
        spent
            .iter()
            .map(|&(s, a)| (s as f64 + a).min(to) - (s as f64).max(from))
            .filter(|&d| d > 0.0)
            .sum()
    }

    #[test]
    fn no_sliding_hour_ever_exceeds_the_budget() {
        let mut rng = crate::radio::rng::Rng::new(7);
        let mut l = Ledger::new(Some(0.01), None);
        let mut log = Vec::new();
        let mut now = 0;
        while now < 4 * WINDOW_MS {
            let airtime = 50.0 + (rng.next_u64() % 2000) as f64 + 0.125;
            let t = l.earliest(now, airtime).unwrap();
            l.record(t, airtime);
            log.push((t, airtime));
            now = t + airtime.ceil() as u64 + rng.next_u64() % 3000;
        }
        let budget = 0.01 * WINDOW_MS as f64;
        // Fullest windows start at a transmission's start or end an hour
        // after one ends.
        for &(s, a) in &log {
            for from in [s as f64, s as f64 + a - WINDOW_MS as f64] {
                assert!(in_window(&log, from) <= budget + 1e-6, "window at {from}");
            }
        }
        // And the budget was actually used, not just avoided.
        assert!(in_window(&log, WINDOW_MS as f64) > 0.9 * budget);
    }
}
