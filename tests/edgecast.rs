//! Edgecast token v3: the reference implementations' published vectors, decoding dialects,
//! caps, key rules, the key ring, parameters and request evaluation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use fwtoken::time::{OffsetDateTime, macros::datetime};
use fwtoken::{
    CountryCode, EdgeKey, EdgeKeyRing, EdgeParams, EdgeProto, EdgeRefusal, EdgeRequest, Error,
    IpNetwork, KeySlot, MAX_EDGE_PLAINTEXT, MAX_EDGE_TOKEN_CHARS,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

#[derive(serde::Deserialize)]
struct File {
    valid: Vec<Valid>,
    invalid: Vec<Invalid>,
}
#[derive(serde::Deserialize)]
struct Valid {
    key: String,
    token: String,
    plaintext: String,
    source: String,
}
#[derive(serde::Deserialize)]
struct Invalid {
    key: String,
    token: String,
    why: String,
}

fn vectors() -> File {
    serde_json::from_str(include_str!("vectors/ectoken-v3.json")).unwrap()
}

/// Strict when the key obeys the CDN's rule, legacy otherwise (and the strict constructor
/// must agree about which is which).
fn key(text: &str) -> EdgeKey {
    let strict_rule = text.bytes().all(|b| b.is_ascii_alphanumeric());
    match EdgeKey::new(text) {
        Ok(k) => {
            assert!(strict_rule, "{text}");
            k
        }
        Err(e) => {
            assert!(!strict_rule, "{text}");
            assert!(matches!(e, Error::InvalidSecret(_)));
            EdgeKey::new_legacy(text).unwrap()
        }
    }
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(5)
}

/// A generator that returns the given bytes (to replay a vector's nonce).
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

#[test]
fn published_vectors_decrypt() {
    let file = vectors();
    assert_eq!(file.valid.len(), 8);
    for v in &file.valid {
        let ring = EdgeKeyRing::new(key(&v.key));
        let out = ring
            .decrypt(&v.token)
            .unwrap_or_else(|e| panic!("{}: {e}", v.source));
        assert_eq!(out.value(), &v.plaintext, "{}", v.source);
        assert_eq!(out.slot(), KeySlot::Primary);
    }
}

#[test]
fn published_vectors_encrypt_byte_for_byte() {
    for v in &vectors().valid {
        let raw = URL_SAFE_NO_PAD.decode(&v.token).unwrap();
        let ring = EdgeKeyRing::new(key(&v.key));
        let token = ring
            .encrypt(&v.plaintext, &mut Fixed(raw[..12].to_vec()))
            .unwrap();
        assert_eq!(token, v.token, "{}", v.source);
    }
}

#[test]
fn published_vectors_open_with_the_backup_key() {
    for v in &vectors().valid {
        let ring = EdgeKeyRing::new(EdgeKey::new("SomeOtherPrimary1").unwrap())
            .with_backup(key(&v.key))
            .unwrap();
        let out = ring.decrypt(&v.token).unwrap();
        assert_eq!(out.slot(), KeySlot::Backup);
        assert!(out.needs_reissue());
        assert_eq!(out.value(), &v.plaintext);
        // A ring without that key refuses it, opaquely.
        let other = EdgeKeyRing::new(EdgeKey::new("SomeOtherPrimary1").unwrap());
        assert_eq!(
            other.decrypt(&v.token).unwrap_err(),
            Error::InvalidSignature
        );
    }
}

#[test]
fn parameter_vectors_parse_and_write_back_identically() {
    let mut parsed = 0;
    for v in vectors().valid.iter().filter(|v| v.plaintext.contains('=')) {
        let ring = EdgeKeyRing::new(key(&v.key));
        let params = ring.decrypt_params(&v.token).unwrap();
        assert_eq!(params.to_string(), v.plaintext, "{}", v.source);
        parsed += 1;
    }
    assert_eq!(parsed, 4);
    let p = EdgeParams::parse("ec_expire=1522944645&ec_clientip=0.0.0.0&ec_country_allow=US&ec_country_deny=NA&ec_ref_allow=1234&ec_ref_deny=456").unwrap();
    assert_eq!(p.expires_unix(), Some(1_522_944_645));
    assert_eq!(
        p.client_ip(),
        Some(IpNetwork::host("0.0.0.0".parse().unwrap()))
    );
    assert_eq!(p.country_allow(), [CountryCode::new("US").unwrap()]);
    assert_eq!(p.country_deny(), [CountryCode::new("NA").unwrap()]);
    assert_eq!(p.ref_allow(), ["1234"]);
    assert_eq!(p.ref_deny(), ["456"]);
    let p = EdgeParams::parse("ec_expire=1257642471&ec_secure=33").unwrap();
    assert_eq!(
        p.extra_params(),
        [("ec_secure".to_string(), "33".to_string())]
    );
}

#[test]
fn published_invalid_tokens_are_refused() {
    let file = vectors();
    assert_eq!(file.invalid.len(), 2);
    for v in &file.invalid {
        let ring = EdgeKeyRing::new(key(&v.key));
        let err = ring.decrypt(&v.token).unwrap_err();
        assert!(
            matches!(err, Error::Malformed(_) | Error::InvalidSignature),
            "{}: {err:?}",
            v.why
        );
    }
    // The short one fails on length, before any key is tried.
    let ring = EdgeKeyRing::new(key("testkey123"));
    assert_eq!(
        ring.decrypt("bs4W7wyy").unwrap_err(),
        Error::Malformed("too short")
    );
}

#[test]
fn all_four_dialects_decode() {
    for v in &vectors().valid {
        let ring = EdgeKeyRing::new(key(&v.key));
        let raw = URL_SAFE_NO_PAD.decode(&v.token).unwrap();
        for engine in [&URL_SAFE, &STANDARD, &STANDARD_NO_PAD] {
            let text = engine.encode(&raw);
            assert_eq!(ring.decrypt(&text).unwrap().value(), &v.plaintext, "{text}");
        }
    }
}

/// Issue 14, point 6: the C, C#, Java, Python, JS and Ruby decoders map `-`/`+` and
/// `_`/`/` onto the same digits and re-pad (VerizonDigital/ectoken `c-ectoken/ecencrypt/base64.c`
/// `base64_index`; npm `ectoken` `lib/ectoken-v3.js` `decode`), so a token with `-` replaced
/// by `+`, with `=` padding, or with both alphabets decrypts to the same plaintext.
#[test]
fn mixed_alphabets_and_padding_decode_as_deployed_decoders_do() {
    for v in &vectors().valid {
        let ring = EdgeKeyRing::new(key(&v.key));
        let url = &v.token;
        let raw = URL_SAFE_NO_PAD.decode(url).unwrap();
        let padded = URL_SAFE.encode(&raw);
        let plus = url.replace('-', "+");
        let slash = url.replace('_', "/");
        let std = STANDARD.encode(&raw);
        // Every other alphabet character swapped: both alphabets in one token.
        let mut flip = false;
        let mixed: String = url
            .chars()
            .map(|c| {
                let swapped = match c {
                    '-' => '+',
                    '_' => '/',
                    c => c,
                };
                if swapped != c {
                    flip = !flip;
                    if flip { swapped } else { c }
                } else {
                    c
                }
            })
            .collect();
        let mixed_padded = format!("{mixed}{}", &padded[url.len()..]);
        for text in [&padded, &plus, &slash, &std, &mixed, &mixed_padded] {
            assert_eq!(
                ring.decrypt(text).unwrap().value(),
                &v.plaintext,
                "{} {text}",
                v.source
            );
        }
    }
}

#[test]
fn bad_padding_garbage_and_trailing_bits_are_refused() {
    let v = &vectors().valid[4]; // my-secret-key: its token has '-' and '_'
    let ring = EdgeKeyRing::new(key(&v.key));
    let raw = URL_SAFE_NO_PAD.decode(&v.token).unwrap();
    let url = URL_SAFE_NO_PAD.encode(&raw);
    assert!(url.contains(['-', '_']));
    // Padding: extra, or where none belongs, or inside the text.
    let padded = URL_SAFE.encode(&raw[..raw.len() - 1]);
    assert!(padded.ends_with('='));
    assert!(
        ring.decrypt(padded.trim_end_matches('='))
            .is_err_and(|e| e == Error::InvalidSignature)
    );
    for bad in [
        format!("{padded}="),
        format!("{url}="),
        format!("{url}=="),
        format!("={url}"),
        format!("{}={}", &url[..8], &url[9..]),
    ] {
        assert!(
            matches!(ring.decrypt(&bad).unwrap_err(), Error::Malformed(_)),
            "{bad}"
        );
    }
    // Garbage and whitespace (percent-encoding too: npm ectoken's decodeURI leaves
    // %2B and %2F encoded, and no Edgecast generator percent-encodes).
    for bad in [
        "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%",
        "",
        " ",
        "é",
        "a b c d e f",
        &format!("{url}\n"),
        &format!(" {url}"),
        &url.replacen('-', "%2B", 1),
    ] {
        assert!(
            matches!(ring.decrypt(bad).unwrap_err(), Error::Malformed(_)),
            "{bad:?}"
        );
    }
    // Non-canonical trailing bits: the last character of a 2-byte-remainder encoding with low bits set.
    let short = URL_SAFE_NO_PAD.encode(&raw[..raw.len() - 1]);
    let last = short.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(last).unwrap();
    let bits = if short.len() % 4 == 2 { 0b1111 } else { 0b11 };
    assert_eq!(idx & bits, 0);
    let tweaked = format!(
        "{}{}",
        &short[..short.len() - 1],
        &alphabet[idx + 1..idx + 2]
    );
    assert_eq!(
        ring.decrypt(&tweaked).unwrap_err(),
        Error::Malformed("invalid base64")
    );
}

#[test]
fn token_cap_is_checked_before_decoding() {
    let ring = EdgeKeyRing::new(EdgeKey::new("CapKey").unwrap());
    let over = "%".repeat(MAX_EDGE_TOKEN_CHARS + 1);
    assert_eq!(
        ring.decrypt(&over).unwrap_err(),
        Error::TooLong {
            max: MAX_EDGE_TOKEN_CHARS
        }
    );
    let at_cap = "A".repeat(MAX_EDGE_TOKEN_CHARS);
    assert_eq!(ring.decrypt(&at_cap).unwrap_err(), Error::InvalidSignature);
}

#[test]
fn plaintext_limits() {
    let ring = EdgeKeyRing::new(EdgeKey::new("LimitKey").unwrap());
    let mut rng = rng();
    let max = "x".repeat(MAX_EDGE_PLAINTEXT);
    let token = ring.encrypt(&max, &mut rng).unwrap();
    assert_eq!(token.len(), MAX_EDGE_TOKEN_CHARS);
    assert_eq!(ring.decrypt(&token).unwrap().value(), &max);
    // Padded, that token is still within the cap.
    let padded = URL_SAFE.encode(URL_SAFE_NO_PAD.decode(&token).unwrap());
    assert_eq!(padded.len(), MAX_EDGE_TOKEN_CHARS);
    assert!(ring.decrypt(&padded).is_ok());
    let over = "x".repeat(MAX_EDGE_PLAINTEXT + 1);
    assert_eq!(
        ring.encrypt(&over, &mut rng).unwrap_err(),
        Error::TooLong {
            max: MAX_EDGE_PLAINTEXT
        }
    );
    assert_eq!(
        ring.encrypt("", &mut rng).unwrap_err(),
        Error::InvalidArgument("empty plaintext")
    );
    // A token with an empty plaintext (12 + 16 bytes) is refused as too short.
    let empty = URL_SAFE_NO_PAD.encode([0u8; 28]);
    assert_eq!(
        ring.decrypt(&empty).unwrap_err(),
        Error::Malformed("too short")
    );
}

#[test]
fn key_rules() {
    const LETTERS: &str =
        "an Edgecast key is letters and digits only (EdgeKey::new_legacy accepts older keys)";
    for (text, rule) in [
        ("", "empty"),
        ("has-dash", LETTERS),
        ("has_underscore", LETTERS),
        ("has space", LETTERS),
        ("nøkkel", LETTERS),
        ("MY_SECRET_KEY", LETTERS),
    ] {
        assert_eq!(
            EdgeKey::new(text).unwrap_err(),
            Error::InvalidSecret(rule),
            "{text}"
        );
    }
    assert!(EdgeKey::new(&"a".repeat(250)).is_ok());
    assert_eq!(
        EdgeKey::new(&"a".repeat(251)).unwrap_err(),
        Error::InvalidSecret("longer than 250 characters")
    );
    // The legacy constructor still refuses what no secret may be.
    assert!(EdgeKey::new_legacy("").is_err());
    assert!(EdgeKey::new_legacy(" padded ").is_err());
    assert!(EdgeKey::new_legacy("tab\there").is_err());
    assert!(EdgeKey::new_legacy(&"a".repeat(251)).is_err());
    // Case-sensitive.
    let mut rng = rng();
    let lower = EdgeKeyRing::new(EdgeKey::new("casekey").unwrap());
    let upper = EdgeKeyRing::new(EdgeKey::new("CASEKEY").unwrap());
    let token = lower.encrypt("ec_expire=1", &mut rng).unwrap();
    assert_eq!(upper.decrypt(&token).unwrap_err(), Error::InvalidSignature);
    // Generated keys obey the strict rule.
    let g = EdgeKey::generate(&mut rng);
    assert!(EdgeKey::new(g.expose_text()).is_ok());
    assert_eq!(EdgeKey::new(g.expose_text()).unwrap(), g);
}

#[test]
fn debug_does_not_leak_keys() {
    let key = EdgeKey::new("SuperSecretEdgeKey42").unwrap();
    let ring = EdgeKeyRing::new(key.clone())
        .with_backup(EdgeKey::new_legacy("legacy-secret-key").unwrap())
        .unwrap();
    for shown in [
        format!("{key:?}"),
        format!("{ring:?}"),
        format!("{ring:#?}"),
    ] {
        assert!(!shown.contains("SuperSecret"), "{shown}");
        assert!(!shown.contains("legacy-secret"), "{shown}");
        assert!(shown.contains(&key.fingerprint().to_string()), "{shown}");
    }
}

#[test]
fn ring_rotation() {
    let mut rng = rng();
    let a = EdgeKey::new("KeyA").unwrap();
    let b = EdgeKey::new("KeyB").unwrap();
    let c = EdgeKey::new("KeyC").unwrap();
    let ring = EdgeKeyRing::new(a.clone());
    let old = ring.encrypt("ec_expire=1", &mut rng).unwrap();
    assert_eq!(
        ring.clone().with_backup(a.clone()).unwrap_err(),
        Error::DuplicateKey
    );
    let ring = ring.rotate(b.clone()).unwrap();
    assert_eq!(ring.primary(), &b);
    assert_eq!(ring.backup(), Some(&a));
    assert_eq!(ring.decrypt(&old).unwrap().slot(), KeySlot::Backup);
    let new = ring.encrypt("ec_expire=2", &mut rng).unwrap();
    assert_eq!(ring.decrypt(&new).unwrap().slot(), KeySlot::Primary);
    assert_eq!(
        ring.clone().rotate(a.clone()).unwrap_err(),
        Error::DuplicateKey
    );
    assert_eq!(
        ring.clone().rotate(b.clone()).unwrap_err(),
        Error::DuplicateKey
    );
    let ring = ring.rotate(c).unwrap();
    assert_eq!(ring.backup(), Some(&b));
    assert_eq!(ring.decrypt(&old).unwrap_err(), Error::InvalidSignature);
    let ring = ring.retire_backup();
    assert!(ring.backup().is_none());
    assert_eq!(ring.decrypt(&new).unwrap_err(), Error::InvalidSignature);
}

#[test]
fn nonces_are_fresh() {
    let ring = EdgeKeyRing::new(EdgeKey::new("NonceKey").unwrap());
    let mut rng = rng();
    let a = ring.encrypt("ec_expire=1", &mut rng).unwrap();
    let b = ring.encrypt("ec_expire=1", &mut rng).unwrap();
    assert_ne!(a, b);
    assert_ne!(a[..16], b[..16]);
}

// ---------------------------------------------------------------- parameters

#[test]
fn builder_refuses_ambiguous_values() {
    for bad in [
        "/a&b",
        "/a,b",
        "/a=b",
        "/a b",
        "/a\tb",
        "/a\u{7}b",
        "/a\u{a0}b",
        "",
        "no-slash",
    ] {
        assert!(
            matches!(
                EdgeParams::builder().url_allow(bad).build().unwrap_err(),
                Error::InvalidArgument(_)
            ),
            "{bad:?}"
        );
    }
    for bad in ["a&b", "a=b", "a b", "", "a\nb"] {
        assert!(
            EdgeParams::builder().param("x", bad).build().is_err(),
            "{bad:?}"
        );
        assert!(
            EdgeParams::builder().param(bad, "1").build().is_err(),
            "{bad:?}"
        );
    }
    // A comma separates list items: each must be non-empty.
    assert!(EdgeParams::builder().param("x", "1,2").build().is_ok());
    for bad in [",", "1,", ",1", "1,,2"] {
        assert!(
            EdgeParams::builder().param("x", bad).build().is_err(),
            "{bad:?}"
        );
    }
    for bad in [
        "bad host", "*.", "a..b", ".a", "a.", "*a.com", "a.*.com", "a/b", "a:80",
    ] {
        assert!(
            EdgeParams::builder().host_allow(bad).build().is_err(),
            "{bad:?}"
        );
        assert!(
            EdgeParams::builder().host_deny(bad).build().is_err(),
            "{bad:?}"
        );
    }
    for bad in ["https://www.example.com", "/path", "", "a b"] {
        assert!(
            EdgeParams::builder().referrer_allow(bad).build().is_err(),
            "{bad:?}"
        );
    }
    for bad in ["U", "USA", "U1", "", "ÅÅ"] {
        assert!(
            EdgeParams::builder().country_allow(bad).build().is_err(),
            "{bad:?}"
        );
        assert!(CountryCode::new(bad).is_err(), "{bad:?}");
    }
    for bad in ["1.2.3.4/33", "1.2.3.0/024", "::1/129", "1.2.3", "host"] {
        assert!(
            EdgeParams::builder().client_ip_text(bad).build().is_err(),
            "{bad:?}"
        );
    }
    // Known names are typed; the first error is the one reported.
    assert!(
        EdgeParams::builder()
            .param("ec_expire", "1")
            .build()
            .is_err()
    );
    assert!(
        EdgeParams::builder()
            .param("EC_Expire", "1")
            .build()
            .is_err()
    );
    assert!(
        EdgeParams::builder()
            .param("x", "1")
            .param("x", "2")
            .build()
            .is_err()
    );
    let err = EdgeParams::builder()
        .country_allow("USA")
        .url_allow("x")
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidArgument("a country code is two ASCII letters")
    );
    assert_eq!(
        EdgeParams::builder().build().unwrap_err(),
        Error::InvalidArgument("no parameters")
    );
    assert!(
        EdgeParams::builder()
            .expires_at(datetime!(1969-12-31 23:59:59 UTC))
            .build()
            .is_err()
    );
    assert!(
        EdgeParams::builder()
            .expires_at_unix(253_402_300_800)
            .build()
            .is_err()
    );
    let long = format!("/{}", "a".repeat(MAX_EDGE_PLAINTEXT));
    assert_eq!(
        EdgeParams::builder().url_allow(&long).build().unwrap_err(),
        Error::TooLong {
            max: MAX_EDGE_PLAINTEXT
        }
    );
}

