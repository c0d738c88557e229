//! Text compression for message content: a fixed canonical Huffman code
//! over bytes, weighted for short English chat text.
//!
//! The code is built once from the weights below, so both ends agree
//! without sending a table. The record encoder uses it only when it makes
//! the content shorter, so it never expands a frame. Sans-IO, no state.

use super::cursor::{Cursor, ErrorKind, RadioError};
use std::collections::BinaryHeap;
use std::sync::OnceLock;

/// Weights of common bytes (per 100 000 characters of chat-like English);
/// every other byte weighs [`RARE`].
const WEIGHTS: &[(u8, u32)] = &[
    (b' ', 18000),
    (b'e', 10200),
    (b't', 7500),
    (b'a', 6500),
    (b'o', 6200),
    (b'i', 5700),
    (b'n', 5700),
    (b's', 5300),
    (b'r', 5000),
    (b'h', 4900),
    (b'd', 3400),
    (b'l', 3300),
    (b'u', 2300),
    (b'c', 2200),
    (b'm', 2000),
    (b'w', 1900),
    (b'f', 1800),
    (b'g', 1600),
    (b'y', 1600),
    (b'p', 1500),
    (b'b', 1200),
    (b'v', 800),
    (b'k', 600),
    (b'.', 600),
    (b',', 600),
    (b'I', 400),
    (b'\'', 200),
    (b'?', 150),
    (b'!', 150),
    (b'x', 150),
    (b'j', 100),
    (b'q', 100),
    (b'z', 70),
    (b'T', 150),
    (b'A', 120),
    (b'S', 100),
    (b'H', 100),
    (b'W', 100),
    (b'O', 80),
    (b'M', 80),
    (b'B', 60),
    (b'C', 60),
    (b'0', 80),
    (b'1', 80),
    (b'2', 60),
    (b'3', 40),
    (b'4', 40),
    (b'5', 40),
    (b'6', 30),
    (b'7', 30),
    (b'8', 30),
    (b'9', 30),
    (b':', 40),
    (b'-', 40),
    (b')', 30),
    (b'(', 20),
    (b'/', 20),
    (b'@', 20),
];

/// The weight of a byte not in [`WEIGHTS`] (other capitals, controls,
/// UTF-8 lead and continuation bytes).
const RARE: u32 = 4;

struct Code {
    /// Code length in bits per byte value.
    len: [u8; 256],
    /// Canonical code per byte value, right-aligned.
    code: [u32; 256],
    /// Byte values sorted by (length, value): the canonical order.
    sorted: Vec<u8>,
    /// How many codes have each length.
    count: Vec<u32>,
}

fn code() -> &'static Code {
    static CODE: OnceLock<Code> = OnceLock::new();
    CODE.get_or_init(build)
}

/// Huffman code lengths from the weights (ties broken by the lower node
/// id, so the result is fixed), then canonical codes from the lengths.
fn build() -> Code {
    let mut weight = [RARE; 256];
    for &(b, w) in WEIGHTS {
        weight[usize::from(b)] = w;
    }
    // Nodes 0..256 are leaves; internal nodes follow, with their children.
    let mut children: Vec<(usize, usize)> = Vec::new();
    let mut heap: BinaryHeap<std::cmp::Reverse<(u64, usize)>> = (0..256)
        .map(|b| std::cmp::Reverse((u64::from(weight[b]), b)))
        .collect();
    while heap.len() > 1 {
        let std::cmp::Reverse((w1, a)) = heap.pop().unwrap_or_default();
        let std::cmp::Reverse((w2, b)) = heap.pop().unwrap_or_default();
        children.push((a, b));
        heap.push(std::cmp::Reverse((w1 + w2, 255 + children.len())));
    }
    let mut len = [0u8; 256];
    let mut stack = vec![(255 + children.len(), 0u8)];
    while let Some((node, depth)) = stack.pop() {
        match node.checked_sub(256) {
            None => len[node] = depth,
            Some(i) => {
                let (a, b) = children[i];
                stack.push((a, depth + 1));
                stack.push((b, depth + 1));
            }
        }
    }
    let mut sorted: Vec<u8> = (0..=255).collect();
    sorted.sort_by_key(|&b| (len[usize::from(b)], b));
    let max = usize::from(len.iter().copied().max().unwrap_or(0));
    let mut count = vec![0u32; max + 1];
    let mut code = [0u32; 256];
    let (mut next, mut prev_len) = (0u32, 0u8);
    for &b in &sorted {
        let l = len[usize::from(b)];
        next <<= l - prev_len;
        code[usize::from(b)] = next;
        count[usize::from(l)] += 1;
        next += 1;
        prev_len = l;
    }
    Code {
        len,
        code,
        sorted,
        count,
    }
}

