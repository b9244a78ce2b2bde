//! Conformance cases for the change log and the bounded cache: a revocation on one store
//! evicts exactly that id from another's cache (the rest keep answering without the
//! database), revoke-user, revoke-app and evictions at the cap log every id they revoke,
//! a purged log or a version that went backwards clears the cache, the log is purged by
//! age and count with several purgers, the capacity bound holds.

use std::time::Duration;

use fwtoken::{DeviceId, DeviceRecord};
use fwtoken_store::{DeviceLimit, Registered, Store, StoreConfig, StoreStats};

use crate::cases::{api, config, device, t};
use crate::common::Db;

/// A store that learns of changes only when told (`refresh`) or by its own writes: no
/// `LISTEN`, a poll far away. What it caches stays until the test says so.
fn lagging() -> StoreConfig {
    config()
        .listen(false)
        .poll_interval(Duration::from_secs(3600))
}

async fn register(s: &Store, records: &[DeviceRecord]) {
    for r in records {
        let got = s
            .register_device(r, DeviceLimit::refuse(100), r.issued_at)
            .await
            .unwrap();
        assert!(matches!(got, Registered::New { .. }), "{got:?}");
    }
}

/// Checks every id on `s`; each must be active.
async fn all_active(s: &Store, ids: &[DeviceId]) {
    for id in ids {
        assert!(s.is_device_active(id).await.unwrap(), "{id}");
    }
}

fn delta(after: &StoreStats, before: &StoreStats) -> (u64, u64) {
    (after.hits - before.hits, after.misses - before.misses)
}

