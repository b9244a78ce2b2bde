//! The change log on SQLite: the one way a version moves (bump and log, in the writer's
//! exclusive transaction), reading it above a node's version in one snapshot, purging it.

use rusqlite::params;

use crate::backend::{ChangeRow, ChangeSnapshot, Kind, LogRetention};
use crate::error::StoreError;
use crate::model::id16;

use crate::model::version_u64;

/// Bumps the version (with a new random stamp) and logs `ids` as made inactive at it, in
/// the caller's write transaction: the one way a version moves. `ids` is never empty.
pub(super) fn bump(
    tx: &rusqlite::Transaction<'_>,
    kind: Kind,
    ids: &[[u8; 16]],
    now: i64,
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Err(StoreError::InvalidArgument(
            "a version bump logs at least one id",
        ));
    }
    let (v, stamp): (i64, i64) = tx.query_row(
        "UPDATE fwtoken_version SET version = version + 1, stamp = random() WHERE id = 1
         RETURNING version, stamp",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut log = tx.prepare_cached(
        "INSERT INTO fwtoken_changes (version, stamp, kind, id, at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT DO NOTHING",
    )?;
    for id in ids {
        log.execute(params![v, stamp, kind.code(), &id[..], now])?;
    }
    version_u64(v)
}

/// The version row and, above `after`, the change log (see `ChangeSnapshot`), in the
/// caller's read transaction (one snapshot).
pub(super) fn changes_since(
    tx: &rusqlite::Transaction<'_>,
    after: Option<u64>,
    limit: usize,
) -> Result<ChangeSnapshot, StoreError> {
    let (version, stamp, purged_to, purged_stamp): (i64, i64, i64, i64) = tx
        .prepare_cached(
            "SELECT version, stamp, purged_to, purged_stamp FROM fwtoken_version WHERE id = 1",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    let mut snap = ChangeSnapshot {
        version: version_u64(version)?,
        stamp,
        purged_to: version_u64(purged_to)?,
        purged_stamp,
        rows: Vec::new(),
    };
    let Some(k) = after.filter(|k| *k < snap.version) else {
        return Ok(snap);
    };
    let k = i64::try_from(k).map_err(|_| StoreError::Corrupt("version out of range"))?;
    let limit = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let mut st = tx.prepare_cached(
        "SELECT * FROM (SELECT version, stamp, kind, id FROM fwtoken_changes
                        WHERE version = ?1 LIMIT 1)
         UNION ALL
         SELECT * FROM (SELECT version, stamp, kind, id FROM fwtoken_changes
                        WHERE version > ?1 AND version <= ?2 ORDER BY version LIMIT ?3)
         ORDER BY 1",
    )?;
    let rows = st
        .query_map(params![k, version, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (version, stamp, kind, id) in rows {
        snap.rows.push(ChangeRow {
            version: version_u64(version)?,
            stamp,
            kind: Kind::from_code(kind)?,
            id: id16(&id)?,
        });
    }
    Ok(snap)
}

/// Raises `purged_to` to the newest version beyond `keep` (by age or count), then deletes
/// up to `keep.batch` rows at or below it, in the caller's write transaction.
pub(super) fn purge_changes(
    tx: &rusqlite::Transaction<'_>,
    now: i64,
    keep: LogRetention,
) -> Result<usize, StoreError> {
    let cut = now.saturating_sub(keep.max_age_secs);
    let max_rows = i64::try_from(keep.max_rows).unwrap_or(i64::MAX);
    let target: Option<i64> = tx.query_row(
        "SELECT max(v) FROM (
             SELECT max(version) AS v FROM fwtoken_changes WHERE at < ?1
             UNION ALL
             SELECT version FROM (SELECT version FROM fwtoken_changes
                                  ORDER BY version DESC LIMIT 1 OFFSET ?2))",
        params![cut, max_rows],
        |r| r.get(0),
    )?;
    if let Some(x) = target {
        tx.execute(
            "UPDATE fwtoken_version SET purged_to = ?1,
                 purged_stamp = (SELECT stamp FROM fwtoken_changes WHERE version = ?1 LIMIT 1)
             WHERE id = 1 AND purged_to < ?1
               AND EXISTS (SELECT 1 FROM fwtoken_changes WHERE version = ?1)",
            params![x],
        )?;
    }
    let batch = i64::try_from(keep.batch).unwrap_or(i64::MAX);
    let n = tx.execute(
        "DELETE FROM fwtoken_changes WHERE (version, kind, id) IN
             (SELECT version, kind, id FROM fwtoken_changes
              WHERE version <= (SELECT purged_to FROM fwtoken_version WHERE id = 1)
              ORDER BY version LIMIT ?1)",
        params![batch],
    )?;
    Ok(n)
}
