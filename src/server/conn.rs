//! The connection driver: owns one socket, feeds its bytes to the session
//! state machine until authentication, then forwards whole frames to the
//! hub, and writes whatever the hub queues for it.
//!
//! An idle connection holds no read buffer: it waits for readability first
//! and only then borrows memory to read into, which keeps thousands of idle
//! clients cheap.

use super::config::Limits;
use super::federation::identity::Identity;
use super::federation::link::{Accept, Acceptor};
use super::hub::{ConnId, Event, Out, Outbox, HISTORY_CHUNK};
use super::scans::Scans;
use super::session::{Action, Phase, Session};
use super::throttle::{Class, Verdict};
use crate::proto::{self, Deframer, ErrorType};
use smol::future::{self, FutureExt as _};
use smol::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use smol::Timer;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes read per call while a client is busy.
pub const READ_CHUNK: usize = 16 * 1024;

/// Bytes a TLS connection offers its first read after a pause.
pub const FIRST_READ: usize = 1024;

/// Bytes written between checks that the peer is still reading.
pub const WRITE_CHUNK: usize = 16 * 1024;

/// Bytes gathered before one socket write.
pub const WRITE_BATCH: usize = 64 * 1024;

/// Password checks running at once. Each holds argon2's 19 MiB; more in
/// parallel than there are cores only adds memory, never speed, and a
/// flood of logins must not be able to exhaust a Pi's RAM. The rest wait,
/// logins from addresses that have not been failing first
/// ([`super::checks`]).
pub const MAX_PASSWORD_CHECKS: usize = 4;

/// State every connection shares: the hub's queue and the limits.
pub struct Shared {
    pub hub: smol::channel::Sender<Event>,
    /// Replaced on SIGHUP; read (copied) under a lock held for no longer.
    limits: std::sync::RwLock<Limits>,
    password_checks: Arc<super::checks::Pool>,
    /// Failed logins and the waits they earn; held for a table update.
    throttle: std::sync::Mutex<super::throttle::Throttle>,
    next_id: AtomicU64,
    /// Connections alive now, for the drain at shutdown.
    pub live: AtomicUsize,
    /// Who may connect; its lock is held for a table lookup, never IO.
    pub admission: std::sync::Mutex<super::admission::Admission>,
    /// Yields (with an error) once the server is stopping: its sender is
    /// dropped then, which wakes every waiting receiver at once.
    pub stopping: smol::channel::Receiver<()>,
    /// This server's name and key, for the link handshake.
    pub name: String,
    pub identity: Arc<Identity>,
}

impl Shared {
    /// The limits in force now.
    pub fn limits(&self) -> Limits {
        *self.limits.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts new limits in force for what connections do from now on.
    pub fn set_limits(&self, limits: Limits, rules: super::admission::Rules) {
        *self.limits.write().unwrap_or_else(|e| e.into_inner()) = limits;
        let throttle = super::throttle::Rules::new(&limits, rules.trusted.clone());
        self.throttle().set_rules(throttle);
        self.admission().set_rules(rules);
    }

    /// The failed-login table, locked.
    fn throttle(&self) -> std::sync::MutexGuard<'_, super::throttle::Throttle> {
        // Each update leaves it whole; a panic cannot break it.
        self.throttle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The admission table, locked.
    pub fn admission(&self) -> std::sync::MutexGuard<'_, super::admission::Admission> {
        // A panic while holding it cannot leave the counts invalid.
        self.admission.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn new(
        hub: smol::channel::Sender<Event>,
        limits: Limits,
        rules: super::admission::Rules,
        stopping: smol::channel::Receiver<()>,
        name: String,
        identity: Arc<Identity>,
    ) -> Shared {
        Shared {
            name,
            identity,
            hub,
            limits: std::sync::RwLock::new(limits),
            password_checks: super::checks::Pool::new(MAX_PASSWORD_CHECKS),
            throttle: std::sync::Mutex::new(super::throttle::Throttle::new(
                super::throttle::Rules::new(&limits, rules.trusted.clone()),
            )),
            next_id: AtomicU64::new(1),
            live: AtomicUsize::new(0),
            admission: std::sync::Mutex::new(super::admission::Admission::new(rules)),
            stopping,
        }
    }
}

/// A byte source that can say when it has data without a buffer.
pub trait Inbound: AsyncRead + Unpin {
    fn readable(&mut self) -> impl Future<Output = io::Result<()>>;