#[test]
fn builder_writes_every_parameter() {
    let p = EdgeParams::builder()
        .param("ec_secure", "1")
        .proto_deny(EdgeProto::Http)
        .proto_allow(EdgeProto::Https)
        .referrer_deny("*.bad.example/ads")
        .referrer_allow("www.example.com")
        .referrer_allow("missing")
        .host_deny("old.example.com")
        .host_allow("*.example.com")
        .url_allow("/videos/")
        .url_allow("/images/")
        .country_deny("kp")
        .country_allow("NO")
        .country_allow("se")
        .client_network(IpNetwork::new("2001:db8::".parse().unwrap(), 32).unwrap())
        .expires_at(datetime!(2026-11-24 10:00 UTC))
        .param("custom", "a,b")
        .build()
        .unwrap();
    let text = "ec_expire=1795514400&ec_clientip=2001:db8::/32&ec_country_allow=NO,SE&ec_country_deny=KP\
                &ec_url_allow=/videos/,/images/&ec_host_allow=*.example.com&ec_host_deny=old.example.com\
                &ec_ref_allow=www.example.com,missing&ec_ref_deny=*.bad.example/ads\
                &ec_proto_allow=https&ec_proto_deny=http&ec_secure=1&custom=a,b";
    assert_eq!(p.to_string(), text);
    assert_eq!(EdgeParams::parse(text).unwrap(), p);
    assert_eq!(text.parse::<EdgeParams>().unwrap(), p);
    // A single address is written bare, a network with its length.
    let one = EdgeParams::builder()
        .client_ip("203.0.113.7".parse().unwrap())
        .build()
        .unwrap();
    assert_eq!(one.to_string(), "ec_clientip=203.0.113.7");
    let net = EdgeParams::builder()
        .client_ip_text("203.0.113.0/24")
        .build()
        .unwrap();
    assert_eq!(net.to_string(), "ec_clientip=203.0.113.0/24");
    // Host bits past the prefix are cleared, as the CDN reads them (issue 14, point 2).
    let masked = EdgeParams::builder()
        .client_ip_text("11.22.33.0/22")
        .build()
        .unwrap();
    assert_eq!(masked.to_string(), "ec_clientip=11.22.32.0/22");
}

