//! Who may open a connection: the total, per address, and new per address
//! per minute; addresses in `trusted_networks` are exempt from the per-address
//! limits. Sans-IO: the accept loop asks with the time and the peer's
//! address, and tells when a connection ends.
//!
//! An IPv6 peer is counted by its /64, the block one subscriber usually
//! gets, so a host cannot dodge the limits by rotating addresses inside it.
//! Refusals are not logged one by one: [`Admission::report`] sums them up
//! at most once per [`REPORT_EVERY`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The window over which new connections per address are counted.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// How often, at most, refusals are summed up in the log.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Addresses tracked before expired ones are swept out.
const SWEEP_AT: usize = 4096;

/// An address block written `ADDR/PREFIX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `127.0.0.1/32`, `10.0.0.0/8`, `::1/128`; a bare address is
    /// the one address.
    pub fn parse(s: &str) -> Result<Network, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an address or ADDR/PREFIX"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix must be 0 to {max}"))?,
        };
        Ok(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let (n, a) = (u32::from(n).into(), u32::from(a).into());
                masked(n, self.prefix, 32) == masked(a, self.prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), self.prefix, 128) == masked(u128::from(a), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of a `width`-bit number, the rest zero.
fn masked(x: u128, prefix: u8, width: u32) -> u128 {
    let keep = u32::from(prefix);
    if keep == 0 {
        return 0;
    }
    let drop = width - keep;
    (x >> drop) << drop
}

/// The key an address is counted under: itself, or its /64 for IPv6.
pub(crate) fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerAddress,
    Rate,
}

/// The limits it enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub max_connections: usize,
    pub max_per_address: usize,
    pub max_new_per_minute: u32,
    pub trusted: Vec<Network>,
}

#[derive(Debug)]
struct PerAddress {
    live: usize,
    window_start: Instant,
    new_in_window: u32,
}

/// The admission state; see the module doc.
#[derive(Debug)]
pub struct Admission {
    rules: Rules,
    live: usize,
    addresses: HashMap<IpAddr, PerAddress>,
    refused: [u64; 3],
    last_report: Option<Instant>,
}

impl Admission {
    pub fn new(rules: Rules) -> Admission {
        Admission {
            rules,
            live: 0,
            addresses: HashMap::new(),
            refused: [0; 3],
            last_report: None,
        }
    }

    /// Puts new limits in force; open connections stay.
    pub fn set_rules(&mut self, rules: Rules) {
        self.rules = rules;
    }

