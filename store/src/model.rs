//! The values the store takes and returns.

use fwtoken::{ApiTokenId, DeviceId};
use time::OffsetDateTime;

use crate::error::StoreError;

/// What happens when a user who already holds the maximum number of devices registers one
/// more.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CapPolicy {
    /// Refuse the new device with [`StoreError::DeviceLimit`] (FotoWeb's behaviour).
    #[default]
    Refuse,
    /// Revoke the device seen least recently (its last use, or its registration if it was
    /// never seen), then register the new one.
    EvictLeastRecentlySeen,
}

/// The per-user cap on active devices, and what to do when it is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceLimit {
    /// How many active devices one user (one identity key) may hold.
    pub max: usize,
    /// What to do at the cap.
    pub policy: CapPolicy,
}

impl DeviceLimit {
    /// At most `max` devices, refusing the next one.
    pub const fn refuse(max: usize) -> Self {
        Self {
            max,
            policy: CapPolicy::Refuse,
        }
    }

    /// At most `max` devices, evicting the least recently seen one for a new one.
    pub const fn evict(max: usize) -> Self {
        Self {
            max,
            policy: CapPolicy::EvictLeastRecentlySeen,
        }
    }
}

/// The outcome of a successful device registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registered {
    /// The device is now registered; `evicted` lists the devices revoked to make room
    /// (empty under [`CapPolicy::Refuse`]).
    New {
        /// Devices revoked by the eviction policy, least recently seen first.
        evicted: Vec<DeviceId>,
    },
    /// The same record was already registered (a retry after a lost acknowledgement); no
    /// second slot was used.
    AlreadyRegistered,
}

/// Why [`crate::Store::import_devices`] did not register a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImportRefusal {
    /// The user already held the maximum number of active devices (policy *refuse*).
    DeviceLimit,
    /// The id was revoked: a revoked id never becomes active again.
    Revoked,
    /// The id is registered with different details (user or issue time).
    Conflict,
    /// The user name breaks a rule of [`fwtoken::validate_user_name`].
    InvalidUserName,
}

/// What [`crate::Store::import_devices`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Imported {
    /// Records registered by this call.
    pub new: usize,
    /// Records that were already registered with the same details (an import run again).
    pub already_registered: usize,
    /// Records not registered, in input order, and why.
    pub refused: Vec<(DeviceId, ImportRefusal)>,
    /// Devices revoked by [`CapPolicy::EvictLeastRecentlySeen`] to make room, in order.
    pub evicted: Vec<DeviceId>,
    /// How many transactions were committed (one per batch).
    pub batches: usize,
}

/// One device as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceEntry {
    /// The device's id.
    pub device_id: DeviceId,
    /// The user name as registered.
    pub user: String,
    /// The identity key the device counts against (see [`fwtoken::identity_key`]).
    pub user_key: String,
    /// When its token was issued.
    pub issued_at: OffsetDateTime,
    /// When it was last seen (updated at most once a minute), if ever.
    pub last_seen: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl DeviceEntry {
    /// True when it is not revoked.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// One registered API token as the store holds it (never the token itself).
///
/// Rows of tokens expired for longer than the purge grace period are deleted by
/// housekeeping, so they are no longer listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiTokenEntry {
    /// The token's id.
    pub id: ApiTokenId,
    /// The user name as registered.
    pub user: String,
    /// The identity key the token belongs to (see [`fwtoken::identity_key`]).
    pub user_key: String,
    /// The application it was issued to.
    pub app: String,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// When it expires.
    pub expires: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiTokenEntry {
    /// True when it is not revoked and not expired at `now` (the answer of
    /// [`crate::Store::is_api_token_active`] for this row).
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && secs(now) < secs(self.expires)
    }
}

/// Which API tokens to revoke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ApiSelector<'a> {
    Id([u8; 16]),
    UserKey(&'a str),
    App(&'a str),
}

/// Unix seconds of a time.
/// The identity-key version to recompute stored keys to, when the database's (`have`) is
/// older than this build's [`fwtoken::IDENTITY_KEY_VERSION`]; an error when it is newer
/// (a newer build wrote them: its keys are not ours to rewrite).
pub(crate) fn rekey_needed(have: i64) -> Result<Option<i64>, StoreError> {
    let want = i64::from(fwtoken::IDENTITY_KEY_VERSION);
    if have > want {
        return Err(StoreError::Corrupt(
            "the stored identity keys are newer than this build",
        ));
    }
    Ok((have < want).then_some(want))
}

pub(crate) fn secs(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// A time from stored Unix seconds.
pub(crate) fn from_secs(s: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(s).map_err(|_| StoreError::Corrupt("time out of range"))
}

/// A version number as stored (a signed 64-bit column): never negative.
pub(crate) fn version_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative version"))
}

/// A 16-byte id from a stored blob.
pub(crate) fn id16(b: &[u8]) -> Result<[u8; 16], StoreError> {
    b.try_into()
        .map_err(|_| StoreError::Corrupt("an id is not 16 bytes"))
}