#[test]
fn parser_is_strict() {
    for bad in [
        "",
        "ec_expire",
        "=1",
        "ec_expire=",
        "ec_expire=1&",
        "&ec_expire=1",
        "ec_expire=1&&x=2",
        "ec_expire=01",
        "ec_expire=+1",
        "ec_expire=1,2",
        "ec_expire=18446744073709551616",
        "ec_expire=1&ec_expire=2",
        "x=1&x=2",
        "EC_EXPIRE=1",
        "Ec_Url_Allow=/a",
        "ec_url_allow=/a b",
        "ec_url_allow=/a,,/b",
        "ec_url_allow=/a,",
        "ec_url_allow=a",
        "ec_url_allow=/a=b",
        "ec_clientip=1.2.3.4,5.6.7.8",
        "ec_clientip=1.2.3.4/33",
        "ec_country_allow=USA",
        // Lower-case codes and protocols are refused, not folded (FORMAT.md table;
        // "Restricting Access by Protocol": "case-sensitive ... lower-case letters").
        "ec_country_allow=us",
        "ec_country_deny=Se",
        "ec_proto_allow=HTTPS",
        "ec_proto_deny=Http",
        "ec_proto_allow=ftp",
        "ec_ref_allow=www.example.com,evil org",
        "ec_ref_allow= x=y",
        "ec_host_allow=a..b",
        "ec_ref_deny=/x",
        "x=1\n",
        "x y=1",
    ] {
        assert!(EdgeParams::parse(bad).is_err(), "{bad:?}");
    }
    let long = format!("x={}", "a".repeat(MAX_EDGE_PLAINTEXT));
    assert_eq!(
        EdgeParams::parse(&long).unwrap_err(),
        Error::TooLong {
            max: MAX_EDGE_PLAINTEXT
        }
    );
    // Unknown parameters keep their order and come after the known ones.
    let p = EdgeParams::parse("z=9&ec_proto_allow=https&a=1&ec_country_deny=NO").unwrap();
    assert_eq!(p.proto_allow(), [EdgeProto::Https]);
    assert_eq!(p.country_deny()[0].as_str(), "NO");
    assert_eq!(
        p.to_string(),
        "ec_country_deny=NO&ec_proto_allow=https&z=9&a=1"
    );
    // A u64 expiry parses (evaluation handles it); the builder keeps within year 9999.
    assert_eq!(
        EdgeParams::parse("ec_expire=18446744073709551615")
            .unwrap()
            .expires_unix(),
        Some(u64::MAX)
    );
}

