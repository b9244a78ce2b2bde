//! The store: a backend, the answer cache kept in step with the change log (a sync task,
//! the PostgreSQL `LISTEN`er), housekeeping, and the public async API, [`Store`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use fwtoken::{ApiTokenId, ApiTokenRecord, DeviceId, DeviceRecord, SiteDomains};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::task::JoinHandle;

use crate::backend::{ApiRow, Backend, DeviceRow, Kind, LogRetention, Status};
use crate::cache::Cache;
use crate::error::StoreError;
use crate::memory::MemoryBackend;
use crate::model::{
    ApiSelector, ApiTokenEntry, DeviceEntry, DeviceLimit, ImportRefusal, Imported, Registered, secs,
};
pub use crate::options::StoreConfig;
use crate::sqlite::SqliteBackend;
use crate::stats::StoreStats;
use crate::sync::Syncer;

/// How often `last_seen` is written at most, per device.
pub const LAST_SEEN_INTERVAL_SECS: i64 = 60;

/// How many records [`Store::import_devices`] commits per transaction.
pub const IMPORT_BATCH: usize = 1000;

struct Inner {
    backend: Arc<dyn Backend>,
    domains: SiteDomains,
    cache: Option<Arc<Cache>>,
    syncer: Option<Arc<Syncer>>,
    purge_batch: usize,
    retention: LogRetention,
    touched: Mutex<HashMap<[u8; 16], i64>>,
    hits: AtomicU64,
    misses: AtomicU64,
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

    /// Another store on the same storage (the same memory, SQLite connections or
    /// PostgreSQL pool) with a cache, sync task and housekeeping of its own, configured by
    /// `config`, as another server on the same database would have. On memory it is the
    /// only way for two stores to share state (tests of what one store's write does to
    /// another's cache run on every backend that way).
    pub async fn new_instance(&self, config: StoreConfig) -> Result<Self, StoreError> {
        Self::start(Arc::clone(&self.inner.backend), config).await
    }