    /// Bytes to offer the first read after a pause. A source whose
    /// `readable` really waits can take a full chunk; one that cannot
    /// wait would hold that buffer while its peer is idle.
    fn first_read(&self) -> usize {
        READ_CHUNK
    }
}

/// Serves one connection from `peer` until it closes. It must be logged
/// in by `deadline`, counted from when it was accepted.
///
/// This and the loops below are plain functions that return an `async
/// move` block rather than `async fn`s: an `async fn` keeps each argument
/// twice in its future (as passed and as its local), and every idle
/// connection is a task made of these futures.
pub fn serve<'a, R: Inbound + 'a, W: AsyncWrite + Unpin + 'a>(
    reader: R,
    writer: W,
    peer: IpAddr,
    deadline: Instant,
    shared: &'a Shared,
) -> impl Future<Output = ()> + 'a {
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = super::outbox::new();
    // Not an async block around `.await`s of these two: awaiting a future
    // an async block holds moves it, and its room would be taken twice.
    // The reader never ends (it waits once it is done); the writer ends
    // the connection.
    write_loop(id, rx, writer, shared).or(read_loop(
        Login { id, peer, deadline },
        reader,
        tx,
        shared,
    ))
}

/// Writes what the hub queues until the connection closes, then detaches
/// it.
fn write_loop<'a, W: AsyncWrite + Unpin + 'a>(
    id: ConnId,
    rx: super::outbox::Inbox,
    mut w: W,
    shared: &'a Shared,
) -> impl Future<Output = ()> + 'a {
    let timeout = shared.limits().write_timeout;
    let low_water = shared.limits().reply_budget / 2;
    async move {
        'writing: {
            while let Some(first) = rx.recv().await {
                // Boxed: an idle connection waits in `recv`, and its task
                // should not carry room for a write in progress (its
                // timer, the chunking) for good. One allocation per batch,
                // not per item.
                match Box::pin(write_batch(first, &rx, &mut w, timeout)).await {
                    Ok(false) => {}
                    Ok(true) => break,
                    Err(e) => {
                        match e.kind() {
                            io::ErrorKind::TimedOut => log::warn!("closing a connection: {e}"),
                            _ => log::debug!("closing a connection: {e}"),
                        }
                        break 'writing;
                    }
                }
                let resume = rx.resume_due(low_water);
                if resume && !to_hub(&shared.hub, Event::Resume { conn: id }).await {
                    break 'writing;
                }
            }
            let _ = w.close().await;
        }
        to_hub(&shared.hub, Event::Detach { conn: id }).await;
    }
}

/// Gathers `first` and what else is queued, up to [`WRITE_BATCH`] bytes,
/// and writes it; true if the batch ended with a Close.
async fn write_batch<W: AsyncWrite + Unpin>(
    first: Out,
    rx: &super::outbox::Inbox,
    w: &mut W,
    timeout: Duration,
) -> io::Result<bool> {
    let mut buf = Vec::new();
    let mut next = Some(first);
    let mut close = false;
    while let Some(out) = next.take() {
        match out {
            Out::Shared(bytes) => buf.extend_from_slice(&bytes),
            Out::Static(bytes) => buf.extend_from_slice(bytes),
            Out::History(history) => {
                // Boxed: a batch of small replies must not carry room for
                // a History stream's state.
                let history = write_history(w, &mut buf, *history, timeout);
                Box::pin(history).await?;
            }
            Out::Stream(chunks) => {
                Box::pin(write_stream(w, &mut buf, chunks, timeout)).await?;
            }
            Out::Owned(bytes) if buf.is_empty() => buf = bytes,
            Out::Owned(bytes) => buf.extend_from_slice(&bytes),
            Out::Close => {
                close = true;
                break;
            }
        }
        if buf.len() < WRITE_BATCH {
            next = rx.try_recv();
        }
    }
    write_or_give_up(w, &buf, timeout).await?;
    Ok(close)
}

