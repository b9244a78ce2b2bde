//! A store written by the previous release (identity keys of rules version 1, before
//! canonical equivalence came first) keeps working: opening it recomputes every stored key,
//! once, so the NFC and NFD spellings of one name share one cap and one "revoke all".
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

/// What the SQL of `make_old` does, in order: the schema-1 state of the previous release.
const TO_SCHEMA_1: [&str; 2] = [
    "DROP TABLE fwtoken_identity",
    "DELETE FROM fwtoken_migrations WHERE version >= 2",
];

/// Registers two devices per spelling with the old keys written in, as release 0.1 did.
async fn populate(s: &Store) {
    for (n, user) in [(1, NFC), (2, NFC), (3, NFD), (4, NFD)] {
        s.register_device(&device(user, n), DeviceLimit::refuse(10), t(0))
            .await
            .unwrap();
    }
    s.register_device(
        &device("alice@corp.example", 5),
        DeviceLimit::refuse(10),
        t(0),
    )
    .await
    .unwrap();
}

/// The old database answers as release 0.1 did: two users of two devices each.
fn old_keys(key_of: impl Fn(u8) -> String) {
    assert_eq!(key_of(1), OLD_NFC_KEY);
    assert_eq!(key_of(3), OLD_NFD_KEY);
}

async fn check_rekeyed(s: &Store) {
    // One user now: four devices, one cap, one revoke_user, whichever spelling asks.
    assert_eq!(s.devices_of(NFD).await.unwrap().len(), 4);
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_of_the_previous_release_is_rekeyed_on_open() {
    let db = TempDb::new("rekey");
    {
        let s = Store::sqlite(&db.path, config()).await.unwrap();
        populate(&s).await;
    }
    {
        let c = rusqlite::Connection::open(&db.path).unwrap();
        c.execute(
            "UPDATE fwtoken_devices SET user_key = ?1 WHERE user_name = ?2",
            rusqlite::params![OLD_NFC_KEY, NFC],
        )
        .unwrap();
        c.execute(
            "UPDATE fwtoken_devices SET user_key = ?1 WHERE user_name = ?2",
            rusqlite::params![OLD_NFD_KEY, NFD],
        )
        .unwrap();
        for sql in TO_SCHEMA_1 {
            c.execute(sql, []).unwrap();
        }
        old_keys(|n| {
            c.query_row(
                "SELECT user_key FROM fwtoken_devices WHERE device_id = ?1",
                [&[n; 16][..]],
                |r| r.get(0),
            )
            .unwrap()
        });
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
    {
        let s = db.open(config()).await;
        populate(&s).await;
    }
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    client
        .batch_execute(&format!("SET search_path TO {schema}"))
        .await
        .unwrap();
    for (key, user) in [(OLD_NFC_KEY, NFC), (OLD_NFD_KEY, NFD)] {
        client
            .execute(
                "UPDATE fwtoken_devices SET user_key = $1 WHERE user_name = $2",
                &[&key, &user],
            )
            .await
            .unwrap();
    }
    for sql in TO_SCHEMA_1 {
        client.batch_execute(sql).await.unwrap();
    }
    let mut keys = Vec::new();
    for n in [1u8, 3] {
        let row = client
            .query_one(
                "SELECT user_key FROM fwtoken_devices WHERE device_id = $1",
                &[&vec![n; 16]],
            )
            .await
            .unwrap();
        keys.push((n, row.get::<_, String>(0)));
    }
    old_keys(|n| keys.iter().find(|k| k.0 == n).unwrap().1.clone());
    // Two servers open it at once: the migration lock lets one rekey.
    let (a, b) = tokio::join!(db.open(config()), db.open(config()));
    check_rekeyed(&a).await;
    assert_eq!(b.devices_of(NFC).await.unwrap().len(), 4);
    drop(client);
    let _ = driver.await;
    db.cleanup().await;
}
