//! The bodies of the fuzz targets, shared by `fuzz/fuzz_targets/*.rs` (cargo fuzz, nightly)
//! and `tests/fuzz.rs` (ordinary `cargo test`, over the seed corpus and generated inputs),
//! so the targets cannot rot.
//!
//! Each body checks properties, not only the absence of panics:
//! - input the fuzzer made never verifies under the fixed ring unless it is byte-identical to
//!   a token the body itself produced;
//! - a valid token with any mutation applied never verifies;
//! - structured values survive a round trip unchanged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use std::sync::OnceLock;

use fwtoken::time::OffsetDateTime;
use fwtoken::{KeyRing, LoginPolicy, LoginToken, Secret};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// The fixed clock of every target: 2025-11-24T16:10:00Z.
pub const NOW: i64 = 1_764_000_600;

pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).unwrap()
}

/// The fixed ring: a primary and a backup.
pub fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        KeyRing::new(Secret::from_text("fuzz-backup-secret-0123456789").unwrap())
            .rotate(Secret::from_text("fuzz-primary-secret-0123456789").unwrap())
            .unwrap()
    })
}

/// A deterministic generator, so the tokens a body produces are the same on every run.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Applies a mutation described by `ops` to `token`; returns None when it is the identity.
/// Op bytes: kind, position (2 bytes), value.
pub fn mutate(token: &str, ops: &[u8]) -> Option<Vec<u8>> {
    let mut t = token.as_bytes().to_vec();
    for op in ops.chunks(4) {
        let [kind, p0, p1, value] =
            [op.first(), op.get(1), op.get(2), op.get(3)].map(|b| b.copied().unwrap_or(0));
        let pos = usize::from(u16::from_le_bytes([p0, p1]));
        match kind % 5 {
            0 if !t.is_empty() => {
                let i = pos % t.len();
                t[i] = value;
            }
            1 if !t.is_empty() => {
                let i = pos % t.len();
                t[i] ^= 1 << (value % 8);
            }
            2 => t.truncate(pos % (t.len() + 1)),
            3 => {
                let i = pos % (t.len() + 1);
                t.insert(i, value);
            }
            4 if !t.is_empty() => {
                let i = pos % t.len();
                t.remove(i);
            }
            _ => {}
        }
    }
    (t != token.as_bytes()).then_some(t)
}

/// Runs `verify` on fuzzer input; anything that verifies must be one of `produced`.
/// With a leading 0xFF byte the rest of the input is instead a mutation applied to one of
/// `produced`, which must then be refused.
fn check_verifier<T>(
    data: &[u8],
    produced: &[String],
    verify: impl Fn(&str) -> Result<T, fwtoken::Error>,
) {
    for p in produced {
        assert!(verify(p).is_ok(), "a token the target produced must verify");
    }
    if let [0xFF, pick, ops @ ..] = data {
        let original = &produced[usize::from(*pick) % produced.len()];
        if let Some(m) = mutate(original, ops) {
            if let Some(m) = text(&m) {
                assert!(
                    verify(m).is_err(),
                    "a mutated token verified: {m:?} from {original:?}"
                );
            }
        }
        return;
    }
    if let Some(t) = text(data) {
        if verify(t).is_ok() {
            assert!(
                produced.iter().any(|p| p == t),
                "fuzzer-made input verified: {t:?}"
            );
        }
    }
}

// ---- login tokens -------------------------------------------------------------------

fn login_tokens(sealed: bool) -> &'static [String] {
    static FW: OnceLock<Vec<String>> = OnceLock::new();
    static SEALED: OnceLock<Vec<String>> = OnceLock::new();
    let make = |sealed: bool| {
        let backup_only = KeyRing::new(ring().backup().unwrap().clone());
        let mut r = rng(1);
        let mut out = Vec::new();
        for (i, user) in ["alice", "CORP\\bob", "carol@example.com", "Jørgen"]
            .iter()
            .enumerate()
        {
            let b = LoginToken::builder(user).widgets(i % 2 == 1);
            for ring in [ring(), &backup_only] {
                out.push(if sealed {
                    b.issue_sealed(ring, now(), &mut r).unwrap()
                } else {
                    b.issue(ring, now()).unwrap()
                });
            }
        }
        out
    };
    if sealed {
        SEALED.get_or_init(|| make(true))
    } else {
        FW.get_or_init(|| make(false))
    }
}

/// Target `login_fotoweb`: FotoWeb login-token verification.
pub fn login_fotoweb(data: &[u8]) {
    let policy = LoginPolicy::new();
    check_verifier(data, login_tokens(false), |t| {
        LoginToken::verify_fotoweb(ring(), t, now(), &policy)
    });
}

/// Target `login_sealed`: sealed login-token verification.
pub fn login_sealed(data: &[u8]) {
    let policy = LoginPolicy::new();
    check_verifier(data, login_tokens(true), |t| {
        LoginToken::verify_sealed(ring(), t, now(), &policy)
    });
}

// ---- plain parsers --------------------------------------------------------------------

/// Target `secret_from_text`: accepted text comes back unchanged and never shows in `Debug`.
pub fn secret_from_text(data: &[u8]) {
    let Some(t) = text(data) else { return };
    match Secret::from_text(t) {
        Ok(s) => {
            assert_eq!(s.expose_text(), t);
            assert!((1..=250).contains(&t.len()));
            assert!(!t.chars().any(char::is_control));
            assert_eq!(s.fingerprint(), Secret::from_text(t).unwrap().fingerprint());
            if t.len() >= 12 {
                assert!(!format!("{s:?}").contains(t));
            }
        }
        Err(e) => assert!(t.len() < 8 || !e.to_string().contains(t)),
    }
}

/// Target `duration`: a parsed duration is positive and survives format → parse unchanged.
pub fn duration(data: &[u8]) {
    let Some(t) = text(data) else { return };
    if let Ok(d) = fwtoken::parse_duration(t) {
        assert!(!d.is_zero());
        let f = fwtoken::format_duration(d);
        assert_eq!(fwtoken::parse_duration(&f).unwrap(), d, "{t:?} -> {f:?}");
    }
}

/// Every target by name, for the test runner.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("login_fotoweb", login_fotoweb),
    ("login_sealed", login_sealed),
    ("secret_from_text", secret_from_text),
    ("duration", duration),
];

/// Seed inputs a target starts from (valid tokens and edge cases), written to
/// `fuzz/corpus/<target>/` by `tests/fuzz.rs` when `FWTOKEN_WRITE_CORPUS=1`.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = match target {
        "login_fotoweb" => login_tokens(false)
            .iter()
            .map(|t| t.as_bytes().to_vec())
            .collect(),
        "login_sealed" => login_tokens(true)
            .iter()
            .map(|t| t.as_bytes().to_vec())
            .collect(),
        "secret_from_text" => [
            "s",
            " lead",
            "trail ",
            "tab\tin",
            &"x".repeat(250),
            &"x".repeat(251),
            "ünïcødé secret",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        "duration" => [
            "PT60S",
            "P5D",
            "P1W",
            "P1DT2H30M",
            "PT1.5S",
            "P1Y",
            "P1M",
            "-P1D",
            "PT0S",
            "P",
            "PT",
            "PT18446744073709551615S",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        _ => Vec::new(),
    };
    out.push(Vec::new());
    out.push(vec![0xFF, 0, 0, 5, 0, b'A']);
    out
}
