//! Conformance cases for `import_devices`: batches of one transaction each, every record
//! as `register_device` would take it in order (the cap checked per user as the import
//! fills it), safe to run again, evictions logged, the cap held against registrations
//! running at the same time.

use fwtoken::DeviceRecord;
use fwtoken_store::{DeviceLimit, IMPORT_BATCH, ImportRefusal, Imported, Registered, StoreError};

use crate::cases::{config, device, t};
use crate::common::Db;

pub async fn import_registers_in_batches(db: &Db) {
    let s = db.open(config()).await;
    let n = 2 * IMPORT_BATCH + 500;
    let recs: Vec<DeviceRecord> = (0..n)
        .map(|i| device(&format!("imp{}", i % 100), i as i64))
        .collect();
    let got = s
        .import_devices(&recs, DeviceLimit::refuse(50), t(0))
        .await
        .unwrap();
    assert_eq!((got.new, got.already_registered, got.batches), (n, 0, 3));
    assert!(got.refused.is_empty() && got.evicted.is_empty());
    let other = db.open(config()).await;
    for r in recs.iter().step_by(97) {
        assert!(other.is_device_active(&r.device_id).await.unwrap());
    }
    let listed = other.devices_of("IMP7").await.unwrap();
    assert_eq!(listed.len(), n / 100);
    // In the order imported, as single registrations would list them.
    let want: Vec<_> = recs
        .iter()
        .filter(|r| r.user == "imp7")
        .map(|r| r.device_id)
        .collect();
    assert_eq!(listed.iter().map(|d| d.device_id).collect::<Vec<_>>(), want);
    assert_eq!(
        s.version().await.unwrap(),
        0,
        "registrations make nothing inactive"
    );
}

pub async fn import_checks_the_cap_per_user(db: &Db) {
    let s = db.open(config()).await;
    let before: Vec<_> = (0..3).map(|i| device("cal", i)).collect();
    for r in &before {
        s.register_device(r, DeviceLimit::refuse(5), t(0))
            .await
            .unwrap();
    }
    // Three spellings of cal (2 slots left), seven of dee (5 slots).
    let recs: Vec<DeviceRecord> = ["CORP\\Cal", "cal@corp.example", "CAL", "cal"]
        .iter()
        .enumerate()
        .map(|(i, u)| device(u, 10 + i as i64))
        .chain((0..7).map(|i| device("dee", 20 + i)))
        .collect();
    let got = s
        .import_devices(&recs, DeviceLimit::refuse(5), t(30))
        .await
        .unwrap();
    assert_eq!(got.new, 2 + 5);
    let refused: Vec<_> = got.refused.iter().map(|(id, _)| *id).collect();
    let want: Vec<_> = [&recs[2], &recs[3], &recs[9], &recs[10]]
        .iter()
        .map(|r| r.device_id)
        .collect();
    assert_eq!(refused, want, "the last ones of each user, in input order");
    assert!(
        got.refused
            .iter()
            .all(|(_, why)| *why == ImportRefusal::DeviceLimit)
    );
    for r in &recs[..2] {
        assert!(s.is_device_active(&r.device_id).await.unwrap());
    }
    for id in &refused {
        assert!(!s.is_device_active(id).await.unwrap());
    }
    assert_eq!(
        s.devices_of("cal").await.unwrap().len(),
        5,
        "refused records leave no row"
    );
}

