//! Regional limits: where a radio may transmit, how loud, for how long in
//! an hour, and for how long at a time.
//!
//! EU 863–870 MHz follows the ETSI EN 300 220-2 sub-bands; US 902–928 MHz
//! has no duty cycle but a 400 ms dwell on channels narrower than 500 kHz.

/// The regional presets (the command line's `--region`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// EU 863–870 MHz; the duty cycle and power follow the ETSI sub-band
    /// of --freq (default 869.525 MHz: 10 %, 27 dBm)
    Eu868,
    /// EU 433.05–434.79 MHz: 10 %, 10 dBm
    Eu433,
    /// US 902–928 MHz: no duty cycle, 400 ms dwell below 500 kHz, 30 dBm
    Us915,
    /// Australia and New Zealand 915–928 MHz: no duty cycle, 30 dBm
    Anz,
}

/// What a region allows at one frequency and bandwidth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Percent of any hour, when limited.
    pub duty_cycle_pct: Option<f64>,
    pub max_power_dbm: u8,
    /// Longest transmission in ms, when limited.
    pub max_dwell_ms: Option<f64>,
}

/// An ETSI sub-band: range in Hz, duty cycle %, power dBm.
const EU868_BANDS: [(u32, u32, f64, u8); 6] = [
    (863_000_000, 865_000_000, 0.1, 14),
    (865_000_000, 868_000_000, 1.0, 14),
    (868_000_000, 868_600_000, 1.0, 14),
    (868_700_000, 869_200_000, 0.1, 14),
    (869_400_000, 869_650_000, 10.0, 27),
    (869_700_000, 870_000_000, 1.0, 14),
];

impl Region {
    /// The frequency used when --freq is not given.
    pub fn default_freq(self) -> u32 {
        match self {
            Region::Eu868 => 869_525_000,
            Region::Eu433 => 433_875_000,
            Region::Us915 => 915_000_000,
            Region::Anz => 916_000_000,
        }
    }

    /// The limits at `freq_hz` and `bw_hz`, or why the region forbids it.
    pub fn limits(self, freq_hz: u32, bw_hz: u32) -> Result<Limits, String> {
        // The whole channel, not just its centre, must be inside the band.
        let (lo, hi) = (
            freq_hz.saturating_sub(bw_hz / 2),
            freq_hz.saturating_add(bw_hz / 2),
        );
        let inside = |a: u32, b: u32| lo >= a && hi <= b;
        let mhz = |f: u32| f64::from(f) / 1e6;
        let outside = |name: &str, a: u32, b: u32| {
            format!(
                "{} MHz with {} kHz is outside {name} ({}–{} MHz)",
                mhz(freq_hz),
                bw_hz / 1000,
                mhz(a),
                mhz(b)
            )
        };
        match self {
            Region::Eu868 => EU868_BANDS
                .iter()
                .find(|&&(a, b, _, _)| inside(a, b))
                .map(|&(_, _, duty, power)| Limits {
                    duty_cycle_pct: Some(duty),
                    max_power_dbm: power,
                    max_dwell_ms: None,
                })
                .ok_or_else(|| {
                    format!(
                        "{} MHz with {} kHz is not inside one EU868 sub-band (863–865, 865–868, 868.0–868.6, 868.7–869.2, 869.4–869.65, 869.7–870 MHz)",
                        mhz(freq_hz),
                        bw_hz / 1000
                    )
                }),
            Region::Eu433 if inside(433_050_000, 434_790_000) => Ok(Limits {
                duty_cycle_pct: Some(10.0),
                max_power_dbm: 10,
                max_dwell_ms: None,
            }),
            Region::Eu433 => Err(outside("EU433", 433_050_000, 434_790_000)),
            Region::Us915 if inside(902_000_000, 928_000_000) => Ok(Limits {
                duty_cycle_pct: None,
                max_power_dbm: 30,
                max_dwell_ms: (bw_hz < 500_000).then_some(400.0),
            }),
            Region::Us915 => Err(outside("US915", 902_000_000, 928_000_000)),
            Region::Anz if inside(915_000_000, 928_000_000) => Ok(Limits {
                duty_cycle_pct: None,
                max_power_dbm: 30,
                max_dwell_ms: None,
            }),
            Region::Anz => Err(outside("ANZ", 915_000_000, 928_000_000)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eu868_sub_bands_set_the_duty_cycle() {
        let l = Region::Eu868.limits(869_525_000, 125_000).unwrap();
        assert_eq!((l.duty_cycle_pct, l.max_power_dbm), (Some(10.0), 27));
        let l = Region::Eu868.limits(868_100_000, 125_000).unwrap();
        assert_eq!(l.duty_cycle_pct, Some(1.0));
        assert!(Region::Eu868.limits(869_300_000, 125_000).is_err());
        // 869.6 MHz ± 125 kHz spills out of g3.
        assert!(Region::Eu868.limits(869_600_000, 250_000).is_err());
    }

    #[test]
    fn us915_dwell_applies_below_500_khz() {
        let l = Region::Us915.limits(915_000_000, 125_000).unwrap();
        assert_eq!((l.duty_cycle_pct, l.max_dwell_ms), (None, Some(400.0)));
        assert_eq!(
            Region::Us915
                .limits(915_000_000, 500_000)
                .unwrap()
                .max_dwell_ms,
            None
        );
        assert!(Region::Us915.limits(868_000_000, 125_000).is_err());
    }

    #[test]
    fn every_default_frequency_is_legal() {
        for r in [Region::Eu868, Region::Eu433, Region::Us915, Region::Anz] {
            assert!(r.limits(r.default_freq(), 125_000).is_ok(), "{r:?}");
        }
    }
}
