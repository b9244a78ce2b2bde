//! The SQLite store's files (issue 21): created readable by their owner only (database, WAL
//! and shared memory) whatever the umask, and a missing store refused without creating
//! anything when `create_missing` is off.
//!
//! One test in its own binary: it sets the process's umask to 000 (the most permissive),
//! which no other test may see.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use fwtoken::time::OffsetDateTime;
use fwtoken::{DeviceId, DeviceRecord};
use fwtoken_store::{DeviceLimit, Store, StoreConfig, StoreError};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn sibling(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

#[tokio::test]
async fn store_files_are_0600_whatever_the_umask_and_a_missing_store_is_not_created() {
    rustix::process::umask(rustix::fs::Mode::empty());
    let dir = tempfile::tempdir().unwrap();

    // Created: the database, then (in WAL mode, while the store is open and has written)
    // the WAL and the shared-memory file, all 0600 with a umask of 000.
    let db = dir.path().join("fw.sqlite");
    let store = Store::sqlite(&db, StoreConfig::new().purge_every(None))
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let record = DeviceRecord {
        device_id: DeviceId::from_bytes([1; 16]),
        user: "alice".into(),
        issued_at: now,
    };
    store
        .register_device(&record, DeviceLimit::refuse(5), now)
        .await
        .unwrap();
    for file in [db.clone(), sibling(&db, "-wal"), sibling(&db, "-shm")] {
        assert!(file.exists(), "{} is missing", file.display());
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    // A file that exists is opened as it is (with create_missing off too).
    drop(store);
    let again = Store::sqlite(
        &db,
        StoreConfig::new().purge_every(None).create_missing(false),
    )
    .await
    .unwrap();
    assert!(again.is_device_active(&record.device_id).await.unwrap());
    drop(again);

    // Missing, with create_missing off: NotFound, and no file of any kind appears.
    let typo = dir.path().join("fw.sqlitee");
    let e = Store::sqlite(
        &typo,
        StoreConfig::new().purge_every(None).create_missing(false),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StoreError::NotFound), "{e}");
    for suffix in ["", "-wal", "-shm", "-journal"] {
        assert!(
            !sibling(&typo, suffix).exists(),
            "{suffix} was created for a missing store"
        );
    }

    // An empty file or another program's database at that path is no store: NotFound,
    // and neither is turned into one (no table is created in it).
    let empty = dir.path().join("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    let other = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
        .unwrap();
    for path in [&empty, &other] {
        let e = Store::sqlite(
            path,
            StoreConfig::new().purge_every(None).create_missing(false),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{}: {e}", path.display());
        let conn = rusqlite::Connection::open(path).unwrap();
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name LIKE 'fwtoken%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "{} became a store", path.display());
    }
}
