//! `solec radio`: the bridge between local SOLEC connections and a LoRa
//! modem, and its helper subcommands (`airtime`, `emulate`).
//!
//! This file turns the options into checked radio settings (every value
//! the modem or region cannot take is exit status 2, before the port is
//! touched) and hands them to `radio::bridge`.

use super::{exit, Failure};
use crate::radio::link::Config as LinkConfig;
use crate::radio::modem::{self, Kind, Settings};
use crate::radio::region::Region;
use crate::radio::{bridge, serial};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod airtime;
pub mod emulate;

/// The `--help` example of a whole link on the emulator.
const WITHOUT_HARDWARE: &str = "\
Without hardware, `solec radio emulate` stands in for two modems:
  solec radio emulate --modem rnode --port /tmp/lora-a --port /tmp/lora-b &
  solec radio --device /tmp/lora-b --modem rnode --connect 127.0.0.1:7447 &
  solec radio --device /tmp/lora-a --modem rnode --listen 127.0.0.1:7448 &
  solec send bob --server 127.0.0.1:7448 --user alice@localhost hi";

/// How long `--modem auto` waits for an answer to its probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// How long a bare ack waits for a reply to ride on, in ms.
pub const ACK_DELAY_MS: u64 = 150;

/// How long new data waits for more to share its frame, in ms: a local
/// client's next PDU (a Handshake after the connection opens, UserAuth
/// after Handshake) comes within it.
pub const COALESCE_MS: u64 = 50;

/// Carry SOLEC connections over a serial-attached LoRa modem.
///
/// With --listen, local SOLEC connections to ADDR (a `solec send`, or a
/// server's federation link to a peer at ADDR) are carried over the air;
/// with --connect, each connection that arrives over the air is handed to
/// the `solec serve` at ADDR. Both ends see an ordinary SOLEC connection.
/// Any mix of roles shares one radio link; both radios must use the same
/// --sf, --bw, --cr and --freq.
///
/// The log shows each frame on air with its bytes and airtime, and the
/// duty-cycle budget left in the last hour; when the budget is spent,
/// traffic waits (messages wait on the server) rather than being dropped.
///
/// Exit status: 0 stopped by SIGINT or SIGTERM; 1 the port could not be
/// opened or went away, or `auto` found no modem; 2 a value the modem or
/// the region cannot take.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_long_help = WITHOUT_HARDWARE
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub bridge: BridgeArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    Airtime(airtime::Args),
    Emulate(emulate::Args),
}

#[derive(Debug, clap::Args)]
pub struct BridgeArgs {
    /// Serial port of the modem (/dev/ttyUSB0, /dev/serial0, an emulator's PATH)
    #[arg(long, value_name = "PATH", required = true)]
    pub device: Option<PathBuf>,

    /// Host protocol of the modem
    #[arg(long, value_name = "KIND", value_enum, required = true)]
    pub modem: Option<ModemArg>,

    /// Accept local SOLEC connections on ADDR and carry them over the air (repeatable)
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,

    /// Hand connections arriving over the air to the server at ADDR (repeatable: the first that answers)
    #[arg(long, value_name = "ADDR")]
    pub connect: Vec<SocketAddr>,

    /// Regional limits: duty cycle, dwell time, power, band
    #[arg(long, value_name = "REGION", value_enum, default_value = "eu868")]
    pub region: RegionArg,

    /// Centre frequency in Hz [default: the region's, e.g. 869525000 for eu868]
    #[arg(long, value_name = "HZ")]
    pub freq: Option<u32>,

    #[command(flatten)]
    pub phy: airtime::PhyArgs,

    /// Transmit power in dBm [default: 14, or the region's maximum if lower]
    #[arg(long, value_name = "DBM")]
    pub power: Option<u8>,

    /// Serial speed
    #[arg(long, value_name = "N", default_value_t = 115200)]
    pub baud: u32,

    /// Duty cycle in percent of any hour, instead of the region's
    #[arg(long, value_name = "PCT")]
    pub duty_cycle: Option<f64>,

    /// Log level: error, warn, info or debug
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    pub log: String,
}

/// `--modem`: clap's view of [`Kind`], so clap stays out of `radio`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModemArg {
    /// RNode firmware: KISS with RNode's commands, flow control by READY
    Rnode,
    /// A plain KISS TNC
    Kiss,
    /// REYAX RYLR896/998 AT commands, data as Base64 text
    Rylr,
    /// Ebyte E22/E32-style transparent UART modules and the Waveshare HAT
    Transparent,
    /// Probe the port: RNode answers DETECT, an RYLR answers AT
    Auto,
}

impl From<ModemArg> for Kind {
    fn from(m: ModemArg) -> Kind {
        match m {
            ModemArg::Rnode => Kind::Rnode,
            ModemArg::Kiss => Kind::Kiss,
            ModemArg::Rylr => Kind::Rylr,
            ModemArg::Transparent => Kind::Transparent,
            ModemArg::Auto => Kind::Auto,
        }
    }
}

/// `--region`: clap's view of [`Region`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RegionArg {
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

impl From<RegionArg> for Region {
    fn from(r: RegionArg) -> Region {
        match r {
            RegionArg::Eu868 => Region::Eu868,
            RegionArg::Eu433 => Region::Eu433,
            RegionArg::Us915 => Region::Us915,
            RegionArg::Anz => Region::Anz,
        }
    }
}

pub fn run(args: Args) -> Result<(), Failure> {
    match args.command {
        Some(Command::Airtime(args)) => airtime::run(args),
        Some(Command::Emulate(args)) => emulate::run(args),
        None => run_bridge(args.bridge),
    }
}

