//! Fernet: every case of the specification's vectors, strict decoding, TTL and clock skew,
//! the key ring and `rotate`, and round trips.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use fwtoken::time::format_description::well_known::Rfc3339;
use fwtoken::time::{OffsetDateTime, macros::datetime};
use fwtoken::{DEFAULT_FERNET_CLOCK_SKEW, Error, FernetKey, FernetRing, KeySlot};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

#[derive(serde::Deserialize)]
struct Generate {
    token: String,
    now: String,
    iv: Vec<u8>,
    src: String,
    secret: String,
}
#[derive(serde::Deserialize)]
struct Verify {
    token: String,
    now: String,
    ttl_sec: u64,
    src: String,
    secret: String,
}
#[derive(serde::Deserialize)]
struct Invalid {
    desc: String,
    token: String,
    now: String,
    ttl_sec: u64,
    secret: String,
}

fn time(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap()
}

fn ring(secret: &str) -> FernetRing {
    FernetRing::new(FernetKey::from_base64(secret).unwrap())
}

/// A generator that returns the given bytes (to replay a vector's IV).
struct Fixed(Vec<u8>);

impl rand_chacha::rand_core::TryRng for Fixed {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        unreachable!()
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unreachable!()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        assert_eq!(dst.len(), self.0.len());
        dst.copy_from_slice(&self.0);
        Ok(())
    }
}

impl rand_chacha::rand_core::TryCryptoRng for Fixed {}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(7)
}

const SPEC_KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
const SPEC_TOKEN: &str = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";

#[test]
fn spec_generate() {
    let cases: Vec<Generate> =
        serde_json::from_str(include_str!("vectors/fernet/generate.json")).unwrap();
    assert!(!cases.is_empty());
    for c in &cases {
        let token = ring(&c.secret)
            .encrypt(c.src.as_bytes(), time(&c.now), &mut Fixed(c.iv.clone()))
            .unwrap();
        assert_eq!(token, c.token);
    }
}

#[test]
fn spec_verify() {
    let cases: Vec<Verify> =
        serde_json::from_str(include_str!("vectors/fernet/verify.json")).unwrap();
    assert!(!cases.is_empty());
    for c in &cases {
        let now = time(&c.now);
        let msg = ring(&c.secret)
            .decrypt(&c.token, now, Some(Duration::from_secs(c.ttl_sec)))
            .unwrap();
        assert_eq!(msg.plaintext, c.src.as_bytes());
        assert_eq!(msg.slot(), KeySlot::Primary);
        // The token was made one second before `now`.
        assert_eq!(msg.issued_at, now - Duration::from_secs(1));
    }
}

#[test]
fn spec_invalid() {
    let cases: Vec<Invalid> =
        serde_json::from_str(include_str!("vectors/fernet/invalid.json")).unwrap();
    assert_eq!(cases.len(), 8);
    for c in &cases {
        let err = ring(&c.secret)
            .decrypt(&c.token, time(&c.now), Some(Duration::from_secs(c.ttl_sec)))
            .unwrap_err();
        let expected = match c.desc.as_str() {
            "incorrect mac" | "payload padding error" | "incorrect IV (causes padding error)" => {
                matches!(err, Error::InvalidSignature)
            }
            "too short" | "invalid base64" | "payload size not multiple of block size" => {
                matches!(err, Error::Malformed(_))
            }
            "far-future TS (unacceptable clock skew)" => matches!(err, Error::NotYetValid { .. }),
            "expired TTL" => matches!(err, Error::Expired { .. }),
            other => panic!("unknown case {other}"),
        };
        assert!(expected, "{}: {err:?}", c.desc);
        // Without a TTL the time cases open; nothing else does.
        let untimed = ring(&c.secret).decrypt(&c.token, time(&c.now), None);
        assert_eq!(
            untimed.is_ok(),
            c.desc.contains("TS") || c.desc.contains("TTL"),
            "{}",
            c.desc
        );
    }
}

