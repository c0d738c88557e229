//! REYAX RYLR896/RYLR998 AT commands, and the text-safe encoding of binary
//! frames they need.
//!
//! Every command is one `\r\n`-terminated line answered `+OK` or
//! `+ERR=<n>`; frames go out as `AT+SEND=<address>,<length>,<data>` and
//! arrive as `+RCV=<address>,<length>,<data>,<RSSI>,<SNR>`. REYAX documents
//! the data as ASCII, so binary frames travel as unpadded Base64 (RFC 4648
//! §4, padding omitted as §3.2 allows because the length is explicit):
//! 4 characters per 3 bytes, no commas.

use super::cursor::{ErrorKind, RadioError};

/// The largest data field one `AT+SEND` takes (public drivers' value).
pub const MAX_DATA: usize = 240;

/// The largest binary frame that fits [`MAX_DATA`] once Base64-encoded.
pub const MTU: usize = MAX_DATA / 4 * 3;

/// The address `AT+SEND` uses to reach every module on the network.
pub const BROADCAST: u16 = 0;

/// The most `AT+CRFOP` takes (RYLR998).
pub const MAX_POWER_DBM: u8 = 22;

/// The longest reply line kept; longer lines are dropped as noise.
pub const MAX_LINE: usize = 512;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Unpadded Base64 of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 0x3F) as usize]));
        }
    }
    out
}

