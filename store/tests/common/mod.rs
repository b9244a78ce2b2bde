//! Shared test harness: a fresh database per test on each backend.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use fwtoken_store::{PostgresConfig, Store, StoreConfig};

pub mod cluster;

/// The environment variable naming the PostgreSQL test database.
pub const PG_ENV: &str = "FWTOKEN_TEST_POSTGRES_URL";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique in this machine's recent history.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Prints past the test harness's output capture, so a person sees it in the log.
pub fn visible(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The PostgreSQL URL, or a visible SKIPPED line and `None`.
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var(PG_ENV) {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            visible(&format!(
                "SKIPPED {test}: postgres test needs {PG_ENV} (see README, \"Keeping state\")"
            ));
            None
        }
    }
}

/// A temporary SQLite file, removed (with its WAL files) on drop.
pub struct TempDb {
    pub path: PathBuf,
}

impl TempDb {
    pub fn new(name: &str) -> Self {
        Self::new_in(&std::env::temp_dir(), name)
    }

    pub fn new_in(dir: &std::path::Path, name: &str) -> Self {
        let path = dir.join(format!("{}.sqlite3", unique(name)));
        Self { path }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

/// One test's database.
pub enum Db {
    Memory(Mutex<Option<Store>>),
    Sqlite(TempDb),
    Postgres { url: String, schema: String },
}

impl Db {
    pub fn memory() -> Self {
        Db::Memory(Mutex::new(None))
    }

    pub fn sqlite(name: &str) -> Self {
        Db::Sqlite(TempDb::new(name))
    }

    /// A fresh schema in the test database, or `None` (SKIPPED printed).
    pub fn postgres(test: &str) -> Option<Self> {
        let url = pg_url(test)?;
        let schema = unique("fwt").to_lowercase();
        Some(Db::Postgres { url, schema })
    }

    pub fn pg_config(url: &str, schema: &str) -> PostgresConfig {
        PostgresConfig::new(url)
            .unwrap()
            .pool_size(8)
            .schema(schema)
            .unwrap()
    }

    /// A store on this database; every call is a new instance with a cache of its own (as
    /// another server or process would be): on memory, another instance on the same
    /// memory (`Store::new_instance`).
    pub async fn open(&self, config: StoreConfig) -> Store {
        match self {
            Db::Memory(m) => {
                let existing = m.lock().unwrap().clone();
                match existing {
                    Some(s) => s.new_instance(config).await.unwrap(),
                    None => {
                        let s = Store::memory(config).await.unwrap();
                        *m.lock().unwrap() = Some(s.clone());
                        s
                    }
                }
            }
            Db::Sqlite(t) => Store::sqlite(&t.path, config).await.unwrap(),
            Db::Postgres { url, schema } => Store::postgres(Self::pg_config(url, schema), config)
                .await
                .unwrap(),
        }
    }

    /// True when instances are separate processes' or servers' views of one database.
    pub fn shared(&self) -> bool {
        !matches!(self, Db::Memory(_))
    }

    /// Runs SQL on the database directly, behind the stores' backs (a restore from a
    /// backup, an older writer): SQLite and PostgreSQL (in the test's schema) only.
    pub async fn sql(&self, sql: &str) {
        match self {
            Db::Memory(_) => panic!("memory has no SQL"),
            Db::Sqlite(t) => {
                let (path, sql) = (t.path.clone(), sql.to_owned());
                tokio::task::spawn_blocking(move || {
                    let c = rusqlite::Connection::open(path).unwrap();
                    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                    c.execute_batch(&format!("BEGIN IMMEDIATE; {sql}; COMMIT;"))
                        .unwrap();
                })
                .await
                .unwrap();
            }
            Db::Postgres { url, schema } => {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                let driver = tokio::spawn(conn);
                client
                    .batch_execute(&format!(
                        "SET search_path TO {schema}; BEGIN; {sql}; COMMIT;"
                    ))
                    .await
                    .unwrap();
                drop(client);
                let _ = driver.await;
            }
        }
    }

    /// `bytes` as an SQL literal of this database.
    pub fn blob(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match self {
            Db::Postgres { .. } => format!("'\\x{hex}'::bytea"),
            _ => format!("X'{hex}'"),
        }
    }

    /// Drops the PostgreSQL schema (the cluster is throwaway anyway).
    pub async fn cleanup(&self) {
        if let Db::Postgres { url, schema } = self
            && let Ok((client, conn)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await
        {
            let driver = tokio::spawn(conn);
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await;
            drop(client);
            let _ = driver.await;
        }
    }
}

/// The same cases on SQLite and PostgreSQL only: cases that reach into the database with
/// SQL (memory has no backups and no other writers).
#[macro_export]
macro_rules! sql_backend_tests {
    ($cases:path; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    use $cases as cases;
                    let db = $crate::common::Db::sqlite(stringify!($name));
                    cases::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    use $cases as cases;
                    let test = concat!("postgres::", stringify!($name));
                    let Some(db) = $crate::common::Db::postgres(test) else { return };
                    cases::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

/// Runs a test body on memory, SQLite and PostgreSQL (or prints SKIPPED for the last
/// without a database).
#[macro_export]
macro_rules! backend_tests {
    ($cases:path; $($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    use $cases as cases;
                    let db = $crate::common::Db::memory();
                    cases::$name(&db).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    use $cases as cases;
                    let db = $crate::common::Db::sqlite(stringify!($name));
                    cases::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    use $cases as cases;
                    let test = concat!("postgres::", stringify!($name));
                    let Some(db) = $crate::common::Db::postgres(test) else { return };
                    cases::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}
