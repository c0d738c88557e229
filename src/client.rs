//! The client side of SOLEC: log in, pipeline requests, read replies and
//! pushes. `solec send`, `history`, `contact` and `channel` are built on it.
//!
//! Two layers. [`Inbox`] is sans-IO: fed the bytes the server sent, it
//! hands back [`Event`]s, knowing which requests still wait for a reply;
//! [`parse`] is the pure function under it. [`Pager`], sans-IO too, plans
//! the History requests that read a whole conversation. [`Client`] owns
//! the socket (TCP, or TLS inside it) and pumps bytes between it and the
//! inbox. Clap types never reach here: the CLI builds a [`Login`], and
//! refusals come back as the server's [`ErrorType`] for the caller to word.
//!
//! Replies come in request order, one final Success or Error per request,
//! so any number of requests may be in flight. A Message that arrives while
//! no History reply is being read is a push. The draft gives pushes and
//! History items the same bytes, so right after logging in the client asks
//! for the HistoryItem extension (Features, 0x84): a server that turns it
//! on sends History items as HistoryItem (0x85), and any Message is a push.
//! With a server that does not, while a History reply is awaited a Message
//! is taken as an item only if it belongs to the conversation asked for; a
//! push of that very conversation can still pass for an item, and
//! [`Pager`] sorts those out while paging.

use crate::proto::{
    self, ConnType, Deframer, EncodeError, ErrorType, Handshake, Pdu, UserAuth, VERSION_MAJOR,
    VERSION_MINOR,
};
use serde::Serialize;
use smol::future::FutureExt as _;
use smol::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

/// How long connecting, the TLS handshake and the login together may take:
/// long enough for a slow link, short enough that a script does not hang on
/// a black-holed address.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server may stay silent while a reply is owed, by default
/// (a login's [`Login::reply_timeout`]): a wedged server must not hang a
/// script forever. Generous, since a reply is normally a round trip away.
/// Waiting for pushes (`history --follow`) has no limit.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a client waiting only for pushes stays quiet before it asks
/// the server something that must be answered (a Features request): that
/// shows the server it is still there, well inside the server's default
/// idle timeout of an hour, and shows the client the server is too: no
/// answer within the reply timeout ends the connection, so a follower never
/// waits forever on a server that stopped answering or a path that died.
pub const KEEPALIVE: Duration = Duration::from_secs(300);

/// The port used when `--server` names only a host (SOLEC's own port).
pub use crate::proto::DEFAULT_PORT;

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;

/// A Message, owned: a push or one item of a History reply.
///
/// The field names are the draft's, and `--json` prints this struct as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Msg {
    pub source_address: String,
    pub target_address: String,
    /// Unix seconds, UTC, as the sender set it.
    pub send_time: u64,
    pub message_content: String,
}

impl From<proto::Message<'_>> for Msg {
    fn from(m: proto::Message<'_>) -> Msg {
        Msg {
            source_address: m.source_address.to_owned(),
            target_address: m.target_address.to_owned(),
            send_time: m.send_time,
            message_content: m.message_content.to_owned(),
        }
    }
}

impl Msg {
    /// The Message PDU carrying this message.
    pub fn to_pdu(&self) -> Pdu<'_> {
        Pdu::Message(proto::Message {
            source_address: &self.source_address,
            target_address: &self.target_address,
            send_time: self.send_time,
            message_content: &self.message_content,
        })
    }
}

/// The messages one History request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conversation {
    /// Everything sent to this channel address.
    Channel(String),
    /// Everything between two users, either way.
    Direct { me: String, peer: String },
}

impl Conversation {
    /// The conversation `me` has with `target`, a user or a channel address.
    pub fn new(me: &str, target: &str) -> Conversation {
        if target.starts_with('#') {
            Conversation::Channel(target.to_owned())
        } else {
            Conversation::Direct {
                me: me.to_owned(),
                peer: target.to_owned(),
            }
        }
    }

    /// The address a History request names for this conversation.
    pub fn address(&self) -> &str {
        match self {
            Conversation::Channel(channel) => channel,
            Conversation::Direct { peer, .. } => peer,
        }
    }

    pub fn contains(&self, m: &Msg) -> bool {
        let (src, dst) = (&m.source_address, &m.target_address);
        match self {
            Conversation::Channel(channel) => dst == channel,
            Conversation::Direct { me, peer } => {
                (src == me && dst == peer) || (src == peer && dst == me)
            }
        }
    }
}

/// What the reply to one request is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Success or Error.
    Reply,
    /// Messages of the conversation sent at or after `since`, then Success;
    /// or Error.
    History {
        conversation: Conversation,
        since: u64,
    },
    /// Contact PDUs, then Success; or Error.
    Contacts,
    /// A Features PDU; or Error from a server without the extension.
    Features,
    /// A Token PDU; or Error from a server that issues none.
    Token,
}

/// One thing the server said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A Message pushed to this session: sent to me, to a channel I am in,
    /// or by my own other sessions.
    Push(Msg),
    /// One Message of the History reply being read.
    Item(Msg),
    /// One address of the ContactList reply being read.
    Contact(String),
    /// The final reply to the oldest unanswered request.
    Reply(Result<(), ErrorType>),
    /// The final reply to a Features request: what the server turned on.
    Features(u16),
    /// The final reply to a TokenRequest: the token and when it expires,
    /// or None when the server issued none.
    Token(Option<Issued>),
}

/// A session token the server issued (extension 0x8D).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issued {
    pub token: [u8; proto::TOKEN_LEN],
    /// Unix time from which it no longer logs in.
    pub expires: u64,
}

