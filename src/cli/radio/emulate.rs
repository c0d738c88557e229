//! `solec radio emulate`: pseudo-terminals that behave as LoRa modems on
//! one simulated channel, for tests and for trying `solec radio` without
//! hardware.
//!
//! One reader thread per pty master feeds a channel; the main thread owns
//! the sans-IO [`Emulator`] and does every write, so the simulation has a
//! single clock and no locks.

use crate::cli::{exit, Failure};
use crate::radio::airtime::Phy;
use crate::radio::emulator::{Emulator, Heard, Loss};
use crate::radio::modem::Kind;
use crate::radio::serial;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The longest the main loop sleeps, so a stop signal is seen promptly.
const TICK: Duration = Duration::from_millis(100);

/// Emulate LoRa modems on pseudo-terminals, joined by one radio channel.
///
/// Creates one pseudo-terminal per --port and makes PATH a symlink to its
/// serial side; a host (`solec radio --device PATH`) talks to it as to a
/// modem of --modem's kind: RNode (DETECT, settings echoed, READY after
/// each frame, RSSI and SNR before each frame heard), plain KISS, RYLR (AT
/// commands, +OK, +RCV) or a transparent module (sends after 10 ms of UART
/// silence, in sub-packets of 240 bytes). Every frame takes its airtime at
/// --sf/--bw/--cr; the channel is half-duplex, modems sense the carrier and
/// back off, and frames that overlap collide and are lost.
///
/// The emulator is ready once every PATH exists; it removes them when it
/// exits on SIGINT or SIGTERM.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Modem kind to behave as
    #[arg(long, value_name = "KIND", value_enum)]
    pub modem: super::ModemArg,

    /// Where to put a port's symlink (repeatable, at least two)
    #[arg(long = "port", value_name = "PATH", required = true)]
    pub ports: Vec<PathBuf>,

    #[command(flatten)]
    pub phy: super::airtime::PhyArgs,

    /// Probability that a frame is lost, 0 to 1
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub loss: f64,

    /// Lose frames in bursts (Gilbert–Elliott) averaging --burst-len
    /// frames, at the long-run rate of --loss
    #[arg(long)]
    pub burst_loss: bool,

    /// Mean burst length in frames, with --burst-loss
    #[arg(long, value_name = "FRAMES", default_value_t = 4.0)]
    pub burst_len: f64,

    /// Seed for losses and backoff, for repeatable runs
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// Write one JSON line per frame on air to FILE, flushed per frame:
    /// {"t_ms":…,"from":PATH,"bytes":N,"airtime_ms":…,"lost":bool}
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<(), Failure> {
    crate::cli::logger::init(log::LevelFilter::Info);
    let usage = |m: String| Failure::new(exit::USAGE, m);
    if args.ports.len() < 2 {
        return Err(usage("give at least two --port paths".into()));
    }
    if !(0.0..1.0).contains(&args.loss) {
        return Err(usage(format!("--loss {} is not in [0, 1)", args.loss)));
    }
    let kind = Kind::from(args.modem);
    if kind == Kind::Auto {
        return Err(usage("the emulator needs a modem kind, not auto".into()));
    }
    let phy = args.phy.phy()?;
    let loss = match args.burst_loss {
        true => Loss::Burst {
            rate: args.loss,
            mean_burst: args.burst_len,
        },
        false => Loss::Random(args.loss),
    };
    let mut log = match &args.log {
        Some(path) => Some(
            std::fs::File::create(path)
                .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", path.display())))?,
        ),
        None => None,
    };
    let ptys = open_ports(&args.ports)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let result = pump(&args, phy, loss, &ptys, &stop, &mut log);
    for path in &args.ports {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Creates the ptys, then the symlinks: the last symlink is the signal
/// that everything is ready.
fn open_ports(paths: &[PathBuf]) -> Result<Vec<serial::Pty>, Failure> {
    let ptys = paths
        .iter()
        .map(|_| serial::openpty())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot open a pty: {e}")))?;
    for (path, pty) in paths.iter().zip(&ptys) {
        if path.is_symlink() {
            let _ = std::fs::remove_file(path);
        }
        std::os::unix::fs::symlink(&pty.slave_path, path)
            .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", path.display())))?;
    }
    log::info!(
        "emulating {} ports: {}",
        paths.len(),
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ptys)
}

fn pump(
    args: &Args,
    phy: Phy,
    loss: Loss,
    ptys: &[serial::Pty],
    stop: &AtomicBool,
    log: &mut Option<std::fs::File>,
) -> Result<(), Failure> {
    let (tx, rx) = mpsc::channel::<(usize, Vec<u8>)>();
    let mut writers = Vec::new();
    for (i, pty) in ptys.iter().enumerate() {
        let mut reader = pty.master.try_clone()?;
        writers.push(pty.master.try_clone()?);
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                if tx.send((i, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        });
    }
    let mut emu = Emulator::new(Kind::from(args.modem), phy, ptys.len(), loss, args.seed);
    let start = Instant::now();
    let ms = || start.elapsed().as_millis() as u64;
    while !stop.load(Ordering::Relaxed) {
        let now = ms();
        let out = emu.poll(now);
        for (port, bytes) in out.writes {
            let _ = writers[port].write_all(&bytes);
        }
        for heard in out.heard {
            write_log(log, &args.ports, &heard)?;
        }
        let wait = emu
            .next_wakeup()
            .map_or(TICK, |t| Duration::from_millis(t.saturating_sub(ms())))
            .min(TICK);
        match rx.recv_timeout(wait) {
            Ok((port, bytes)) => {
                for (p, reply) in emu.from_host(port, &bytes, ms()) {
                    let _ = writers[p].write_all(&reply);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(())
}

fn write_log(
    log: &mut Option<std::fs::File>,
    ports: &[PathBuf],
    heard: &Heard,
) -> Result<(), Failure> {
    log::debug!(
        "{} sent {} B, {:.3} ms{}",
        ports[heard.from].display(),
        heard.bytes,
        heard.airtime_ms,
        if heard.lost { ", lost" } else { "" }
    );
    let Some(file) = log else {
        return Ok(());
    };
    // Written by hand to keep the documented key order.
    let from = serde_json::Value::from(ports[heard.from].display().to_string());
    let line = format!(
        r#"{{"t_ms":{},"from":{from},"bytes":{},"airtime_ms":{:.3},"lost":{}}}"#,
        heard.start_ms, heard.bytes, heard.airtime_ms, heard.lost
    );
    writeln!(file, "{line}")?;
    file.flush()?;
    Ok(())
}
