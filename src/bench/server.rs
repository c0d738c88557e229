//! The server under test: a `solec serve` child on a loopback port with a
//! temporary data directory and a config sized to the run, its users, and
//! what /proc says about it.
//!
//! The child is this same executable, so the bench measures exactly the
//! server it ships with. [`Spawned`] owns the process and the directory and
//! removes both when dropped, on every path out of the bench: the child runs
//! in its own process group (a terminal's Ctrl-C reaches only the bench,
//! which then stops it cleanly) and gets SIGTERM if the bench itself dies.

use crate::server::admin::{Reply, Request};
use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a stopping server may take: its own drain timeout, plus margin.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Admin requests written before their replies are read; small enough that
/// neither side's socket buffer can fill and deadlock the two.
const ADMIN_CHUNK: usize = 64;

/// Server log lines kept for error messages.
const LOG_TAIL: usize = 20;

/// The server's config, in its data directory so it goes with it.
const CONFIG_FILE: &str = "bench.ron";

/// What a spawned server's config raises above the defaults.
#[derive(Debug, Clone, Copy)]
pub struct Sizing {
    /// max_connections, and max_sessions_per_user: the idle connections
    /// all log in as one user.
    pub connections: usize,
    /// max_outbox_messages, for a server that relays the whole load to a
    /// peer; `None` keeps the default.
    pub outbox: Option<usize>,
}

/// The server config for a run: every other key keeps its default.
fn config_text(sizing: Sizing) -> String {
    let n = sizing.connections;
    let outbox = match sizing.outbox {
        Some(m) => format!(", max_outbox_messages: {m}"),
        None => String::new(),
    };
    format!("(max_connections: {n}, max_sessions_per_user: {n}{outbox})\n")
}

/// A running `solec serve`, stopped and cleaned up when dropped.
pub struct Spawned {
    child: Option<Child>,
    dir: PathBuf,
    /// Its server name, the part after `@` in its users' addresses.
    pub name: String,
    /// Where it listens; a restart binds the same port again.
    pub addr: SocketAddr,
    /// The last lines of the server's log.
    tail: Arc<Mutex<VecDeque<String>>>,
    /// Every WARN and ERROR line the server logged.
    pub warnings: Arc<Mutex<Vec<String>>>,
}

impl Spawned {
    /// Creates a data directory under `parent` and starts a server named
    /// `name` on it, sized by `sizing`.
    pub fn start(parent: &Path, name: &str, sizing: Sizing) -> Result<Spawned, String> {
        let dir = temp_dir(parent)?;
        let config = dir.join(CONFIG_FILE);
        std::fs::write(&config, config_text(sizing))
            .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let mut server = Spawned {
            child: None,
            dir,
            name: name.to_owned(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tail: Arc::default(),
            warnings: Arc::default(),
        };
        server.spawn()?;
        Ok(server)
    }

    /// Starts `solec serve` on the directory, on `addr`'s port (0 the first
    /// time: any free one), and waits until it listens.
    fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(exe()?);
        cmd.args(["serve", "--listen"])
            .arg(self.addr.to_string())
            .arg("--name")
            .arg(&self.name)
            .arg("--config")
            .arg(self.dir.join(CONFIG_FILE))
            // Info is the level that names the bound port; the server logs
            // nothing per connection or message at info.
            .args(["--log", "info", "--data"])
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start solec serve: {e}"))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        self.child = Some(child);
        let listening = self.read_log(stderr);
        match listening.recv_timeout(START_TIMEOUT) {
            Ok(addr) => {
                self.addr = addr;
                Ok(())
            }
            Err(_) => Err(format!("solec serve did not start:\n{}", self.log_tail())),
        }
    }

    /// Drains the server's stderr on a thread (a full pipe would block the
    /// server), yielding the address of its `listening on ADDR (tcp)` line.
    fn read_log(&self, stderr: std::process::ChildStderr) -> std::sync::mpsc::Receiver<SocketAddr> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (tail, warnings) = (self.tail.clone(), self.warnings.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_addr(&line) {
                    let _ = tx.send(addr);
                }
                if line.contains(" WARN ") || line.contains(" ERROR ") {
                    warnings.lock().expect("log lock").push(line.clone());
                }
                let mut tail = tail.lock().expect("log lock");
                if tail.len() == LOG_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        rx
    }