pub async fn revocation_evicts_exactly_that_id_elsewhere(db: &Db) {
    let a = db.open(config()).await;
    let b = db
        .open(config().poll_interval(Duration::from_millis(20)))
        .await;
    let recs: Vec<_> = (0..20).map(|i| device(&format!("ev{i}"), i)).collect();
    register(&a, &recs).await;
    let ids: Vec<DeviceId> = recs.iter().map(|r| r.device_id).collect();
    all_active(&b, &ids).await;
    let s0 = b.stats();
    assert_eq!(s0.misses, 20);
    assert!(a.revoke_device(&ids[3], t(100)).await.unwrap());
    // b learns of it by itself (notification or poll): the answer leaves its cache.
    let start = std::time::Instant::now();
    while b.cached_device(&ids[3]) == Some(true) {
        assert!(start.elapsed() < Duration::from_secs(3), "never evicted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let s1 = b.stats();
    assert_eq!(s1.invalidated - s0.invalidated, 1);
    assert_eq!(s1.full_clears, 0);
    assert!(s1.known_version > s0.known_version);
    // Every other answer is still the cache's: no database read.
    let others: Vec<_> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3)
        .map(|(_, id)| *id)
        .collect();
    all_active(&b, &others).await;
    let s2 = b.stats();
    assert_eq!(delta(&s2, &s1), (19, 0));
    // The revoked one is read once, then refused from the cache.
    assert!(!b.is_device_active(&ids[3]).await.unwrap());
    assert!(!b.is_device_active(&ids[3]).await.unwrap());
    assert_eq!(delta(&b.stats(), &s2), (1, 1));
}

pub async fn revoke_user_and_app_invalidate_every_id(db: &Db) {
    let a = db.open(config()).await;
    let b = db.open(lagging()).await;
    let uma: Vec<_> = (0..3).map(|i| device("uma", i)).collect();
    let vic: Vec<_> = (0..2).map(|i| device("vic", i)).collect();
    register(&a, &uma).await;
    register(&a, &vic).await;
    let app = crate::common::unique("app");
    let hit = [
        api("uma", &app, 0, 3600),
        api("vic", &app, 0, 3600),
        api("wes", &app, 0, 3600),
    ];
    let kept = [api("uma", "other", 0, 3600), api("wes", "other", 0, 3600)];
    for r in hit.iter().chain(&kept) {
        assert!(a.register_api_token(r, t(0)).await.unwrap());
    }
    let devices: Vec<_> = uma.iter().chain(&vic).map(|r| r.device_id).collect();
    all_active(&b, &devices).await;
    for r in hit.iter().chain(&kept) {
        assert!(b.is_api_token_active(&r.id, t(1)).await.unwrap());
    }
    let s0 = b.stats();
    assert_eq!(a.revoke_user_devices("UMA", t(10)).await.unwrap(), 3);
    assert_eq!(a.revoke_app_api_tokens(&app, t(10)).await.unwrap(), 3);
    // The writer refuses them at once, from its own cache.
    for r in &uma {
        assert_eq!(a.cached_device(&r.device_id), Some(false));
    }
    for r in &hit {
        assert_eq!(a.cached_api_token(&r.id, t(11)), Some(false));
    }
    b.refresh().await.unwrap();
    let s1 = b.stats();
    assert_eq!(
        (
            s1.changes_read - s0.changes_read,
            s1.invalidated - s0.invalidated
        ),
        (6, 6)
    );
    assert_eq!(s1.full_clears, 0);
    for r in &uma {
        assert_eq!(b.cached_device(&r.device_id), None, "evicted");
        assert!(!b.is_device_active(&r.device_id).await.unwrap());
    }
    for r in &hit {
        assert_eq!(b.cached_api_token(&r.id, t(11)), None, "evicted");
        assert!(!b.is_api_token_active(&r.id, t(11)).await.unwrap());
    }
    let s2 = b.stats();
    for r in &vic {
        assert!(b.is_device_active(&r.device_id).await.unwrap());
    }
    for r in &kept {
        assert!(b.is_api_token_active(&r.id, t(11)).await.unwrap());
    }
    assert_eq!(
        delta(&b.stats(), &s2),
        (4, 0),
        "the others answer from the cache"
    );
    // Revoking a user's API tokens logs each of them too.
    assert!(b.is_api_token_active(&kept[1].id, t(12)).await.unwrap());
    assert_eq!(a.revoke_user_api_tokens("wes", t(12)).await.unwrap(), 1);
    b.refresh().await.unwrap();
    assert_eq!(b.cached_api_token(&kept[1].id, t(13)), None);
    assert_eq!(b.stats().invalidated - s1.invalidated, 1);
}

pub async fn eviction_at_the_cap_is_logged(db: &Db) {
    let a = db.open(config()).await;
    let b = db.open(lagging()).await;
    let (old, newer) = (device("xia", 0), device("xia", 5));
    register(&a, &[old.clone(), newer.clone()]).await;
    all_active(&b, &[old.device_id, newer.device_id]).await;
    let third = device("xia", 10);
    let got = a
        .register_device(&third, DeviceLimit::evict(2), t(10))
        .await
        .unwrap();
    assert_eq!(
        got,
        Registered::New {
            evicted: vec![old.device_id]
        }
    );
    b.refresh().await.unwrap();
    assert_eq!(b.cached_device(&old.device_id), None, "evicted by the log");
    assert_eq!(b.cached_device(&newer.device_id), Some(true));
    assert!(!b.is_device_active(&old.device_id).await.unwrap());
    assert_eq!(b.stats().invalidated, 1);
}

pub async fn purged_log_clears_the_cache(db: &Db) {
    let a = db
        .open(config().change_log_retention(Duration::from_secs(3600), 0))
        .await;
    let b = db.open(lagging()).await;
    let (x, y) = (device("yves", 0), device("yves", 1));
    register(&a, &[x.clone(), y.clone()]).await;
    all_active(&b, &[x.device_id, y.device_id]).await;
    assert!(a.revoke_device(&x.device_id, t(2)).await.unwrap());
    // Keep no row: the one above b's version is gone before b reads it.
    assert_eq!(a.purge_expired(t(3)).await.unwrap(), 1);
    b.refresh().await.unwrap();
    let s = b.stats();
    assert_eq!((s.full_clears, s.entries, s.invalidated), (1, 0, 0));
    assert_eq!(s.known_version, a.version().await.unwrap());
    assert!(!b.is_device_active(&x.device_id).await.unwrap());
    assert!(b.is_device_active(&y.device_id).await.unwrap());
    // In step again: the next change is applied id by id.
    assert!(a.revoke_device(&y.device_id, t(4)).await.unwrap());
    b.refresh().await.unwrap();
    let s = b.stats();
    assert_eq!((s.full_clears, s.invalidated), (1, 1));
}

pub async fn change_log_purged_by_count_with_several_purgers(db: &Db) {
    let keep = config()
        .change_log_retention(Duration::from_secs(3600), 10)
        .purge_batch(3);
    let purgers = [
        db.open(keep.clone()).await,
        db.open(keep.clone()).await,
        db.open(keep).await,
    ];
    let (at19, at20) = (db.open(lagging()).await, db.open(lagging()).await);
    let recs: Vec<_> = (0..30).map(|i| device(&format!("pc{i}"), i)).collect();
    register(&purgers[0], &recs).await;
    let v0 = purgers[0].version().await.unwrap();
    for (i, r) in recs.iter().enumerate() {
        assert!(
            purgers[i % 3]
                .revoke_device(&r.device_id, t(100))
                .await
                .unwrap()
        );
        if i == 18 {
            at19.refresh().await.unwrap();
        }
        if i == 19 {
            at20.refresh().await.unwrap();
        }
    }
    assert_eq!(at20.known_version(), v0 + 20);
    let read_before = at20.stats().changes_read;
    let mut tasks = Vec::new();
    for p in &purgers {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            p.purge_expired(t(200)).await.unwrap()
        }));
    }
    let mut deleted = 0;
    for task in tasks {
        deleted += task.await.unwrap();
    }
    // The newest 10 rows stay (versions v0+21..=v0+30); each older row deleted once.
    assert_eq!(deleted, 20);
    assert_eq!(purgers[1].purge_expired(t(200)).await.unwrap(), 0);
    // A store standing exactly at the purge mark still applies the rest one by one...
    at20.refresh().await.unwrap();
    let s = at20.stats();
    assert_eq!((s.full_clears, s.changes_read - read_before), (0, 10));
    // ...one below it can't know what it missed: it drops its cache.
    at19.refresh().await.unwrap();
    assert_eq!(at19.stats().full_clears, 1);
}

