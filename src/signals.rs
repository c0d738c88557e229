//! SIGINT and SIGTERM as an async event, for `solec serve` and
//! `solec history --follow`.

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
