//! The PostgreSQL backend: a deadpool pool for queries, one dedicated connection that
//! `LISTEN`s for version changes, per-user advisory locks for the device cap.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use fwtoken::{ApiTokenId, DeviceId, SiteDomains};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{NoTls, Socket};

use crate::backend::{
    ApiRow, Backend, BoxFut, ChangeSnapshot, DeviceRow, ImportOutcome, Kind, LogRetention,
    PURGE_GRACE_SECS, Status, TOMBSTONE_EXPIRES, UNKNOWN_ID_KEY, VersionSink, Written,
};
use crate::error::StoreError;
use crate::model::{
    ApiSelector, ApiTokenEntry, DeviceEntry, DeviceLimit, Registered, from_secs, id16, version_u64,
};

mod changelog;
mod devices;
mod listen;
mod schema;

use changelog::{bump, ids_of};
use listen::listen;

/// The `NOTIFY` channel; the payload is the new version number.
pub const NOTIFY_CHANNEL: &str = "fwtoken_version";

/// The `application_name` of the dedicated `LISTEN` connection (find it in
/// `pg_stat_activity`); followed by a space and the schema when
/// [`PostgresConfig::schema`] set one.
pub const LISTEN_APPLICATION_NAME: &str = "fwtoken-store-listen";

/// Seed of the per-user advisory-lock key (`hashtextextended(user_key, seed)`).
const USER_LOCK_SEED: i64 = 0x6677_746b;

/// Timeouts for connecting and for waiting on the pool.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Pause before the `LISTEN` connection is re-established.
const RELISTEN_PAUSE: Duration = Duration::from_millis(200);

#[derive(Clone)]
enum Tls {
    Plain,
    #[cfg(feature = "tls-rustls")]
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// Where the PostgreSQL database is and how to reach it.
///
/// Its `Debug` shows no password.
#[derive(Clone)]
pub struct PostgresConfig {
    pg: tokio_postgres::Config,
    pool_size: usize,
    tls: Tls,
    schema: Option<String>,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("hosts", &self.pg.get_hosts())
            .field("ports", &self.pg.get_ports())
            .field("dbname", &self.pg.get_dbname())
            .field("user", &self.pg.get_user())
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl PostgresConfig {
    /// From a connection URL (`postgresql://user:password@host:port/db`) or a key=value
    /// string, as `tokio-postgres` parses them; plain TCP or a Unix socket, no TLS.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        // The store URL's rules: refused when the driver would misread a password.
        let pg = crate::config::parse_postgres(url).map_err(|_| {
            StoreError::InvalidArgument(
                "not a PostgreSQL connection string, or one the driver would misread (write @ / ? # in a password percent-encoded)",
            )
        })?;
        Ok(Self::from_config(pg))
    }

    /// From a `tokio-postgres` configuration built in code (its options, such as
    /// `-c synchronous_commit=off`, are kept); no TLS.
    pub fn from_config(mut pg: tokio_postgres::Config) -> Self {
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(TIMEOUT);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("fwtoken-store");
        }
        Self {
            pg,
            pool_size: 16,
            tls: Tls::Plain,
            schema: None,
        }
    }

