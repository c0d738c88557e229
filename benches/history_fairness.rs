//! An honest History while another user scans a long channel from many
//! sessions.
//!
//! `cargo bench --bench history_fairness` fills a channel `#big` with
//! 100,000 messages of 64 bytes and a short direct conversation of 20
//! (offline, through the store, before `solec serve` starts on a free
//! loopback port), then times 200 History reads of that short
//! conversation by an honest user: first alone, then while 100 sessions
//! of one attacker each ask, over and over, for the last 500 messages of
//! `#big` past an offset of 99,000, which makes each of their requests look
//! at 99,500 stored messages. It prints the median, p99 and worst of each
//! phase, their ratio, and how many scans the attacker completed.
//!
//! The server is `target/release/solec` as cargo built it, or the binary
//! `SOLEC_BIN` names, so an older build can be timed the same way.
//!
//! Under `cargo test --benches` it runs small (2,000 messages, 5 attacker
//! sessions, 10 reads) to check that it works.

use solec::proto::{self, Pdu};
use solec::store::{Change, Store};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NAME: &str = "bench.example";
const T: u64 = 1_700_000_000;

/// The longest a phase of honest reads may take: a server that makes them
/// wait seconds each is reported with the reads it managed.
const PHASE: Duration = Duration::from_secs(60);

/// Messages written per transaction while filling.
const FILL_BATCH: u64 = 50_000;

struct Sizes {
    channel: u64,
    attackers: usize,
    reads: usize,
}

fn message(from: &str, to: &str, i: u64) -> Vec<u8> {
    Pdu::Message(proto::Message {
        source_address: from,
        target_address: to,
        send_time: T + i,
        message_content: "a message of about sixty-four bytes, as people write them.",
    })
    .to_vec()
    .expect("a message fits")
}

/// Users, the channel and the conversation, written before the server runs.
fn fill(store: &Store, sizes: &Sizes) {
    let hash = solec::server::passwords::hash("pw").expect("hash");
    let mallory = format!("mallory@{NAME}");
    let channel = format!("#big@{NAME}");
    let mut batch = store.batch().expect("batch");
    for name in ["mallory", "alice", "bob"] {
        let name = name.to_owned();
        let hash = hash.clone();
        batch.apply(&Change::PutUser { name, hash }).expect("user");
    }
    for (owner, contact) in [("alice", "bob"), ("bob", "alice")] {
        let (owner, contact) = (owner.to_owned(), format!("{contact}@{NAME}"));
        batch
            .apply(&Change::AddContact { owner, contact })
            .expect("contact");
    }
    let (channel_key, seq) = (channel.clone(), 0);
    batch
        .apply(&Change::CreateChannel {
            channel: channel_key,
            seq,
        })
        .expect("channel");
    let mode = proto::Mode::Operator;
    let (c, user) = (channel.clone(), mallory.clone());
    batch
        .apply(&Change::SetMode {
            channel: c,
            user,
            mode,
        })
        .expect("mode");
    let direct = solec::store::direct_key(&format!("alice@{NAME}"), &format!("bob@{NAME}"));
    for i in 0..20 {
        let change = Change::Append {
            conversation: direct.as_str().into(),
            seq: i,
            send_time: T + i,
            pdu: message(&format!("bob@{NAME}"), &format!("alice@{NAME}"), i).into(),
        };
        batch.apply(&change).expect("append");
    }
    batch.commit(20).expect("commit");
    let mut seq = 20;
    let end = 20 + sizes.channel;
    let pdu: Arc<[u8]> = message(&mallory, &channel, 0).into();
    while seq < end {
        let mut batch = store.batch().expect("batch");
        for i in seq..(seq + FILL_BATCH).min(end) {
            let change = Change::Append {
                conversation: channel.as_str().into(),
                seq: i,
                send_time: T + i,
                pdu: pdu.clone(),
            };
            batch.apply(&change).expect("append");
        }
        seq = (seq + FILL_BATCH).min(end);
        batch.commit(seq).expect("commit");
    }
}

/// `solec serve` on a free loopback port; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(dir: &std::path::Path, config: &std::path::Path) -> Server {
        let bin =
            std::env::var_os("SOLEC_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_solec").into());
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir)
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn solec serve");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut addr = None;
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(rest) = line.split(" listening on ").nth(1) {
                addr = rest.split(' ').next().and_then(|a| a.parse().ok());
            }
            if line.contains(" serving ") {
                break;
            }
        }
        let addr = addr.expect("the server said where it listens");
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn login(addr: SocketAddr, user: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let mut hello = vec![0x03, 0x00, 0x03, 0x00, 0x05, 0x01];
    Pdu::UserAuth(proto::UserAuth {
        username: user,
        password: "pw",
    })
    .encode(&mut hello)
    .expect("encode");
    s.write_all(&hello).expect("login");
    let mut reply = [0; 3];
    s.read_exact(&mut reply).expect("login reply");
    assert_eq!(reply, proto::SUCCESS_PDU, "{user} logs in");
    s
}

