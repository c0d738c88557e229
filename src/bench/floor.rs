//! The fdatasync floor: what one durable append costs on the disk that
//! holds the server's store, timed in the same run as the load.
//!
//! A server that answers Success only once a message is on disk cannot be
//! faster than this disk's flush; the report sets solec's p99 against the
//! floor's. The measurement writes only its own scratch file, in the
//! directory it is given, and removes it on every path out.

use super::histogram::Histogram;
use super::load::INTERRUPTED;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Appends timed when `--floor-appends` is not given.
pub const DEFAULT_APPENDS: u64 = 1000;

/// Bytes per append: about one Message PDU with 64 bytes of content (a
/// 101-byte PDU) and its length, rounded up.
pub const RECORD_BYTES: usize = 128;

/// The run's measurement stops after this long even if appends remain, so
/// a slow disk (an SD card flushes in milliseconds) does not hold up the
/// run.
pub const MAX_TIME: Duration = Duration::from_secs(2);

/// The scratch file's name in the directory measured.
const SCRATCH_FILE: &str = "fdatasync-floor.scratch";

/// Each append's write plus its `fdatasync`, in nanoseconds.
#[derive(Debug)]
pub struct Timings {
    pub latency: Histogram,
    /// Appends done: fewer than asked when the time ran out.
    pub appends: u64,
}

/// The scratch file, removed when dropped.
struct Scratch {
    file: File,
    path: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Appends [`RECORD_BYTES`] to a new file in `dir` up to `appends` times
/// (at least once, and no more once `max_time` has passed), each followed
/// by `fdatasync`, and times each write with its flush.
pub fn measure(
    dir: &Path,
    appends: u64,
    max_time: Duration,
    stop: &AtomicBool,
) -> Result<Timings, String> {
    let path = dir.join(SCRATCH_FILE);
    let fail = |e: std::io::Error| format!("fdatasync floor: {}: {e}", path.display());
    let file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(&path)
        .map_err(fail)?;
    let mut scratch = Scratch {
        file,
        path: path.clone(),
    };
    let record = [0x5a_u8; RECORD_BYTES];
    let mut latency = Histogram::default();
    let deadline = Instant::now() + max_time;
    let mut done = 0;
    while done < appends.max(1) && (done == 0 || Instant::now() < deadline) {
        if stop.load(Ordering::Relaxed) {
            return Err(INTERRUPTED.to_owned());
        }
        let start = Instant::now();
        scratch.file.write_all(&record).map_err(fail)?;
        scratch.file.sync_data().map_err(fail)?;
        latency.record(start.elapsed().as_nanos() as u64);
        done += 1;
    }
    Ok(Timings {
        latency,
        appends: done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_every_append_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let t = measure(dir.path(), 5, MAX_TIME, &AtomicBool::new(false)).unwrap();
        assert_eq!((t.appends, t.latency.count()), (5, 5));
        assert!(t.latency.quantile(0.5) > 0);
        assert!(t.latency.quantile(0.5) <= t.latency.max());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// Out of time, it stops early, after at least one append.
    #[test]
    fn the_time_bound_ends_it_early() {
        let dir = tempfile::tempdir().unwrap();
        let t = measure(dir.path(), 1000, Duration::ZERO, &AtomicBool::new(false)).unwrap();
        assert_eq!((t.appends, t.latency.count()), (1, 1));
        let t = measure(dir.path(), 0, MAX_TIME, &AtomicBool::new(false)).unwrap();
        assert_eq!(t.appends, 1);
    }

    #[test]
    fn interrupted_it_removes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = measure(dir.path(), 5, MAX_TIME, &AtomicBool::new(true)).unwrap_err();
        assert_eq!(e, INTERRUPTED);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let e = measure(&gone, 5, MAX_TIME, &AtomicBool::new(false)).unwrap_err();
        assert!(e.contains("gone/fdatasync-floor.scratch"), "{e}");
    }
}
