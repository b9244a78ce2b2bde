//! Statistical constant-time evidence with dudect (not a unit test: run it on a quiet machine).
//!
//! ```text
//! cargo bench --bench ct                    # 1,000,000 samples per case
//! FWTOKEN_DUDECT_SAMPLES=5000000 cargo bench --bench ct
//! ```
//!
//! Each case verifies tokens whose MAC differs from the valid one in its FIRST byte (class
//! Left) against tokens whose MAC differs in its LAST byte (class Right). A comparison that
//! returns early shows up as a large |t|; |t| under 5 is the goal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use dudect_bencher::rand::RngExt as _;
use dudect_bencher::{BenchRng, Class, CtRunner, ctbench_main};
use fwtoken::time::OffsetDateTime;
use fwtoken::{KeyRing, LoginPolicy, LoginToken, Secret};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fn samples() -> usize {
    std::env::var("FWTOKEN_DUDECT_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_764_000_600).unwrap()
}

fn ring() -> KeyRing {
    KeyRing::new(Secret::from_text("dudect constant-time test secret").unwrap())
}

/// Runs `verify` on Left (first tag byte wrong) and Right (last tag byte wrong) inputs,
/// interleaved at random.
fn run(
    runner: &mut CtRunner,
    rng: &mut BenchRng,
    first: &str,
    last: &str,
    verify: impl Fn(&str) -> bool,
) {
    assert!(!verify(first) && !verify(last));
    let n = samples();
    let classes: Vec<Class> = (0..n)
        .map(|_| {
            if rng.random::<bool>() {
                Class::Left
            } else {
                Class::Right
            }
        })
        .collect();
    for class in classes {
        let input = match class {
            Class::Left => first,
            Class::Right => last,
        };
        runner.run_one(class, || verify(std::hint::black_box(input)));
    }
}

/// Envelope v1 (a sealed login token): the 32-byte HMAC tag differs in byte 0 or byte 31.
fn envelope_tag(runner: &mut CtRunner, rng: &mut BenchRng) {
    let ring = ring();
    let token = LoginToken::builder("alice")
        .issue_sealed(&ring, now(), &mut ChaCha20Rng::seed_from_u64(1))
        .unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
    let flip = |i: usize| {
        let mut r = raw.clone();
        r[i] ^= 0x01;
        URL_SAFE_NO_PAD.encode(r)
    };
    let (first, last) = (flip(raw.len() - 32), flip(raw.len() - 1));
    let policy = LoginPolicy::new();
    run(runner, rng, &first, &last, |t| {
        LoginToken::verify_sealed(&ring, t, now(), &policy).is_ok()
    });
}

/// FotoWeb login token: the 16-byte MD5 MAC differs in byte 0 or byte 15.
fn fotoweb_mac(runner: &mut CtRunner, rng: &mut BenchRng) {
    let ring = ring();
    let token = LoginToken::builder("alice").issue(&ring, now()).unwrap();
    let text = String::from_utf8(STANDARD.decode(&token).unwrap()).unwrap();
    let (message, mac_field) = text.split_at(text.len() - 27);
    let mac = STANDARD.decode(&mac_field[2..26]).unwrap();
    let flip = |i: usize| {
        let mut m = mac.clone();
        m[i] ^= 0x01;
        STANDARD.encode(format!("{message}m={};", STANDARD.encode(m)))
    };
    let (first, last) = (flip(0), flip(15));
    let policy = LoginPolicy::new();
    run(runner, rng, &first, &last, |t| {
        LoginToken::verify_fotoweb(&ring, t, now(), &policy).is_ok()
    });
}

/// The full API key (`FWAPIToken`): presented keys that differ from the real one in their
/// first or their last byte (same length).
fn api_key(runner: &mut CtRunner, rng: &mut BenchRng) {
    let text = "the site's full API key from its admin page, 0123456789";
    let key = fwtoken::ApiKey::from_text(text).unwrap();
    let flip = |i: usize| {
        let mut b = text.as_bytes().to_vec();
        b[i] ^= 0x01;
        String::from_utf8(b).unwrap()
    };
    let (first, last) = (flip(0), flip(text.len() - 1));
    run(runner, rng, &first, &last, |t| key.verify_header(t));
}

ctbench_main!(envelope_tag, fotoweb_mac, api_key);
