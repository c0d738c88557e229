//! LoRa time on air, by the Semtech formula (SX1272/73 datasheet §4.1.1.7,
//! AN1200.13), and the PHY parameters it needs.
//!
//! Pure arithmetic: no IO, no clock. The link layer's retransmission timers
//! and its duty-cycle ledger are both derived from [`Phy::airtime_ms`].

use std::fmt;

/// Spreading factors the formula here covers (SX127x; SF5/6 need the
/// SX126x variant, which is not implemented).
pub const SF_RANGE: std::ops::RangeInclusive<u8> = 7..=12;

/// Coding rates 4/5..4/8, given as the denominator (5..8) like RNode does.
pub const CR_RANGE: std::ops::RangeInclusive<u8> = 5..=8;

/// The largest LoRa frame payload, in bytes.
pub const MAX_FRAME: usize = 255;

/// Bandwidths a LoRa radio can be set to, in Hz.
pub const BANDWIDTHS_HZ: [u32; 10] = [
    7_800, 10_400, 15_600, 20_800, 31_250, 41_700, 62_500, 125_000, 250_000, 500_000,
];

/// Symbol time above which low-data-rate optimisation is required (the
/// datasheet's 16 ms), in microseconds.
pub const LDRO_SYMBOL_US: f64 = 16_000.0;

/// Low-data-rate optimisation (`DE` in the formula).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ldro {
    /// On exactly when the symbol time exceeds 16 ms, as radios require.
    #[default]
    Auto,
    On,
    Off,
}

/// The PHY settings that decide the time on air of a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phy {
    /// 7..=12.
    pub sf: u8,
    /// Bandwidth in Hz.
    pub bw_hz: u32,
    /// Coding rate denominator, 5..=8 for 4/5..4/8.
    pub cr: u8,
    /// Programmed preamble symbols.
    pub preamble: u16,
    pub implicit_header: bool,
    pub crc: bool,
    pub ldro: Ldro,
}

/// A PHY setting outside what the formula and the radios accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhyError(pub String);

impl fmt::Display for PhyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PhyError {}

impl Phy {
    /// The usual LoRa setting: 8-symbol preamble, explicit header, CRC on,
    /// automatic low-data-rate optimisation.
    pub fn new(sf: u8, bw_hz: u32, cr: u8) -> Result<Phy, PhyError> {
        let phy = Phy {
            sf,
            bw_hz,
            cr,
            preamble: 8,
            implicit_header: false,
            crc: true,
            ldro: Ldro::Auto,
        };
        phy.check()?;
        Ok(phy)
    }

    /// Rejects settings no LoRa radio takes.
    pub fn check(&self) -> Result<(), PhyError> {
        if !SF_RANGE.contains(&self.sf) {
            return Err(PhyError(format!(
                "spreading factor {} is out of range (7 to 12)",
                self.sf
            )));
        }
        if !CR_RANGE.contains(&self.cr) {
            return Err(PhyError(format!(
                "coding rate {} is out of range (5 to 8, for 4/5 to 4/8)",
                self.cr
            )));
        }
        if !BANDWIDTHS_HZ.contains(&self.bw_hz) {
            return Err(PhyError(format!(
                "bandwidth {} Hz is not a LoRa bandwidth (7.8, 10.4, 15.6, 20.8, 31.25, 41.7, 62.5, 125, 250 or 500 kHz)",
                self.bw_hz
            )));
        }
        Ok(())
    }

    /// `T_sym = 2^SF / BW`, in microseconds.
    pub fn symbol_us(&self) -> f64 {
        f64::from(1u32 << self.sf) * 1e6 / f64::from(self.bw_hz)
    }

    /// Whether `DE` is 1 for this setting.
    pub fn ldro_on(&self) -> bool {
        match self.ldro {
            Ldro::On => true,
            Ldro::Off => false,
            Ldro::Auto => self.symbol_us() > LDRO_SYMBOL_US,
        }
    }

    /// Payload symbols for `bytes` bytes:
    /// `8 + max(ceil((8PL - 4SF + 28 + 16CRC - 20IH) / (4(SF - 2DE))) (CR + 4), 0)`.
    pub fn payload_symbols(&self, bytes: usize) -> u64 {
        let sf = i64::from(self.sf);
        let de = i64::from(self.ldro_on());
        let numerator = 8 * bytes as i64 - 4 * sf + 28 + 16 * i64::from(self.crc)
            - 20 * i64::from(self.implicit_header);
        let denominator = 4 * (sf - 2 * de);
        // Integer ceiling division; only positive numerators matter, since
        // the max with 0 drops the others.
        let blocks = if numerator > 0 {
            (numerator + denominator - 1) / denominator
        } else {
            0
        };
        8 + (blocks * (i64::from(self.cr - 4) + 4)) as u64
    }

