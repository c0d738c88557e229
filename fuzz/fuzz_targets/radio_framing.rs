//! Fuzz target `radio_framing`: the modem framings the radio link rides
//! on, as a serial port delivers them: KISS (`radio::kiss`), length + CRC
//! framing for transparent modules (`radio::transparent`), and the RYLR
//! reply lines with their Base64 data (`radio::rylr`).
//!
//! For every input it checks that
//! - nothing panics, whatever the serial port delivers;
//! - KISS and RYLR lines give the same frames whether the bytes come at
//!   once, split at the chosen point, or one at a time;
//! - no frame or line is longer than its limit (`kiss::MAX_FRAME`,
//!   `transparent::MAX_DATA`, `rylr::MAX_LINE`);
//! - whatever a deframer returns, encoded again and fed to a fresh
//!   deframer, comes back the same; a `+RCV=` line parsed and written
//!   again parses the same; Base64 round-trips.
//!
//! Input layout: one byte picks the framing, two bytes (big-endian) the
//! split point, the rest is the serial stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use solec::radio::{kiss, rylr, transparent};

fuzz_target!(|data: &[u8]| {
    let [which, a, b, stream @ ..] = data else {
        return;
    };
    let split = usize::from(u16::from_be_bytes([*a, *b])) % (stream.len() + 1);
    match which % 3 {
        0 => check_kiss(stream, split),
        1 => check_transparent(stream, split),
        _ => check_rylr(stream, split),
    }
});

fn check_kiss(stream: &[u8], split: usize) {
    let feed = |chunks: &mut dyn Iterator<Item = &[u8]>| {
        let mut d = kiss::Deframer::new();
        chunks.flat_map(|c| d.feed(c)).collect::<Vec<_>>()
    };
    let whole = feed(&mut std::iter::once(stream));
    let (head, tail) = stream.split_at(split);
    assert_eq!(
        feed(&mut [head, tail].into_iter()),
        whole,
        "split at {split}"
    );
    assert_eq!(feed(&mut stream.chunks(1)), whole, "byte at a time");
    for frame in whole.iter().flatten() {
        assert!(1 + frame.data.len() <= kiss::MAX_FRAME);
        let mut again = Vec::new();
        kiss::encode(frame.command, &frame.data, &mut again);
        assert_eq!(kiss::Deframer::new().feed(&again), [Ok(frame.clone())]);
    }
    for err in whole.iter().filter_map(|r| r.as_ref().err()) {
        let _ = err.to_string();
    }
}

fn check_transparent(stream: &[u8], split: usize) {
    let mut d = transparent::Deframer::new();
    let (head, tail) = stream.split_at(split);
    let mut frames = d.feed(head);
    frames.extend(d.feed(tail));
    assert!(d.discarded <= stream.len() as u64);
    let mut bytes = 0;
    for frame in &frames {
        assert!(frame.len() <= transparent::MAX_DATA);
        bytes += frame.len() + transparent::OVERHEAD;
        let mut again = Vec::new();
        transparent::encode(frame, &mut again);
        assert_eq!(transparent::Deframer::new().feed(&again), [frame.clone()]);
    }
    assert!(bytes as u64 + d.discarded <= stream.len() as u64);
    d.reset();
}

fn check_rylr(stream: &[u8], split: usize) {
    let feed = |chunks: &mut dyn Iterator<Item = &[u8]>| {
        let mut lines = rylr::Lines::default();
        chunks.flat_map(|c| lines.feed(c)).collect::<Vec<_>>()
    };
    let whole = feed(&mut std::iter::once(stream));
    let (head, tail) = stream.split_at(split);
    assert_eq!(
        feed(&mut [head, tail].into_iter()),
        whole,
        "split at {split}"
    );
    assert_eq!(feed(&mut stream.chunks(1)), whole, "byte at a time");
    for line in &whole {
        assert!(!line.is_empty() && line.len() <= rylr::MAX_LINE);
        assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
        check_reply(line);
    }
    // The stream itself as one line, and as Base64 text.
    check_reply(stream);
    if let Ok(bytes) = rylr::unbase64(stream) {
        assert_eq!(rylr::unbase64(rylr::base64(&bytes).as_bytes()), Ok(bytes));
    }
    let text = rylr::base64(stream);
    assert_eq!(rylr::unbase64(text.as_bytes()).as_deref(), Ok(stream));
}

fn check_reply(line: &[u8]) {
    match rylr::parse_reply(line) {
        Ok(rylr::Reply::Received {
            address,
            data,
            rssi,
            snr,
        }) => {
            let text = rylr::base64(&data);
            let again = format!("+RCV={address},{},{text},{rssi},{snr}", text.len());
            let reply = rylr::parse_reply(again.as_bytes());
            assert_eq!(
                reply,
                Ok(rylr::Reply::Received {
                    address,
                    data,
                    rssi,
                    snr
                })
            );
        }
        Ok(_) => {}
        Err(e) => {
            assert!(
                e.offset <= line.len(),
                "{e:?} past a {}-byte line",
                line.len()
            );
            let _ = e.to_string();
        }
    }
}