/// The server sent bytes the protocol does not allow here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads the PDU at the start of `buf`, given the oldest request still
/// waiting for its reply. `Ok(None)` until a whole PDU is there; otherwise
/// the event and the bytes it used.
///
/// `history_items` says the server sends History items as HistoryItem, so
/// a Message is always a push.
pub fn parse(
    buf: &[u8],
    waiting: Option<&Expect>,
    history_items: bool,
) -> Result<Option<(Event, usize)>, ProtocolError> {
    let decoded = Deframer::default()
        .decode(buf)
        .map_err(|e| ProtocolError(format!("malformed PDU from the server: {e}")))?;
    let Some((pdu, used)) = decoded else {
        return Ok(None);
    };
    let event = match (pdu, waiting) {
        (Pdu::Success, Some(w)) if !matches!(w, Expect::Features | Expect::Token) => {
            Event::Reply(Ok(()))
        }
        (Pdu::Error(e), Some(_)) => Event::Reply(Err(e.error_type)),
        (Pdu::Features(f), Some(Expect::Features)) => Event::Features(f.flags),
        (Pdu::Token(t), Some(Expect::Token)) => Event::Token(Some(Issued {
            token: *t.token,
            expires: t.expires,
        })),
        (Pdu::HistoryItem(m), Some(Expect::History { conversation, .. }))
            if history_items && conversation.contains(&Msg::from(m)) =>
        {
            Event::Item(m.into())
        }
        (
            Pdu::Message(m),
            Some(Expect::History {
                conversation,
                since,
            }),
        ) => {
            let m = Msg::from(m);
            if !history_items && m.send_time >= *since && conversation.contains(&m) {
                Event::Item(m)
            } else {
                Event::Push(m)
            }
        }
        (Pdu::Message(m), _) => Event::Push(m.into()),
        (Pdu::Contact(c), Some(Expect::Contacts)) => Event::Contact(c.address.to_owned()),
        (pdu, _) => {
            return Err(ProtocolError(format!(
                "unexpected {} (0x{:02x}) from the server",
                pdu.name(),
                pdu.code()
            )))
        }
    };
    Ok(Some((event, used)))
}

/// The sans-IO half of a client: buffered bytes from the server and the
/// requests still waiting for their final reply, oldest first.
#[derive(Debug, Default)]
pub struct Inbox {
    buf: Vec<u8>,
    /// Bytes of `buf` already parsed; dropped at the next `feed`, so each
    /// event costs no copy of the rest of the buffer.
    used: usize,
    waiting: VecDeque<Expect>,
    /// The server turned on HistoryItem for this session.
    history_items: bool,
}

impl Inbox {
    /// Notes a request just sent; its reply comes after all earlier ones.
    pub fn expect(&mut self, expect: Expect) {
        self.waiting.push_back(expect);
    }

    /// Requests sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.waiting.len()
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.drain(..self.used);
        self.used = 0;
        self.buf.extend_from_slice(bytes);
    }

    /// The next event, or `Ok(None)` when more bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<Event>, ProtocolError> {
        let waiting = self.waiting.front();
        let Some((event, used)) = parse(&self.buf[self.used..], waiting, self.history_items)?
        else {
            return Ok(None);
        };
        self.used += used;
        let features_refused = self.waiting.front() == Some(&Expect::Features);
        let token_refused = self.waiting.front() == Some(&Expect::Token);
        match event {
            // No token: the Error is no reply to any request of the caller's.
            Event::Reply(_) if token_refused => {
                self.waiting.pop_front();
                return Ok(Some(Event::Token(None)));
            }
            Event::Token(_) => {
                self.waiting.pop_front();
            }
            // A server without the extension: it stays off, and the Error
            // is no reply to any request of the caller's.
            Event::Reply(_) if features_refused => {
                self.waiting.pop_front();
                self.history_items = false;
                return Ok(Some(Event::Features(0)));
            }
            Event::Reply(_) => {
                self.waiting.pop_front();
            }
            Event::Features(flags) => {
                self.waiting.pop_front();
                self.history_items = flags & proto::feature::HISTORY_ITEMS != 0;
            }
            _ => {}
        }
        Ok(Some(event))
    }
}

/// One History request a [`Pager`] wants sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: u64,
    pub count: u64,
}

/// Pages through one conversation's history, sans-IO: it says which
/// History request to send next, and is given each reply's Messages.
///
/// A push of the conversation that arrives just before a reply has the
/// bytes of an item, so a reply is some pushes followed by the genuine
/// items, and only the split is unknown. Counting a push as an item would
/// move the next offset past a stored message (the server's cap on a reply
/// may be below the page asked for, so a reply's length says nothing), and
/// a push that is also in the reply would print twice.
///
/// So each page is held back until the next request confirms where it
/// ended: that request starts at the held page's last message (the anchor)
/// and must return it first, after any pushes. If it does not, the held
/// page began with pushes: the request steps back one message at a time
/// until the anchor is found, and as many leading messages of the held page
/// are pushes as steps were taken. Offsets only count messages the server
/// confirmed at their place, so none is skipped; the one overlapping
/// message per page is the price. A reply longer than asked began with
/// pushes too, and those are dropped at once.
///
/// What stays ambiguous: the anchor itself pushed just before the reply
/// that confirms it reads as a genuine repeat of it, and is shown twice.
/// Guessing the other way would drop genuinely repeated messages.
#[derive(Debug)]
pub struct Pager {
    page: u64,
    /// Messages still to hand out, besides those held (`--count`).
    left: u64,
    /// The offset of the first message not yet handed out.
    start: u64,
    /// The last reply's messages, waiting for confirmation.
    held: Vec<Msg>,
    /// Leading held messages the current request takes for pushes.
    back: usize,
    /// The most confirmed messages one reply has held: the server's cap on
    /// a reply is at least this.
    most: usize,
    done: bool,
    /// Pushes found in replies and not handed out since, oldest first.
    pushes: VecDeque<Msg>,
}

