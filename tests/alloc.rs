//! Allocation budget, measured with a counting global allocator (this file is its own test
//! binary, so nothing else allocates concurrently inside a measured section: each
//! measurement runs on one thread with the counter scoped to that thread).
//!
//! Opening or verifying any token type performs at most one heap allocation (the owned
//! result) and none when it fails; sealing performs at most one (the output string).
//! The one exception is `DeviceToken::issue`, which returns two owned values: the token
//! (one allocation, the seal) and the `DeviceRecord` for the registry (its copy of the user).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]
// The counting allocator is the one place unsafe code is needed; the library forbids it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use fwtoken::time::macros::datetime;
use fwtoken::{KeyRing, LoginPolicy, LoginToken, Secret};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

struct Counting;

thread_local! {
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| {
            if let Some(n) = c.get() {
                c.set(Some(n + 1));
            }
        });
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| {
            if let Some(n) = c.get() {
                c.set(Some(n + 1));
            }
        });
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns (its result, allocations it made on this thread).
pub fn count<T>(f: impl FnOnce() -> T) -> (T, usize) {
    COUNT.with(|c| c.set(Some(0)));
    let out = f();
    let n = COUNT.with(|c| c.replace(None)).unwrap_or(0);
    (out, n)
}

fn ring() -> KeyRing {
    KeyRing::new(Secret::from_text("allocation budget backup secret").unwrap())
        .rotate(Secret::from_text("allocation budget primary secret").unwrap())
        .unwrap()
}

#[test]
fn counter_counts() {
    let (_, n) = count(|| vec![1u8; 10]);
    assert_eq!(n, 1);
    let (_, n) = count(|| 1 + 1);
    assert_eq!(n, 0);
}

#[test]
fn login_tokens_within_budget() {
    let ring = ring();
    let now = datetime!(2026-11-24 10:00:00 UTC);
    let policy = LoginPolicy::new().deny_user("owner");
    let builder = LoginToken::builder("alice@example.com");
    let mut rng = ChaCha20Rng::seed_from_u64(1);

    let (fw, n) = count(|| builder.issue(&ring, now).unwrap());
    assert_eq!(n, 1, "FotoWeb issue");
    let (sealed, n) = count(|| builder.issue_sealed(&ring, now, &mut rng).unwrap());
    assert_eq!(n, 1, "sealed issue");

    for token in [&fw, &sealed] {
        let (v, n) = count(|| LoginToken::verify(&ring, token, now, &policy));
        assert!(v.is_ok());
        assert!(n <= 1, "verify: {n} allocations");
        drop(v);
        // Failures: bad MAC, expired, denied, malformed, too long: no allocation at all.
        let mut bad = token.clone().into_bytes();
        bad[30] ^= 1;
        let bad = String::from_utf8(bad).unwrap();
        let later = datetime!(2026-11-25 10:00:00 UTC);
        let long = "A".repeat(10_000);
        for (what, t, when) in [
            ("tampered", bad.as_str(), now),
            ("expired", token.as_str(), later),
            ("too long", long.as_str(), now),
        ] {
            let (r, n) = count(|| LoginToken::verify(&ring, t, when, &policy));
            assert!(r.is_err(), "{what}");
            assert_eq!(n, 0, "{what}: a failed verification allocated");
        }
    }
    let owner = LoginToken::builder("OWNER").issue(&ring, now).unwrap();
    let (r, n) = count(|| LoginToken::verify(&ring, &owner, now, &policy));
    assert!(r.is_err());
    assert_eq!(n, 0, "denied user");
}

