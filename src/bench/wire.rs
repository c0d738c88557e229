//! The bench's client side of SOLEC: connect, log in, one request at a
//! time, frames out of a read buffer, and the stamp each message carries.
//!
//! Deliberately lean (no decoding of what the bench does not look at): the
//! bench runs on the same cores as the server it measures, so every cycle
//! it spends is one the server does not get.

use crate::proto::{self, ConnType, Deframer, ErrorType, Handshake, Pdu, UserAuth};
use smol::io::{AsyncReadExt as _, AsyncWriteExt as _};
use smol::Async;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Bytes read per call.
const READ_CHUNK: usize = 64 * 1024;

/// Bytes of the stamp at the start of every message_content: the sequence
/// number (8 hex digits) and the send time (16 hex digits).
pub const STAMP_LEN: usize = 24;

/// Nanoseconds since the start of the bench, one origin for every sender,
/// receiver and phase.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Clock {
        Clock(Instant::now())
    }

    pub fn ns(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }

    pub fn instant(&self, ns: u64) -> Instant {
        self.0 + Duration::from_nanos(ns)
    }
}

/// `name@SERVER_NAME`.
pub fn address(name: &str) -> String {
    format!("{name}@{}", super::SERVER_NAME)
}

/// Writes the stamp for (`seq`, `ns`) into `out`, padded with dots to `size`.
pub fn stamp(out: &mut String, seq: u64, ns: u64, size: usize) {
    use std::fmt::Write as _;
    out.clear();
    let _ = write!(out, "{seq:08x}{ns:016x}");
    out.extend(std::iter::repeat_n('.', size.saturating_sub(STAMP_LEN)));
}

/// The (sequence number, send time) a message_content starts with.
pub fn read_stamp(content: &str) -> Option<(u64, u64)> {
    let seq = u64::from_str_radix(content.get(..8)?, 16).ok()?;
    let ns = u64::from_str_radix(content.get(8..STAMP_LEN)?, 16).ok()?;
    Some((seq, ns))
}

/// Whole frames out of the bytes read so far.
#[derive(Default)]
pub struct Frames {
    buf: Vec<u8>,
    at: usize,
    end: usize,
}

impl Frames {
    /// Reads once more from `stream`; the peer closing is an error here,
    /// since the bench never expects the server to hang up.
    pub async fn fill(&mut self, stream: &Async<TcpStream>) -> Result<(), String> {
        if self.at > 0 {
            self.buf.copy_within(self.at..self.end, 0);
            self.end -= self.at;
            self.at = 0;
        }
        if self.buf.len() < self.end + READ_CHUNK {
            self.buf.resize(self.end + READ_CHUNK, 0);
        }
        let mut reader = stream;
        match reader.read(&mut self.buf[self.end..]).await {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(n) => {
                self.end += n;
                Ok(())
            }
            Err(e) => Err(format!("read failed: {e}")),
        }
    }

    /// The next whole frame, header included.
    pub fn next_frame(&mut self) -> Option<&[u8]> {
        let rest = &self.buf[self.at..self.end];
        let len = Deframer::default().frame_len(rest).ok()??;
        let frame = rest.get(..len)?;
        self.at += len;
        Some(frame)
    }
}

/// Ok for Success, the reason for anything else.
pub fn expect_success(frame: &[u8]) -> Result<(), String> {
    match (frame[0], frame.get(3)) {
        (proto::code::SUCCESS, _) => Ok(()),
        (proto::code::ERROR, Some(&e)) => Err(format!(
            "the server refused a request: Error 0x{e:02x} ({})",
            ErrorType::from(e).describe()
        )),
        (code, _) => Err(format!("expected Success, got {}", proto::type_name(code))),
    }
}

/// One authenticated connection.
pub struct Conn {
    pub stream: Async<TcpStream>,
    pub frames: Frames,
}

impl Conn {
    /// Connects, sends Handshake and UserAuth, and waits for Success.
    pub async fn login(addr: SocketAddr, user: &str, password: &str) -> Result<Conn, String> {
        let mut conn = Conn::connect(addr).await?;
        let mut bytes = Conn::hello()?;
        let auth = Pdu::UserAuth(UserAuth {
            username: user,
            password,
        });
        auth.encode(&mut bytes).map_err(|e| e.to_string())?;
        conn.call_bytes(&bytes)
            .await
            .map_err(|e| format!("login as {user}: {e}"))?;
        Ok(conn)
    }