/// Whose turn it is to read History chunks, server-wide.
static SCANS: std::sync::LazyLock<Scans> = std::sync::LazyLock::new(Scans::default);

/// Streams a History reply after what `buf` holds: one chunk of at most
/// [`HISTORY_CHUNK`] bytes read at a time, each from a fresh snapshot and
/// in `by`'s turn (see [`super::scans`]), so a client that reads slowly
/// holds one chunk and pins no old pages. Ends with Success; with Error
/// 0x81 if the reply reached `max_history_scan`; with Error 0x83 if the
/// store fails.
async fn write_history<W: AsyncWrite + Unpin>(
    w: &mut W,
    buf: &mut Vec<u8>,
    history: super::outbox::HistoryOut,
    timeout: Duration,
) -> io::Result<()> {
    let super::outbox::HistoryOut {
        store,
        mut cursor,
        items,
        by,
    } = history;
    while !cursor.done() {
        let permit = SCANS.turn(&by).await;
        let store = store.clone();
        let read = smol::unblock(move || {
            let mut chunk = Vec::new();
            let res = store.history_reader(&cursor).and_then(|r| {
                r.history_chunk(&mut cursor, HISTORY_CHUNK, &mut chunk, |pdu, out| {
                    let at = out.len();
                    out.extend_from_slice(pdu);
                    if items {
                        out[at] = proto::code::HISTORY_ITEM;
                    }
                })
            });
            (res, cursor, chunk)
        });
        let (res, next, chunk) = read.await;
        drop(permit);
        if let Err(e) = res {
            log::error!("history read failed: {e}");
            buf.extend_from_slice(&proto::error_frame(ErrorType::ServerError));
            return Ok(());
        }
        cursor = next;
        buf.extend_from_slice(&chunk);
        if buf.len() >= WRITE_BATCH {
            write_or_give_up(w, buf, timeout).await?;
            buf.clear();
        }
    }
    if cursor.cut() {
        buf.extend_from_slice(&proto::error_frame(ErrorType::TooLarge));
    } else {
        buf.extend_from_slice(&proto::SUCCESS_PDU);
    }
    Ok(())
}

/// Streams a History reply another server gives, after what `buf`
/// holds, chunk by chunk as it arrives.
async fn write_stream<W: AsyncWrite + Unpin>(
    w: &mut W,
    buf: &mut Vec<u8>,
    chunks: smol::channel::Receiver<super::outbox::Chunk>,
    timeout: Duration,
) -> io::Result<()> {
    use super::outbox::Chunk;
    loop {
        match chunks.recv().await {
            Ok(Chunk::More(bytes)) => buf.extend_from_slice(&bytes),
            Ok(Chunk::Done(bytes)) => {
                buf.extend_from_slice(&bytes);
                return Ok(());
            }
            Err(_) => {
                buf.extend_from_slice(&proto::error_frame(ErrorType::ServerError));
                return Ok(());
            }
        }
        // What the peer sent so far goes out now: it may be slow.
        if buf.len() >= WRITE_BATCH || chunks.is_empty() {
            write_or_give_up(w, buf, timeout).await?;
            buf.clear();
        }
    }
}

/// Writes `buf`, failing if any `WRITE_CHUNK` of it makes no progress for
/// `timeout`: a peer that stops reading is let go instead of holding its
/// queued replies forever.
async fn write_or_give_up<W: AsyncWrite + Unpin>(
    w: &mut W,
    buf: &[u8],
    timeout: Duration,
) -> io::Result<()> {
    for chunk in buf.chunks(WRITE_CHUNK) {
        let stalled = async {
            Timer::after(timeout).await;
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "peer stopped reading",
            ))
        };
        async { w.write_all(chunk).await }.or(stalled).await?;
    }
    w.flush().await
}

/// Who a connection is before it logs in.
#[derive(Debug, Clone, Copy)]
struct Login {
    id: ConnId,
    peer: IpAddr,
    /// When it must be logged in.
    deadline: Instant,
}

