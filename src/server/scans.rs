//! Turns at History reads, fair between users.
//!
//! A History reply is read a chunk at a time on a blocking thread. At most
//! [`MAX_HISTORY_READS`] chunk reads run at once on the server, and at most
//! one per user: a user's requests, from all their sessions, wait for each
//! other in their own lane before they wait for a slot, so a user with a
//! hundred sessions scanning a long channel delays anyone else by at most
//! one chunk, not a hundred. A chunk looks at a bounded number of rows
//! ([`crate::store::HISTORY_CHUNK_ROWS`]), so a turn is short.

use smol::lock::{Mutex, MutexGuardArc, Semaphore, SemaphoreGuard};
use std::collections::HashMap;
use std::sync::Arc;

/// History chunk reads running at once, each on a blocking thread.
pub const MAX_HISTORY_READS: usize = 4;

/// The slots and a lane per user with a read running or waiting.
pub struct Scans {
    slots: Semaphore,
    /// Lanes in use; a lane goes when its last user lets go of it, so the
    /// map holds at most one entry per user reading or waiting to.
    lanes: std::sync::Mutex<HashMap<Arc<str>, Arc<Mutex<()>>>>,
}

/// One chunk read's right to run: hold it while reading.
pub struct Turn<'a> {
    // Dropped in this order: the slot, the lane, then the lane's entry.
    _slot: SemaphoreGuard<'a>,
    _held: MutexGuardArc<()>,
    _lane: LaneRef<'a>,
}

/// A handle on a user's lane that removes the lane from the map when the
/// last handle goes, whether its turn came or its wait was given up.
struct LaneRef<'a> {
    scans: &'a Scans,
    by: Arc<str>,
    lane: Arc<Mutex<()>>,
}

impl Drop for LaneRef<'_> {
    fn drop(&mut self) {
        let mut lanes = self.scans.lanes();
        // The map's and this one: nobody else holds or waits for the lane.
        if Arc::strong_count(&self.lane) == 2 {
            lanes.remove(&self.by);
        }
    }
}

impl Default for Scans {
    fn default() -> Self {
        Scans::new(MAX_HISTORY_READS)
    }
}

impl Scans {
    /// Turns with `slots` reads at once.
    pub fn new(slots: usize) -> Scans {
        Scans {
            slots: Semaphore::new(slots),
            lanes: Default::default(),
        }
    }

    fn lanes(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Arc<Mutex<()>>>> {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for `by`'s earlier reads, then for a slot.
    pub async fn turn(&self, by: &Arc<str>) -> Turn<'_> {
        let lane = self.lanes().entry(by.clone()).or_default().clone();
        let lane = LaneRef {
            scans: self,
            by: by.clone(),
            lane,
        };
        let held = lane.lane.lock_arc().await;
        let slot = self.slots.acquire().await;
        Turn {
            _slot: slot,
            _held: held,
            _lane: lane,
        }
    }

    /// Users with a read running or waiting.
    #[cfg(test)]
    pub fn lanes_in_use(&self) -> usize {
        self.lanes().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smol::block_on;
    use smol::future::poll_once;

    #[test]
    fn a_users_reads_wait_for_their_own_not_for_everyone() {
        block_on(async {
            let scans = Scans::new(2);
            let (mallory, alice): (Arc<str>, Arc<str>) = ("mallory".into(), "alice".into());
            let first = scans.turn(&mallory).await;
            // Mallory's second read waits, though a slot is free...
            let mut second = Box::pin(scans.turn(&mallory));
            assert!(poll_once(&mut second).await.is_none());
            let mut third = Box::pin(scans.turn(&mallory));
            assert!(poll_once(&mut third).await.is_none());
            // ...and takes no slot while it waits: alice reads at once.
            let honest = poll_once(scans.turn(&alice)).await;
            assert!(honest.is_some(), "alice must not queue behind mallory");
            drop(honest);
            drop(first);
            let second = second.await;
            assert!(poll_once(&mut third).await.is_none());
            drop(second);
            drop(third.await);
            assert_eq!(scans.lanes_in_use(), 0, "lanes go with their last read");
        });
    }

    #[test]
    fn slots_bound_reads_of_different_users() {
        block_on(async {
            let scans = Scans::new(1);
            let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
            let first = scans.turn(&a).await;
            let mut other = Box::pin(scans.turn(&b));
            assert!(poll_once(&mut other).await.is_none());
            drop(first);
            drop(other.await);
            assert_eq!(scans.lanes_in_use(), 0);
        });
    }

    #[test]
    fn a_wait_given_up_leaves_no_lane_behind() {
        block_on(async {
            let scans = Scans::new(1);
            let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
            let first = scans.turn(&a).await;
            let mut waiting = Box::pin(scans.turn(&b));
            assert!(poll_once(&mut waiting).await.is_none());
            drop(waiting);
            assert_eq!(scans.lanes_in_use(), 1);
            drop(first);
            assert_eq!(scans.lanes_in_use(), 0);
        });
    }
}
