//! The test harness: temp dirs, the `solec` binary, spawned servers that die
//! with the test, and raw-byte clients that assert on exact bytes.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Asserts two byte strings are equal, showing both as spaced hex.
#[macro_export]
macro_rules! assert_bytes {
    ($got:expr, $want:expr $(,)?) => {{
        let (got, want): (&[u8], &[u8]) = (&$got[..], &$want[..]);
        if got != want {
            panic!(
                "bytes differ\n  got:  {}\n  want: {}",
                $crate::util::spaced_hex(got),
                $crate::util::spaced_hex(want)
            );
        }
    }};
}

pub fn spaced_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Hex with any spaces removed, as bytes.
pub fn unhex(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(clean).expect("test hex")
}

/// A command for the `solec` binary under test.
pub fn solec() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_solec"));
    cmd.env_remove("SOLEC_SERVER")
        .env_remove("SOLEC_USER")
        .env_remove("SOLEC_PASSWORD")
        // Each command logs in with its password, as the tests say, and
        // nothing is kept in the home directory: tests of session tokens
        // (tests/tokens.rs) turn them back on with their own state dir.
        .env("SOLEC_NO_TOKEN", "1")
        .env("NO_COLOR", "1");
    cmd
}

/// Runs `solec ARGS` with `stdin`, returning its output.
pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    run_cmd(solec().args(args), stdin)
}

/// Runs a prepared command with `stdin`, failing the test if it hangs.
pub fn run_cmd(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn solec");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let output = wait_output(child);
    writer.join().unwrap();
    output
}

