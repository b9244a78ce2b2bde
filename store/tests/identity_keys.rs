//! A store written by the previous release (schema 1, identity keys of rules version 1,
//! before canonical equivalence came first) keeps working: opening it applies the new
//! migrations and recomputes every stored key, once, so the NFC and NFD spellings of one
//! name share one cap and one "revoke all".
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use fwtoken::time::OffsetDateTime;
use fwtoken::{DeviceId, DeviceRecord, SiteDomains};
use fwtoken_store::{DeviceLimit, Store, StoreConfig, StoreError};

use common::{Db, TempDb};

const NFC: &str = "\u{00D6}mer \u{0130}nan";
const NFD: &str = "O\u{0308}mer I\u{0307}nan";
/// The keys release 0.1 stored for them: it mapped `İ` before decomposing, so the NFD
/// spelling kept its dot above and was another user.
const OLD_NFC_KEY: &str = "\u{00F6}mer inan";
const OLD_NFD_KEY: &str = "\u{00F6}mer i\u{0307}nan";

/// Release 0.1's schema (migration 1 only), exactly as it created it.
const SQLITE_SCHEMA_1: &str = include_str!("../migrations/sqlite/0001_init.sql");
const POSTGRES_SCHEMA_1: &str = include_str!("../migrations/postgres/0001_init.sql");

fn t(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
}

fn device(user: &str, n: u8) -> DeviceRecord {
    DeviceRecord {
        device_id: DeviceId::from_bytes([n; 16]),
        user: user.into(),
        issued_at: t(i64::from(n)),
    }
}

fn config() -> StoreConfig {
    StoreConfig::new()
        .domains(SiteDomains::new().with("corp.example"))
        .purge_every(None)
}

/// The devices release 0.1 stored: two per spelling, with the keys it computed, and one
/// name whose key does not change.
fn old_rows() -> [(u8, &'static str, &'static str); 5] {
    [
        (1, NFC, OLD_NFC_KEY),
        (2, NFC, OLD_NFC_KEY),
        (3, NFD, OLD_NFD_KEY),
        (4, NFD, OLD_NFD_KEY),
        (5, "alice@corp.example", "alice"),
    ]
}

async fn check_rekeyed(s: &Store) {
    // One user now: four devices, one cap, one revoke_user, whichever spelling asks.
    assert_eq!(s.devices_of(NFD).await.unwrap().len(), 4);
    assert_eq!(s.devices_of(NFC).await.unwrap().len(), 4);
    assert!(matches!(
        s.register_device(&device(NFC, 9), DeviceLimit::refuse(4), t(9))
            .await,
        Err(StoreError::DeviceLimit { max: 4 })
    ));
    assert_eq!(s.revoke_user_devices(NFD, t(10)).await.unwrap(), 4);
    for n in 1..=4 {
        assert!(!s.is_device_active(&device("x", n).device_id).await.unwrap());
    }
    // Keys that did not change are kept (the site's domain still applies).
    assert_eq!(s.devices_of("alice").await.unwrap().len(), 1);
    assert!(s.is_device_active(&device("x", 5).device_id).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_of_the_previous_release_is_rekeyed_on_open() {
    let db = TempDb::new("rekey");
    {
        let c = rusqlite::Connection::open(&db.path).unwrap();
        c.execute_batch(
            "CREATE TABLE fwtoken_migrations (
                 version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
             INSERT INTO fwtoken_migrations VALUES (1, 1800000000);",
        )
        .unwrap();
        c.execute_batch(SQLITE_SCHEMA_1).unwrap();
        for (n, user, key) in old_rows() {
            c.execute(
                "INSERT INTO fwtoken_devices (device_id, user_key, user_name, issued_at, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![&[n; 16][..], key, user, 1_800_000_000 + i64::from(n), n],
            )
            .unwrap();
        }
    }
    let s = Store::sqlite(&db.path, config()).await.unwrap();
    check_rekeyed(&s).await;
    // Recorded: a second open does not rekey again (and a later build could tell).
    let c = rusqlite::Connection::open(&db.path).unwrap();
    let v: i64 = c
        .query_row("SELECT key_version FROM fwtoken_identity", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, i64::from(fwtoken::IDENTITY_KEY_VERSION));
    // Keys written by a newer build are not rewritten: the store refuses to open.
    c.execute(
        "UPDATE fwtoken_identity SET key_version = key_version + 1",
        [],
    )
    .unwrap();
    drop(s);
    assert!(matches!(
        Store::sqlite(&db.path, config()).await,
        Err(StoreError::Corrupt(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_of_the_previous_release_is_rekeyed_on_open() {
    let Some(db) = Db::postgres("postgres_store_of_the_previous_release_is_rekeyed_on_open") else {
        return;
    };
    let Db::Postgres { url, schema } = &db else {
        unreachable!()
    };
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema};
             CREATE TABLE fwtoken_migrations (
                 version bigint PRIMARY KEY, applied_at bigint NOT NULL);
             INSERT INTO fwtoken_migrations VALUES (1, 1800000000);"
        ))
        .await
        .unwrap();
    client.batch_execute(POSTGRES_SCHEMA_1).await.unwrap();
    for (n, user, key) in old_rows() {
        client
            .execute(
                "INSERT INTO fwtoken_devices (device_id, user_key, user_name, issued_at)
                 VALUES ($1, $2, $3, $4)",
                &[&vec![n; 16], &key, &user, &(1_800_000_000 + i64::from(n))],
            )
            .await
            .unwrap();
    }
    // Two servers open it at once: the migration lock lets one rekey.
    let (a, b) = tokio::join!(db.open(config()), db.open(config()));
    check_rekeyed(&a).await;
    assert_eq!(b.devices_of(NFC).await.unwrap().len(), 4);
    let v: i32 = client
        .query_one("SELECT key_version FROM fwtoken_identity", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v as u32, fwtoken::IDENTITY_KEY_VERSION);
    drop(client);
    let _ = driver.await;
    db.cleanup().await;
}
