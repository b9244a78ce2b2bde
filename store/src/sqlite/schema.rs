//! The schema: migrations applied in order in one write transaction, and identity keys
//! recomputed when the rules that made them changed.

use fwtoken::SiteDomains;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::backend::UNKNOWN_ID_KEY;
use crate::error::StoreError;

/// The migrations; the file name's number is the schema version (see `crate::migrate`:
/// each number not recorded yet is applied, in order, so 2 may come after 3).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_identity_keys.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_change_log.sql"),
    ),
];

pub(super) fn migrate(c: &mut Connection, domains: &SiteDomains) -> Result<(), StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS fwtoken_migrations (
             version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let have: Vec<i64> = tx
        .prepare("SELECT version FROM fwtoken_migrations")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for (v, sql) in crate::migrate::pending(MIGRATIONS, &have)? {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO fwtoken_migrations (version, applied_at) VALUES (?1, ?2)",
            params![v, now],
        )?;
    }
    rekey(&tx, domains)?;
    tx.commit()?;
    Ok(())
}

/// Recomputes every stored identity key when they were computed with older rules than
/// this build's ([`fwtoken::IDENTITY_KEY_VERSION`]), inside the migration's transaction.
fn rekey(tx: &rusqlite::Transaction<'_>, domains: &SiteDomains) -> Result<(), StoreError> {
    let have: i64 = tx.query_row(
        "SELECT key_version FROM fwtoken_identity WHERE id = 1",
        [],
        |r| r.get(0),
    )?;
    let Some(want) = crate::model::rekey_needed(have)? else {
        return Ok(());
    };
    for (table, id) in [
        ("fwtoken_devices", "device_id"),
        ("fwtoken_api_tokens", "token_id"),
    ] {
        let rows: Vec<(Vec<u8>, String, String)> = tx
            .prepare(&format!(
                "SELECT {id}, user_name, user_key FROM {table} WHERE user_key <> ?1"
            ))?
            .query_map(params![UNKNOWN_ID_KEY], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut update =
            tx.prepare(&format!("UPDATE {table} SET user_key = ?1 WHERE {id} = ?2"))?;
        for (row_id, user, old) in rows {
            let key = fwtoken::identity_key(&user, domains);
            if key != old {
                update.execute(params![key, row_id])?;
            }
        }
    }
    tx.execute(
        "UPDATE fwtoken_identity SET key_version = ?1 WHERE id = 1",
        params![want],
    )?;
    Ok(())
}

/// True when the database has fwtoken's migration table (it is a store, of any version).
pub(super) fn holds_a_store(conn: &rusqlite::Connection) -> Result<bool, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'fwtoken_migrations'",
        [],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}
