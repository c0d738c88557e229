//! `solec send`: one message from the arguments, or one per line of
//! standard input, pipelined.
//!
//! A thread reads standard input and hands lines over a bounded channel, so
//! a slow producer (`tail -f log | solec send`) has each line sent as it
//! comes, and a fast one fills a window of requests in flight whose replies
//! are read while more lines are written.

use super::connect::{self, ConnectArgs};
use super::{exit, Failure};
use crate::client::{self, Client, Event, Expect, Msg};
use crate::proto::ErrorType;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use smol::channel::{Receiver, TryRecvError};
use smol::future::FutureExt as _;
use std::collections::VecDeque;
use std::io::{BufRead as _, IsTerminal as _};

/// Messages in flight at once: plenty to hide the round trip, and a bound
/// on what waits unanswered (the server stops reading a client that leaves
/// its replies unread, so more would only queue up there).
pub const WINDOW: usize = 256;

/// Messages sent before a progress bar appears (on a terminal only): short
/// inputs finish before a bar would be worth drawing.
pub const PROGRESS_AFTER: u64 = 1000;

/// Send a message to a user or a channel.
///
/// TARGET is a user (bob@localhost) or a channel (#general@localhost); an
/// address without @SERVER is on the server of --user, so `bob` means
/// bob@localhost for alice@localhost. Direct messages need each user to have
/// the other as a contact (see `solec contact`); channel messages need
/// membership (see `solec channel join`).
///
/// With TEXT, the words joined by single spaces are one message. Without
/// TEXT, each line of standard input is one message, sent in order; empty
/// lines are skipped (a trailing carriage return is part of the line
/// ending). Lines are pipelined, up to 256 awaiting their reply at once, so
/// a long input goes at the server's pace rather than one round trip per
/// line; on a terminal, a progress bar appears once the input is long. Each
/// message's send_time is the moment it is sent.
///
/// A line that fails does not stop the others: each one is reported on
/// standard error as `line N: FROM -> TO: REASON`, and the command ends with
/// a count of the messages not sent. Once 5 lines in a row are refused for
/// one reason (not a contact, say), the rest of the input is read and
/// counted but not sent.
///
/// Exit status: 0 every message was stored; 2 bad arguments, a bad address
/// or no password, or a line that is not UTF-8 or too long for one PDU (the
/// line is skipped); 3 cannot connect, or the connection closed or the
/// server fell silent (--timeout) before every message was answered; 4 the
/// server refused the user name or password (client auth failed, 0x01); 5
/// the server refused a message (not found 0x02, unauthorized 0x03, too
/// large 0x81, ...). When lines fail for different reasons, the status is
/// that of the first failure.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// User or channel to send to
    #[arg(value_name = "TARGET")]
    pub target: String,

    /// The message; without it, each line of standard input is one message
    #[arg(value_name = "TEXT")]
    pub text: Vec<String>,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let login = args.connect.login()?;
    let target = args.connect.address(&args.target)?;
    smol::block_on(async {
        let mut client = connect::connect(&login).await?;
        if args.text.is_empty() {
            Batch::new(&mut client, &login.user, &target)
                .run(read_stdin())
                .await
        } else {
            send_one(&mut client, &login.user, &target, &args.text.join(" ")).await
        }
    })
}

async fn send_one(client: &mut Client, from: &str, to: &str, text: &str) -> Result<(), Failure> {
    let msg = message(from, to, text.to_owned());
    let reply = client
        .request(&msg.to_pdu())
        .await
        .map_err(connect::failure)?;
    reply.map_err(|e| connect::refused(&format!("{from} -> {to}"), e))
}

fn message(from: &str, to: &str, text: String) -> Msg {
    Msg {
        source_address: from.to_owned(),
        target_address: to.to_owned(),
        send_time: crate::time::now(),
        message_content: text,
    }
}

/// One line of standard input, numbered from 1.
enum Input {
    Line {
        number: u64,
        /// Bytes the line took in the input, for the progress bar.
        bytes: u64,
        text: String,
    },
    NotUtf8 {
        number: u64,
    },
    Unreadable(std::io::Error),
}

