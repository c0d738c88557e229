//! `solec history`: print a conversation, page by page, and with
//! `--follow` keep printing its new messages as they are pushed.

use super::connect::{self, ConnectArgs};
use super::{exit, text, Failure};
use crate::client::{self, Client, ClientError, Conversation, Login, Msg, Pager};
use smol::future::FutureExt as _;
use std::io::{BufWriter, Write};
use std::time::Duration;

/// Messages asked for per History request: the server's default cap, so
/// one request is one page on a default server. A server with a lower cap
/// just answers shorter pages; [`Pager`] does not take a short page for the
/// end.
pub const PAGE: u64 = 500;

/// Print the messages of a conversation with a user or in a channel.
///
/// TARGET is a user (bob@localhost: the messages between you and bob,
/// either way; no contact is needed) or a channel you are a member of
/// (#general@localhost). An address without @SERVER is on the server of
/// --user, so `bob` means bob@localhost for alice@localhost.
///
/// Messages print oldest first, in the order the server received them, one
/// per line: the send time in RFC 3339 (UTC), the sender's address and a
/// colon, then the text, as in `2023-11-14T22:13:20Z alice@localhost: hi`.
/// In the text, a backslash prints as `\\`, and control characters and the
/// bidirectional-text controls are escaped (`\n`, `\r`, `\t`, others as
/// `\u{1b}` or `\u{202e}`), so one message is always one line and reads as
/// its bytes. Without --count every message from --since on is printed,
/// fetched 500 at a time.
///
/// With --follow, the command then stays connected and prints each new
/// message of the conversation as it arrives (for a channel: sent to it;
/// for a user: between the two of you, including what you send from
/// elsewhere), until SIGINT or SIGTERM (exit status 0). Output is flushed
/// after each message. When the connection closes or the server stops
/// answering (it is asked something after 5 minutes of quiet, and must
/// answer within --timeout), it says so on standard error and reconnects,
/// waiting 1 s, then twice as long after each failed try, up to 60 s; once
/// back it prints what was sent meanwhile (the messages after the last one
/// printed), then follows again. A login or request the server refuses
/// ends it (exit status 4 or 5), as the first time.
///
/// Exit status: 0 done; 2 bad arguments, a bad address or no password; 3
/// cannot connect, the connection closed, or no reply within --timeout; 4
/// the server refused the user name or password (client auth failed, 0x01);
/// 5 the server refused the request (not found 0x02: no such user or
/// channel; unauthorized 0x03: not a member of the channel).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// User or channel whose conversation to print
    #[arg(value_name = "TARGET")]
    pub target: String,

    /// Only messages sent at or after TIME: RFC 3339 in UTC
    /// (2023-11-14T22:13:20Z), a date (2023-11-14, meaning midnight UTC), or
    /// Unix seconds
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<u64>,

    /// Print at most N messages [default: all of them]
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Skip the first N messages (counted from --since)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: u64,

    /// Print one JSON object per line with the draft's field names:
    /// source_address, target_address, send_time (Unix seconds, a number)
    /// and message_content
    #[arg(long)]
    pub json: bool,

    /// After the history, print new messages as they arrive, until
    /// interrupted
    #[arg(long)]
    pub follow: bool,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

fn parse_time(text: &str) -> Result<u64, String> {
    crate::time::parse(text).ok_or_else(|| {
        "expected RFC 3339 (2023-11-14T22:13:20Z), a date (2023-11-14) or Unix seconds".into()
    })
}

/// The first wait before reconnecting a follower.
pub const RECONNECT_FIRST: Duration = Duration::from_secs(1);

/// The longest wait between a follower's reconnection attempts.
pub const RECONNECT_MAX: Duration = Duration::from_secs(60);

