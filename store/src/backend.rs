//! The one internal interface every backend implements; the conformance suite runs the
//! same tests through [`crate::Store`] over each of them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::StoreError;
use crate::model::{ApiSelector, ApiTokenEntry, DeviceEntry, DeviceLimit, Registered};

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
    fn revoke_user_devices(&self, key: String, now: i64) -> BoxFut<'_, Written<usize>>;
    /// Insert-only: true when new, false for the same record again.
    fn register_api_token(&self, row: ApiRow) -> BoxFut<'_, bool>;
    fn api_token_status(&self, id: [u8; 16]) -> BoxFut<'_, (Status, u64)>;
    /// Every API token of an identity key, revoked ones included, by issue time then id.
    fn list_api_tokens(&self, key: String) -> BoxFut<'_, Vec<ApiTokenEntry>>;
    fn revoke_api_tokens<'a>(
        &'a self,
        which: ApiSelector<'a>,
        now: i64,
    ) -> BoxFut<'a, Written<usize>>;
    /// Records a login token's digest; true for its first use.
    fn use_login_token(&self, digest: [u8; 32], expires: i64) -> BoxFut<'_, bool>;
    /// Deletes up to `batch` expired rows of each kind; returns how many.
    fn purge_expired(&self, now: i64, batch: usize) -> BoxFut<'_, usize>;
    /// The current version number.
    fn version(&self) -> BoxFut<'_, u64>;
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