#[test]
fn decoding_is_canonical_padded_base64url_only() {
    let r = ring(SPEC_KEY);
    let now = datetime!(1985-10-26 08:20:01 UTC);
    assert!(r.decrypt(SPEC_TOKEN, now, None).is_ok());
    let raw = URL_SAFE.decode(SPEC_TOKEN).unwrap();
    let unpadded = URL_SAFE_NO_PAD.encode(&raw);
    let std = STANDARD.encode(&raw);
    assert_ne!(std, SPEC_TOKEN);
    for bad in [
        unpadded.clone(),
        format!("{SPEC_TOKEN}="),
        format!("{unpadded}="),
        std,
        format!(" {SPEC_TOKEN}"),
        format!("{SPEC_TOKEN}\n"),
        String::new(),
    ] {
        assert!(
            matches!(r.decrypt(&bad, now, None).unwrap_err(), Error::Malformed(_)),
            "{bad:?}"
        );
    }
    // Non-canonical trailing bits before the padding.
    let body = SPEC_TOKEN.trim_end_matches('=');
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(body.chars().last().unwrap()).unwrap();
    let tweaked = format!(
        "{}{}==",
        &body[..body.len() - 1],
        &alphabet[idx + 1..idx + 2]
    );
    assert_eq!(
        r.decrypt(&tweaked, now, None).unwrap_err(),
        Error::Malformed("invalid base64")
    );
    // A version byte other than 0x80.
    let mut other = raw.clone();
    other[0] = 0x81;
    assert_eq!(
        r.decrypt(&URL_SAFE.encode(&other), now, None).unwrap_err(),
        Error::Malformed("unsupported version")
    );
}

#[test]
fn key_text_rules() {
    let key = FernetKey::from_base64(SPEC_KEY).unwrap();
    assert_eq!(key.expose_base64(), SPEC_KEY);
    let raw = URL_SAFE.decode(SPEC_KEY).unwrap();
    let body = SPEC_KEY.trim_end_matches('=');
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(body.chars().last().unwrap()).unwrap();
    for bad in [
        body.to_string(),                                           // padding missing
        format!("{SPEC_KEY}="),                                     // extra padding
        STANDARD.encode(&raw),                                      // standard alphabet
        format!("{}{}=", &body[..42], &alphabet[idx + 1..idx + 2]), // trailing bits
        URL_SAFE.encode(&raw[..31]),                                // 31 bytes
        URL_SAFE.encode([raw.as_slice(), &[0]].concat()),           // 33 bytes
        String::new(),
        "%".repeat(44),
    ] {
        assert!(
            matches!(
                FernetKey::from_base64(&bad).unwrap_err(),
                Error::InvalidSecret(_)
            ),
            "{bad:?}"
        );
    }
    let mut rng = rng();
    let g = FernetKey::generate(&mut rng);
    assert_eq!(FernetKey::from_base64(&g.expose_base64()).unwrap(), g);
    assert_ne!(g, key);
}

#[test]
fn debug_does_not_leak_keys() {
    let key = FernetKey::from_base64(SPEC_KEY).unwrap();
    let ring = FernetRing::new(key.clone())
        .with_backup(FernetKey::generate(&mut rng()))
        .unwrap();
    let body = &SPEC_KEY[..20];
    for shown in [
        format!("{key:?}"),
        format!("{ring:?}"),
        format!("{ring:#?}"),
    ] {
        assert!(!shown.contains(body), "{shown}");
        assert!(shown.contains(&key.fingerprint().to_string()), "{shown}");
    }
    let msg = ring
        .decrypt(SPEC_TOKEN, datetime!(1985-10-26 08:20:01 UTC), None)
        .unwrap();
    assert!(!format!("{msg:?}").contains("hello"));
}

