//! Statistical constant-time evidence with dudect (not a unit test: run it on a quiet machine).
//!
//! ```text
//! cargo bench --bench ct                    # 1,000,000 samples per case
//! FWTOKEN_DUDECT_SAMPLES=5000000 cargo bench --bench ct
//! ```
//!
//! Each case verifies tokens whose MAC differs from the valid one in its FIRST byte (class
//! Left) against tokens whose MAC differs in its LAST byte (class Right), drawn at random
//! from pools of 4096 inputs per class (random wrong values, separate allocations). A
//! comparison that returns early shows up as a large |t|; |t| under 5 is the goal.
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
use dudect_bencher::{BenchRng, Class, CtRunner};
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

/// Verifications timed together as one sample (`FWTOKEN_DUDECT_BATCH`, default 16).
fn batch() -> usize {
    std::env::var("FWTOKEN_DUDECT_BATCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_764_000_600).unwrap()
}

fn ring() -> KeyRing {
    KeyRing::new(Secret::from_text("dudect constant-time test secret").unwrap())
}

/// Inputs per class. Each sample takes one at random, so neither the address of an input
/// nor the particular wrong byte value can stand in for the class.
const POOL: usize = 4096;

/// Runs `verify` on Left inputs (the MAC wrong in its first byte) and Right inputs (wrong
/// in its last byte), interleaved at random. `make(i, value)` builds an input whose byte
/// `i` of the MAC is replaced by `value` (never the right one).
fn run(
    runner: &mut CtRunner,
    rng: &mut BenchRng,
    mac_len: usize,
    make: impl Fn(usize, u8) -> Option<String>,
    verify: impl Fn(&str) -> bool,
) {
    // Built interleaved, so both classes' inputs sit in the same memory.
    let mut next = |i: usize| loop {
        if let Some(input) = make(i, rng.random::<u8>()) {
            assert!(!verify(&input));
            break input;
        }
    };
    let (mut left, mut right) = (Vec::with_capacity(POOL), Vec::with_capacity(POOL));
    for _ in 0..POOL {
        left.push(next(0));
        right.push(next(mac_len - 1));
    }
    let n = samples();
    let null = std::env::var_os("FWTOKEN_DUDECT_NULL").is_some();
    // Samples come in pairs, one of each class in random order. This machine is a virtual
    // one whose timer shows slow bursts lasting thousands of samples; with classes drawn
    // independently a burst lands unevenly on them, and even two identical classes (see
    // FWTOKEN_DUDECT_NULL) then show |t| far above 5. Pairing spreads every burst evenly.
    let picks: Vec<(Class, usize)> = (0..n / 2)
        .flat_map(|_| {
            let (a, b) = if rng.random::<bool>() {
                (Class::Left, Class::Right)
            } else {
                (Class::Right, Class::Left)
            };
            [
                (a, rng.random_range(0..POOL)),
                (b, rng.random_range(0..POOL)),
            ]
        })
        .collect();
    // Every sample is verified from the same buffer, so the placement of an input in
    // memory (alignment, cache-line splits, which vary with the heap's layout from run to
    // run) is the same for both classes.
    let mut scratch = String::with_capacity(
        left.iter()
            .chain(&right)
            .map(String::len)
            .max()
            .unwrap_or(0),
    );
    for (class, i) in picks {
        scratch.clear();
        scratch.push_str(match class {
            Class::Left => &left[i],
            // The null experiment: both classes from one pool (expect |t| < 5).
            Class::Right if null => &left[i],
            Class::Right => &right[i],
        });
        let input = scratch.as_str();
        runner.run_one(class, || {
            // A few calls per sample, so the timer's own jitter weighs less.
            (0..batch()).fold(false, |acc, _| acc | verify(std::hint::black_box(input)))
        });
    }
}

/// Envelope v1 (a sealed login token): the 32-byte HMAC tag differs in byte 0 or byte 31.
fn envelope_tag(runner: &mut CtRunner, rng: &mut BenchRng) {
    let ring = ring();
    let token = LoginToken::builder("alice")
        .issue_sealed(&ring, now(), &mut ChaCha20Rng::seed_from_u64(1))
        .unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
    let tag_at = raw.len() - 32;
    let make = |i: usize, v: u8| {
        let mut r = raw.clone();
        (r[tag_at + i] != v).then(|| {
            r[tag_at + i] = v;
            URL_SAFE_NO_PAD.encode(r)
        })
    };
    let policy = LoginPolicy::new();
    run(runner, rng, 32, make, |t| {
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
    let make = |i: usize, v: u8| {
        let mut m = mac.clone();
        (m[i] != v).then(|| {
            m[i] = v;
            STANDARD.encode(format!("{message}m={};", STANDARD.encode(m)))
        })
    };
    let policy = LoginPolicy::new();
    run(runner, rng, 16, make, |t| {
        LoginToken::verify_fotoweb(&ring, t, now(), &policy).is_ok()
    });
}

/// The full API key (`FWAPIToken`): presented keys that differ from the real one in their
/// first or their last byte (same length, printable ASCII).
fn api_key(runner: &mut CtRunner, rng: &mut BenchRng) {
    let text = "the site's full API key from its admin page, 0123456789";
    let key = fwtoken::ApiKey::from_text(text).unwrap();
    let make = |i: usize, v: u8| {
        let v = b'!' + v % 94;
        let mut b = text.as_bytes().to_vec();
        (b[i] != v).then(|| {
            b[i] = v;
            String::from_utf8(b).unwrap()
        })
    };
    run(runner, rng, text.len(), make, |t| key.verify_header(t));
}

/// `cargo bench --bench ct` passes `--bench`, which dudect's own `main` refuses, so this
/// one reads only `--filter NAME` and `--continuous NAME` and ignores the rest.
fn main() {
    use dudect_bencher::ctbench::{BenchMetadata, BenchName, BenchOpts, run_benches_console};
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let continuous = value("--continuous");
    let opts = BenchOpts {
        continuous: continuous.is_some(),
        filter: continuous.or_else(|| value("--filter")),
        ..BenchOpts::default()
    };
    let benches = vec![
        BenchMetadata {
            name: BenchName("envelope_tag"),
            seed: None,
            benchfn: envelope_tag,
        },
        BenchMetadata {
            name: BenchName("fotoweb_mac"),
            seed: None,
            benchfn: fotoweb_mac,
        },
        BenchMetadata {
            name: BenchName("api_key"),
            seed: None,
            benchfn: api_key,
        },
    ];
    run_benches_console(opts, benches).unwrap();
}