    /// Time on air of a frame of `bytes` bytes, in milliseconds:
    /// `(n_pre + 4.25) T_sym + N_payload T_sym`.
    pub fn airtime_ms(&self, bytes: usize) -> f64 {
        let symbols = f64::from(self.preamble) + 4.25 + self.payload_symbols(bytes) as f64;
        symbols * self.symbol_us() / 1000.0
    }

    /// The largest frame whose airtime is at most `ms` (0 if none fits).
    pub fn max_bytes_within(&self, ms: f64, limit: usize) -> usize {
        (0..=limit)
            .rev()
            .find(|&n| self.airtime_ms(n) <= ms)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(phy: &Phy, bytes: usize) -> String {
        format!("{:.3}", phy.airtime_ms(bytes))
    }

    #[test]
    fn the_an1200_13_spreadsheet_example() {
        // 13 B, SF9, 125 kHz, CR 4/5, 8-symbol preamble, explicit header, CRC.
        assert_eq!(ms(&Phy::new(9, 125_000, 5).unwrap(), 13), "164.864");
    }

    #[test]
    fn fifty_bytes_at_every_spreading_factor() {
        // The LoRa reference's §2.2 table, each cross-checked by hand from the formula.
        let want = [
            (7, "97.536"),
            (8, "174.592"),
            (9, "328.704"),
            (10, "616.448"),
            (11, "1314.816"),
            (12, "2301.952"),
        ];
        for (sf, want) in want {
            assert_eq!(ms(&Phy::new(sf, 125_000, 5).unwrap(), 50), want, "SF{sf}");
        }
    }

    #[test]
    fn ldro_is_automatic_above_16_ms_symbols() {
        assert!(!Phy::new(10, 125_000, 5).unwrap().ldro_on());
        assert!(Phy::new(11, 125_000, 5).unwrap().ldro_on());
        assert!(Phy::new(12, 250_000, 5).unwrap().ldro_on());
        assert!(!Phy::new(11, 250_000, 5).unwrap().ldro_on());
        let forced = Phy {
            ldro: Ldro::Off,
            ..Phy::new(12, 125_000, 5).unwrap()
        };
        // Without DE: ceil(396 / 48) = 9 blocks → 8 + 45 = 53 symbols.
        assert_eq!(forced.payload_symbols(50), 53);
    }

    #[test]
    fn the_comparison_table_values() {
        // lora.md §2.4: SF9/125, preamble 8; LongFast SF11/250, preamble 16.
        let sf9 = Phy::new(9, 125_000, 5).unwrap();
        assert_eq!(format!("{:.1}", sf9.airtime_ms(6)), "123.9");
        assert_eq!(format!("{:.1}", sf9.airtime_ms(255)), "1250.3");
        let long_fast = Phy {
            preamble: 16,
            ..Phy::new(11, 250_000, 5).unwrap()
        };
        assert_eq!(format!("{:.1}", long_fast.airtime_ms(36)), "518.1");
        let sf12 = Phy::new(12, 125_000, 5).unwrap();
        // The quantisation step: 11 and 15 bytes cost the same.
        assert_eq!(sf12.airtime_ms(11), sf12.airtime_ms(15));
        assert_eq!(format!("{:.1}", sf12.airtime_ms(15)), "1155.1");
    }

    #[test]
    fn implicit_header_and_no_crc_shorten_the_payload() {
        let phy = Phy::new(9, 125_000, 5).unwrap();
        let bare = Phy {
            implicit_header: true,
            crc: false,
            ..phy
        };
        assert!(bare.airtime_ms(13) < phy.airtime_ms(13));
        // An empty implicit-header frame has only the 8 fixed payload symbols.
        assert_eq!(bare.payload_symbols(0), 8);
    }

    #[test]
    fn us915_dwell_limits_the_frame_size() {
        // lora.md §2.5: max payload within 400 ms at 125 kHz, preamble 8.
        for (sf, want) in [(7, 255), (8, 138), (9, 66), (10, 24)] {
            let phy = Phy::new(sf, 125_000, 5).unwrap();
            assert_eq!(phy.max_bytes_within(400.0, 255), want, "SF{sf}");
        }
        assert_eq!(
            Phy::new(11, 125_000, 5)
                .unwrap()
                .max_bytes_within(400.0, 255),
            0
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(Phy::new(6, 125_000, 5).is_err());
        assert!(Phy::new(13, 125_000, 5).is_err());
        assert!(Phy::new(9, 125_000, 4).is_err());
        assert!(Phy::new(9, 100_000, 5).is_err());
    }
}
