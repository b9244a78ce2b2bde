//! Allocation budget, measured with a counting global allocator (this file is its own test
//! binary, so nothing else allocates concurrently inside a measured section: each
//! measurement runs on one thread with the counter scoped to that thread).
//!
//! Opening or verifying any token type performs at most one heap allocation (the owned
//! result) and none when it fails; sealing performs at most one (the output string).
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