    /// How many pooled connections at most (default 16; the `LISTEN` connection is one
    /// more).
    #[must_use]
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }

    /// Keeps the tables in `schema` (created if missing) instead of the connection's
    /// default `search_path`: several independent stores in one database. A name of
    /// lowercase ASCII letters, digits and `_`, starting with a letter.
    pub fn schema(mut self, schema: &str) -> Result<Self, StoreError> {
        let ok = schema.len() <= 63
            && schema.starts_with(|c: char| c.is_ascii_lowercase())
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(StoreError::InvalidArgument(
                "a schema name is lowercase ASCII letters, digits and _",
            ));
        }
        let options = match self.pg.get_options() {
            Some(o) if !o.is_empty() => format!("{o} -c search_path={schema}"),
            _ => format!("-c search_path={schema}"),
        };
        self.pg.options(options);
        self.schema = Some(schema.to_owned());
        Ok(self)
    }

    /// Connects with TLS (rustls, ring provider) and only with TLS: the server
    /// certificate is checked against `config`'s roots and the host name (or address)
    /// connected to, and a server that does not offer TLS is refused (`sslmode=require`
    /// whatever the URL said; without it `tokio-postgres` would fall back to plain text).
    #[cfg(feature = "tls-rustls")]
    #[must_use]
    pub fn tls(mut self, config: rustls::ClientConfig) -> Self {
        self.pg.ssl_mode(tokio_postgres::config::SslMode::Require);
        self.tls = Tls::Rustls(tokio_postgres_rustls::MakeRustlsConnect::new(config));
        self
    }
}

/// A pool on one database, and how to open the `LISTEN` connection.
pub(crate) struct PostgresBackend {
    pool: Pool,
    config: PostgresConfig,
}

fn manager<T>(pg: tokio_postgres::Config, tls: T) -> Manager
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as tokio_postgres::tls::TlsConnect<Socket>>::Future: Send,
{
    Manager::from_config(
        pg,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    )
}