// ---------------------------------------------------------------- evaluation

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const NOW: OffsetDateTime = datetime!(2026-11-24 10:00 UTC);

fn req<'a>() -> EdgeRequest<'a> {
    EdgeRequest::new(
        NOW,
        ip("203.0.113.7"),
        EdgeProto::Https,
        "cdn.example.com",
        "/videos/intro.mp4",
    )
}

fn eval(params: &str, request: &EdgeRequest<'_>) -> Result<(), EdgeRefusal> {
    EdgeParams::parse(params)
        .unwrap()
        .evaluate(request, Duration::ZERO)
}

#[test]
fn evaluate_expiry_with_leeway() {
    let now = NOW.unix_timestamp();
    let p = EdgeParams::parse(&format!("ec_expire={now}")).unwrap();
    assert_eq!(p.evaluate(&req(), Duration::ZERO), Ok(()));
    let p = EdgeParams::parse(&format!("ec_expire={}", now - 1)).unwrap();
    assert_eq!(
        p.evaluate(&req(), Duration::ZERO),
        Err(EdgeRefusal::Expired)
    );
    assert_eq!(p.evaluate(&req(), Duration::from_secs(1)), Ok(()));
    let p = EdgeParams::parse(&format!("ec_expire={}", now - 61)).unwrap();
    assert_eq!(
        p.evaluate(&req(), Duration::from_secs(60)),
        Err(EdgeRefusal::Expired)
    );
    // Extreme values neither overflow nor panic.
    let p = EdgeParams::parse("ec_expire=18446744073709551615").unwrap();
    assert_eq!(p.evaluate(&req(), Duration::MAX), Ok(()));
    let p = EdgeParams::parse("ec_expire=0").unwrap();
    assert_eq!(p.evaluate(&req(), Duration::MAX), Ok(()));
    assert_eq!(
        p.evaluate(&req(), Duration::ZERO),
        Err(EdgeRefusal::Expired)
    );
    let before_1970 = EdgeRequest::new(
        datetime!(1960-01-01 0:00 UTC),
        ip("1.2.3.4"),
        EdgeProto::Http,
        "h",
        "/",
    );
    assert_eq!(p.evaluate(&before_1970, Duration::ZERO), Ok(()));
    assert_eq!(EdgeRefusal::Expired.param(), "ec_expire");
}

#[test]
fn evaluate_client_ip() {
    let table = [
        ("ec_clientip=203.0.113.7", "203.0.113.7", Ok(())),
        (
            "ec_clientip=203.0.113.7",
            "203.0.113.8",
            Err(EdgeRefusal::ClientIp),
        ),
        ("ec_clientip=203.0.113.0/24", "203.0.113.250", Ok(())),
        (
            "ec_clientip=203.0.113.0/24",
            "203.0.114.1",
            Err(EdgeRefusal::ClientIp),
        ),
        ("ec_clientip=203.0.113.0/24", "::ffff:203.0.113.9", Ok(())),
        (
            "ec_clientip=203.0.113.0/24",
            "2001:db8::1",
            Err(EdgeRefusal::ClientIp),
        ),
        ("ec_clientip=2001:db8::/32", "2001:db8:1::5", Ok(())),
        (
            "ec_clientip=2001:db8::/32",
            "2001:db9::5",
            Err(EdgeRefusal::ClientIp),
        ),
        ("ec_clientip=0.0.0.0/0", "198.51.100.1", Ok(())),
    ];
    for (params, client, want) in table {
        let r = EdgeRequest::new(NOW, ip(client), EdgeProto::Https, "cdn.example.com", "/");
        assert_eq!(eval(params, &r), want, "{params} {client}");
    }
}

#[test]
fn evaluate_country() {
    let no = CountryCode::new("NO").unwrap();
    let se = CountryCode::new("SE").unwrap();
    let table: [(&str, Option<CountryCode>, Result<(), EdgeRefusal>); 8] = [
        ("ec_country_allow=NO,SE", Some(no), Ok(())),
        (
            "ec_country_allow=NO",
            Some(se),
            Err(EdgeRefusal::CountryNotAllowed),
        ),
        (
            "ec_country_allow=NO",
            None,
            Err(EdgeRefusal::CountryNotAllowed),
        ),
        (
            "ec_country_deny=SE",
            Some(se),
            Err(EdgeRefusal::CountryDenied),
        ),
        ("ec_country_deny=SE", Some(no), Ok(())),
        ("ec_country_deny=SE", None, Ok(())),
        // Allow wins over deny (Azure CDN token-auth page: "the ec_country_allow
        // parameter takes precedence").
        (
            "ec_country_allow=NO,SE&ec_country_deny=SE",
            Some(se),
            Ok(()),
        ),
        (
            "ec_country_allow=NO&ec_country_deny=SE",
            Some(se),
            Err(EdgeRefusal::CountryDenied),
        ),
    ];
    for (params, country, want) in table {
        let r = match country {
            Some(c) => req().country(c),
            None => req(),
        };
        assert_eq!(eval(params, &r), want, "{params} {country:?}");
    }
}

