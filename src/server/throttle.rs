//! Who may have a password checked, and how soon: failed logins slow down
//! further attempts from the same address and on the same account, before
//! argon2 runs. Sans-IO: the connection driver asks with the time, the
//! peer's address, the account name and the time left before its login
//! deadline, waits as told, and reports how the check ended.
//!
//! - An address (an IPv6 /64, as for admission) that has failed `n` times
//!   waits `auth_failure_delay_ms × 2^(n-1)`, at most
//!   `auth_failure_delay_max_secs`, after its last failure; its attempts
//!   are spaced that far apart even when they arrive in parallel.
//! - An account that has failed `n` times makes attempts on it wait the
//!   same way, but only attempts from addresses that have failed
//!   themselves, and never longer than half the handshake timeout: a
//!   correct password from an address with no failures is never slowed by
//!   a flood on its account, and one from an address that mistyped waits
//!   at most a few seconds, so an attacker cannot lock a user out.
//! - An attempt that would wait past its login deadline is refused at once
//!   with Error 0x01, unchecked: it costs no argon2 run.
//! - Addresses in `trusted_networks` are never made to wait, by either
//!   rule (a local script is never throttled), but their failures count
//!   towards the account and their attempts are scheduled like others.
//! - Failures older than `auth_failure_forget_secs` are forgotten.
//!
//! Each attempt is also given a [`Class`] for the password-check pool: an
//! address with no recent failure and no other attempt under way goes
//! first, so an honest login is not queued behind a flood.
//!
//! Memory is bounded: each table holds at most [`MAX_TRACKED`] entries;
//! past it, forgotten ones are swept and then the least failing evicted.
//! Waits and refusals are summed in the log at most once per
//! [`REPORT_EVERY`], never one line per attempt.

use super::admission::{self, Network};
use super::config::Limits;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Addresses, and separately accounts, tracked at most.
pub const MAX_TRACKED: usize = 16_384;

/// Bytes of an account name kept as its key: a local part is at most 64.
pub const MAX_ACCOUNT_KEY: usize = 64;

/// How often, at most, waits and refusals are summed up in the log.
pub const REPORT_EVERY: Duration = admission::REPORT_EVERY;

/// Which queue of the password-check pool an attempt joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Its address has no recent failure and no other attempt under way.
    Clean,
    /// Everything else; served when no clean attempt waits.
    Suspect,
}

/// What to do with a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Wait this long, then check the password in this class; report the
    /// outcome with [`Throttle::finished`].
    Check { wait: Duration, class: Class },
    /// Refuse it now (Error 0x01) without checking.
    Refuse,
}

/// The delays it enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The wait after one failure; it doubles with each further one.
    pub first_delay: Duration,
    /// The longest wait after an address's failures.
    pub max_delay: Duration,
    /// The longest wait after an account's failures.
    pub max_account_delay: Duration,
    /// Failures this old are forgotten.
    pub forget_after: Duration,
    pub trusted: Vec<Network>,
}

impl Rules {
    /// The rules `limits` set, with these trusted networks.
    pub fn new(limits: &Limits, trusted: Vec<Network>) -> Rules {
        Rules {
            first_delay: limits.auth_failure_delay,
            max_delay: limits.auth_failure_delay_max,
            // Half the login time: a waiting attempt is still checked.
            max_account_delay: limits
                .auth_failure_delay_max
                .min(limits.handshake_timeout / 2),
            forget_after: limits.auth_failure_forget,
            trusted,
        }
    }