impl Pager {
    /// From `offset`, at most `count` messages (all without it), asking
    /// for `page` at a time.
    pub fn new(offset: u64, count: Option<u64>, page: u64) -> Pager {
        let left = count.unwrap_or(u64::MAX);
        Pager {
            page: page.max(1),
            left,
            start: offset,
            held: Vec::new(),
            back: 0,
            most: 0,
            done: left == 0,
            pushes: VecDeque::new(),
        }
    }

    /// The History request to send next; `None` once the history is done.
    pub fn request(&self) -> Option<Page> {
        if self.done {
            return None;
        }
        let want = self.page.min(self.left);
        if self.held.is_empty() {
            return Some(Page {
                offset: self.start,
                count: want,
            });
        }
        let anchor = self
            .start
            .saturating_add((self.held.len() - 1 - self.back) as u64);
        Some(Page {
            offset: anchor,
            count: want + 1,
        })
    }

    /// Takes the Messages of the reply to [`Pager::request`] and returns
    /// those now known to be history, oldest first.
    pub fn take(&mut self, mut reply: Vec<Msg>) -> Vec<Msg> {
        let Some(asked) = self.request() else {
            return Vec::new();
        };
        // "At most count": anything more came first, and was pushed.
        let extra = reply.len().saturating_sub(to_usize(asked.count));
        let pushed: Vec<Msg> = reply.drain(..extra).collect();
        if self.held.is_empty() {
            self.pushes.extend(pushed);
            self.hold(reply);
            return Vec::new();
        }
        self.confirm_with(pushed, reply, asked.count > 1)
    }

    /// Pushes taken out of replies that were not handed out as history
    /// afterwards (a `--count` may end it first), oldest first.
    pub fn into_pushes(self) -> Vec<Msg> {
        self.pushes.into()
    }

    /// A reply to a request that started after everything handed out.
    fn hold(&mut self, reply: Vec<Msg>) {
        self.done = reply.is_empty();
        self.left -= reply.len() as u64;
        self.held = reply;
        self.back = 0;
    }

    /// A reply that should start, after pushes, with the held anchor;
    /// `pushed` came before it, and `wanted_more` if it was asked for
    /// messages past the anchor.
    fn confirm_with(
        &mut self,
        mut pushed: Vec<Msg>,
        mut reply: Vec<Msg>,
        wanted_more: bool,
    ) -> Vec<Msg> {
        let anchor = self.held.last().expect("a held page");
        let Some(at) = reply.iter().position(|m| m == anchor) else {
            self.pushes.extend(pushed);
            return self.step_back();
        };
        pushed.extend(reply.drain(..at));
        self.most = self.most.max(reply.len());
        let fresh = reply.split_off(1);
        // The held page's pushes came before this reply's.
        let shown = self.hand_out();
        self.most = self.most.max(shown.len());
        self.pushes.extend(pushed);
        if fresh.is_empty() {
            // Fewer than asked means the end only if the cap allowed more.
            self.done = self.left == 0 || (wanted_more && self.most >= 2);
        } else {
            self.hold(fresh);
        }
        shown
    }

    /// The anchor is not where the held page put it: one more of the held
    /// messages is taken for a push. Past the last one, the held page is
    /// handed out as it came.
    fn step_back(&mut self) -> Vec<Msg> {
        if self.back + 1 < self.held.len() {
            self.back += 1;
            return Vec::new();
        }
        self.back = 0;
        self.hand_out()
    }

    /// Hands out the held page but its `back` leading pushes.
    fn hand_out(&mut self) -> Vec<Msg> {
        let mut held = std::mem::take(&mut self.held);
        let shown = held.split_off(self.back);
        self.left += self.back as u64;
        self.back = 0;
        self.pushes.extend(held);
        self.start = self.start.saturating_add(shown.len() as u64);
        // The history lists pushes in the order they came: one shown is
        // not a push still to be shown.
        for m in &shown {
            if self.pushes.front() == Some(m) {
                self.pushes.pop_front();
            }
        }
        shown
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Where and how to log in.
#[derive(Debug, Clone)]
pub struct Login {
    /// `host:port`, or `host` for [`DEFAULT_PORT`].
    pub server: String,
    /// The full address, `alice@localhost`; sent as the UserAuth username.
    pub user: String,
    /// None until it is needed, when having it would take a prompt and a
    /// session token may do instead.
    pub password: Option<String>,
    /// `Some` for TLS, holding the PEM certificates to trust besides the
    /// system's.
    pub tls: Option<Vec<u8>>,
    /// How long the server may stay silent while a reply is owed (see
    /// [`REPLY_TIMEOUT`]).
    pub reply_timeout: Duration,
    /// Where the session token for this server and user is kept; None
    /// when tokens are not used (`--no-token`).
    pub token_file: Option<std::path::PathBuf>,
}

/// Why a client could not go on. Refused requests are not errors here: they
/// come back as the server's [`ErrorType`].
#[derive(Debug)]
pub enum ClientError {
    /// The settings cannot work (a CA file that is not PEM).
    Setup(String),
    /// No connection: refused, unresolvable, TLS failed, or too slow.
    Connect(String),
    /// The connection closed or broke after it was open.
    Closed(String),
    /// The server sent nothing for the reply timeout while a reply was owed.
    Timeout(String),
    /// The server broke the protocol.
    Protocol(String),
    /// The server refused the user name or password (Error 0x01).
    AuthFailed,
    /// The server refused the session token (Error 0x01): it expired or
    /// was revoked. The password may still log in.
    TokenRefused,
    /// The server refused the login with another error.
    LoginRefused(ErrorType),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Setup(s)
            | ClientError::Connect(s)
            | ClientError::Closed(s)
            | ClientError::Timeout(s) => f.write_str(s),
            ClientError::Protocol(s) => write!(f, "protocol error: {s}"),
            ClientError::AuthFailed => write!(
                f,
                "user name or password refused: {}",
                describe(ErrorType::AuthFailed)
            ),
            ClientError::LoginRefused(e) => write!(f, "login refused: {}", describe(*e)),
            ClientError::TokenRefused => write!(
                f,
                "session token refused: {}",
                describe(ErrorType::AuthFailed)
            ),
        }
    }
}