    /// Its data directory, under the parent it was started in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_tail(&self) -> String {
        let tail = self.tail.lock().expect("log lock");
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Runs `solec federate ARGS` on this server's data directory (through
    /// its admin socket while it runs) and returns what it printed.
    pub fn federate(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(exe()?)
            .arg("federate")
            .args(args)
            .arg("--data")
            .arg(&self.dir)
            .arg("--config")
            .arg(self.dir.join(CONFIG_FILE))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run solec federate: {e}"))?;
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            false => Err(format!(
                "solec federate {} on {}: {}",
                args.join(" "),
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }

    /// Its public key, as `solec federate key` prints it after the name.
    pub fn public_key(&self) -> Result<String, String> {
        let line = self.federate(&["key"])?;
        line.split_whitespace()
            .nth(1)
            .map(str::to_owned)
            .ok_or_else(|| format!("solec federate key printed {line:?}"))
    }

    /// Stops the server with SIGTERM, as an operator's restart would, and
    /// waits for it to exit; its directory stays, and [`Spawned::resume`]
    /// starts it again on the same port.
    pub fn halt(&mut self) -> Result<(), String> {
        match self.child.take() {
            Some(child) => terminate(child),
            None => Ok(()),
        }
    }

    /// Starts a halted server again; see [`Spawned::halt`].
    pub fn resume(&mut self) -> Result<(), String> {
        match self.child {
            Some(_) => Err(format!("{} is still running", self.name)),
            None => self.spawn(),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Creates `names`, all with the one PHC `hash`, through the admin
    /// socket (the bench hashes once instead of once per user).
    pub fn add_users(&self, names: &[String], hash: &str) -> Result<(), String> {
        let path = self.dir.join("admin.sock");
        let stream = connect_admin(&path)?;
        let mut replies = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let mut writer = stream;
        for chunk in names.chunks(ADMIN_CHUNK) {
            let mut lines = String::new();
            for name in chunk {
                let request = Request::Add {
                    name: name.clone(),
                    hash: hash.to_owned(),
                };
                lines += &serde_json::to_string(&request).expect("request serialises");
                lines.push('\n');
            }
            writer
                .write_all(lines.as_bytes())
                .map_err(|e| format!("admin socket: {e}"))?;
            for name in chunk {
                read_admin_reply(&mut replies, name)?;
            }
        }
        Ok(())
    }

    /// User plus system CPU time of the server so far, in microseconds.
    pub fn cpu_us(&self) -> Result<u64, String> {
        let path = format!("/proc/{}/stat", self.pid());
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let ticks = cpu_ticks(&text).ok_or_else(|| format!("{path}: unexpected format"))?;
        // SAFETY: sysconf only reads a system constant.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Ok(ticks * 1_000_000 / per_second)
    }

    /// The server's resident set size in KiB.
    pub fn rss_kib(&self) -> Result<u64, String> {
        let path = format!("/proc/{}/status", self.pid());
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        vm_rss_kib(&text).ok_or_else(|| format!("{path}: no VmRSS line"))
    }

    /// SIGTERM, then wait for a clean exit (SIGKILL after [`STOP_TIMEOUT`]).
    pub fn stop(mut self) -> Result<(), String> {
        self.halt()
    }
}

/// This executable: the bench runs the server it ships with.
fn exe() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find solec: {e}"))
}

/// SIGTERM, then wait for a clean exit (SIGKILL after [`STOP_TIMEOUT`]).
fn terminate(mut child: Child) -> Result<(), String> {
    // SAFETY: kill sends a signal to our own child, which we have not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("solec serve stopped with {status}")),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("solec serve ignored SIGTERM; killed it".into());
            }
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh owner-only directory under `parent`.
fn temp_dir(parent: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt as _;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    // Servers of one run start within nanoseconds of each other.
    static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pid = std::process::id();
    let dir = parent.join(format!("solec-bench-{pid}-{nanos:09}-{n}"));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// The server binds the admin socket just after logging its listeners.
fn connect_admin(path: &Path) -> Result<UnixStream, String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match UnixStream::connect(path) {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() > deadline => {
                return Err(format!("cannot reach {}: {e}", path.display()))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn read_admin_reply(replies: &mut impl std::io::BufRead, name: &str) -> Result<(), String> {
    let mut line = String::new();
    replies
        .read_line(&mut line)
        .map_err(|e| format!("admin socket: {e}"))?;
    match serde_json::from_str::<Reply>(&line) {
        Ok(Reply { ok: true, .. }) => Ok(()),
        Ok(Reply { error, .. }) => Err(format!(
            "cannot create user {name}: {}",
            error.unwrap_or_default()
        )),
        Err(_) => Err(format!("admin socket: unexpected reply {:?}", line.trim())),
    }
}

/// The address in a `... listening on ADDR (tcp)` log line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.split(" listening on ").nth(1)?;
    rest.strip_suffix(" (tcp)")?.parse().ok()
}

/// utime + stime from /proc/PID/stat, in clock ticks. The command name
/// (field 2) may hold spaces, so fields are counted after its `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (solec (x) y) S 1 2 3 4 5 6 7 8 9 10 120 35 0 0 20 0";
        assert_eq!(cpu_ticks(stat), Some(155));
        let status = "Name:\tsolec\nVmPeak:\t  9 kB\nVmRSS:\t    7324 kB\nVmData:\t1 kB\n";
        assert_eq!(vm_rss_kib(status), Some(7324));
    }

    #[test]
    fn the_config_sets_max_connections_and_the_outbox() {
        let read = |sizing| {
            let file = crate::server::config::parse(&config_text(sizing)).unwrap();
            crate::server::config::Config::from_file(file).limits
        };
        let default = crate::server::config::Limits::default();
        let limits = read(Sizing {
            connections: 1_020_016,
            outbox: None,
        });
        assert_eq!(limits.max_connections, 1_020_016);
        assert_eq!(limits.max_sessions_per_user, 1_020_016);
        assert_eq!(limits.max_outbox_messages, default.max_outbox_messages);
        let limits = read(Sizing {
            connections: 10,
            outbox: Some(20_000_000),
        });
        assert_eq!(limits.max_outbox_messages, 20_000_000);
    }

    #[test]
    fn parses_the_listening_line() {
        let line = "2026-01-01T00:00:00Z INFO listening on 127.0.0.1:41234 (tcp)";
        assert_eq!(
            listening_addr(line),
            Some("127.0.0.1:41234".parse().unwrap())
        );
        assert_eq!(
            listening_addr("x INFO listening on 127.0.0.1:1 (tls)"),
            None
        );
    }
}