/// Starts the thread that reads standard input, which ends at EOF.
fn read_stdin() -> Receiver<Input> {
    let (tx, rx) = smol::channel::bounded(WINDOW);
    std::thread::spawn(move || {
        // The global stdin buffer: a password line already read is gone.
        let mut stdin = std::io::stdin().lock();
        let mut line = Vec::new();
        for number in 1.. {
            line.clear();
            let input = match stdin.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(bytes) => match std::str::from_utf8(trim_eol(&line)) {
                    Ok("") => continue,
                    Ok(text) => Input::Line {
                        number,
                        bytes: bytes as u64,
                        text: text.to_owned(),
                    },
                    Err(_) => Input::NotUtf8 { number },
                },
                Err(e) => Input::Unreadable(e),
            };
            let stop = matches!(input, Input::Unreadable(_));
            if tx.send_blocking(input).is_err() || stop {
                return;
            }
        }
    });
    rx
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Refusals in a row for one reason after which the rest of the input is
/// counted as not sent instead of sent: a script piping thousands of lines
/// to someone who is not a contact gets a few lines of error, not one per
/// line, and the server is spared the rest.
pub const GIVE_UP_AFTER: u64 = 5;

/// Sending the lines of standard input, with the replies still owed.
struct Batch<'a> {
    client: &'a mut Client,
    from: &'a str,
    to: &'a str,
    /// Line number and size of each message in flight, oldest first.
    in_flight: VecDeque<(u64, u64)>,
    /// Non-empty lines read, sent or not.
    lines: u64,
    /// Messages written (or queued) to the server.
    sent: u64,
    /// Lines not stored: refused, or never sent.
    failed: u64,
    /// The exit code of the first failed line.
    first_failure: Option<u8>,
    /// The reason of the last refusals and how many came in a row.
    streak: Option<(ErrorType, u64)>,
    /// [`GIVE_UP_AFTER`] refusals came in a row: the rest is not sent.
    given_up: bool,
    bar: ProgressBar,
}

/// What the send loop woke up for.
enum Wake {
    Input(Option<Input>),
    Event(Result<Event, client::ClientError>),
}

impl<'a> Batch<'a> {
    fn new(client: &'a mut Client, from: &'a str, to: &'a str) -> Self {
        Batch {
            client,
            from,
            to,
            in_flight: VecDeque::new(),
            lines: 0,
            sent: 0,
            failed: 0,
            first_failure: None,
            streak: None,
            given_up: false,
            bar: ProgressBar::hidden(),
        }
    }

    async fn run(mut self, lines: Receiver<Input>) -> Result<(), Failure> {
        let mut open = true;
        while open || !self.in_flight.is_empty() {
            // Queue every line already read, up to the window.
            while open && self.in_flight.len() < WINDOW {
                match lines.try_recv() {
                    Ok(input) => self.take(input)?,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => open = false,
                }
            }
            self.client.flush().await.map_err(|e| self.lost(e))?;
            if !open && self.in_flight.is_empty() {
                break;
            }
            match self.wait(&lines, open).await {
                Wake::Input(Some(input)) => self.take(input)?,
                Wake::Input(None) => open = false,
                Wake::Event(Ok(event)) => self.on_event(event),
                Wake::Event(Err(e)) => return Err(self.lost(e)),
            }
        }
        self.bar.finish_and_clear();
        self.outcome()
    }

    /// Waits for a line (when there is room for one) or a reply (when one
    /// is owed), whichever comes first; both waits are cancel-safe.
    async fn wait(&mut self, lines: &Receiver<Input>, open: bool) -> Wake {
        let room = open && self.in_flight.len() < WINDOW;
        let line = async { Wake::Input(lines.recv().await.ok()) };
        if self.in_flight.is_empty() {
            return line.await;
        }
        let event = async { Wake::Event(self.client.next_reply_event().await) };
        if room {
            line.or(event).await
        } else {
            event.await
        }
    }