/// Reads until EOF, error, timeout or a refusal; always detaches, then
/// waits for good, so that the writer drains what the hub still queues.
#[allow(clippy::manual_async_fn)] // an async fn keeps its arguments twice: see `serve`
fn read_loop<'a, R: Inbound + 'a>(
    login: Login,
    mut reader: R,
    out: Outbox,
    shared: &'a Shared,
) -> impl Future<Output = ()> + 'a {
    async move {
        let mut buf = Vec::new();
        // Set once the connection turns out to be a server's: its
        // handshake running out of time is then a failed proof, Error 0x03.
        let linking = AtomicBool::new(false);
        let signing_in = authenticate(login, &mut reader, &mut buf, &out, shared, &linking);
        let expired = async {
            Timer::at(login.deadline).await;
            false
        };
        let stopping = async {
            // The server drops the sender when it stops.
            let _ = shared.stopping.recv().await;
            false
        };
        // Boxed: the login's state is large and short-lived, and an idle
        // session should not carry room for it in its task for good.
        let logged_in = Box::pin(signing_in.or(expired).or(stopping)).await;
        if logged_in {
            forward(login.id, &mut reader, &mut buf, &out, shared).await;
        } else if linking.load(Ordering::Relaxed) && Instant::now() >= login.deadline {
            log::info!("conn {}: a server's link handshake timed out", login.id);
            refuse(&out, ErrorType::Unauthorized);
        } else {
            let _ = out.try_send(Out::Close);
        }
        to_hub(&shared.hub, Event::Detach { conn: login.id }).await;
        // The writer ends once every sender of its queue is gone, this
        // one too; the socket's read half goes with it.
        drop(out);
        drop(reader);
        future::pending::<()>().await
    }
}

fn refuse(out: &Outbox, e: ErrorType) {
    let _ = out.try_send(Out::Owned(super::hub::error_pdu(e)));
    let _ = out.try_send(Out::Close);
}

/// Runs the client sequence; true once the hub has the session. The caller
/// bounds it with the handshake deadline and closes on false.
async fn authenticate<R: Inbound>(
    login: Login,
    reader: &mut R,
    buf: &mut Vec<u8>,
    out: &Outbox,
    shared: &Shared,
    linking: &AtomicBool,
) -> bool {
    let Login { id, deadline, .. } = login;
    let deframer = Deframer::with_max_payload(shared.limits().max_pdu_bytes);
    let mut session = Session::default();
    loop {
        let mut done = 0;
        while session.phase() != Phase::Ready {
            let (action, used) = match deframer.decode(&buf[done..]) {
                Ok(Some((pdu, used))) => (session.on_pdu(&pdu), used),
                Ok(None) => break,
                Err(_) => (session.on_malformed(), 0),
            };
            let verdict = match action {
                Action::Link => {
                    buf.drain(..done + used);
                    linking.store(true, Ordering::Relaxed);
                    return accept_link(id, reader, buf, out, shared, deadline).await;
                }
                Action::Nothing => Action::Nothing,
                Action::Refuse(e) => Action::Refuse(e),
                Action::Close => Action::Close,
                Action::Verify { .. } | Action::VerifyToken { .. } => {
                    let Some((u, secret)) = Secret::of(&action) else {
                        return false;
                    };
                    // The hub is gone only when the server stops.
                    let Ok(user) = check_login(login, u, secret, shared).await else {
                        return false;
                    };
                    let action = session.on_verified(user.is_some());
                    if let Some(user) = user {
                        // Sessions from trusted networks skip the rate limit.
                        let trusted = shared.admission().is_trusted(login.peer);
                        let attach = Event::Attach {
                            conn: id,
                            user,
                            trusted,
                            out: out.clone(),
                        };
                        if shared.hub.send(attach).await.is_err() {
                            return false;
                        }
                    }
                    action
                }
            };
            done += used;
            match verdict {
                Action::Refuse(e) => {
                    refuse(out, e);
                    return false;
                }
                Action::Close => return false,
                _ => {}
            }
        }
        buf.drain(..done);
        if session.phase() == Phase::Ready {
            return true;
        }
        if !matches!(read_login(reader, buf).await, Ok(n) if n > 0) {
            return false;
        }
    }
}

