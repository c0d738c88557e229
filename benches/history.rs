//! History cost against conversation length: a client catching up.
//!
//! `cargo bench --bench history` fills one channel of a fresh store with
//! 1,000 and with 1,000,000 Message PDUs (one second of `send_time` apart),
//! then times the History read a catching-up client makes: the 50 messages
//! after a `since` that falls 50 messages before the end. It prints the
//! median and best of 200 reads for each size and their ratio, measured in
//! the same run, since this machine is shared. The read is the server's own
//! (`Reader::history_chunk` in 64 KiB chunks, as `solec serve` does).
//!
//! Under `cargo test --benches` the sizes are 1,000 and 10,000 with a few
//! reads, to check it runs.

use solec::proto::{Message, Pdu};
use solec::store::{Change, HistoryCursor, Store};
use std::time::{Duration, Instant};

/// Messages written per transaction while filling.
const FILL_BATCH: u64 = 50_000;

/// Messages the catching-up client asks for.
const PAGE: u64 = 50;

fn pdu(i: u64) -> Vec<u8> {
    Pdu::Message(Message {
        source_address: "alice@bench.example",
        target_address: "#c@bench.example",
        send_time: 1_700_000_000 + i,
        message_content: "a message of about the length people write",
    })
    .to_vec()
    .expect("a message fits")
}

fn fill(store: &Store, n: u64) {
    let mut seq = 0;
    while seq < n {
        let mut batch = store.batch().expect("batch");
        for i in seq..(seq + FILL_BATCH).min(n) {
            let change = Change::Append {
                conversation: "#c@bench.example".into(),
                seq: i,
                send_time: 1_700_000_000 + i,
                pdu: pdu(i).into(),
            };
            batch.apply(&change).expect("append");
        }
        seq = (seq + FILL_BATCH).min(n);
        batch.commit(seq).expect("commit");
    }
}

/// One catch-up read; returns its time and checks its size.
fn catch_up(store: &Store, n: u64) -> Duration {
    let since = 1_700_000_000 + n - PAGE;
    let started = Instant::now();
    let mut cursor = HistoryCursor::new("#c@bench.example".into(), since, 0, PAGE, n);
    let mut out = Vec::new();
    while !cursor.done() {
        let reader = store.reader().expect("reader");
        reader
            .history_chunk(&mut cursor, 64 * 1024, &mut out, |p, o| {
                o.extend_from_slice(p)
            })
            .expect("read");
    }
    let took = started.elapsed();
    assert_eq!(out.len() as u64, PAGE * pdu(0).len() as u64);
    took
}

fn measure(n: u64, reads: usize) -> (Duration, Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("h.redb"), "bench.example", 32 << 20).expect("store");
    let filled = Instant::now();
    fill(&store, n);
    eprintln!(
        "filled {n} messages in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    let mut times: Vec<Duration> = (0..reads).map(|_| catch_up(&store, n)).collect();
    times.sort();
    (times[times.len() / 2], times[0])
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let (small, large, reads) = match benching {
        true => (1_000, 1_000_000, 200),
        false => (1_000, 10_000, 5),
    };
    let (small_median, small_best) = measure(small, reads);
    let (large_median, large_best) = measure(large, reads);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("History of the last {PAGE} after `since`, {reads} reads each:");
    println!(
        "  {small:>9} messages: median {:.3} ms, best {:.3} ms",
        ms(small_median),
        ms(small_best)
    );
    println!(
        "  {large:>9} messages: median {:.3} ms, best {:.3} ms",
        ms(large_median),
        ms(large_best)
    );
    println!(
        "  ratio (large / small, medians): {:.2}x",
        ms(large_median) / ms(small_median)
    );
}
