//! The SQLite backend: one file, WAL, `synchronous=FULL`, writes in `BEGIN IMMEDIATE`
//! transactions, all work on tokio's blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fwtoken::{ApiTokenId, DeviceId, SiteDomains};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use crate::backend::{
    ApiRow, Backend, BoxFut, ChangeSnapshot, DeviceRow, ImportOutcome, Kind, LogRetention,
    PURGE_GRACE_SECS, Status, TOMBSTONE_EXPIRES, UNKNOWN_ID_KEY, Written,
};
use crate::error::StoreError;
use crate::model::{
    ApiSelector, ApiTokenEntry, CapPolicy, DeviceEntry, DeviceLimit, ImportRefusal, Registered,
    from_secs, id16,
};
use crate::sqlite_file::FileWatch;

mod changelog;
mod schema;

use changelog::{bump, changes_since, purge_changes};
use schema::{holds_a_store, migrate};

/// How long a write waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often, by default, the version row is read (several processes on one file).
const POLL: Duration = Duration::from_millis(5);

#[derive(Debug)]
struct Conns {
    /// Writes (and their reads), one at a time in this process.
    writer: Mutex<Connection>,
    /// Reads that need no write lock.
    reader: Mutex<Connection>,
    /// The file's identity: a file deleted or replaced under the store fails every call.
    watch: Option<FileWatch>,
}

/// A SQLite database file shared with any number of processes.
#[derive(Debug, Clone)]
pub(crate) struct SqliteBackend {
    conns: Arc<Conns>,
}

/// Creates the database file, empty, readable and writable by its owner only, when it does
/// not exist (another process may be creating it at the same moment: then it exists).
/// SQLite creates the WAL and shared-memory files with the database file's permissions
/// (`os_unix.c`, `findCreateFileMode`, then `fchmod` past the umask), so they are 0600 too.
#[cfg(unix)]
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        // The umask may have removed bits the owner needs: set them exactly.
        Ok(f) => f
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(StoreError::unavailable),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::unavailable(e)),
    }
}

#[cfg(not(unix))]
fn create_private(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

fn open_conn(path: &Path, create: bool) -> Result<Connection, StoreError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let c = Connection::open_with_flags(path, flags)?;
    c.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::unavailable(format!(
            "SQLite refused WAL mode (journal_mode={mode})"
        )));
    }
    c.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
    Ok(c)
}

impl SqliteBackend {
    /// Opens and migrates the file, recomputing stored identity keys with `domains` when
    /// their rules changed; blocking. A missing file is created (0600) when `create`, else
    /// [`StoreError::NotFound`] and nothing is created.
    pub(crate) fn open_blocking(
        path: &Path,
        create: bool,
        domains: &SiteDomains,
    ) -> Result<Self, StoreError> {
        if create {
            create_private(path)?;
        } else if let Err(e) = std::fs::metadata(path) {
            return Err(if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::NotFound
            } else {
                StoreError::unavailable(e)
            });
        }
        let mut writer = open_conn(path, create)?;
        // An empty file, or another program's database, at a mistyped path is no store:
        // only `store migrate` (or a server creating its own) may turn it into one.
        if !create && !holds_a_store(&writer)? {
            return Err(StoreError::NotFound);
        }
        migrate(&mut writer, domains)?;
        let reader = open_conn(path, create)?;
        Ok(Self {
            conns: Arc::new(Conns {
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
                watch: FileWatch::open(path),
            }),
        })
    }

    /// A write: one `BEGIN IMMEDIATE` transaction on the writer connection, so a read that
    /// is followed by a write never fails with "database is locked" under contention.
    fn write<'a, T: Send + 'static>(
        &'a self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFut<'a, T> {
        self.run(true, f)
    }

    /// A read: one deferred transaction (a consistent snapshot) on the reader connection.
    fn read<'a, T: Send + 'static>(
        &'a self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFut<'a, T> {
        self.run(false, f)
    }

    /// Runs `f` in a transaction on tokio's blocking pool, never on the async threads.
    fn run<'a, T: Send + 'static>(
        &'a self,
        write: bool,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFut<'a, T> {
        let conns = Arc::clone(&self.conns);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                // A write always looks at the file first (a write to a deleted file is
                // lost); a read at most every few milliseconds.
                if let Some(watch) = &conns.watch {
                    if write {
                        watch.check()?;
                    } else {
                        watch.check_recent()?;
                    }
                }
                let (conn, behavior) = if write {
                    (&conns.writer, TransactionBehavior::Immediate)
                } else {
                    (&conns.reader, TransactionBehavior::Deferred)
                };
                let mut c = conn.lock().unwrap_or_else(PoisonError::into_inner);
                let tx = c.transaction_with_behavior(behavior)?;
                let out = f(&tx)?;
                tx.commit()?;
                Ok(out)
            })
            .await
            .map_err(StoreError::unavailable)?
        })
    }
}

