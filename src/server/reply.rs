//! One-shot replies between tasks and threads: the hub answering a
//! login's lookup, the password-check pool handing a waiter its slot.
//!
//! Not an async channel: `smol::channel::bounded(1)` is one block of about
//! 768 bytes aligned to 128 (its queue keeps cache-padded indices), and
//! glibc serves such a request by cutting an aligned piece out of a larger
//! chunk. With logins in flight, those blocks are freed between the
//! long-lived allocations of the sessions accepted meanwhile, and the holes
//! they leave are too small for the next aligned request: each login left
//! about a kilobyte of free memory resident for as long as its neighbours
//! lived (see `solec bench`, KiB per idle connection). A reply here is one
//! small ordinary allocation: a mutex, the value and a waker.
//!
//! Its locking rule: the mutex is held to put or take the value or swap
//! the waker, never across an `.await`; a value is dropped only after the
//! lock is let go, since dropping it may run code (a pool permit gives
//! its slot back).

use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

/// A reply not yet given; see the module doc.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State {
            value: None,
            waker: None,
            sender: true,
            receiver: true,
        }),
    });
    (Sender(slot.clone()), Receiver(slot))
}

/// The end that answers, once.
pub struct Sender<T>(Arc<Slot<T>>);

/// The end that waits for the answer.
pub struct Receiver<T>(Arc<Slot<T>>);

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The sender went without answering.
#[derive(Debug, PartialEq, Eq)]
pub struct Dropped;

struct Slot<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    value: Option<T>,
    waker: Option<Waker>,
    /// Whether each end is still there.
    sender: bool,
    receiver: bool,
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every critical section leaves the state whole; a panic cannot
        // break it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> Sender<T> {
    /// Gives the answer; hands it back if the receiver is gone.
    pub fn send(self, value: T) -> Result<(), T> {
        let waker = {
            let mut s = self.0.lock();
            if !s.receiver {
                return Err(value);
            }
            s.value = Some(value);
            s.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// The receiver is gone: nobody waits for this answer any more.
    pub fn is_closed(&self) -> bool {
        !self.0.lock().receiver
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut s = self.0.lock();
            s.sender = false;
            s.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Waits for the answer, or for the sender to go without one.
    pub async fn recv(self) -> Result<T, Dropped> {
        poll_fn(|cx| {
            let mut s = self.0.lock();
            if let Some(value) = s.value.take() {
                return Poll::Ready(Ok(value));
            }
            if !s.sender {
                return Poll::Ready(Err(Dropped));
            }
            match &mut s.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                w => *w = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let unread = {
            let mut s = self.0.lock();
            s.receiver = false;
            s.waker = None;
            s.value.take()
        };
        drop(unread);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smol::future::FutureExt as _;
    use std::time::Duration;

    #[test]
    fn an_answer_arrives_across_threads() {
        let (tx, rx) = channel();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            tx.send(7).unwrap();
        });
        assert_eq!(smol::block_on(rx.recv()), Ok(7));
        t.join().unwrap();
    }

    #[test]
    fn a_sender_that_goes_without_answering_ends_the_wait() {
        let (tx, rx) = channel::<u8>();
        let t = std::thread::spawn(move || drop(tx));
        assert_eq!(smol::block_on(rx.recv()), Err(Dropped));
        t.join().unwrap();
    }

    /// Counts drops, to see an unread answer go.
    struct Counted(Arc<std::sync::atomic::AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn an_answer_nobody_waits_for_comes_back_or_is_dropped() {
        let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // The receiver gone first: the answer comes back to the sender.
        let (tx, rx) = channel();
        drop(rx);
        assert!(tx.is_closed());
        let back = tx.send(Counted(drops.clone())).expect_err("refused");
        drop(back);
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Given, then the receiver gives up: dropped with it.
        let (tx, rx) = channel();
        assert!(!tx.is_closed());
        assert!(tx.send(Counted(drops.clone())).is_ok());
        drop(rx);
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn a_receiver_that_gives_up_mid_wait_closes_its_sender() {
        smol::block_on(async {
            let (tx, rx) = channel::<u8>();
            let gave_up = async { Some(rx.recv().await) }
                .or(async {
                    smol::Timer::after(Duration::from_millis(1)).await;
                    None
                })
                .await;
            assert_eq!(gave_up, None);
            assert!(tx.is_closed());
            assert_eq!(tx.send(1), Err(1));
        });
    }
}
