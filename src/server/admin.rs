//! The local admin socket: `solec user …` reaches a running server here.
//!
//! A unix stream socket in the data directory, mode 0600, so only the
//! account that runs the server can use it. One JSON object per line each
//! way (see `docs/protocol.md`, "Local admin socket"). The command hashes
//! passwords itself, so the hub never spends time on argon2. `solec
//! federate` manages known peers here too; a `peer_ping` runs its link
//! handshake in this task, so the hub never waits on a network. A
//! `backup` copies the store here too, on a blocking thread inside one
//! read transaction, so the hub goes on committing meanwhile.

use super::core::{check_peer, check_user, peer_status, Admin, AdminAnswer, AdminReply};
use super::federation::link::LinkError;
use super::federation::{dial, identity, PeerStatus};
use super::hub::Event;
use super::passwords::Bounds;
use crate::store::{Change, Peer, Store, StoreError};
use serde::{Deserialize, Serialize};
use smol::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use smol::net::unix::{UnixListener, UnixStream};
use smol::stream::StreamExt as _;
use std::sync::Arc;

/// Longest request line accepted, in bytes.
pub const MAX_LINE: usize = 4096;

/// Most bytes read from one admin connection.
pub const MAX_SESSION_BYTES: u64 = 1 << 20;

/// One request line.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    Add {
        name: String,
        hash: String,
    },
    Passwd {
        name: String,
        hash: String,
    },
    Del {
        name: String,
    },
    List,
    PeerAdd {
        name: String,
        address: String,
        /// `ed25519:BASE64`.
        key: String,
        #[serde(default)]
        tls: bool,
    },
    PeerRemove {
        name: String,
    },
    PeerList,
    /// Brings a link to `name` up and down again, recording the outcome.
    PeerPing {
        name: String,
    },
    /// This server's name and public key.
    Key,
    /// Writes a consistent copy of the store to a new file at `path`, an
    /// absolute path the server can write.
    Backup {
        path: String,
    },
    /// Deletes a channel of this server (its full address) with its
    /// modes, memberships and messages.
    #[serde(rename = "channel_delete")]
    ChannelDelete {
        channel: String,
    },
}

/// One reply line.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers: Option<Vec<PeerStatus>>,
    /// A ping's round trip (LinkNonce sent to LinkProof received) and
    /// the whole handshake, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_trip_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake_us: Option<u64>,
    /// A failed ping's kind: `unreachable` (no connection or no answer in
    /// time) or `refused` (a proof failed either way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The answer to `key`: this server's name and `ed25519:BASE64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What a backup copied: messages, and of them those whose checksum
    /// fails (copied as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damaged: Option<u64>,
}

impl TryFrom<Request> for Admin {
    type Error = String;

    /// Fails for a bad key, and for a ping, which is not a hub command.
    fn try_from(r: Request) -> Result<Admin, String> {
        Ok(match r {
            Request::Add { name, hash } => Admin::Add { name, hash },
            Request::Passwd { name, hash } => Admin::Passwd { name, hash },
            Request::Del { name } => Admin::Del { name },
            Request::List => Admin::List,
            Request::PeerAdd {
                name,
                address,
                key,
                tls,
            } => Admin::PeerAdd {
                name,
                peer: Peer {
                    address,
                    key: identity::parse_key(&key)?,
                    tls,
                },
            },
            Request::PeerRemove { name } => Admin::PeerRemove { name },
            Request::PeerList => Admin::PeerList,
            Request::ChannelDelete { channel } => Admin::ChannelDelete { channel },
            Request::PeerPing { .. } | Request::Key | Request::Backup { .. } => {
                return Err("not a store command".into());
            }
        })
    }
}

/// The reply line for a hub answer.
pub fn reply(answer: AdminReply) -> Reply {
    match answer {
        Ok(AdminAnswer::Done) => Reply {
            ok: true,
            ..Reply::default()
        },
        Ok(AdminAnswer::Users(users)) => Reply {
            ok: true,
            users: Some(users),
            ..Reply::default()
        },
        Ok(AdminAnswer::Peers(peers)) => Reply {
            ok: true,
            peers: Some(peers),
            ..Reply::default()
        },
        Err(e) => Reply {
            ok: false,
            error: Some(e),
            ..Reply::default()
        },
    }
}

/// What a `peer_ping` needs besides the hub: who this server is.
#[derive(Clone)]
pub struct Pinger {
    pub name: String,
    pub identity: Arc<identity::Identity>,
    /// How long a link handshake may take.
    pub timeout: std::time::Duration,
}