/// The packed size of `text` in bytes.
pub fn packed_len(text: &[u8]) -> usize {
    let c = code();
    let bits: usize = text
        .iter()
        .map(|&b| usize::from(c.len[usize::from(b)]))
        .sum();
    bits.div_ceil(8)
}

/// Appends `text` packed, most significant bit first, zero-padded.
pub fn pack(text: &[u8], out: &mut Vec<u8>) {
    let c = code();
    let (mut acc, mut nbits) = (0u64, 0u32);
    for &b in text {
        let l = u32::from(c.len[usize::from(b)]);
        acc = acc << l | u64::from(c.code[usize::from(b)]);
        nbits += l;
        while nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
        }
        acc &= (1 << nbits) - 1;
    }
    if nbits > 0 {
        out.push((acc << (8 - nbits)) as u8);
    }
}

/// Reads `n` packed bytes of text. Padding bits must be zero.
pub fn unpack(c: &mut Cursor<'_>, n: usize) -> Result<Vec<u8>, RadioError> {
    let code = code();
    let mut out = Vec::with_capacity(n);
    let (mut byte, mut left) = (0u8, 0u32);
    let mut bit = |c: &mut Cursor<'_>| -> Result<u32, RadioError> {
        if left == 0 {
            byte = c.u8("packed text")?;
            left = 8;
        }
        left -= 1;
        Ok(u32::from(byte >> left & 1))
    };
    while out.len() < n {
        // Canonical decoding: at each length, the codes of that length are
        // the `count` values from `first`.
        let (mut value, mut first, mut index) = (0u32, 0u32, 0u32);
        let mut found = None;
        for len in 1..code.count.len() {
            value = value << 1 | bit(c)?;
            let count = code.count[len];
            if value < first + count {
                found = Some(code.sorted[(index + value - first) as usize]);
                break;
            }
            index += count;
            first = (first + count) << 1;
        }
        match found {
            Some(b) => out.push(b),
            None => {
                return Err(RadioError::new(
                    ErrorKind::Invalid {
                        value: u64::from(value),
                    },
                    "packed text",
                    c.offset(),
                ))
            }
        }
    }
    let padding = u32::from(byte) & ((1 << left) - 1);
    if padding != 0 {
        return Err(RadioError::new(
            ErrorKind::Invalid {
                value: u64::from(padding),
            },
            "packed text padding",
            c.offset(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &[u8]) -> Vec<u8> {
        let mut packed = Vec::new();
        pack(text, &mut packed);
        assert_eq!(packed.len(), packed_len(text));
        let mut c = Cursor::new(&packed);
        assert_eq!(unpack(&mut c, text.len()).unwrap(), text);
        c.finish().unwrap();
        packed
    }

    #[test]
    fn the_code_is_complete_and_prefix_free() {
        let c = code();
        let kraft: f64 = c.len.iter().map(|&l| 0.5f64.powi(i32::from(l))).sum();
        assert!((kraft - 1.0).abs() < 1e-9, "{kraft}");
        assert!(c.len.iter().all(|&l| (1..=24).contains(&l)));
        assert!(c.len[usize::from(b' ')] <= 3 && c.len[usize::from(b'e')] <= 4);
    }

    #[test]
    fn chat_text_shrinks_and_any_bytes_round_trip() {
        let text = b"hey, are you coming to the meeting at the station later tonight?";
        let packed = round_trip(text);
        assert!(
            packed.len() * 100 < text.len() * 65,
            "{} of {}",
            packed.len(),
            text.len()
        );
        let all: Vec<u8> = (0..=255).collect();
        round_trip(&all);
        round_trip("grüße, 日本".as_bytes());
        round_trip(b"");
    }

    #[test]
    fn truncated_and_badly_padded_input_is_refused() {
        let mut packed = Vec::new();
        pack(b"hello there", &mut packed);
        let short = &packed[..packed.len() - 1];
        assert!(unpack(&mut Cursor::new(short), 11)
            .unwrap_err()
            .is_truncated());
        let mut padded = Vec::new();
        pack(b"e", &mut padded); // 'e' is under 8 bits: padding follows
        padded[0] |= 1;
        assert_eq!(
            unpack(&mut Cursor::new(&padded), 1).unwrap_err().field,
            "packed text padding"
        );
    }
}
