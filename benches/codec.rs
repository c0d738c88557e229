//! Codec throughput: decoding and encoding a stream of Message PDUs.
//!
//! `cargo bench --bench codec` measures, with criterion, one pass over a
//! buffer of 10,000 Message PDUs of 60 bytes each, for the deframer plus
//! decoder, the encoder into a reused buffer, and a plain copy of the same
//! bytes as the baseline. Throughput is reported in PDUs per second.
//!
//! Before that it proves the allocation claims with a counting global
//! allocator (decoding borrows from the buffer, encoding appends to a buffer
//! whose capacity is kept), and prints decode and encode against the
//! baseline as ratios measured in the same run, since this machine is shared
//! and its absolute speed varies. Under `cargo test --benches` only the
//! allocation checks and one pass of each benchmark run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use solec::proto::{Deframer, Message, Pdu};

/// PDUs in the benchmark stream.
const MESSAGES: usize = 10_000;

/// Bytes of each Message PDU in the stream, header included.
const PDU_BYTES: usize = 60;

/// Interleaved passes of each kind for the printed ratios; the fastest of
/// each is kept, as the pass least disturbed by other work on the machine.
const RATIO_ROUNDS: usize = 300;

/// Counts every allocation and reallocation, then defers to the system.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; counting has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made while `f` runs (this binary runs it on one thread).
fn allocations_during<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let out = f();
    (ALLOCATIONS.load(Ordering::Relaxed) - before, out)
}

/// The benchmark stream: `MESSAGES` channel messages of `PDU_BYTES` each,
/// with distinct contents and send times, as a busy channel would push them.
fn stream() -> Vec<u8> {
    let mut out = Vec::with_capacity(MESSAGES * PDU_BYTES);
    for i in 0..MESSAGES {
        let content = format!("hello {i:04}");
        let pdu = Pdu::Message(Message {
            source_address: "alice@localhost",
            target_address: "#general@localhost",
            send_time: 1_700_000_000 + i as u64,
            message_content: &content,
        });
        let start = out.len();
        pdu.encode(&mut out).expect("a small message encodes");
        assert_eq!(out.len() - start, PDU_BYTES);
    }
    out
}

/// Deframes and decodes the whole stream, returning how many PDUs it held.
fn decode_all(stream: &[u8]) -> usize {
    let deframer = Deframer::default();
    let mut rest = stream;
    let mut count = 0;
    while let Some((pdu, used)) = deframer.decode(rest).expect("the stream is well-formed") {
        black_box(pdu);
        rest = &rest[used..];
        count += 1;
    }
    assert!(rest.is_empty());
    count
}

/// The stream's PDUs, borrowing from it, for the encode benchmark.
fn decoded(stream: &[u8]) -> Vec<Pdu<'_>> {
    let deframer = Deframer::default();
    let mut rest = stream;
    let mut pdus = Vec::with_capacity(MESSAGES);
    while let Some((pdu, used)) = deframer.decode(rest).expect("the stream is well-formed") {
        pdus.push(pdu);
        rest = &rest[used..];
    }
    pdus
}

/// Encodes every PDU into `out`, which is cleared first and keeps its capacity.
fn encode_all(pdus: &[Pdu], out: &mut Vec<u8>) {
    out.clear();
    for pdu in pdus {
        pdu.encode(out).expect("a decoded PDU encodes");
    }
    black_box(&out);
}

/// The baseline: copy the same bytes into a reused buffer.
fn copy_all(stream: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(black_box(stream));
    black_box(&out);
}

/// Checks and prints that decoding and re-encoding allocate nothing.
fn check_allocations(stream: &[u8], pdus: &[Pdu], out: &mut Vec<u8>) {
    // A counter that saw nothing would make the zeros below meaningless.
    let (probe, _) = allocations_during(|| black_box(Vec::<u8>::with_capacity(1)));
    assert_eq!(probe, 1, "the counting allocator sees allocations");

    let (decode_allocs, count) = allocations_during(|| decode_all(stream));
    assert_eq!(count, MESSAGES);
    println!("allocations decoding {count} PDUs: {decode_allocs}");
    assert_eq!(decode_allocs, 0, "decoding must not allocate");

    encode_all(pdus, out);
    assert_eq!(out.as_slice(), stream, "re-encoding reproduces the stream");
    let (encode_allocs, ()) = allocations_during(|| encode_all(pdus, out));
    println!("allocations encoding {MESSAGES} PDUs into a reused buffer: {encode_allocs}");
    assert_eq!(
        encode_allocs, 0,
        "encoding into a reused buffer must not allocate"
    );
}

/// The fastest of `RATIO_ROUNDS` passes of each kind, interleaved so that a
/// slow moment on the machine hits all three alike.
fn fastest_passes(stream: &[u8], pdus: &[Pdu], out: &mut Vec<u8>) -> [Duration; 3] {
    let mut best = [Duration::MAX; 3];
    for _ in 0..RATIO_ROUNDS {
        best[0] = best[0].min(timed(|| copy_all(stream, out)));
        best[1] = best[1].min(timed(|| {
            decode_all(stream);
        }));
        best[2] = best[2].min(timed(|| encode_all(pdus, out)));
    }
    best
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Prints PDUs/s for each kind and the ratio of its pass time to the copy's.
fn print_ratios(stream: &[u8], pdus: &[Pdu], out: &mut Vec<u8>) {
    let [copy, decode, encode] = fastest_passes(stream, pdus, out);
    let rate = |d: Duration| MESSAGES as f64 / d.as_secs_f64();
    println!(
        "fastest of {RATIO_ROUNDS} passes over {MESSAGES} PDUs ({} bytes):",
        stream.len()
    );
    println!("  copy (baseline): {:>6.1} M PDUs/s", rate(copy) / 1e6);
    for (name, d) in [("decode", decode), ("encode", encode)] {
        println!(
            "  {name:15}: {:>6.1} M PDUs/s, {:.2}x the copy's time",
            rate(d) / 1e6,
            d.as_secs_f64() / copy.as_secs_f64()
        );
    }
}

fn criterion_benches(c: &mut Criterion, stream: &[u8], pdus: &[Pdu], out: &mut Vec<u8>) {
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(MESSAGES as u64));
    group.bench_function("copy_baseline", |b| b.iter(|| copy_all(stream, out)));
    group.bench_function("decode", |b| b.iter(|| decode_all(stream)));
    group.bench_function("encode", |b| b.iter(|| encode_all(pdus, out)));
    group.finish();
}

fn main() {
    let stream = stream();
    let pdus = decoded(&stream);
    let mut out = Vec::with_capacity(stream.len());
    check_allocations(&stream, &pdus, &mut out);

    let mut c = Criterion::default().configure_from_args();
    // `cargo bench` passes --bench; `cargo test --benches` does not, and
    // then the slow ratio passes are skipped as criterion skips measuring.
    let benchmarking = std::env::args().any(|a| a == "--bench")
        && !std::env::args().any(|a| a == "--test" || a == "--list");
    if benchmarking {
        print_ratios(&stream, &pdus, &mut out);
    }
    criterion_benches(&mut c, &stream, &pdus, &mut out);
    c.final_summary();
}
