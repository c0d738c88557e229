//! A connection's outbound queue: many senders (the hub, the connection's
//! own reader), one receiver (its writer).
//!
//! It counts the bytes it holds, so the hub can keep each session's replies
//! within its budget: while a session is *parked* (the hub holds requests
//! it has not decoded yet), its reader does not read, and the writer asks
//! the hub to resume once the queue has drained below half the budget.
//!
//! It exists instead of an async channel because idle connections are the
//! server's main memory cost: a general channel keeps over a kilobyte per
//! connection (its state and a block of slots that stays allocated), while
//! this holds a mutex, a `VecDeque` that is freed whenever it empties, and
//! one waker. Its locking rule: the mutex guards only pushes, pops and the
//! waker swap, never an `.await` or IO.

use crate::store::{HistoryCursor, Store};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

/// One item on a connection's way out.
pub enum Out {
    /// Bytes shared between sessions (a pushed Message).
    Shared(Arc<[u8]>),
    /// Bytes for this session alone (replies).
    Owned(Vec<u8>),
    /// A constant reply (Success).
    Static(&'static [u8]),
    /// A History reply, read from the store chunk by chunk as the writer
    /// reaches it, then Success. Boxed: every queued item is as large as
    /// the largest kind, and a queue keeps its room once it has grown.
    History(Box<HistoryOut>),
    /// A History reply that another server streams: whole PDUs as they
    /// come, ending with the Success or Error in [`Chunk::Done`]. A stream
    /// that ends without one is answered Error 0x83.
    Stream(smol::channel::Receiver<Chunk>),
    /// Close the connection once everything before this is written.
    Close,
}

/// What an [`Out::History`] reads.
pub struct HistoryOut {
    pub store: Arc<Store>,
    pub cursor: HistoryCursor,
    pub items: bool,
    /// Whose turn its reads take (see [`super::scans`]).
    pub by: Arc<str>,
}

/// Part of an [`Out::Stream`].
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Whole PDUs; more follow.
    More(Vec<u8>),
    /// The last PDUs, ending with the reply's Success or Error.
    Done(Vec<u8>),
}