/// Collects the 16-byte ids a `RETURNING` statement gives.
fn returned_ids(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<[u8; 16]>, StoreError> {
    let mut st = tx.prepare_cached(sql)?;
    let blobs = st
        .query_map(args, |r| r.get::<_, Vec<u8>>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    blobs.iter().map(|b| id16(b)).collect()
}

fn version_of(tx: &rusqlite::Transaction<'_>) -> Result<u64, StoreError> {
    let v: i64 = tx.query_row(
        "SELECT version FROM fwtoken_version WHERE id = 1",
        [],
        |r| r.get(0),
    )?;
    crate::model::version_u64(v)
}

fn register_device(
    tx: &rusqlite::Transaction<'_>,
    row: &DeviceRow,
    limit: DeviceLimit,
    now: i64,
) -> Result<Written<Registered>, StoreError> {
    let out = register_unlogged(tx, row, limit, now)?.map_err(|r| match r {
        ImportRefusal::DeviceLimit => StoreError::DeviceLimit { max: limit.max },
        ImportRefusal::Revoked => StoreError::Revoked,
        _ => StoreError::Conflict,
    })?;
    let v = match &out {
        Registered::New { evicted } if !evicted.is_empty() => {
            let ids: Vec<[u8; 16]> = evicted.iter().map(|d| d.to_bytes()).collect();
            Some(bump(tx, Kind::Device, &ids, now)?)
        }
        _ => None,
    };
    Ok((out, v))
}

/// Registers one device in the caller's transaction (evicting under the evict policy)
/// without bumping the version: the caller logs the evictions.
fn register_unlogged(
    tx: &rusqlite::Transaction<'_>,
    row: &DeviceRow,
    limit: DeviceLimit,
    now: i64,
) -> Result<ImportOutcome, StoreError> {
    let existing: Option<(String, i64, Option<i64>)> = tx
        .prepare_cached(
            "SELECT user_name, issued_at, revoked_at FROM fwtoken_devices WHERE device_id = ?1",
        )?
        .query_row(params![&row.id[..]], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    if let Some((user, issued, revoked)) = existing {
        return Ok(if revoked.is_some() {
            Err(ImportRefusal::Revoked)
        } else if user == row.user && issued == row.issued {
            Ok(Registered::AlreadyRegistered)
        } else {
            Err(ImportRefusal::Conflict)
        });
    }
    let held: i64 = tx
        .prepare_cached(
            "SELECT count(*) FROM fwtoken_devices WHERE user_key = ?1 AND revoked_at IS NULL",
        )?
        .query_row(params![row.key], |r| r.get(0))?;
    let held = usize::try_from(held).map_err(|_| StoreError::Corrupt("negative count"))?;
    let mut evicted = Vec::new();
    if held >= limit.max {
        if limit.policy == CapPolicy::Refuse || limit.max == 0 {
            return Ok(Err(ImportRefusal::DeviceLimit));
        }
        let n = i64::try_from(held + 1 - limit.max).unwrap_or(i64::MAX);
        let mut st = tx.prepare_cached(
            "SELECT device_id FROM fwtoken_devices WHERE user_key = ?1 AND revoked_at IS NULL
             ORDER BY coalesce(last_seen, issued_at), issued_at, seq LIMIT ?2",
        )?;
        let ids = st
            .query_map(params![row.key, n], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        for id in ids {
            tx.prepare_cached("UPDATE fwtoken_devices SET revoked_at = ?2 WHERE device_id = ?1")?
                .execute(params![id, now])?;
            evicted.push(DeviceId::from_bytes(id16(&id)?));
        }
    }
    tx.prepare_cached(
        "INSERT INTO fwtoken_devices (device_id, user_key, user_name, issued_at, seq)
         VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(seq), 0) + 1 FROM fwtoken_devices))",
    )?
    .execute(params![&row.id[..], row.key, row.user, row.issued])?;
    Ok(Ok(Registered::New { evicted }))
}

fn status(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    id: [u8; 16],
) -> Result<(Status, u64), StoreError> {
    let row: Option<(Option<i64>, i64)> = tx
        .query_row(sql, params![&id[..]], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let st = match row {
        None => Status::Unknown,
        Some((Some(_), _)) => Status::Revoked,
        Some((None, expires)) => Status::Active { expires },
    };
    Ok((st, version_of(tx)?))
}

impl Backend for SqliteBackend {
    fn register_device(
        &self,
        row: DeviceRow,
        limit: DeviceLimit,
        now: i64,
    ) -> BoxFut<'_, Written<Registered>> {
        self.write(move |tx| register_device(tx, &row, limit, now))
    }

    fn device_status(&self, id: [u8; 16]) -> BoxFut<'_, (Status, u64)> {
        self.read(move |tx| {
            status(
                tx,
                "SELECT revoked_at, 9223372036854775807 FROM fwtoken_devices WHERE device_id = ?1",
                id,
            )
        })
    }

    fn touch_device(&self, id: [u8; 16], now: i64) -> BoxFut<'_, bool> {
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE fwtoken_devices SET last_seen = ?2 WHERE device_id = ?1
                 AND revoked_at IS NULL AND (last_seen IS NULL OR last_seen <= ?3)",
                params![
                    &id[..],
                    now,
                    now.saturating_sub(crate::store::LAST_SEEN_INTERVAL_SECS)
                ],
            )?;
            Ok(n > 0)
        })
    }

    fn list_devices(&self, key: String) -> BoxFut<'_, Vec<DeviceEntry>> {
        self.read(move |tx| {
            let mut st = tx.prepare(
                "SELECT device_id, user_name, issued_at, last_seen, revoked_at
                 FROM fwtoken_devices WHERE user_key = ?1 ORDER BY issued_at, seq",
            )?;
            let rows = st
                .query_map(params![key], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(id, user, issued, seen, revoked)| {
                    Ok(DeviceEntry {
                        device_id: DeviceId::from_bytes(id16(&id)?),
                        user,
                        user_key: key.clone(),
                        issued_at: from_secs(issued)?,
                        last_seen: seen.map(from_secs).transpose()?,
                        revoked_at: revoked.map(from_secs).transpose()?,
                    })
                })
                .collect()
        })
    }

    fn revoke_device(&self, id: [u8; 16], now: i64) -> BoxFut<'_, Written<bool>> {
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE fwtoken_devices SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at IS NULL",
                params![&id[..], now],
            )?;
            if n > 0 {
                return Ok((true, Some(bump(tx, Kind::Device, &[id], now)?)));
            }
            // Never seen: a tombstone, so a late registration can't make it active.
            tx.execute(
                "INSERT INTO fwtoken_devices (device_id, user_key, user_name, issued_at, seq, revoked_at)
                 VALUES (?1, ?2, '', 0, (SELECT coalesce(max(seq), 0) + 1 FROM fwtoken_devices), ?3)
                 ON CONFLICT (device_id) DO NOTHING",
                params![&id[..], UNKNOWN_ID_KEY, now],
            )?;
            // Nothing that was active changed: no version bump.
            Ok((false, None))
        })
    }

    fn revoke_user_devices(&self, key: String, now: i64) -> BoxFut<'_, Written<Vec<[u8; 16]>>> {
        self.write(move |tx| {
            let ids = returned_ids(
                tx,
                "UPDATE fwtoken_devices SET revoked_at = ?2 WHERE user_key = ?1 AND revoked_at IS NULL
                 RETURNING device_id",
                params![key, now],
            )?;
            let v = if ids.is_empty() {
                None
            } else {
                Some(bump(tx, Kind::Device, &ids, now)?)
            };
            Ok((ids, v))
        })
    }

    fn register_api_token(&self, row: ApiRow) -> BoxFut<'_, bool> {
        self.write(move |tx| {
            let n = tx.execute(
                "INSERT INTO fwtoken_api_tokens
                 (token_id, user_key, user_name, app, issued_at, expires)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (token_id) DO NOTHING",
                params![
                    &row.id[..],
                    row.key,
                    row.user,
                    row.app,
                    row.issued,
                    row.expires
                ],
            )?;
            if n > 0 {
                return Ok(true);
            }
            let (user, app, issued, expires, revoked): (String, String, i64, i64, Option<i64>) = tx
                .query_row(
                    "SELECT user_name, app, issued_at, expires, revoked_at
                     FROM fwtoken_api_tokens WHERE token_id = ?1",
                    params![&row.id[..]],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )?;
            if revoked.is_some() {
                Err(StoreError::Revoked)
            } else if user == row.user
                && app == row.app
                && issued == row.issued
                && expires == row.expires
            {
                Ok(false)
            } else {
                Err(StoreError::Conflict)
            }
        })
    }

    fn api_token_status(&self, id: [u8; 16]) -> BoxFut<'_, (Status, u64)> {
        self.read(move |tx| {
            status(
                tx,
                "SELECT revoked_at, expires FROM fwtoken_api_tokens WHERE token_id = ?1",
                id,
            )
        })
    }

    fn list_api_tokens(&self, key: String) -> BoxFut<'_, Vec<ApiTokenEntry>> {
        self.read(move |tx| {
            let mut st = tx.prepare(
                "SELECT token_id, user_name, app, issued_at, expires, revoked_at
                 FROM fwtoken_api_tokens WHERE user_key = ?1 ORDER BY issued_at, token_id",
            )?;
            let rows = st
                .query_map(params![key], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(id, user, app, issued, expires, revoked)| {
                    Ok(ApiTokenEntry {
                        id: ApiTokenId::from_bytes(id16(&id)?),
                        user,
                        user_key: key.clone(),
                        app,
                        issued_at: from_secs(issued)?,
                        expires: from_secs(expires)?,
                        revoked_at: revoked.map(from_secs).transpose()?,
                    })
                })
                .collect()
        })
    }

    fn revoke_api_tokens<'a>(
        &'a self,
        which: ApiSelector<'a>,
        now: i64,
    ) -> BoxFut<'a, Written<Vec<[u8; 16]>>> {
        let (sql, arg): (&'static str, rusqlite::types::Value) = match which {
            ApiSelector::Id(id) => (
                "UPDATE fwtoken_api_tokens SET revoked_at = ?2 WHERE token_id = ?1 AND revoked_at IS NULL
                 RETURNING token_id",
                rusqlite::types::Value::Blob(id.to_vec()),
            ),
            ApiSelector::UserKey(k) => (
                "UPDATE fwtoken_api_tokens SET revoked_at = ?2 WHERE user_key = ?1 AND revoked_at IS NULL
                 RETURNING token_id",
                rusqlite::types::Value::Text(k.to_owned()),
            ),
            ApiSelector::App(a) => (
                "UPDATE fwtoken_api_tokens SET revoked_at = ?2 WHERE app = ?1 AND revoked_at IS NULL
                 RETURNING token_id",
                rusqlite::types::Value::Text(a.to_owned()),
            ),
        };
        let unknown_id = match which {
            ApiSelector::Id(id) => Some(id),
            _ => None,
        };
        self.write(move |tx| {
            let ids = returned_ids(tx, sql, params![arg, now])?;
            if !ids.is_empty() {
                let v = bump(tx, Kind::Api, &ids, now)?;
                return Ok((ids, Some(v)));
            }
            // An id never seen: a tombstone, so a late registration can't make it active.
            if let Some(id) = unknown_id {
                tx.execute(
                    "INSERT INTO fwtoken_api_tokens
                     (token_id, user_key, user_name, app, issued_at, expires, revoked_at)
                     VALUES (?1, ?2, '', '', 0, ?3, ?4) ON CONFLICT (token_id) DO NOTHING",
                    params![&id[..], UNKNOWN_ID_KEY, TOMBSTONE_EXPIRES, now],
                )?;
            }
            // Nothing that was active changed: no version bump.
            Ok((Vec::new(), None))
        })
    }

    fn use_login_token(&self, digest: [u8; 32], expires: i64) -> BoxFut<'_, bool> {
        self.write(move |tx| {
            let n = tx.execute(
                "INSERT INTO fwtoken_login_tokens (digest, expires) VALUES (?1, ?2)
                 ON CONFLICT (digest) DO NOTHING",
                params![&digest[..], expires],
            )?;
            Ok(n > 0)
        })
    }

    fn purge_expired(&self, now: i64, batch: usize) -> BoxFut<'_, usize> {
        let batch = i64::try_from(batch).unwrap_or(i64::MAX);
        self.write(move |tx| {
            let cut = now.saturating_sub(PURGE_GRACE_SECS);
            let a = tx.execute(
                "DELETE FROM fwtoken_api_tokens WHERE token_id IN
                 (SELECT token_id FROM fwtoken_api_tokens WHERE expires < ?1 LIMIT ?2)",
                params![cut, batch],
            )?;
            let l = tx.execute(
                "DELETE FROM fwtoken_login_tokens WHERE digest IN
                 (SELECT digest FROM fwtoken_login_tokens WHERE expires < ?1 LIMIT ?2)",
                params![cut, batch],
            )?;
            Ok(a + l)
        })
    }

    fn version(&self) -> BoxFut<'_, u64> {
        self.read(version_of)
    }

    fn changes_since(&self, after: Option<u64>, limit: usize) -> BoxFut<'_, ChangeSnapshot> {
        self.read(move |tx| changes_since(tx, after, limit))
    }

    fn purge_changes(&self, now: i64, retention: LogRetention) -> BoxFut<'_, usize> {
        self.write(move |tx| purge_changes(tx, now, retention))
    }

    fn import_devices(
        &self,
        rows: Vec<DeviceRow>,
        limit: DeviceLimit,
        now: i64,
    ) -> BoxFut<'_, Written<Vec<ImportOutcome>>> {
        self.write(move |tx| {
            let mut evicted = Vec::new();
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let r = register_unlogged(tx, row, limit, now)?;
                if let Ok(Registered::New { evicted: e }) = &r {
                    evicted.extend(e.iter().map(|d| d.to_bytes()));
                }
                out.push(r);
            }
            let v = if evicted.is_empty() {
                None
            } else {
                Some(bump(tx, Kind::Device, &evicted, now)?)
            };
            Ok((out, v))
        })
    }

    fn default_poll(&self) -> Duration {
        POLL
    }

    fn check_writable(&self) -> BoxFut<'_, ()> {
        let conns = Arc::clone(&self.conns);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                if let Some(watch) = &conns.watch {
                    watch.check()?;
                    watch.check_writable()?;
                }
                let mut c = conns.writer.lock().unwrap_or_else(PoisonError::into_inner);
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                // A real write (SQLite refuses it on a read-only file or file system),
                // then rolled back: nothing changes.
                tx.execute(
                    "UPDATE fwtoken_version SET version = version + 1 WHERE id = 1",
                    [],
                )?;
                tx.rollback()?;
                Ok(())
            })
            .await
            .map_err(StoreError::unavailable)?
        })
    }
}
