//! The `solec radio` driver: pumps the sans-IO [`Link`] between a modem on
//! a serial port and local SOLEC connections over TCP.
//!
//! Threads, not async: one blocking reader each for the serial port, each
//! listener and each TCP connection, all feeding one channel; the main
//! thread owns the link, the modem driver and every write, so there is no
//! shared state but the backlog gauge the readers check before reading
//! more (a spent airtime budget then holds messages on the server, not in
//! this process's memory).

use super::link::{Config as LinkConfig, Event, Link, Transmit};
use super::modem::{Modem, Report};
use super::record::ConnId;
use crate::proto::{type_name, Deframer};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, IsTerminal as _, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Stream bytes waiting for the air above which local reads pause.
pub const MAX_BACKLOG: usize = 64 * 1024;

/// The longest the main loop sleeps, so a stop signal is seen promptly.
const TICK: Duration = Duration::from_millis(100);

/// How long after a frame a flow-controlled modem may stay silent before
/// the bridge stops waiting for its READY, beyond the frame's airtime.
pub const READY_GRACE_MS: u64 = 3000;

/// A transparent module's line quiet this long has no frame half-sent.
pub const QUIET_MS: u64 = 1000;

/// How long connecting to the local server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the bridge runs with.
pub struct Options {
    pub link: LinkConfig,
    pub listen: Vec<TcpListener>,
    pub connect: Vec<SocketAddr>,
    /// Show a progress bar for transfers of several frames.
    pub progress: bool,
}

enum Input {
    Serial(Vec<u8>),
    SerialGone(String),
    Accepted(TcpStream),
    Pdu(u64, Vec<u8>),
    Eof(u64),
}

struct Local {
    token: u64,
    writer: TcpStream,
}

/// Runs until `stop` is set or the serial port goes away.
pub fn run(
    mut modem: Box<dyn Modem>,
    serial: File,
    opts: Options,
    stop: &AtomicBool,
) -> io::Result<()> {
    let (tx, rx) = mpsc::channel();
    spawn_serial_reader(serial.try_clone()?, tx.clone());
    for listener in opts.listen {
        spawn_acceptor(listener, tx.clone());
    }
    let mut b = Bridge {
        link: Link::new(opts.link),
        serial,
        tx,
        backlog: Arc::new(AtomicUsize::new(0)),
        conns: HashMap::new(),
        tokens: HashMap::new(),
        next_token: 0,
        connect: opts.connect,
        ready: true,
        ready_by: None,
        next_tx: 0,
        last_serial: 0,
        quiet_done: true,
        held: false,
        signal: (None, None),
        progress: opts.progress.then(Progress::default),
        start: Instant::now(),
    };
    let bring_up = modem.bring_up();
    if !bring_up.is_empty() {
        b.serial.write_all(&bring_up)?;
    }
    while !stop.load(Ordering::Relaxed) {
        b.transmit(&mut *modem)?;
        let wait = b.wait();
        match rx.recv_timeout(wait) {
            Ok(Input::SerialGone(why)) => {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, why));
            }
            Ok(input) => b.handle(input, &mut *modem),
            Err(mpsc::RecvTimeoutError::Timeout) => b.tick(&mut *modem),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        b.events();
        b.update_progress();
    }
    Ok(())
}

struct Bridge {
    link: Link,
    serial: File,
    tx: mpsc::Sender<Input>,
    backlog: Arc<AtomicUsize>,
    conns: HashMap<ConnId, Local>,
    tokens: HashMap<u64, ConnId>,
    next_token: u64,
    connect: Vec<SocketAddr>,
    /// A flow-controlled modem has said READY since the last frame.
    ready: bool,
    /// When to stop waiting for READY.
    ready_by: Option<u64>,
    /// Not before this time is the next frame handed over (pacing modems
    /// without flow control by airtime, so the ledger's times are true).
    next_tx: u64,
    last_serial: u64,
    quiet_done: bool,
    /// The budget is holding a frame back (logged once per episode).
    held: bool,
    /// The RSSI and SNR reported for the frame about to arrive.
    signal: (Option<i16>, Option<f32>),
    progress: Option<Progress>,
    start: Instant,
}

#[derive(Default)]
struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
}

impl Bridge {
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn can_transmit(&self, now: u64) -> bool {
        self.ready && now >= self.next_tx
    }

    fn transmit(&mut self, modem: &mut dyn Modem) -> io::Result<()> {
        loop {
            let now = self.now();
            if !self.can_transmit(now) {
                return Ok(());
            }
            let Some(tx) = self.link.poll_transmit(now) else {
                self.note_held(now);
                return Ok(());
            };
            self.held = false;
            self.serial.write_all(&modem.encode(&tx.bytes))?;
            self.log_transmit(&tx, now);
            let air = tx.airtime_ms.ceil() as u64;
            if modem.flow_controlled() {
                self.ready = false;
                self.ready_by = Some(now + air + READY_GRACE_MS);
            } else {
                self.next_tx = now + air;
            }
        }
    }

