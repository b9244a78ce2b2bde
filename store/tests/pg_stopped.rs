//! Fail closed with PostgreSQL really stopped mid-test (`pg_ctl stop -m immediate`, as a
//! crash would), then started again: checks answer the storage error, never "active" and
//! never "revoked" for what the node does not know; once the server is back they recover
//! by themselves. The test runs its own throwaway cluster (the shared test database can't
//! be stopped under the other tests), so it needs PostgreSQL's `initdb` and `pg_ctl`; like
//! every PostgreSQL test it runs only when `FWTOKEN_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::{pg_url, visible};
use fwtoken::time::OffsetDateTime;
use fwtoken::{DeviceId, DeviceRecord};
use fwtoken_store::{DeviceLimit, PostgresConfig, Store, StoreConfig, StoreError};

fn record(n: u8, user: &str) -> DeviceRecord {
    DeviceRecord {
        device_id: DeviceId::from_bytes([n; 16]),
        user: user.into(),
        issued_at: OffsetDateTime::now_utc().replace_nanosecond(0).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_postgres_stopped_then_started_again() {
    const TEST: &str = "fail_closed_postgres_stopped_then_started_again";
    if pg_url(TEST).is_none() {
        return;
    }
    let Some(cluster) = Cluster::create() else {
        visible(&format!(
            "SKIPPED {TEST}: postgres test could not start a throwaway cluster (initdb/pg_ctl)"
        ));
        return;
    };
    let max_stale = Duration::from_secs(1);
    let config = StoreConfig::new()
        .poll_interval(Duration::from_millis(100))
        .max_stale(max_stale);
    let store = Store::postgres(PostgresConfig::new(&cluster.url()).unwrap(), config)
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let (active, revoked, never) = (record(1, "alice"), record(2, "alice"), record(3, "bob"));
    for r in [&active, &revoked] {
        store
            .register_device(r, DeviceLimit::refuse(5), now)
            .await
            .unwrap();
    }
    assert!(store.revoke_device(&revoked.device_id, now).await.unwrap());
    assert!(store.is_device_active(&active.device_id).await.unwrap());

    assert!(cluster.stop(), "pg_ctl stop");
    let stopped_at = Instant::now();
    // What the node has not seen: the storage error, at once.
    let got = store.is_device_active(&never.device_id).await;
    assert!(matches!(got, Err(StoreError::Unavailable(_))), "{got:?}");
    let got = store
        .register_device(&never, DeviceLimit::refuse(5), now)
        .await;
    assert!(matches!(got, Err(StoreError::Unavailable(_))), "{got:?}");
    // A cached "active" counts at most max_stale (plus a poll), then only the error.
    let distrusted_after = loop {
        match store.is_device_active(&active.device_id).await {
            Ok(true) => {}
            Err(StoreError::Unavailable(_)) => break stopped_at.elapsed(),
            other => panic!("while PostgreSQL is stopped: {other:?}"),
        }
        assert!(stopped_at.elapsed() < max_stale + Duration::from_secs(3));
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // A revocation the node knows of stays a refusal; nothing reads as active.
    assert!(!store.is_device_active(&revoked.device_id).await.unwrap());

    assert!(cluster.start(), "pg_ctl start");
    let started_at = Instant::now();
    let recovered = loop {
        if let Ok(true) = store.is_device_active(&active.device_id).await {
            break started_at.elapsed();
        }
        assert!(
            started_at.elapsed() < Duration::from_secs(15),
            "no recovery"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The state survived the crash-like stop, and writes work again.
    assert!(!store.is_device_active(&revoked.device_id).await.unwrap());
    assert!(!store.is_device_active(&never.device_id).await.unwrap());
    store
        .register_device(&never, DeviceLimit::refuse(5), OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(store.is_device_active(&never.device_id).await.unwrap());
    visible(&format!(
        "FIGURE {TEST}: cached active trusted {:.0} ms after pg_ctl stop -m immediate (bound {} ms + a poll); recovered {:.0} ms after pg_ctl start",
        distrusted_after.as_secs_f64() * 1e3,
        max_stale.as_millis(),
        recovered.as_secs_f64() * 1e3
    ));
}
