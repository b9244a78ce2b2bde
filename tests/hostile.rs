//! Hostile input for every parser: each gives a clear error, never a panic, and the error
//! text never contains the secret or the unverified payload.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use fwtoken::time::OffsetDateTime;
use fwtoken::{Error, KeyRing, LoginPolicy, LoginToken, Secret};

const SECRET: &str = "hostile-input-secret-Zk29pQ";
/// A marker put inside payloads; it must never show in an error.
const PAYLOAD: &str = "PAYLOADMARKER";

fn ring() -> KeyRing {
    KeyRing::new(Secret::from_text(SECRET).unwrap())
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_764_000_600).unwrap()
}

/// The formatted error (Display and Debug) must not contain the secret or the payload marker.
fn clean(what: &str, err: &Error) {
    let shown = format!("{err} | {err:?}");
    assert!(!shown.contains(SECRET), "{what}: {shown}");
    assert!(!shown.contains(PAYLOAD), "{what}: {shown}");
    assert!(!shown.is_empty());
}

/// Inputs every text-token parser must refuse.
fn generic_hostile() -> Vec<(String, String)> {
    let mb = "A".repeat(1 << 20);
    let mut v: Vec<(String, String)> = vec![
        ("empty".into(), String::new()),
        ("one character".into(), "A".into()),
        ("1 MB".into(), mb),
        ("NUL bytes".into(), "\0".repeat(64)),
        ("NUL inside".into(), format!("AQ{}\0AAAA", "A".repeat(100))),
        ("spaces".into(), format!("AQ {}", "A".repeat(100))),
        ("non-ASCII".into(), format!("AQ{}é", "A".repeat(100))),
        ("payload marker".into(), PAYLOAD.repeat(10)),
        (
            "padding in the middle".into(),
            format!("AQ==AA{}", "A".repeat(100)),
        ),
        ("padding everywhere".into(), "=".repeat(128)),
    ];
    // Base64 of text with invalid UTF-8 and the marker, in every alphabet and padding.
    let junk = [b"\xff\xfe\xfd".as_slice(), PAYLOAD.as_bytes(), &[0u8; 60]].concat();
    for (name, enc) in [
        ("std padded", STANDARD.encode(&junk)),
        ("url padded", URL_SAFE.encode(&junk)),
        ("url unpadded", URL_SAFE_NO_PAD.encode(&junk)),
    ] {
        v.push((format!("base64 {name} of invalid UTF-8"), enc));
    }
    v
}

#[test]
fn login_verifiers_refuse_hostile_input() {
    let ring = ring();
    let policy = LoginPolicy::new();
    let mut inputs = generic_hostile();
    // At the caps and one over.
    inputs.push((
        "fotoweb cap".into(),
        format!("cz0{}", "A".repeat(fwtoken::MAX_FOTOWEB_TOKEN_CHARS - 3)),
    ));
    inputs.push((
        "fotoweb cap + 1".into(),
        format!("cz0{}", "A".repeat(fwtoken::MAX_FOTOWEB_TOKEN_CHARS - 2)),
    ));
    inputs.push(("envelope cap".into(), "A".repeat(4096)));
    inputs.push(("envelope cap + 1".into(), "A".repeat(4097)));
    // FotoWeb texts with injected, duplicated, reordered and extra fields, validly encoded.
    for text in [
        format!(
            "s=2025-11-24 16:00:00;e=2025-11-24 16:30:00;w=false;u=a;w=true;u={PAYLOAD};m=AAAAAAAAAAAAAAAAAAAAAA==;"
        ),
        format!(
            "u={PAYLOAD};s=2025-11-24 16:00:00;e=2025-11-24 16:30:00;w=false;m=AAAAAAAAAAAAAAAAAAAAAA==;"
        ),
        format!(
            "s=2025-11-24 16:00:00;e=2025-11-24 16:30:00;w=false;u={PAYLOAD}\u{1};m=AAAAAAAAAAAAAAAAAAAAAA==;"
        ),
        format!(
            "s=2025-11-24 16:00:00;e=2025-11-24 16:30:00;w=false;u={};m=AAAAAAAAAAAAAAAAAAAAAA==;",
            "x".repeat(10_000)
        ),
        "s=0000-00-00 00:00:00;e=9999-99-99 99:99:99;w=false;u=a;m=AAAAAAAAAAAAAAAAAAAAAA==;"
            .into(),
        "s=2025-11-24 16:00:00;e=2025-11-24 16:30:00;w=false;u=a;m=AAAAAAAAAAAAAAAAAAAAAA==;;"
            .into(),
        "s=2025-11-24 16:00:00;e=2025-11-24 16:30:00;w=false;u=a;m=AAAAAAAAAAAAAAAAAAAAAA==".into(),
        "s=2025-11-24 16:00:00;e=2025-11-24 16:30:00;w=false;u=a;m=AAAAAAAAAAAAAAAAAAAAAAA=;"
            .into(),
    ] {
        inputs.push((
            format!("fotoweb text {:.40}", text),
            STANDARD.encode(text.as_bytes()),
        ));
    }
    // Envelope headers with timestamps at 0 and u64::MAX (no valid tag: refused as such).
    for (ia, ea) in [(0u64, 0u64), (u64::MAX, u64::MAX), (0, u64::MAX)] {
        let mut raw = vec![1u8, 1, 0, 0, 0, 0];
        raw.extend_from_slice(&ia.to_be_bytes());
        raw.extend_from_slice(&ea.to_be_bytes());
        raw.extend_from_slice(&[0u8; 16 + 16 + 32]);
        inputs.push((
            format!("envelope times {ia}/{ea}"),
            URL_SAFE_NO_PAD.encode(&raw),
        ));
    }
    for (what, input) in &inputs {
        for (fmt, r) in [
            ("verify", LoginToken::verify(&ring, input, now(), &policy)),
            (
                "verify_fotoweb",
                LoginToken::verify_fotoweb(&ring, input, now(), &policy),
            ),
            (
                "verify_sealed",
                LoginToken::verify_sealed(&ring, input, now(), &policy),
            ),
        ] {
            let err = r.expect_err(what);
            clean(&format!("{fmt}: {what}"), &err);
        }
    }
}