/// `unauthorized (0x03)`: the error's meaning and its code.
pub fn describe(e: ErrorType) -> String {
    let code = u8::from(e);
    match e {
        ErrorType::Unknown(_) => format!("unknown error (0x{code:02x})"),
        known => format!("{} (0x{code:02x})", known.describe()),
    }
}

/// `host:port` from `host` or `host:port`; a bracketed or bare IPv6 address
/// without a port gets the default too.
pub fn with_port(server: &str) -> String {
    let has_port = match server.strip_prefix('[') {
        Some(rest) => rest.contains("]:"),
        None => server.matches(':').count() == 1,
    };
    match (has_port, server.contains(':') && !server.starts_with('[')) {
        (true, _) => server.to_owned(),
        (false, true) => format!("[{server}]:{DEFAULT_PORT}"),
        (false, false) => format!("{server}:{DEFAULT_PORT}"),
    }
}

/// The host part of `host:port` or `[v6]:port`: the name TLS checks.
pub fn host_of(server: &str) -> &str {
    let server = server.rsplit_once(':').map_or(server, |(host, _)| host);
    server
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(server)
}

/// Anything the client can talk through: a TCP stream or TLS over one.
trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

/// A logged-in connection.
pub struct Client {
    io: Box<dyn Io>,
    server: String,
    inbox: Inbox,
    /// Encoded requests not yet written.
    out: Vec<u8>,
    /// Pushes that arrived while a reply was awaited, oldest first.
    pushes: VecDeque<Msg>,
    reply_timeout: Duration,
    /// Quiet time before [`Client::push`] probes the server ([`KEEPALIVE`]).
    keepalive: Duration,
    /// When the probe in flight must have been answered.
    probe_deadline: Option<std::time::Instant>,
    /// The token the server issued at login, when one was asked for.
    issued: Option<Issued>,
}