    async fn start(backend: Arc<dyn Backend>, config: StoreConfig) -> Result<Self, StoreError> {
        let rt = runtime_check()?;
        #[cfg(feature = "test-util")]
        let backend = match &config.faults {
            Some(f) => crate::testing::FaultyBackend::wrap(backend, f.clone()),
            None => backend,
        };
        let mut tasks = Vec::new();
        let (cache, syncer) = if config.cache {
            let cache = Arc::new(Cache::new(config.max_stale, config.capacity));
            let syncer = Arc::new(Syncer::new(Arc::clone(&backend), Arc::clone(&cache)));
            // The first sync: the version to follow from.
            syncer.sync().await?;
            if config.listen {
                let heard = Arc::clone(&syncer);
                if let Some(t) = backend.start_listener(Arc::new(move |v| heard.heard(v))) {
                    tasks.push(t);
                }
            }
            let poll = config.poll.unwrap_or_else(|| backend.default_poll());
            tasks.push(syncer.spawn(poll));
            (Some(cache), Some(syncer))
        } else {
            (None, None)
        };
        let retention = config.retention();
        if let Some(every) = config.purge_every {
            let b = Arc::clone(&backend);
            let batch = config.purge_batch;
            tasks.push(rt.spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    // A failed purge is retried at the next tick.
                    let _ = purge_all(&*b, OffsetDateTime::now_utc(), batch, retention).await;
                }
            }));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                domains: config.domains,
                cache,
                syncer,
                purge_batch: config.purge_batch,
                retention,
                touched: Mutex::new(HashMap::new()),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                tasks,
            }),
        })
    }

    /// The identity key `user` is grouped under ([`fwtoken::identity_key`] with this
    /// store's site domains).
    pub fn user_key(&self, user: &str) -> String {
        fwtoken::identity_key(user, &self.inner.domains)
    }

    /// After a write of this node that made `ids` inactive at version `v`: they are
    /// refused here at once, and the cache catches up with the log up to `v` (what others
    /// wrote before), or the sync task does it if this sync fails.
    async fn wrote(&self, kind: Kind, ids: impl IntoIterator<Item = [u8; 16]>, v: Option<u64>) {
        let Some(s) = &self.inner.syncer else {
            return;
        };
        s.revoked_here(kind, ids);
        if v.is_some() && s.sync().await.is_err() {
            s.wake();
        }
    }

    /// A cached answer that counts, counted as a hit.
    pub(crate) fn hit(&self, kind: Kind, id: &[u8; 16], now: i64) -> Option<bool> {
        let a = self.inner.cache.as_ref()?.get(kind, id, now)?;
        self.inner.hits.fetch_add(1, Ordering::Relaxed);
        Some(a)
    }

    /// Asks the database (a miss), and caches the answer.
    async fn ask(&self, kind: Kind, id: [u8; 16]) -> Result<Status, StoreError> {
        self.inner.misses.fetch_add(1, Ordering::Relaxed);
        let (status, v) = match kind {
            Kind::Device => self.inner.backend.device_status(id).await?,
            Kind::Api => self.inner.backend.api_token_status(id).await?,
        };
        if let (Some(c), Some(s)) = (&self.inner.cache, &self.inner.syncer) {
            c.put(kind, id, status, v);
            s.heard(v);
        }
        Ok(status)
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
        if let Registered::New { evicted } = &out {
            self.wrote(Kind::Device, evicted.iter().map(|d| d.to_bytes()), v)
                .await;
        }
        Ok(out)
    }

    /// Registers an existing site's devices (a migration), [`IMPORT_BATCH`] records per
    /// transaction: each record as [`Store::register_device`] would, in order, the cap
    /// checked per user as the import fills it. A durable commit per batch instead of per
    /// device: 10^6 devices load in minutes.
    ///
    /// Refused records are listed, not errors ([`Imported::refused`]); importing the same
    /// records again is safe (they count as [`Imported::already_registered`]). On an error
    /// (the storage failing) the batches before it are committed: run the import again.
    pub async fn import_devices(
        &self,
        records: &[DeviceRecord],
        limit: DeviceLimit,
        now: OffsetDateTime,
    ) -> Result<Imported, StoreError> {
        let mut done = Imported::default();
        for chunk in records.chunks(IMPORT_BATCH) {
            let mut rows = Vec::with_capacity(chunk.len());
            for r in chunk {
                if fwtoken::validate_user_name(&r.user).is_ok() {
                    rows.push(DeviceRow {
                        id: r.device_id.to_bytes(),
                        user: r.user.clone(),
                        key: self.user_key(&r.user),
                        issued: secs(r.issued_at),
                    });
                }
            }
            let (mut outcomes, v) = if rows.is_empty() {
                (Vec::new().into_iter(), None)
            } else {
                let (o, v) = self
                    .inner
                    .backend
                    .import_devices(rows, limit, secs(now))
                    .await?;
                done.batches += 1;
                (o.into_iter(), v)
            };
            let before = done.evicted.len();
            for r in chunk {
                let outcome = if fwtoken::validate_user_name(&r.user).is_err() {
                    Err(ImportRefusal::InvalidUserName)
                } else {
                    outcomes
                        .next()
                        .ok_or(StoreError::Corrupt("an import answered fewer records"))?
                };
                match outcome {
                    Ok(Registered::New { evicted }) => {
                        done.new += 1;
                        done.evicted.extend(evicted);
                    }
                    Ok(Registered::AlreadyRegistered) => done.already_registered += 1,
                    Err(why) => done.refused.push((r.device_id, why)),
                }
            }
            let evicted = done.evicted.get(before..).unwrap_or_default();
            self.wrote(Kind::Device, evicted.iter().map(|d| d.to_bytes()), v)
                .await;
        }
        Ok(done)
    }

    /// The cached answer for a device, when the cache can answer without the database.
    /// (A peek: not counted in [`Store::stats`].)
    pub fn cached_device(&self, id: &DeviceId) -> Option<bool> {
        self.inner
            .cache
            .as_ref()?
            .get(Kind::Device, &id.to_bytes(), 0)
    }

    /// True when the device is registered and not revoked. Unknown ids are not active; a
    /// storage failure is [`StoreError::Unavailable`], never an answer.
    pub async fn is_device_active(&self, id: &DeviceId) -> Result<bool, StoreError> {
        let key = id.to_bytes();
        if let Some(a) = self.hit(Kind::Device, &key, 0) {
            return Ok(a);
        }
        let status = self.ask(Kind::Device, key).await?;
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
        self.wrote(Kind::Device, [id.to_bytes()], v).await;
        Ok(was)
    }

    /// Revokes every active device of `user`'s identity; returns how many.
    pub async fn revoke_user_devices(
        &self,
        user: &str,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let (ids, v) = self
            .inner
            .backend
            .revoke_user_devices(self.user_key(user), secs(now))
            .await?;
        let n = ids.len();
        self.wrote(Kind::Device, ids, v).await;
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
    /// (A peek: not counted in [`Store::stats`].)
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
        let key = id.to_bytes();
        if let Some(a) = self.hit(Kind::Api, &key, secs(now)) {
            return Ok(a);
        }
        let status = self.ask(Kind::Api, key).await?;
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
        let (ids, v) = self
            .inner
            .backend
            .revoke_api_tokens(ApiSelector::Id(id.to_bytes()), secs(now))
            .await?;
        // Whatever it was (active, revoked, never seen), the id is revoked now.
        self.wrote(Kind::Api, [id.to_bytes()], v).await;
        Ok(!ids.is_empty())
    }

    /// Revokes every API token of `user`'s identity; returns how many.
    pub async fn revoke_user_api_tokens(
        &self,
        user: &str,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let key = self.user_key(user);
        let (ids, v) = self
            .inner
            .backend
            .revoke_api_tokens(ApiSelector::UserKey(&key), secs(now))
            .await?;
        let n = ids.len();
        self.wrote(Kind::Api, ids, v).await;
        Ok(n)
    }

    /// Revokes every API token issued to application `app`; returns how many.
    pub async fn revoke_app_api_tokens(
        &self,
        app: &str,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let (ids, v) = self
            .inner
            .backend
            .revoke_api_tokens(ApiSelector::App(app), secs(now))
            .await?;
        let n = ids.len();
        self.wrote(Kind::Api, ids, v).await;
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
    /// before `now`, and change-log rows beyond [`StoreConfig::change_log_retention`] as of
    /// `now`, in batches; returns how many rows. Housekeeping calls it by itself; several
    /// purgers at once are safe.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<usize, StoreError> {
        purge_all(
            &*self.inner.backend,
            now,
            self.inner.purge_batch,
            self.inner.retention,
        )
        .await
    }

    /// The database's version number (bumped by every write that makes something
    /// inactive).
    pub async fn version(&self) -> Result<u64, StoreError> {
        self.inner.backend.version().await
    }

    /// The version this store's cache is in step with: every change up to it has been
    /// applied (0 without a cache).
    pub fn known_version(&self) -> u64 {
        self.inner.cache.as_ref().map_or(0, |c| c.known_version())
    }

    /// Checks that the database can be written, with a real write in a transaction that
    /// is rolled back (nothing changes). A server calls it at start-up and refuses to
    /// start on [`StoreError::Unavailable`]: a read-only SQLite file or file system, a
    /// SQLite file deleted or replaced since it was opened, a read-only PostgreSQL
    /// replica or a role without the privilege. Otherwise such a server would answer
    /// session checks while refusing every login and revocation.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        self.inner.backend.check_writable().await
    }

    /// Reads the version and the change log now and applies them, as the sync task does
    /// every `T_poll`: after it returns, every revocation committed before the call is
    /// refused by this store. Without a cache there is nothing to do.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        match &self.inner.syncer {
            Some(s) => s.sync().await,
            None => Ok(()),
        }
    }

    /// This store's counters (shared by its clones): checks answered by the cache and by
    /// the database, what the change log evicted, full clears, capacity evictions, the
    /// version the cache is in step with. Cheap enough to call once a second.
    pub fn stats(&self) -> StoreStats {
        let mut stats = StoreStats::default();
        if let Some(c) = &self.inner.cache {
            c.stats(&mut stats);
        }
        stats.hits = self.inner.hits.load(Ordering::Relaxed);
        stats.misses = self.inner.misses.load(Ordering::Relaxed);
        stats
    }
}

async fn purge_all(
    b: &dyn Backend,
    now: OffsetDateTime,
    batch: usize,
    retention: LogRetention,
) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = b.purge_expired(secs(now), batch).await?;
        total += n;
        if n < batch {
            break;
        }
        tokio::task::yield_now().await;
    }
    loop {
        let n = b.purge_changes(secs(now), retention).await?;
        total += n;
        if n < retention.batch {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}
