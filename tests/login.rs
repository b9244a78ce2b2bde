//! Login tokens: FotoWeb byte-for-byte vectors, the sealed variant, policy, rotation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::time::Duration;

use base64::Engine as _;
use fwtoken::time::{OffsetDateTime, macros::datetime};
use fwtoken::{Error, KeyRing, KeySlot, LoginFormat, LoginPolicy, LoginToken, Secret, login_url};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

#[derive(serde::Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}
#[derive(serde::Deserialize)]
struct Vector {
    secret: String,
    user: String,
    start: i64,
    end: i64,
    widgets: bool,
    message: String,
    mac: String,
    token: String,
}

fn vectors() -> Vec<Vector> {
    let v: Vectors = serde_json::from_str(include_str!("vectors/login-fotoweb.json")).unwrap();
    v.vectors
}

fn t(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

fn ring(text: &str) -> KeyRing {
    KeyRing::new(Secret::from_text(text).unwrap())
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(7)
}

#[test]
fn fotoweb_tokens_match_hand_computed_vectors_byte_for_byte() {
    let vs = vectors();
    assert!(vs.len() >= 5);
    assert!(
        vs.iter().any(|v| !v.user.is_ascii()),
        "a non-ASCII user name is covered"
    );
    for v in &vs {
        let ring = ring(&v.secret);
        let token = LoginToken::builder(&v.user)
            .widgets(v.widgets)
            .start(t(v.start))
            .end(t(v.end))
            .issue(&ring, t(v.start))
            .unwrap();
        assert_eq!(token, v.token, "user {}", v.user);
        // The decoded text is exactly P + "m=" + MAC + ";".
        let text = base64::engine::general_purpose::STANDARD
            .decode(&token)
            .unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            format!("{}m={};", v.message, v.mac)
        );
        // And it verifies to the same claims.
        let policy = LoginPolicy::new().max_lifetime(Duration::from_secs(48 * 3600));
        let claims = LoginToken::verify(&ring, &v.token, t(v.start), &policy).unwrap();
        assert_eq!(claims.slot(), KeySlot::Primary);
        assert_eq!(claims.user, v.user);
        assert_eq!(claims.not_before, t(v.start));
        assert_eq!(claims.expires, t(v.end));
        assert_eq!(claims.widgets, v.widgets);
        assert_eq!(claims.format, LoginFormat::FotoWeb);
    }
}

#[test]
fn defaults_start_one_minute_before_and_end_thirty_minutes_after() {
    let ring = ring("a fotoweb site secret for tests");
    let now = datetime!(2026-11-24 10:00:30.750 UTC);
    for sealed in [false, true] {
        let b = LoginToken::builder("alice");
        let token = if sealed {
            b.issue_sealed(&ring, now, &mut rng()).unwrap()
        } else {
            b.issue(&ring, now).unwrap()
        };
        let c = LoginToken::verify(&ring, &token, now, &LoginPolicy::new()).unwrap();
        assert_eq!(c.not_before, datetime!(2026-11-24 09:59:30 UTC));
        assert_eq!(c.expires, datetime!(2026-11-24 10:30:30 UTC));
        assert_eq!(
            c.format,
            if sealed {
                LoginFormat::Sealed
            } else {
                LoginFormat::FotoWeb
            }
        );
    }
}

#[test]
fn issuing_refuses_injectable_user_names_and_bad_windows() {
    let ring = ring("a fotoweb site secret for tests");
    let now = datetime!(2026-11-24 10:00:00 UTC);
    for bad in [
        "",
        "a;w=true",
        "a=b",
        "tab\there",
        "nl\n",
        &"x".repeat(10_000),
    ] {
        let err = LoginToken::builder(bad).issue(&ring, now).unwrap_err();
        assert!(matches!(err, Error::InvalidUserName(_)), "{bad:?}: {err:?}");
        let err = LoginToken::builder(bad)
            .issue_sealed(&ring, now, &mut rng())
            .unwrap_err();
        assert!(matches!(err, Error::InvalidUserName(_)));
    }
    for ok in ["user", "user@domain.example", "DOMAIN\\user", "Jørgen"] {
        LoginToken::builder(ok).issue(&ring, now).unwrap();
    }
    let err = LoginToken::builder("alice")
        .start(now)
        .end(now - Duration::from_secs(1))
        .issue(&ring, now)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidTime(_)));
}

