//! Fault injection for tests (feature `test-util`): a backend wrapper that fails on
//! command and counts the calls that reach the backend.
//!
//! A [`FaultInjector`] is handed to [`StoreConfig::faults`](crate::StoreConfig::faults);
//! the store then wraps whichever backend it opens (memory, SQLite, PostgreSQL), so every
//! "the store is unavailable" answer of a server can be tested without stopping a
//! database, and "one store lookup per request" can be counted.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use fwtoken::DeviceId;
//! use fwtoken_store::testing::{Fault, FaultInjector, Op};
//! use fwtoken_store::{Store, StoreConfig, StoreError};
//! let faults = FaultInjector::new();
//! let store = Store::memory(StoreConfig::new().cache(false).faults(&faults)).await?;
//! let id = DeviceId::from_bytes([7; 16]);
//! assert!(!store.is_device_active(&id).await?);
//! assert_eq!(faults.calls(Op::DeviceStatus), 1);
//! faults.fail(Fault::Unavailable);
//! assert!(matches!(store.is_device_active(&id).await, Err(StoreError::Unavailable(_))));
//! faults.heal();
//! assert!(!store.is_device_active(&id).await?);
//! # Ok::<(), StoreError>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::backend::{
    ApiRow, Backend, BoxFut, ChangeSnapshot, DeviceRow, ImportOutcome, LogRetention, Status,
    VersionSink, Written,
};
use crate::error::StoreError;
use crate::model::{ApiSelector, ApiTokenEntry, DeviceEntry, DeviceLimit, Registered};

/// What an injected failure looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// [`StoreError::Unavailable`]: the storage cannot be reached (a server answers 503).
    Unavailable,
    /// [`StoreError::Corrupt`]: the storage answered something unexpected (a server
    /// answers 500).
    Corrupt,
}

impl Fault {
    const fn code(self) -> u8 {
        match self {
            Fault::Unavailable => 1,
            Fault::Corrupt => 2,
        }
    }

    fn error(code: u8) -> Option<StoreError> {
        match code {
            1 => Some(StoreError::unavailable("injected fault")),
            2 => Some(StoreError::Corrupt("injected fault")),
            _ => None,
        }
    }
}

/// One kind of backend call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// Registering a device (with the cap check).
    RegisterDevice,
    /// Reading a device's status (a check the cache could not answer).
    DeviceStatus,
    /// Recording that a device was seen.
    TouchDevice,
    /// Listing a user's devices.
    ListDevices,
    /// Revoking one device.
    RevokeDevice,
    /// Revoking every device of a user.
    RevokeUserDevices,
    /// Registering an API token.
    RegisterApiToken,
    /// Reading an API token's status.
    ApiTokenStatus,
    /// Listing a user's API tokens.
    ListApiTokens,
    /// Revoking API tokens (by id, user or application).
    RevokeApiTokens,
    /// Recording a login token's use.
    UseLoginToken,
    /// Housekeeping's purges (expired rows and the change log).
    PurgeExpired,
    /// Reading the version number and the change log above it (the sync task, and the
    /// cache's first read).
    Version,
    /// The start-up writability check.
    CheckWritable,
    /// Registering devices in bulk (`import_devices`).
    ImportDevices,
}

impl Op {
    /// Every kind of call.
    pub const ALL: [Op; 15] = [
        Op::RegisterDevice,
        Op::DeviceStatus,
        Op::TouchDevice,
        Op::ListDevices,
        Op::RevokeDevice,
        Op::RevokeUserDevices,
        Op::RegisterApiToken,
        Op::ApiTokenStatus,
        Op::ListApiTokens,
        Op::RevokeApiTokens,
        Op::UseLoginToken,
        Op::PurgeExpired,
        Op::Version,
        Op::CheckWritable,
        Op::ImportDevices,
    ];

    const fn index(self) -> usize {
        match self {
            Op::RegisterDevice => 0,
            Op::DeviceStatus => 1,
            Op::TouchDevice => 2,
            Op::ListDevices => 3,
            Op::RevokeDevice => 4,
            Op::RevokeUserDevices => 5,
            Op::RegisterApiToken => 6,
            Op::ApiTokenStatus => 7,
            Op::ListApiTokens => 8,
            Op::RevokeApiTokens => 9,
            Op::UseLoginToken => 10,
            Op::PurgeExpired => 11,
            Op::Version => 12,
            Op::CheckWritable => 13,
            Op::ImportDevices => 14,
        }
    }

