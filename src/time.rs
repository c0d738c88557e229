//! Unix seconds as RFC 3339 UTC text, and back, without a calendar crate,
//! and the one place the command line reads the wall clock as Unix seconds.
//!
//! Used by `solec decode`, `solec history`, `send`, `encode`, the bench and
//! the server log. The civil date conversion is Howard Hinnant's
//! `days_from_civil` and its inverse.

/// The last year [`parse`] accepts: RFC 3339 years have four digits, and
/// the bound keeps the day arithmetic far from overflow.
pub const MAX_YEAR: u64 = 9999;

/// The current time in Unix seconds (UTC); 0 if the clock is before 1970.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `1700000000` → `2023-11-14T22:13:20Z`. Years past 9999 print as is.
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` (optionally ending in `Z`) or
/// plain Unix seconds, all UTC. Dates that do not exist (2023-02-31) and
/// years past [`MAX_YEAR`] are `None`, never moved or overflowed.
pub fn parse(text: &str) -> Option<u64> {
    if let Ok(secs) = text.parse::<u64>() {
        return Some(secs);
    }
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = text.split_once(['T', ' ']).unwrap_or((text, "00:00:00"));
    let mut d = date.splitn(3, '-').map(|p| p.parse::<u64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':').map(|p| p.parse::<u64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next().unwrap_or(Some(0))?);
    if !(1970..=MAX_YEAR).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=days_in_month(y, m)).contains(&day)
        || hh > 23
        || mm > 59
        || ss > 60
    {
        return None;
    }
    Some(days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Gregorian: every fourth year, except centuries not divisible by 400.
fn is_leap(y: u64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y % 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339(u64::MAX).len(),
            "584554051223-11-09T07:00:15Z".len()
        );
    }

    #[test]
    fn parses_what_it_prints() {
        for secs in [0, 59, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(parse(&rfc3339(secs)), Some(secs));
        }
        assert_eq!(parse("2023-11-14"), Some(1_699_920_000));
        assert_eq!(parse("1700000000"), Some(1_700_000_000));
        assert_eq!(parse("2023-13-01"), None);
        assert_eq!(parse("yesterday"), None);
    }

    #[test]
    fn days_past_the_end_of_the_month_are_refused() {
        assert_eq!(parse("2023-02-31"), None);
        assert_eq!(parse("2023-04-31T00:00:00Z"), None);
        assert_eq!(parse("2023-02-29"), None);
        assert_eq!(parse("1900-02-29"), None);
        assert_eq!(parse("2024-02-29"), Some(1_709_164_800));
        assert_eq!(parse("2000-02-29"), Some(951_782_400));
        assert_eq!(parse("2023-12-31"), Some(1_703_980_800));
    }

    #[test]
    fn years_past_9999_are_refused_not_overflowed() {
        assert_eq!(parse("99999999999999999-01-01"), None);
        assert_eq!(parse("10000-01-01"), None);
        assert_eq!(parse("9999-12-31T23:59:59Z"), Some(253_402_300_799));
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn now_is_the_system_clock() {
        let system = || {
            let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            since.unwrap().as_secs()
        };
        let before = system();
        let now = now();
        assert!((before..=system()).contains(&now), "{now}");
    }
}