fn wait_output(mut child: Child) -> Output {
    // Drain both pipes while waiting: a child whose output outgrows the pipe
    // buffer (64 KiB) would otherwise block and never exit.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + TIMEOUT * 3;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "solec did not exit in time; stderr:\n{}",
                String::from_utf8_lossy(&stderr.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// A temporary directory removed when dropped.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new() -> Self {
        TempDir(tempfile::tempdir().expect("temp dir"))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

/// A `solec serve` on a free loopback port with its own data directory,
/// stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Server {
    child: Option<Child>,
    pub dir: TempDir,
    pub addr: std::net::SocketAddr,
    /// The TLS listener's address, when the config sets one up.
    pub tls_addr: Option<std::net::SocketAddr>,
    /// Every stderr line so far (the server log).
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    extra: Vec<String>,
}

impl Server {
    /// Starts a server named `localhost` with default limits.
    pub fn start() -> Server {
        Server::start_with(TempDir::new(), &[])
    }

    /// Starts a server whose config file holds `ron`.
    pub fn start_with_config(ron: &str) -> Server {
        let dir = TempDir::new();
        let cfg = dir.join("solec.ron");
        std::fs::write(&cfg, ron).unwrap();
        let cfg = cfg.to_str().unwrap().to_owned();
        Server::start_with(dir, &["--config", &cfg])
    }

    /// Starts a server on `dir` with extra `serve` arguments.
    pub fn start_with(dir: TempDir, extra: &[&str]) -> Server {
        let mut server = Server {
            child: None,
            dir,
            addr: "127.0.0.1:0".parse().unwrap(),
            tls_addr: None,
            log: Default::default(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let mut child = solec()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log",
                "debug",
                "--data",
            ])
            .arg(self.dir.path())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn solec serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split(" listening on ").nth(1) {
                    let _ = tx.send(rest.to_owned());
                }
                // Logged once every listener is bound.
                if line.contains(" serving ") {
                    let _ = tx.send(String::new());
                }
                log.lock().unwrap().push(line);
            }
        });
        self.child = Some(child);
        loop {
            let listening = rx
                .recv_timeout(TIMEOUT)
                .unwrap_or_else(|_| panic!("server did not start; log:\n{}", self.log_text()));
            match listening.split_once(' ') {
                Some((addr, "(tls)")) => self.tls_addr = Some(addr.parse().unwrap()),
                Some((addr, _)) => self.addr = addr.parse().unwrap(),
                None => break,
            }
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// A `/proc/PID/status` field of the server, in KiB (`VmHWM`, `VmRSS`).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap_or_else(|| panic!("no {field} in /proc status"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Adds a user through `solec user add --password-stdin`.
    pub fn add_user(&self, name: &str, password: &str) {
        let out = run(
            &[
                "user",
                "add",
                name,
                "--password-stdin",
                "--data",
                self.data(),
            ],
            format!("{password}\n").as_bytes(),
        );
        assert!(out.status.success(), "user add: {out:?}");
    }

    pub fn data(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    /// `host:port` for `--server`.
    pub fn server_arg(&self) -> String {
        self.addr.to_string()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        signal(child.id(), libc::SIGTERM);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("server ignored SIGTERM; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server with SIGKILL, as a power cut would, and waits.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("server running");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops (if running) and starts again on the same data directory
    /// (new port).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            assert!(self.stop().success());
        }
        self.spawn();
    }

    /// Kills the server with SIGKILL, as a power cut would, and starts it
    /// again on the same data directory and the same port, so peers that
    /// know its address find it again.
    pub fn kill_and_restart(&mut self) {
        let mut child = self.child.take().expect("server running");
        let _ = child.kill();
        let _ = child.wait();
        let port = self.addr.port();
        let listen = format!("127.0.0.1:{port}");
        // The port was bound by the killed server: retry until it is free.
        for _ in 0..50 {
            if std::net::TcpListener::bind(&listen).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.extra.extend(["--listen".to_owned(), listen]);
        self.spawn();
        let n = self.extra.len();
        self.extra.truncate(n - 2);
    }

    /// A raw TCP connection to the server from `source`, another address of
    /// 127.0.0.0/8, as a remote client would come.
    pub fn connect_from(&self, source: [u8; 4]) -> std::io::Result<Raw> {
        let stream = tcp_from(source, self.addr)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        Ok(Raw { stream })
    }

    /// A raw TCP connection to the server.
    pub fn connect(&self) -> Raw {
        Raw::connect(self.addr)
    }

    /// A connection that has completed Handshake and UserAuth.
    pub fn login(&self, user: &str, password: &str) -> Raw {
        let mut c = self.connect();
        c.send(&handshake(0, 5, 1));
        c.send(&user_auth(user, password));
        c.expect(&SUCCESS);
        c
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP connection to `to` bound first to `source` (port chosen by the
/// kernel); std cannot bind before connecting.
fn tcp_from(source: [u8; 4], to: std::net::SocketAddr) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd as _;
    let std::net::SocketAddr::V4(to) = to else {
        panic!("IPv4 only")
    };
    let sockaddr = |ip: [u8; 4], port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor this function owns; the
    // sockaddr_in values outlive the calls that read them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let local = sockaddr(source, 0);
        if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let remote = sockaddr(to.ip().octets(), to.port());
        if libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

/// Sends `signal` to a process the test started (no `kill` binary needed).
pub fn signal(pid: u32, signal: i32) {
    let pid = i32::try_from(pid).expect("pid fits");
    // SAFETY: kill(2) has no memory effects; the pid is our own child.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
}

/// A raw-byte client with a read timeout.
pub struct Raw {
    pub stream: TcpStream,
}

impl Raw {
    pub fn connect(addr: std::net::SocketAddr) -> Raw {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Raw { stream }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads exactly `want.len()` bytes and compares them.
    pub fn expect(&mut self, want: &[u8]) {
        let got = self.read_exact(want.len());
        assert_bytes!(got, want);
    }

    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut got = vec![0; n];
        if let Err(e) = self.stream.read_exact(&mut got) {
            panic!("reading {n} bytes: {e}");
        }
        got
    }

    /// Reads one whole PDU.
    pub fn read_pdu(&mut self) -> Vec<u8> {
        let mut pdu = self.read_exact(3);
        let len = u16::from_be_bytes([pdu[1], pdu[2]]) as usize;
        pdu.extend(self.read_exact(len));
        pdu
    }

    /// Asserts the server closes the connection with nothing more to say.
    pub fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.stream.read_to_end(&mut rest) {
            Ok(_) => assert_bytes!(rest, b""),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected a close, got {e}"),
        }
    }

    /// The PDUs that arrive until nothing has come for `wait` (at most
    /// 1,000 of them).
    pub fn pdus_until_silent(&mut self, wait: Duration) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        while got.len() < 1000 {
            self.stream.set_read_timeout(Some(wait)).unwrap();
            let mut first = [0u8; 1];
            let read = self.stream.read(&mut first);
            self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            match read {
                Ok(0) => panic!("connection closed, expected it open"),
                Ok(_) => {
                    let mut pdu = first.to_vec();
                    pdu.extend(self.read_exact(2));
                    let len = u16::from_be_bytes([pdu[1], pdu[2]]) as usize;
                    pdu.extend(self.read_exact(len));
                    got.push(pdu);
                }
                Err(e) => {
                    let quiet = [std::io::ErrorKind::WouldBlock, std::io::ErrorKind::TimedOut];
                    assert!(quiet.contains(&e.kind()), "{e}");
                    return got;
                }
            }
        }
        panic!("more than 1,000 PDUs without a pause of {wait:?}")
    }

    /// Asserts nothing arrives within `wait`.
    pub fn expect_silence(&mut self, wait: Duration) {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => panic!("connection closed, expected it open and silent"),
            Ok(_) => panic!("unexpected byte {:02x}", byte[0]),
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "{e}"
            ),
        }
        self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    }
}

// Independent PDU builders, so the tests do not trust the codec they test.

pub const SUCCESS: [u8; 3] = [0x01, 0x00, 0x00];

pub fn error(e: u8) -> Vec<u8> {
    vec![0x02, 0x00, 0x01, e]
}

pub fn pdu(code: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![code];
    out.extend((payload.len() as u16).to_be_bytes());
    out.extend(payload);
    out
}

pub fn string(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u16).to_be_bytes().to_vec();
    out.extend(s.as_bytes());
    out
}

pub fn handshake(major: u8, minor: u8, conn_type: u8) -> Vec<u8> {
    pdu(0x03, &[major, minor, conn_type])
}

pub fn user_auth(user: &str, password: &str) -> Vec<u8> {
    pdu(0x04, &[string(user), string(password)].concat())
}

pub fn message(from: &str, to: &str, time: u64, text: &str) -> Vec<u8> {
    pdu(
        0x05,
        &[
            string(from),
            string(to),
            time.to_be_bytes().to_vec(),
            string(text),
        ]
        .concat(),
    )
}

pub fn user_mode(user: &str, channel: &str, mode: u8) -> Vec<u8> {
    pdu(0x07, &[string(user), string(channel), vec![mode]].concat())
}

pub fn history(channel: &str, since: u64, count: i64, offset: i64) -> Vec<u8> {
    pdu(
        0x08,
        &[
            string(channel),
            since.to_be_bytes().to_vec(),
            count.to_be_bytes().to_vec(),
            offset.to_be_bytes().to_vec(),
        ]
        .concat(),
    )
}

pub fn contact_add(address: &str) -> Vec<u8> {
    pdu(0x80, &string(address))
}

pub fn contact_remove(address: &str) -> Vec<u8> {
    pdu(0x81, &string(address))
}

pub fn contact(address: &str) -> Vec<u8> {
    pdu(0x83, &string(address))
}