#[test]
fn window_edges_with_and_without_leeway() {
    let ring = ring("a fotoweb site secret for tests");
    let start = datetime!(2026-11-24 10:00:00 UTC);
    let end = datetime!(2026-11-24 10:30:00 UTC);
    let s = Duration::from_secs(1);
    for sealed in [false, true] {
        let b = LoginToken::builder("alice").start(start).end(end);
        let token = if sealed {
            b.issue_sealed(&ring, start, &mut rng()).unwrap()
        } else {
            b.issue(&ring, start).unwrap()
        };
        let strict = LoginPolicy::new().leeway(Duration::ZERO);
        let lenient = LoginPolicy::new(); // 60 s
        let v = |now, p: &LoginPolicy| LoginToken::verify(&ring, &token, now, p);
        // No leeway: [start, end] inclusive.
        assert!(
            matches!(v(start - s, &strict), Err(Error::NotYetValid { not_before }) if not_before == start)
        );
        assert!(v(start, &strict).is_ok());
        assert!(v(end, &strict).is_ok());
        assert!(
            matches!(v(end + s, &strict), Err(Error::Expired { expired_at }) if expired_at == end)
        );
        // 60 s leeway on both ends.
        let m = Duration::from_secs(60);
        assert!(v(start - m - s, &lenient).is_err());
        assert!(v(start - m, &lenient).is_ok());
        assert!(v(end + m, &lenient).is_ok());
        assert!(matches!(
            v(end + m + s, &lenient),
            Err(Error::Expired { .. })
        ));
    }
}

#[test]
fn maximum_lifetime_is_enforced() {
    let ring = ring("a fotoweb site secret for tests");
    let start = datetime!(2026-11-24 00:00:00 UTC);
    let day = Duration::from_secs(86_400);
    let ok = LoginToken::builder("alice")
        .start(start)
        .end(start + day)
        .issue(&ring, start)
        .unwrap();
    assert!(LoginToken::verify(&ring, &ok, start, &LoginPolicy::new()).is_ok());
    let long = LoginToken::builder("alice")
        .start(start)
        .end(start + day + Duration::from_secs(1))
        .issue(&ring, start)
        .unwrap();
    assert_eq!(
        LoginToken::verify(&ring, &long, start, &LoginPolicy::new()).unwrap_err(),
        Error::LifetimeTooLong { max_secs: 86_400 }
    );
}

#[test]
fn denied_user_is_refused_case_insensitively() {
    let ring = ring("a fotoweb site secret for tests");
    let now = datetime!(2026-11-24 10:00:00 UTC);
    let policy = LoginPolicy::new().deny_user("SiteOwner");
    for name in [
        "siteowner",
        "SITEOWNER",
        "SiteOwner@corp.example",
        "CORP\\siteOWNER",
    ] {
        let token = LoginToken::builder(name).issue(&ring, now).unwrap();
        assert_eq!(
            LoginToken::verify(&ring, &token, now, &policy).unwrap_err(),
            Error::DeniedUser,
            "{name}"
        );
        let sealed = LoginToken::builder(name)
            .issue_sealed(&ring, now, &mut rng())
            .unwrap();
        assert_eq!(
            LoginToken::verify(&ring, &sealed, now, &policy).unwrap_err(),
            Error::DeniedUser
        );
    }
    let token = LoginToken::builder("siteowner2").issue(&ring, now).unwrap();
    assert!(LoginToken::verify(&ring, &token, now, &policy).is_ok());
}

#[test]
fn rotation_backup_then_retired() {
    let old = Secret::from_text("the old fotoweb site secret").unwrap();
    let new = Secret::from_text("the new fotoweb site secret").unwrap();
    let now = datetime!(2026-11-24 10:00:00 UTC);
    let ring = KeyRing::new(old.clone());
    let fw = LoginToken::builder("alice").issue(&ring, now).unwrap();
    let sealed = LoginToken::builder("alice")
        .issue_sealed(&ring, now, &mut rng())
        .unwrap();

    let ring = ring.rotate(new.clone()).unwrap();
    assert_eq!(ring.primary(), &new);
    assert_eq!(ring.backup(), Some(&old));
    for token in [&fw, &sealed] {
        let v = LoginToken::verify(&ring, token, now, &LoginPolicy::new()).unwrap();
        assert_eq!(v.slot(), KeySlot::Backup);
        assert!(v.needs_reissue());
    }
    // New tokens are made with the new primary.
    let fresh = LoginToken::builder("alice").issue(&ring, now).unwrap();
    assert_eq!(
        LoginToken::verify(&ring, &fresh, now, &LoginPolicy::new())
            .unwrap()
            .slot(),
        KeySlot::Primary
    );

    let ring = ring.retire_backup();
    for token in [&fw, &sealed] {
        assert_eq!(
            LoginToken::verify(&ring, token, now, &LoginPolicy::new()).unwrap_err(),
            Error::InvalidSignature
        );
    }
}

