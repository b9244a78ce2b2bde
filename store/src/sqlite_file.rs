//! The SQLite database file's identity, watched while a store runs.
//!
//! SQLite keeps working on a file that was deleted or replaced under it: the open handle
//! still points at the old inode, so writes land in a file nobody will ever open again
//! and a restart forgets them. The store therefore records the file's identity (device
//! and inode) when it opens it, keeps a handle of its own (so the inode number cannot be
//! reused while the store runs), and compares the path's identity with it: before every
//! write, and before reads (the version poll, every 5 ms by default, among them) at most
//! every [`CHECK_EVERY`]. Once the file is gone or replaced, every call fails with
//! [`StoreError::Unavailable`] until the store is opened again (a restart).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::StoreError;

/// How often, at most, the path is looked at outside version polls.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(5);

/// The message of the error every call returns once the file is gone.
const GONE: &str = "the SQLite database file was deleted or replaced while the store had it open; \
                    reopen the store (restart) on the intended file";

/// The identity of the database file a store opened, and whether it is still at its path.
#[derive(Debug)]
pub(crate) struct FileWatch {
    path: PathBuf,
    /// Our own handle on the file: its inode stays allocated while we hold it.
    opened: std::fs::File,
    identity: Identity,
    gone: AtomicBool,
    started: Instant,
    /// Milliseconds after `started` of the last look at the path.
    last_check: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    device: u64,
    inode: u64,
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    Identity {
        device: meta.dev(),
        inode: meta.ino(),
    }
}

/// Elsewhere the file's creation time stands in for its identity (no inode numbers).
#[cfg(not(unix))]
fn identity(meta: &std::fs::Metadata) -> Identity {
    let created = meta
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    Identity {
        device: 0,
        inode: created,
    }
}

#[cfg(unix)]
fn unlinked(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.nlink() == 0
}

#[cfg(not(unix))]
fn unlinked(_meta: &std::fs::Metadata) -> bool {
    false
}

impl FileWatch {
    /// Starts watching the file SQLite just opened at `path`; `None` when there is no file
    /// to watch (an in-memory or temporary database).
    pub(crate) fn open(path: &Path) -> Option<Self> {
        let opened = std::fs::File::open(path).ok()?;
        let meta = opened.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        Some(Self {
            path: path.to_path_buf(),
            identity: identity(&meta),
            opened,
            gone: AtomicBool::new(false),
            started: Instant::now(),
            last_check: AtomicU64::new(0),
        })
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Looks at the path now: `Err` once the file was deleted or replaced (for good), or
    /// when the path cannot be examined (for this call only).
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if self.gone.load(Ordering::Acquire) {
            return Err(StoreError::unavailable(GONE));
        }
        self.last_check.store(self.elapsed_ms(), Ordering::Release);
        let at_path = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(self.mark_gone()),
            Err(e) => {
                return Err(StoreError::unavailable(format!(
                    "the SQLite database file cannot be examined: {e}"
                )));
            }
        };
        let ours = self.opened.metadata().map_err(StoreError::unavailable)?;
        if identity(&at_path) != self.identity || unlinked(&ours) {
            return Err(self.mark_gone());
        }
        Ok(())
    }

    /// [`check`](Self::check), but answered from the last look when it is more recent
    /// than [`CHECK_EVERY`].
    pub(crate) fn check_recent(&self) -> Result<(), StoreError> {
        if self.gone.load(Ordering::Acquire) {
            return Err(StoreError::unavailable(GONE));
        }
        let every = u64::try_from(CHECK_EVERY.as_millis()).unwrap_or(u64::MAX);
        let last = self.last_check.load(Ordering::Acquire);
        if self.elapsed_ms().saturating_sub(last) < every {
            return Ok(());
        }
        self.check()
    }

    /// Opens the file (and its write-ahead log, when there is one) for writing, writing
    /// nothing: `Err` when the operating system refuses (a read-only file or file system,
    /// an immutable file). SQLite alone may not notice: a connection can reuse a
    /// descriptor another connection of this process opened before the file became
    /// read-only.
    pub(crate) fn check_writable(&self) -> Result<(), StoreError> {
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        for (path, required) in [(self.path.as_path(), true), (wal.as_path(), false)] {
            match std::fs::OpenOptions::new().write(true).open(path) {
                Ok(_) => {}
                Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::unavailable(format!(
                        "the SQLite database file cannot be written: {e}"
                    )));
                }
            }
        }
        Ok(())
    }

    fn mark_gone(&self) -> StoreError {
        self.gone.store(true, Ordering::Release);
        StoreError::unavailable(GONE)
    }
}
