//! The sync face of the store: [`BlockingStore`], a [`Store`] with its own small runtime.

use std::path::Path;

use fwtoken::{ApiTokenId, ApiTokenRecord, DeviceId, DeviceRecord};
use time::OffsetDateTime;

use crate::backend::Kind;
use crate::error::StoreError;
use crate::model::{ApiTokenEntry, DeviceEntry, DeviceLimit, Imported, Registered};
use crate::stats::StoreStats;
use crate::store::{Store, StoreConfig};

/// A [`Store`] for sync programs (a CLI, a thread-per-request server): it owns a small
/// tokio runtime (one worker thread, which also runs the poller and housekeeping).
///
/// Do not call it from inside an async runtime; use [`Store`] there.
pub struct BlockingStore {
    store: Store,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for BlockingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl BlockingStore {
    fn runtime() -> Result<tokio::runtime::Runtime, StoreError> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(4)
            .enable_all()
            .build()
            .map_err(StoreError::unavailable)
    }

    fn with(
        f: impl FnOnce() -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Store, StoreError>>>,
        >,
    ) -> Result<Self, StoreError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(StoreError::InvalidArgument(
                "BlockingStore opened from inside an async runtime: use Store",
            ));
        }
        let rt = Self::runtime()?;
        let store = rt.block_on(f())?;
        Ok(Self { store, rt })
    }

    /// Runs a store call to completion; refused (not a panic) inside an async runtime.
    fn block<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(StoreError::InvalidArgument(
                "BlockingStore called from inside an async runtime: use Store",
            ));
        }
        self.rt.block_on(f)
    }

    /// [`Store::memory`].
    pub fn memory(config: StoreConfig) -> Result<Self, StoreError> {
        Self::with(|| Box::pin(Store::memory(config)))
    }

    /// [`Store::sqlite`].
    pub fn sqlite(path: impl AsRef<Path>, config: StoreConfig) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        Self::with(|| Box::pin(Store::sqlite(path, config)))
    }

    /// [`Store::postgres`].
    pub fn postgres(pg: crate::PostgresConfig, config: StoreConfig) -> Result<Self, StoreError> {
        Self::with(|| Box::pin(Store::postgres(pg, config)))
    }

    /// The async store inside (share it with async code running on another runtime).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// [`Store::user_key`].
    pub fn user_key(&self, user: &str) -> String {
        self.store.user_key(user)
    }

    /// [`Store::register_device`].
    pub fn register_device(
        &self,
        record: &DeviceRecord,
        limit: DeviceLimit,
        now: OffsetDateTime,
    ) -> Result<Registered, StoreError> {
        self.rt
            .block_on(self.store.register_device(record, limit, now))
    }

    /// [`Store::import_devices`].
    pub fn import_devices(
        &self,
        records: &[DeviceRecord],
        limit: DeviceLimit,
        now: OffsetDateTime,
    ) -> Result<Imported, StoreError> {
        self.block(self.store.import_devices(records, limit, now))
    }

    /// [`Store::is_device_active`]; a cached answer costs no thread hop.
    pub fn is_device_active(&self, id: &DeviceId) -> Result<bool, StoreError> {
        if let Some(a) = self.store.hit(Kind::Device, &id.to_bytes(), 0) {
            return Ok(a);
        }
        self.block(self.store.is_device_active(id))
    }

    /// [`Store::touch_device`].
    pub fn touch_device(&self, id: &DeviceId, now: OffsetDateTime) -> Result<bool, StoreError> {
        self.block(self.store.touch_device(id, now))
    }

    /// [`Store::devices_of`].
    pub fn devices_of(&self, user: &str) -> Result<Vec<DeviceEntry>, StoreError> {
        self.block(self.store.devices_of(user))
    }

    /// [`Store::revoke_device`].
    pub fn revoke_device(&self, id: &DeviceId, now: OffsetDateTime) -> Result<bool, StoreError> {
        self.block(self.store.revoke_device(id, now))
    }

    /// [`Store::revoke_user_devices`].
    pub fn revoke_user_devices(
        &self,
        user: &str,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        self.block(self.store.revoke_user_devices(user, now))
    }

    /// [`Store::register_api_token`].
    pub fn register_api_token(
        &self,
        record: &ApiTokenRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.block(self.store.register_api_token(record, now))
    }

    /// [`Store::is_api_token_active`]; a cached answer costs no thread hop.
    pub fn is_api_token_active(
        &self,
        id: &ApiTokenId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if let Some(a) = self
            .store
            .hit(Kind::Api, &id.to_bytes(), now.unix_timestamp())
        {
            return Ok(a);
        }
        self.block(self.store.is_api_token_active(id, now))
    }

    /// [`Store::api_tokens_of`].
    pub fn api_tokens_of(&self, user: &str) -> Result<Vec<ApiTokenEntry>, StoreError> {
        self.block(self.store.api_tokens_of(user))
    }

    /// [`Store::revoke_api_token`].
    pub fn revoke_api_token(
        &self,
        id: &ApiTokenId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.block(self.store.revoke_api_token(id, now))
    }

    /// [`Store::revoke_user_api_tokens`].
    pub fn revoke_user_api_tokens(
        &self,
        user: &str,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        self.rt
            .block_on(self.store.revoke_user_api_tokens(user, now))
    }

    /// [`Store::revoke_app_api_tokens`].
    pub fn revoke_app_api_tokens(
        &self,
        app: &str,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        self.block(self.store.revoke_app_api_tokens(app, now))
    }

    /// [`Store::use_login_token`].
    pub fn use_login_token(
        &self,
        token: &str,
        expires: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.rt
            .block_on(self.store.use_login_token(token, expires, now))
    }

    /// [`Store::purge_expired`].
    pub fn purge_expired(&self, now: OffsetDateTime) -> Result<usize, StoreError> {
        self.block(self.store.purge_expired(now))
    }

    /// [`Store::refresh`].
    pub fn refresh(&self) -> Result<(), StoreError> {
        self.block(self.store.refresh())
    }

    /// [`Store::stats`].
    pub fn stats(&self) -> StoreStats {
        self.store.stats()
    }

    /// [`Store::check_writable`].
    pub fn check_writable(&self) -> Result<(), StoreError> {
        self.block(self.store.check_writable())
    }
}

/// The core's sync registry trait, for code written against [`fwtoken::DeviceRegistry`]:
/// the cap policy is *refuse*, and a revocation's time is the system clock's.
impl fwtoken::DeviceRegistry for BlockingStore {
    type Error = StoreError;

    fn register(&self, record: &DeviceRecord, max_per_user: usize) -> Result<(), StoreError> {
        self.register_device(record, DeviceLimit::refuse(max_per_user), record.issued_at)
            .map(|_| ())
    }

    fn revoke(&self, device: &DeviceId) -> Result<bool, StoreError> {
        self.revoke_device(device, OffsetDateTime::now_utc())
    }

    fn revoke_user(&self, user: &str) -> Result<usize, StoreError> {
        self.revoke_user_devices(user, OffsetDateTime::now_utc())
    }

    fn is_active(&self, device: &DeviceId) -> Result<bool, StoreError> {
        self.is_device_active(device)
    }
}