/// How a [`Client::login`] proves who it is.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// UserAuth; with `want_token`, a TokenRequest follows it, and the
    /// token is in [`Client::issued`] once logged in.
    Password { password: &'a str, want_token: bool },
    /// TokenAuth, in place of UserAuth (extension 0x8E).
    Token(&'a [u8; proto::TOKEN_LEN]),
}

impl Client {
    /// Connects, sends Handshake and UserAuth, and waits for the Success,
    /// all within [`LOGIN_TIMEOUT`] or the login's reply timeout, whichever
    /// is longer: over a slow link (a LoRa radio) a login takes tens of
    /// seconds, and `--timeout` says so.
    pub async fn login(login: &Login, how: Credential<'_>) -> Result<Client, ClientError> {
        let server = with_port(&login.server);
        let deadline = LOGIN_TIMEOUT.max(login.reply_timeout);
        let too_slow = async {
            smol::Timer::after(deadline).await;
            Err(ClientError::Connect(format!(
                "{server}: no answer within {} s",
                deadline.as_secs()
            )))
        };
        Client::login_now(login, &server, how).or(too_slow).await
    }

    async fn login_now(
        login: &Login,
        server: &str,
        how: Credential<'_>,
    ) -> Result<Client, ClientError> {
        let mut client = Client {
            io: open(server, login.tls.as_deref()).await?,
            server: server.to_owned(),
            inbox: Inbox::default(),
            out: Vec::new(),
            pushes: VecDeque::new(),
            reply_timeout: login.reply_timeout,
            keepalive: KEEPALIVE,
            probe_deadline: None,
            issued: None,
        };
        // "No reply is sent to a good Handshake": it expects nothing.
        let handshake = Handshake {
            ver_major: VERSION_MAJOR,
            ver_minor: VERSION_MINOR,
            conn_type: ConnType::User,
        };
        Pdu::from(handshake)
            .encode(&mut client.out)
            .expect("a Handshake always encodes");
        let (auth, want_token) = match how {
            Credential::Password {
                password,
                want_token,
            } => {
                let auth = UserAuth {
                    username: &login.user,
                    password,
                };
                (Pdu::from(auth), want_token)
            }
            Credential::Token(token) => {
                let auth = proto::TokenAuth {
                    username: &login.user,
                    token,
                };
                (Pdu::from(auth), false)
            }
        };
        client
            .queue(&auth, Expect::Reply)
            .map_err(|_| ClientError::Setup("the user name or password is too long".into()))?;
        // Pipelined behind the login, so it costs no round trip: the
        // server reads it once the login has succeeded.
        let features = proto::Features {
            flags: proto::feature::HISTORY_ITEMS,
        };
        client
            .queue(&Pdu::Features(features), Expect::Features)
            .expect("Features always encodes");
        if want_token {
            client
                .queue(&Pdu::TokenRequest, Expect::Token)
                .expect("TokenRequest always encodes");
        }
        client.flush().await?;
        // The Features answer is taken in passing by whatever reads next;
        // a server without the extension answers Error, and it stays off.
        match client.reply().await? {
            Ok(()) => {}
            Err(ErrorType::AuthFailed) if matches!(how, Credential::Token(_)) => {
                return Err(ClientError::TokenRefused)
            }
            Err(ErrorType::AuthFailed) => return Err(ClientError::AuthFailed),
            Err(other) => return Err(ClientError::LoginRefused(other)),
        }
        if want_token {
            client.issued = client.token_reply().await?;
        }
        Ok(client)
    }

    /// Reads up to the TokenRequest's answer; pushes before it are kept.
    async fn token_reply(&mut self) -> Result<Option<Issued>, ClientError> {
        loop {
            match self.next_reply_event().await? {
                Event::Token(t) => return Ok(t),
                Event::Push(m) => self.pushes.push_back(m),
                Event::Reply(_) | Event::Item(_) | Event::Contact(_) | Event::Features(_) => {}
            }
        }
    }

    /// The session token the server issued at login, if one was asked
    /// for and given.
    pub fn issued(&self) -> Option<&Issued> {
        self.issued.as_ref()
    }

    /// Encodes a request to be written by the next [`Client::flush`]; its
    /// reply will be read as `expect` says.
    pub fn queue(&mut self, pdu: &Pdu<'_>, expect: Expect) -> Result<(), EncodeError> {
        pdu.encode(&mut self.out)?;
        self.inbox.expect(expect);
        Ok(())
    }

    /// Requests sent or queued and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.inbox.in_flight()
    }

    /// Writes every queued request. Not cancel-safe: let it finish.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let written = async {
            self.io.write_all(&self.out).await?;
            self.io.flush().await
        };
        written.await.map_err(|e| self.broken(e))?;
        self.out.clear();
        Ok(())
    }

    /// The next event from the server. Cancel-safe: dropped while it waits
    /// for bytes, it loses nothing, so it can race other futures.
    pub async fn next_event(&mut self) -> Result<Event, ClientError> {
        loop {
            match self.inbox.next_event() {
                Ok(Some(event)) => return Ok(event),
                Ok(None) => {}
                Err(e) => return Err(ClientError::Protocol(e.0)),
            }
            let mut chunk = [0u8; READ_CHUNK];
            let n = match self.io.read(&mut chunk).await {
                Ok(0) => return Err(self.closed()),
                Ok(n) => n,
                Err(e) => return Err(self.broken(e)),
            };
            self.inbox.feed(&chunk[..n]);
        }
    }

    /// The next event while a reply is owed: [`Client::next_event`], but
    /// after [`Login::reply_timeout`] with nothing from the server it gives
    /// up with [`ClientError::Timeout`]. Cancel-safe like `next_event`.
    pub async fn next_reply_event(&mut self) -> Result<Event, ClientError> {
        let timeout = self.reply_timeout;
        let silence = async {
            smol::Timer::after(timeout).await;
            None
        };
        match async { Some(self.next_event().await) }.or(silence).await {
            Some(event) => event,
            None => Err(ClientError::Timeout(format!(
                "no reply from {} within {} s",
                self.server,
                timeout.as_secs()
            ))),
        }
    }

    /// The final reply to the oldest request. Pushes that come first are
    /// kept for [`Client::push`]; items of an earlier History or
    /// ContactList reply, if the caller skipped them, are dropped.
    pub async fn reply(&mut self) -> Result<Result<(), ErrorType>, ClientError> {
        loop {
            match self.next_reply_event().await? {
                Event::Reply(r) => return Ok(r),
                Event::Push(m) => self.pushes.push_back(m),
                Event::Item(_) | Event::Contact(_) | Event::Features(_) | Event::Token(_) => {}
            }
        }
    }

    /// Sends one request that is answered by Success or Error alone.
    pub async fn request(&mut self, pdu: &Pdu<'_>) -> Result<Result<(), ErrorType>, ClientError> {
        self.queue(pdu, Expect::Reply)
            .map_err(|_| ClientError::Setup("request too long for one PDU".into()))?;
        self.flush().await?;
        self.reply().await
    }

    /// One History request: the Messages of `conversation` from `since`
    /// that arrive before its Success, skipping `offset`, at most `count`
    /// (the server may cap it lower).
    ///
    /// The draft gives pushes and History items the same bytes, so a push
    /// of this very conversation that arrives just before the reply is
    /// among the items returned: a [`Pager`] sorts them out, and hands such
    /// pushes back through [`Client::unread`].
    pub async fn history(
        &mut self,
        conversation: &Conversation,
        since: u64,
        count: u64,
        offset: u64,
    ) -> Result<Result<Vec<Msg>, ErrorType>, ClientError> {
        let request = proto::History {
            channel_address: conversation.address(),
            since,
            count: i64::try_from(count).unwrap_or(i64::MAX),
            offset: i64::try_from(offset).unwrap_or(i64::MAX),
        };
        let expect = Expect::History {
            conversation: conversation.clone(),
            since,
        };
        self.queue(&request.into(), expect)
            .map_err(|_| ClientError::Setup("address too long for one PDU".into()))?;
        self.flush().await?;
        let mut items = Vec::new();
        loop {
            match self.next_reply_event().await? {
                Event::Item(m) => items.push(m),
                Event::Push(m) => self.pushes.push_back(m),
                Event::Contact(_) | Event::Features(_) | Event::Token(_) => {}
                Event::Reply(Err(e)) => return Ok(Err(e)),
                Event::Reply(Ok(())) => return Ok(Ok(items)),
            }
        }
    }

    /// Puts back messages that came as items of a reply but were pushes,
    /// so that [`Client::push`] yields them before anything newer.
    pub fn unread(&mut self, pushes: Vec<Msg>) {
        for m in pushes.into_iter().rev() {
            self.pushes.push_front(m);
        }
    }

    /// The ContactList extension: my contacts, sorted by the server.
    pub async fn contacts(&mut self) -> Result<Result<Vec<String>, ErrorType>, ClientError> {
        self.queue(&Pdu::ContactList, Expect::Contacts)
            .expect("ContactList is empty");
        self.flush().await?;
        let mut contacts = Vec::new();
        loop {
            match self.next_reply_event().await? {
                Event::Contact(c) => contacts.push(c),
                Event::Push(m) => self.pushes.push_back(m),
                Event::Item(_) | Event::Features(_) | Event::Token(_) => {}
                Event::Reply(r) => return Ok(r.map(|()| contacts)),
            }
        }
    }

    /// The next pushed message, oldest first; kept ones come before new
    /// ones. After [`KEEPALIVE`] of quiet it probes the server, and gives up
    /// with [`ClientError::Timeout`] if the probe is not answered within the
    /// reply timeout. Cancel-safe like [`Client::next_event`].
    pub async fn push(&mut self) -> Result<Msg, ClientError> {
        if let Some(m) = self.pushes.pop_front() {
            return Ok(m);
        }
        loop {
            let timer = match self.probe_deadline {
                Some(deadline) => smol::Timer::at(deadline),
                None => smol::Timer::after(self.keepalive),
            };
            let quiet = async {
                timer.await;
                None
            };
            let Some(event) = async { Some(self.next_event().await) }.or(quiet).await else {
                if self.probe_deadline.is_some() {
                    return Err(ClientError::Timeout(format!(
                        "no answer from {} within {} s",
                        self.server,
                        self.reply_timeout.as_secs()
                    )));
                }
                self.probe().await?;
                continue;
            };
            match event? {
                Event::Push(m) => return Ok(m),
                Event::Features(_) => self.probe_deadline = None,
                // Only reachable if the caller left requests unanswered.
                Event::Item(_) | Event::Contact(_) | Event::Reply(_) | Event::Token(_) => {}
            }
        }
    }

    /// Sends a Features request asking for what is already on: every
    /// server answers it (with Features, or Error 0x82 without the
    /// extension), and it changes nothing.
    async fn probe(&mut self) -> Result<(), ClientError> {
        let features = proto::Features {
            flags: if self.inbox.history_items {
                proto::feature::HISTORY_ITEMS
            } else {
                0
            },
        };
        self.queue(&Pdu::Features(features), Expect::Features)
            .expect("Features always encodes");
        self.probe_deadline = Some(std::time::Instant::now() + self.reply_timeout);
        self.flush().await
    }

    fn closed(&self) -> ClientError {
        ClientError::Closed(format!("{} closed the connection", self.server))
    }

    fn broken(&self, e: std::io::Error) -> ClientError {
        ClientError::Closed(format!("connection to {} broke: {e}", self.server))
    }
}