    /// Logs once when the duty-cycle budget starts holding traffic back.
    fn note_held(&mut self, now: u64) {
        match self.link.held_until(now) {
            Some(t) if !self.held => {
                self.held = true;
                log::info!(
                    "duty-cycle budget spent: traffic waits {:.1} s for airtime",
                    (t - now) as f64 / 1000.0
                );
            }
            Some(_) => {}
            None => self.held = false,
        }
    }

    fn log_transmit(&self, tx: &Transmit, now: u64) {
        let what = match (tx.bare_ack, tx.resend) {
            (true, _) => "ack",
            (false, true) => "resent data",
            (false, false) => "data",
        };
        let budget = match (
            self.link.ledger().left_ms(now),
            self.link.ledger().budget_ms(),
        ) {
            (Some(left), Some(total)) => format!(
                "; duty-cycle budget left {:.3} s of {:.3} s an hour",
                left / 1000.0,
                total / 1000.0
            ),
            _ => String::new(),
        };
        log::info!(
            "on air: {} B ({what}), {:.3} ms{budget}",
            tx.bytes.len(),
            tx.airtime_ms
        );
    }

    /// How long the main loop may sleep.
    fn wait(&self) -> Duration {
        let now = self.now();
        let mut at = self.link.poll_timeout(now);
        let mut consider = |t: u64| at = Some(at.map_or(t, |a| a.min(t)));
        if self.next_tx > now {
            consider(self.next_tx);
        }
        if let Some(t) = self.ready_by {
            consider(t);
        }
        if !self.quiet_done {
            consider(self.last_serial + QUIET_MS);
        }
        at.map_or(TICK, |t| Duration::from_millis(t.saturating_sub(now)))
            .min(TICK)
    }

    fn tick(&mut self, modem: &mut dyn Modem) {
        let now = self.now();
        if self.ready_by.is_some_and(|t| now >= t) {
            log::warn!("the modem sent no READY after its frame; going on without");
            self.ready = true;
            self.ready_by = None;
        }
        if !self.quiet_done && now >= self.last_serial + QUIET_MS {
            modem.quiet();
            self.quiet_done = true;
        }
    }

    fn handle(&mut self, input: Input, modem: &mut dyn Modem) {
        match input {
            Input::Serial(bytes) => {
                self.last_serial = self.now();
                self.quiet_done = false;
                for report in modem.feed(&bytes) {
                    self.report(report);
                }
            }
            Input::Accepted(stream) => self.accepted(stream),
            Input::Pdu(token, pdu) => {
                if let Some(&id) = self.tokens.get(&token) {
                    if let Some(record) = self.link.send(id, &pdu) {
                        log::info!("{id}: {} goes as {record} B on the link", describe(&pdu));
                    }
                    self.start_progress();
                }
            }
            Input::Eof(token) => {
                if let Some(id) = self.tokens.remove(&token) {
                    // The writer stays: a half-closed client still reads
                    // its replies until the far side closes too.
                    log::info!("connection {id} closed locally");
                    self.link.close(id);
                }
            }
            Input::SerialGone(_) => {}
        }
        self.backlog.store(self.link.backlog(), Ordering::Relaxed);
        self.tick(modem);
    }

    fn report(&mut self, report: Report) {
        match report {
            Report::Frame(frame) => {
                let signal = match std::mem::take(&mut self.signal) {
                    (Some(rssi), Some(snr)) => format!(", RSSI {rssi} dBm, SNR {snr} dB"),
                    (Some(rssi), None) => format!(", RSSI {rssi} dBm"),
                    _ => String::new(),
                };
                log::info!("heard: {} B{signal}", frame.len());
                if let Err(e) = self.link.receive(&frame, self.now()) {
                    log::warn!("frame dropped: {e:?}");
                }
            }
            Report::Ready => {
                self.ready = true;
                self.ready_by = None;
            }
            Report::Rssi(v) => self.signal.0 = Some(v),
            Report::Snr(v) => self.signal.1 = Some(v),
            Report::Error(e) => log::warn!("modem: {e}"),
            Report::Noise(e) => log::debug!("modem: {e}"),
        }
    }

    fn accepted(&mut self, stream: TcpStream) {
        let Some(id) = self.link.open() else {
            log::warn!("too many connections on the link; refusing one");
            return;
        };
        log::info!(
            "connection {id} from {} carried over the air",
            stream.peer_addr().map_or("?".into(), |a| a.to_string())
        );
        self.attach(id, stream);
    }

