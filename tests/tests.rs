//! The integration suite: every test drives the real `solec` binary.
//!
//! Each module covers one capability; `util` is the shared harness (temp
//! dirs, spawned servers killed on drop, raw-byte clients, byte diffs).

#[macro_use]
mod util;

/// `solec serve` over loopback TCP: sequence, rules, history, limits, malformed input.
mod server;

/// The server core's limits and extensions: reply budgets, session caps, migration.
mod sessions;

/// A damaged store never panics nor serves damage; `solec store check` and `backup`.
mod store_integrity;

/// Per-user limits: empty channels go, operators hand over, channel deletion, the rate limit.
mod limits;

/// `solec federate` and the server link: keys, known peers, mutual proofs, refusals.
mod federation;

/// Delivery between servers: relays, the receiver's rules, SIGKILL, lifetimes.
mod relay;

/// Faults: a full disk refuses writes and recovers by itself; SIGKILL under load loses nothing acknowledged.
mod faults;

/// `solec decode` and `solec encode`: hex dumps in, readable PDUs out.
mod decode;

/// `man/` and `completions/` match the clap definitions (`SOLEC_REGENERATE=1` rewrites them).
mod generated;

/// `docs/protocol.md`: every worked hex example decodes and re-encodes exactly.
mod docs;

/// `packaging/`: the example config parses and matches the systemd unit.
mod packaging;

/// `packaging/wireshark/solec.lua`: tshark shows a live capture of the server field by field.
mod wireshark;

/// `README.md`: opening commands, config keys, exit codes, TLS snippet; the quick start runs.
mod readme;

/// `solec send`, `history`, `contact`, `channel`: the scripted client, exit codes, TLS.
mod client;

/// `solec bench`: a tiny load arrives complete; no process or directory is left behind.
mod bench;

/// `solec radio`: airtime, the modem emulator, SOLEC end to end over ptys.
mod radio;

/// Session tokens: issued after a password login, bound to their user, revoked by passwd and del; the client keeps them.
mod tokens;

/// Failed logins slow their own address: an honest login is not queued behind a flood.
mod auth_throttle;

/// Hardening at the edges: TLS versions, argon2 bounds, `solec user` and `history --follow` under faults.
mod hardening_cli;
