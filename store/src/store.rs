//! The store: a backend, the answer cache with its version poller and `LISTEN`er, and
//! housekeeping; [`Store`] for async code, [`BlockingStore`] for sync programs.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fwtoken::{ApiTokenId, ApiTokenRecord, DeviceId, DeviceRecord, SiteDomains};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::task::JoinHandle;

use crate::backend::{ApiRow, Backend, DeviceRow, Status};
use crate::cache::{Cache, Kind};
use crate::error::StoreError;
use crate::memory::MemoryBackend;
use crate::model::{ApiSelector, ApiTokenEntry, DeviceEntry, DeviceLimit, Registered, secs};
use crate::sqlite::SqliteBackend;

/// How often `last_seen` is written at most, per device.
pub const LAST_SEEN_INTERVAL_SECS: i64 = 60;

/// How a [`Store`] caches, polls and cleans up. [`StoreConfig::default`] is what a server
/// wants: cache on, poll every second (SQLite: every 5 ms), cached "active" answers trusted
/// for at most 5 s without a confirmed version, purge every minute in batches of 1000.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    domains: SiteDomains,
    cache: bool,
    poll: Option<Duration>,
    max_stale: Duration,
    purge_every: Option<Duration>,
    purge_batch: usize,
    create_missing: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            domains: SiteDomains::new(),
            cache: true,
            poll: None,
            max_stale: Duration::from_secs(5),
            purge_every: Some(Duration::from_secs(60)),
            purge_batch: 1000,
            create_missing: true,
        }
    }
}

impl StoreConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The site's own domains, for [`fwtoken::identity_key`] (users are grouped by it).
    #[must_use]
    pub fn domains(mut self, domains: SiteDomains) -> Self {
        self.domains = domains;
        self
    }

    /// Turns the answer cache on (the default) or off.
    #[must_use]
    pub fn cache(mut self, on: bool) -> Self {
        self.cache = on;
        self
    }

    /// How often the version is polled whatever happens (`T_poll`; default 1 s, SQLite
    /// 5 ms).
    #[must_use]
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll = Some(every);
        self
    }

    /// How long cached "active" answers keep counting after the last successful contact
    /// with the database (default 5 s). Past it every check goes to the database, and
    /// fails with [`StoreError::Unavailable`] while it is unreachable.
    #[must_use]
    pub fn max_stale(mut self, bound: Duration) -> Self {
        self.max_stale = bound;
        self
    }

    /// How often housekeeping purges expired API tokens and login tokens (default every
    /// minute; `None` turns it off, [`Store::purge_expired`] still works).
    #[must_use]
    pub fn purge_every(mut self, every: Option<Duration>) -> Self {
        self.purge_every = every;
        self
    }

    /// How many rows one purge transaction deletes at most (default 1000).
    #[must_use]
    pub fn purge_batch(mut self, rows: usize) -> Self {
        self.purge_batch = rows.max(1);
        self
    }

    /// Whether a SQLite store whose file does not exist is created (the default; mode 0600,
    /// whatever the umask) or refused with [`StoreError::NotFound`], creating nothing: a
    /// program that only reads or revokes should not turn a mistyped path into a new, empty
    /// store.
    #[must_use]
    pub fn create_missing(mut self, on: bool) -> Self {
        self.create_missing = on;
        self
    }
}

struct Inner {
    backend: Arc<dyn Backend>,
    domains: SiteDomains,
    cache: Option<Arc<Cache>>,
    purge_batch: usize,
    touched: Mutex<HashMap<[u8; 16], i64>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Durable device registrations, API-token revocations and single-use login tokens, on
/// memory, SQLite or PostgreSQL; cheap to clone (one shared state).
///
/// Its constructors must run inside a tokio runtime (they start the version poller, the
/// PostgreSQL `LISTEN` task and housekeeping; dropping the last clone stops them).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use fwtoken::{DeviceId, DeviceRecord};
/// use fwtoken_store::{DeviceLimit, Store, StoreConfig};
/// let store = Store::memory(StoreConfig::new()).await?;
/// let now = fwtoken::time::OffsetDateTime::now_utc();
/// let id = DeviceId::from_bytes([7; 16]);
/// let record = DeviceRecord { device_id: id, user: "alice".into(), issued_at: now };
/// store.register_device(&record, DeviceLimit::refuse(5), now).await?;
/// assert!(store.is_device_active(&id).await?);
/// assert!(store.revoke_device(&id, now).await?);
/// assert!(!store.is_device_active(&id).await?);
/// # Ok::<(), fwtoken_store::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("cache", &self.inner.cache.is_some())
            .finish_non_exhaustive()
    }
}

