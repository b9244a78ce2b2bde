//! Device registration on PostgreSQL: per-user advisory locks, the cap checked and the
//! least recently seen devices evicted under them, and bulk import (set-based when it can,
//! record by record when an eviction or a concurrent insert needs it).

use std::collections::HashMap;

use fwtoken::DeviceId;
use tokio_postgres::Client;

use crate::backend::{DeviceRow, ImportOutcome, Kind, Written};
use crate::error::StoreError;
use crate::model::{CapPolicy, DeviceLimit, ImportRefusal, Registered, id16};

use super::{PostgresBackend, USER_LOCK_SEED, bump};

pub(super) async fn existing_device(
    c: &Client,
    row: &DeviceRow,
) -> Result<Written<Registered>, StoreError> {
    let r = c
        .query_opt(
            "SELECT user_name, issued_at, revoked_at FROM fwtoken_devices WHERE device_id = $1",
            &[&&row.id[..]],
        )
        .await?;
    let Some(r) = r else {
        // Inserted and gone cannot happen (rows are never deleted); report the storage.
        return Err(StoreError::unavailable(
            "device row vanished during registration",
        ));
    };
    let (user, issued, revoked): (String, i64, Option<i64>) =
        (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
    if revoked.is_some() {
        Err(StoreError::Revoked)
    } else if user == row.user && issued == row.issued {
        Ok((Registered::AlreadyRegistered, None))
    } else {
        Err(StoreError::Conflict)
    }
}

/// Takes the per-user advisory locks of `keys`, in the order of their lock keys (so two
/// callers never wait on each other in a cycle).
async fn lock_users(
    tx: &deadpool_postgres::Transaction<'_>,
    keys: &[&str],
) -> Result<(), StoreError> {
    tx.execute(
        "SELECT count(pg_advisory_xact_lock(h))
         FROM (SELECT DISTINCT hashtextextended(k, $2) AS h FROM unnest($1::text[]) AS k
               ORDER BY h) AS locks",
        &[&keys, &USER_LOCK_SEED],
    )
    .await?;
    Ok(())
}

/// Registers one device with its user's lock held: the cap checked, least recently seen
/// devices revoked under the evict policy (not logged: the caller bumps). `None` when the
/// id was inserted meanwhile under another user's lock: the caller rolls back and reads
/// the row.
async fn register_locked(
    tx: &deadpool_postgres::Transaction<'_>,
    row: &DeviceRow,
    limit: DeviceLimit,
    now: i64,
) -> Result<Option<ImportOutcome>, StoreError> {
    // After the lock, in a new statement (a new snapshot under READ COMMITTED).
    let st = tx
        .prepare_cached(
            "SELECT d.device_id IS NOT NULL, d.user_name, d.issued_at, d.revoked_at,
                    (SELECT count(*) FROM fwtoken_devices
                     WHERE user_key = $2 AND revoked_at IS NULL)
             FROM (SELECT 1) AS one LEFT JOIN fwtoken_devices d ON d.device_id = $1",
        )
        .await?;
    let r = tx.query_one(&st, &[&&row.id[..], &row.key]).await?;
    if r.try_get::<_, bool>(0)? {
        let (user, issued, revoked): (String, i64, Option<i64>) =
            (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        return Ok(Some(classify(row, &user, issued, revoked)));
    }
    let held: i64 = r.try_get(4)?;
    let held = usize::try_from(held).map_err(|_| StoreError::Corrupt("negative count"))?;
    let mut evicted = Vec::new();
    if held >= limit.max {
        if limit.policy == CapPolicy::Refuse || limit.max == 0 {
            return Ok(Some(Err(ImportRefusal::DeviceLimit)));
        }
        let n = i64::try_from(held + 1 - limit.max).unwrap_or(i64::MAX);
        let rows = tx
            .query(
                "UPDATE fwtoken_devices SET revoked_at = $3 WHERE device_id IN
                     (SELECT device_id FROM fwtoken_devices
                      WHERE user_key = $1 AND revoked_at IS NULL
                      ORDER BY coalesce(last_seen, issued_at), issued_at, seq LIMIT $2)
                 RETURNING device_id, coalesce(last_seen, issued_at), issued_at, seq",
                &[&row.key, &n, &now],
            )
            .await?;
        let mut order = Vec::with_capacity(rows.len());
        for r in &rows {
            let id = id16(r.try_get::<_, &[u8]>(0)?)?;
            order.push((
                r.try_get::<_, i64>(1)?,
                r.try_get::<_, i64>(2)?,
                r.try_get::<_, i64>(3)?,
                id,
            ));
        }
        // RETURNING has no order: least recently seen first, as the selection was.
        order.sort_unstable();
        evicted = order
            .into_iter()
            .map(|(_, _, _, id)| DeviceId::from_bytes(id))
            .collect();
    }
    let inserted = tx
        .execute(
            "INSERT INTO fwtoken_devices (device_id, user_key, user_name, issued_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (device_id) DO NOTHING",
            &[&&row.id[..], &row.key, &row.user, &row.issued],
        )
        .await?;
    Ok((inserted > 0).then_some(Ok(Registered::New { evicted })))
}

/// What registering `row` means for an id already stored as (`user`, `issued`, `revoked`).
fn classify(row: &DeviceRow, user: &str, issued: i64, revoked: Option<i64>) -> ImportOutcome {
    if revoked.is_some() {
        Err(ImportRefusal::Revoked)
    } else if user == row.user && issued == row.issued {
        Ok(Registered::AlreadyRegistered)
    } else {
        Err(ImportRefusal::Conflict)
    }
}

fn refusal_error(r: ImportRefusal, limit: DeviceLimit) -> StoreError {
    match r {
        ImportRefusal::DeviceLimit => StoreError::DeviceLimit { max: limit.max },
        ImportRefusal::Revoked => StoreError::Revoked,
        _ => StoreError::Conflict,
    }
}

/// The evicted ids of import outcomes.
fn evicted_ids(out: &[ImportOutcome]) -> Vec<[u8; 16]> {
    out.iter()
        .filter_map(|r| match r {
            Ok(Registered::New { evicted }) => Some(evicted.iter().map(|d| d.to_bytes())),
            _ => None,
        })
        .flatten()
        .collect()
}

impl PostgresBackend {
    pub(super) async fn register_device(
        &self,
        row: DeviceRow,
        limit: DeviceLimit,
        now: i64,
    ) -> Result<Written<Registered>, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        lock_users(&tx, &[row.key.as_str()]).await?;
        let Some(out) = register_locked(&tx, &row, limit, now).await? else {
            // The same id under another user's lock, committed meanwhile: undo evictions.
            tx.rollback().await?;
            return existing_device(&client, &row).await;
        };
        let out = out.map_err(|r| refusal_error(r, limit))?;
        let v = match &out {
            Registered::New { evicted } if !evicted.is_empty() => {
                let ids: Vec<[u8; 16]> = evicted.iter().map(|d| d.to_bytes()).collect();
                Some(bump(&tx, Kind::Device, &ids, now).await?)
            }
            _ => None,
        };
        tx.commit().await?;
        Ok((out, v))
    }

    /// One import batch: all its users locked, then set-based (one read of the ids, one of
    /// the counts, one insert) unless a record needs an eviction or an id was inserted
    /// meanwhile, then record by record.
    pub(super) async fn import(
        &self,
        rows: Vec<DeviceRow>,
        limit: DeviceLimit,
        now: i64,
    ) -> Result<Written<Vec<ImportOutcome>>, StoreError> {
        let mut client = self.pool.get().await?;
        let mut keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        {
            let tx = client.transaction().await?;
            lock_users(&tx, &keys).await?;
            if let Some(out) = import_at_once(&tx, &rows, &keys, limit).await? {
                tx.commit().await?;
                return Ok((out, None));
            }
            tx.rollback().await?;
        }
        let mut tx = client.transaction().await?;
        lock_users(&tx, &keys).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let sp = tx.savepoint("fwtoken_import_row").await?;
            match register_locked(&sp, row, limit, now).await? {
                Some(r) => {
                    sp.commit().await?;
                    out.push(r);
                }
                None => {
                    sp.rollback().await?;
                    let r = tx
                        .query_one(
                            "SELECT user_name, issued_at, revoked_at FROM fwtoken_devices
                             WHERE device_id = $1",
                            &[&&row.id[..]],
                        )
                        .await?;
                    out.push(classify(row, r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
                }
            }
        }
        let evicted = evicted_ids(&out);
        let v = if evicted.is_empty() {
            None
        } else {
            Some(bump(&tx, Kind::Device, &evicted, now).await?)
        };
        tx.commit().await?;
        Ok((out, v))
    }
}

/// An import batch in three statements after the locks, when no record needs an eviction
/// and no id is inserted meanwhile (`None`: do it record by record).
async fn import_at_once(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: &[DeviceRow],
    keys: &[&str],
    limit: DeviceLimit,
) -> Result<Option<Vec<ImportOutcome>>, StoreError> {
    let ids: Vec<&[u8]> = rows.iter().map(|r| &r.id[..]).collect();
    let mut stored: HashMap<[u8; 16], (String, i64, Option<i64>)> = HashMap::new();
    for r in tx
        .query(
            "SELECT device_id, user_name, issued_at, revoked_at FROM fwtoken_devices
             WHERE device_id = ANY($1)",
            &[&ids],
        )
        .await?
    {
        stored.insert(
            id16(r.try_get::<_, &[u8]>(0)?)?,
            (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?),
        );
    }
    let mut held: HashMap<String, usize> = HashMap::new();
    for r in tx
        .query(
            "SELECT user_key, count(*) FROM fwtoken_devices
             WHERE user_key = ANY($1) AND revoked_at IS NULL GROUP BY user_key",
            &[&keys],
        )
        .await?
    {
        let n: i64 = r.try_get(1)?;
        held.insert(
            r.try_get(0)?,
            usize::try_from(n).map_err(|_| StoreError::Corrupt("negative count"))?,
        );
    }
    let mut out = Vec::with_capacity(rows.len());
    let mut new: Vec<&DeviceRow> = Vec::new();
    let mut in_batch: HashMap<[u8; 16], &DeviceRow> = HashMap::new();
    for row in rows {
        if let Some(prev) = in_batch.get(&row.id) {
            out.push(classify(row, &prev.user, prev.issued, None));
            continue;
        }
        if let Some((user, issued, revoked)) = stored.get(&row.id) {
            out.push(classify(row, user, *issued, *revoked));
            continue;
        }
        let n = held.entry(row.key.clone()).or_insert(0);
        if *n >= limit.max {
            if limit.policy == CapPolicy::Refuse || limit.max == 0 {
                out.push(Err(ImportRefusal::DeviceLimit));
                continue;
            }
            return Ok(None);
        }
        *n += 1;
        in_batch.insert(row.id, row);
        new.push(row);
        out.push(Ok(Registered::New {
            evicted: Vec::new(),
        }));
    }
    let ids: Vec<&[u8]> = new.iter().map(|r| &r.id[..]).collect();
    let keys: Vec<&str> = new.iter().map(|r| r.key.as_str()).collect();
    let users: Vec<&str> = new.iter().map(|r| r.user.as_str()).collect();
    let issued: Vec<i64> = new.iter().map(|r| r.issued).collect();
    // unnest keeps the order, so `seq` follows the input as single registrations would.
    let inserted = tx
        .execute(
            "INSERT INTO fwtoken_devices (device_id, user_key, user_name, issued_at)
             SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::int8[])
             ON CONFLICT (device_id) DO NOTHING",
            &[&ids, &keys, &users, &issued],
        )
        .await?;
    Ok((usize::try_from(inserted).ok() == Some(new.len())).then_some(out))
}