pub async fn change_log_purged_by_age(db: &Db) {
    let a = db
        .open(config().change_log_retention(Duration::from_secs(3600), 1_000_000))
        .await;
    let recs: Vec<_> = (0..4).map(|i| device(&format!("pa{i}"), i)).collect();
    register(&a, &recs).await;
    for r in &recs[..3] {
        assert!(a.revoke_device(&r.device_id, t(1000)).await.unwrap());
    }
    assert!(a.revoke_device(&recs[3].device_id, t(5000)).await.unwrap());
    assert_eq!(
        a.purge_expired(t(1000 + 1800)).await.unwrap(),
        0,
        "younger than an hour"
    );
    assert_eq!(a.purge_expired(t(1000 + 3601)).await.unwrap(), 3);
    assert_eq!(a.purge_expired(t(5000 + 3601)).await.unwrap(), 1);
}

pub async fn capacity_bound_holds(db: &Db) {
    let s = db.open(config().cache_capacity(64)).await;
    let recs: Vec<_> = (0..300).map(|i| device(&format!("cap{i}"), i)).collect();
    register(&s, &recs).await;
    for r in recs.iter().step_by(3) {
        s.revoke_device(&r.device_id, t(1000)).await.unwrap();
    }
    for round in 0..2 {
        for (i, r) in recs.iter().enumerate() {
            let want = i % 3 != 0;
            assert_eq!(
                s.is_device_active(&r.device_id).await.unwrap(),
                want,
                "round {round}"
            );
        }
        let st = s.stats();
        assert!(st.capacity <= 64 && st.capacity >= 32, "{st:?}");
        assert!(st.entries <= st.capacity, "{st:?}");
    }
    let st = s.stats();
    assert!(st.evictions >= 300 - 64, "{st:?}");
    assert_eq!(st.hits + st.misses, 600);
    assert!(
        st.misses > 300,
        "300 answers can't stay in 64 places: {st:?}"
    );
    assert!(st.memory_bytes > 0);
}

pub async fn stats_count_checks(db: &Db) {
    let s = db.open(config()).await;
    let r = device("sid", 0);
    register(&s, std::slice::from_ref(&r)).await;
    assert!(s.is_device_active(&r.device_id).await.unwrap());
    assert!(s.is_device_active(&r.device_id).await.unwrap());
    assert_eq!(
        s.cached_device(&r.device_id),
        Some(true),
        "a peek is not counted"
    );
    let st = s.stats();
    assert_eq!((st.hits, st.misses, st.entries), (1, 1, 1));
    assert!(st.cache && st.fresh);
    assert_eq!(st.capacity, fwtoken_store::DEFAULT_CACHE_CAPACITY as u64);
    assert!((st.hit_rate() - 0.5).abs() < 1e-9);
    // Without a cache every check is a miss.
    let off = db.open(config().cache(false)).await;
    assert!(off.is_device_active(&r.device_id).await.unwrap());
    let st = off.stats();
    assert_eq!((st.hits, st.misses, st.entries, st.cache), (0, 1, 0, false));
}