#[test]
fn ttl_and_clock_skew_boundaries() {
    let r = ring(SPEC_KEY);
    let ts = datetime!(1985-10-26 08:20:00 UTC);
    let ttl = Some(Duration::from_secs(60));
    // Exactly at the end of the TTL is still valid; a second later is not.
    assert!(
        r.decrypt(SPEC_TOKEN, ts + Duration::from_secs(60), ttl)
            .is_ok()
    );
    let err = r
        .decrypt(SPEC_TOKEN, ts + Duration::from_secs(61), ttl)
        .unwrap_err();
    assert_eq!(
        err,
        Error::Expired {
            expired_at: ts + Duration::from_secs(60)
        }
    );
    // Up to the skew (60 s) in the future is accepted; more is not.
    assert_eq!(r.clock_skew(), DEFAULT_FERNET_CLOCK_SKEW);
    assert!(
        r.decrypt(SPEC_TOKEN, ts - Duration::from_secs(60), ttl)
            .is_ok()
    );
    let err = r
        .decrypt(SPEC_TOKEN, ts - Duration::from_secs(61), ttl)
        .unwrap_err();
    assert_eq!(err, Error::NotYetValid { not_before: ts });
    // The skew is settable.
    let strict = r.clone().with_clock_skew(Duration::ZERO);
    assert!(strict.decrypt(SPEC_TOKEN, ts, ttl).is_ok());
    assert!(matches!(
        strict.decrypt(SPEC_TOKEN, ts - Duration::from_secs(1), ttl),
        Err(Error::NotYetValid { .. })
    ));
    let loose = r.clone().with_clock_skew(Duration::from_secs(3600));
    assert!(
        loose
            .decrypt(SPEC_TOKEN, ts - Duration::from_secs(3600), ttl)
            .is_ok()
    );
    // Without a TTL neither age nor skew is checked (as in the reference implementation).
    assert!(
        r.decrypt(SPEC_TOKEN, datetime!(2100-01-01 0:00 UTC), None)
            .is_ok()
    );
    assert!(
        r.decrypt(SPEC_TOKEN, datetime!(1970-01-01 0:00 UTC), None)
            .is_ok()
    );
    // A TTL of zero accepts only the token's own second; a huge TTL never overflows.
    assert!(r.decrypt(SPEC_TOKEN, ts, Some(Duration::ZERO)).is_ok());
    assert!(
        r.decrypt(
            SPEC_TOKEN,
            ts + Duration::from_secs(1),
            Some(Duration::ZERO)
        )
        .is_err()
    );
    assert!(
        r.decrypt(
            SPEC_TOKEN,
            datetime!(9999-12-31 23:59:59 UTC),
            Some(Duration::MAX)
        )
        .is_ok()
    );
    // Times before 1970 cannot be used.
    let mut rng = rng();
    assert!(matches!(
        r.encrypt(b"x", datetime!(1969-12-31 23:59:59 UTC), &mut rng),
        Err(Error::InvalidTime(_))
    ));
    assert!(matches!(
        r.decrypt(SPEC_TOKEN, datetime!(1969-12-31 23:59:59 UTC), ttl),
        Err(Error::InvalidTime(_))
    ));
}

