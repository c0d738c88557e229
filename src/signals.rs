//! SIGINT and SIGTERM as an async event, for `solec serve` and
//! `solec history --follow`; SIGHUP as a stream of events for `serve`.

/// A channel that yields once SIGINT or SIGTERM arrives. A thread waits
/// for the signal, so the handler itself does nothing unsafe.
pub fn interrupted() -> Result<smol::channel::Receiver<()>, String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let (tx, rx) = smol::channel::bounded(1);
    std::thread::Builder::new()
        .name("solec-signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                let _ = tx.try_send(());
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(rx)
}

/// A channel that yields each time SIGHUP arrives; hangups that come while
/// one is still waiting to be taken count as one.
pub fn hangups() -> Result<smol::channel::Receiver<()>, String> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])
        .map_err(|e| format!("cannot install the SIGHUP handler: {e}"))?;
    let (tx, rx) = smol::channel::bounded(1);
    std::thread::Builder::new()
        .name("solec-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                if tx.is_closed() {
                    return;
                }
                let _ = tx.try_send(());
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(rx)
}
