//! The schema: migrations applied in order under an advisory lock, and identity keys
//! recomputed when the rules that made them changed.

use fwtoken::SiteDomains;

use super::PostgresBackend;
use crate::backend::UNKNOWN_ID_KEY;
use crate::error::StoreError;

/// The migrations; the number is the schema version (see `crate::migrate`: each number not
/// recorded yet is applied, in order, so 2 may come after 3).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_identity_keys.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_change_log.sql"),
    ),
];

/// Advisory-lock key of schema migrations (any constant unlikely to clash).
const MIGRATION_LOCK: i64 = 0x6677_746f_6b65_6e00;

impl PostgresBackend {
    /// Brings the tables up to date (one server at a time: the migration lock), then the
    /// stored identity keys.
    pub(super) async fn migrate(&self, domains: &SiteDomains) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        if let Some(schema) = &self.config.schema {
            // Checked in `PostgresConfig::schema`: letters, digits and `_` only.
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await?;
        }
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS fwtoken_migrations (
                 version bigint PRIMARY KEY, applied_at bigint NOT NULL)",
        )
        .await?;
        let have: Vec<i64> = tx
            .query("SELECT version FROM fwtoken_migrations", &[])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        for (v, sql) in crate::migrate::pending(MIGRATIONS, &have)? {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO fwtoken_migrations (version, applied_at) VALUES ($1, $2)",
                &[&v, &now],
            )
            .await?;
        }
        rekey(&tx, domains).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Recomputes every stored identity key when they were computed with older rules than
/// this build's ([`fwtoken::IDENTITY_KEY_VERSION`]), inside the migration's transaction
/// (which holds the migration lock, so one server does it).
async fn rekey(
    tx: &deadpool_postgres::Transaction<'_>,
    domains: &SiteDomains,
) -> Result<(), StoreError> {
    let have: i32 = tx
        .query_one(
            // No `FOR UPDATE`: the migration lock already serializes rekeying, and a role
            // that may only read must still open the store (and fail `check_writable`).
            "SELECT key_version FROM fwtoken_identity WHERE id = 1",
            &[],
        )
        .await?
        .try_get(0)?;
    let Some(want) = crate::model::rekey_needed(i64::from(have))? else {
        return Ok(());
    };
    for (table, id) in [
        ("fwtoken_devices", "device_id"),
        ("fwtoken_api_tokens", "token_id"),
    ] {
        let rows = tx
            .query(
                &format!("SELECT {id}, user_name, user_key FROM {table} WHERE user_key <> $1"),
                &[&UNKNOWN_ID_KEY],
            )
            .await?;
        let (mut ids, mut keys) = (Vec::new(), Vec::new());
        for r in rows {
            let (row_id, user, old): (Vec<u8>, String, String) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let key = fwtoken::identity_key(&user, domains);
            if key != old {
                ids.push(row_id);
                keys.push(key);
            }
        }
        if !ids.is_empty() {
            tx.execute(
                &format!(
                    "UPDATE {table} t SET user_key = k.key
                     FROM unnest($1::bytea[], $2::text[]) AS k(id, key) WHERE t.{id} = k.id"
                ),
                &[&ids, &keys],
            )
            .await?;
        }
    }
    let want = i32::try_from(want).map_err(|_| StoreError::Corrupt("identity key version"))?;
    tx.execute(
        "UPDATE fwtoken_identity SET key_version = $1 WHERE id = 1",
        &[&want],
    )
    .await?;
    Ok(())
}