/// Decodes unpadded Base64, refusing any other character or a length no
/// encoder produces.
pub fn unbase64(text: &[u8]) -> Result<Vec<u8>, RadioError> {
    if text.len() % 4 == 1 {
        return Err(RadioError::new(
            ErrorKind::Invalid {
                value: text.len() as u64,
            },
            "base64 length",
            0,
        ));
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for (c, chunk) in text.chunks(4).enumerate() {
        let mut n = 0u32;
        for (i, &ch) in chunk.iter().enumerate() {
            let v = ALPHABET.iter().position(|&a| a == ch).ok_or_else(|| {
                RadioError::new(
                    ErrorKind::Invalid {
                        value: u64::from(ch),
                    },
                    "base64 character",
                    4 * c + i,
                )
            })?;
            n |= (v as u32) << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Ok(out)
}

/// Settings the module is brought up with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub address: u16,
    pub network_id: u8,
    pub freq_hz: u32,
    pub sf: u8,
    pub bw_hz: u32,
    /// Coding rate denominator 5..8; the module takes 1..4.
    pub cr: u8,
    pub preamble: u16,
    pub power_dbm: u8,
}

/// The module's code for a bandwidth (RYLR896/998 AT guide).
pub fn bandwidth_code(bw_hz: u32) -> Option<u8> {
    let codes = [
        7_800, 10_400, 15_600, 20_800, 31_250, 41_700, 62_500, 125_000, 250_000, 500_000,
    ];
    codes.iter().position(|&b| b == bw_hz).map(|i| i as u8)
}

/// Whether the module takes this SF at this bandwidth (RYLR998: SF7–9 at
/// 125 kHz, SF7–10 at 250 kHz, SF7–11 at 500 kHz).
pub fn check(s: &Settings) -> Result<(), String> {
    let max_sf = match s.bw_hz {
        125_000 => 9,
        250_000 => 10,
        500_000 => 11,
        other => {
            return Err(format!(
                "an RYLR module takes 125, 250 or 500 kHz, not {} kHz",
                f64::from(other) / 1000.0
            ))
        }
    };
    if s.power_dbm > MAX_POWER_DBM {
        return Err(format!(
            "an RYLR module transmits at most {MAX_POWER_DBM} dBm, not {}",
            s.power_dbm
        ));
    }
    if !(7..=max_sf).contains(&s.sf) {
        return Err(format!(
            "an RYLR module at {} kHz takes SF7 to SF{max_sf}, not SF{}",
            s.bw_hz / 1000,
            s.sf
        ));
    }
    Ok(())
}

/// The setup lines, each answered `+OK`.
pub fn bring_up(s: &Settings) -> Vec<String> {
    let bw = bandwidth_code(s.bw_hz).unwrap_or(7);
    vec![
        "AT".to_owned(),
        format!("AT+ADDRESS={}", s.address),
        format!("AT+NETWORKID={}", s.network_id),
        format!("AT+BAND={}", s.freq_hz),
        format!("AT+PARAMETER={},{},{},{}", s.sf, bw, s.cr - 4, s.preamble),
        format!("AT+CRFOP={}", s.power_dbm),
    ]
}

/// One command as the module reads it, with its line ending.
pub fn command_line(command: &str) -> Vec<u8> {
    format!("{command}\r\n").into_bytes()
}

/// `AT+SEND=<address>,<length>,<data>\r\n` for one binary frame.
pub fn send_line(address: u16, frame: &[u8]) -> Vec<u8> {
    let data = base64(frame);
    format!("AT+SEND={address},{},{data}\r\n", data.len()).into_bytes()
}

/// One line from the module.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Ok,
    Err(u16),
    /// `+READY`, sent after a reset.
    Ready,
    Received {
        address: u16,
        data: Vec<u8>,
        rssi: i16,
        snr: i16,
    },
    /// A line this host does not use (`+ADDRESS=…` answers, noise).
    Other(String),
}

/// Parses one reply line (without its line ending).
pub fn parse_reply(line: &[u8]) -> Result<Reply, RadioError> {
    if line == b"+OK" {
        return Ok(Reply::Ok);
    }
    if line == b"+READY" {
        return Ok(Reply::Ready);
    }
    if let Some(code) = line.strip_prefix(b"+ERR=") {
        return Ok(Reply::Err(number(code, 0, "error code")?));
    }
    match line.strip_prefix(b"+RCV=") {
        Some(_) => received(line),
        None => Ok(Reply::Other(String::from_utf8_lossy(line).into_owned())),
    }
}

/// `<address>,<length>,<data>,<RSSI>,<SNR>`: the data is taken by its
/// length, so a comma inside it cannot split the fields wrongly. Offsets
/// in errors count from the `+` of `+RCV=`.
fn received(line: &[u8]) -> Result<Reply, RadioError> {
    let mut at = b"+RCV=".len();
    let address = field(line, &mut at, "address")?;
    let address = number(address, at - address.len() - 1, "address")?;
    let len_field = field(line, &mut at, "length")?;
    let len: usize = number(len_field, at - len_field.len() - 1, "length")?;
    let data_at = at;
    // The length is the peer's number: it may be anything up to usize::MAX.
    let end = data_at.saturating_add(len);
    let data = line
        .get(data_at..end)
        .filter(|_| line.get(end) == Some(&b','))
        .ok_or_else(|| {
            RadioError::new(
                ErrorKind::Truncated {
                    needed: len.saturating_add(1),
                    available: line.len().saturating_sub(data_at),
                },
                "data",
                data_at,
            )
        })?;
    let data = unbase64(data).map_err(|e| RadioError {
        offset: data_at + e.offset,
        ..e
    })?;
    at = data_at + len + 1;
    let rssi = field(line, &mut at, "RSSI")?;
    let rssi = signed(rssi, at - rssi.len() - 1, "RSSI")?;
    let snr = signed(&line[at..], at, "SNR")?;
    Ok(Reply::Received {
        address,
        data,
        rssi,
        snr,
    })
}

/// The bytes from `*at` up to the next comma; `*at` moves past the comma.
fn field<'a>(line: &'a [u8], at: &mut usize, name: &'static str) -> Result<&'a [u8], RadioError> {
    let rest = &line[*at..];
    let comma = rest.iter().position(|&b| b == b',').ok_or_else(|| {
        RadioError::new(
            ErrorKind::Truncated {
                needed: 1,
                available: 0,
            },
            name,
            line.len(),
        )
    })?;
    *at += comma + 1;
    Ok(&rest[..comma])
}

fn number<T: std::str::FromStr>(s: &[u8], at: usize, name: &'static str) -> Result<T, RadioError> {
    std::str::from_utf8(s)
        .ok()
        .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            RadioError::new(
                ErrorKind::Invalid {
                    value: s.first().copied().map_or(0, u64::from),
                },
                name,
                at,
            )
        })
}

fn signed(s: &[u8], at: usize, name: &'static str) -> Result<i16, RadioError> {
    match s.strip_prefix(b"-") {
        Some(digits) => Ok(-number::<i16>(digits, at + 1, name)?),
        None => number(s, at, name),
    }
}

/// Splits the module's output into lines, dropping `\r` and empty lines.
#[derive(Debug, Default)]
pub struct Lines {
    buf: Vec<u8>,
    overlong: bool,
}

impl Lines {
    /// Feeds bytes, returning each line they complete (without `\r\n`).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for &b in bytes {
            match b {
                b'\n' => {
                    let line = std::mem::take(&mut self.buf);
                    if !std::mem::replace(&mut self.overlong, false) && !line.is_empty() {
                        out.push(line);
                    }
                }
                b'\r' => {}
                _ if self.buf.len() == MAX_LINE => self.overlong = true,
                b => self.buf.push(b),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors_from_rfc_4648_without_padding() {
        for (raw, text) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), text);
            assert_eq!(unbase64(text.as_bytes()).unwrap(), raw.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(unbase64(base64(&all).as_bytes()).unwrap(), all);
        assert!(!base64(&all).contains(','));
    }

