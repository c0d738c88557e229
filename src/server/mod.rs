//! `solec serve`: the SOLEC server.
//!
//! Data flows one way: socket → [`conn`] (owns the socket) → [`session`]
//! (authentication) → [`hub`] (one thread owning the [`state`] directory,
//! the store and the online sessions) → replies and pushes → [`conn`].
//! [`admin`] is the local socket `solec user` and `solec federate` talk to
//! while the server runs; [`federation`] holds the server's key and the
//! handshake that proves it to peer servers.

pub mod admin;
pub mod admission;
mod checks;
pub mod config;
pub mod conn;
pub mod core;
pub mod federation;
pub mod hub;
mod notify;
mod outbox;
pub mod passwords;
pub mod rate;
mod reload;
mod reply;
mod scans;
pub mod session;
pub mod state;
pub mod throttle;
mod tls;
pub mod tokens;

use crate::store::Store;
use config::Config;
use conn::{Inbound, Shared};
use hub::{Event, Hub};
use smol::future::FutureExt as _;
use smol::{Async, Timer};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a stopping server waits for queued replies to be written.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the server until SIGINT or SIGTERM. On SIGHUP it calls `reread`
/// for the config as it is now and puts in force what can change while
/// running (see [`reload`]).
pub fn run(config: Config, reread: reload::Reread) -> Result<(), String> {
    fixed_mmap_threshold();
    // Without randomness there is no safe decoy: stop now, not at a login.
    std::sync::LazyLock::force(&passwords::DECOY_HASH);
    config.create_data_dir()?;
    let store = Store::open(
        &config.store_path(),
        &config.name,
        config.limits.store_cache_bytes,
    )
    .map_err(|e| e.to_string())?;
    let identity = Arc::new(federation::identity::Identity::load_or_create(
        &config.data,
    )?);
    let mut hub = Hub::new(store, config.limits).map_err(|e| e.to_string())?;
    hub.configure_peers(config.peers()?);
    let store = hub.store();
    let listeners = bind_all(&config)?;
    let acceptor = config.tls.as_ref().map(tls::acceptor).transpose()?;
    let acceptor = Arc::new(std::sync::RwLock::new(acceptor));
    let admin = bind_admin(&config)?;
    let stop = crate::signals::interrupted()?;
    let hangups = crate::signals::hangups()?;

    let (events, queue) = smol::channel::bounded(hub::EVENT_QUEUE);
    let (stopping_tx, stopping) = smol::channel::bounded::<()>(1);
    hub.relaying(hub::Relaying {
        own_name: config.name.clone(),
        identity: identity.clone(),
        events: events.clone(),
    });
    let hub_thread = std::thread::Builder::new()
        .name("solec-hub".into())
        .spawn(move || hub.run(queue))
        .map_err(|e| format!("cannot start the hub thread: {e}"))?;
    let rules = config.admission_rules();
    let shared = Arc::new(Shared::new(
        events.clone(),
        config.limits,
        rules,
        stopping,
        config.name.clone(),
        identity.clone(),
    ));
    let pinger = admin::Pinger {
        name: config.name.clone(),
        identity,
        timeout: config.limits.handshake_timeout,
    };
    log::info!("serving {} from {}", config.name, config.data.display());
    notify::ready(&config.name);

    smol::block_on(async {
        let mut tasks = vec![
            smol::spawn(admin::serve(admin, events.clone(), pinger, store)),
            smol::spawn(tick(events.clone(), tick_interval(&config.limits))),
            smol::spawn(trim_heap()),
        ];
        for (listener, tls) in listeners {
            let acceptor = tls.then(|| acceptor.clone());
            tasks.push(smol::spawn(accept_loop(listener, acceptor, shared.clone())));
        }
        let reloading = reload::Reloader {
            running: config.clone(),
            reread,
            shared: shared.clone(),
            acceptor: acceptor.clone(),
        };
        tasks.push(smol::spawn(reloading.run(hangups)));
        let _ = stop.recv().await;
        log::info!("stopping: finishing queued replies");
        for task in tasks {
            task.cancel().await;
        }
        // Connections still logging in close now.
        drop(stopping_tx);
        let _ = events.send(Event::Shutdown).await;
        let drained = async {
            while shared.live.load(Ordering::Relaxed) > 0 {
                Timer::after(Duration::from_millis(10)).await;
            }
        };
        drained
            .or(async {
                Timer::after(DRAIN_TIMEOUT).await;
            })
            .await;
    });
    drop(shared);
    drop(events);
    let store = hub_thread
        .join()
        .map_err(|_| "the hub thread panicked".to_owned())?;
    // The store closes when the last History read still running lets go.
    drop(store);
    let _ = std::fs::remove_file(config.admin_socket());
    log::info!("stopped");
    Ok(())
}

/// How often, at most, the core is told the time, to close idle sessions.
pub const TICK: Duration = Duration::from_secs(10);

/// Ticks often enough that a session is closed within half its idle
/// timeout of expiring.
fn tick_interval(limits: &config::Limits) -> Duration {
    limits
        .idle_timeout
        .map_or(TICK, |t| (t / 2).clamp(Duration::from_millis(100), TICK))
}

async fn tick(events: smol::channel::Sender<Event>, every: Duration) {
    loop {
        Timer::after(every).await;
        if events.send(Event::Tick).await.is_err() {
            return;
        }
    }
}