/// Connects to `server` (`host:port`), inside TLS when `tls` holds the PEM
/// certificates to trust.
async fn open(server: &str, tls: Option<&[u8]>) -> Result<Box<dyn Io>, ClientError> {
    let tcp = smol::net::TcpStream::connect(server)
        .await
        .map_err(|e| ClientError::Connect(format!("cannot connect to {server}: {e}")))?;
    // Requests are small and each waits for a reply: do not delay them.
    let _ = tcp.set_nodelay(true);
    let Some(pem) = tls else {
        return Ok(Box::new(tcp));
    };
    let mut connector = async_native_tls::TlsConnector::new();
    if !pem.is_empty() {
        let ca = native_tls::Certificate::from_pem(pem)
            .map_err(|e| ClientError::Setup(format!("not a PEM certificate: {e}")))?;
        connector = connector.add_root_certificate(ca);
    }
    let stream = connector
        .connect(host_of(server), tcp)
        .await
        .map_err(|e| ClientError::Connect(format!("TLS with {server} failed: {e}")))?;
    Ok(Box::new(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(from: &str, to: &str, time: u64, text: &str) -> Msg {
        Msg {
            source_address: from.into(),
            target_address: to.into(),
            send_time: time,
            message_content: text.into(),
        }
    }

    fn bytes(pdus: &[Pdu<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for pdu in pdus {
            pdu.encode(&mut out).unwrap();
        }
        out
    }

    fn history_of(me: &str, peer: &str, since: u64) -> Expect {
        Expect::History {
            conversation: Conversation::new(me, peer),
            since,
        }
    }

    #[test]
    fn parse_waits_for_a_whole_pdu() {
        let success = bytes(&[Pdu::Success]);
        assert_eq!(parse(&success[..2], Some(&Expect::Reply), false), Ok(None));
        assert_eq!(
            parse(&success, Some(&Expect::Reply), false),
            Ok(Some((Event::Reply(Ok(())), 3)))
        );
    }

    #[test]
    fn parse_rejects_what_the_server_may_not_send() {
        // A reply with no request waiting.
        assert!(parse(&bytes(&[Pdu::Success]), None, false).is_err());
        // A Contact outside a ContactList reply.
        let contact = Pdu::Contact(proto::Contact { address: "bob@x" });
        assert!(parse(&bytes(&[contact]), Some(&Expect::Reply), false).is_err());
        // Malformed: a Success with a payload byte.
        assert!(parse(&[0x01, 0x00, 0x01, 0x00], Some(&Expect::Reply), false).is_err());
    }

    #[test]
    fn messages_outside_history_are_pushes() {
        let m = msg("bob@x", "alice@x", 5, "hi");
        let wire = bytes(&[m.to_pdu()]);
        let want = Ok(Some((Event::Push(m.clone()), wire.len())));
        assert_eq!(parse(&wire, None, false), want);
        assert_eq!(parse(&wire, Some(&Expect::Reply), false), want);
    }

    #[test]
    fn history_items_must_belong_to_the_conversation() {
        let expect = history_of("alice@x", "bob@x", 10);
        let cases = [
            (msg("bob@x", "alice@x", 10, "to me"), true),
            (msg("alice@x", "bob@x", 11, "from me"), true),
            (msg("carol@x", "alice@x", 12, "someone else"), false),
            (msg("bob@x", "alice@x", 9, "before since"), false),
            (msg("bob@x", "#c@x", 12, "a channel"), false),
        ];
        for (m, item) in cases {
            let (event, _) = parse(&bytes(&[m.to_pdu()]), Some(&expect), false)
                .unwrap()
                .unwrap();
            let want = if item { Event::Item(m) } else { Event::Push(m) };
            assert_eq!(event, want);
        }
        let channel = history_of("alice@x", "#c@x", 0);
        let m = msg("carol@x", "#c@x", 1, "in the channel");
        let (event, _) = parse(&bytes(&[m.to_pdu()]), Some(&channel), false)
            .unwrap()
            .unwrap();
        assert_eq!(event, Event::Item(m));
    }

    /// A pipelined conversation, fed one byte at a time: each reply goes to
    /// the oldest request, whatever is interleaved between them.
    #[test]
    fn inbox_matches_replies_to_requests_in_order() {
        let push = msg("carol@x", "alice@x", 1, "push");
        let item = msg("bob@x", "alice@x", 2, "item");
        let contact = Pdu::Contact(proto::Contact { address: "bob@x" });
        let not_found = Pdu::from(ErrorType::NotFound);
        let wire = bytes(&[
            Pdu::Success,
            push.to_pdu(),
            item.to_pdu(),
            push.to_pdu(),
            Pdu::Success,
            contact,
            Pdu::Success,
            not_found,
        ]);
        let mut inbox = Inbox::default();
        inbox.expect(Expect::Reply);
        inbox.expect(history_of("alice@x", "bob@x", 0));
        inbox.expect(Expect::Contacts);
        inbox.expect(Expect::Reply);
        let mut events = Vec::new();
        for b in wire {
            inbox.feed(&[b]);
            while let Some(e) = inbox.next_event().unwrap() {
                events.push(e);
            }
        }
        assert_eq!(
            events,
            [
                Event::Reply(Ok(())),
                Event::Push(push.clone()),
                Event::Item(item),
                Event::Push(push),
                Event::Reply(Ok(())),
                Event::Contact("bob@x".into()),
                Event::Reply(Ok(())),
                Event::Reply(Err(ErrorType::NotFound)),
            ]
        );
        assert_eq!(inbox.in_flight(), 0);
    }

    /// A server for a [`Pager`] to page through: messages in receive
    /// order, a cap on each reply, and pushes of new messages that arrive
    /// just before given replies, stored before or after that reply's scan.
    struct Sim {
        stored: Vec<Msg>,
        cap: u64,
        /// (before which reply, stored before its scan)
        pushes: Vec<(usize, bool)>,
        replies: usize,
    }

    impl Sim {
        fn new(n: usize, cap: u64, pushes: &[(usize, bool)]) -> Sim {
            let stored = (0..n)
                .map(|i| msg("bob@x", "alice@x", 1, &format!("m{i}")))
                .collect();
            Sim {
                stored,
                cap,
                pushes: pushes.to_vec(),
                replies: 0,
            }
        }

        /// The Messages of the reply to `page`, pushes first.
        fn answer(&mut self, page: Page) -> Vec<Msg> {
            let k = self.replies;
            self.replies += 1;
            let due: Vec<bool> = self
                .pushes
                .iter()
                .filter(|p| p.0 == k)
                .map(|p| p.1)
                .collect();
            let mut pushed = Vec::new();
            for (j, &early) in due.iter().enumerate() {
                let m = msg("bob@x", "alice@x", 2, &format!("push {k}.{j}"));
                if early {
                    self.stored.push(m.clone());
                }
                pushed.push(m);
            }
            let from = to_usize(page.offset).min(self.stored.len());
            let n = to_usize(page.count.min(self.cap));
            let items = self.stored.iter().skip(from).take(n).cloned();
            let reply: Vec<Msg> = pushed.iter().cloned().chain(items).collect();
            for (m, early) in pushed.into_iter().zip(due) {
                if !early {
                    self.stored.push(m);
                }
            }
            reply
        }
    }

    /// Runs a pager against `sim`: what it hands out, and the pushes it
    /// found but did not hand out.
    fn page_through(sim: &mut Sim, mut pager: Pager) -> (Vec<Msg>, Vec<Msg>) {
        let mut shown = Vec::new();
        for _ in 0..1000 {
            let Some(page) = pager.request() else {
                return (shown, pager.into_pushes());
            };
            shown.extend(pager.take(sim.answer(page)));
        }
        panic!("the pager did not finish");
    }

    /// Whatever the cap, the history's length and when pushes arrive, the
    /// stored messages are handed out once each, in order, nothing skipped;
    /// the only ones not handed out are pushes stored after the last scan,
    /// and those are kept for --follow.
    #[test]
    fn pager_hands_out_every_message_once() {
        // No push; one before any of the first replies; two, together or
        // apart; each stored before or after the scan of its reply (and in
        // the order pushed, as a server pushes in the order it stores).
        let mut timings: Vec<Vec<(usize, bool)>> = vec![vec![]];
        for k in 0..8 {
            for early in [true, false] {
                timings.push(vec![(k, early)]);
                for k2 in k..6 {
                    if k2 > k || early {
                        timings.push(vec![(k, early), (k2, true)]);
                    }
                    timings.push(vec![(k, early), (k2, false)]);
                }
            }
        }
        for cap in [1, 2, 3, 4, 500] {
            for n in [0, 1, 2, 3, 7, 10] {
                for pushes in &timings {
                    let mut sim = Sim::new(n, cap, pushes);
                    let (shown, left) = page_through(&mut sim, Pager::new(0, None, 500));
                    let case = format!("cap {cap}, {n} stored, pushes {pushes:?}");
                    assert_eq!([shown, left].concat(), sim.stored, "{case}");
                }
            }
        }
    }

    /// The two cases the old paging got wrong: a push before a capped page
    /// moved the offset past a stored message, and a push also stored in
    /// the last page was shown twice.
    #[test]
    fn pager_neither_skips_nor_repeats() {
        let mut sim = Sim::new(10, 3, &[(0, false)]);
        let (shown, _) = page_through(&mut sim, Pager::new(0, None, 500));
        let texts: Vec<&str> = shown.iter().map(|m| m.message_content.as_str()).collect();
        let mut want: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
        want.push("push 0.0".into());
        assert_eq!(texts, want);

        let mut sim = Sim::new(3, 500, &[(0, true)]);
        let (shown, _) = page_through(&mut sim, Pager::new(0, None, 500));
        let texts: Vec<&str> = shown.iter().map(|m| m.message_content.as_str()).collect();
        assert_eq!(texts, ["m0", "m1", "m2", "push 0.0"]);
    }

    /// --offset and --count select exactly, pushes or not; a push not
    /// handed out as history is kept for --follow.
    #[test]
    fn pager_keeps_to_offset_and_count() {
        for cap in [1, 3, 500] {
            for pushes in [&[][..], &[(0, true)], &[(1, false)]] {
                let mut sim = Sim::new(10, cap, pushes);
                let (shown, left) = page_through(&mut sim, Pager::new(2, Some(4), 500));
                let case = format!("cap {cap}, pushes {pushes:?}");
                assert_eq!(shown, sim.stored[2..6], "{case}");
                assert_eq!(left.len(), pushes.len(), "{case}");
            }
        }
        let mut sim = Sim::new(10, 500, &[]);
        assert_eq!(page_through(&mut sim, Pager::new(0, Some(0), 500)).0, []);
        assert_eq!(sim.replies, 0);
    }

    /// What it costs on a default server: one request for the page and one
    /// to confirm it, which is also the one that finds the end.
    #[test]
    fn pager_costs_one_request_more_than_the_pages() {
        let mut sim = Sim::new(37, 500, &[]);
        page_through(&mut sim, Pager::new(0, None, 500));
        assert_eq!(sim.replies, 2);
        let mut sim = Sim::new(10, 3, &[]);
        page_through(&mut sim, Pager::new(0, None, 500));
        assert_eq!(sim.replies, 6);
    }

    #[test]
    fn errors_are_named_with_their_code() {
        assert_eq!(describe(ErrorType::Unauthorized), "unauthorized (0x03)");
        assert_eq!(describe(ErrorType::TooLarge), "too large (0x81)");
        assert_eq!(describe(ErrorType::Unknown(0x99)), "unknown error (0x99)");
    }

    #[test]
    fn server_addresses() {
        assert_eq!(with_port("localhost"), "localhost:7447");
        assert_eq!(with_port("localhost:9"), "localhost:9");
        assert_eq!(with_port("::1"), "[::1]:7447");
        assert_eq!(with_port("[::1]"), "[::1]:7447");
        assert_eq!(with_port("[::1]:9"), "[::1]:9");
        assert_eq!(host_of("localhost:9"), "localhost");
        assert_eq!(host_of("127.0.0.1:9"), "127.0.0.1");
        assert_eq!(host_of("[::1]:9"), "::1");
    }

    /// A client over one end of a socket pair, with short timings; the
    /// other end plays the server.
    fn paired(keepalive_ms: u64, reply_ms: u64) -> (Client, std::os::unix::net::UnixStream) {
        let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        theirs
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let client = Client {
            io: Box::new(smol::Async::new(mine).unwrap()),
            server: "sim".into(),
            inbox: Inbox::default(),
            out: Vec::new(),
            pushes: VecDeque::new(),
            reply_timeout: Duration::from_millis(reply_ms),
            keepalive: Duration::from_millis(keepalive_ms),
            probe_deadline: None,
            issued: None,
        };
        (client, theirs)
    }

    fn read_features(server: &mut std::os::unix::net::UnixStream) {
        let mut got = [0u8; 5];
        std::io::Read::read_exact(server, &mut got).unwrap();
        assert_eq!(got, [0x84, 0x00, 0x02, 0x00, 0x00]);
    }

    /// A follower on a server that stopped answering gives up once its
    /// probe goes unanswered: after the quiet time and the reply timeout.
    #[test]
    fn push_gives_up_on_a_server_that_stopped_answering() {
        let (mut client, mut server) = paired(50, 100);
        let started = std::time::Instant::now();
        let err = smol::block_on(client.push()).unwrap_err();
        assert!(
            matches!(&err, ClientError::Timeout(m) if m == "no answer from sim within 0 s"),
            "{err:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(150));
        read_features(&mut server);
    }

    /// A server that answers each probe keeps the follower waiting, and
    /// pushes still arrive.
    #[test]
    fn push_waits_on_while_probes_are_answered() {
        let (mut client, mut server) = paired(30, 200);
        let sim = std::thread::spawn(move || {
            use std::io::Write as _;
            for _ in 0..5 {
                read_features(&mut server);
                let answer = Pdu::Features(proto::Features { flags: 0 });
                server.write_all(&bytes(&[answer])).unwrap();
            }
            let m = msg("bob@x", "alice@x", 7, "late");
            server.write_all(&bytes(&[m.to_pdu()])).unwrap();
            server
        });
        let m = smol::block_on(client.push()).unwrap();
        assert_eq!(m, msg("bob@x", "alice@x", 7, "late"));
        drop(sim.join().unwrap());
    }
}