    /// Whether `ip` is in `trusted_networks`.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.rules.trusted.iter().any(|n| n.contains(ip))
    }

    /// Admits a connection from `ip` at `now`, or says why not. An admitted
    /// connection must be [`Admission::leave`]n when it ends.
    pub fn admit(&mut self, now: Instant, ip: IpAddr) -> Result<(), Refusal> {
        let refuse = |s: &mut Admission, r: Refusal| {
            s.refused[r as usize] += 1;
            Err(r)
        };
        if self.live >= self.rules.max_connections {
            return refuse(self, Refusal::Total);
        }
        if self.addresses.len() >= SWEEP_AT {
            self.sweep(now);
        }
        let trusted = self.is_trusted(ip);
        let entry = self.addresses.entry(key(ip)).or_insert(PerAddress {
            live: 0,
            window_start: now,
            new_in_window: 0,
        });
        if now.saturating_duration_since(entry.window_start) >= RATE_WINDOW {
            entry.window_start = now;
            entry.new_in_window = 0;
        }
        if !trusted {
            if entry.live >= self.rules.max_per_address {
                return refuse(self, Refusal::PerAddress);
            }
            if entry.new_in_window >= self.rules.max_new_per_minute {
                return refuse(self, Refusal::Rate);
            }
        }
        entry.live += 1;
        entry.new_in_window = entry.new_in_window.saturating_add(1);
        self.live += 1;
        Ok(())
    }

    /// A connection admitted from `ip` has ended.
    pub fn leave(&mut self, ip: IpAddr) {
        self.live = self.live.saturating_sub(1);
        if let Some(e) = self.addresses.get_mut(&key(ip)) {
            e.live = e.live.saturating_sub(1);
        }
    }

    /// Connections open now.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Drops addresses with nothing open and a finished window.
    fn sweep(&mut self, now: Instant) {
        self.addresses.retain(|_, e| {
            e.live > 0 || now.saturating_duration_since(e.window_start) < RATE_WINDOW
        });
    }

    /// A line summing up the refusals since the last one, at most once per
    /// [`REPORT_EVERY`]; None when there is nothing to say yet.
    pub fn report(&mut self, now: Instant) -> Option<String> {
        if self.refused == [0; 3] {
            return None;
        }
        if self
            .last_report
            .is_some_and(|t| now.saturating_duration_since(t) < REPORT_EVERY)
        {
            return None;
        }
        self.last_report = Some(now);
        let [total, per, rate] = std::mem::take(&mut self.refused);
        Some(format!(
            "refused {} connections: {total} past max_connections, {per} past \
             max_connections_per_ip, {rate} past max_new_connections_per_ip_per_minute",
            total + per + rate
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            max_connections: 10,
            max_per_address: 2,
            max_new_per_minute: 3,
            trusted: vec![Network::parse("127.0.0.1/32").unwrap()],
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let n = Network::parse("10.1.0.0/16").unwrap();
        assert!(n.contains(ip("10.1.200.3")));
        assert!(!n.contains(ip("10.2.0.1")));
        assert!(!n.contains(ip("::1")));
        assert!(Network::parse("::1/128").unwrap().contains(ip("::1")));
        assert!(Network::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Network::parse("2001:db8::/32")
            .unwrap()
            .contains(ip("2001:db8:1::5")));
        assert!(Network::parse("127.0.0.2")
            .unwrap()
            .contains(ip("127.0.0.2")));
        for bad in ["10.0.0.0/33", "::/129", "example", "1.2.3.4/x"] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn per_address_and_rate_limits_spare_the_trusted() {
        let t0 = Instant::now();
        let mut a = Admission::new(rules());
        let remote = ip("127.0.0.2");
        assert_eq!(a.admit(t0, remote), Ok(()));
        assert_eq!(a.admit(t0, remote), Ok(()));
        assert_eq!(a.admit(t0, remote), Err(Refusal::PerAddress));
        a.leave(remote);
        assert_eq!(a.admit(t0, remote), Ok(()));
        a.leave(remote);
        assert_eq!(
            a.admit(t0, remote),
            Err(Refusal::Rate),
            "4th new in a minute"
        );
        a.leave(remote);
        assert_eq!(a.admit(t0 + RATE_WINDOW, remote), Ok(()), "a new window");
        for _ in 0..8 {
            assert_eq!(a.admit(t0, ip("127.0.0.1")), Ok(()));
        }
        assert_eq!(a.live(), 9);
        assert_eq!(a.admit(t0, ip("127.0.0.1")), Ok(()));
        assert_eq!(a.admit(t0, ip("127.0.0.1")), Err(Refusal::Total));
    }

    #[test]
    fn ipv6_counts_by_its_64() {
        let mut a = Admission::new(rules());
        let t0 = Instant::now();
        assert_eq!(a.admit(t0, ip("2001:db8::1")), Ok(()));
        assert_eq!(a.admit(t0, ip("2001:db8::2")), Ok(()));
        assert_eq!(a.admit(t0, ip("2001:db8::3")), Err(Refusal::PerAddress));
        assert_eq!(a.admit(t0, ip("2001:db8:0:1::1")), Ok(()));
    }

    #[test]
    fn refusals_are_summed_once_per_interval() {
        let mut a = Admission::new(Rules {
            max_connections: 0,
            ..rules()
        });
        let t0 = Instant::now();
        assert_eq!(a.report(t0), None);
        for _ in 0..1000 {
            let _ = a.admit(t0, ip("127.0.0.2"));
        }
        let line = a.report(t0).unwrap();
        assert!(
            line.starts_with("refused 1000 connections: 1000 past"),
            "{line}"
        );
        let _ = a.admit(t0, ip("127.0.0.2"));
        assert_eq!(a.report(t0 + Duration::from_secs(1)), None);
        assert!(a
            .report(t0 + REPORT_EVERY)
            .unwrap()
            .starts_with("refused 1 "));
    }

    #[test]
    fn memory_is_swept_of_finished_addresses() {
        let mut a = Admission::new(Rules {
            max_connections: 100_000,
            ..rules()
        });
        let t0 = Instant::now();
        for i in 0..(SWEEP_AT as u32 * 3) {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            a.admit(t0 + RATE_WINDOW * (i / SWEEP_AT as u32), addr)
                .unwrap();
            a.leave(addr);
        }
        assert!(a.addresses.len() <= SWEEP_AT + 1, "{}", a.addresses.len());
    }
}