// ----------------------------------------------------------------------------------------
// Reaching into the database (SQLite and PostgreSQL only).

/// A logical backup of every table, kept in the database.
const BACKUP: &str = "
    CREATE TABLE bk_version AS SELECT * FROM fwtoken_version;
    CREATE TABLE bk_devices AS SELECT * FROM fwtoken_devices;
    CREATE TABLE bk_api AS SELECT * FROM fwtoken_api_tokens;
    CREATE TABLE bk_changes AS SELECT * FROM fwtoken_changes";

/// Restores it, as restoring a backup does.
const RESTORE: &str = "
    DELETE FROM fwtoken_version; INSERT INTO fwtoken_version SELECT * FROM bk_version;
    DELETE FROM fwtoken_devices; INSERT INTO fwtoken_devices SELECT * FROM bk_devices;
    DELETE FROM fwtoken_api_tokens; INSERT INTO fwtoken_api_tokens SELECT * FROM bk_api;
    DELETE FROM fwtoken_changes; INSERT INTO fwtoken_changes SELECT * FROM bk_changes";

pub async fn restored_backup_version_backwards_clears(db: &Db) {
    let a = db.open(config()).await;
    let b = db.open(lagging()).await;
    let (x, y) = (device("rob", 0), device("rob", 1));
    register(&a, &[x.clone(), y.clone()]).await;
    all_active(&b, &[x.device_id, y.device_id]).await;
    db.sql(BACKUP).await;
    assert!(a.revoke_device(&x.device_id, t(5)).await.unwrap());
    b.refresh().await.unwrap();
    assert_eq!(b.stats().invalidated, 1);
    assert!(!b.is_device_active(&x.device_id).await.unwrap());
    db.sql(RESTORE).await;
    b.refresh().await.unwrap();
    let s = b.stats();
    assert_eq!((s.full_clears, s.entries), (1, 0), "{s:?}");
    assert_eq!(s.known_version, a.version().await.unwrap());
    // What the database says now is what b answers (the backup predates the revocation).
    assert!(b.is_device_active(&y.device_id).await.unwrap());
}

pub async fn restored_backup_that_moved_on_clears(db: &Db) {
    let a = db.open(config()).await;
    let b = db.open(lagging()).await;
    let (x, y, z) = (device("ray", 0), device("ray", 1), device("ray", 2));
    register(&a, &[x.clone(), y.clone(), z.clone()]).await;
    all_active(&b, &[x.device_id, y.device_id, z.device_id]).await;
    db.sql(BACKUP).await;
    assert!(a.revoke_device(&x.device_id, t(5)).await.unwrap());
    b.refresh().await.unwrap();
    let at = b.known_version();
    db.sql(RESTORE).await;
    // The restored database reaches b's version number again, by another revocation.
    assert!(a.revoke_device(&y.device_id, t(6)).await.unwrap());
    assert_eq!(a.version().await.unwrap(), at);
    b.refresh().await.unwrap();
    assert_eq!(b.stats().full_clears, 1, "same number, another history");
    assert!(!b.is_device_active(&y.device_id).await.unwrap());
    assert!(b.is_device_active(&z.device_id).await.unwrap());
}

pub async fn version_bumped_without_log_clears(db: &Db) {
    let a = db.open(config()).await;
    let b = db.open(lagging()).await;
    let x = device("old", 0);
    register(&a, std::slice::from_ref(&x)).await;
    all_active(&b, &[x.device_id]).await;
    // What fwtoken-store before the change log did: revoke and bump, log nothing.
    db.sql(&format!(
        "UPDATE fwtoken_devices SET revoked_at = 1 WHERE device_id = {};
         UPDATE fwtoken_version SET version = version + 1",
        db.blob(&x.device_id.to_bytes())
    ))
    .await;
    b.refresh().await.unwrap();
    assert_eq!(b.stats().full_clears, 1);
    assert!(!b.is_device_active(&x.device_id).await.unwrap());
}
