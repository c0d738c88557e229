//! `solec history`: print a conversation, page by page, and with
//! `--follow` keep printing its new messages as they are pushed.

use super::connect::{self, ConnectArgs};
use super::{exit, text, Failure};
use crate::client::{Client, Conversation, Msg, Pager};
use smol::future::FutureExt as _;
use std::io::{BufWriter, Write};

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
/// elsewhere), until SIGINT or SIGTERM (exit status 0) or until the
/// connection closes (exit status 3). Output is flushed after each message.
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
        print_history(&mut client, &conversation, &args, &mut out).await?;
        out.flush()?;
        if args.follow {
            follow(&mut client, &conversation, args.json, &mut out).await?;
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
/// --follow.
async fn print_history(
    client: &mut Client,
    conversation: &Conversation,
    args: &Args,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let since = args.since.unwrap_or(0);
    let mut pager = Pager::new(args.offset, args.count, PAGE);
    while let Some(page) = pager.request() {
        let reply = client
            .history(conversation, since, page.count, page.offset)
            .await
            .map_err(connect::failure)?
            .map_err(|e| connect::refused(&format!("history {}", conversation.address()), e))?;
        for m in pager.take(reply) {
            print(out, &m, args.json)?;
        }
    }
    client.unread(pager.into_pushes());
    Ok(())
}

/// Prints each pushed message of the conversation until the connection
/// closes, which is a failure: a follower only ends on a signal.
async fn follow(
    client: &mut Client,
    conversation: &Conversation,
    json: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    loop {
        let m = client.push().await.map_err(connect::failure)?;
        if conversation.contains(&m) {
            print(out, &m, json)?;
            out.flush()?;
        }
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
