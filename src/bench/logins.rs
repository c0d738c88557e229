//! The logins phase of `solec bench --logins N`: N password logins, then N
//! session-token logins (`docs/protocol.md`, section 8.6), of one user,
//! [`super::LOGINS_IN_FLIGHT`] at a time; each connection is closed once
//! its Success arrives. The two rates come from the same run, so their
//! ratio holds on a busy machine where the figures themselves move.

use super::load::{bounded, interruptible};
use super::server::Spawned;
use super::wire::Conn;
use super::{progress, Config, IDLE_USER, LOGINS_IN_FLIGHT, PASSWORD};
use serde::Serialize;
use smol::LocalExecutor;
use std::time::Instant;

/// Logins per second, each way.
#[derive(Debug, Serialize)]
pub struct Logins {
    /// Logins of each kind.
    pub count: usize,
    pub password_per_second: f64,
    pub token_per_second: f64,
    /// Token logins per second over password logins per second.
    pub ratio: f64,
}

/// Runs both kinds against `server`, whose [`IDLE_USER`] exists.
pub fn measure(
    ex: &LocalExecutor<'_>,
    server: &Spawned,
    config: &Config,
) -> Result<Logins, String> {
    let addr = server.addr;
    let n = config.logins;
    let token = smol::block_on(Conn::issue_token(addr, IDLE_USER, PASSWORD))?;
    let password = timed(ex, config, n, "password logins", |_| async move {
        Conn::login(addr, IDLE_USER, PASSWORD).await.map(drop)
    })?;
    let token = timed(ex, config, n, "token logins", |_| async move {
        Conn::token_login(addr, IDLE_USER, &token).await.map(drop)
    })?;
    let per_second = |secs: f64| n as f64 / secs.max(1e-9);
    let (password_per_second, token_per_second) = (per_second(password), per_second(token));
    Ok(Logins {
        count: n,
        password_per_second,
        token_per_second,
        ratio: token_per_second / password_per_second,
    })
}

/// Seconds that `n` runs of `job` take, [`LOGINS_IN_FLIGHT`] at a time.
fn timed<'a, F, Fut>(
    ex: &LocalExecutor<'a>,
    config: &Config,
    n: usize,
    what: &str,
    job: F,
) -> Result<f64, String>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>> + 'a,
{
    let bar = progress(config, n as u64, what);
    let started = Instant::now();
    let logins = bounded(ex, n, LOGINS_IN_FLIGHT, &bar, job);
    smol::block_on(ex.run(interruptible(logins, &config.stop)))?;
    bar.finish_and_clear();
    Ok(started.elapsed().as_secs_f64())
}