#[test]
fn a_ring_never_holds_one_secret_twice() {
    let a = Secret::from_text("secret number one, long").unwrap();
    let b = Secret::from_text("secret number two, long").unwrap();
    assert_eq!(
        KeyRing::new(a.clone()).with_backup(a.clone()).unwrap_err(),
        Error::DuplicateKey
    );
    assert_eq!(
        KeyRing::new(a.clone()).rotate(a.clone()).unwrap_err(),
        Error::DuplicateKey
    );
    let ring = KeyRing::new(a.clone()).with_backup(b.clone()).unwrap();
    assert_eq!(ring.clone().rotate(b).unwrap_err(), Error::DuplicateKey);
    // Rotating drops the old backup.
    let c = Secret::from_text("secret number three, long").unwrap();
    let ring = ring.rotate(c.clone()).unwrap();
    assert_eq!(ring.primary(), &c);
    assert_eq!(ring.backup(), Some(&a));
}

#[test]
fn debug_shows_no_secret_byte() {
    let text = "zq9-Vx7-distinct-text-K4pw-mm81";
    let secret = Secret::from_text(text).unwrap();
    let backup = Secret::from_text("another-distinct-text-QW7-pp02").unwrap();
    let ring = KeyRing::new(secret.clone()).with_backup(backup).unwrap();
    for shown in [
        format!("{secret:?}"),
        format!("{secret:#?}"),
        format!("{ring:?}"),
        format!("{ring:#?}"),
    ] {
        assert!(!shown.contains(text), "{shown}");
        assert!(!shown.contains("another-distinct"), "{shown}");
        // No 5-character window of the secret appears either.
        for w in text.as_bytes().windows(5) {
            assert!(!shown.contains(std::str::from_utf8(w).unwrap()), "{shown}");
        }
        assert!(shown.contains(&secret.fingerprint().to_string()));
    }
}

#[test]
fn errors_never_contain_the_secret_or_payload() {
    let text = "errors-must-not-show-this-secret";
    let ring = ring(text);
    let now = datetime!(2026-11-24 10:00:00 UTC);
    let token = LoginToken::builder("payload-user-name")
        .issue(&ring, now)
        .unwrap();
    let mut bad = token.clone().into_bytes();
    bad[40] = if bad[40] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    let other = KeyRing::new(Secret::from_text("a different secret entirely").unwrap());
    for err in [
        LoginToken::verify(&ring, &bad, now, &LoginPolicy::new()).unwrap_err(),
        LoginToken::verify(&other, &token, now, &LoginPolicy::new()).unwrap_err(),
        Secret::from_text(&format!(" {text}")).unwrap_err(),
    ] {
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains(text) && !shown.contains("payload-user-name"),
            "{shown}"
        );
    }
}

#[test]
fn login_url_escapes_and_keeps_query() {
    assert_eq!(
        login_url("https://dam.example/fotoweb/", "a+b/c="),
        "https://dam.example/fotoweb/?lt=a%2Bb%2Fc%3D"
    );
    assert_eq!(
        login_url("https://dam.example/fotoweb/?x=1", "t"),
        "https://dam.example/fotoweb/?x=1&lt=t"
    );
    assert_eq!(
        login_url("https://dam.example/fotoweb/?", "t"),
        "https://dam.example/fotoweb/?lt=t"
    );
    assert_eq!(
        login_url("https://dam.example/?x=1#frag", "t"),
        "https://dam.example/?x=1&lt=t#frag"
    );
}