pub async fn import_again_is_safe(db: &Db) {
    let s = db.open(config()).await;
    let recs: Vec<_> = (0..10).map(|i| device("eve", i)).collect();
    let first = s
        .import_devices(&recs, DeviceLimit::refuse(10), t(0))
        .await
        .unwrap();
    assert_eq!(first.new, 10);
    s.revoke_device(&recs[4].device_id, t(1)).await.unwrap();
    let mut again = recs.clone();
    // Another record with a known id, the same record twice, a bad name, a new one.
    let mut conflicting = recs[0].clone();
    conflicting.user = "mallory".into();
    let twice = device("fay", 5);
    let bad = device("a;b", 6);
    let fresh = device("eve", 11);
    again.extend([
        conflicting,
        twice.clone(),
        twice.clone(),
        bad.clone(),
        fresh.clone(),
    ]);
    let got = s
        .import_devices(&again, DeviceLimit::refuse(10), t(2))
        .await
        .unwrap();
    assert_eq!(got.new, 2, "fay's and the fresh one");
    assert_eq!(
        got.already_registered,
        9 + 1,
        "eve's nine active ones, fay's second"
    );
    let mut refused = got.refused.clone();
    refused.sort_by_key(|(id, _)| id.to_bytes());
    let mut want = vec![
        (recs[4].device_id, ImportRefusal::Revoked),
        (recs[0].device_id, ImportRefusal::Conflict),
        (bad.device_id, ImportRefusal::InvalidUserName),
    ];
    want.sort_by_key(|(id, _)| id.to_bytes());
    assert_eq!(refused, want);
    assert!(s.is_device_active(&fresh.device_id).await.unwrap());
    assert!(
        !s.is_device_active(&recs[4].device_id).await.unwrap(),
        "never revived"
    );
    assert!(s.devices_of("mallory").await.unwrap().is_empty());
    assert_eq!(
        s.import_devices(&[], DeviceLimit::refuse(1), t(3))
            .await
            .unwrap(),
        Imported::default()
    );
}

pub async fn import_evictions_are_logged(db: &Db) {
    let a = db.open(config()).await;
    let b = db
        .open(
            config()
                .listen(false)
                .poll_interval(std::time::Duration::from_secs(3600)),
        )
        .await;
    let (seen, unseen) = (device("gus", 0), device("gus", 1));
    for r in [&seen, &unseen] {
        a.register_device(r, DeviceLimit::refuse(5), t(1))
            .await
            .unwrap();
    }
    assert!(a.touch_device(&seen.device_id, t(100)).await.unwrap());
    for r in [&seen, &unseen] {
        assert!(b.is_device_active(&r.device_id).await.unwrap());
    }
    let recs = [device("gus", 200), device("gus", 201)];
    let got = a
        .import_devices(&recs, DeviceLimit::evict(3), t(300))
        .await
        .unwrap();
    assert_eq!(got.new, 2);
    // The least recently seen goes first: the one never seen, then the older import.
    assert_eq!(got.evicted, vec![unseen.device_id]);
    b.refresh().await.unwrap();
    let st = b.stats();
    assert_eq!((st.invalidated, st.full_clears), (1, 0));
    assert_eq!(b.cached_device(&unseen.device_id), None);
    assert!(!b.is_device_active(&unseen.device_id).await.unwrap());
    assert!(b.is_device_active(&seen.device_id).await.unwrap());
    let active = a
        .devices_of("gus")
        .await
        .unwrap()
        .iter()
        .filter(|d| d.is_active())
        .count();
    assert_eq!(active, 3);
    assert!(matches!(
        a.register_device(&unseen, DeviceLimit::evict(3), t(400))
            .await,
        Err(StoreError::Revoked)
    ));
}

pub async fn import_and_registrations_at_once_keep_the_cap(db: &Db) {
    let (a, b) = (db.open(config()).await, db.open(config()).await);
    let imported: Vec<_> = (0..40).map(|i| device("hal", i)).collect();
    let single: Vec<_> = (0..40).map(|i| device("hal", 100 + i)).collect();
    let import = {
        let a = a.clone();
        tokio::spawn(async move {
            a.import_devices(&imported, DeviceLimit::refuse(10), t(500))
                .await
                .unwrap()
        })
    };
    let mut singles = 0;
    for r in &single {
        match b.register_device(r, DeviceLimit::refuse(10), t(500)).await {
            Ok(Registered::New { .. }) => singles += 1,
            Err(StoreError::DeviceLimit { max: 10 }) => {}
            other => panic!("{other:?}"),
        }
    }
    let got = import.await.unwrap();
    assert_eq!(
        got.new + singles,
        10,
        "import {} + single {singles}",
        got.new
    );
    let active = b
        .devices_of("hal")
        .await
        .unwrap()
        .iter()
        .filter(|d| d.is_active())
        .count();
    assert_eq!(active, 10);
}
