//! The password-check pool: at most a fixed number of argon2 checks at
//! once, and two queues for the rest, so a login whose address has not
//! been failing ([`Class::Clean`]) goes before every waiting suspect one.
//! A flood of wrong passwords then delays only itself.
//!
//! Its lock is a std mutex held for a queue operation, never across an
//! `.await`. A waiter that gives up (its login deadline passed) leaves a
//! closed sender behind, skipped when a slot frees and swept when a queue
//! grows, so the queues stay bounded by the logins waiting now. A waiter
//! costs one small [`super::reply`] slot, not an async channel: see there
//! why that matters to the memory of every session.

use super::throttle::Class;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// A queue is swept of waiters that gave up each time it reaches a
/// multiple of this length.
const SWEEP_EVERY: usize = 64;

/// See the module doc.
#[derive(Debug)]
pub struct Pool {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    free: usize,
    /// Clean, then suspect.
    queues: [VecDeque<super::reply::Sender<Permit>>; 2],
}

/// A slot in the pool, given back when dropped.
#[derive(Debug)]
pub struct Permit {
    pool: Option<Arc<Pool>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.release();
        }
    }
}

impl Pool {
    pub fn new(slots: usize) -> Arc<Pool> {
        Arc::new(Pool {
            state: Mutex::new(State {
                free: slots,
                queues: Default::default(),
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Each operation leaves the state whole; a panic cannot break it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot, behind every waiting clean attempt and, if
    /// `class` is suspect, every waiting suspect one too.
    pub async fn acquire(self: &Arc<Self>, class: Class) -> Permit {
        let rx = {
            let mut s = self.state();
            // Nobody waits while a slot is free.
            if s.free > 0 {
                s.free -= 1;
                return Permit {
                    pool: Some(self.clone()),
                };
            }
            let (tx, rx) = super::reply::channel();
            let queue = &mut s.queues[class as usize];
            queue.push_back(tx);
            if queue.len() % SWEEP_EVERY == 0 {
                queue.retain(|w| !w.is_closed());
            }
            rx
        };
        // A waiter's sender is dropped only once a permit is in its
        // channel or its receiver is gone, so this yields a permit; were
        // it ever not to, an empty one holds nothing.
        rx.recv().await.unwrap_or(Permit { pool: None })
    }

    /// Hands a freed slot to the first waiter still there, clean first.
    ///
    /// The lock is let go before the permit is sent: a receiver that gives
    /// up at that moment drops the permit it never took, which comes back
    /// here.
    fn release(self: &Arc<Self>) {
        loop {
            let waiter = {
                let mut s = self.state();
                match s.queues.iter_mut().find_map(|q| q.pop_front()) {
                    Some(waiter) => waiter,
                    None => {
                        s.free += 1;
                        return;
                    }
                }
            };
            let permit = Permit {
                pool: Some(self.clone()),
            };
            match waiter.send(permit) {
                Ok(()) => return,
                // It gave up: disarm this permit and try the next.
                Err(mut permit) => drop(permit.pool.take()),
            }
        }
    }

    /// Free slots and waiters, for tests.
    #[cfg(test)]
    fn counts(&self) -> (usize, usize, usize) {
        let s = self.state();
        (s.free, s.queues[0].len(), s.queues[1].len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smol::future::FutureExt as _;
    use std::time::Duration;

    #[test]
    fn clean_waiters_go_first_and_slots_come_back() {
        smol::block_on(async {
            let pool = Pool::new(1);
            let first = pool.acquire(Class::Suspect).await;
            let order = Arc::new(Mutex::new(Vec::new()));
            let mut tasks = Vec::new();
            for (i, class) in [Class::Suspect, Class::Suspect, Class::Clean]
                .into_iter()
                .enumerate()
            {
                let (waiter, order) = (pool.clone(), order.clone());
                tasks.push(smol::spawn(async move {
                    let _p = waiter.acquire(class).await;
                    order.lock().unwrap().push(i);
                }));
                // Queued in this order.
                while pool.counts().1 + pool.counts().2 <= i {
                    smol::future::yield_now().await;
                }
            }
            assert_eq!(pool.counts(), (0, 1, 2));
            drop(first);
            for t in tasks {
                t.await;
            }
            assert_eq!(*order.lock().unwrap(), [2, 0, 1]);
            assert_eq!(pool.counts(), (1, 0, 0));
        });
    }

    #[test]
    fn a_waiter_that_gives_up_loses_no_slot() {
        smol::block_on(async {
            let pool = Pool::new(1);
            let held = pool.acquire(Class::Clean).await;
            for _ in 0..(SWEEP_EVERY * 3) {
                let gave_up = async { Some(pool.acquire(Class::Suspect).await) }
                    .or(async {
                        smol::Timer::after(Duration::from_millis(1)).await;
                        None
                    })
                    .await;
                assert!(gave_up.is_none());
            }
            // Swept as the queue grew.
            assert!(pool.counts().2 <= SWEEP_EVERY, "{:?}", pool.counts());
            drop(held);
            assert_eq!(pool.counts(), (1, 0, 0));
            let _again = pool.acquire(Class::Suspect).await;
            assert_eq!(pool.counts(), (0, 0, 0));
        });
    }
}
