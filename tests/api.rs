//! API tokens: the full key, issuing for a user, the site owner, expiry, purposes, JSON.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::time::Duration;

use fwtoken::time::{OffsetDateTime, macros::datetime};
use fwtoken::{
    API_TOKEN_INFO_MEDIA_TYPE, API_TOKEN_REQUEST_MEDIA_TYPE, ApiKey, ApiPolicy, ApiToken,
    ApiTokenInfo, ApiTokenRequest, DeviceToken, Error, KeyRing, KeySlot, LoginToken, Secret,
    api_token_from_headers,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const NOW: OffsetDateTime = datetime!(2016-03-31 16:11:00 UTC);

fn ring() -> KeyRing {
    KeyRing::new(Secret::from_text("site encryption secret for the API tests").unwrap())
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(3)
}

fn request(user: &str, duration: &str) -> ApiTokenRequest {
    ApiTokenRequest {
        un: user.into(),
        app: "CMS".into(),
        duration: duration.into(),
    }
}

fn issue(req: &ApiTokenRequest, policy: &ApiPolicy) -> fwtoken::Result<ApiTokenInfo> {
    ApiToken::issue(&ring(), req, NOW, policy, &mut rng())
}

#[test]
fn issue_then_verify() {
    let info = issue(&request("alice@corp.example", "PT60S"), &ApiPolicy::new()).unwrap();
    assert_eq!(info.expires, "2016-03-31T16:12:00Z");
    assert_eq!(
        info.expires_at().unwrap(),
        datetime!(2016-03-31 16:12:00 UTC)
    );
    let v = ApiToken::verify(&ring(), &info.token, NOW, Duration::ZERO).unwrap();
    assert_eq!(v.slot(), KeySlot::Primary);
    assert_eq!(v.user, "alice@corp.example");
    assert_eq!(v.app, "CMS");
    assert_eq!(v.issued_at, NOW);
    assert_eq!(v.expires, datetime!(2016-03-31 16:12:00 UTC));
    // Random IVs: the same request gives different tokens.
    let mut r = rng();
    let a = ApiToken::issue(
        &ring(),
        &request("bob", "P5D"),
        NOW,
        &ApiPolicy::new(),
        &mut r,
    );
    let b = ApiToken::issue(
        &ring(),
        &request("bob", "P5D"),
        NOW,
        &ApiPolicy::new(),
        &mut r,
    );
    assert_ne!(a.unwrap().token, b.unwrap().token);
}

#[test]
fn expires_is_utc_with_second_precision() {
    // A `now` with a fraction of a second and a non-UTC offset.
    let now = datetime!(2016-03-31 18:11:00.750 +02:00);
    let info = ApiToken::issue(
        &ring(),
        &request("alice", "P5D"),
        now,
        &ApiPolicy::new(),
        &mut rng(),
    )
    .unwrap();
    assert_eq!(info.expires, "2016-04-05T16:11:00Z");
    // A fractional duration is rounded up to the next whole second.
    let info = issue(&request("alice", "PT1.5S"), &ApiPolicy::new()).unwrap();
    assert_eq!(info.expires, "2016-03-31T16:11:02Z");
    let info = issue(&request("alice", "PT0.001S"), &ApiPolicy::new()).unwrap();
    assert_eq!(info.expires, "2016-03-31T16:11:01Z");
}

#[test]
fn site_owner_is_refused_in_every_form() {
    let policy = ApiPolicy::new().site_owner("admin");
    for user in [
        "admin",
        "Admin",
        "ADMIN",
        "admin@corp.example",
        "Admin@Other.Example",
        "CORP\\admin",
        "corp\\ADMIN",
    ] {
        assert_eq!(
            issue(&request(user, "PT60S"), &policy),
            Err(Error::DeniedUser),
            "{user}"
        );
    }
    // The owner configured in a domain form protects the plain name too.
    let policy = ApiPolicy::new().site_owner("CORP\\Admin");
    for user in ["admin", "admin@corp.example", "corp\\admin"] {
        assert_eq!(
            issue(&request(user, "PT60S"), &policy),
            Err(Error::DeniedUser),
            "{user}"
        );
    }
    // Names that only resemble the owner are fine.
    for user in [
        "administrator",
        "admin2",
        "sysadmin@corp.example",
        "CORP\\admins",
    ] {
        assert!(issue(&request(user, "PT60S"), &policy).is_ok(), "{user}");
    }
}

#[test]
fn owner_refusal_comes_before_duration_checks() {
    let policy = ApiPolicy::new().site_owner("admin");
    assert_eq!(
        issue(&request("admin", "P1Y"), &policy),
        Err(Error::DeniedUser)
    );
    assert_eq!(
        issue(&request("admin", "P30D"), &policy),
        Err(Error::DeniedUser)
    );
}

#[test]
fn expired_token_is_refused() {
    let info = issue(&request("alice", "PT60S"), &ApiPolicy::new()).unwrap();
    let expiry = datetime!(2016-03-31 16:12:00 UTC);
    assert!(ApiToken::verify(&ring(), &info.token, expiry, Duration::ZERO).is_ok());
    let late = expiry + time::Duration::seconds(1);
    assert_eq!(
        ApiToken::verify(&ring(), &info.token, late, Duration::ZERO),
        Err(Error::Expired { expired_at: expiry })
    );
    // Leeway extends the window, and only by itself.
    let leeway = Duration::from_secs(30);
    assert!(
        ApiToken::verify(
            &ring(),
            &info.token,
            expiry + time::Duration::seconds(30),
            leeway
        )
        .is_ok()
    );
    assert_eq!(
        ApiToken::verify(
            &ring(),
            &info.token,
            expiry + time::Duration::seconds(31),
            leeway
        ),
        Err(Error::Expired { expired_at: expiry })
    );
    // Issued in the future (beyond the leeway) is refused too.
    let early = NOW - time::Duration::seconds(31);
    assert_eq!(
        ApiToken::verify(&ring(), &info.token, early, leeway),
        Err(Error::NotYetValid { not_before: NOW })
    );
}

#[test]
fn tokens_of_other_purposes_are_refused() {
    let mut r = rng();
    let (device, _) = DeviceToken::issue(&ring(), "alice", NOW, &mut r).unwrap();
    assert_eq!(
        ApiToken::verify(&ring(), &device, NOW, Duration::ZERO),
        Err(Error::WrongPurpose)
    );
    let login = LoginToken::builder("alice")
        .issue_sealed(&ring(), NOW, &mut r)
        .unwrap();
    assert_eq!(
        ApiToken::verify(&ring(), &login, NOW, Duration::ZERO),
        Err(Error::WrongPurpose)
    );
    // And an API token is not a device token.
    let info = issue(&request("alice", "PT60S"), &ApiPolicy::new()).unwrap();
    assert_eq!(
        DeviceToken::verify(&ring(), &info.token),
        Err(Error::WrongPurpose)
    );
}

#[test]
fn altered_or_foreign_tokens_are_one_opaque_error() {
    let info = issue(&request("alice", "PT60S"), &ApiPolicy::new()).unwrap();
    let other = KeyRing::new(Secret::from_text("another site's encryption secret").unwrap());
    assert_eq!(
        ApiToken::verify(&other, &info.token, NOW, Duration::ZERO),
        Err(Error::InvalidSignature)
    );
    let mut bytes = info.token.clone().into_bytes();
    for i in [30, 45, bytes.len() / 2, bytes.len() - 2] {
        let orig = bytes[i];
        bytes[i] = if orig == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(
            ApiToken::verify(&ring(), &altered, NOW, Duration::ZERO),
            Err(Error::InvalidSignature),
            "byte {i}"
        );
        bytes[i] = orig;
    }
    assert!(matches!(
        ApiToken::verify(&ring(), "not a token", NOW, Duration::ZERO),
        Err(Error::Malformed(_))
    ));
    let huge = "A".repeat(5000);
    assert!(matches!(
        ApiToken::verify(&ring(), &huge, NOW, Duration::ZERO),
        Err(Error::TooLong { .. })
    ));
}

#[test]
fn rotation_keeps_tokens_valid_with_the_backup() {
    let info = issue(&request("alice", "PT60S"), &ApiPolicy::new()).unwrap();
    let rotated = ring()
        .rotate(Secret::from_text("the new site secret, long enough").unwrap())
        .unwrap();
    let v = ApiToken::verify(&rotated, &info.token, NOW, Duration::ZERO).unwrap();
    assert_eq!(v.slot(), KeySlot::Backup);
    assert!(v.needs_reissue());
    assert_eq!(
        ApiToken::verify(&rotated.retire_backup(), &info.token, NOW, Duration::ZERO),
        Err(Error::InvalidSignature)
    );
}

#[test]
fn maximum_duration_refuses_or_caps() {
    // Default: 7 days, longer refused.
    assert_eq!(
        issue(&request("alice", "P7D"), &ApiPolicy::new())
            .unwrap()
            .expires,
        "2016-04-07T16:11:00Z"
    );
    assert_eq!(
        issue(&request("alice", "P1W"), &ApiPolicy::new())
            .unwrap()
            .expires,
        "2016-04-07T16:11:00Z"
    );
    assert_eq!(
        issue(&request("alice", "P7DT1S"), &ApiPolicy::new()),
        Err(Error::LifetimeTooLong {
            max_secs: 7 * 86_400
        })
    );
    // Capped: the token gets the maximum.
    let capped = ApiPolicy::new()
        .max_duration(Duration::from_secs(3600))
        .cap_long_requests(true);
    assert_eq!(
        issue(&request("alice", "P5D"), &capped).unwrap().expires,
        "2016-03-31T17:11:00Z"
    );
    assert_eq!(
        issue(&request("alice", "PT10M"), &capped).unwrap().expires,
        "2016-03-31T16:21:00Z"
    );
    let refused = ApiPolicy::new().max_duration(Duration::from_secs(3600));
    assert_eq!(
        issue(&request("alice", "PT61M"), &refused),
        Err(Error::LifetimeTooLong { max_secs: 3600 })
    );
}

#[test]
fn bad_durations_are_refused() {
    for d in [
        "P1M",
        "P1Y",
        "PT0S",
        "-PT60S",
        "60",
        "",
        "PT18446744073709551616S",
    ] {
        let capped = ApiPolicy::new().cap_long_requests(true);
        let err = issue(&request("alice", d), &capped).unwrap_err();
        assert!(matches!(err, Error::InvalidDuration(_)), "{d}: {err:?}");
    }
    // An expiry past year 9999 cannot be written.
    let far = datetime!(9999-12-31 23:00:00 UTC);
    let policy = ApiPolicy::new();
    assert_eq!(
        ApiToken::issue(&ring(), &request("alice", "P1D"), far, &policy, &mut rng()),
        Err(Error::InvalidTime("expiry out of range"))
    );
}

#[test]
fn applications_can_be_restricted() {
    let policy = ApiPolicy::new()
        .allow_application("CMS")
        .allow_application("Portal");
    assert!(issue(&request("alice", "PT60S"), &policy).is_ok());
    let other = ApiTokenRequest {
        app: "cms".into(),
        ..request("alice", "PT60S")
    };
    assert_eq!(issue(&other, &policy), Err(Error::DeniedApplication));
    let bad = ApiTokenRequest {
        app: String::new(),
        ..request("alice", "PT60S")
    };
    assert!(matches!(
        issue(&bad, &ApiPolicy::new()),
        Err(Error::InvalidArgument(_))
    ));
    let bad = ApiTokenRequest {
        app: "a\nb".into(),
        ..request("alice", "PT60S")
    };
    assert!(matches!(
        issue(&bad, &ApiPolicy::new()),
        Err(Error::InvalidArgument(_))
    ));
    let long = ApiTokenRequest {
        app: "a".repeat(256),
        ..request("alice", "PT60S")
    };
    assert!(matches!(
        issue(&long, &ApiPolicy::new()),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn user_names_are_validated() {
    for user in ["", "a;b", "a=b", "a\u{7}b"] {
        assert!(
            matches!(
                issue(&request(user, "PT60S"), &ApiPolicy::new()),
                Err(Error::InvalidUserName(_))
            ),
            "{user:?}"
        );
    }
    let longest = "u".repeat(255);
    let app = "a".repeat(255);
    let req = ApiTokenRequest {
        app: app.clone(),
        ..request(&longest, "PT60S")
    };
    let info = issue(&req, &ApiPolicy::new()).unwrap();
    let v = ApiToken::verify(&ring(), &info.token, NOW, Duration::ZERO).unwrap();
    assert_eq!(
        (v.user.as_str(), v.app.as_str()),
        (longest.as_str(), app.as_str())
    );
    assert!(matches!(
        issue(&request(&"u".repeat(256), "PT60S"), &ApiPolicy::new()),
        Err(Error::InvalidUserName(_))
    ));
}

#[test]
fn request_constructor_writes_iso_durations() {
    let r = ApiTokenRequest::new("alice", "CMS", Duration::from_secs(60));
    assert_eq!(r, request("alice", "PT1M"));
    let r = ApiTokenRequest::new("alice", "CMS", Duration::from_secs(5 * 86_400));
    assert_eq!(r.duration, "P5D");
}

#[test]
fn full_key_comparison_with_presented_keys_of_every_length() {
    let text = "0123456789abcdef0123456789abcdef-full-api-key";
    let key = ApiKey::from_text(text).unwrap();
    assert!(key.verify_header(text));
    // Shorter, longer, prefixes, extensions, one character off, empty, huge.
    for n in 0..text.len() {
        assert!(!key.verify_header(&text[..n]), "prefix of {n}");
    }
    assert!(!key.verify_header(&format!("{text}x")));
    assert!(!key.verify_header(&format!("{text}{text}")));
    assert!(!key.verify_header(&format!(" {text}")));
    assert!(!key.verify_header(&text.to_uppercase()));
    assert!(!key.verify_header(&"x".repeat(100_000)));
    let mut off = text.to_string().into_bytes();
    off[10] ^= 1;
    assert!(!key.verify_header(std::str::from_utf8(&off).unwrap()));
}

#[test]
fn api_key_debug_does_not_leak() {
    let key = ApiKey::from_text("super-secret-full-api-key-value").unwrap();
    let dbg = format!("{key:?}");
    assert!(!dbg.contains("super-secret"), "{dbg}");
    assert!(
        dbg.contains(&key.secret().fingerprint().to_string()),
        "{dbg}"
    );
    let info = issue(&request("alice", "PT60S"), &ApiPolicy::new()).unwrap();
    let dbg = format!("{info:?}");
    assert!(!dbg.contains(&info.token), "{dbg}");
    assert!(dbg.contains("2016-03-31T16:12:00Z"), "{dbg}");
}

#[test]
fn header_extraction() {
    let headers = [
        ("Host", "dam.example.com"),
        ("fwAPItoken", "\t tok-123 "),
        ("Accept", "*/*"),
    ];
    assert_eq!(api_token_from_headers(headers), Ok(Some("tok-123")));
    assert_eq!(api_token_from_headers([("FWAPIToken", "a")]), Ok(Some("a")));
    assert_eq!(api_token_from_headers([("Accept", "*/*")]), Ok(None));
    assert_eq!(api_token_from_headers([]), Ok(None));
    // Similar names are other headers.
    assert_eq!(
        api_token_from_headers([("FWAPIToken2", "a"), ("X-FWAPIToken", "b")]),
        Ok(None)
    );
    // Ambiguous or empty is an error, not a guess.
    assert!(matches!(
        api_token_from_headers([("FWAPIToken", "a"), ("fwapitoken", "b")]),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(
        api_token_from_headers([("FWAPIToken", " ")]),
        Err(Error::Malformed(_))
    ));
    // A key in the query string is never used, even when the request line is passed along.
    let with_query = [
        (":path", "/fotoweb/archives/?FWAPIToken=key"),
        (":method", "GET"),
    ];
    assert_eq!(api_token_from_headers(with_query), Ok(None));
    // Works with owned header maps through a borrow.
    let owned: Vec<(String, String)> = vec![("FWAPIToken".into(), "owned".into())];
    let found = api_token_from_headers(owned.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    assert_eq!(found, Ok(Some("owned")));
}

#[test]
fn full_key_and_user_tokens_through_one_header() {
    let key = ApiKey::from_text("the site's full API key, 32 chars+").unwrap();
    let info = issue(&request("alice", "PT60S"), &ApiPolicy::new()).unwrap();
    for (presented, is_admin, user) in [
        ("the site's full API key, 32 chars+", true, None),
        (info.token.as_str(), false, Some("alice")),
    ] {
        let headers = [("FWAPIToken", presented)];
        let value = api_token_from_headers(headers).unwrap().unwrap();
        assert_eq!(key.verify_header(value), is_admin);
        let verified = ApiToken::verify(&ring(), value, NOW, Duration::ZERO).ok();
        assert_eq!(
            verified.map(|v| v.into_inner().user),
            user.map(String::from)
        );
    }
}

#[test]
fn media_types() {
    assert_eq!(
        API_TOKEN_REQUEST_MEDIA_TYPE,
        "application/vnd.fotoware.api-token-request+json"
    );
    assert_eq!(
        API_TOKEN_INFO_MEDIA_TYPE,
        "application/vnd.fotoware.api-token-info+json"
    );
}

#[cfg(feature = "serde")]
mod json {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn request_uses_fotoweb_field_names() {
        let body = r#"{"un": "alice", "app": "CMS", "duration": "PT60S"}"#;
        let req: ApiTokenRequest = serde_json::from_str(body).unwrap();
        assert_eq!(req, request("alice", "PT60S"));
        let back: Value = serde_json::to_value(&req).unwrap();
        assert_eq!(
            back,
            json!({"un": "alice", "app": "CMS", "duration": "PT60S"})
        );
        let again: ApiTokenRequest = serde_json::from_value(back).unwrap();
        assert_eq!(again, req);
    }

    #[test]
    fn request_is_strict() {
        for body in [
            r#"{"user": "alice", "app": "CMS", "duration": "PT60S"}"#,
            r#"{"un": "alice", "app": "CMS"}"#,
            r#"{"un": "alice", "app": "CMS", "duration": 60}"#,
            r#"{"un": "alice", "app": "CMS", "duration": "PT60S", "admin": true}"#,
        ] {
            assert!(
                serde_json::from_str::<ApiTokenRequest>(body).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn info_uses_fotoweb_field_names() {
        let info = issue(&request("alice", "PT60S"), &ApiPolicy::new()).unwrap();
        let v: Value = serde_json::to_value(&info).unwrap();
        assert_eq!(
            v,
            json!({"token": info.token, "expires": "2016-03-31T16:12:00Z"})
        );
        let back: ApiTokenInfo = serde_json::from_value(v).unwrap();
        assert_eq!(back, info);
        // FotoWeb's documented answer parses.
        let body = r#"{"token": "abc", "expires": "2016-03-31T16:12:00Z"}"#;
        let parsed: ApiTokenInfo = serde_json::from_str(body).unwrap();
        assert_eq!(parsed.token, "abc");
        assert_eq!(
            parsed.expires_at().unwrap(),
            datetime!(2016-03-31 16:12:00 UTC)
        );
    }

    #[test]
    fn full_round_trip_through_json() {
        // Back end -> server: the request body; server -> back end: the info body.
        let body = serde_json::to_string(&ApiTokenRequest::new(
            "bob",
            "Portal",
            Duration::from_secs(120),
        ))
        .unwrap();
        let req: ApiTokenRequest = serde_json::from_str(&body).unwrap();
        let info = issue(&req, &ApiPolicy::new()).unwrap();
        let answer = serde_json::to_string(&info).unwrap();
        let info: ApiTokenInfo = serde_json::from_str(&answer).unwrap();
        let v = ApiToken::verify(&ring(), &info.token, NOW, Duration::ZERO).unwrap();
        assert_eq!((v.user.as_str(), v.app.as_str()), ("bob", "Portal"));
        assert_eq!(v.expires, info.expires_at().unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_single_byte_change_is_refused(pos in 0usize..200, byte in any::<u8>()) {
        let info = issue(&request("alice", "PT60S"), &ApiPolicy::new()).unwrap();
        let mut raw = info.token.into_bytes();
        let pos = pos % raw.len();
        prop_assume!(raw[pos] != byte);
        raw[pos] = byte;
        if let Ok(text) = String::from_utf8(raw) {
            prop_assert!(ApiToken::verify(&ring(), &text, NOW, Duration::ZERO).is_err());
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = ApiToken::verify(&ring(), &text, NOW, Duration::from_secs(u64::MAX));
    }

    #[test]
    fn arbitrary_requests_never_panic(un in "\\PC{0,40}", app in "\\PC{0,20}", d in "[PTWDHMS0-9.]{0,12}") {
        let req = ApiTokenRequest { un, app, duration: d };
        if let Ok(info) = issue(&req, &ApiPolicy::new().site_owner("admin")) {
            let v = ApiToken::verify(&ring(), &info.token, NOW, Duration::ZERO).unwrap();
            prop_assert_eq!(&v.user, &req.un);
            prop_assert_eq!(&v.app, &req.app);
        }
    }
}

#[test]
fn the_published_api_vector_verifies_with_its_token_id() {
    // tests/vectors/envelope-v1.json, case `api`: payload v2 sealed by generate.py.
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("vectors/envelope-v1.json")).unwrap();
    let ring = KeyRing::new(Secret::from_text(doc["secret"].as_str().unwrap()).unwrap());
    let case = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["purpose"] == "api")
        .unwrap();
    let token = case["token"].as_str().unwrap();
    let now = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
    let claims = ApiToken::verify(&ring, token, now, Duration::ZERO).unwrap();
    assert_eq!(
        claims.token_id.to_string(),
        "101112131415161718191a1b1c1d1e1f"
    );
    assert_eq!(
        (claims.user.as_str(), claims.app.as_str()),
        ("alice", "CMS")
    );
    assert_eq!(claims.expires.unix_timestamp(), 1_764_604_800);
}

#[test]
fn every_issued_token_has_its_own_id_and_the_record_matches_the_claims() {
    let ring = ring();
    let mut r = ChaCha20Rng::seed_from_u64(12);
    let request = ApiTokenRequest::new("alice", "CMS", Duration::from_secs(3600));
    let now = datetime!(2026-11-24 10:00:00 UTC);
    let (a, rec) =
        ApiToken::issue_with_record(&ring, &request, now, &ApiPolicy::new(), &mut r).unwrap();
    let (b, _) =
        ApiToken::issue_with_record(&ring, &request, now, &ApiPolicy::new(), &mut r).unwrap();
    let ca = ApiToken::verify(&ring, &a.token, now, Duration::ZERO).unwrap();
    let cb = ApiToken::verify(&ring, &b.token, now, Duration::ZERO).unwrap();
    assert_ne!(ca.token_id, cb.token_id);
    assert_eq!(rec.id, ca.token_id);
    assert_eq!((rec.user.as_str(), rec.app.as_str()), ("alice", "CMS"));
    assert_eq!((rec.issued_at, rec.expires), (ca.issued_at, ca.expires));
    assert_eq!(a.expires_at().unwrap(), rec.expires);
}