#[test]
fn api_device_and_client_bound_within_budget() {
    use fwtoken::{ApiPolicy, ApiToken, ApiTokenRequest, ClientBoundId, DeviceId, DeviceToken};
    let ring = ring();
    let now = datetime!(2026-11-24 10:00:00 UTC);
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let req = ApiTokenRequest {
        un: "alice".into(),
        app: "CMS".into(),
        duration: "PT1H".into(),
    };
    let (info, n) =
        count(|| ApiToken::issue(&ring, &req, now, &ApiPolicy::new(), &mut rng).unwrap());
    assert_eq!(n, 1, "api issue: the token (expires is inline)");
    let (r, n) =
        count(|| ApiToken::verify(&ring, &info.token, now, std::time::Duration::from_secs(60)));
    assert!(r.is_ok());
    assert_eq!(n, 1, "api verify: the user name (the app name is inline)");
    let (r, n) = count(|| {
        ApiToken::verify(
            &ring,
            &info.token,
            now + std::time::Duration::from_secs(86_400),
            std::time::Duration::ZERO,
        )
    });
    assert!(r.is_err());
    assert_eq!(n, 0, "expired api token");
    let ((token, _record), n) =
        count(|| DeviceToken::issue(&ring, "alice", now, &mut rng).unwrap());
    // Two owned values come back: the token and the record with its own copy of the user.
    assert_eq!(n, 2, "device issue: token + record");
    let (_, n) = count(|| {
        DeviceToken::reissue(
            &ring,
            &DeviceToken::verify(&ring, &token).unwrap(),
            &mut rng,
        )
    });
    assert!(n <= 2, "verify (1) + reissue (1)");
    let (r, n) = count(|| DeviceToken::verify(&ring, &token));
    assert!(r.is_ok());
    assert_eq!(n, 1, "device verify: the user name");
    let (r, n) = count(|| DeviceToken::verify(&ring, &info.token));
    assert!(r.is_err());
    assert_eq!(n, 0, "api token as device token");
    let dev = DeviceId::from_bytes([1; 16]);
    let (sealed, n) =
        count(|| ClientBoundId::seal(&ring, &dev, "image-42", now, &mut rng).unwrap());
    assert_eq!(n, 1, "client-bound seal");
    let (r, n) = count(|| ClientBoundId::open(&ring, &dev, &sealed));
    assert!(r.is_ok());
    assert_eq!(n, 1, "client-bound open");
    let (r, n) = count(|| ClientBoundId::open(&ring, &DeviceId::from_bytes([2; 16]), &sealed));
    assert!(r.is_err());
    assert_eq!(n, 0);
}

#[test]
fn cache_links_within_budget() {
    use fwtoken::{CacheLink, CacheLinkSigner};
    let ring = ring();
    let now = datetime!(2026-11-24 10:00:00 UTC);
    let signer = CacheLinkSigner::new(&ring);
    let link = CacheLink::new("/archives/photos/2026/harbour-at-dawn-0042.tif")
        .width(800)
        .height(600)
        .format("jpg")
        .quality(80)
        .tag("t1");
    let (token, n) = count(|| signer.sign(&link, now).unwrap());
    assert_eq!(n, 1, "cache sign");
    let (r, n) = count(|| signer.open(&token, now, None));
    assert!(r.is_ok());
    assert_eq!(n, 1, "cache open: the path (format and tag are inline)");
    drop(r);
    let (r, n) = count(|| {
        signer.open(
            &token,
            now + std::time::Duration::from_secs(1),
            Some("192.0.2.1".parse().unwrap()),
        )
    });
    assert!(r.is_ok());
    assert_eq!(n, 1);
    let mut bad = token.clone().into_bytes();
    bad[50] ^= 1;
    let bad = String::from_utf8(bad).unwrap();
    let (r, n) = count(|| signer.open(&bad, now, None));
    assert!(r.is_err());
    assert_eq!(n, 0, "refused cache link");
}

#[test]
fn edgecast_and_fernet_within_budget() {
    use fwtoken::{EdgeKey, EdgeKeyRing, FernetKey, FernetRing};
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let now = datetime!(2026-11-24 10:00:00 UTC);
    let edge = EdgeKeyRing::new(EdgeKey::new("PrimaryKey2026").unwrap())
        .with_backup(EdgeKey::new("BackupKey2025").unwrap())
        .unwrap();
    let (t, n) = count(|| {
        edge.encrypt("ec_expire=1764004200&ec_url_allow=/a/", &mut rng)
            .unwrap()
    });
    assert_eq!(n, 1, "edge encrypt");
    let (r, n) = count(|| edge.decrypt(&t));
    assert!(r.is_ok());
    assert_eq!(n, 1, "edge decrypt");
    let other = EdgeKeyRing::new(EdgeKey::new("SomeOtherKey").unwrap());
    let (r, n) = count(|| other.decrypt(&t));
    assert!(r.is_err());
    assert_eq!(n, 0, "refused edge token");
    let fernet = FernetRing::new(FernetKey::generate(&mut rng));
    let (t, n) = count(|| fernet.encrypt(&[7u8; 64], now, &mut rng).unwrap());
    assert_eq!(n, 1, "fernet encrypt");
    let (r, n) = count(|| fernet.decrypt(&t, now, None));
    assert!(r.is_ok());
    assert_eq!(n, 1, "fernet decrypt");
    let later = now + std::time::Duration::from_secs(3600);
    let (r, n) = count(|| fernet.decrypt(&t, later, Some(std::time::Duration::from_secs(60))));
    assert!(r.is_err());
    assert_eq!(n, 0, "expired fernet token");
}
