//! Readiness for the systemd unit (`Type=notify` in packaging/solec.service).
//!
//! systemd starts the units ordered after solec, and `systemctl start`
//! returns, when it hears `READY=1`, so this is sent only once every
//! listener is bound and the hub runs. Outside systemd (no `NOTIFY_SOCKET`)
//! it does nothing. It holds no state and must not do any other IO.

use sd_notify::NotifyState;

/// Tells systemd that the server accepts connections.
///
/// A failure is logged, not fatal: the server works without the notice, and
/// systemd then reports the start as timed out, which names the cause.
pub fn ready(name: &str) {
    let status = format!("serving {name}");
    if let Err(e) = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(&status)]) {
        log::warn!("cannot tell systemd the server is ready: {e}");
    }
}