    fn take(&mut self, input: Input) -> Result<(), Failure> {
        let (number, bytes, text) = match input {
            Input::Line {
                number,
                bytes,
                text,
            } => (number, bytes, text),
            Input::NotUtf8 { number } => {
                self.lines += 1;
                self.fail(number, exit::USAGE, "not UTF-8");
                return Ok(());
            }
            Input::Unreadable(e) => {
                return Err(Failure::new(
                    exit::FAILURE,
                    format!("cannot read standard input: {e}"),
                ))
            }
        };
        self.lines += 1;
        if self.given_up {
            self.failed += 1;
            return Ok(());
        }
        let msg = message(self.from, self.to, text);
        match self.client.queue(&msg.to_pdu(), Expect::Reply) {
            Ok(()) => {
                self.in_flight.push_back((number, bytes));
                self.sent += 1;
            }
            Err(_) => self.fail(number, exit::USAGE, "too long for one PDU"),
        }
        Ok(())
    }

    fn on_event(&mut self, event: Event) {
        let Event::Reply(reply) = event else {
            // Pushes from others are not this command's business.
            return;
        };
        let (number, bytes) = self.in_flight.pop_front().expect("a reply owed");
        match reply {
            Ok(()) => self.streak = None,
            Err(e) => self.refused(number, e),
        }
        self.tick(bytes);
    }

    /// A refused line; the last of [`GIVE_UP_AFTER`] in a row for one
    /// reason stops the sending.
    fn refused(&mut self, number: u64, e: ErrorType) {
        let run = match self.streak {
            Some((last, n)) if last == e => n + 1,
            _ => 1,
        };
        self.streak = Some((e, run));
        if self.given_up {
            // Already in flight when sending stopped: counted, not shown.
            self.failed += 1;
            return;
        }
        self.fail(number, exit::REFUSED, &client::describe(e));
        if run == GIVE_UP_AFTER {
            self.given_up = true;
            self.bar.suspend(|| {
                eprintln!(
                    "solec: {run} lines in a row refused: {}; not sending the rest",
                    client::describe(e)
                )
            });
        }
    }

    fn fail(&mut self, number: u64, code: u8, why: &str) {
        self.bar.suspend(|| {
            eprintln!("solec: line {number}: {} -> {}: {why}", self.from, self.to);
        });
        self.failed += 1;
        self.first_failure.get_or_insert(code);
    }

    /// Counts one answered message, revealing the bar once the input is long.
    fn tick(&mut self, bytes: u64) {
        self.bar.inc(bytes);
        let answered = self.sent - self.in_flight.len() as u64;
        if answered == PROGRESS_AFTER && std::io::stderr().is_terminal() {
            self.bar = progress_bar(self.bar.position());
        }
    }

    /// The connection failed: say how far the batch got.
    fn lost(&self, e: client::ClientError) -> Failure {
        let answered = self.sent - self.in_flight.len() as u64;
        let failure = connect::failure(e);
        Failure::new(
            failure.code,
            format!(
                "{} ({answered} of {} messages answered)",
                failure.message, self.sent
            ),
        )
    }

    fn outcome(&self) -> Result<(), Failure> {
        match self.first_failure {
            None => Ok(()),
            Some(code) => Err(Failure::new(
                code,
                format!("{} of {} messages not sent", self.failed, self.lines),
            )),
        }
    }
}

/// A bar over the bytes of standard input when it is a file of known size,
/// else a running count of bytes sent.
fn progress_bar(position: u64) -> ProgressBar {
    let (bar, template) = match stdin_size() {
        Some(size) => (
            ProgressBar::new(size),
            "{wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {bytes} sent ({bytes_per_sec})",
        ),
    };
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar.set_position(position);
    // Rates count from now, not from the jump to `position`.
    bar.reset_eta();
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// The size of standard input when it is a regular file.
fn stdin_size() -> Option<u64> {
    use std::os::fd::AsFd as _;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    meta.is_file().then_some(meta.len())
}