/// Bytes read at a time before login. Handshake and a UserAuth are a few
/// dozen bytes; a connection that has not logged in must not hold a
/// [`READ_CHUNK`] buffer while it waits, as thousands may.
pub const LOGIN_READ: usize = 256;

/// [`read_more`] before login: at most [`LOGIN_READ`] bytes, into a
/// buffer that grows only by what arrives.
async fn read_login<R: Inbound>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<usize> {
    reader.readable().await?;
    let start = buf.len();
    buf.resize(start + LOGIN_READ, 0);
    let res = reader.read(&mut buf[start..]).await;
    buf.truncate(start + *res.as_ref().unwrap_or(&0));
    res
}

/// Runs the accepting end of the link handshake after a server's
/// Handshake; true once the hub has the peer session. Like a login, it is
/// bounded by the caller's deadline.
async fn accept_link<R: Inbound>(
    id: ConnId,
    reader: &mut R,
    buf: &mut Vec<u8>,
    out: &Outbox,
    shared: &Shared,
    deadline: Instant,
) -> bool {
    let mut nonce = [0u8; proto::NONCE_LEN];
    if let Err(e) = getrandom::getrandom(&mut nonce) {
        log::error!("conn {id}: no randomness for a link nonce: {e}");
        return false;
    }
    let mut link = Acceptor::new(&shared.name, shared.identity.clone(), nonce, deadline);
    let deframer = Deframer::with_max_payload(shared.limits().max_pdu_bytes);
    loop {
        let mut done = 0;
        loop {
            let (mut action, used) = match deframer.decode(&buf[done..]) {
                Ok(Some((pdu, used))) => (link.on_pdu(Instant::now(), &pdu), used),
                Ok(None) => break,
                Err(_) => (Accept::Refuse(ErrorType::BadRequest), 0),
            };
            done += used;
            if let Accept::Lookup(name) = action {
                let Some(key) = peer_key(name, shared).await else {
                    return false;
                };
                action = link.on_key(Instant::now(), key);
            }
            match action {
                Accept::Nothing | Accept::Lookup(_) => {}
                Accept::Send(bytes) => {
                    let _ = out.try_send(Out::Owned(bytes));
                }
                Accept::Refuse(e) => {
                    // Recorded first, so a `federate list` after the close
                    // shows it.
                    if let Some((name, why)) = link.refused_peer() {
                        record_refusal(name, why, shared).await;
                    }
                    refuse(out, e);
                    return false;
                }
                Accept::Up(name) => {
                    buf.drain(..done);
                    let attach = Event::AttachPeer {
                        conn: id,
                        name,
                        out: out.clone(),
                    };
                    return shared.hub.send(attach).await.is_ok();
                }
            }
        }
        buf.drain(..done);
        if !matches!(read_more(reader, buf).await, Ok(n) if n > 0) {
            return false;
        }
    }
}

/// Records why a known peer's link was refused, for `federate list`.
async fn record_refusal(name: &str, why: &str, shared: &Shared) {
    let (tx, _) = smol::channel::bounded(1);
    let command = super::hub::Admin::PeerOutcome {
        name: name.to_owned(),
        at: crate::time::now(),
        error: Some(why.to_owned()),
    };
    let command = Box::new(command);
    let _ = shared.hub.send(Event::Admin { command, reply: tx }).await;
}

/// The key of known peer `name`, from the hub; None when the hub is gone.
async fn peer_key(name: String, shared: &Shared) -> Option<Option<[u8; 32]>> {
    let (tx, rx) = smol::channel::bounded(1);
    let ask = Event::PeerKey { name, reply: tx };
    shared.hub.send(ask).await.ok()?;
    rx.recv().await.ok()
}

/// The hub has stopped: the server is shutting down.
struct HubGone;

/// What a login presents: a UserAuth's password, or a TokenAuth's token.
enum Secret {
    Password(String),
    Token([u8; proto::TOKEN_LEN]),
}

impl Secret {
    /// The user name and secret a login action asks to check; None for
    /// any other action.
    fn of(action: &Action<'_>) -> Option<(String, Secret)> {
        match action {
            Action::Verify { username, password } => {
                Some((username.to_string(), Secret::Password(password.to_string())))
            }
            Action::VerifyToken { username, token } => {
                Some((username.to_string(), Secret::Token(**token)))
            }
            _ => None,
        }
    }
}