/// The checked settings of one bridge.
struct Plan {
    kind: Kind,
    settings: Settings,
    link: LinkConfig,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::new(exit::USAGE, message)
}

fn plan(a: &BridgeArgs, kind: Kind) -> Result<Plan, Failure> {
    let phy = a.phy.phy()?;
    let bw_hz = phy.bw_hz;
    let region = Region::from(a.region);
    let freq_hz = a.freq.unwrap_or(region.default_freq());
    let limits = region.limits(freq_hz, bw_hz).map_err(usage)?;
    let power_dbm = a.power.unwrap_or(14.min(limits.max_power_dbm));
    if power_dbm > limits.max_power_dbm {
        return Err(usage(format!(
            "--power {power_dbm} dBm is over the {} dBm {:?} allows at this frequency",
            limits.max_power_dbm, region
        )));
    }
    let duty_cycle_pct = match a.duty_cycle {
        Some(pct) if !(pct > 0.0 && pct <= 100.0) => {
            return Err(usage(format!(
                "--duty-cycle {pct} is not a percentage above 0 and at most 100"
            )))
        }
        Some(pct) => Some(pct).filter(|&p| p < 100.0),
        None => limits.duty_cycle_pct,
    };
    let settings = Settings {
        freq_hz,
        bw_hz,
        sf: phy.sf,
        cr: phy.cr,
        power_dbm,
        preamble: phy.preamble,
        duty_cycle_pct,
    };
    modem::check(kind, &settings).map_err(usage)?;
    let driver = modem::driver(kind, settings);
    let link = LinkConfig {
        phy,
        mtu: driver.mtu(),
        overhead: driver.overhead(),
        base64: driver.base64(),
        duty_cycle: duty_cycle_pct.map(|p| p / 100.0),
        max_dwell_ms: limits.max_dwell_ms,
        ack_delay_ms: ACK_DELAY_MS,
        coalesce_ms: COALESCE_MS,
        epoch: epoch(),
    }
    .checked()
    .map_err(|e| usage(e.0))?;
    Ok(Plan {
        kind,
        settings,
        link,
    })
}

fn run_bridge(a: BridgeArgs) -> Result<(), Failure> {
    let level = super::logger::parse_level(&a.log).map_err(usage)?;
    super::logger::init(level);
    let (Some(device), Some(kind)) = (a.device.clone(), a.modem.map(Kind::from)) else {
        return Err(usage("--device and --modem are required"));
    };
    if a.listen.is_empty() && a.connect.is_empty() {
        return Err(usage("give at least one --listen or --connect"));
    }
    if serial::speed(a.baud).is_none() {
        return Err(usage(format!(
            "--baud {} is not a standard serial speed",
            a.baud
        )));
    }
    // Check every value before touching the port; `auto` is checked again
    // once the probe has named the modem.
    let planned = plan(&a, if kind == Kind::Auto { Kind::Kiss } else { kind })?;
    let listeners = a
        .listen
        .iter()
        .map(|addr| {
            TcpListener::bind(addr).map_err(|e| Failure::new(exit::FAILURE, format!("{addr}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (port, warning) = serial::open(&device, a.baud)
        .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", device.display())))?;
    if let Some(w) = warning {
        log::warn!("{w}");
    }
    let plan = match kind {
        Kind::Auto => {
            let found = probe(&port)?;
            log::info!("modem auto: found {found} on {}", device.display());
            plan(&a, found)?
        }
        _ => planned,
    };
    for l in &listeners {
        if let Ok(addr) = l.local_addr() {
            log::info!("radio listening on {addr}");
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    if plan.kind == Kind::Transparent {
        log::info!(
            "a transparent module hides SF, bandwidth and coding rate behind its air data rate: set it to match; --sf, --bw and --cr only time the frames here"
        );
    }
    let s = &plan.settings;
    log::info!(
        "radio ready on {} ({}): {} MHz, SF{}, {} kHz, CR 4/{}, {} dBm, MTU {} B{}",
        device.display(),
        plan.kind,
        f64::from(s.freq_hz) / 1e6,
        s.sf,
        f64::from(s.bw_hz) / 1000.0,
        s.cr,
        s.power_dbm,
        plan.link.mtu,
        s.duty_cycle_pct
            .map_or(String::new(), |p| format!(", duty cycle {p} %"))
    );
    let opts = bridge::Options {
        link: plan.link,
        listen: listeners,
        connect: a.connect.clone(),
        progress: bridge::progress_wanted(),
    };
    let driver = modem::driver(plan.kind, plan.settings);
    bridge::run(driver, port, opts, &stop)
        .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", device.display())))
}

/// An epoch unlikely to repeat across restarts: the clock's nanoseconds
/// mixed with the process id.
fn epoch() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mixed = (nanos ^ u64::from(std::process::id()) << 16).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 48) as u16
}

/// Writes the probe and reads answers until one names a modem.
fn probe(port: &std::fs::File) -> Result<Kind, Failure> {
    let mut port = port;
    port.write_all(&modem::probe())?;
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let mut got = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if !readable(port.as_raw_fd(), left) {
            break;
        }
        let mut buf = [0u8; 256];
        match port.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        if let Some(kind) = modem::identify(&got) {
            return Ok(kind);
        }
    }
    Err(Failure::new(
        exit::FAILURE,
        "no RNode or RYLR modem answered the probe; for a KISS TNC or a transparent module, say --modem kiss or --modem transparent",
    ))
}

/// Waits until `fd` has bytes to read, at most `timeout`.
fn readable(fd: i32, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
}