    /// Logs in with the password, asks for a session token, and returns
    /// it; the connection is closed.
    pub async fn issue_token(
        addr: SocketAddr,
        user: &str,
        password: &str,
    ) -> Result<[u8; proto::TOKEN_LEN], String> {
        let mut conn = Conn::login(addr, user, password).await?;
        let mut writer = &conn.stream;
        let bytes = Pdu::TokenRequest.to_vec().map_err(|e| e.to_string())?;
        writer
            .write_all(&bytes)
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        loop {
            if let Some(frame) = conn.frames.next_frame() {
                return match Pdu::decode(frame[0], &frame[proto::HEADER_LEN..]) {
                    Ok(Pdu::Token(t)) => Ok(*t.token),
                    _ => expect_success(frame)
                        .and_then(|()| Err("the server sent Success, not a Token".into())),
                };
            }
            conn.frames.fill(&conn.stream).await?;
        }
    }

    /// Connects, sends Handshake and TokenAuth, and waits for Success.
    pub async fn token_login(
        addr: SocketAddr,
        user: &str,
        token: &[u8; proto::TOKEN_LEN],
    ) -> Result<Conn, String> {
        let mut conn = Conn::connect(addr).await?;
        let mut bytes = Conn::hello()?;
        let auth = Pdu::TokenAuth(proto::TokenAuth {
            username: user,
            token,
        });
        auth.encode(&mut bytes).map_err(|e| e.to_string())?;
        conn.call_bytes(&bytes)
            .await
            .map_err(|e| format!("token login as {user}: {e}"))?;
        Ok(conn)
    }

    async fn connect(addr: SocketAddr) -> Result<Conn, String> {
        let stream = Async::<TcpStream>::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        // Small frames are the whole point; Nagle would only add delay.
        stream
            .get_ref()
            .set_nodelay(true)
            .map_err(|e| e.to_string())?;
        Ok(Conn {
            stream,
            frames: Frames::default(),
        })
    }

    /// A user Handshake's bytes.
    fn hello() -> Result<Vec<u8>, String> {
        let hello = Pdu::Handshake(Handshake {
            ver_major: proto::VERSION_MAJOR,
            ver_minor: proto::VERSION_MINOR,
            conn_type: ConnType::User,
        });
        hello.to_vec().map_err(|e| e.to_string())
    }

    /// Sends one request and waits for its Success.
    pub async fn call(&mut self, pdu: &Pdu<'_>) -> Result<(), String> {
        let bytes = pdu.to_vec().map_err(|e| e.to_string())?;
        self.call_bytes(&bytes).await
    }

    async fn call_bytes(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut writer = &self.stream;
        writer
            .write_all(bytes)
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        loop {
            if let Some(frame) = self.frames.next_frame() {
                return expect_success(frame);
            }
            self.frames.fill(&self.stream).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_at_the_requested_size() {
        let mut s = String::new();
        stamp(&mut s, 0x1234, 987_654_321, 64);
        assert_eq!(s.len(), 64);
        assert!(s.starts_with("00001234000000003ade68b1...."), "{s}");
        assert_eq!(read_stamp(&s), Some((0x1234, 987_654_321)));
        stamp(&mut s, 1, 2, STAMP_LEN);
        assert_eq!(read_stamp(&s), Some((1, 2)));
        assert_eq!(read_stamp("0000000100000000000000"), None);
    }

    #[test]
    fn frames_come_out_whole() {
        let mut f = Frames {
            buf: vec![1, 0, 0, 2, 0, 1, 3, 5, 0],
            at: 0,
            end: 9,
        };
        assert_eq!(f.next_frame(), Some(&[1, 0, 0][..]));
        assert_eq!(f.next_frame(), Some(&[2, 0, 1, 3][..]));
        assert_eq!(f.next_frame(), None);
        assert_eq!(expect_success(&[1, 0, 0]), Ok(()));
        let refused = expect_success(&[2, 0, 1, 3]).unwrap_err();
        assert!(refused.contains("0x03 (unauthorized)"), "{refused}");
    }
}
