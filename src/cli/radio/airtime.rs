//! `solec radio airtime`: the time on air of one LoRa frame.

use crate::cli::{exit, Failure};
use crate::radio::airtime::{Ldro, Phy};

/// Print the time on air of one LoRa frame, in milliseconds.
///
/// Computed by the Semtech formula (SX1272 datasheet §4.1.1.7, AN1200.13)
/// and printed with three decimals: 13 bytes at SF9, 125 kHz, CR 4/5, an
/// 8-symbol preamble, explicit header and CRC on take 164.864 ms.
/// Low-data-rate optimisation is on when a symbol lasts more than 16 ms
/// (SF11 and SF12 at 125 kHz, SF12 at 250 kHz), as radios require, unless
/// --ldro says otherwise.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub phy: PhyArgs,

    /// Payload bytes in the frame
    #[arg(long, value_name = "N")]
    pub bytes: usize,

    /// Programmed preamble length in symbols
    #[arg(long, value_name = "SYMBOLS", default_value_t = 8)]
    pub preamble: u16,

    /// Implicit header mode (no LoRa header on air)
    #[arg(long)]
    pub implicit_header: bool,

    /// Payload CRC off
    #[arg(long)]
    pub no_crc: bool,

    /// Low-data-rate optimisation: auto, on or off
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = parse_ldro)]
    pub ldro: Ldro,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let phy = Phy {
        preamble: args.preamble,
        implicit_header: args.implicit_header,
        crc: !args.no_crc,
        ldro: args.ldro,
        ..args.phy.phy()?
    };
    if args.bytes > crate::radio::airtime::MAX_FRAME {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "a LoRa frame holds at most {} bytes, not {}",
                crate::radio::airtime::MAX_FRAME,
                args.bytes
            ),
        ));
    }
    println!("{:.3}", phy.airtime_ms(args.bytes));
    Ok(())
}

fn parse_ldro(s: &str) -> Result<Ldro, String> {
    match s {
        "auto" => Ok(Ldro::Auto),
        "on" => Ok(Ldro::On),
        "off" => Ok(Ldro::Off),
        other => Err(format!("`{other}` is not auto, on or off")),
    }
}

/// A bandwidth in kHz as people write it (`125`, `62.5`, `7.8`) to Hz.
/// The LoRa modulation flags every radio command shares.
#[derive(Debug, Clone, clap::Args)]
pub struct PhyArgs {
    /// Spreading factor, 7 to 12
    #[arg(long, value_name = "N", default_value_t = 9)]
    pub sf: u8,

    /// Bandwidth in kHz: 7.8, 10.4, 15.6, 20.8, 31.25, 41.7, 62.5, 125, 250 or 500
    #[arg(long, value_name = "KHZ", default_value = "125")]
    pub bw: String,

    /// Coding rate 4/N, N from 5 to 8
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub cr: u8,
}

impl PhyArgs {
    /// The usual PHY for these flags; a value no radio takes is a usage error.
    pub fn phy(&self) -> Result<Phy, Failure> {
        let usage = |e: String| Failure::new(exit::USAGE, e);
        let bw_hz = parse_bw_khz(&self.bw).map_err(usage)?;
        Phy::new(self.sf, bw_hz, self.cr).map_err(|e| usage(e.0))
    }
}

pub fn parse_bw_khz(s: &str) -> Result<u32, String> {
    let khz: f64 = s
        .parse()
        .map_err(|_| format!("bandwidth `{s}` is not a number of kHz"))?;
    let hz = (khz * 1000.0).round();
    crate::radio::airtime::BANDWIDTHS_HZ
        .iter()
        .copied()
        .find(|&b| f64::from(b) == hz)
        .ok_or_else(|| {
            format!(
                "bandwidth {s} kHz is not a LoRa bandwidth (7.8, 10.4, 15.6, 20.8, 31.25, 41.7, 62.5, 125, 250 or 500)"
            )
        })
}