#[test]
fn evaluate_url_prefix() {
    let table = [
        ("ec_url_allow=/videos/", "/videos/intro.mp4", Ok(())),
        ("ec_url_allow=/videos/", "/videos/", Ok(())),
        (
            "ec_url_allow=/videos/",
            "/videos",
            Err(EdgeRefusal::UrlNotAllowed),
        ),
        (
            "ec_url_allow=/videos/",
            "/images/a.jpg",
            Err(EdgeRefusal::UrlNotAllowed),
        ),
        (
            "ec_url_allow=/videos/",
            "/Videos/intro.mp4",
            Err(EdgeRefusal::UrlNotAllowed),
        ),
        ("ec_url_allow=/videos/,/images/", "/images/a.jpg", Ok(())),
        ("ec_url_allow=/videos", "/videos2/x", Ok(())),
        (
            "ec_url_allow=/videos/",
            "/videos/../secret/x",
            Err(EdgeRefusal::UrlNotAllowed),
        ),
        (
            "ec_url_allow=/videos/",
            "/videos/%2E%2e/secret/x",
            Err(EdgeRefusal::UrlNotAllowed),
        ),
        (
            "ec_url_allow=/videos/",
            "/videos/./a.mp4",
            Err(EdgeRefusal::UrlNotAllowed),
        ),
        ("ec_url_allow=/videos/", "/videos/a.mp4?x=../y", Ok(())),
        (
            "ec_expire=1",
            "/anything/../at/all",
            Err(EdgeRefusal::Expired),
        ),
        ("ec_secure=1", "/anything/../at/all", Ok(())),
    ];
    for (params, path, want) in table {
        let r = EdgeRequest::new(
            NOW,
            ip("203.0.113.7"),
            EdgeProto::Https,
            "cdn.example.com",
            path,
        );
        assert_eq!(eval(params, &r), want, "{params} {path}");
    }
}

#[test]
fn evaluate_host() {
    let table = [
        ("ec_host_allow=cdn.example.com", "cdn.example.com", Ok(())),
        (
            "ec_host_allow=cdn.example.com",
            "CDN.Example.com:443",
            Ok(()),
        ),
        ("ec_host_allow=cdn.example.com", "cdn.example.com.", Ok(())),
        (
            "ec_host_allow=cdn.example.com",
            "www.example.com",
            Err(EdgeRefusal::HostNotAllowed),
        ),
        ("ec_host_allow=*.example.com", "a.b.example.com", Ok(())),
        (
            "ec_host_allow=*.example.com",
            "example.com",
            Err(EdgeRefusal::HostNotAllowed),
        ),
        (
            "ec_host_allow=*.example.com",
            "evilexample.com",
            Err(EdgeRefusal::HostNotAllowed),
        ),
        (
            "ec_host_allow=*.example.com",
            "example.com.evil.org",
            Err(EdgeRefusal::HostNotAllowed),
        ),
        (
            "ec_host_deny=old.example.com",
            "old.example.com",
            Err(EdgeRefusal::HostDenied),
        ),
        ("ec_host_deny=old.example.com", "new.example.com", Ok(())),
        // Deny beats allow, also through a wildcard.
        (
            "ec_host_allow=*.example.com&ec_host_deny=old.example.com",
            "old.example.com",
            Err(EdgeRefusal::HostDenied),
        ),
        (
            "ec_host_allow=old.example.com&ec_host_deny=*.example.com",
            "old.example.com",
            Err(EdgeRefusal::HostDenied),
        ),
    ];
    for (params, host, want) in table {
        let r = EdgeRequest::new(NOW, ip("203.0.113.7"), EdgeProto::Https, host, "/");
        assert_eq!(eval(params, &r), want, "{params} {host}");
    }
}