    #[test]
    fn base64_refuses_what_no_encoder_writes() {
        assert!(unbase64(b"Zm9v!").is_err());
        assert_eq!(unbase64(b"Zm9vY").unwrap_err().field, "base64 length");
        let e = unbase64(b"Zm,v").unwrap_err();
        assert_eq!((e.field, e.offset), ("base64 character", 2));
    }

    #[test]
    fn send_lines_carry_the_encoded_length() {
        assert_eq!(send_line(0, &[0xC0, 0x01, 0x02]), b"AT+SEND=0,4,wAEC\r\n");
        assert_eq!(send_line(7, b"hi"), b"AT+SEND=7,3,aGk\r\n");
        assert_eq!(MTU, 180);
        assert_eq!(base64(&[0xAA; MTU]).len(), MAX_DATA);
    }

    #[test]
    fn bring_up_lines() {
        let s = Settings {
            address: 0,
            network_id: 18,
            freq_hz: 915_000_000,
            sf: 9,
            bw_hz: 125_000,
            cr: 5,
            preamble: 12,
            power_dbm: 22,
        };
        assert_eq!(
            bring_up(&s),
            [
                "AT",
                "AT+ADDRESS=0",
                "AT+NETWORKID=18",
                "AT+BAND=915000000",
                "AT+PARAMETER=9,7,1,12",
                "AT+CRFOP=22"
            ]
        );
        assert!(check(&s).is_ok());
        assert!(check(&Settings { sf: 10, ..s }).is_err());
        assert!(check(&Settings {
            sf: 11,
            bw_hz: 500_000,
            ..s
        })
        .is_ok());
        assert!(check(&Settings { bw_hz: 62_500, ..s }).is_err());
        assert!(check(&Settings { power_dbm: 23, ..s }).is_err());
    }

    #[test]
    fn replies() {
        assert_eq!(parse_reply(b"+OK").unwrap(), Reply::Ok);
        assert_eq!(parse_reply(b"+ERR=4").unwrap(), Reply::Err(4));
        assert_eq!(parse_reply(b"+READY").unwrap(), Reply::Ready);
        assert_eq!(
            parse_reply(b"+RCV=50,4,wAEC,-99,40").unwrap(),
            Reply::Received {
                address: 50,
                data: vec![0xC0, 0x01, 0x02],
                rssi: -99,
                snr: 40
            }
        );
        assert_eq!(
            parse_reply(b"+ADDRESS=3").unwrap(),
            Reply::Other("+ADDRESS=3".into())
        );
    }

    #[test]
    fn malformed_receive_lines_are_errors() {
        for line in [
            &b"+RCV=50,9,wAEC,-99,40"[..],
            b"+RCV=50,4,wAEC",
            b"+RCV=x,4,wAEC,-99,40",
            b"+RCV=50,4,wA!C,-99,40",
            b"+RCV=50,4,wAEC,-9x,40",
            b"+ERR=",
        ] {
            assert!(
                parse_reply(line).is_err(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        let e = parse_reply(b"+RCV=50,4,wA!C,-99,40").unwrap_err();
        assert_eq!((e.field, e.offset), ("base64 character", 12));
    }

    #[test]
    fn a_length_past_the_line_is_an_error_even_near_usize_max() {
        // Found by fuzzing: the data's end was computed unchecked.
        let max = usize::MAX.to_string();
        let line = format!("+RCV=1,{max},wAEC,-99,40");
        let e = parse_reply(line.as_bytes()).unwrap_err();
        assert_eq!((e.field, e.offset), ("data", 7 + max.len() + 1));
    }

    #[test]
    fn lines_split_on_crlf_in_any_chunking() {
        let stream = b"+OK\r\n\r\n+RCV=1,3,aGk,-40,9\r\n+ERR=2\r\n";
        let whole = Lines::default().feed(stream);
        assert_eq!(
            whole,
            [&b"+OK"[..], b"+RCV=1,3,aGk,-40,9", b"+ERR=2"].map(|l| l.to_vec())
        );
        let mut l = Lines::default();
        let bytewise: Vec<_> = stream.iter().flat_map(|b| l.feed(&[*b])).collect();
        assert_eq!(bytewise, whole);
        let mut l = Lines::default();
        let mut long = vec![b'x'; MAX_LINE + 10];
        long.extend(b"\r\n+OK\r\n");
        assert_eq!(l.feed(&long), [b"+OK".to_vec()]);
    }
}