/// Accepts admin connections until the listener is dropped.
pub async fn serve(
    listener: UnixListener,
    hub: smol::channel::Sender<Event>,
    pinger: Pinger,
    store: Arc<Store>,
) {
    let mut incoming = listener.incoming();
    while let Some(stream) = incoming.next().await {
        match stream {
            Ok(stream) => {
                let task = session(stream, hub.clone(), pinger.clone(), store.clone());
                smol::spawn(task).detach()
            }
            Err(e) => log::warn!("admin socket accept failed: {e}"),
        }
    }
}

/// Backups running at once: each holds a read transaction (pinning the
/// pages it reads) and writes a whole copy, so they take turns.
static BACKUPS: smol::lock::Semaphore = smol::lock::Semaphore::new(1);

/// Copies the store to `path` on a blocking thread.
async fn backup(store: &Arc<Store>, path: String) -> Reply {
    let dest = std::path::PathBuf::from(&path);
    if !dest.is_absolute() {
        return reply(Err(format!("the backup path {path} is not absolute")));
    }
    let _turn = BACKUPS.acquire().await;
    let store = store.clone();
    match smol::unblock(move || store.backup(&dest)).await {
        Ok(copied) => {
            log::info!(
                "backed up the store to {path}: {} messages, {} damaged",
                copied.messages,
                copied.damaged
            );
            Reply {
                ok: true,
                messages: Some(copied.messages),
                damaged: Some(copied.damaged),
                ..Reply::default()
            }
        }
        Err(e) => reply(Err(format!("backup failed: {e}"))),
    }
}

/// Sends one command to the hub and waits for its answer; None if the
/// hub is gone.
async fn ask(hub: &smol::channel::Sender<Event>, command: Admin) -> Option<AdminReply> {
    let (tx, rx) = smol::channel::bounded(1);
    let event = Event::Admin {
        command: Box::new(command),
        reply: tx,
    };
    hub.send(event).await.ok()?;
    rx.recv().await.ok()
}

/// A ping from the running server: the peer's entry from the hub, the
/// handshake here, the outcome back to the hub for `federate list`.
async fn ping(hub: &smol::channel::Sender<Event>, pinger: &Pinger, name: String) -> Option<Reply> {
    let peers = match ask(hub, Admin::PeerList).await? {
        Ok(AdminAnswer::Peers(peers)) => peers,
        other => return Some(reply(other)),
    };
    let Some(status) = peers.into_iter().find(|p| p.name == name) else {
        return Some(reply(Err(format!("no peer {name}"))));
    };
    let Ok(key) = identity::parse_key(&status.key) else {
        return Some(reply(Err(format!("peer {name} has a bad key"))));
    };
    let target = dial::Target {
        name: name.clone(),
        address: status.address,
        key,
        tls: status.tls,
    };
    let outcome = dial::ping(
        &pinger.name,
        pinger.identity.clone(),
        &target,
        pinger.timeout,
    )
    .await;
    let error = outcome.as_ref().err().map(ToString::to_string);
    let at = crate::time::now();
    // A peer removed meanwhile has no history to record.
    let _ = ask(hub, Admin::PeerOutcome { name, at, error }).await?;
    Some(ping_reply(outcome))
}

/// The reply line for a ping's outcome.
pub fn ping_reply(outcome: Result<dial::Report, LinkError>) -> Reply {
    match outcome {
        Ok(report) => Reply {
            ok: true,
            round_trip_us: Some(report.round_trip.as_micros() as u64),
            handshake_us: Some(report.handshake.as_micros() as u64),
            ..Reply::default()
        },
        Err(e) => {
            let failure = match e {
                LinkError::Io(_) | LinkError::Timeout => "unreachable",
                _ => "refused",
            };
            Reply {
                failure: Some(failure.into()),
                ..reply(Err(e.to_string()))
            }
        }
    }
}

/// The answer to `key`.
pub fn key_reply(name: &str, identity: &identity::Identity) -> Reply {
    Reply {
        ok: true,
        name: Some(name.to_owned()),
        key: Some(identity::key_text(&identity.public())),
        ..Reply::default()
    }
}

async fn session(
    stream: UnixStream,
    hub: smol::channel::Sender<Event>,
    pinger: Pinger,
    store: Arc<Store>,
) {
    // Bounds what one admin session can make the server buffer.
    let mut lines = BufReader::new(stream.clone().take(MAX_SESSION_BYTES));
    let mut writer = stream;
    let mut line = String::new();
    while matches!(lines.read_line(&mut line).await, Ok(n) if n > 0) {
        let request = match line.len() {
            0..=MAX_LINE => serde_json::from_str::<Request>(line.trim()).map_err(|e| e.to_string()),
            _ => Err("request too long".into()),
        };
        let request = match request {
            Ok(Request::Backup { path }) => {
                let answer = backup(&store, path).await;
                if !write_reply(&mut writer, &answer).await {
                    return;
                }
                line.clear();
                continue;
            }
            other => other,
        };
        let answer = match request.map(|r| match r {
            Request::PeerPing { name } => Err(Some(name)),
            Request::Key => Err(None),
            r => Ok(Admin::try_from(r)),
        }) {
            Ok(Err(None)) => key_reply(&pinger.name, &pinger.identity),
            Ok(Err(Some(name))) => match ping(&hub, &pinger, name).await {
                Some(answer) => answer,
                None => return,
            },
            Ok(Ok(Ok(command))) => match ask(&hub, command).await {
                Some(answer) => reply(answer),
                None => return,
            },
            Ok(Ok(Err(e))) => reply(Err(e)),
            Err(e) => reply(Err(format!("bad request: {e}"))),
        };
        if !write_reply(&mut writer, &answer).await {
            return;
        }
        line.clear();
    }
}