#[test]
fn evaluate_referrer() {
    let table = [
        (
            "ec_ref_allow=www.example.com",
            Some("https://www.example.com/page"),
            Ok(()),
        ),
        // The host without its port; its case counts (next test).
        (
            "ec_ref_allow=www.example.com",
            Some("http://www.example.com:8080"),
            Ok(()),
        ),
        (
            "ec_ref_allow=www.example.com",
            Some("http://WWW.example.com:8080"),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_allow=www.example.com",
            Some("https://other.example.com/"),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_allow=www.example.com",
            None,
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_allow=www.example.com",
            Some(""),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        ("ec_ref_allow=www.example.com,missing", None, Ok(())),
        ("ec_ref_allow=missing", Some(""), Ok(())),
        (
            "ec_ref_allow=missing",
            Some("https://www.example.com/"),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_allow=*.example.com",
            Some("https://a.example.com/x"),
            Ok(()),
        ),
        (
            "ec_ref_allow=*.example.com",
            Some("https://example.com/x"),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_allow=www.example.com/videos",
            Some("https://www.example.com/videos/1"),
            Ok(()),
        ),
        (
            "ec_ref_allow=www.example.com/videos",
            Some("https://www.example.com/images/1"),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_allow=www.example.com",
            Some("https://evil.org/?www.example.com"),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_allow=www.example.com",
            Some("https://www.example.com@evil.org/"),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_deny=missing",
            None,
            Err(EdgeRefusal::ReferrerDenied),
        ),
        (
            "ec_ref_deny=missing",
            Some("https://www.example.com/"),
            Ok(()),
        ),
        (
            "ec_ref_deny=*.evil.org",
            Some("https://x.evil.org/"),
            Err(EdgeRefusal::ReferrerDenied),
        ),
        (
            "ec_ref_deny=*.evil.org",
            Some("https://www.example.com/"),
            Ok(()),
        ),
        // Allow wins over deny (Azure CDN token-auth page: "ec_ref_allow takes
        // precedence").
        ("ec_ref_allow=missing&ec_ref_deny=missing", None, Ok(())),
        (
            "ec_ref_allow=*.example.com&ec_ref_deny=ads.example.com",
            Some("https://ads.example.com/"),
            Ok(()),
        ),
        (
            "ec_ref_allow=www.example.com&ec_ref_deny=ads.example.com",
            Some("https://ads.example.com/"),
            Err(EdgeRefusal::ReferrerDenied),
        ),
    ];
    for (params, referrer, want) in table {
        let r = match referrer {
            Some(x) => req().referrer(x),
            None => req(),
        };
        assert_eq!(eval(params, &r), want, "{params} {referrer:?}");
    }
}

/// "Token Auth Ignore URL Case" (MicrosoftDocs/azure-docs,
/// `articles/cdn/cdn-rules-engine-reference-features.md`): "The parameters affected by this
/// feature are: ec_url_allow, ec_ref_allow, ec_ref_deny"; "The default behavior is for URL
/// comparisons for Token Authentication to be case-sensitive". And Edgio's Token Auth
/// guide, `ec_ref_allow` / `ec_ref_deny`: "Do not include the protocol portion"; "This
/// header value must start with a value defined by this parameter"; example
/// `ec_ref_allow=www1.example.com/obj1,*.server2.example.com`.
#[test]
fn referrer_and_url_case_as_the_cdn_documents_it() {
    let with =
        |referrer: &'static str, ignore: bool| req().referrer(referrer).ignore_url_case(ignore);
    let table: Vec<(&str, EdgeRequest<'_>, Result<(), EdgeRefusal>)> = vec![
        // Case-sensitive by default, hosts included: the example.
        (
            "ec_ref_allow=Good.Example.com",
            with("https://good.example.com/", false),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_allow=Good.Example.com",
            with("https://good.example.com/", true),
            Ok(()),
        ),
        (
            "ec_ref_allow=Good.Example.com",
            with("https://Good.Example.com/", false),
            Ok(()),
        ),
        // ignore_url_case covers ec_ref_deny too: the second example.
        (
            "ec_ref_deny=bad.example.com/Private",
            with("https://bad.example.com/private", true),
            Err(EdgeRefusal::ReferrerDenied),
        ),
        (
            "ec_ref_deny=bad.example.com/Private",
            with("https://bad.example.com/private", false),
            Ok(()),
        ),
        (
            "ec_ref_deny=bad.example.com/Private",
            with("https://bad.example.com/Private/x", false),
            Err(EdgeRefusal::ReferrerDenied),
        ),
        // Edgio's example, item by item.
        (
            "ec_ref_allow=www1.example.com/obj1,*.server2.example.com",
            with("https://www1.example.com/obj1/page.html", false),
            Ok(()),
        ),
        (
            "ec_ref_allow=www1.example.com/obj1,*.server2.example.com",
            with("https://www1.example.com/obj2/page.html", false),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_allow=www1.example.com/obj1,*.server2.example.com",
            with("https://cdn.server2.example.com/any", false),
            Ok(()),
        ),
        (
            "ec_ref_allow=www1.example.com/obj1,*.server2.example.com",
            with("https://cdn.Server2.example.com/any", false),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_allow=www1.example.com/obj1,*.server2.example.com",
            with("https://cdn.Server2.example.com/any", true),
            Ok(()),
        ),
        // "Must start with": the referrer without its scheme, literally.
        (
            "ec_ref_allow=www1.example.com/obj1",
            with("https://www1.example.com:8443/obj1", false),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_allow=www1.example.com/obj1",
            with("https://www1.example.com/OBJ1", false),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_allow=www1.example.com/obj1",
            with("https://www1.example.com/OBJ1", true),
            Ok(()),
        ),
        // ec_url_allow, for completeness: the same feature.
        (
            "ec_url_allow=/Videos/",
            req().ignore_url_case(false),
            Err(EdgeRefusal::UrlNotAllowed),
        ),
    ];
    for (params, request, want) in table {
        assert_eq!(eval(params, &request), want, "{params} {request:?}");
    }
    // `req()`'s path is /videos/...: ignore_url_case lets /Videos/ through.
    assert_eq!(
        eval("ec_url_allow=/Videos/", &req().ignore_url_case(true)),
        Ok(())
    );
}

#[test]
fn evaluate_protocol() {
    let table = [
        ("ec_proto_allow=https", EdgeProto::Https, Ok(())),
        (
            "ec_proto_allow=https",
            EdgeProto::Http,
            Err(EdgeRefusal::ProtocolNotAllowed),
        ),
        ("ec_proto_allow=http,https", EdgeProto::Http, Ok(())),
        (
            "ec_proto_deny=http",
            EdgeProto::Http,
            Err(EdgeRefusal::ProtocolDenied),
        ),
        ("ec_proto_deny=http", EdgeProto::Https, Ok(())),
        // Allow wins over deny ("Restricting Access by Protocol": "the ec_proto_allow
        // parameter takes precedence over the ec_proto_deny parameter").
        (
            "ec_proto_allow=http&ec_proto_deny=http",
            EdgeProto::Http,
            Ok(()),
        ),
        (
            "ec_proto_allow=https&ec_proto_deny=http",
            EdgeProto::Http,
            Err(EdgeRefusal::ProtocolDenied),
        ),
    ];
    for (params, proto, want) in table {
        let r = EdgeRequest::new(NOW, ip("203.0.113.7"), proto, "cdn.example.com", "/");
        assert_eq!(eval(params, &r), want, "{params} {proto:?}");
    }
}

/// Issue 14, points 1 to 5: the rules as the CDN documents them, each case with its source.
/// AZ = <https://learn.microsoft.com/en-us/azure/cdn/cdn-token-auth>; EC = the pages under
/// <https://docs.edgecast.com/cdn/Content/Token-Based_Authentication/>.
#[test]
fn rules_as_the_cdn_documents_them() {
    let us = CountryCode::new("US").unwrap();
    let ca = CountryCode::new("CA").unwrap();
    let at = |client: &'static str, path: &'static str| {
        EdgeRequest::new(NOW, ip(client), EdgeProto::Https, "cdn.example.com", path)
    };
    let table: Vec<(&str, EdgeRequest<'_>, Result<(), EdgeRefusal>)> = vec![
        // 1. Allow wins over deny. AZ, ec_country_allow: "the ec_country_allow parameter
        // takes precedence".
        (
            "ec_country_allow=US&ec_country_deny=US",
            req().country(us),
            Ok(()),
        ),
        (
            "ec_country_allow=US&ec_country_deny=US",
            req().country(ca),
            Err(EdgeRefusal::CountryNotAllowed),
        ),
        // AZ, ec_ref_allow: the same precedence for referrers.
        (
            "ec_ref_allow=www.example.com&ec_ref_deny=www.example.com",
            req().referrer("https://www.example.com/"),
            Ok(()),
        ),
        // EC "Restricting Access by Protocol": "ec_proto_allow ... takes precedence".
        ("ec_proto_allow=https&ec_proto_deny=https", req(), Ok(())),
        // 2. EC "Restricting Access by IP Address" and AZ: 11.22.33.0/22 "allows requests
        // from IP addresses 11.22.32.1 to 11.22.35.254".
        ("ec_clientip=11.22.33.0/22", at("11.22.32.1", "/"), Ok(())),
        ("ec_clientip=11.22.33.0/22", at("11.22.35.254", "/"), Ok(())),
        (
            "ec_clientip=11.22.33.0/22",
            at("11.22.36.1", "/"),
            Err(EdgeRefusal::ClientIp),
        ),
        (
            "ec_clientip=11.22.33.0/22",
            at("11.22.31.255", "/"),
            Err(EdgeRefusal::ClientIp),
        ),
        // 3. EC "Restricting Access by URL": "Query strings are ignored by this
        // parameter"; a case-sensitive prefix of the path; a comma-separated list.
        (
            "ec_url_allow=/file.mp4",
            at("203.0.113.7", "/file.mp4?sig=1"),
            Ok(()),
        ),
        (
            "ec_url_allow=/file.mp4?sig",
            at("203.0.113.7", "/file.mp4?sig=1"),
            Err(EdgeRefusal::UrlNotAllowed),
        ),
        (
            "ec_url_allow=/marketing",
            at("203.0.113.7", "/marketing.htm?x=/secret"),
            Ok(()),
        ),
        (
            "ec_url_allow=/a/,/file.mp4",
            at("203.0.113.7", "/file.mp4?a/"),
            Ok(()),
        ),
        (
            "ec_url_allow=/videos/",
            at("203.0.113.7", "/VIDEOS/a.mp4"),
            Err(EdgeRefusal::UrlNotAllowed),
        ),
        // The CDN's "Token Auth Ignore URL Case" feature, as an option of the request.
        (
            "ec_url_allow=/videos/",
            at("203.0.113.7", "/VIDEOS/a.mp4").ignore_url_case(true),
            Ok(()),
        ),
        (
            "ec_url_allow=/videos/",
            at("203.0.113.7", "/images/a.mp4").ignore_url_case(true),
            Err(EdgeRefusal::UrlNotAllowed),
        ),
        // 4. EC "Restricting Access by Referrer", "Handling Missing or Blank Referrers":
        // "assign either a "Missing" or a blank value"; "The trailing comma ... allows
        // blank or missing referrers".
        ("ec_ref_allow=www.example.com,", req(), Ok(())),
        ("ec_ref_allow=www.example.com,", req().referrer(""), Ok(())),
        (
            "ec_ref_allow=www.example.com,",
            req().referrer("https://www.example.com/x"),
            Ok(()),
        ),
        (
            "ec_ref_allow=www.example.com,",
            req().referrer("https://evil.org/"),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        ("ec_ref_allow=Missing", req(), Ok(())),
        ("ec_ref_allow=MISSING", req().referrer("  "), Ok(())),
        (
            "ec_ref_allow=Missing",
            req().referrer("https://www.example.com/"),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_deny=Missing",
            req(),
            Err(EdgeRefusal::ReferrerDenied),
        ),
        (
            "ec_ref_deny=Missing",
            req().referrer("https://www.example.com/"),
            Ok(()),
        ),
        ("ec_ref_deny=,", req(), Err(EdgeRefusal::ReferrerDenied)),
        (
            "ec_ref_deny=evil.org,",
            req().referrer(""),
            Err(EdgeRefusal::ReferrerDenied),
        ),
        // "Referrers that are preceded by a space will be ignored": the item, not the token.
        (
            "ec_ref_allow=www.example.com, evil.org",
            req().referrer("https://www.example.com/"),
            Ok(()),
        ),
        (
            "ec_ref_allow=www.example.com, evil.org",
            req().referrer("https://evil.org/"),
            Err(EdgeRefusal::ReferrerNotAllowed),
        ),
        (
            "ec_ref_deny= www.example.com",
            req().referrer("https://www.example.com/"),
            Ok(()),
        ),
        // 5. EC "Restricting Access by Protocol": values are lower-case `http`/`https`
        // (upper case is refused when parsing; see parser_is_strict).
        ("ec_proto_allow=http,https", req(), Ok(())),
        ("ec_proto_deny=http", req(), Ok(())),
    ];
    for (params, request, want) in &table {
        assert_eq!(eval(params, request), *want, "{params} {request:?}");
    }
    // The parsed values, as written.
    let p = EdgeParams::parse("ec_ref_allow=www.example.com,, x.org,Missing").unwrap();
    assert_eq!(p.ref_allow(), ["www.example.com", "", " x.org", "Missing"]);
    assert_eq!(
        p.to_string(),
        "ec_ref_allow=www.example.com,, x.org,Missing"
    );
    let p = EdgeParams::parse("ec_clientip=11.22.33.0/22").unwrap();
    assert_eq!(
        p.client_ip(),
        Some(IpNetwork::new("11.22.32.0".parse().unwrap(), 22).unwrap())
    );
    assert_eq!(
        EdgeProto::parse("HTTPS").unwrap_err(),
        Error::InvalidArgument("protocol must be http or https, in lower case")
    );
}

/// Issue 14, point 7: every row of docs/FORMAT.md "Where fwtoken is stricter than the CDN",
/// in its order. The CDN's documentation does not settle these; fwtoken refuses.
#[test]
fn stricter_than_the_cdn_table() {
    let refused = [
        // a parameter given twice
        "ec_expire=1&ec_expire=2",
        "ec_url_allow=/a&ec_url_allow=/b",
        "x=1&x=2",
        // a known name in another case
        "EC_Expire=1",
        "ec_URL_allow=/a",
        // `=`, whitespace or a control character in a value
        "ec_url_allow=/a=b",
        "ec_url_allow=/a b",
        "ec_host_allow=a.com\u{7}",
        // an empty item outside the referrer lists
        "ec_url_allow=/a,",
        "ec_country_allow=US,,CA",
        // a space-preceded referrer item holding `=` or a control character
        "ec_ref_allow= a=b",
        "ec_ref_deny= a\u{1}",
        // leading zeros, a sign or a fraction in ec_expire
        "ec_expire=01",
        "ec_expire=+1",
        "ec_expire=1.5",
        // an ec_url_allow item not starting with `/`
        "ec_url_allow=videos/",
        // a referrer or host item that is not a bare [*.]name.name[/path]
        "ec_ref_allow=https://www.example.com",
        "ec_ref_allow=www.example.com:80",
        "ec_host_allow=cdn.example.com:443",
        "ec_host_deny=*example.com",
        // a lower-case country code
        "ec_country_allow=us",
        // a protocol not exactly http or https
        "ec_proto_allow=HTTPS",
        "ec_proto_deny=ftp",
        // ec_clientip with an invalid address or prefix
        "ec_clientip=300.1.1.1",
        "ec_clientip=1.2.3.0/33",
        "ec_clientip=::/129",
        "ec_clientip=1.2.3.0/024",
    ];
    for text in refused {
        assert!(
            matches!(EdgeParams::parse(text), Err(Error::Malformed(_))),
            "{text:?}"
        );
    }
    let at = |path: &'static str| {
        EdgeRequest::new(
            NOW,
            ip("203.0.113.7"),
            EdgeProto::Https,
            "cdn.example.com",
            path,
        )
    };
    // an allow list whose every item is ignored refuses every referrer, and no referrer
    assert_eq!(
        eval("ec_ref_allow= www.example.com", &req()),
        Err(EdgeRefusal::ReferrerNotAllowed)
    );
    assert_eq!(
        eval(
            "ec_ref_allow= www.example.com",
            &req().referrer("https://www.example.com/")
        ),
        Err(EdgeRefusal::ReferrerNotAllowed)
    );
    // a path with dot segments
    assert_eq!(
        eval("ec_url_allow=/videos/", &at("/videos/%2e%2E/secret")),
        Err(EdgeRefusal::UrlNotAllowed)
    );
    // an ec_url_allow item containing `?` matches nothing
    assert_eq!(
        eval("ec_url_allow=/a?b", &at("/a?b")),
        Err(EdgeRefusal::UrlNotAllowed)
    );
    // a host in both lists is denied
    assert_eq!(
        eval(
            "ec_host_allow=cdn.example.com&ec_host_deny=cdn.example.com",
            &req()
        ),
        Err(EdgeRefusal::HostDenied)
    );
    // an empty plaintext and a token over 512 characters
    let ring = EdgeKeyRing::new(EdgeKey::new("TableKey").unwrap());
    assert!(ring.encrypt("", &mut rng()).is_err());
    assert!(EdgeParams::parse("").is_err());
    assert_eq!(
        ring.decrypt(&"A".repeat(513)).unwrap_err(),
        Error::TooLong { max: 512 }
    );
}

#[test]
fn evaluate_reports_the_first_rule_in_order() {
    // Every rule fails; the refusals come in the documented order as rules are removed.
    let all = [
        ("ec_expire=1", EdgeRefusal::Expired),
        ("ec_clientip=10.0.0.1", EdgeRefusal::ClientIp),
        ("ec_country_deny=NO", EdgeRefusal::CountryDenied),
        ("ec_country_allow=SE", EdgeRefusal::CountryNotAllowed),
        ("ec_url_allow=/images/", EdgeRefusal::UrlNotAllowed),
        ("ec_host_deny=cdn.example.com", EdgeRefusal::HostDenied),
        ("ec_host_allow=www.example.com", EdgeRefusal::HostNotAllowed),
        ("ec_ref_deny=missing", EdgeRefusal::ReferrerDenied),
        (
            "ec_ref_allow=www.example.com",
            EdgeRefusal::ReferrerNotAllowed,
        ),
        ("ec_proto_deny=https", EdgeRefusal::ProtocolDenied),
        ("ec_proto_allow=http", EdgeRefusal::ProtocolNotAllowed),
    ];
    let r = req().country(CountryCode::new("NO").unwrap());
    for i in 0..all.len() {
        let text: Vec<&str> = all[i..].iter().map(|(p, _)| *p).collect();
        let params = EdgeParams::parse(&text.join("&")).unwrap();
        let refusal = params.evaluate(&r, Duration::ZERO).unwrap_err();
        assert_eq!(refusal, all[i].1);
        assert_eq!(refusal.param(), all[i].0.split('=').next().unwrap());
        assert_eq!(
            refusal.to_string(),
            format!("refused by {}", refusal.param())
        );
    }
    assert_eq!(eval("ec_secure=1&custom=x", &r), Ok(()));
}

// ---------------------------------------------------------------- properties

fn params_strategy() -> impl Strategy<Value = EdgeParams> {
    let word = "[a-z0-9]{1,8}";
    (
        proptest::option::of(0u64..=253_402_300_799),
        proptest::option::of((any::<[u8; 4]>(), 0u8..=32)),
        proptest::collection::vec("[A-Za-z]{2}", 0..3),
        proptest::collection::vec("[A-Za-z]{2}", 0..3),
        proptest::collection::vec("/[a-zA-Z0-9._~%/-]{0,12}", 0..3),
        proptest::collection::vec(("(\\*\\.)?", proptest::collection::vec(word, 1..3)), 0..3),
        proptest::collection::vec(
            prop_oneof![
                Just("missing".to_string()),
                "[a-z]{1,6}\\.[a-z]{2,3}(/[a-z]{0,5})?"
            ],
            0..3,
        ),
        proptest::collection::vec(
            prop_oneof![Just(EdgeProto::Http), Just(EdgeProto::Https)],
            0..2,
        ),
        proptest::collection::vec(
            (
                "x_[a-z]{1,5}",
                "[a-zA-Z0-9._~-]{1,6}(,[a-zA-Z0-9._~-]{1,6})?",
            ),
            0..3,
        ),
    )
        .prop_map(|(exp, net, ca, cd, urls, hosts, refs, protos, extra)| {
            let mut b = EdgeParams::builder();
            if let Some(e) = exp {
                b = b.expires_at_unix(e);
            }
            if let Some((addr, len)) = net {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                let addr = std::net::Ipv4Addr::from(u32::from_be_bytes(addr) & mask);
                b = b.client_network(IpNetwork::new(IpAddr::V4(addr), len).unwrap());
            }
            for c in &ca {
                b = b.country_allow(c);
            }
            for c in &cd {
                b = b.country_deny(c);
            }
            for u in &urls {
                b = b.url_allow(u);
            }
            for (i, (wild, labels)) in hosts.iter().enumerate() {
                let h = format!("{wild}{}", labels.join("."));
                b = if i % 2 == 0 {
                    b.host_allow(&h)
                } else {
                    b.host_deny(&h)
                };
            }
            for (i, r) in refs.iter().enumerate() {
                b = if i % 2 == 0 {
                    b.referrer_allow(r)
                } else {
                    b.referrer_deny(r)
                };
            }
            for (i, p) in protos.iter().enumerate() {
                b = if i % 2 == 0 {
                    b.proto_allow(*p)
                } else {
                    b.proto_deny(*p)
                };
            }
            let mut names = std::collections::HashSet::new();
            for (n, v) in &extra {
                if names.insert(n.clone()) {
                    b = b.param(n, v);
                }
            }
            // Never empty; a draw too long for one token falls back to a short set.
            match b.param("ec_secure", "1").build() {
                Ok(p) => p,
                Err(e) => {
                    assert_eq!(
                        e,
                        Error::TooLong {
                            max: MAX_EDGE_PLAINTEXT
                        }
                    );
                    EdgeParams::parse("ec_secure=1").unwrap()
                }
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trip_random_keys_and_params(key_text in "[A-Za-z0-9]{1,250}", params in params_strategy(), seed in any::<u64>()) {
        let ring = EdgeKeyRing::new(EdgeKey::new(&key_text).unwrap());
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let token = ring.encrypt_params(&params, &mut rng).unwrap();
        prop_assert!(token.len() <= MAX_EDGE_TOKEN_CHARS);
        prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let back = ring.decrypt_params(&token).unwrap();
        prop_assert_eq!(back.slot(), KeySlot::Primary);
        prop_assert_eq!(back.value(), &params);
        prop_assert_eq!(EdgeParams::parse(&params.to_string()).unwrap(), params);
    }

    #[test]
    fn round_trip_random_plaintexts(key_text in "[A-Za-z0-9]{1,40}", plaintext in "\\PC{1,80}", seed in any::<u64>()) {
        let ring = EdgeKeyRing::new(EdgeKey::new(&key_text).unwrap());
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        match ring.encrypt(&plaintext, &mut rng) {
            Ok(token) => prop_assert_eq!(ring.decrypt(&token).unwrap().into_inner(), plaintext),
            Err(e) => {
                prop_assert!(plaintext.len() > MAX_EDGE_PLAINTEXT);
                prop_assert_eq!(e, Error::TooLong { max: MAX_EDGE_PLAINTEXT });
            }
        }
    }

    #[test]
    fn any_flipped_bit_is_refused(bit in 0usize..(12 + 20 + 16) * 8, seed in any::<u64>()) {
        let ring = EdgeKeyRing::new(EdgeKey::new("FlipKey").unwrap());
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let token = ring.encrypt("ec_expire=1700000000", &mut rng).unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        raw[bit / 8] ^= 1 << (bit % 8);
        let forged = URL_SAFE_NO_PAD.encode(&raw);
        prop_assert_eq!(ring.decrypt(&forged).unwrap_err(), Error::InvalidSignature);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,600}") {
        let ring = EdgeKeyRing::new(EdgeKey::new("FuzzKey").unwrap());
        let _ = ring.decrypt(&text);
        let _ = EdgeParams::parse(&text);
    }
}