    fn attach(&mut self, id: ConnId, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let Ok(reader) = stream.try_clone() else {
            self.link.close(id);
            return;
        };
        let token = self.next_token;
        self.next_token += 1;
        self.tokens.insert(token, id);
        self.conns.insert(
            id,
            Local {
                token,
                writer: stream,
            },
        );
        spawn_tcp_reader(reader, token, self.tx.clone(), self.backlog.clone());
    }

    fn events(&mut self) {
        while let Some(event) = self.link.poll_event() {
            match event {
                Event::Opened(id) => self.opened(id),
                Event::Pdu(id, pdu) => {
                    log::info!("{id}: {} arrived", describe(&pdu));
                    let ok = self
                        .conns
                        .get_mut(&id)
                        .is_some_and(|c| c.writer.write_all(&pdu).is_ok());
                    if !ok {
                        self.drop_local(id);
                    }
                }
                Event::Closed(id) => {
                    // Everything the far side sent before closing has been
                    // written; the local socket closes both ways, as the
                    // far one did.
                    log::info!("connection {id} closed over the air");
                    self.drop_local(id);
                }
            }
        }
    }

    fn opened(&mut self, id: ConnId) {
        let stream = self
            .connect
            .iter()
            .find_map(|addr| TcpStream::connect_timeout(addr, CONNECT_TIMEOUT).ok());
        match stream {
            Some(stream) => {
                log::info!("connection {id} arrived over the air; connected locally");
                self.attach(id, stream);
            }
            None => {
                log::warn!("connection {id} arrived over the air but no --connect server took it");
                self.link.close(id);
            }
        }
    }

    fn drop_local(&mut self, id: ConnId) {
        if let Some(c) = self.conns.remove(&id) {
            let _ = c.writer.shutdown(Shutdown::Both);
            self.tokens.remove(&c.token);
        }
        self.link.close(id);
    }

    fn start_progress(&mut self) {
        let mtu = self.link.config().mtu;
        let backlog = self.link.backlog();
        let Some(p) = &mut self.progress else {
            return;
        };
        if p.bar.is_none() && backlog > mtu {
            let bar = ProgressBar::new(backlog as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} over the air")
            {
                bar.set_style(style);
            }
            p.bar = Some(bar);
            p.total = backlog;
        } else if p.bar.is_some() && backlog > p.total {
            p.total = backlog;
        }
    }

    fn update_progress(&mut self) {
        let backlog = self.link.backlog();
        let Some(p) = &mut self.progress else {
            return;
        };
        if let Some(bar) = &p.bar {
            bar.set_length(p.total as u64);
            bar.set_position(p.total.saturating_sub(backlog) as u64);
            if backlog == 0 {
                bar.finish_and_clear();
                p.bar = None;
            }
        }
    }
}

/// "Message of 47 B", for the log.
fn describe(pdu: &[u8]) -> String {
    let name = pdu.first().map_or("empty PDU", |&code| type_name(code));
    format!("{name} of {} B", pdu.len())
}

/// Whether progress bars make sense: stderr is a terminal.
pub fn progress_wanted() -> bool {
    io::stderr().is_terminal()
}

fn spawn_serial_reader(mut serial: File, tx: mpsc::Sender<Input>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        loop {
            match serial.read(&mut buf) {
                Ok(0) => {
                    let _ = tx.send(Input::SerialGone("the serial port closed".into()));
                    return;
                }
                Ok(n) => {
                    if tx.send(Input::Serial(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Input::SerialGone(format!("serial port: {e}")));
                    return;
                }
            }
        }
    });
}

fn spawn_acceptor(listener: TcpListener, tx: mpsc::Sender<Input>) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            match stream {
                Ok(s) => {
                    if tx.send(Input::Accepted(s)).is_err() {
                        return;
                    }
                }
                Err(e) => log::warn!("accept: {e}"),
            }
        }
    });
}

fn spawn_tcp_reader(
    mut stream: TcpStream,
    token: u64,
    tx: mpsc::Sender<Input>,
    backlog: Arc<AtomicUsize>,
) {
    std::thread::spawn(move || {
        let deframer = Deframer::default();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            while backlog.load(Ordering::Relaxed) > MAX_BACKLOG {
                std::thread::sleep(Duration::from_millis(50));
            }
            let n = match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            while let Ok(Some(len)) = deframer.frame_len(&buf) {
                if buf.len() < len {
                    break;
                }
                let pdu: Vec<u8> = buf.drain(..len).collect();
                if tx.send(Input::Pdu(token, pdu)).is_err() {
                    return;
                }
            }
        }
        let _ = tx.send(Input::Eof(token));
    });
}