    /// True for the calls a request makes (everything but the background version poll
    /// and housekeeping).
    pub const fn is_request(self) -> bool {
        !matches!(self, Op::Version | Op::PurgeExpired)
    }
}

#[derive(Default)]
struct State {
    faults: [AtomicU8; Op::ALL.len()],
    calls: [AtomicU64; Op::ALL.len()],
}

/// The switchboard of a fault-injecting backend: cheap to clone, shared with the store it
/// was given to. Faults apply from the next call on, until [`heal`](Self::heal).
#[derive(Clone, Default)]
pub struct FaultInjector {
    state: Arc<State>,
}

impl fmt::Debug for FaultInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultInjector")
            .field("request_calls", &self.request_calls())
            .finish_non_exhaustive()
    }
}

impl FaultInjector {
    /// No fault, no call counted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every call fails with `fault` (the version poll too, so cached answers expire
    /// after `max_stale` as in a real outage).
    pub fn fail(&self, fault: Fault) {
        for op in Op::ALL {
            self.fail_op(op, fault);
        }
    }

    /// Calls of one kind fail with `fault`; the others are unaffected.
    pub fn fail_op(&self, op: Op, fault: Fault) {
        if let Some(slot) = self.slot(op) {
            slot.store(fault.code(), Ordering::Release);
        }
    }

    /// Every call of a kind that writes fails with `fault`, reads still work (a database
    /// that became read-only).
    pub fn fail_writes(&self, fault: Fault) {
        for op in [
            Op::RegisterDevice,
            Op::TouchDevice,
            Op::RevokeDevice,
            Op::RevokeUserDevices,
            Op::RegisterApiToken,
            Op::RevokeApiTokens,
            Op::UseLoginToken,
            Op::PurgeExpired,
            Op::CheckWritable,
            Op::ImportDevices,
        ] {
            self.fail_op(op, fault);
        }
    }

    /// No call fails any more.
    pub fn heal(&self) {
        for slot in &self.state.faults {
            slot.store(0, Ordering::Release);
        }
    }

    /// How many calls of this kind reached the backend (failed ones included).
    pub fn calls(&self, op: Op) -> u64 {
        self.state
            .calls
            .get(op.index())
            .map_or(0, |c| c.load(Ordering::Acquire))
    }

    /// How many calls a request could have made reached the backend: every kind but the
    /// version poll and housekeeping.
    pub fn request_calls(&self) -> u64 {
        Op::ALL
            .into_iter()
            .filter(|op| op.is_request())
            .map(|op| self.calls(op))
            .sum()
    }

    /// Sets every count back to zero.
    pub fn reset_calls(&self) {
        for c in &self.state.calls {
            c.store(0, Ordering::Release);
        }
    }

    fn slot(&self, op: Op) -> Option<&AtomicU8> {
        self.state.faults.get(op.index())
    }

    /// Counts the call, and the error to answer instead of calling the backend.
    fn enter(&self, op: Op) -> Option<StoreError> {
        if let Some(c) = self.state.calls.get(op.index()) {
            c.fetch_add(1, Ordering::AcqRel);
        }
        self.slot(op)
            .and_then(|slot| Fault::error(slot.load(Ordering::Acquire)))
    }
}

/// A backend that counts calls and fails on command, around the real one.
pub(crate) struct FaultyBackend {
    inner: Arc<dyn Backend>,
    faults: FaultInjector,
}

impl FaultyBackend {
    pub(crate) fn wrap(inner: Arc<dyn Backend>, faults: FaultInjector) -> Arc<dyn Backend> {
        Arc::new(Self { inner, faults })
    }

    fn guard<'a, T: Send + 'a>(
        &'a self,
        op: Op,
        call: impl FnOnce() -> BoxFut<'a, T>,
    ) -> BoxFut<'a, T> {
        match self.faults.enter(op) {
            Some(e) => Box::pin(async move { Err(e) }),
            None => call(),
        }
    }
}