#[test]
fn secret_text_refuses_hostile_input_without_echoing_it() {
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "empty"),
        ("\0".into(), "contains a control character"),
        (
            format!("{PAYLOAD}\0{PAYLOAD}"),
            "contains a control character",
        ),
        (format!(" {PAYLOAD}"), "leading or trailing whitespace"),
        (
            format!("{PAYLOAD}\u{3000}"),
            "leading or trailing whitespace",
        ),
        ("x".repeat(251), "longer than 250 bytes"),
        (PAYLOAD.repeat(100_000), "longer than 250 bytes"),
        // Found by the `secret_from_text` fuzz target: text that is part of the fixed
        // message. The error is the fixed rule, not an echo.
        (" secret:".into(), "leading or trailing whitespace"),
    ];
    for (text, rule) in &cases {
        let err = Secret::from_text(text).unwrap_err();
        assert_eq!(err, Error::InvalidSecret(rule));
        clean(rule, &err);
    }
}

#[test]
fn durations_refuse_hostile_input() {
    for text in [
        "",
        "P",
        "PT",
        "T1S",
        "1S",
        "p1d",
        "P1d",
        "PT1s",
        "P1Y",
        "P1M",
        "P1W1D",
        "P1DT",
        "PT1H1H",
        "PT1S1M",
        "P-1D",
        "-P1D",
        "+P1D",
        "PT0S",
        "P0D",
        "PT.5S",
        "PT1.S",
        "PT1.1234567891S",
        "PT1,5S",
        "PT1.5M",
        "P1.5D",
        "P 1D",
        "P1D ",
        "P\u{0}1D",
        "PT18446744073709551615H",
        "P99999999999999999999D",
        "P1DT1H1M1S1",
    ] {
        let err = fwtoken::parse_duration(text).expect_err(text);
        assert!(
            matches!(err, Error::InvalidDuration(_)),
            "{text:?}: {err:?}"
        );
    }
    let long = format!("PT{}S", "9".repeat(1 << 20));
    assert_eq!(
        fwtoken::parse_duration(&long).unwrap_err(),
        Error::TooLong {
            max: fwtoken::MAX_DURATION_LEN
        }
    );
}

/// The same hostile inputs against every other verifier and parser: API, device and
/// client-bound tokens, cache links and paths, Edgecast, Fernet, cookies, durations.
#[test]
fn every_other_parser_refuses_hostile_input() {
    use fwtoken::{
        ApiToken, CacheLinkSigner, ClientBoundId, DeviceId, DeviceToken, EdgeKey, EdgeKeyRing,
        EdgeParams, FernetKey, FernetRing, SessionCookie,
    };
    let ring = ring();
    let signer = CacheLinkSigner::new(&ring);
    let edge = EdgeKeyRing::new(EdgeKey::new("HostileEdgeKey").unwrap());
    let fernet = FernetRing::new(
        FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap(),
    );
    let dev = DeviceId::from_bytes([3; 16]);
    let mut inputs = generic_hostile();
    inputs.push(("envelope cap".into(), "A".repeat(4096)));
    inputs.push(("envelope cap + 1".into(), "A".repeat(4097)));
    inputs.push(("edgecast cap + 1".into(), "A".repeat(513)));
    inputs.push((
        "fernet padding in the middle".into(),
        format!("gAAA=AAA{}", "A".repeat(120)),
    ));
    inputs.push(("fernet u64::MAX timestamp".into(), {
        let mut raw = vec![0x80u8];
        raw.extend_from_slice(&u64::MAX.to_be_bytes());
        raw.extend_from_slice(&[0u8; 16 + 16 + 32]);
        URL_SAFE.encode(raw)
    }));
    for (what, input) in &inputs {
        let t = input.as_str();
        let errors = [
            (
                "api",
                ApiToken::verify(&ring, t, now(), std::time::Duration::from_secs(60)).err(),
            ),
            ("device", DeviceToken::verify(&ring, t).err()),
            ("image id", ClientBoundId::open(&ring, &dev, t).err()),
            ("cache open", signer.open(t, now(), None).err()),
            ("cache path", signer.parse_path(t, now(), None).err()),
            ("edge", edge.decrypt(t).err()),
            (
                "fernet",
                fernet
                    .decrypt(t, now(), Some(std::time::Duration::from_secs(60)))
                    .err(),
            ),
        ];
        for (parser, err) in errors {
            let err = err.unwrap_or_else(|| panic!("{parser} accepted {what}"));
            clean(&format!("{parser}: {what}"), &err);
        }
        // Parsers that may accept some of these must still never panic or echo a secret.
        if let Err(e) = EdgeParams::parse(t) {
            clean(&format!("edge params: {what}"), &e);
        }
        if let Err(e) = fwtoken::parse_duration(t) {
            clean(&format!("duration: {what}"), &e);
        }
        let _ = SessionCookie::find(t);
        let _ = SessionCookie::find_all(t).count();
    }
}