/// The user's canonical name when the password or token is right. Unknown
/// users' passwords are checked against a fixed hash so both failures take
/// the same time.
///
/// The throttle decides first, before anything costs CPU: the attempt
/// waits out its address's and account's failures, or is refused
/// unchecked when that would take past its deadline. Tokens go through it
/// like passwords (a wrong token is a failed login), but not through the
/// argon2 pool: a token costs one SHA-256 and a lookup.
async fn check_login(
    login: Login,
    username: String,
    secret: Secret,
    shared: &Shared,
) -> Result<Option<String>, HubGone> {
    let now = Instant::now();
    let budget = login.deadline.saturating_duration_since(now);
    let verdict = {
        let mut throttle = shared.throttle();
        let verdict = throttle.attempt(now, login.peer, &username, budget);
        if let Some(line) = throttle.report(now) {
            log::warn!("{line}");
        }
        verdict
    };
    let class = match verdict {
        Verdict::Refuse => return Ok(None),
        Verdict::Check { wait, class } => {
            if !wait.is_zero() {
                Timer::after(wait).await;
            }
            class
        }
    };
    // Reports the outcome however this ends: a login abandoned at its
    // deadline counts as failed.
    let mut attempt = Attempt {
        shared,
        peer: login.peer,
        username: &username,
        ok: false,
    };
    let user = match secret {
        Secret::Password(password) => verify(username.clone(), password, class, shared).await?,
        Secret::Token(token) => verify_token(username.clone(), &token, shared).await?,
    };
    attempt.ok = user.is_some();
    Ok(user)
}

/// Asks the hub whether `token` is a live token of `username`. Only its
/// hash leaves this task.
async fn verify_token(
    username: String,
    token: &[u8; proto::TOKEN_LEN],
    shared: &Shared,
) -> Result<Option<String>, HubGone> {
    let (tx, rx) = super::reply::channel();
    let check = super::hub::TokenCheck {
        username,
        hash: super::tokens::hash(token),
        reply: tx,
    };
    let event = Event::TokenLogin(Box::new(check));
    shared.hub.send(event).await.map_err(|_| HubGone)?;
    rx.recv().await.map_err(|_| HubGone)
}

/// A login attempt the throttle let through, told of when dropped.
struct Attempt<'a> {
    shared: &'a Shared,
    peer: IpAddr,
    username: &'a str,
    ok: bool,
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut throttle = self.shared.throttle();
        throttle.finished(Instant::now(), self.peer, self.username, self.ok);
    }
}

/// Looks the user up and checks the password in the pool, in `class`.
async fn verify(
    username: String,
    password: String,
    class: Class,
    shared: &Shared,
) -> Result<Option<String>, HubGone> {
    let (tx, rx) = super::reply::channel();
    let lookup = Event::Lookup {
        username,
        reply: tx,
    };
    shared.hub.send(lookup).await.map_err(|_| HubGone)?;
    let found = rx.recv().await.map_err(|_| HubGone)?;
    // The permit goes with the check onto its thread: a login abandoned
    // at its deadline must not free the slot while argon2 still runs.
    let slot = shared.password_checks.acquire(class).await;
    let bounds = shared.limits().argon2_bounds();
    Ok(smol::unblock(move || {
        let _slot = slot;
        let hash = found
            .as_ref()
            .map_or(&*super::passwords::DECOY_HASH, |(_, h)| h);
        // A stored hash over the bounds is never run: each attempt would
        // take the memory it names.
        let ok = super::passwords::verify(&password, hash, &bounds).unwrap_or_else(|e| {
            let name = found.as_ref().map_or("", |(n, _)| n.as_str());
            log::warn!("login of {name} refused unchecked: its stored password hash: {e}");
            false
        });
        found.filter(|_| ok).map(|(name, _)| name)
    })
    .await)
}