impl PostgresBackend {
    pub(crate) async fn open(
        config: PostgresConfig,
        domains: &SiteDomains,
    ) -> Result<Self, StoreError> {
        let mgr = match &config.tls {
            Tls::Plain => manager(config.pg.clone(), NoTls),
            #[cfg(feature = "tls-rustls")]
            Tls::Rustls(t) => manager(config.pg.clone(), t.clone()),
        };
        let pool = Pool::builder(mgr)
            .max_size(config.pool_size)
            .wait_timeout(Some(TIMEOUT))
            .create_timeout(Some(TIMEOUT))
            .recycle_timeout(Some(TIMEOUT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(StoreError::unavailable)?;
        let backend = Self { pool, config };
        backend.migrate(domains).await?;
        Ok(backend)
    }
}

impl PostgresBackend {
    async fn status(&self, sql: &str, id: [u8; 16]) -> Result<(Status, u64), StoreError> {
        let client = self.pool.get().await?;
        let st = client.prepare_cached(sql).await?;
        let r = client.query_one(&st, &[&&id[..]]).await?;
        let version: i64 = r.try_get(0)?;
        let found: bool = r.try_get(1)?;
        let revoked: Option<i64> = r.try_get(2)?;
        let expires: Option<i64> = r.try_get(3)?;
        let status = match (found, revoked) {
            (false, _) => Status::Unknown,
            (true, Some(_)) => Status::Revoked,
            (true, None) => Status::Active {
                expires: expires.unwrap_or(i64::MAX),
            },
        };
        Ok((status, version_u64(version)?))
    }

    /// Runs a revocation that returns the ids it revoked; bumps and logs them.
    async fn write_bumped(
        &self,
        kind: Kind,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        now: i64,
    ) -> Result<Written<Vec<[u8; 16]>>, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let ids = ids_of(&tx.query(sql, params).await?)?;
        let v = if ids.is_empty() {
            None
        } else {
            Some(bump(&tx, kind, &ids, now).await?)
        };
        tx.commit().await?;
        Ok((ids, v))
    }

    /// Revokes one id in one statement: an active row becomes revoked (true); an id never
    /// seen gets a tombstone row (false), so a registration still in flight can't make it
    /// active later; an already revoked row is left as it is (false). Only a revocation of
    /// an active row bumps the version: nothing else changes an answer.
    /// One upsert, so a registration committing at the same moment is either revoked or
    /// refused, never missed.
    async fn revoke_one(
        &self,
        kind: Kind,
        sql: &str,
        id: [u8; 16],
        now: i64,
    ) -> Result<Written<bool>, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let rows = tx.query(sql, &[&&id[..], &now, &UNKNOWN_ID_KEY]).await?;
        let was_active = match rows.first() {
            Some(row) => !row.try_get::<_, bool>(0)?,
            None => false,
        };
        let v = if was_active {
            Some(bump(&tx, kind, &[id], now).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok((was_active, v))
    }

    async fn list(&self, key: String) -> Result<Vec<DeviceEntry>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT device_id, user_name, issued_at, last_seen, revoked_at
                 FROM fwtoken_devices WHERE user_key = $1 ORDER BY issued_at, seq",
                &[&key],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                let id: Vec<u8> = r.try_get(0)?;
                let seen: Option<i64> = r.try_get(3)?;
                let revoked: Option<i64> = r.try_get(4)?;
                Ok(DeviceEntry {
                    device_id: DeviceId::from_bytes(id16(&id)?),
                    user: r.try_get(1)?,
                    user_key: key.clone(),
                    issued_at: from_secs(r.try_get(2)?)?,
                    last_seen: seen.map(from_secs).transpose()?,
                    revoked_at: revoked.map(from_secs).transpose()?,
                })
            })
            .collect()
    }

    async fn list_api(&self, key: String) -> Result<Vec<ApiTokenEntry>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT token_id, user_name, app, issued_at, expires, revoked_at
                 FROM fwtoken_api_tokens WHERE user_key = $1 ORDER BY issued_at, token_id",
                &[&key],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                let id: Vec<u8> = r.try_get(0)?;
                let revoked: Option<i64> = r.try_get(5)?;
                Ok(ApiTokenEntry {
                    id: ApiTokenId::from_bytes(id16(&id)?),
                    user: r.try_get(1)?,
                    user_key: key.clone(),
                    app: r.try_get(2)?,
                    issued_at: from_secs(r.try_get(3)?)?,
                    expires: from_secs(r.try_get(4)?)?,
                    revoked_at: revoked.map(from_secs).transpose()?,
                })
            })
            .collect()
    }

    async fn register_api(&self, row: ApiRow) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let n = client
            .execute(
                "INSERT INTO fwtoken_api_tokens
                 (token_id, user_key, user_name, app, issued_at, expires)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (token_id) DO NOTHING",
                &[
                    &&row.id[..],
                    &row.key,
                    &row.user,
                    &row.app,
                    &row.issued,
                    &row.expires,
                ],
            )
            .await?;
        if n > 0 {
            return Ok(true);
        }
        let r = client
            .query_one(
                "SELECT user_name, app, issued_at, expires, revoked_at
                 FROM fwtoken_api_tokens WHERE token_id = $1",
                &[&&row.id[..]],
            )
            .await?;
        let revoked: Option<i64> = r.try_get(4)?;
        if revoked.is_some() {
            Err(StoreError::Revoked)
        } else if r.try_get::<_, String>(0)? == row.user
            && r.try_get::<_, String>(1)? == row.app
            && r.try_get::<_, i64>(2)? == row.issued
            && r.try_get::<_, i64>(3)? == row.expires
        {
            Ok(false)
        } else {
            Err(StoreError::Conflict)
        }
    }

    async fn purge(&self, now: i64, batch: usize) -> Result<usize, StoreError> {
        let client = self.pool.get().await?;
        let cut = now.saturating_sub(PURGE_GRACE_SECS);
        let batch = i64::try_from(batch).unwrap_or(i64::MAX);
        let a = client
            .execute(
                "DELETE FROM fwtoken_api_tokens WHERE token_id IN
                 (SELECT token_id FROM fwtoken_api_tokens WHERE expires < $1
                  LIMIT $2 FOR UPDATE SKIP LOCKED)",
                &[&cut, &batch],
            )
            .await?;
        let l = client
            .execute(
                "DELETE FROM fwtoken_login_tokens WHERE digest IN
                 (SELECT digest FROM fwtoken_login_tokens WHERE expires < $1
                  LIMIT $2 FOR UPDATE SKIP LOCKED)",
                &[&cut, &batch],
            )
            .await?;
        Ok(usize::try_from(a + l).unwrap_or(usize::MAX))
    }
}