#[test]
fn strict_fotoweb_parse_refuses_variants_even_with_a_valid_mac() {
    // Build variants of a valid message, MAC them correctly, and check the strict parser refuses them.
    let secret = "a fotoweb site secret for tests";
    let ring = ring(secret);
    let now = datetime!(2026-11-24 10:00:00 UTC);
    let mac_token = |p: &str| {
        use md5::Digest as _;
        let mut h = md5::Md5::new();
        h.update(p.as_bytes());
        h.update(b"es=");
        h.update(secret.as_bytes());
        let mac = base64::engine::general_purpose::STANDARD.encode(h.finalize());
        base64::engine::general_purpose::STANDARD.encode(format!("{p}m={mac};"))
    };
    let good = "s=2026-11-24 09:59:00;e=2026-11-24 10:30:00;w=false;u=alice;";
    assert!(LoginToken::verify(&ring, &mac_token(good), now, &LoginPolicy::new()).is_ok());
    for bad in [
        "s=2026-11-24 09:59:00;s=2026-11-24 09:59:00;e=2026-11-24 10:30:00;w=false;u=alice;",
        "e=2026-11-24 10:30:00;s=2026-11-24 09:59:00;w=false;u=alice;",
        "s=2026-11-24 09:59:00;e=2026-11-24 10:30:00;u=alice;w=false;",
        "s=2026-11-24 09:59:00;e=2026-11-24 10:30:00;w=false;u=alice;x=1;",
        "s=2026-11-24T09:59:00;e=2026-11-24 10:30:00;w=false;u=alice;",
        "s=2026-11-24 09:59:00Z;e=2026-11-24 10:30:00;w=false;u=alice;",
        "s=2026-11-24 9:59:00;e=2026-11-24 10:30:00;w=false;u=alice;",
        "s=2026-11-24 09:59:00.0;e=2026-11-24 10:30:00;w=false;u=alice;",
        "s=2026-11-24 09:59:00;e=2026-11-24 10:30:00;w=False;u=alice;",
        "s=2026-11-24 09:59:00;e=2026-11-24 10:30:00;w=1;u=alice;",
        "s=2026-11-24 09:59:00;e=2026-11-24 10:30:00;w=false;u=;",
        "s=2026-11-24 09:59:00;e=2026-11-24 10:30:00;w=false;u=alice",
        "s=2026-02-30 09:59:00;e=2026-11-24 10:30:00;w=false;u=alice;",
    ] {
        let err = LoginToken::verify(&ring, &mac_token(bad), now, &LoginPolicy::new()).unwrap_err();
        assert!(
            matches!(err, Error::Malformed(_) | Error::InvalidUserName(_)),
            "{bad}: {err:?}"
        );
    }
    // Non-canonical outer base64 (missing padding) is malformed too.
    let t = mac_token(good);
    let unpadded = t.trim_end_matches('=');
    if unpadded != t {
        assert!(LoginToken::verify(&ring, unpadded, now, &LoginPolicy::new()).is_err());
    }
    assert_eq!(
        LoginToken::verify(
            &ring,
            &format!("cz0{}", "c".repeat(5000)),
            now,
            &LoginPolicy::new()
        )
        .unwrap_err(),
        Error::TooLong {
            max: fwtoken::MAX_FOTOWEB_TOKEN_CHARS
        }
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every single-byte change to a valid FotoWeb or sealed login token is refused.
    #[test]
    fn every_single_byte_change_is_refused(user in "[a-zA-Z0-9@._\\\\-]{1,24}", widgets: bool, seed: u64, replacement: u8) {
        let ring = ring("a fotoweb site secret for tests");
        let now = datetime!(2026-11-24 10:00:00 UTC);
        let b = LoginToken::builder(&user).widgets(widgets);
        let mut r = ChaCha20Rng::seed_from_u64(seed);
        for token in [b.issue(&ring, now).unwrap(), b.issue_sealed(&ring, now, &mut r).unwrap()] {
            prop_assert!(LoginToken::verify(&ring, &token, now, &LoginPolicy::new()).is_ok());
            for i in 0..token.len() {
                let mut bytes = token.clone().into_bytes();
                if bytes[i] == replacement {
                    continue;
                }
                bytes[i] = replacement;
                let Ok(mutated) = String::from_utf8(bytes) else { continue };
                prop_assert!(LoginToken::verify(&ring, &mutated, now, &LoginPolicy::new()).is_err(), "index {}", i);
            }
        }
    }

    /// Any truncation is refused.
    #[test]
    fn truncation_is_refused(seed: u64) {
        let ring = ring("a fotoweb site secret for tests");
        let now = datetime!(2026-11-24 10:00:00 UTC);
        let mut r = ChaCha20Rng::seed_from_u64(seed);
        let b = LoginToken::builder("alice");
        for token in [b.issue(&ring, now).unwrap(), b.issue_sealed(&ring, now, &mut r).unwrap()] {
            for n in 0..token.len() {
                prop_assert!(LoginToken::verify(&ring, &token[..n], now, &LoginPolicy::new()).is_err());
            }
        }
    }
}