pub fn run(args: Args) -> Result<(), Failure> {
    let login = args.connect.login()?;
    let target = args.connect.address(&args.target)?;
    let conversation = Conversation::new(&login.user, &target);
    // Installed before connecting, so an early SIGINT is already a clean stop.
    let stop = match args.follow {
        true => Some(crate::signals::interrupted().map_err(|e| Failure::new(exit::FAILURE, e))?),
        false => None,
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let body = async {
        let mut client = connect::connect(&login).await?;
        let mut last = print_history(&mut client, &conversation, &args, &mut out).await?;
        out.flush()?;
        if args.follow {
            // With nothing printed yet, "new" starts now.
            let mut since = args.since.unwrap_or(0).max(crate::time::now());
            loop {
                let lost = follow(&mut client, &conversation, &args, &mut out, &mut last).await?;
                if let Some(m) = &last {
                    since = m.send_time;
                }
                let resume = Resume {
                    since,
                    after: last.clone(),
                };
                client = reconnect(&login, &conversation, &args, &mut out, lost, resume).await?;
            }
        }
        Ok::<(), Failure>(())
    };
    let result = match stop {
        Some(stop) => smol::block_on(body.or(async {
            let _ = stop.recv().await;
            Ok(())
        })),
        None => smol::block_on(body),
    };
    result?;
    out.flush()?;
    Ok(())
}

/// Pages through the history as [`Pager`] plans it. Pushes it finds in
/// replies and does not print as history go back to the client, for
/// --follow. Returns the last message printed.
async fn print_history(
    client: &mut Client,
    conversation: &Conversation,
    args: &Args,
    out: &mut impl Write,
) -> Result<Option<Msg>, Failure> {
    let since = args.since.unwrap_or(0);
    let mut pager = Pager::new(args.offset, args.count, PAGE);
    let mut last = None;
    while let Some(page) = pager.request() {
        for m in pager.take(history_page(client, conversation, since, page).await?) {
            print(out, &m, args.json)?;
            last = Some(m);
        }
    }
    client.unread(pager.into_pushes());
    Ok(last)
}

/// One History request of a [`Pager`]'s plan.
async fn history_page(
    client: &mut Client,
    conversation: &Conversation,
    since: u64,
    page: crate::client::Page,
) -> Result<Vec<Msg>, Failure> {
    client
        .history(conversation, since, page.count, page.offset)
        .await
        .map_err(connect::failure)?
        .map_err(|e| connect::refused(&format!("history {}", conversation.address()), e))
}

/// Prints each pushed message of the conversation until the connection is
/// lost, which it returns: a follower only ends on a signal.
async fn follow(
    client: &mut Client,
    conversation: &Conversation,
    args: &Args,
    out: &mut impl Write,
    last: &mut Option<Msg>,
) -> Result<ClientError, Failure> {
    loop {
        let m = match client.push().await {
            Ok(m) => m,
            Err(e) => return lost(e),
        };
        if conversation.contains(&m) {
            print(out, &m, args.json)?;
            out.flush()?;
            *last = Some(m);
        }
    }
}

/// Where a follower picks up after reconnecting: the messages from
/// `since` on that come after `after`, the last one printed (all of them
/// when nothing was printed).
#[derive(Debug, Clone)]
struct Resume {
    since: u64,
    after: Option<Msg>,
}

/// Logs in again after `why`, with growing waits, and prints what was
/// sent meanwhile. Connection failures are retried; a refusal is final.
async fn reconnect(
    login: &Login,
    conversation: &Conversation,
    args: &Args,
    out: &mut impl Write,
    mut why: ClientError,
    resume: Resume,
) -> Result<Client, Failure> {
    let mut wait = RECONNECT_FIRST;
    loop {
        eprintln!("solec: {why}; reconnecting in {} s", wait.as_secs());
        smol::Timer::after(wait).await;
        wait = (wait * 2).min(RECONNECT_MAX);
        let mut client = match connect::log_in(login).await {
            Ok(client) => client,
            Err(e) if retryable(&e) => {
                why = e;
                continue;
            }
            Err(e) => return Err(connect::login_failure(login, e)),
        };
        match catch_up(&mut client, conversation, args, out, &resume).await {
            Ok(()) => {
                eprintln!("solec: reconnected to {}", client::with_port(&login.server));
                return Ok(client);
            }
            Err(Lost::Again(e)) => why = e,
            Err(Lost::Final(f)) => return Err(f),
        }
    }
}
/// Prints the messages sent since `resume`, paging as [`print_history`]
/// does. The last one printed before is found by its bytes: a message
/// repeated exactly (same sender, time and text) right after it prints
/// once too few times; finding the first copy keeps memory bounded.
async fn catch_up(
    client: &mut Client,
    conversation: &Conversation,
    args: &Args,
    out: &mut impl Write,
    resume: &Resume,
) -> Result<(), Lost> {
    let mut pager = Pager::new(0, None, PAGE);
    let mut past = resume.after.is_none();
    while let Some(page) = pager.request() {
        let reply = client
            .history(conversation, resume.since, page.count, page.offset)
            .await
            .map_err(|e| match lost(e) {
                Ok(e) => Lost::Again(e),
                Err(f) => Lost::Final(f),
            })?
            .map_err(|e| {
                Lost::Final(connect::refused(
                    &format!("history {}", conversation.address()),
                    e,
                ))
            })?;
        for m in pager.take(reply) {
            if past {
                print(out, &m, args.json).map_err(|e| Lost::Final(e.into()))?;
            } else {
                past = resume.after.as_ref() == Some(&m);
            }
        }
    }
    out.flush().map_err(|e| Lost::Final(e.into()))?;
    if !past {
        eprintln!(
            "solec: the last message printed is gone from the history; \
             what was sent while reconnecting is not shown"
        );
    }
    client.unread(pager.into_pushes());
    Ok(())
}

/// Why catching up stopped: the connection again, or for good.
enum Lost {
    Again(ClientError),
    Final(Failure),
}

/// Whether a follower tries again after `e`: the connection failed or
/// went silent, which a restarting server does. A refusal does not change
/// by trying again.
fn retryable(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Connect(_)
            | ClientError::Closed(_)
            | ClientError::Timeout(_)
            | ClientError::Protocol(_)
    )
}

/// A lost connection to retry, or the failure that ends the command.
fn lost(e: ClientError) -> Result<ClientError, Failure> {
    if retryable(&e) {
        Ok(e)
    } else {
        Err(connect::failure(e))
    }
}

fn print(out: &mut impl Write, m: &Msg, json: bool) -> std::io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, m)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "{} {}: {}",
        crate::time::rfc3339(m.send_time),
        text::escape(&m.source_address),
        text::escape(&m.message_content)
    )
}
