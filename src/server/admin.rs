//! The local admin socket: `solec user …` reaches a running server here.
//!
//! A unix stream socket in the data directory, mode 0600, so only the
//! account that runs the server can use it. One JSON object per line each
//! way (see `docs/protocol.md`, "Local admin socket"). The command hashes
//! passwords itself, so the hub never spends time on argon2.

use super::core::{check_user, Admin, AdminReply};
use super::hub::Event;
use crate::store::{Change, Store, StoreError};
use serde::{Deserialize, Serialize};
use smol::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use smol::net::unix::{UnixListener, UnixStream};
use smol::stream::StreamExt as _;

/// Longest request line accepted, in bytes.
pub const MAX_LINE: usize = 4096;

/// Most bytes read from one admin connection.
pub const MAX_SESSION_BYTES: u64 = 1 << 20;

/// One request line.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    Add { name: String, hash: String },
    Passwd { name: String, hash: String },
    Del { name: String },
    List,
}

/// One reply line.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
}

impl From<Request> for Admin {
    fn from(r: Request) -> Admin {
        match r {
            Request::Add { name, hash } => Admin::Add { name, hash },
            Request::Passwd { name, hash } => Admin::Passwd { name, hash },
            Request::Del { name } => Admin::Del { name },
            Request::List => Admin::List,
        }
    }
}

/// The reply line for a hub answer; `listing` keeps the user list.
pub fn reply(answer: AdminReply, listing: bool) -> Reply {
    match answer {
        Ok(users) => Reply {
            ok: true,
            error: None,
            users: listing.then_some(users),
        },
        Err(e) => Reply {
            ok: false,
            error: Some(e),
            users: None,
        },
    }
}

/// Accepts admin connections until the listener is dropped.
pub async fn serve(listener: UnixListener, hub: smol::channel::Sender<Event>) {
    let mut incoming = listener.incoming();
    while let Some(stream) = incoming.next().await {
        match stream {
            Ok(stream) => smol::spawn(session(stream, hub.clone())).detach(),
            Err(e) => log::warn!("admin socket accept failed: {e}"),
        }
    }
}

async fn session(stream: UnixStream, hub: smol::channel::Sender<Event>) {
    // Bounds what one admin session can make the server buffer.
    let mut lines = BufReader::new(stream.clone().take(MAX_SESSION_BYTES));
    let mut writer = stream;
    let mut line = String::new();
    while matches!(lines.read_line(&mut line).await, Ok(n) if n > 0) {
        let request = match line.len() {
            0..=MAX_LINE => serde_json::from_str::<Request>(line.trim()).map_err(|e| e.to_string()),
            _ => Err("request too long".into()),
        };
        let answer = match request {
            Ok(request) => {
                let listing = request == Request::List;
                let (tx, rx) = smol::channel::bounded(1);
                let event = Event::Admin {
                    command: request.into(),
                    reply: tx,
                };
                if hub.send(event).await.is_err() {
                    return;
                }
                let Ok(answer) = rx.recv().await else { return };
                reply(answer, listing)
            }
            Err(e) => reply(Err(format!("bad request: {e}")), false),
        };
        let mut text = serde_json::to_string(&answer).expect("reply serialises");
        text.push('\n');
        if writer.write_all(text.as_bytes()).await.is_err() {
            return;
        }
        line.clear();
    }
}

/// Applies one admin command straight to the store, for `solec user` when
/// no server runs: one transaction, reading only the rows it needs.
pub fn apply_offline(store: &Store, command: Admin) -> AdminReply {
    let failed = |e: StoreError| format!("the store refused the change: {e}");
    let exists = |name: &str| store.has_user(name).map_err(failed);
    let change = match command {
        Admin::List => return store.user_names().map_err(failed),
        Admin::Add { name, hash } => {
            check_user(&name, &hash)?;
            if exists(&name)? {
                return Err(format!("user {name} already exists"));
            }
            Change::PutUser { name, hash }
        }
        Admin::Passwd { name, hash } => {
            check_user(&name, &hash)?;
            if !exists(&name)? {
                return Err(format!("no user {name}"));
            }
            Change::PutUser { name, hash }
        }
        Admin::Del { name } => {
            if !exists(&name)? {
                return Err(format!("no user {name}"));
            }
            Change::DeleteUser { name }
        }
    };
    store.apply_now(&change).map_err(failed)?;
    Ok(Vec::new())
}