/// Keeps glibc from hoarding freed password-hash memory.
///
/// Each argon2 check allocates 19 MiB. glibc raises its mmap threshold after
/// such a block is freed, so later ones come from per-thread arenas that are
/// never given back: a burst of logins would leave hundreds of MiB resident.
/// A fixed threshold keeps big blocks mmapped and returned on free.
fn fixed_mmap_threshold() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes allocator tuning; called before threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Binds every plain and TLS listen address, logging the bound ones.
fn bind_all(config: &Config) -> Result<Vec<(Async<TcpListener>, bool)>, String> {
    let tls = config
        .tls
        .iter()
        .flat_map(|t| t.listen.iter().map(|a| (*a, true)));
    let plain = config.listen.iter().map(|a| (*a, false));
    plain
        .chain(tls)
        .map(|(addr, is_tls)| {
            let l = Async::<TcpListener>::bind(addr)
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let bound = l.get_ref().local_addr().map_err(|e| e.to_string())?;
            let kind = if is_tls { "tls" } else { "tcp" };
            log::info!("listening on {bound} ({kind})");
            Ok((l, is_tls))
        })
        .collect()
}

/// Binds the admin socket, replacing a stale one, owner-only.
fn bind_admin(config: &Config) -> Result<smol::net::unix::UnixListener, String> {
    let path = config.admin_socket();
    // The store lock is held, so no other server owns this socket.
    let _ = std::fs::remove_file(&path);
    // Created owner-only, not chmodded after: between a bind and a chmod
    // another local user could connect.
    // SAFETY: umask only sets the mode of files this process creates; the
    // old mask is put back straight after.
    let old = unsafe { libc::umask(0o177) };
    let bound = smol::net::unix::UnixListener::bind(&path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener = bound.map_err(|e| format!("cannot bind {}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
    Ok(listener)
}

async fn accept_loop(
    listener: Async<TcpListener>,
    tls: Option<reload::SharedAcceptor>,
    shared: Arc<Shared>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                log::warn!("accept failed: {e}");
                // Out of descriptors, most likely: let some close.
                Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        let deadline = Instant::now() + shared.limits().handshake_timeout;
        let Some(live) = Live::enter(&shared, peer.ip()) else {
            // Dropping the stream closes it, without a reply.
            continue;
        };
        // The acceptor in force now; a reload changes it for later ones.
        let tls = tls
            .as_ref()
            .and_then(|a| a.read().unwrap_or_else(|e| e.into_inner()).clone());
        // A task keeps what it captures for good: `live` holds the peer's
        // address already, and a plain connection's task carries nothing
        // of TLS.
        match tls {
            None => {
                let stream = Arc::new(stream);
                smol::spawn(async move {
                    let tcp = (Tcp(stream.clone()), Tcp(stream));
                    conn::serve(tcp.0, tcp.1, live.1, deadline, &live.0).await
                })
                .detach();
            }
            // A task of its own, so no plain connection carries room for
            // TLS state.
            Some(acceptor) => {
                smol::spawn(
                    async move { tls::serve(acceptor, stream, live.1, deadline, &live.0).await },
                )
                .detach()
            }
        }
    }
}

/// One admitted connection; leaving happens on drop, so a connection task
/// that ends in any way frees its slot.
struct Live(Arc<Shared>, std::net::IpAddr);

impl Live {
    /// Admits a connection from `ip`, or logs (summed up) why not.
    fn enter(shared: &Arc<Shared>, ip: std::net::IpAddr) -> Option<Live> {
        let now = Instant::now();
        let mut admission = shared.admission();
        match admission.admit(now, ip) {
            Ok(()) => {
                shared.live.fetch_add(1, Ordering::AcqRel);
                Some(Live(shared.clone(), ip))
            }
            Err(_) => {
                if let Some(line) = admission.report(now) {
                    log::warn!("{line}");
                }
                None
            }
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.admission().leave(self.1);
        self.0.live.fetch_sub(1, Ordering::AcqRel);
        CLOSED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Connections ended since the heap was last trimmed.
static CLOSED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Connections that must have ended within a [`TICK`] before the heap is
/// trimmed.
pub const TRIM_AFTER_CLOSED: usize = 256;

/// Gives the memory of ended connections back to the system.
///
/// A burst of connections (a flood of logins, a crowd that reconnects)
/// leaves their freed buffers scattered over glibc's heap, which keeps
/// them resident: 3,000 half-open connections left 55 MiB behind when they
/// closed. After many have ended, `malloc_trim` returns the free pages,
/// which costs a walk of the heap, a few milliseconds at most, at most
/// once per tick.
async fn trim_heap() {
    loop {
        Timer::after(TICK).await;
        if CLOSED.swap(0, Ordering::Relaxed) >= TRIM_AFTER_CLOSED {
            #[cfg(target_env = "gnu")]
            // SAFETY: malloc_trim only returns free memory to the system.
            unsafe {
                libc::malloc_trim(0);
            }
        }
    }
}

/// One side of a plain TCP connection; both sides share the socket.
struct Tcp(Arc<Async<TcpStream>>);

impl smol::io::AsyncRead for Tcp {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl smol::io::AsyncWrite for Tcp {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut &*self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut &*self.0).poll_flush(cx)
    }

    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut &*self.0).poll_close(cx)
    }
}

impl Inbound for Tcp {
    /// Through the socket's one read waker, not `Async::readable`: that
    /// keeps a list of wakers per socket, grown on first use and kept, a
    /// hundred bytes for every idle connection. Only this connection's
    /// reader waits for its socket to be readable.
    async fn readable(&mut self) -> std::io::Result<()> {
        std::future::poll_fn(|cx| self.0.poll_readable(cx)).await
    }
}