impl Out {
    /// Bytes this item counts for in the queue.
    fn cost(&self) -> usize {
        match self {
            Out::Shared(b) => b.len(),
            Out::Owned(b) => b.len(),
            Out::Static(b) => b.len(),
            Out::History(_) | Out::Stream(_) => super::core::HISTORY_COST,
            Out::Close => 0,
        }
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Out::Shared(b) => f.debug_tuple("Shared").field(&b.len()).finish(),
            Out::Owned(b) => f.debug_tuple("Owned").field(&b.len()).finish(),
            Out::Static(b) => f.debug_tuple("Static").field(&b.len()).finish(),
            Out::History(h) => f.debug_tuple("History").field(&h.cursor).finish(),
            Out::Stream(_) => f.write_str("Stream"),
            Out::Close => f.write_str("Close"),
        }
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<Out>,
    /// Sum of the queued items' costs.
    bytes: usize,
    /// The hub holds undecoded input of this session (see the module doc).
    parked: bool,
    /// A resume for the current parking has been asked for.
    resume_asked: bool,
    waker: Option<Waker>,
    /// The connection's reader, waiting until fewer than this many items
    /// are queued.
    room: Option<(usize, Waker)>,
    closed: bool,
    senders: usize,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue invalid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending side; cloning adds a sender.
pub struct Outbox(Arc<Shared>);

/// The receiving side, owned by the connection's writer.
pub struct Inbox(Arc<Shared>);

/// A new queue.
pub fn new() -> (Outbox, Inbox) {
    let shared = Arc::new(Shared::default());
    shared.lock().senders = 1;
    (Outbox(shared.clone()), Inbox(shared))
}

impl Outbox {
    /// Queues `out`; gives it back if the queue is closed.
    pub fn try_send(&self, out: Out) -> Result<(), Out> {
        let mut s = self.0.lock();
        if s.closed {
            return Err(out);
        }
        s.bytes += out.cost();
        s.queue.push_back(out);
        let waker = s.waker.take();
        drop(s);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Items waiting to be written.
    pub fn queued(&self) -> usize {
        self.0.lock().queue.len()
    }

    /// Bytes waiting to be written (History replies at their fixed cost).
    pub fn queued_bytes(&self) -> usize {
        self.0.lock().bytes
    }

    /// The hub holds input of this session back: the reader must wait.
    pub fn park(&self) {
        let mut s = self.0.lock();
        s.parked = true;
        s.resume_asked = false;
    }

    /// The hub has used all it held: the reader may go on.
    pub fn unpark(&self) {
        let mut s = self.0.lock();
        s.parked = false;
        let room = s.room.take();
        drop(s);
        if let Some((_, w)) = room {
            w.wake();
        }
    }

    /// Refuses further items; the writer drains what is queued, then ends.
    /// True if this call closed it.
    pub fn close(&self) -> bool {
        let mut s = self.0.lock();
        let was_open = !std::mem::replace(&mut s.closed, true);
        let wakers = [s.waker.take(), s.room.take().map(|(_, w)| w)];
        drop(s);
        wakers.into_iter().flatten().for_each(Waker::wake);
        was_open
    }

    /// Waits until fewer than `limit` items and `bytes` bytes are queued
    /// and the session is not parked; false if the queue was closed instead.
    pub async fn wait_for_room(&self, limit: usize, bytes: usize) -> bool {
        poll_fn(|cx| {
            let mut s = self.0.lock();
            if s.closed {
                return Poll::Ready(false);
            }
            if s.queue.len() < limit && s.bytes < bytes && !s.parked {
                return Poll::Ready(true);
            }
            s.room = Some((limit.min(s.queue.len()), cx.waker().clone()));
            Poll::Pending
        })
        .await
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        Outbox(self.0.clone())
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.senders -= 1;
        let waker = if s.senders == 0 { s.waker.take() } else { None };
        drop(s);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Inbox {
    /// The next item, waiting for one; `None` once the queue is empty and
    /// closed or without senders.
    pub async fn recv(&self) -> Option<Out> {
        poll_fn(|cx| {
            if let Some(out) = self.try_recv() {
                return Poll::Ready(Some(out));
            }
            let mut s = self.0.lock();
            if !s.queue.is_empty() {
                // Filled between the two locks: poll again at once.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if s.closed || s.senders == 0 {
                return Poll::Ready(None);
            }
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Whether the hub should be asked to resume this parked session now
    /// that no more than `low_water` bytes are queued; true once per parking.
    pub fn resume_due(&self, low_water: usize) -> bool {
        let mut s = self.0.lock();
        let due = s.parked && !s.resume_asked && s.bytes <= low_water;
        s.resume_asked |= due;
        due
    }

    /// The next item if one is waiting.
    pub fn try_recv(&self) -> Option<Out> {
        let mut s = self.0.lock();
        let out = s.pop();
        if let Some(out) = &out {
            s.bytes -= out.cost();
        }
        // The reader waits for room by count or by bytes: any pop may be
        // what it waits for, so it re-checks.
        let room = match s.room {
            Some((limit, _)) if s.queue.len() <= limit => s.room.take(),
            _ => None,
        };
        drop(s);
        if let Some((_, w)) = room {
            w.wake();
        }
        out
    }
}

impl State {
    fn pop(&mut self) -> Option<Out> {
        let out = self.queue.pop_front();
        if self.queue.is_empty() && self.queue.capacity() > 0 {
            // Idle connections keep no queue memory.
            self.queue = VecDeque::new();
        }
        out
    }
}

// A queued item stays small (see Out::History).
const _: () = assert!(std::mem::size_of::<Out>() <= 32);

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(b: u8) -> Out {
        Out::Owned(vec![b])
    }

    fn first(out: Option<Out>) -> Option<u8> {
        match out {
            Some(Out::Owned(v)) => Some(v[0]),
            _ => None,
        }
    }

    #[test]
    fn items_come_out_in_order_and_end_with_the_senders() {
        let (tx, rx) = new();
        let tx2 = tx.clone();
        tx.try_send(bytes(1)).unwrap();
        tx2.try_send(bytes(2)).unwrap();
        assert_eq!(tx.queued(), 2);
        assert_eq!(first(smol::block_on(rx.recv())), Some(1));
        assert_eq!(first(rx.try_recv()), Some(2));
        assert!(rx.try_recv().is_none());
        drop(tx);
        tx2.try_send(bytes(3)).unwrap();
        drop(tx2);
        assert_eq!(first(smol::block_on(rx.recv())), Some(3));
        assert!(smol::block_on(rx.recv()).is_none());
    }

    #[test]
    fn close_drains_then_ends_and_refuses_more() {
        let (tx, rx) = new();
        tx.try_send(bytes(1)).unwrap();
        assert!(tx.close());
        assert!(!tx.close());
        assert!(tx.try_send(bytes(2)).is_err());
        assert_eq!(first(smol::block_on(rx.recv())), Some(1));
        assert!(smol::block_on(rx.recv()).is_none());
    }

    #[test]
    fn a_waiting_receiver_wakes() {
        let (tx, rx) = new();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            tx.try_send(bytes(7)).unwrap();
        });
        assert_eq!(first(smol::block_on(rx.recv())), Some(7));
        sender.join().unwrap();
    }

    #[test]
    fn a_full_queue_makes_the_reader_wait_until_it_drains() {
        let (tx, rx) = new();
        for i in 0..3 {
            tx.try_send(bytes(i)).unwrap();
        }
        let waiter = {
            let tx = tx.clone();
            std::thread::spawn(move || smol::block_on(tx.wait_for_room(2, usize::MAX)))
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            !waiter.is_finished(),
            "3 queued, room below 2 needs 2 popped"
        );
        rx.try_recv();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!waiter.is_finished());
        rx.try_recv();
        assert!(waiter.join().unwrap());
        tx.close();
        assert!(!smol::block_on(tx.wait_for_room(10, usize::MAX)), "closed");
    }

    #[test]
    fn bytes_are_counted_and_parking_holds_the_reader() {
        let (tx, rx) = new();
        tx.try_send(Out::Owned(vec![0; 100])).unwrap();
        tx.try_send(Out::Static(&[1, 0, 0])).unwrap();
        assert_eq!(tx.queued_bytes(), 103);
        assert!(
            !smol::future::block_on(smol::future::poll_once(tx.wait_for_room(10, 100)))
                .is_some_and(|ok| ok)
        );
        tx.park();
        assert!(!rx.resume_due(50), "103 bytes queued");
        rx.try_recv();
        assert_eq!(tx.queued_bytes(), 3);
        assert!(rx.resume_due(50));
        assert!(!rx.resume_due(50), "asked once per parking");
        let parked = smol::future::block_on(smol::future::poll_once(tx.wait_for_room(10, 100)));
        assert!(parked.is_none(), "a parked session is not read");
        tx.unpark();
        assert!(smol::block_on(tx.wait_for_room(10, 100)));
    }

    #[test]
    fn an_empty_queue_holds_no_memory() {
        let (tx, rx) = new();
        for i in 0..100 {
            tx.try_send(bytes(i)).unwrap();
        }
        while rx.try_recv().is_some() {}
        assert_eq!(rx.0.lock().queue.capacity(), 0);
    }
}