#[test]
fn ring_slots_rotate_and_retire() {
    let mut rng = rng();
    let a = FernetKey::generate(&mut rng);
    let b = FernetKey::generate(&mut rng);
    let c = FernetKey::generate(&mut rng);
    let made_at = datetime!(2026-11-24 10:00 UTC);
    let later = datetime!(2026-11-24 11:00 UTC);
    let old_ring = FernetRing::new(a.clone());
    let old = old_ring.encrypt(b"payload", made_at, &mut rng).unwrap();
    assert_eq!(
        old_ring.clone().with_backup(a.clone()).unwrap_err(),
        Error::DuplicateKey
    );

    let ring = old_ring.rotate_key(b.clone()).unwrap();
    assert_eq!(ring.primary(), &b);
    assert_eq!(ring.backup(), Some(&a));
    let msg = ring.decrypt(&old, later, None).unwrap();
    assert_eq!(msg.slot(), KeySlot::Backup);
    assert!(msg.needs_reissue());

    // rotate: re-encrypted under the primary, same timestamp and plaintext, fresh IV.
    let fresh = ring.rotate(&old, &mut rng).unwrap();
    assert_ne!(fresh, old);
    let msg = ring.decrypt(&fresh, later, None).unwrap();
    assert_eq!(msg.slot(), KeySlot::Primary);
    assert_eq!(msg.issued_at, made_at);
    assert_eq!(msg.plaintext, b"payload");
    assert_eq!(
        &URL_SAFE.decode(&fresh).unwrap()[..9],
        &URL_SAFE.decode(&old).unwrap()[..9]
    );
    // Rotation keeps the age: a TTL still counts from the original time.
    assert!(matches!(
        ring.decrypt(&fresh, later, Some(Duration::from_secs(60))),
        Err(Error::Expired { .. })
    ));
    // A token of a key outside the ring cannot be rotated.
    let stranger = FernetRing::new(c.clone())
        .encrypt(b"x", made_at, &mut rng)
        .unwrap();
    assert_eq!(
        ring.rotate(&stranger, &mut rng).unwrap_err(),
        Error::InvalidSignature
    );

    assert_eq!(
        ring.clone().rotate_key(a.clone()).unwrap_err(),
        Error::DuplicateKey
    );
    assert_eq!(
        ring.clone().rotate_key(b.clone()).unwrap_err(),
        Error::DuplicateKey
    );
    let ring = ring
        .rotate_key(c)
        .unwrap()
        .with_clock_skew(Duration::from_secs(5));
    assert_eq!(ring.backup(), Some(&b));
    assert_eq!(ring.clock_skew(), Duration::from_secs(5));
    assert_eq!(
        ring.decrypt(&old, later, None).unwrap_err(),
        Error::InvalidSignature
    );
    assert_eq!(
        ring.decrypt(&fresh, later, None).unwrap().slot(),
        KeySlot::Backup
    );
    let ring = ring.retire_backup();
    assert!(ring.backup().is_none());
    assert_eq!(ring.clock_skew(), Duration::from_secs(5));
    assert_eq!(
        ring.decrypt(&fresh, later, None).unwrap_err(),
        Error::InvalidSignature
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trip(
        key in any::<[u8; 32]>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..300),
        ts in 0i64..=253_402_300_799,
        age in 0u64..1000,
        seed in any::<u64>(),
    ) {
        let key = FernetKey::from_base64(&URL_SAFE.encode(key)).unwrap();
        let ring = FernetRing::new(key);
        let made = OffsetDateTime::from_unix_timestamp(ts).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let token = ring.encrypt(&plaintext, made, &mut rng).unwrap();
        prop_assert_eq!(token.len() % 4, 0);
        let raw = URL_SAFE.decode(&token).unwrap();
        prop_assert_eq!(raw.len(), 1 + 8 + 16 + (plaintext.len() / 16 + 1) * 16 + 32);
        let msg = ring.decrypt(&token, made, None).unwrap();
        prop_assert_eq!(&msg.plaintext, &plaintext);
        prop_assert_eq!(msg.issued_at, made);
        if let Some(now) = made.checked_add(fwtoken::time::Duration::seconds(age as i64)) {
            let within = ring.decrypt(&token, now, Some(Duration::from_secs(age)));
            prop_assert!(within.is_ok());
        }
    }

    #[test]
    fn any_flipped_bit_is_refused(bit in 0usize..(1 + 8 + 16 + 16 + 32) * 8, seed in any::<u64>()) {
        let ring = ring(SPEC_KEY);
        let now = datetime!(2026-11-24 10:00 UTC);
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let token = ring.encrypt(b"fifteen bytes!!", now, &mut rng).unwrap();
        let mut raw = URL_SAFE.decode(&token).unwrap();
        raw[bit / 8] ^= 1 << (bit % 8);
        let err = ring.decrypt(&URL_SAFE.encode(&raw), now, None).unwrap_err();
        if bit < 8 {
            prop_assert_eq!(err, Error::Malformed("unsupported version"));
        } else {
            prop_assert_eq!(err, Error::InvalidSignature);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}", ttl in proptest::option::of(any::<u64>())) {
        let ring = ring(SPEC_KEY);
        let _ = ring.decrypt(&text, datetime!(2026-11-24 10:00 UTC), ttl.map(Duration::from_secs));
        let _ = FernetKey::from_base64(&text);
    }
}