fn runtime_check() -> Result<tokio::runtime::Handle, StoreError> {
    tokio::runtime::Handle::try_current()
        .map_err(|_| StoreError::InvalidArgument("a Store must be opened inside a tokio runtime"))
}

impl Store {
    /// A store in memory (tests, demos): lost when the process ends.
    pub async fn memory(config: StoreConfig) -> Result<Self, StoreError> {
        Self::start(Arc::new(MemoryBackend::default()), config).await
    }

    /// A store in the SQLite file at `path` (created if missing, unless
    /// [`StoreConfig::create_missing`] is off, and migrated). The database and its WAL and
    /// shared-memory files are created readable by their owner only. Several processes may
    /// open the same file.
    ///
    /// Opening recomputes the stored identity keys, with `config`'s site domains, when the
    /// file was written by a release with older identity rules
    /// ([`fwtoken::IDENTITY_KEY_VERSION`]).
    pub async fn sqlite(path: impl AsRef<Path>, config: StoreConfig) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let create = config.create_missing;
        let domains = config.domains.clone();
        let backend = tokio::task::spawn_blocking(move || {
            SqliteBackend::open_blocking(&path, create, &domains)
        })
        .await
        .map_err(StoreError::unavailable)??;
        Self::start(Arc::new(backend), config).await
    }

    /// A store in a PostgreSQL database (migrated if needed), for several servers. Like
    /// [`Store::sqlite`], opening recomputes identity keys written under older rules.
    pub async fn postgres(
        pg: crate::PostgresConfig,
        config: StoreConfig,
    ) -> Result<Self, StoreError> {
        let backend = crate::postgres::PostgresBackend::open(pg, &config.domains).await?;
        Self::start(Arc::new(backend), config).await
    }

    async fn start(backend: Arc<dyn Backend>, config: StoreConfig) -> Result<Self, StoreError> {
        let rt = runtime_check()?;
        let mut tasks = Vec::new();
        let cache = if config.cache {
            let cache = Arc::new(Cache::new(config.max_stale));
            cache.observe(backend.version().await?);
            let sink_cache = Arc::clone(&cache);
            if let Some(t) = backend.start_listener(Arc::new(move |v| sink_cache.observe(v))) {
                tasks.push(t);
            }
            let poll = config.poll.unwrap_or_else(|| backend.default_poll());
            let (b, c) = (Arc::clone(&backend), Arc::clone(&cache));
            tasks.push(rt.spawn(async move {
                let mut tick = tokio::time::interval(poll);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let limit = poll.max(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    match tokio::time::timeout(limit, b.version()).await {
                        Ok(Ok(v)) => c.observe(v),
                        _ => c.poll_failed(),
                    }
                }
            }));
            Some(cache)
        } else {
            None
        };
        if let Some(every) = config.purge_every {
            let b = Arc::clone(&backend);
            let batch = config.purge_batch;
            tasks.push(rt.spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    // A failed purge is retried at the next tick.
                    let _ = purge_all(&*b, OffsetDateTime::now_utc(), batch).await;
                }
            }));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                domains: config.domains,
                cache,
                purge_batch: config.purge_batch,
                touched: Mutex::new(HashMap::new()),
                tasks,
            }),
        })
    }

    /// The identity key `user` is grouped under ([`fwtoken::identity_key`] with this
    /// store's site domains).
    pub fn user_key(&self, user: &str) -> String {
        fwtoken::identity_key(user, &self.inner.domains)
    }

    fn observe(&self, v: Option<u64>) {
        if let (Some(c), Some(v)) = (&self.inner.cache, v) {
            c.observe(v);
        }
    }

    /// Registers a newly issued device under `limit`, atomically with the cap check.
    ///
    /// The same record again succeeds as [`Registered::AlreadyRegistered`] without a second
    /// slot; another record with the same id is [`StoreError::Conflict`]; a revoked id is
    /// [`StoreError::Revoked`]; a full cap under [`crate::CapPolicy::Refuse`] is
    /// [`StoreError::DeviceLimit`].
    pub async fn register_device(
        &self,
        record: &DeviceRecord,
        limit: DeviceLimit,
        now: OffsetDateTime,
    ) -> Result<Registered, StoreError> {
        fwtoken::validate_user_name(&record.user)?;
        let row = DeviceRow {
            id: record.device_id.to_bytes(),
            user: record.user.clone(),
            key: self.user_key(&record.user),
            issued: secs(record.issued_at),
        };
        let (out, v) = self
            .inner
            .backend
            .register_device(row, limit, secs(now))
            .await?;
        if let (Some(c), Registered::New { evicted }) = (&self.inner.cache, &out) {
            for id in evicted {
                c.revoked(Kind::Device, id.to_bytes());
            }
        }
        self.observe(v);
        Ok(out)
    }

    /// The cached answer for a device, when the cache can answer without the database.
    pub fn cached_device(&self, id: &DeviceId) -> Option<bool> {
        self.inner
            .cache
            .as_ref()?
            .get(Kind::Device, &id.to_bytes(), 0)
    }

    /// True when the device is registered and not revoked. Unknown ids are not active; a
    /// storage failure is [`StoreError::Unavailable`], never an answer.
    pub async fn is_device_active(&self, id: &DeviceId) -> Result<bool, StoreError> {
        if let Some(a) = self.cached_device(id) {
            return Ok(a);
        }
        let key = id.to_bytes();
        let (status, v) = self.inner.backend.device_status(key).await?;
        if let Some(c) = &self.inner.cache {
            c.put(Kind::Device, key, status, v);
            c.observe(v);
        }
        Ok(matches!(status, Status::Active { .. }))
    }

    /// Records that the device was seen at `now`; writes at most once a minute per device
    /// (true when it wrote).
    pub async fn touch_device(
        &self,
        id: &DeviceId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let key = id.to_bytes();
        let now = secs(now);
        {
            let touched = self
                .inner
                .touched
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if touched
                .get(&key)
                .is_some_and(|t| now.saturating_sub(*t) < LAST_SEEN_INTERVAL_SECS)
            {
                return Ok(false);
            }
        }
        let wrote = self.inner.backend.touch_device(key, now).await?;
        let mut touched = self
            .inner
            .touched
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if touched.len() >= 100_000 {
            touched.clear();
        }
        touched.insert(key, now);
        Ok(wrote)
    }

    /// Every device of `user`'s identity, active or revoked, oldest registration first.
    pub async fn devices_of(&self, user: &str) -> Result<Vec<DeviceEntry>, StoreError> {
        self.inner.backend.list_devices(self.user_key(user)).await
    }

    /// Revokes one device, for good; true when it was active (revoking twice is `false`,
    /// not an error). An id the store has never seen is revoked too (a tombstone row with
    /// no user), so a registration still in flight can never make it active.
    pub async fn revoke_device(
        &self,
        id: &DeviceId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (was, v) = self
            .inner
            .backend
            .revoke_device(id.to_bytes(), secs(now))
            .await?;
        // Whatever it was (active, revoked, never seen), the id is revoked now.
        if let Some(c) = &self.inner.cache {
            c.revoked(Kind::Device, id.to_bytes());
        }
        self.observe(v);
        Ok(was)
    }

    /// Revokes every active device of `user`'s identity; returns how many.
    pub async fn revoke_user_devices(
        &self,
        user: &str,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let (n, v) = self
            .inner
            .backend
            .revoke_user_devices(self.user_key(user), secs(now))
            .await?;
        self.observe(v);
        Ok(n)
    }

    /// Registers an issued API token (from [`fwtoken::ApiToken::issue_with_record`]); true
    /// when new, false for the same record again. An expired record is refused.
    pub async fn register_api_token(
        &self,
        record: &ApiTokenRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        fwtoken::validate_user_name(&record.user)?;
        if record.expires <= now {
            return Err(StoreError::InvalidArgument("the API token has expired"));
        }
        let row = ApiRow {
            id: record.id.to_bytes(),
            user: record.user.clone(),
            key: self.user_key(&record.user),
            app: record.app.clone(),
            issued: secs(record.issued_at),
            expires: secs(record.expires),
        };
        self.inner.backend.register_api_token(row).await
    }

    /// The cached answer for an API token at `now`, when the cache can answer alone.
    pub fn cached_api_token(&self, id: &ApiTokenId, now: OffsetDateTime) -> Option<bool> {
        self.inner
            .cache
            .as_ref()?
            .get(Kind::Api, &id.to_bytes(), secs(now))
    }

    /// True when the API token is registered, not revoked and not expired at `now`.
    pub async fn is_api_token_active(
        &self,
        id: &ApiTokenId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if let Some(a) = self.cached_api_token(id, now) {
            return Ok(a);
        }
        let key = id.to_bytes();
        let (status, v) = self.inner.backend.api_token_status(key).await?;
        if let Some(c) = &self.inner.cache {
            c.put(Kind::Api, key, status, v);
            c.observe(v);
        }
        Ok(matches!(status, Status::Active { expires } if secs(now) < expires))
    }

    /// Every API token of `user`'s identity, active, expired or revoked, oldest issue first
    /// (then by id); rows purged after their expiry are gone. Tells which token to revoke
    /// ([`Store::revoke_api_token`]); [`ApiTokenEntry::is_active`] says which still count.
    pub async fn api_tokens_of(&self, user: &str) -> Result<Vec<ApiTokenEntry>, StoreError> {
        self.inner
            .backend
            .list_api_tokens(self.user_key(user))
            .await
    }

    /// Revokes one API token; true when it was not revoked yet. An id the store has never
    /// seen is revoked too (a tombstone row), so a registration still in flight can never
    /// make it active.
    pub async fn revoke_api_token(
        &self,
        id: &ApiTokenId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (n, v) = self
            .inner
            .backend
            .revoke_api_tokens(ApiSelector::Id(id.to_bytes()), secs(now))
            .await?;
        // Whatever it was (active, revoked, never seen), the id is revoked now.
        if let Some(c) = &self.inner.cache {
            c.revoked(Kind::Api, id.to_bytes());
        }
        self.observe(v);
        Ok(n > 0)
    }

    /// Revokes every API token of `user`'s identity; returns how many.
    pub async fn revoke_user_api_tokens(
        &self,
        user: &str,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let key = self.user_key(user);
        let (n, v) = self
            .inner
            .backend
            .revoke_api_tokens(ApiSelector::UserKey(&key), secs(now))
            .await?;
        self.observe(v);
        Ok(n)
    }

    /// Revokes every API token issued to application `app`; returns how many.
    pub async fn revoke_app_api_tokens(
        &self,
        app: &str,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let (n, v) = self
            .inner
            .backend
            .revoke_api_tokens(ApiSelector::App(app), secs(now))
            .await?;
        self.observe(v);
        Ok(n)
    }

    /// Records the first use of a login token valid until `expires`: true for the first
    /// use (on any server sharing this store), false for every later one and for a token
    /// already expired at `now`. Only the token's SHA-256 digest is stored.
    pub async fn use_login_token(
        &self,
        token: &str,
        expires: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if expires <= now {
            return Ok(false);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.inner
            .backend
            .use_login_token(digest, secs(expires))
            .await
    }

    /// Deletes API tokens and login-token digests that expired more than five minutes
    /// before `now`, in batches; returns how many rows. Housekeeping calls it by itself;
    /// several purgers at once are safe.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<usize, StoreError> {
        purge_all(&*self.inner.backend, now, self.inner.purge_batch).await
    }

    /// The database's version number (bumped by every write that makes something
    /// inactive).
    pub async fn version(&self) -> Result<u64, StoreError> {
        self.inner.backend.version().await
    }

    /// The highest version this store's cache has seen (0 without a cache).
    pub fn known_version(&self) -> u64 {
        self.inner.cache.as_ref().map_or(0, |c| c.known_version())
    }
}

async fn purge_all(
    b: &dyn Backend,
    now: OffsetDateTime,
    batch: usize,
) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = b.purge_expired(secs(now), batch).await?;
        total += n;
        if n < batch {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

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

    /// [`Store::is_device_active`]; a cached answer costs no thread hop.
    pub fn is_device_active(&self, id: &DeviceId) -> Result<bool, StoreError> {
        if let Some(a) = self.store.cached_device(id) {
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
        if let Some(a) = self.store.cached_api_token(id, now) {
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
