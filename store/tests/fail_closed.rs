//! A store that can no longer write where it should fails closed: a SQLite file deleted or
//! replaced under a running store is detected within `max_stale` (then every check is
//! `Unavailable`, never "active"); a database the store cannot write fails the start-up
//! check (`Store::check_writable`); and the `test-util` fault injector fails and counts
//! calls on every backend.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fwtoken::time::OffsetDateTime;
use fwtoken::{DeviceId, DeviceRecord};
use fwtoken_store::testing::{Fault, FaultInjector, Op};
use fwtoken_store::{DeviceLimit, Store, StoreConfig, StoreError};

use common::{Db, TempDb, pg_url, unique, visible};

const MAX_STALE: Duration = Duration::from_millis(300);

fn config() -> StoreConfig {
    StoreConfig::new().purge_every(None).max_stale(MAX_STALE)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

async fn register(store: &Store, user: &str) -> DeviceId {
    let id = DeviceId::generate(&mut fwtoken::os_rng());
    let record = DeviceRecord {
        device_id: id,
        user: user.into(),
        issued_at: now(),
    };
    store
        .register_device(&record, DeviceLimit::refuse(10), now())
        .await
        .unwrap();
    id
}

/// Checks `id` until the answer is `Unavailable`; how long that took. Any answer other
/// than "active" (while the cache may still answer) or `Unavailable` fails the test.
async fn until_unavailable(store: &Store, id: &DeviceId, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        match store.is_device_active(id).await {
            Err(StoreError::Unavailable(_)) => return start.elapsed(),
            Ok(true) => {}
            other => panic!("neither active nor unavailable: {other:?}"),
        }
        assert!(start.elapsed() < limit, "still answered after {limit:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// After detection: every kind of call is `Unavailable`, for good.
async fn everything_unavailable(store: &Store, known: &DeviceId) {
    let fresh = DeviceId::generate(&mut fwtoken::os_rng());
    for _ in 0..3 {
        assert!(
            store
                .is_device_active(known)
                .await
                .unwrap_err()
                .is_unavailable()
        );
        assert!(
            store
                .is_device_active(&fresh)
                .await
                .unwrap_err()
                .is_unavailable()
        );
        let used = store
            .use_login_token("a login token", now() + Duration::from_secs(60), now())
            .await;
        assert!(used.unwrap_err().is_unavailable());
        let record = DeviceRecord {
            device_id: fresh,
            user: "bob".into(),
            issued_at: now(),
        };
        let registered = store
            .register_device(&record, DeviceLimit::refuse(10), now())
            .await;
        assert!(registered.unwrap_err().is_unavailable());
        assert!(
            store
                .revoke_device(known, now())
                .await
                .unwrap_err()
                .is_unavailable()
        );
        assert!(store.check_writable().await.unwrap_err().is_unavailable());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_sqlite_file_is_unavailable_within_max_stale() {
    let db = TempDb::new("deleted");
    let store = Store::sqlite(&db.path, config()).await.unwrap();
    store.check_writable().await.unwrap();
    let id = register(&store, "alice").await;
    assert!(store.is_device_active(&id).await.unwrap());
    assert_eq!(store.cached_device(&id), Some(true));

    // `rm` while the store runs: SQLite would go on writing to the unlinked inode.
    remove_db(&db.path);
    let took = until_unavailable(&store, &id, MAX_STALE + Duration::from_secs(2)).await;
    visible(&format!(
        "a deleted SQLite file was answered Unavailable after {took:?} (max_stale {MAX_STALE:?})"
    ));
    assert!(took <= MAX_STALE + Duration::from_millis(150), "{took:?}");
    everything_unavailable(&store, &id).await;
    // Nothing recreated the file behind our back.
    assert!(!db.path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_sqlite_file_is_unavailable_within_max_stale() {
    let db = TempDb::new("replaced");
    let other = TempDb::new("replacement");
    let store = Store::sqlite(&db.path, config()).await.unwrap();
    let id = register(&store, "alice").await;
    assert!(store.is_device_active(&id).await.unwrap());
    // Another valid database (a restored backup, say) renamed over the file.
    drop(Store::sqlite(&other.path, config()).await.unwrap());
    std::fs::rename(&other.path, &db.path).unwrap();
    let took = until_unavailable(&store, &id, MAX_STALE + Duration::from_secs(2)).await;
    visible(&format!(
        "a replaced SQLite file was answered Unavailable after {took:?} (max_stale {MAX_STALE:?})"
    ));
    assert!(took <= MAX_STALE + Duration::from_millis(150), "{took:?}");
    everything_unavailable(&store, &id).await;
    // A store opened on the path now (after a restart) is a store on the new file.
    drop(store);
    for suffix in ["-wal", "-shm"] {
        let mut p = db.path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    let reopened = Store::sqlite(&db.path, config()).await.unwrap();
    reopened.check_writable().await.unwrap();
    assert!(!reopened.is_device_active(&id).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cache_a_deleted_file_is_seen_by_the_next_call() {
    let db = TempDb::new("deleted_nocache");
    let store = Store::sqlite(&db.path, config().cache(false))
        .await
        .unwrap();
    let id = register(&store, "alice").await;
    assert!(store.is_device_active(&id).await.unwrap());
    remove_db(&db.path);
    // At most one more answer within the 5 ms between looks at the path.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(
        store
            .is_device_active(&id)
            .await
            .unwrap_err()
            .is_unavailable()
    );
    everything_unavailable(&store, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_sqlite_file_fails_the_write_check() {
    // On the project's own disk (chattr needs a file system that has the flag).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("ro.sqlite3");
    // Written by another "process" (its own runtime, closed before the file turns
    // read-only), so no descriptor of this one stays open on the file.
    let id = std::thread::spawn({
        let path = path.clone();
        move || {
            let store = fwtoken_store::BlockingStore::sqlite(&path, config()).unwrap();
            let id = DeviceId::generate(&mut fwtoken::os_rng());
            let record = DeviceRecord {
                device_id: id,
                user: "alice".into(),
                issued_at: now(),
            };
            store
                .register_device(&record, DeviceLimit::refuse(10), now())
                .unwrap();
            id
        }
    })
    .join()
    .unwrap();

    let _guard = fwtoken_store::testing::ReadOnlyFile::new(&path).unwrap();
    // It opens, and reads work: without the check a server would start and answer
    // session checks while refusing every login.
    let store = Store::sqlite(&path, config()).await.unwrap();
    assert!(store.is_device_active(&id).await.unwrap());
    let e = store.check_writable().await.unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert!(
        e.to_string().contains("readonly") || e.to_string().contains("cannot be written"),
        "{e}"
    );
    let write = store.revoke_device(&id, now()).await;
    assert!(write.unwrap_err().is_unavailable());
    // The check changed nothing.
    assert!(store.is_device_active(&id).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_check_changes_nothing() {
    let db = TempDb::new("write_check");
    let store = Store::sqlite(&db.path, config()).await.unwrap();
    let before = store.version().await.unwrap();
    for _ in 0..3 {
        store.check_writable().await.unwrap();
    }
    assert_eq!(store.version().await.unwrap(), before);
    let memory = Store::memory(config()).await.unwrap();
    memory.check_writable().await.unwrap();
    let blocking = std::thread::spawn({
        let path = db.path.clone();
        move || {
            let b = fwtoken_store::BlockingStore::sqlite(&path, config()).unwrap();
            b.check_writable()
        }
    })
    .join()
    .unwrap();
    blocking.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_role_that_cannot_write_fails_the_write_check() {
    let test = "postgres_a_role_that_cannot_write_fails_the_write_check";
    let Some(url) = pg_url(test) else { return };
    let Some(db) = Db::postgres(test) else { return };
    let Db::Postgres { schema, .. } = &db else {
        unreachable!()
    };
    // The owner opens (and migrates) the schema, and passes the check.
    let owner = Store::postgres(Db::pg_config(&url, schema), config())
        .await
        .unwrap();
    owner.check_writable().await.unwrap();
    let before = owner.version().await.unwrap();
    let id = register(&owner, "alice").await;

    // A role that may read the tables but not write them.
    let role = unique("fwt_ro").to_lowercase();
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    let db_name: String = admin
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT CREATE ON DATABASE \"{db_name}\" TO {role};
             GRANT USAGE, CREATE ON SCHEMA {schema} TO {role};
             GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role};"
        ))
        .await
        .unwrap();
    let ro_url = url.replacen("postgres@", &format!("{role}@"), 1);
    assert_ne!(ro_url, url, "the test URL names the postgres user");
    let reader = Store::postgres(Db::pg_config(&ro_url, schema), config())
        .await
        .unwrap();
    assert!(reader.is_device_active(&id).await.unwrap());
    let e = reader.check_writable().await.unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert_eq!(owner.version().await.unwrap(), before);
    drop(reader);
    drop(owner);
    db.cleanup().await;
    admin
        .batch_execute(&format!(
            "REVOKE ALL ON DATABASE \"{db_name}\" FROM {role}; DROP ROLE {role};"
        ))
        .await
        .unwrap();
    drop(admin);
    let _ = driver.await;
}

async fn faults_fail_and_count(db: &Db) {
    let faults = FaultInjector::new();
    let store = db.open(config().cache(false).faults(&faults)).await;
    let id = register(&store, "alice").await;
    faults.reset_calls();
    // One check, one backend call.
    assert!(store.is_device_active(&id).await.unwrap());
    assert_eq!(faults.calls(Op::DeviceStatus), 1);
    assert_eq!(faults.request_calls(), 1);

    faults.fail(Fault::Unavailable);
    assert!(
        store
            .is_device_active(&id)
            .await
            .unwrap_err()
            .is_unavailable()
    );
    assert!(store.check_writable().await.unwrap_err().is_unavailable());
    faults.fail(Fault::Corrupt);
    assert!(matches!(
        store.is_device_active(&id).await,
        Err(StoreError::Corrupt(_))
    ));
    faults.heal();
    assert!(store.is_device_active(&id).await.unwrap());

    // A database gone read-only: reads answer, writes fail.
    faults.fail_writes(Fault::Unavailable);
    assert!(store.is_device_active(&id).await.unwrap());
    assert!(
        store
            .revoke_device(&id, now())
            .await
            .unwrap_err()
            .is_unavailable()
    );
    assert!(store.check_writable().await.unwrap_err().is_unavailable());
    faults.heal();
    assert!(store.revoke_device(&id, now()).await.unwrap());
    assert!(!store.is_device_active(&id).await.unwrap());
    // Failed calls are counted too.
    assert_eq!(faults.calls(Op::DeviceStatus), 6);
    assert_eq!(faults.calls(Op::RevokeDevice), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_fail_and_count_on_memory() {
    faults_fail_and_count(&Db::memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_fail_and_count_on_sqlite() {
    faults_fail_and_count(&Db::sqlite("faults")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_faults_fail_and_count() {
    let Some(db) = Db::postgres("postgres_faults_fail_and_count") else {
        return;
    };
    faults_fail_and_count(&db).await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_outage_expires_cached_answers_after_max_stale() {
    let faults = FaultInjector::new();
    let store = Store::memory(config().faults(&faults)).await.unwrap();
    let id = register(&store, "alice").await;
    assert!(store.is_device_active(&id).await.unwrap());
    faults.fail(Fault::Unavailable);
    let took = until_unavailable(&store, &id, MAX_STALE + Duration::from_secs(3)).await;
    assert!(took >= MAX_STALE / 2, "{took:?}");
    assert!(faults.calls(Op::Version) > 0);
    faults.heal();
    let start = Instant::now();
    while store.is_device_active(&id).await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(3));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
