//! The change log on PostgreSQL: the one way a version moves (bump and log, in the
//! writer's transaction), reading it above a node's version in one snapshot, and purging
//! it with several purgers at once.

use crate::backend::{ChangeRow, ChangeSnapshot, Kind, LogRetention};
use crate::error::StoreError;
use crate::model::id16;

use super::{NOTIFY_CHANNEL, PostgresBackend};
use crate::model::version_u64;

/// Bumps the version (with a new random stamp) under its row lock, logs `ids` as made
/// inactive at it and notifies, in one statement inside the caller's transaction: the one
/// way a version moves. The row lock is held until the transaction ends, so versions
/// commit in order. `ids` is never empty.
pub(super) async fn bump(
    tx: &deadpool_postgres::Transaction<'_>,
    kind: Kind,
    ids: &[[u8; 16]],
    now: i64,
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Err(StoreError::InvalidArgument(
            "a version bump logs at least one id",
        ));
    }
    let st = tx
        .prepare_cached(
            "WITH v AS (UPDATE fwtoken_version
                        SET version = version + 1,
                            stamp = floor(random() * 9007199254740992)::bigint
                        WHERE id = 1 RETURNING version, stamp),
                  logged AS (INSERT INTO fwtoken_changes (version, stamp, kind, id, at)
                             SELECT v.version, v.stamp, $2, x, $3
                             FROM v, unnest($4::bytea[]) AS x
                             ON CONFLICT DO NOTHING)
             SELECT version, pg_notify($1, version::text) FROM v",
        )
        .await?;
    let ids: Vec<&[u8]> = ids.iter().map(|id| &id[..]).collect();
    let v: i64 = tx
        .query_one(&st, &[&NOTIFY_CHANNEL, &kind.code(), &now, &ids])
        .await?
        .try_get(0)?;
    version_u64(v)
}

/// The ids a `RETURNING` statement gives.
pub(super) fn ids_of(rows: &[tokio_postgres::Row]) -> Result<Vec<[u8; 16]>, StoreError> {
    rows.iter()
        .map(|r| id16(r.try_get::<_, &[u8]>(0)?))
        .collect()
}

impl PostgresBackend {
    /// The version row and the change log above `after`, in one statement (one snapshot).
    pub(super) async fn changes(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<ChangeSnapshot, StoreError> {
        let client = self.pool.get().await?;
        let st = client
            .prepare_cached(
                "SELECT v.version, v.stamp, v.purged_to, v.purged_stamp,
                        c.version, c.stamp, c.kind, c.id
                 FROM fwtoken_version v
                 LEFT JOIN LATERAL (
                     (SELECT version, stamp, kind, id FROM fwtoken_changes
                      WHERE version = $1 AND v.version > $1 LIMIT 1)
                     UNION ALL
                     (SELECT version, stamp, kind, id FROM fwtoken_changes
                      WHERE version > $1 AND version <= v.version ORDER BY version LIMIT $2)
                 ) AS c ON true
                 WHERE v.id = 1
                 ORDER BY c.version NULLS FIRST",
            )
            .await?;
        let after = after
            .map(i64::try_from)
            .transpose()
            .map_err(|_| StoreError::Corrupt("version out of range"))?;
        let limit = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = client.query(&st, &[&after, &limit]).await?;
        let first = rows
            .first()
            .ok_or(StoreError::Corrupt("the version row is missing"))?;
        let mut snap = ChangeSnapshot {
            version: version_u64(first.try_get(0)?)?,
            stamp: first.try_get(1)?,
            purged_to: version_u64(first.try_get(2)?)?,
            purged_stamp: first.try_get(3)?,
            rows: Vec::with_capacity(rows.len()),
        };
        for r in &rows {
            let Some(version) = r.try_get::<_, Option<i64>>(4)? else {
                continue;
            };
            snap.rows.push(ChangeRow {
                version: version_u64(version)?,
                stamp: r.try_get(5)?,
                kind: Kind::from_code(i64::from(r.try_get::<_, i16>(6)?))?,
                id: id16(r.try_get::<_, &[u8]>(7)?)?,
            });
        }
        Ok(snap)
    }

    /// Raises `purged_to` to the newest version beyond `keep` (a short statement on the
    /// version row, committed first: a mark above the rows still there is always safe),
    /// then deletes up to `keep.batch` rows at or below it; rows another purger holds are
    /// skipped, so each is deleted once.
    pub(super) async fn purge_log(
        &self,
        now: i64,
        keep: LogRetention,
    ) -> Result<usize, StoreError> {
        let client = self.pool.get().await?;
        let cut = now.saturating_sub(keep.max_age_secs);
        let max_rows = i64::try_from(keep.max_rows).unwrap_or(i64::MAX);
        let target: Option<i64> = client
            .query_one(
                "SELECT max(v) FROM (
                     SELECT max(version) AS v FROM fwtoken_changes WHERE at < $1
                     UNION ALL
                     (SELECT version FROM fwtoken_changes
                      ORDER BY version DESC OFFSET $2 LIMIT 1)) AS candidates",
                &[&cut, &max_rows],
            )
            .await?
            .try_get(0)?;
        if let Some(x) = target {
            client
                .execute(
                    "UPDATE fwtoken_version SET purged_to = $1,
                         purged_stamp = (SELECT stamp FROM fwtoken_changes WHERE version = $1
                                         LIMIT 1)
                     WHERE id = 1 AND purged_to < $1
                       AND EXISTS (SELECT 1 FROM fwtoken_changes WHERE version = $1)",
                    &[&x],
                )
                .await?;
        }
        let batch = i64::try_from(keep.batch).unwrap_or(i64::MAX);
        let n = client
            .execute(
                "DELETE FROM fwtoken_changes WHERE (version, kind, id) IN
                     (SELECT version, kind, id FROM fwtoken_changes
                      WHERE version <= (SELECT purged_to FROM fwtoken_version WHERE id = 1)
                      ORDER BY version LIMIT $1 FOR UPDATE SKIP LOCKED)",
                &[&batch],
            )
            .await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}