impl Backend for PostgresBackend {
    fn register_device(
        &self,
        row: DeviceRow,
        limit: DeviceLimit,
        now: i64,
    ) -> BoxFut<'_, Written<Registered>> {
        Box::pin(self.register_device(row, limit, now))
    }

    fn device_status(&self, id: [u8; 16]) -> BoxFut<'_, (Status, u64)> {
        Box::pin(self.status(
            "SELECT v.version, d.device_id IS NOT NULL, d.revoked_at, NULL::bigint
             FROM fwtoken_version v LEFT JOIN fwtoken_devices d ON d.device_id = $1
             WHERE v.id = 1",
            id,
        ))
    }

    fn touch_device(&self, id: [u8; 16], now: i64) -> BoxFut<'_, bool> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let n = client
                .execute(
                    "UPDATE fwtoken_devices SET last_seen = $2 WHERE device_id = $1
                     AND revoked_at IS NULL AND (last_seen IS NULL OR last_seen <= $3)",
                    &[
                        &&id[..],
                        &now,
                        &now.saturating_sub(crate::store::LAST_SEEN_INTERVAL_SECS),
                    ],
                )
                .await?;
            Ok(n > 0)
        })
    }

    fn list_devices(&self, key: String) -> BoxFut<'_, Vec<DeviceEntry>> {
        Box::pin(self.list(key))
    }

    fn revoke_device(&self, id: [u8; 16], now: i64) -> BoxFut<'_, Written<bool>> {
        Box::pin(async move {
            self.revoke_one(
                Kind::Device,
                "INSERT INTO fwtoken_devices (device_id, user_key, user_name, issued_at, revoked_at)
                 VALUES ($1, $3, '', 0, $2)
                 ON CONFLICT (device_id) DO UPDATE SET revoked_at = EXCLUDED.revoked_at
                 WHERE fwtoken_devices.revoked_at IS NULL
                 RETURNING (xmax = 0) AS inserted",
                id,
                now,
            )
            .await
        })
    }

    fn revoke_user_devices(&self, key: String, now: i64) -> BoxFut<'_, Written<Vec<[u8; 16]>>> {
        Box::pin(async move {
            self.write_bumped(
                Kind::Device,
                "UPDATE fwtoken_devices SET revoked_at = $2 WHERE user_key = $1 AND revoked_at IS NULL
                 RETURNING device_id",
                &[&key, &now],
                now,
            )
            .await
        })
    }

    fn register_api_token(&self, row: ApiRow) -> BoxFut<'_, bool> {
        Box::pin(self.register_api(row))
    }

    fn api_token_status(&self, id: [u8; 16]) -> BoxFut<'_, (Status, u64)> {
        Box::pin(self.status(
            "SELECT v.version, t.token_id IS NOT NULL, t.revoked_at, t.expires
             FROM fwtoken_version v LEFT JOIN fwtoken_api_tokens t ON t.token_id = $1
             WHERE v.id = 1",
            id,
        ))
    }

    fn list_api_tokens(&self, key: String) -> BoxFut<'_, Vec<ApiTokenEntry>> {
        Box::pin(self.list_api(key))
    }

    fn revoke_api_tokens<'a>(
        &'a self,
        which: ApiSelector<'a>,
        now: i64,
    ) -> BoxFut<'a, Written<Vec<[u8; 16]>>> {
        Box::pin(async move {
            match which {
                ApiSelector::Id(id) => {
                    let sql = format!(
                        "INSERT INTO fwtoken_api_tokens
                         (token_id, user_key, user_name, app, issued_at, expires, revoked_at)
                         VALUES ($1, $3, '', '', 0, {TOMBSTONE_EXPIRES}, $2)
                         ON CONFLICT (token_id) DO UPDATE SET revoked_at = EXCLUDED.revoked_at
                         WHERE fwtoken_api_tokens.revoked_at IS NULL
                         RETURNING (xmax = 0) AS inserted"
                    );
                    let (was_active, v) = self.revoke_one(Kind::Api, &sql, id, now).await?;
                    Ok((if was_active { vec![id] } else { Vec::new() }, v))
                }
                ApiSelector::UserKey(k) => {
                    self.write_bumped(
                        Kind::Api,
                        "UPDATE fwtoken_api_tokens SET revoked_at = $2 WHERE user_key = $1 AND revoked_at IS NULL
                         RETURNING token_id",
                        &[&k, &now],
                        now,
                    )
                    .await
                }
                ApiSelector::App(a) => {
                    self.write_bumped(
                        Kind::Api,
                        "UPDATE fwtoken_api_tokens SET revoked_at = $2 WHERE app = $1 AND revoked_at IS NULL
                         RETURNING token_id",
                        &[&a, &now],
                        now,
                    )
                    .await
                }
            }
        })
    }

    fn use_login_token(&self, digest: [u8; 32], expires: i64) -> BoxFut<'_, bool> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let n = client
                .execute(
                    "INSERT INTO fwtoken_login_tokens (digest, expires) VALUES ($1, $2)
                     ON CONFLICT (digest) DO NOTHING",
                    &[&&digest[..], &expires],
                )
                .await?;
            Ok(n > 0)
        })
    }

    fn purge_expired(&self, now: i64, batch: usize) -> BoxFut<'_, usize> {
        Box::pin(self.purge(now, batch))
    }

    fn version(&self) -> BoxFut<'_, u64> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let st = client
                .prepare_cached("SELECT version FROM fwtoken_version WHERE id = 1")
                .await?;
            let v: i64 = client.query_one(&st, &[]).await?.try_get(0)?;
            version_u64(v)
        })
    }

    fn changes_since(&self, after: Option<u64>, limit: usize) -> BoxFut<'_, ChangeSnapshot> {
        Box::pin(self.changes(after, limit))
    }

    fn purge_changes(&self, now: i64, retention: LogRetention) -> BoxFut<'_, usize> {
        Box::pin(self.purge_log(now, retention))
    }

    fn import_devices(
        &self,
        rows: Vec<DeviceRow>,
        limit: DeviceLimit,
        now: i64,
    ) -> BoxFut<'_, Written<Vec<ImportOutcome>>> {
        Box::pin(self.import(rows, limit, now))
    }

    fn start_listener(&self, sink: VersionSink) -> Option<tokio::task::JoinHandle<()>> {
        let mut pg = self.config.pg.clone();
        match &self.config.schema {
            Some(schema) => pg.application_name(format!("{LISTEN_APPLICATION_NAME} {schema}")),
            None => pg.application_name(LISTEN_APPLICATION_NAME),
        };
        let tls = self.config.tls.clone();
        Some(tokio::spawn(async move {
            loop {
                // An error ends this connection; the poll covers the gap.
                let _ = match &tls {
                    Tls::Plain => match pg.connect(NoTls).await {
                        Ok((client, conn)) => listen(client, conn, &sink).await,
                        Err(e) => Err(e.into()),
                    },
                    #[cfg(feature = "tls-rustls")]
                    Tls::Rustls(t) => match pg.connect(t.clone()).await {
                        Ok((client, conn)) => listen(client, conn, &sink).await,
                        Err(e) => Err(e.into()),
                    },
                };
                tokio::time::sleep(RELISTEN_PAUSE).await;
            }
        }))
    }

    fn default_poll(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn check_writable(&self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            // A real write (refused on a read-only replica, in a read-only transaction
            // mode or without the privilege), then rolled back: nothing changes.
            tx.execute(
                "UPDATE fwtoken_version SET version = version + 1 WHERE id = 1",
                &[],
            )
            .await?;
            tx.rollback().await?;
            Ok(())
        })
    }
}
