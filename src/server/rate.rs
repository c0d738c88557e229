//! The per-user rate limit: a token bucket, refilled by the time the core
//! is told, so it is tested with a virtual clock.
//!
//! Every request a user's sessions send takes one token; a bucket holds
//! at most `burst` and gains `per_sec` a second. Pure arithmetic: no
//! clock is read here.

use std::time::Instant;

/// Tokens are counted in thousandths, so a refill of 50 a second adds one
/// every 20 ms without floating point.
const MILLI: u64 = 1000;

/// How fast a bucket refills and how much it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed at once after a pause.
    pub burst: u32,
    /// Requests allowed a second, sustained; 0 turns the limit off.
    pub per_sec: u32,
}

/// One user's bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Thousandths of a token.
    milli: u64,
    /// When `milli` was last brought up to date.
    at: Instant,
}

impl Bucket {
    /// A full bucket at `now`.
    pub fn new(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            milli: u64::from(rate.burst) * MILLI,
            at: now,
        }
    }

    /// Takes one token at `now`: false if there is none, and the request
    /// is over the limit.
    pub fn take(&mut self, rate: Rate, now: Instant) -> bool {
        if rate.per_sec == 0 {
            return true;
        }
        self.refill(rate, now);
        if self.milli < MILLI {
            return false;
        }
        self.milli -= MILLI;
        true
    }

    /// Whether the bucket is full at `now`: forgetting it changes nothing.
    pub fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let mut probe = self.clone();
        probe.refill(rate, now);
        rate.per_sec == 0 || probe.milli >= u64::from(rate.burst) * MILLI
    }

    /// Adds what the time since the last refill earned, up to the burst.
    fn refill(&mut self, rate: Rate, now: Instant) {
        let full = u64::from(rate.burst) * MILLI;
        let elapsed = now.saturating_duration_since(self.at);
        // Thousandths gained: per_sec × elapsed milliseconds.
        let gained = u64::try_from(elapsed.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_mul(u64::from(rate.per_sec));
        if gained > 0 {
            self.milli = self.milli.saturating_add(gained).min(full);
            self.at = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const RATE: Rate = Rate {
        burst: 5,
        per_sec: 10,
    };

    #[test]
    fn a_burst_then_the_refill_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(RATE, t0);
        assert!((0..5).all(|_| b.take(RATE, t0)));
        assert!(!b.take(RATE, t0));
        // 10 a second: one token every 100 ms, none before.
        assert!(!b.take(RATE, t0 + Duration::from_millis(99)));
        assert!(b.take(RATE, t0 + Duration::from_millis(100)));
        assert!(!b.take(RATE, t0 + Duration::from_millis(100)));
        // A long pause refills up to the burst, not beyond.
        let later = t0 + Duration::from_secs(3600);
        assert!((0..5).all(|_| b.take(RATE, later)));
        assert!(!b.take(RATE, later));
    }

    #[test]
    fn a_sustained_rate_is_allowed_and_no_more() {
        let t0 = Instant::now();
        let mut b = Bucket::new(RATE, t0);
        let mut taken = 0;
        // One attempt a millisecond for ten seconds.
        for ms in 0..10_000 {
            taken += u32::from(b.take(RATE, t0 + Duration::from_millis(ms)));
        }
        // The burst, then 10 a second for the 9.999 s that followed.
        assert_eq!(taken, 5 + 99);
    }

    #[test]
    fn zero_per_second_is_no_limit() {
        let off = Rate {
            burst: 0,
            per_sec: 0,
        };
        let t0 = Instant::now();
        let mut b = Bucket::new(off, t0);
        assert!((0..10_000).all(|_| b.take(off, t0)));
    }

    #[test]
    fn fullness() {
        let t0 = Instant::now();
        let mut b = Bucket::new(RATE, t0);
        assert!(b.is_full(RATE, t0));
        b.take(RATE, t0);
        assert!(!b.is_full(RATE, t0));
        while b.take(RATE, t0) {}
        assert!(!b.is_full(RATE, t0));
        assert!(!b.is_full(RATE, t0 + Duration::from_millis(499)));
        assert!(b.is_full(RATE, t0 + Duration::from_millis(500)));
    }
}
