//! One conformance suite, the same cases on memory, SQLite and PostgreSQL (the last ones
//! have `postgres` in their names and print SKIPPED without `FWTOKEN_TEST_POSTGRES_URL`):
//! the store's contract here, the change log and the bounded cache in
//! `conformance/invalidation.rs`, bulk import in `conformance/import.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

mod cases {
    use std::time::Duration;

    use fwtoken::time::OffsetDateTime;
    use fwtoken::{ApiTokenId, ApiTokenRecord, DeviceId, DeviceRecord, SiteDomains};
    use fwtoken_store::{DeviceLimit, Registered, Store, StoreConfig, StoreError};

    use crate::common::Db;

    pub fn t(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    pub fn site() -> SiteDomains {
        SiteDomains::new().with("corp.example").with("CORP")
    }

    pub fn config() -> StoreConfig {
        StoreConfig::new().domains(site()).purge_every(None)
    }

    pub fn dev_id() -> DeviceId {
        DeviceId::generate(&mut fwtoken::os_rng())
    }

    pub fn api_id() -> ApiTokenId {
        ApiTokenId::from_bytes(dev_id().to_bytes())
    }

    pub fn device(user: &str, issued: i64) -> DeviceRecord {
        DeviceRecord {
            device_id: dev_id(),
            user: user.into(),
            issued_at: t(issued),
        }
    }

    pub fn api(user: &str, app: &str, issued: i64, life: i64) -> ApiTokenRecord {
        ApiTokenRecord {
            id: api_id(),
            user: user.into(),
            app: app.into(),
            issued_at: t(issued),
            expires: t(issued + life),
        }
    }

    async fn open(db: &Db) -> Store {
        db.open(config()).await
    }

    async fn reg(s: &Store, r: &DeviceRecord, max: usize) -> Result<Registered, StoreError> {
        s.register_device(r, DeviceLimit::refuse(max), r.issued_at)
            .await
    }

    fn new_slot(r: Result<Registered, StoreError>) {
        assert_eq!(r.unwrap(), Registered::New { evicted: vec![] });
    }

    pub async fn register_then_active(db: &Db) {
        let s = open(db).await;
        let r = device("alice", 0);
        new_slot(reg(&s, &r, 5).await);
        assert!(s.is_device_active(&r.device_id).await.unwrap());
    }

    pub async fn unknown_id_is_not_active(db: &Db) {
        let s = open(db).await;
        assert!(!s.is_device_active(&dev_id()).await.unwrap());
        assert!(!s.is_api_token_active(&api_id(), t(0)).await.unwrap());
        assert!(!s.revoke_device(&dev_id(), t(0)).await.unwrap());
        assert!(!s.revoke_api_token(&api_id(), t(0)).await.unwrap());
    }

    pub async fn revoking_an_unknown_id_leaves_a_tombstone(db: &Db) {
        let s = open(db).await;
        // A revocation that arrives before the registration (an in-flight request).
        let r = device("nina", 0);
        assert!(!s.revoke_device(&r.device_id, t(1)).await.unwrap());
        assert!(matches!(reg(&s, &r, 5).await, Err(StoreError::Revoked)));
        assert!(!s.is_device_active(&r.device_id).await.unwrap());
        // The tombstone belongs to nobody: not listed, not counted against a cap.
        assert!(s.devices_of("nina").await.unwrap().is_empty());
        new_slot(reg(&s, &device("nina", 2), 1).await);
        let a = api("nina", "cms", 0, 3600);
        assert!(!s.revoke_api_token(&a.id, t(1)).await.unwrap());
        assert!(matches!(
            s.register_api_token(&a, t(2)).await,
            Err(StoreError::Revoked)
        ));
        assert!(!s.is_api_token_active(&a.id, t(3)).await.unwrap());
        assert!(s.api_tokens_of("nina").await.unwrap().is_empty());
        // It survives a reopen and housekeeping.
        s.purge_expired(t(10_000_000)).await.unwrap();
        let s2 = open(db).await;
        assert!(matches!(reg(&s2, &r, 5).await, Err(StoreError::Revoked)));
        assert!(matches!(
            s2.register_api_token(&a, t(4)).await,
            Err(StoreError::Revoked)
        ));
    }

    pub async fn revoke_one(db: &Db) {
        let s = open(db).await;
        let (a, b) = (device("alice", 0), device("alice", 1));
        new_slot(reg(&s, &a, 5).await);
        new_slot(reg(&s, &b, 5).await);
        assert!(s.revoke_device(&a.device_id, t(10)).await.unwrap());
        assert!(!s.is_device_active(&a.device_id).await.unwrap());
        assert!(s.is_device_active(&b.device_id).await.unwrap());
    }

    pub async fn revoke_twice_is_not_an_error(db: &Db) {
        let s = open(db).await;
        let a = device("alice", 0);
        new_slot(reg(&s, &a, 5).await);
        assert!(s.revoke_device(&a.device_id, t(10)).await.unwrap());
        assert!(!s.revoke_device(&a.device_id, t(11)).await.unwrap());
        let listed = s.devices_of("alice").await.unwrap();
        assert_eq!(
            listed[0].revoked_at,
            Some(t(10)),
            "the first revocation's time stays"
        );
    }

    pub async fn tombstone_refuses_registration_again(db: &Db) {
        let s = open(db).await;
        let a = device("alice", 0);
        new_slot(reg(&s, &a, 5).await);
        s.revoke_device(&a.device_id, t(5)).await.unwrap();
        assert!(matches!(reg(&s, &a, 5).await, Err(StoreError::Revoked)));
        // Reopened (another process, or after a restart), the tombstone holds.
        let s2 = open(db).await;
        assert!(matches!(reg(&s2, &a, 5).await, Err(StoreError::Revoked)));
        assert!(!s2.is_device_active(&a.device_id).await.unwrap());
    }

    pub async fn same_record_twice_uses_one_slot(db: &Db) {
        let s = open(db).await;
        let a = device("alice", 0);
        new_slot(reg(&s, &a, 2).await);
        assert_eq!(reg(&s, &a, 2).await.unwrap(), Registered::AlreadyRegistered);
        assert_eq!(reg(&s, &a, 2).await.unwrap(), Registered::AlreadyRegistered);
        new_slot(reg(&s, &device("alice", 1), 2).await);
        assert!(matches!(
            reg(&s, &device("alice", 2), 2).await,
            Err(StoreError::DeviceLimit { max: 2 })
        ));
    }

    pub async fn other_record_same_id_conflicts(db: &Db) {
        let s = open(db).await;
        let a = device("alice", 0);
        new_slot(reg(&s, &a, 5).await);
        let mut b = a.clone();
        b.user = "bob".into();
        assert!(matches!(reg(&s, &b, 5).await, Err(StoreError::Conflict)));
        let mut c = a.clone();
        c.issued_at = t(99);
        assert!(matches!(reg(&s, &c, 5).await, Err(StoreError::Conflict)));
        assert!(s.devices_of("bob").await.unwrap().is_empty());
    }

    pub async fn cap_refuse(db: &Db) {
        let s = open(db).await;
        for i in 0..3 {
            new_slot(reg(&s, &device("carol", i), 3).await);
        }
        let extra = device("carol", 9);
        assert!(matches!(
            reg(&s, &extra, 3).await,
            Err(StoreError::DeviceLimit { max: 3 })
        ));
        assert!(!s.is_device_active(&extra.device_id).await.unwrap());
        assert_eq!(s.devices_of("carol").await.unwrap().len(), 3);
        // Another user is not affected.
        new_slot(reg(&s, &device("dave", 0), 3).await);
    }

    pub async fn cap_frees_a_slot_on_revoke(db: &Db) {
        let s = open(db).await;
        let a = device("erin", 0);
        new_slot(reg(&s, &a, 1).await);
        assert!(reg(&s, &device("erin", 1), 1).await.is_err());
        s.revoke_device(&a.device_id, t(2)).await.unwrap();
        new_slot(reg(&s, &device("erin", 3), 1).await);
    }

    pub async fn cap_evicts_least_recently_seen(db: &Db) {
        let s = open(db).await;
        let (a, b) = (device("frank", 0), device("frank", 10));
        new_slot(reg(&s, &a, 2).await);
        new_slot(reg(&s, &b, 2).await);
        // a was seen after b's registration: b is now the least recently seen.
        assert!(s.touch_device(&a.device_id, t(100)).await.unwrap());
        let c = device("frank", 200);
        let out = s
            .register_device(&c, DeviceLimit::evict(2), t(200))
            .await
            .unwrap();
        assert_eq!(
            out,
            Registered::New {
                evicted: vec![b.device_id]
            }
        );
        assert!(!s.is_device_active(&b.device_id).await.unwrap());
        assert!(s.is_device_active(&a.device_id).await.unwrap());
        assert!(s.is_device_active(&c.device_id).await.unwrap());
        // The evicted device is a tombstone like any revoked one.
        assert!(matches!(reg(&s, &b, 5).await, Err(StoreError::Revoked)));
    }

    pub async fn cap_evict_never_seen_goes_by_issue_time(db: &Db) {
        let s = open(db).await;
        let (a, b) = (device("gina", 5), device("gina", 1));
        new_slot(reg(&s, &a, 2).await);
        new_slot(reg(&s, &b, 2).await);
        let out = s
            .register_device(&device("gina", 50), DeviceLimit::evict(2), t(50))
            .await
            .unwrap();
        assert_eq!(
            out,
            Registered::New {
                evicted: vec![b.device_id]
            }
        );
    }

    pub async fn cap_zero_refuses_even_with_evict(db: &Db) {
        let s = open(db).await;
        let r = s
            .register_device(&device("hank", 0), DeviceLimit::evict(0), t(0))
            .await;
        assert!(matches!(r, Err(StoreError::DeviceLimit { max: 0 })));
    }

    pub async fn listing_shows_active_and_revoked(db: &Db) {
        let s = open(db).await;
        let (a, b) = (device("ivy", 0), device("IVY", 1));
        new_slot(reg(&s, &a, 5).await);
        new_slot(reg(&s, &b, 5).await);
        s.touch_device(&b.device_id, t(30)).await.unwrap();
        s.revoke_device(&a.device_id, t(40)).await.unwrap();
        let l = s.devices_of("Ivy").await.unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].device_id, a.device_id);
        assert_eq!(l[0].user, "ivy");
        assert_eq!(l[0].issued_at, t(0));
        assert_eq!(l[0].revoked_at, Some(t(40)));
        assert!(!l[0].is_active());
        assert_eq!(l[1].device_id, b.device_id);
        assert_eq!(l[1].user, "IVY", "the name as registered");
        assert_eq!(l[1].user_key, "ivy");
        assert_eq!(l[1].last_seen, Some(t(30)));
        assert!(l[1].is_active());
        assert!(s.devices_of("nobody").await.unwrap().is_empty());
    }

    pub async fn last_seen_at_most_once_a_minute(db: &Db) {
        let s = open(db).await;
        let a = device("jack", 0);
        new_slot(reg(&s, &a, 5).await);
        assert!(s.touch_device(&a.device_id, t(100)).await.unwrap());
        assert!(!s.touch_device(&a.device_id, t(130)).await.unwrap());
        assert!(!s.touch_device(&a.device_id, t(159)).await.unwrap());
        assert_eq!(
            s.devices_of("jack").await.unwrap()[0].last_seen,
            Some(t(100))
        );
        // Another instance (its own memo) is held back by the database's condition.
        let s2 = open(db).await;
        assert!(!s2.touch_device(&a.device_id, t(140)).await.unwrap());
        assert!(s.touch_device(&a.device_id, t(161)).await.unwrap());
        assert_eq!(
            s.devices_of("jack").await.unwrap()[0].last_seen,
            Some(t(161))
        );
    }

    pub async fn touch_of_revoked_or_unknown_writes_nothing(db: &Db) {
        let s = open(db).await;
        let a = device("kate", 0);
        new_slot(reg(&s, &a, 5).await);
        s.revoke_device(&a.device_id, t(1)).await.unwrap();
        assert!(!s.touch_device(&a.device_id, t(100)).await.unwrap());
        assert!(!s.touch_device(&dev_id(), t(100)).await.unwrap());
        assert_eq!(s.devices_of("kate").await.unwrap()[0].last_seen, None);
    }

    pub async fn revoke_all_of_a_user(db: &Db) {
        let s = open(db).await;
        let mine: Vec<_> = (0..3).map(|i| device("liam", i)).collect();
        for r in &mine {
            new_slot(reg(&s, r, 5).await);
        }
        let other = device("mia", 0);
        new_slot(reg(&s, &other, 5).await);
        s.revoke_device(&mine[0].device_id, t(5)).await.unwrap();
        assert_eq!(s.revoke_user_devices("liam", t(10)).await.unwrap(), 2);
        assert_eq!(s.revoke_user_devices("liam", t(11)).await.unwrap(), 0);
        for r in &mine {
            assert!(!s.is_device_active(&r.device_id).await.unwrap());
        }
        assert!(s.is_device_active(&other.device_id).await.unwrap());
    }

    pub async fn identity_spellings_share_cap_and_revocation(db: &Db) {
        let s = open(db).await;
        let spellings = ["CORP\\Alice", "alice@corp.example", "ALICE"];
        let recs: Vec<_> = spellings
            .iter()
            .enumerate()
            .map(|(i, u)| device(u, i as i64))
            .collect();
        for r in &recs {
            new_slot(reg(&s, r, 3).await);
        }
        assert!(matches!(
            reg(&s, &device("alice", 9), 3).await,
            Err(StoreError::DeviceLimit { max: 3 })
        ));
        assert_eq!(s.devices_of("Alice@CORP.example").await.unwrap().len(), 3);
        assert_eq!(
            s.revoke_user_devices("corp\\ALICE", t(20)).await.unwrap(),
            3
        );
        for r in &recs {
            assert!(!s.is_device_active(&r.device_id).await.unwrap());
        }
    }

    /// Five names whose NFC and NFD spellings differ (the Turkic İ among them): one cap
    /// and one "revoke all" for both forms.
    pub async fn identity_nfc_and_nfd_are_one_user(db: &Db) {
        use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};
        let s = open(db).await;
        let names = [
            "\u{00D6}mer \u{0130}nan",
            "J\u{00F8}rgen \u{00C5}s",
            "Nguy\u{1EC5}n",
            "\u{AE40}\u{BBFC}\u{C900}",
            "Ren\u{00E9}e",
        ];
        for (n, name) in names.iter().enumerate() {
            let nfc = ComposingNormalizerBorrowed::new_nfc()
                .normalize(name)
                .into_owned();
            let nfd = DecomposingNormalizerBorrowed::new_nfd()
                .normalize(name)
                .into_owned();
            assert_ne!(nfc, nfd);
            let n = n as i64 * 10;
            let recs = [device(&nfc, n), device(&nfd, n + 1), device(&nfd, n + 2)];
            for r in &recs {
                new_slot(reg(&s, r, 3).await);
            }
            assert!(matches!(
                reg(&s, &device(&nfc, n + 3), 3).await,
                Err(StoreError::DeviceLimit { max: 3 })
            ));
            assert_eq!(s.user_key(&nfc), s.user_key(&nfd));
            assert_eq!(s.devices_of(&nfd).await.unwrap().len(), 3);
            assert_eq!(s.revoke_user_devices(&nfc, t(n + 5)).await.unwrap(), 3);
            for r in &recs {
                assert!(!s.is_device_active(&r.device_id).await.unwrap());
            }
        }
        // I + U+0307 written by hand is the İ of the NFC name.
        let a = device("O\u{0308}mer I\u{0307}nan", 100);
        new_slot(reg(&s, &a, 1).await);
        assert!(matches!(
            reg(&s, &device("\u{00D6}MER \u{0130}NAN", 101), 1).await,
            Err(StoreError::DeviceLimit { max: 1 })
        ));
    }

    pub async fn identity_other_domains_stay_apart(db: &Db) {
        let s = open(db).await;
        new_slot(reg(&s, &device("nina", 0), 1).await);
        // Same account name at a partner domain: another identity, another cap.
        new_slot(reg(&s, &device("nina@partner.example", 1), 1).await);
        new_slot(reg(&s, &device("PARTNER\\nina", 2), 1).await);
        assert_eq!(s.user_key("PARTNER\\Nina"), "nina@partner");
        assert_eq!(s.revoke_user_devices("nina", t(9)).await.unwrap(), 1);
        assert_eq!(s.devices_of("nina@partner.example").await.unwrap().len(), 1);
    }

    pub async fn invalid_user_name_refused(db: &Db) {
        let s = open(db).await;
        let r = device("a;b", 0);
        assert!(matches!(
            reg(&s, &r, 5).await,
            Err(StoreError::InvalidArgument(_))
        ));
        assert!(!s.is_device_active(&r.device_id).await.unwrap());
    }

    pub async fn api_token_active_until_expiry(db: &Db) {
        let s = open(db).await;
        let a = api("olga", "sync", 0, 3600);
        assert!(s.register_api_token(&a, t(0)).await.unwrap());
        assert!(s.is_api_token_active(&a.id, t(1)).await.unwrap());
        assert!(s.is_api_token_active(&a.id, t(3599)).await.unwrap());
        assert!(!s.is_api_token_active(&a.id, t(3600)).await.unwrap());
    }

    pub async fn api_token_revoke_by_id(db: &Db) {
        let s = open(db).await;
        let (a, b) = (api("paul", "sync", 0, 3600), api("paul", "sync", 0, 3600));
        s.register_api_token(&a, t(0)).await.unwrap();
        s.register_api_token(&b, t(0)).await.unwrap();
        assert!(s.revoke_api_token(&a.id, t(5)).await.unwrap());
        assert!(!s.revoke_api_token(&a.id, t(6)).await.unwrap());
        assert!(!s.is_api_token_active(&a.id, t(7)).await.unwrap());
        assert!(s.is_api_token_active(&b.id, t(7)).await.unwrap());
    }

    pub async fn api_token_revoke_by_user(db: &Db) {
        let s = open(db).await;
        let mine = [api("CORP\\Quinn", "a", 0, 3600), api("quinn", "b", 0, 3600)];
        let other = api("rita", "a", 0, 3600);
        for r in mine.iter().chain([&other]) {
            s.register_api_token(r, t(0)).await.unwrap();
        }
        assert_eq!(
            s.revoke_user_api_tokens("quinn@corp.example", t(5))
                .await
                .unwrap(),
            2
        );
        for r in &mine {
            assert!(!s.is_api_token_active(&r.id, t(6)).await.unwrap());
        }
        assert!(s.is_api_token_active(&other.id, t(6)).await.unwrap());
    }

    pub async fn api_token_revoke_by_app(db: &Db) {
        let s = open(db).await;
        let app = crate::common::unique("app");
        let hit = [api("sam", &app, 0, 3600), api("tess", &app, 0, 3600)];
        let other = api("sam", "other-app", 0, 3600);
        for r in hit.iter().chain([&other]) {
            s.register_api_token(r, t(0)).await.unwrap();
        }
        assert_eq!(s.revoke_app_api_tokens(&app, t(5)).await.unwrap(), 2);
        assert_eq!(s.revoke_app_api_tokens(&app, t(6)).await.unwrap(), 0);
        for r in &hit {
            assert!(!s.is_api_token_active(&r.id, t(6)).await.unwrap());
        }
        assert!(s.is_api_token_active(&other.id, t(6)).await.unwrap());
    }

    pub async fn api_token_insert_only(db: &Db) {
        let s = open(db).await;
        let a = api("uma", "sync", 0, 3600);
        assert!(s.register_api_token(&a, t(0)).await.unwrap());
        assert!(!s.register_api_token(&a, t(1)).await.unwrap(), "a retry");
        let mut b = a.clone();
        b.app = "other".into();
        assert!(matches!(
            s.register_api_token(&b, t(1)).await,
            Err(StoreError::Conflict)
        ));
        s.revoke_api_token(&a.id, t(2)).await.unwrap();
        assert!(matches!(
            s.register_api_token(&a, t(3)).await,
            Err(StoreError::Revoked)
        ));
        assert!(!s.is_api_token_active(&a.id, t(4)).await.unwrap());
    }

    pub async fn api_token_expired_record_refused(db: &Db) {
        let s = open(db).await;
        let a = api("vic", "sync", 0, 60);
        assert!(matches!(
            s.register_api_token(&a, t(60)).await,
            Err(StoreError::InvalidArgument(_))
        ));
        assert!(!s.is_api_token_active(&a.id, t(1)).await.unwrap());
    }

    pub async fn api_token_listing_across_spellings(db: &Db) {
        let s = open(db).await;
        // Issued out of order, under three spellings of one account; two in one second.
        let a = api("CORP\\Hal", "sync", 5, 3600);
        let b = api("hal@corp.example", "backup", 1, 3600);
        let c = api("HAL", "sync", 3, 3600);
        let d = api("hal", "report", 3, 3600);
        let others = [
            api("hal@partner.example", "sync", 0, 3600),
            api("PARTNER\\Hal", "sync", 2, 3600),
            api("ida", "sync", 0, 3600),
        ];
        for r in [&a, &b, &c, &d].into_iter().chain(&others) {
            assert!(s.register_api_token(r, r.issued_at).await.unwrap());
        }
        let (first, second) = if c.id.to_bytes() < d.id.to_bytes() {
            (&c, &d)
        } else {
            (&d, &c)
        };
        let want = [&b, first, second, &a];
        for spelling in ["Hal", "corp\\HAL", "HAL@Corp.Example"] {
            let l = s.api_tokens_of(spelling).await.unwrap();
            let ids: Vec<_> = l.iter().map(|e| e.id).collect();
            let want_ids: Vec<_> = want.iter().map(|r| r.id).collect();
            assert_eq!(ids, want_ids, "issue time, then id; {spelling}");
            for (e, r) in l.iter().zip(want) {
                assert_eq!(e.user, r.user, "the name as registered");
                assert_eq!(e.user_key, "hal");
                assert_eq!(e.app, r.app);
                assert_eq!(e.issued_at, r.issued_at);
                assert_eq!(e.expires, r.expires);
                assert_eq!(e.revoked_at, None);
                assert!(e.is_active(t(10)));
            }
        }
        // Hal at a partner domain is another identity (each spelling its own here, as
        // the site does not know that domain); ida is another user.
        for (spelling, r) in ["hal@partner.example", "PARTNER\\Hal", "ida"]
            .into_iter()
            .zip(&others)
        {
            let l = s.api_tokens_of(spelling).await.unwrap();
            assert_eq!(l.len(), 1, "{spelling}");
            assert_eq!(l[0].id, r.id);
            assert_eq!(l[0].user_key, s.user_key(spelling));
        }
    }

    pub async fn api_token_listing_shows_revoked_and_expired(db: &Db) {
        let s = open(db).await;
        let (a, b, c) = (
            api("jon", "sync", 0, 3600),
            api("jon", "sync", 1, 60),
            api("Jon", "report", 2, 3600),
        );
        for r in [&a, &b, &c] {
            s.register_api_token(r, r.issued_at).await.unwrap();
        }
        assert!(s.revoke_api_token(&a.id, t(30)).await.unwrap());
        // Revoked through the user: only the still active ones get this time.
        assert_eq!(s.revoke_user_api_tokens("JON", t(40)).await.unwrap(), 2);
        assert!(!s.revoke_api_token(&a.id, t(50)).await.unwrap());
        let l = s.api_tokens_of("jon").await.unwrap();
        assert_eq!(
            l.iter().map(|e| (e.id, e.revoked_at)).collect::<Vec<_>>(),
            vec![
                (a.id, Some(t(30))),
                (b.id, Some(t(40))),
                (c.id, Some(t(40)))
            ],
            "the first revocation's time stays"
        );
        assert!(l.iter().all(|e| !e.is_active(t(41))));
        // Expired but not revoked: listed, not active after its expiry.
        let d = api("jon", "sync", 100, 60);
        s.register_api_token(&d, d.issued_at).await.unwrap();
        let l = s.api_tokens_of("jon").await.unwrap();
        let e = l.iter().find(|e| e.id == d.id).unwrap();
        assert_eq!(e.revoked_at, None);
        assert!(e.is_active(t(159)));
        assert!(!e.is_active(t(160)));
        assert_eq!(
            e.is_active(t(160)),
            s.is_api_token_active(&d.id, t(160)).await.unwrap()
        );
        // A device of the same user is not an API token.
        new_slot(reg(&s, &device("jon", 0), 5).await);
        assert_eq!(s.api_tokens_of("jon").await.unwrap().len(), 4);
    }

    pub async fn api_token_listing_of_unknown_user_is_empty(db: &Db) {
        let s = open(db).await;
        s.register_api_token(&api("kim", "sync", 0, 3600), t(0))
            .await
            .unwrap();
        assert!(s.api_tokens_of("nobody").await.unwrap().is_empty());
        assert!(
            s.api_tokens_of("kim@partner.example")
                .await
                .unwrap()
                .is_empty()
        );
        // A name that is not a valid user name matches no one.
        assert!(s.api_tokens_of("a;b").await.unwrap().is_empty());
    }

    pub async fn login_token_first_use_wins(db: &Db) {
        let s = open(db).await;
        let tok = crate::common::unique("login-token");
        assert!(s.use_login_token(&tok, t(1860), t(0)).await.unwrap());
        assert!(!s.use_login_token(&tok, t(1860), t(1)).await.unwrap());
        let s2 = open(db).await;
        assert!(!s2.use_login_token(&tok, t(1860), t(2)).await.unwrap());
        assert!(
            s2.use_login_token(&format!("{tok}x"), t(1860), t(2))
                .await
                .unwrap()
        );
    }

    pub async fn login_token_expired_refused(db: &Db) {
        let s = open(db).await;
        let tok = crate::common::unique("login-token");
        assert!(!s.use_login_token(&tok, t(10), t(10)).await.unwrap());
        assert!(!s.use_login_token(&tok, t(10), t(11)).await.unwrap());
    }

    pub async fn purge_removes_only_expired(db: &Db) {
        let s = open(db).await;
        let old = api("will", "sync", 0, 60);
        let live = api("will", "sync", 0, 100_000);
        s.register_api_token(&old, t(0)).await.unwrap();
        s.register_api_token(&live, t(0)).await.unwrap();
        s.use_login_token("old-login", t(60), t(0)).await.unwrap();
        s.use_login_token("live-login", t(100_000), t(0))
            .await
            .unwrap();
        // Within the grace period nothing goes.
        assert_eq!(s.purge_expired(t(100)).await.unwrap(), 0);
        assert_eq!(s.purge_expired(t(1000)).await.unwrap(), 2);
        assert_eq!(s.purge_expired(t(1000)).await.unwrap(), 0);
        assert!(s.is_api_token_active(&live.id, t(1000)).await.unwrap());
        // The purged login digest is gone: the row could be written again (were the token
        // still valid); the live one is still remembered.
        assert!(
            !s.use_login_token("live-login", t(100_000), t(1000))
                .await
                .unwrap()
        );
        assert!(
            s.use_login_token("old-login", t(100_000), t(1000))
                .await
                .unwrap()
        );
    }

    pub async fn purge_in_batches(db: &Db) {
        let s = db.open(config().purge_batch(3)).await;
        for i in 0..10 {
            s.register_api_token(&api("xena", "sync", i, 60), t(i))
                .await
                .unwrap();
            s.use_login_token(&format!("tok{i}"), t(60), t(0))
                .await
                .unwrap();
        }
        assert_eq!(s.purge_expired(t(10_000)).await.unwrap(), 20);
        assert_eq!(s.purge_expired(t(10_000)).await.unwrap(), 0);
    }

    pub async fn housekeeping_runs_by_itself(db: &Db) {
        let s = db
            .open(config().purge_every(Some(Duration::from_millis(50))))
            .await;
        let now = OffsetDateTime::now_utc();
        let digest_src = crate::common::unique("hk");
        s.use_login_token(
            &digest_src,
            now + Duration::from_secs(1),
            now - Duration::from_secs(1),
        )
        .await
        .unwrap();
        // Expired more than the grace period ago, via a record issued long ago.
        let mut old = api("yann", "sync", 0, 60);
        old.issued_at = now - Duration::from_secs(4000);
        old.expires = now - Duration::from_secs(3000);
        s.register_api_token(&old, old.issued_at).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if s.purge_expired(now).await.unwrap() == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "housekeeping never ran"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The background purge deleted it (ours found nothing left, or raced it): gone.
        assert!(!s.is_api_token_active(&old.id, old.issued_at).await.unwrap());
    }

    pub async fn version_moves_only_on_revocation(db: &Db) {
        let s = open(db).await;
        let v0 = s.version().await.unwrap();
        let a = device("zoe", 0);
        new_slot(reg(&s, &a, 5).await);
        assert_eq!(
            s.version().await.unwrap(),
            v0,
            "registration changes no answer"
        );
        assert!(!s.revoke_device(&dev_id(), t(1)).await.unwrap());
        assert_eq!(s.version().await.unwrap(), v0);
        s.revoke_device(&a.device_id, t(1)).await.unwrap();
        let v1 = s.version().await.unwrap();
        assert!(v1 > v0);
        assert!(s.known_version() >= v1);
    }

    pub async fn concurrent_registrations_never_exceed_cap(db: &Db) {
        let stores = [open(db).await, open(db).await];
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = stores[i % 2].clone();
            tasks.push(tokio::spawn(async move {
                let r = device("race", i as i64);
                s.register_device(&r, DeviceLimit::refuse(3), r.issued_at)
                    .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(Registered::New { .. }) => ok += 1,
                Err(StoreError::DeviceLimit { max: 3 }) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(ok, 3);
        let active = stores[0]
            .devices_of("race")
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.is_active())
            .count();
        assert_eq!(active, 3);
    }

    pub async fn concurrent_evictions_keep_the_cap(db: &Db) {
        let stores = [open(db).await, open(db).await];
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = stores[i % 2].clone();
            tasks.push(tokio::spawn(async move {
                let r = device("evictrace", i as i64);
                s.register_device(&r, DeviceLimit::evict(2), r.issued_at)
                    .await
            }));
        }
        for t in tasks {
            assert!(matches!(t.await.unwrap(), Ok(Registered::New { .. })));
        }
        let l = stores[1].devices_of("evictrace").await.unwrap();
        assert_eq!(l.len(), 8);
        assert_eq!(l.iter().filter(|d| d.is_active()).count(), 2);
    }

    pub async fn revocation_reaches_other_instance(db: &Db) {
        let cfg = config().poll_interval(Duration::from_millis(20));
        let a = db.open(cfg.clone()).await;
        let b = db.open(cfg).await;
        let r = device("amy", 0);
        new_slot(reg(&a, &r, 5).await);
        assert!(
            b.is_device_active(&r.device_id).await.unwrap(),
            "cached active on b"
        );
        assert!(a.revoke_device(&r.device_id, t(1)).await.unwrap());
        let start = std::time::Instant::now();
        while b.is_device_active(&r.device_id).await.unwrap() {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "b kept answering active"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

backend_tests!(crate::cases;
    register_then_active,
    unknown_id_is_not_active,
    revoking_an_unknown_id_leaves_a_tombstone,
    revoke_one,
    revoke_twice_is_not_an_error,
    tombstone_refuses_registration_again,
    same_record_twice_uses_one_slot,
    other_record_same_id_conflicts,
    cap_refuse,
    cap_frees_a_slot_on_revoke,
    cap_evicts_least_recently_seen,
    cap_evict_never_seen_goes_by_issue_time,
    cap_zero_refuses_even_with_evict,
    listing_shows_active_and_revoked,
    last_seen_at_most_once_a_minute,
    touch_of_revoked_or_unknown_writes_nothing,
    revoke_all_of_a_user,
    identity_spellings_share_cap_and_revocation,
    identity_nfc_and_nfd_are_one_user,
    identity_other_domains_stay_apart,
    invalid_user_name_refused,
    api_token_active_until_expiry,
    api_token_revoke_by_id,
    api_token_revoke_by_user,
    api_token_revoke_by_app,
    api_token_insert_only,
    api_token_expired_record_refused,
    api_token_listing_across_spellings,
    api_token_listing_shows_revoked_and_expired,
    api_token_listing_of_unknown_user_is_empty,
    login_token_first_use_wins,
    login_token_expired_refused,
    purge_removes_only_expired,
    purge_in_batches,
    housekeeping_runs_by_itself,
    version_moves_only_on_revocation,
    concurrent_registrations_never_exceed_cap,
    concurrent_evictions_keep_the_cap,
    revocation_reaches_other_instance,
);

#[path = "conformance/invalidation.rs"]
mod invalidation;

mod invalidation_cases {
    crate::backend_tests!(crate::invalidation;
        revocation_evicts_exactly_that_id_elsewhere,
        revoke_user_and_app_invalidate_every_id,
        eviction_at_the_cap_is_logged,
        purged_log_clears_the_cache,
        change_log_purged_by_count_with_several_purgers,
        change_log_purged_by_age,
        capacity_bound_holds,
        stats_count_checks,
    );
}

/// Restores and older writers exist only where SQL does.
mod invalidation_sql_cases {
    crate::sql_backend_tests!(crate::invalidation;
        restored_backup_version_backwards_clears,
        restored_backup_that_moved_on_clears,
        version_bumped_without_log_clears,
    );
}

#[path = "conformance/import.rs"]
mod import;

mod import_cases {
    crate::backend_tests!(crate::import;
        import_registers_in_batches,
        import_checks_the_cap_per_user,
        import_again_is_safe,
        import_evictions_are_logged,
        import_and_registrations_at_once_keep_the_cap,
    );
}