impl Backend for FaultyBackend {
    fn register_device(
        &self,
        row: DeviceRow,
        limit: DeviceLimit,
        now: i64,
    ) -> BoxFut<'_, Written<Registered>> {
        self.guard(Op::RegisterDevice, || {
            self.inner.register_device(row, limit, now)
        })
    }

    fn device_status(&self, id: [u8; 16]) -> BoxFut<'_, (Status, u64)> {
        self.guard(Op::DeviceStatus, || self.inner.device_status(id))
    }

    fn touch_device(&self, id: [u8; 16], now: i64) -> BoxFut<'_, bool> {
        self.guard(Op::TouchDevice, || self.inner.touch_device(id, now))
    }

    fn list_devices(&self, key: String) -> BoxFut<'_, Vec<DeviceEntry>> {
        self.guard(Op::ListDevices, || self.inner.list_devices(key))
    }

    fn revoke_device(&self, id: [u8; 16], now: i64) -> BoxFut<'_, Written<bool>> {
        self.guard(Op::RevokeDevice, || self.inner.revoke_device(id, now))
    }

    fn revoke_user_devices(&self, key: String, now: i64) -> BoxFut<'_, Written<Vec<[u8; 16]>>> {
        self.guard(Op::RevokeUserDevices, || {
            self.inner.revoke_user_devices(key, now)
        })
    }

    fn register_api_token(&self, row: ApiRow) -> BoxFut<'_, bool> {
        self.guard(Op::RegisterApiToken, || self.inner.register_api_token(row))
    }

    fn api_token_status(&self, id: [u8; 16]) -> BoxFut<'_, (Status, u64)> {
        self.guard(Op::ApiTokenStatus, || self.inner.api_token_status(id))
    }

    fn list_api_tokens(&self, key: String) -> BoxFut<'_, Vec<ApiTokenEntry>> {
        self.guard(Op::ListApiTokens, || self.inner.list_api_tokens(key))
    }

    fn revoke_api_tokens<'a>(
        &'a self,
        which: ApiSelector<'a>,
        now: i64,
    ) -> BoxFut<'a, Written<Vec<[u8; 16]>>> {
        self.guard(Op::RevokeApiTokens, || {
            self.inner.revoke_api_tokens(which, now)
        })
    }

    fn use_login_token(&self, digest: [u8; 32], expires: i64) -> BoxFut<'_, bool> {
        self.guard(Op::UseLoginToken, || {
            self.inner.use_login_token(digest, expires)
        })
    }

    fn purge_expired(&self, now: i64, batch: usize) -> BoxFut<'_, usize> {
        self.guard(Op::PurgeExpired, || self.inner.purge_expired(now, batch))
    }

    fn version(&self) -> BoxFut<'_, u64> {
        self.guard(Op::Version, || self.inner.version())
    }

    fn changes_since(&self, after: Option<u64>, limit: usize) -> BoxFut<'_, ChangeSnapshot> {
        self.guard(Op::Version, || self.inner.changes_since(after, limit))
    }

    fn purge_changes(&self, now: i64, retention: LogRetention) -> BoxFut<'_, usize> {
        self.guard(Op::PurgeExpired, || {
            self.inner.purge_changes(now, retention)
        })
    }

    fn import_devices(
        &self,
        rows: Vec<DeviceRow>,
        limit: DeviceLimit,
        now: i64,
    ) -> BoxFut<'_, Written<Vec<ImportOutcome>>> {
        self.guard(Op::ImportDevices, || {
            self.inner.import_devices(rows, limit, now)
        })
    }

    fn start_listener(&self, sink: VersionSink) -> Option<tokio::task::JoinHandle<()>> {
        self.inner.start_listener(sink)
    }

    fn default_poll(&self) -> std::time::Duration {
        self.inner.default_poll()
    }

    fn check_writable(&self) -> BoxFut<'_, ()> {
        self.guard(Op::CheckWritable, || self.inner.check_writable())
    }
}

/// Makes a file read-only for this process and the ones it starts, until dropped: `chattr
/// +i` when running as root (root writes through file modes), mode 0444 otherwise. For
/// tests of a store, or a server, that must refuse a database it cannot write. `chattr`
/// needs a file system with the immutable flag (ext4, xfs, btrfs; not tmpfs): put the file
/// under the project's target directory (`CARGO_TARGET_TMPDIR`), not in `/tmp`.
#[cfg(unix)]
#[derive(Debug)]
pub struct ReadOnlyFile(std::path::PathBuf);

#[cfg(unix)]
impl ReadOnlyFile {
    /// Makes `path` read-only; the error says why it could not.
    pub fn new(path: &std::path::Path) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if root {
            let status = std::process::Command::new("chattr")
                .arg("+i")
                .arg(path)
                .status()?;
            if !status.success() {
                return Err(std::io::Error::other(format!(
                    "chattr +i {} failed ({status})",
                    path.display()
                )));
            }
        } else {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444))?;
        }
        Ok(Self(path.to_path_buf()))
    }
}

#[cfg(unix)]
impl Drop for ReadOnlyFile {
    /// Writable again (mode 0644), so the test's temporary directory can be removed.
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o644));
    }
}
