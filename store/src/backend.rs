//! The one internal interface every backend implements; the conformance suite runs the
//! same tests through [`crate::Store`] over each of them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::StoreError;
use crate::model::{
    ApiSelector, ApiTokenEntry, DeviceEntry, DeviceLimit, ImportRefusal, Registered,
};

/// A boxed, `Send` future returning a store result.
pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Called with each version number a backend learns of (a notification, a re-`LISTEN`).
pub(crate) type VersionSink = Arc<dyn Fn(u64) + Send + Sync>;

/// A device to register, with its identity key already computed in Rust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeviceRow {
    pub id: [u8; 16],
    pub user: String,
    pub key: String,
    pub issued: i64,
}

/// An API token to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiRow {
    pub id: [u8; 16],
    pub user: String,
    pub key: String,
    pub app: String,
    pub issued: i64,
    pub expires: i64,
}

/// What the database says about one id, read with the version in one snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Unknown,
    /// Active; for an API token, until `expires` (Unix seconds; `i64::MAX` for a device).
    Active {
        expires: i64,
    },
    Revoked,
}

/// A write's answer and, when it changed whether something is active, the version it
/// committed.
pub(crate) type Written<T> = (T, Option<u64>);

/// What an id in the change log (and in the answer cache) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Device,
    Api,
}

impl Kind {
    /// The number stored in `fwtoken_changes.kind`.
    pub(crate) const fn code(self) -> i16 {
        match self {
            Kind::Device => 1,
            Kind::Api => 2,
        }
    }

    pub(crate) fn from_code(code: i64) -> Result<Self, StoreError> {
        match code {
            1 => Ok(Kind::Device),
            2 => Ok(Kind::Api),
            _ => Err(StoreError::Corrupt("unknown kind in the change log")),
        }
    }
}

/// One row of the change log: `id` was made inactive at `version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChangeRow {
    pub version: u64,
    /// The random stamp written with that version (one per version).
    pub stamp: i64,
    pub kind: Kind,
    pub id: [u8; 16],
}

/// The version row and the change log above a node's version, read in one snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ChangeSnapshot {
    /// The database's version and its stamp.
    pub version: u64,
    pub stamp: i64,
    /// Rows of versions up to `purged_to` may have been deleted; `purged_stamp` is the
    /// stamp of version `purged_to`.
    pub purged_to: u64,
    pub purged_stamp: i64,
    /// When `version` is above the node's version `after`: one row at `after` (if there is
    /// one), then the rows of versions in (`after`, `version`] by version, at most
    /// `limit + 1` of them. Empty otherwise.
    pub rows: Vec<ChangeRow>,
}

/// The change log's bounds: rows older than `max_age_secs` (by the write's time) and rows
/// beyond the newest `max_rows` may be deleted; `batch` rows per transaction at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LogRetention {
    pub max_age_secs: i64,
    pub max_rows: usize,
    pub batch: usize,
}

/// What an import did with one record: registered (possibly evicting), or refused.
pub(crate) type ImportOutcome = Result<Registered, ImportRefusal>;

/// Seconds after a row's expiry before housekeeping deletes it (clock skew between
/// servers, verification leeway).
pub(crate) const PURGE_GRACE_SECS: i64 = 300;

/// The identity key of a tombstone left by revoking an id the store had never seen: it
/// holds upper-case letters, which no [`fwtoken::identity_key`] does (keys are case
/// folded), so no user's listing, cap or `revoke_user` ever reaches it.
pub(crate) const UNKNOWN_ID_KEY: &str = "#REVOKED BEFORE REGISTRATION";

/// The expiry of an API-token tombstone for an unknown id: never purged.
pub(crate) const TOMBSTONE_EXPIRES: i64 = i64::MAX;

pub(crate) trait Backend: Send + Sync + 'static {
    /// Check the cap and insert, atomically; evicts under the evict policy.
    fn register_device(
        &self,
        row: DeviceRow,
        limit: DeviceLimit,
        now: i64,
    ) -> BoxFut<'_, Written<Registered>>;
    fn device_status(&self, id: [u8; 16]) -> BoxFut<'_, (Status, u64)>;
    /// Sets `last_seen` unless it was set less than a minute ago; true when written.
    fn touch_device(&self, id: [u8; 16], now: i64) -> BoxFut<'_, bool>;
    fn list_devices(&self, key: String) -> BoxFut<'_, Vec<DeviceEntry>>;
    fn revoke_device(&self, id: [u8; 16], now: i64) -> BoxFut<'_, Written<bool>>;
    /// Revokes every active device of `key`; the ids it revoked.
    fn revoke_user_devices(&self, key: String, now: i64) -> BoxFut<'_, Written<Vec<[u8; 16]>>>;
    /// Insert-only: true when new, false for the same record again.
    fn register_api_token(&self, row: ApiRow) -> BoxFut<'_, bool>;
    fn api_token_status(&self, id: [u8; 16]) -> BoxFut<'_, (Status, u64)>;
    /// Every API token of an identity key, revoked ones included, by issue time then id.
    fn list_api_tokens(&self, key: String) -> BoxFut<'_, Vec<ApiTokenEntry>>;
    /// Revokes the selected API tokens that are active; the ids it revoked.
    fn revoke_api_tokens<'a>(
        &'a self,
        which: ApiSelector<'a>,
        now: i64,
    ) -> BoxFut<'a, Written<Vec<[u8; 16]>>>;
    /// Records a login token's digest; true for its first use.
    fn use_login_token(&self, digest: [u8; 32], expires: i64) -> BoxFut<'_, bool>;
    /// Deletes up to `batch` expired rows of each kind; returns how many.
    fn purge_expired(&self, now: i64, batch: usize) -> BoxFut<'_, usize>;
    /// The current version number.
    fn version(&self) -> BoxFut<'_, u64>;
    /// The version row and, when `after` is given and below the version, the change log
    /// above it (see [`ChangeSnapshot`]), in one snapshot.
    fn changes_since(&self, after: Option<u64>, limit: usize) -> BoxFut<'_, ChangeSnapshot>;
    /// Deletes change-log rows beyond `retention` as of `now` (raising `purged_to`
    /// first); returns how many rows. Safe with several purgers at once.
    fn purge_changes(&self, now: i64, retention: LogRetention) -> BoxFut<'_, usize>;
    /// Registers `rows` in one transaction, each as `register_device` would in this order
    /// (the cap checked per user as it fills); one version bump for all evictions.
    fn import_devices(
        &self,
        rows: Vec<DeviceRow>,
        limit: DeviceLimit,
        now: i64,
    ) -> BoxFut<'_, Written<Vec<ImportOutcome>>>;
    /// Starts pushing version numbers as they change (PostgreSQL `LISTEN`), if the backend
    /// can; the poll runs in any case.
    fn start_listener(&self, _sink: VersionSink) -> Option<tokio::task::JoinHandle<()>> {
        None
    }
    /// How often to poll the version by default.
    fn default_poll(&self) -> std::time::Duration;
    /// A real write in a transaction that is rolled back: fails when the database cannot
    /// be written (memory can always be).
    fn check_writable(&self) -> BoxFut<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}