/// Writes one reply line; false if the connection is gone.
async fn write_reply(writer: &mut UnixStream, answer: &Reply) -> bool {
    let mut text = serde_json::to_string(answer).expect("reply serialises");
    text.push('\n');
    writer.write_all(text.as_bytes()).await.is_ok()
}

/// Applies one admin command straight to the store, for `solec user` when
/// no server runs: one transaction, reading only the rows it needs. Hashes
/// are held to the default [`Bounds`]: the command hashed them itself.
pub fn apply_offline(store: &Store, command: Admin) -> AdminReply {
    let bounds = Bounds::default();
    let failed = |e: StoreError| format!("the store refused the change: {e}");
    let exists = |name: &str| store.has_user(name).map_err(failed);
    let change = match command {
        Admin::List => return store.user_names().map(AdminAnswer::Users).map_err(failed),
        Admin::Add { name, hash } => {
            check_user(&name, &hash, &bounds)?;
            if exists(&name)? {
                return Err(format!("user {name} already exists"));
            }
            Change::PutUser { name, hash }
        }
        Admin::Passwd { name, hash } => {
            check_user(&name, &hash, &bounds)?;
            if !exists(&name)? {
                return Err(format!("no user {name}"));
            }
            // As the server does: the old password's tokens go with it,
            // in the same transaction.
            let revoke = Change::DeleteTokens { user: name.clone() };
            let changes = [Change::PutUser { name, hash }, revoke];
            store.apply_now_all(&changes).map_err(failed)?;
            return Ok(AdminAnswer::Done);
        }
        Admin::Del { name } => {
            if !exists(&name)? {
                return Err(format!("no user {name}"));
            }
            Change::DeleteUser { name }
        }
        Admin::ChannelDelete { channel } => {
            if !store.has_channel(&channel).map_err(failed)? {
                return Err(format!("no channel {channel}"));
            }
            Change::DeleteChannel { channel }
        }
        Admin::PeerAdd { .. }
        | Admin::PeerRemove { .. }
        | Admin::PeerList
        | Admin::PeerOutcome { .. } => return Err("a peer command needs the config's peers".into()),
    };
    store.apply_now(&change).map_err(failed)?;
    Ok(AdminAnswer::Done)
}

/// Applies a peer command straight to the store, with `configured` the
/// config file's peers, for `solec federate` when no server runs. The
/// rules are the core's: config peers are changed in the config only.
pub fn apply_offline_peers(
    store: &Store,
    configured: &[(String, Peer)],
    command: Admin,
) -> AdminReply {
    let failed = |e: StoreError| format!("the store refused the change: {e}");
    let stored = store.peers().map_err(failed)?;
    let in_config = |name: &str| configured.iter().any(|(n, _)| n == name);
    let change = match command {
        Admin::PeerList => {
            let mut list: Vec<PeerStatus> = configured
                .iter()
                .map(|(name, peer)| peer_status(name, peer, true))
                .collect();
            for (name, peer) in &stored {
                if !in_config(name) {
                    list.push(peer_status(name, peer, false));
                }
            }
            list.sort_by(|a, b| a.name.cmp(&b.name));
            return Ok(AdminAnswer::Peers(list));
        }
        Admin::PeerAdd { name, peer } => {
            check_peer(&name, &peer)?;
            if in_config(&name) {
                return Err(format!("{name} is set in the config file; change it there"));
            }
            if name == store.name() {
                return Err(format!("{name} is this server's own name"));
            }
            Change::PutPeer { name, peer }
        }
        Admin::PeerRemove { name } => {
            if in_config(&name) {
                return Err(format!("{name} is set in the config file; remove it there"));
            }
            if !stored.contains_key(&name) {
                return Err(format!("no peer {name}"));
            }
            Change::DeletePeer { name }
        }
        // No server keeps link history while none runs.
        Admin::PeerOutcome { .. } => return Ok(AdminAnswer::Done),
        other => return apply_offline(store, other),
    };
    store.apply_now(&change).map_err(failed)?;
    Ok(AdminAnswer::Done)
}