/// After authentication: hand every whole frame to the hub, in order.
#[allow(clippy::manual_async_fn)] // an async fn keeps its arguments twice: see `serve`
fn forward<'a, R: Inbound>(
    id: ConnId,
    reader: &'a mut R,
    buf: &'a mut Vec<u8>,
    out: &'a Outbox,
    shared: &'a Shared,
) -> impl Future<Output = ()> + 'a {
    async move {
        let deframer = Deframer::with_max_payload(shared.limits().max_pdu_bytes);
        loop {
            let (whole, malformed) = whole_frames(&deframer, buf);
            if whole > 0 {
                // The usual case, no partial frame left: hand over the buffer
                // itself instead of copying it.
                let bytes = match whole == buf.len() {
                    true => std::mem::take(buf),
                    false => buf.drain(..whole).collect(),
                };
                if !to_hub(&shared.hub, Event::Frames { conn: id, bytes }).await {
                    return;
                }
            }
            if malformed {
                to_hub(&shared.hub, Event::Malformed { conn: id }).await;
                return;
            }
            if buf.is_empty() {
                // Idle: hold no memory until the peer speaks again.
                *buf = Vec::new();
            }
            // A client that sends requests without reading the replies is not
            // read from until it catches up, nor while the hub holds requests
            // of it back, so its replies and its input stay bounded.
            // Only the two numbers wait with the connection, not all limits.
            let (queue, budget) = {
                let limits = shared.limits();
                (limits.max_outbound_queue, limits.reply_budget)
            };
            if !out.wait_for_room(queue, budget).await {
                return;
            }
            match read_more(reader, buf).await {
                Ok(0) => {
                    if !buf.is_empty() {
                        log::debug!("conn {id}: closed inside a PDU ({} bytes)", buf.len());
                    }
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    log::debug!("conn {id}: read failed: {e}");
                    return;
                }
            }
        }
    }
}

/// Sends `event` to the hub: at once while its queue has room, as it
/// nearly always has, else through a boxed wait. False once the hub is
/// gone.
///
/// Not `hub.send(event).await`: a task holds room for that future, the
/// event inside it, at each place it may wait, and every idle connection
/// is such a task. This one is two words.
fn to_hub(hub: &smol::channel::Sender<Event>, event: Event) -> ToHub<'_> {
    match hub.try_send(event) {
        Ok(()) => ToHub::Done(true),
        Err(smol::channel::TrySendError::Closed(_)) => ToHub::Done(false),
        Err(smol::channel::TrySendError::Full(event)) => ToHub::Waiting(Box::pin(hub.send(event))),
    }
}

/// See [`to_hub`].
enum ToHub<'a> {
    Done(bool),
    Waiting(std::pin::Pin<Box<smol::channel::Send<'a, Event>>>),
}

impl Future for ToHub<'_> {
    type Output = bool;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<bool> {
        match self.get_mut() {
            ToHub::Done(sent) => std::task::Poll::Ready(*sent),
            ToHub::Waiting(send) => send.as_mut().poll(cx).map(|r| r.is_ok()),
        }
    }
}

/// Length of the run of whole frames at the start of `buf`, and whether
/// the frame after them announces a payload over the limit.
fn whole_frames(deframer: &Deframer, buf: &[u8]) -> (usize, bool) {
    let mut at = 0;
    loop {
        match deframer.frame_len(&buf[at..]) {
            Ok(Some(len)) if at + len <= buf.len() => at += len,
            Ok(_) => return (at, false),
            Err(_) => return (at, true),
        }
    }
}

/// Waits for data, then reads what is there; 0 means EOF.
///
/// Without room for a full chunk it offers the reader's `first_read`
/// bytes, and makes room for a full chunk if that small read fills.
async fn read_more<R: Inbound>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<usize> {
    reader.readable().await?;
    let start = buf.len();
    let busy = buf.capacity() >= start + READ_CHUNK;
    let size = if busy {
        READ_CHUNK
    } else {
        reader.first_read()
    };
    buf.resize(start + size, 0);
    let res = reader.read(&mut buf[start..]).await;
    let read = *res.as_ref().unwrap_or(&0);
    buf.truncate(start + read);
    if read == size && size < READ_CHUNK {
        buf.reserve(READ_CHUNK);
    }
    res
}