    /// The wait `failures` earn, before any cap but `max_delay`.
    fn delay(&self, failures: u32) -> Duration {
        match failures {
            0 => Duration::ZERO,
            n => self
                .first_delay
                .saturating_mul(1 << (n - 1).min(31))
                .min(self.max_delay),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    /// When the next attempt from this address may start at the earliest.
    not_before: Instant,
    /// Attempts admitted and not yet finished.
    pending: u32,
}

impl Record {
    fn new(now: Instant) -> Record {
        Record {
            failures: 0,
            last_failure: now,
            not_before: now,
            pending: 0,
        }
    }

    /// Forgets failures older than `forget_after`.
    fn refresh(&mut self, now: Instant, forget_after: Duration) {
        if self.failures > 0 && now.saturating_duration_since(self.last_failure) >= forget_after {
            self.failures = 0;
        }
    }

    /// How long from `now` until the failures' delay has passed.
    fn wait(&self, now: Instant, rules: &Rules, cap: Duration) -> Duration {
        let delay = rules.delay(self.failures).min(cap);
        (self.last_failure + delay).saturating_duration_since(now)
    }

    fn fail(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure = now;
    }
}

/// A table of records with at most [`MAX_TRACKED`] entries.
#[derive(Debug)]
struct Table<K>(HashMap<K, Record>);

impl<K: Hash + Eq + Clone> Table<K> {
    /// The record of `key`, made room for and created if new.
    fn entry(&mut self, now: Instant, key: &K, forget_after: Duration) -> &mut Record {
        if !self.0.contains_key(key) && self.0.len() >= MAX_TRACKED {
            self.make_room(now, forget_after);
        }
        let record = self
            .0
            .entry(key.clone())
            .or_insert_with(|| Record::new(now));
        record.refresh(now, forget_after);
        record
    }

    /// Sweeps forgotten records; if that frees too little, evicts the
    /// eighth worth least to keep (nothing under way, fewest failures,
    /// oldest), so a flood of new names or addresses cannot flush out the
    /// ones under attack. An eighth at a time keeps the cost per new entry
    /// constant.
    fn make_room(&mut self, now: Instant, forget_after: Duration) {
        self.0.retain(|_, r| {
            r.pending > 0 || now.saturating_duration_since(r.last_failure) < forget_after
        });
        let evict = MAX_TRACKED / 8;
        if self.0.len() + evict <= MAX_TRACKED {
            return;
        }
        let mut ranked: Vec<_> = self
            .0
            .iter()
            .map(|(k, r)| ((r.pending > 0, r.failures, r.last_failure), k.clone()))
            .collect();
        ranked.select_nth_unstable_by_key(evict, |(rank, _)| *rank);
        for (_, k) in &ranked[..evict] {
            self.0.remove(k);
        }
    }
}

/// The account an attempt is for: the local part of the name as sent (a
/// full address names the same account), at most [`MAX_ACCOUNT_KEY`] bytes.
fn account_key(username: &str) -> String {
    let local = username.split_once('@').map_or(username, |(l, _)| l);
    let mut end = local.len().min(MAX_ACCOUNT_KEY);
    while !local.is_char_boundary(end) {
        end -= 1;
    }
    local[..end].to_owned()
}

/// The throttle's state; see the module doc.
#[derive(Debug)]
pub struct Throttle {
    rules: Rules,
    addresses: Table<IpAddr>,
    accounts: Table<String>,
    refused: u64,
    delayed: u64,
    last_report: Option<Instant>,
}

impl Throttle {
    pub fn new(rules: Rules) -> Throttle {
        Throttle {
            rules,
            addresses: Table(HashMap::new()),
            accounts: Table(HashMap::new()),
            refused: 0,
            delayed: 0,
            last_report: None,
        }
    }

    /// Puts new delays in force; failures counted so far stay.
    pub fn set_rules(&mut self, rules: Rules) {
        self.rules = rules;
    }

    /// Decides on an attempt from `ip` for `username` at `now`, whose
    /// login must be done within `budget`.
    pub fn attempt(
        &mut self,
        now: Instant,
        ip: IpAddr,
        username: &str,
        budget: Duration,
    ) -> Verdict {
        let trusted = self.rules.trusted.iter().any(|n| n.contains(ip));
        let forget = self.rules.forget_after;
        let account = self.accounts.0.get_mut(&account_key(username)).map(|r| {
            r.refresh(now, forget);
            *r
        });
        let rules = &self.rules;
        let addr = self.addresses.entry(now, &admission::key(ip), forget);
        let class = match addr.failures == 0 && addr.pending == 0 {
            true => Class::Clean,
            false => Class::Suspect,
        };
        let mut wait = Duration::ZERO;
        if !trusted && addr.failures > 0 {
            wait = addr
                .wait(now, rules, rules.max_delay)
                .max(addr.not_before.saturating_duration_since(now));
            if let Some(account) = account {
                wait = wait.max(account.wait(now, rules, rules.max_account_delay));
            }
        }
        if wait >= budget {
            self.refused += 1;
            return Verdict::Refuse;
        }
        if !trusted && addr.failures > 0 {
            // Parallel attempts of a failing address go one delay apart.
            addr.not_before = now + wait + rules.delay(addr.failures);
        }
        addr.pending += 1;
        if !wait.is_zero() {
            self.delayed += 1;
        }
        Verdict::Check { wait, class }
    }

    /// An attempt [`Throttle::attempt`] let through has ended: the password
    /// was right (`ok`), or wrong, or the attempt was abandoned.
    pub fn finished(&mut self, now: Instant, ip: IpAddr, username: &str, ok: bool) {
        let forget = self.rules.forget_after;
        let addr = self.addresses.entry(now, &admission::key(ip), forget);
        addr.pending = addr.pending.saturating_sub(1);
        if !ok {
            addr.fail(now);
            self.accounts
                .entry(now, &account_key(username), forget)
                .fail(now);
        }
    }

    /// A line summing up the waits and refusals since the last one, at
    /// most once per [`REPORT_EVERY`]; None when there is nothing to say.
    pub fn report(&mut self, now: Instant) -> Option<String> {
        if self.refused == 0 && self.delayed == 0 {
            return None;
        }
        if self
            .last_report
            .is_some_and(|t| now.saturating_duration_since(t) < REPORT_EVERY)
        {
            return None;
        }
        self.last_report = Some(now);
        let (refused, delayed) = (
            std::mem::take(&mut self.refused),
            std::mem::take(&mut self.delayed),
        );
        Some(format!(
            "throttled {} logins after failed attempts from their address or on their \
             account: {refused} refused unchecked, {delayed} delayed",
            refused + delayed
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);
    const BUDGET: Duration = Duration::from_secs(10);

    fn rules() -> Rules {
        Rules {
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_account_delay: Duration::from_secs(5),
            forget_after: Duration::from_secs(900),
            trusted: vec![Network::parse("127.0.0.1/32").unwrap()],
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn check(wait: Duration, class: Class) -> Verdict {
        Verdict::Check { wait, class }
    }

    /// A check from `from` for `user` that failed at `now`.
    fn fail(t: &mut Throttle, now: Instant, from: &str, user: &str) {
        t.finished(now, ip(from), user, false);
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let r = rules();
        let ms = |n| r.delay(n).as_millis();
        assert_eq!(
            [ms(0), ms(1), ms(2), ms(3), ms(8)],
            [0, 500, 1000, 2000, 60_000]
        );
        assert_eq!(r.delay(u32::MAX), r.max_delay);
    }

    #[test]
    fn a_failing_address_waits_longer_each_time_then_is_refused() {
        let mut t = Throttle::new(rules());
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        assert_eq!(
            t.attempt(t0, a, "alice", BUDGET),
            check(Duration::ZERO, Class::Clean)
        );
        t.finished(t0, a, "alice", false);
        let mut now = t0;
        for want in [500, 1000, 2000, 4000, 8000] {
            let wait = Duration::from_millis(want);
            assert_eq!(
                t.attempt(now, a, "bob", BUDGET),
                check(wait, Class::Suspect)
            );
            now += wait;
            t.finished(now, a, "bob", false);
        }
        // 16 s is past the 10 s budget: refused unchecked, nothing counted.
        assert_eq!(t.attempt(now, a, "carol", BUDGET), Verdict::Refuse);
        assert_eq!(
            t.attempt(now + 5 * SEC, a, "carol", BUDGET),
            Verdict::Refuse
        );
        assert!(matches!(
            t.attempt(now + 16 * SEC, a, "carol", BUDGET),
            Verdict::Check { .. }
        ));
        // Another address is not slowed, not even for the same accounts.
        assert_eq!(
            t.attempt(now, ip("192.0.2.2"), "carol", BUDGET),
            check(Duration::ZERO, Class::Clean)
        );
    }

    #[test]
    fn failures_are_forgotten() {
        let mut t = Throttle::new(rules());
        let t0 = Instant::now();
        for _ in 0..10 {
            fail(&mut t, t0, "192.0.2.1", "alice");
        }
        assert_eq!(
            t.attempt(t0, ip("192.0.2.1"), "alice", BUDGET),
            Verdict::Refuse
        );
        let later = t0 + rules().forget_after;
        assert_eq!(
            t.attempt(later, ip("192.0.2.1"), "alice", BUDGET),
            check(Duration::ZERO, Class::Clean)
        );
    }

    #[test]
    fn parallel_attempts_of_a_failing_address_are_spaced_apart() {
        let mut t = Throttle::new(rules());
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        fail(&mut t, t0, "192.0.2.1", "alice");
        fail(&mut t, t0, "192.0.2.1", "alice");
        // Two failures: 1 s each, one after the other.
        let waits: Vec<Verdict> = (0..4).map(|_| t.attempt(t0, a, "alice", BUDGET)).collect();
        let w = |s| check(Duration::from_secs(s), Class::Suspect);
        assert_eq!(waits, [w(1), w(2), w(3), w(4)]);
        // A fresh address's parallel attempts run at once; only the first
        // one is clean.
        let b = ip("192.0.2.2");
        assert_eq!(
            t.attempt(t0, b, "x", BUDGET),
            check(Duration::ZERO, Class::Clean)
        );
        assert_eq!(
            t.attempt(t0, b, "x", BUDGET),
            check(Duration::ZERO, Class::Suspect)
        );
        t.finished(t0, b, "x", true);
        t.finished(t0, b, "x", true);
        assert_eq!(
            t.attempt(t0, b, "x", BUDGET),
            check(Duration::ZERO, Class::Clean)
        );
    }

    #[test]
    fn an_account_under_attack_slows_only_failing_addresses_and_briefly() {
        let mut t = Throttle::new(rules());
        let t0 = Instant::now();
        // 1,000 addresses fail once each on alice.
        for i in 0..1000u32 {
            let from = std::net::Ipv4Addr::from(0xc633_6400 + i).to_string();
            fail(&mut t, t0, &from, "alice@localhost");
        }
        // A clean address is not slowed at all.
        assert_eq!(
            t.attempt(t0, ip("203.0.113.9"), "alice", BUDGET),
            check(Duration::ZERO, Class::Clean)
        );
        // One of the attackers waits for the account, at most 5 s, so an
        // honest user who mistyped once still gets checked in time.
        let attacker = ip("198.51.100.7");
        assert_eq!(
            t.attempt(t0 + SEC, attacker, "alice", BUDGET),
            check(4 * SEC, Class::Suspect)
        );
        // Other accounts do not slow it beyond its own failures.
        assert_eq!(
            t.attempt(t0 + SEC, ip("198.51.100.8"), "bob", BUDGET),
            check(Duration::ZERO, Class::Suspect)
        );
    }

    #[test]
    fn trusted_addresses_never_wait_but_count_and_queue_behind() {
        let mut t = Throttle::new(rules());
        let t0 = Instant::now();
        for _ in 0..20 {
            fail(&mut t, t0, "127.0.0.1", "alice");
        }
        assert_eq!(
            t.attempt(t0, ip("127.0.0.1"), "alice", BUDGET),
            check(Duration::ZERO, Class::Suspect)
        );
        // Its failures count for the account.
        fail(&mut t, t0, "192.0.2.1", "bob");
        assert_eq!(
            t.attempt(t0, ip("192.0.2.1"), "alice", BUDGET),
            check(5 * SEC, Class::Suspect)
        );
    }

    #[test]
    fn ipv6_counts_by_its_64_and_names_by_their_local_part() {
        let mut t = Throttle::new(rules());
        let t0 = Instant::now();
        fail(&mut t, t0, "2001:db8::1", "alice");
        assert!(matches!(
            t.attempt(t0, ip("2001:db8::2"), "x", BUDGET),
            Verdict::Check {
                class: Class::Suspect,
                ..
            }
        ));
        assert_eq!(account_key("alice@localhost"), "alice");
        assert_eq!(account_key(&"é".repeat(40)).len(), 64);
    }

    #[test]
    fn memory_stays_bounded_and_keeps_the_hot_entries() {
        let mut t = Throttle::new(rules());
        let t0 = Instant::now();
        for _ in 0..10 {
            fail(&mut t, t0, "192.0.2.1", "alice");
        }
        for i in 0..(MAX_TRACKED as u32 * 2) {
            let from = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
            fail(&mut t, t0, &from, &format!("user{i}"));
        }
        assert!(t.addresses.0.len() <= MAX_TRACKED);
        assert!(t.accounts.0.len() <= MAX_TRACKED);
        assert_eq!(
            t.attempt(t0, ip("192.0.2.1"), "alice", BUDGET),
            Verdict::Refuse
        );
        assert_eq!(t.accounts.0["alice"].failures, 10);
    }

    #[test]
    fn waits_and_refusals_are_summed_once_per_interval() {
        let mut t = Throttle::new(rules());
        let t0 = Instant::now();
        assert_eq!(t.report(t0), None);
        for _ in 0..12 {
            fail(&mut t, t0, "192.0.2.1", "alice");
        }
        for _ in 0..1000 {
            let _ = t.attempt(t0, ip("192.0.2.1"), "alice", BUDGET);
        }
        let line = t.report(t0).unwrap();
        assert!(line.starts_with("throttled 1000 logins"), "{line}");
        assert!(
            line.ends_with("1000 refused unchecked, 0 delayed"),
            "{line}"
        );
        let _ = t.attempt(t0, ip("192.0.2.1"), "alice", BUDGET);
        assert_eq!(t.report(t0 + SEC), None);
        assert!(t
            .report(t0 + REPORT_EVERY)
            .unwrap()
            .starts_with("throttled 1 "));
    }
}
