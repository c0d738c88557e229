//! A store file opened for reading only, for `solec store check` and an
//! offline `solec store backup`: the file is never written.
//!
//! redb writes on open (the recovery of a file that was not closed
//! cleanly) and when checking integrity (the repair); those writes land
//! in an overlay in memory, block by block, so redb runs as usual and the
//! file stays as it was. The file is locked shared, so a server (which
//! locks it exclusively) cannot start on it meanwhile, and a running
//! server's file is refused as in use.

use super::StoreError;
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::Mutex;

/// The overlay's unit, in bytes.
const BLOCK: u64 = 4096;

/// Most bytes the overlay may hold: redb's recovery and repair rewrite
/// the allocator state and a few pages, far less than this; a file that
/// needs more is refused rather than let grow the checker's memory.
pub const MAX_OVERLAY_BYTES: u64 = 256 << 20;

#[derive(Debug)]
pub struct ReadOnly {
    file: File,
    state: Mutex<Overlay>,
}

/// The file's bytes as redb has changed them.
#[derive(Debug)]
struct Overlay {
    len: u64,
    /// Block number → its bytes; blocks absent here are the file's.
    blocks: BTreeMap<u64, Vec<u8>>,
}

impl ReadOnly {
    /// Opens `path` for reading and locks it shared; a file locked by a
    /// server is [`StoreError::InUse`].
    pub fn open(path: &Path) -> Result<ReadOnly, StoreError> {
        let io = |e| StoreError::Io(path.to_owned(), e);
        let file = File::open(path).map_err(io)?;
        // SAFETY: flock(2) on a descriptor this function owns.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(match e.kind() {
                io::ErrorKind::WouldBlock => StoreError::InUse(path.to_owned()),
                _ => StoreError::Io(path.to_owned(), e),
            });
        }
        ReadOnly::over_locked(file).map_err(io)
    }

    /// A read-only view of `file`, whose lock the caller holds already
    /// (the server's own store, after a write failed: see `reopen`).
    pub fn over_locked(file: File) -> io::Result<ReadOnly> {
        let len = file.metadata()?.len();
        let blocks = BTreeMap::new();
        let state = Mutex::new(Overlay { len, blocks });
        Ok(ReadOnly { file, state })
    }

    /// One block as it reads now: the overlay's, else the file's, zeros
    /// past the file's end.
    fn block(&self, overlay: &Overlay, n: u64) -> io::Result<Vec<u8>> {
        if let Some(b) = overlay.blocks.get(&n) {
            return Ok(b.clone());
        }
        let mut b = vec![0; BLOCK as usize];
        let mut filled = 0;
        while filled < b.len() {
            match self
                .file
                .read_at(&mut b[filled..], n * BLOCK + filled as u64)?
            {
                0 => break,
                k => filled += k,
            }
        }
        Ok(b)
    }
}

impl redb::StorageBackend for ReadOnly {
    fn len(&self) -> io::Result<u64> {
        Ok(self.state.lock().expect("overlay lock").len)
    }

    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let overlay = self.state.lock().expect("overlay lock");
        let end = offset.checked_add(len as u64).filter(|&e| e <= overlay.len);
        let Some(end) = end else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end",
            ));
        };
        let mut out = Vec::with_capacity(len);
        let mut at = offset;
        while at < end {
            let block = self.block(&overlay, at / BLOCK)?;
            let from = (at % BLOCK) as usize;
            let to = ((end - at) as usize + from).min(BLOCK as usize);
            out.extend_from_slice(&block[from..to]);
            at += (to - from) as u64;
        }
        Ok(out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut overlay = self.state.lock().expect("overlay lock");
        // Bytes past a shrink read as zeros if the file grows again.
        let first_gone = len.div_ceil(BLOCK);
        let gone: Vec<u64> = overlay
            .blocks
            .range(first_gone..)
            .map(|(k, _)| *k)
            .collect();
        for k in gone {
            overlay.blocks.remove(&k);
        }
        if len < overlay.len && len % BLOCK != 0 {
            let n = len / BLOCK;
            let mut b = self.block(&overlay, n)?;
            b[(len % BLOCK) as usize..].fill(0);
            overlay.blocks.insert(n, b);
        }
        if len > overlay.len && overlay.len < self.file_len()? {
            // Growing after a shrink: the file's old bytes must not reappear.
            for n in overlay.len.div_ceil(BLOCK)..len.div_ceil(BLOCK) {
                overlay
                    .blocks
                    .entry(n)
                    .or_insert_with(|| vec![0; BLOCK as usize]);
            }
        }
        overlay.len = len;
        self.check_size(&overlay)
    }

    fn sync_data(&self, _eventual: bool) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut overlay = self.state.lock().expect("overlay lock");
        let mut at = offset;
        let mut rest = data;
        while !rest.is_empty() {
            let n = at / BLOCK;
            let mut block = self.block(&overlay, n)?;
            let from = (at % BLOCK) as usize;
            let take = rest.len().min(BLOCK as usize - from);
            block[from..from + take].copy_from_slice(&rest[..take]);
            overlay.blocks.insert(n, block);
            rest = &rest[take..];
            at += take as u64;
        }
        overlay.len = overlay.len.max(offset + data.len() as u64);
        self.check_size(&overlay)
    }
}

impl ReadOnly {
    fn file_len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn check_size(&self, overlay: &Overlay) -> io::Result<()> {
        if overlay.blocks.len() as u64 * BLOCK > MAX_OVERLAY_BYTES {
            return Err(io::Error::other(
                "checking needs more memory than MAX_OVERLAY_BYTES for redb's recovery",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::StorageBackend as _;

    #[test]
    fn writes_stay_in_memory_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let original: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        std::fs::write(&path, &original).unwrap();
        let ro = ReadOnly::open(&path).unwrap();
        assert_eq!(ro.read(4090, 10).unwrap(), original[4090..4100]);
        ro.write(4094, &[0xAA; 5]).unwrap();
        let mut want = original.clone();
        want[4094..4099].fill(0xAA);
        assert_eq!(ro.read(0, 10_000).unwrap(), want);
        ro.write(10_000, b"tail").unwrap();
        assert_eq!(ro.len().unwrap(), 10_004);
        ro.set_len(5000).unwrap();
        ro.set_len(9000).unwrap();
        assert_eq!(
            ro.read(4999, 2).unwrap(),
            [want[4999], 0],
            "zeros after a shrink"
        );
        assert!(ro.read(8999, 2).is_err(), "past the end");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            original,
            "the file is untouched"
        );
    }
}