fn history(target: &str, count: i64, offset: i64) -> Vec<u8> {
    Pdu::History(proto::History {
        channel_address: target,
        since: 0,
        count,
        offset,
    })
    .to_vec()
    .expect("encode")
}

/// Reads PDUs until the reply's Success; returns the messages.
fn read_reply(s: &mut TcpStream) -> std::io::Result<usize> {
    let mut n = 0;
    loop {
        let mut head = [0; 3];
        s.read_exact(&mut head)?;
        let len = u16::from_be_bytes([head[1], head[2]]) as usize;
        let mut payload = vec![0; len];
        s.read_exact(&mut payload)?;
        match head[0] {
            0x01 => return Ok(n),
            0x02 => panic!("History refused: {payload:02x?}"),
            _ => n += 1,
        }
    }
}

/// Times `reads` History requests of the short conversation, or as many
/// as are done by `deadline`.
fn honest_reads(addr: SocketAddr, reads: usize, deadline: Instant) -> Vec<Duration> {
    let mut alice = login(addr, "alice");
    let ask = history(&format!("bob@{NAME}"), 20, 0);
    let mut times = Vec::with_capacity(reads);
    for _ in 0..reads {
        if Instant::now() > deadline {
            break;
        }
        let started = Instant::now();
        alice.write_all(&ask).expect("ask");
        assert_eq!(read_reply(&mut alice).expect("honest reply"), 20);
        times.push(started.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }
    times
}

fn summary(times: &mut [Duration]) -> (f64, f64, f64) {
    assert!(!times.is_empty(), "no read was done in time");
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    (
        ms(times[times.len() / 2]),
        ms(p99),
        ms(times[times.len() - 1]),
    )
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let sizes = match benching {
        true => Sizes {
            channel: 100_000,
            attackers: 100,
            reads: 200,
        },
        false => Sizes {
            channel: 2_000,
            attackers: 5,
            reads: 10,
        },
    };
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = Store::open(&dir.path().join("solec.redb"), NAME, 32 << 20).expect("store");
        let filled = Instant::now();
        fill(&store, &sizes);
        eprintln!(
            "filled {} messages in {:.1} s",
            sizes.channel,
            filled.elapsed().as_secs_f64()
        );
    }
    let config = dir.path().join("solec.ron");
    let ron = format!(
        "(name: \"{NAME}\", max_sessions_per_user: {}, max_connections_per_ip: {})",
        sizes.attackers + 1,
        sizes.attackers + 8
    );
    std::fs::write(&config, ron).expect("config");
    let server = Server::start(dir.path(), &config);
    println!(
        "History of a 20-message conversation, {} reads each:",
        sizes.reads
    );
    let mut alone = honest_reads(server.addr, sizes.reads, Instant::now() + PHASE);
    let (a50, a99, amax) = summary(&mut alone);
    println!("  alone:           median {a50:.3} ms, p99 {a99:.3} ms, worst {amax:.3} ms");

    let stop = Arc::new(AtomicBool::new(false));
    let scans = Arc::new(AtomicU64::new(0));
    let offset = sizes.channel as i64 - 1_000;
    let attack: Vec<_> = (0..sizes.attackers)
        .map(|_| {
            let mut s = login(server.addr, "mallory");
            let (stop, scans) = (stop.clone(), scans.clone());
            let ask = history(&format!("#big@{NAME}"), 500, offset);
            std::thread::spawn(move || {
                // Until told to stop, or the server is gone.
                while !stop.load(Ordering::Relaxed) {
                    if s.write_all(&ask).and_then(|_| read_reply(&mut s)).is_err() {
                        return;
                    }
                    scans.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Every attacker session has a scan running before the timing starts.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let mut attacked = honest_reads(server.addr, sizes.reads, started + PHASE);
    let took = started.elapsed();
    let done = scans.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    // The attackers' sessions end with the server.
    drop(server);
    for t in attack {
        let _ = t.join();
    }

    let (b50, b99, bmax) = summary(&mut attacked);
    if attacked.len() < sizes.reads {
        let secs = PHASE.as_secs();
        println!(
            "  during the scan: only {} reads done in {secs} s",
            attacked.len()
        );
    }
    println!("  during the scan: median {b50:.3} ms, p99 {b99:.3} ms, worst {bmax:.3} ms");
    println!("  ratio (during / alone, medians): {:.2}x", b50 / a50);
    println!(
        "  attacker: {} sessions, {done} scans looking at {} messages each, in {:.1} s",
        sizes.attackers,
        offset + 500,
        took.as_secs_f64()
    );
}
