//! Device tokens: issue and verify, the registry (cap, revoke one, revoke all, threads),
//! the FWSession cookie, and client-bound ids.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::sync::Arc;
use std::time::Duration;

use fwtoken::time::{OffsetDateTime, macros::datetime};
use fwtoken::{
    ApiPolicy, ApiToken, ApiTokenRequest, ClientBoundId, DeviceId, DevicePolicy, DeviceRecord,
    DeviceRegistry, DeviceToken, Error, KeyRing, KeySlot, MAX_CLIENT_ID_LEN, MemoryRegistry,
    SameSite, Secret, SessionCookie,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const NOW: OffsetDateTime = datetime!(2026-11-24 10:00:00 UTC);

fn ring() -> KeyRing {
    KeyRing::new(Secret::from_text("site encryption secret for the device tests").unwrap())
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn record(user: &str, r: &mut ChaCha20Rng) -> DeviceRecord {
    DeviceToken::issue(&ring(), user, NOW, r).unwrap().1
}

#[test]
fn issue_then_verify() {
    let mut r = rng(1);
    let (token, rec) = DeviceToken::issue(&ring(), "alice@corp.example", NOW, &mut r).unwrap();
    assert_eq!(rec.user, "alice@corp.example");
    assert_eq!(rec.issued_at, NOW);
    let v = DeviceToken::verify(&ring(), &token).unwrap();
    assert_eq!(v.slot(), KeySlot::Primary);
    assert_eq!(v.device_id, rec.device_id);
    assert_eq!(v.user, rec.user);
    assert_eq!(v.issued_at, rec.issued_at);
    // Every token gets its own random device id.
    let (_, other) = DeviceToken::issue(&ring(), "alice@corp.example", NOW, &mut r).unwrap();
    assert_ne!(other.device_id, rec.device_id);
}

#[test]
fn device_id_is_16_random_bytes_from_the_callers_rng() {
    let a = record("alice", &mut rng(7)).device_id;
    let b = record("alice", &mut rng(7)).device_id;
    assert_eq!(
        a, b,
        "same seed, same id: the id comes from the caller's rng"
    );
    let text = a.to_string();
    assert_eq!(text.len(), 32);
    assert!(
        text.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    );
    assert_eq!(text.parse::<DeviceId>().unwrap(), a);
    assert_eq!(DeviceId::from_bytes(a.to_bytes()), a);
    assert_eq!(format!("{a:?}"), format!("DeviceId({text})"));
    for bad in [
        "",
        &text[..31],
        &format!("{text}0"),
        &text.to_uppercase(),
        "0123456789abcdef0123456789abcdeg",
        "0123456789abcdef 123456789abcdef",
        "+123456789abcdef0123456789abcdef",
        "é123456789abcdef0123456789abcde",
    ] {
        assert!(
            matches!(bad.parse::<DeviceId>(), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn no_expiry_unless_the_policy_sets_a_maximum_age() {
    let mut r = rng(2);
    let (token, _) = DeviceToken::issue(&ring(), "alice", NOW, &mut r).unwrap();
    let much_later = datetime!(2099-01-01 00:00:00 UTC);
    assert!(DeviceToken::verify(&ring(), &token).is_ok());
    assert!(
        DeviceToken::verify_with_policy(&ring(), &token, much_later, &DevicePolicy::new()).is_ok()
    );

    let policy = DevicePolicy::new()
        .max_age(Some(Duration::from_secs(30 * 86_400)))
        .leeway(Duration::ZERO);
    let end = NOW + time::Duration::days(30);
    assert!(DeviceToken::verify_with_policy(&ring(), &token, end, &policy).is_ok());
    assert_eq!(
        DeviceToken::verify_with_policy(&ring(), &token, end + time::Duration::seconds(1), &policy),
        Err(Error::Expired { expired_at: end })
    );
    // The leeway applies to the maximum age as well.
    let lenient = policy.clone().leeway(Duration::from_secs(60));
    assert!(
        DeviceToken::verify_with_policy(
            &ring(),
            &token,
            end + time::Duration::seconds(60),
            &lenient
        )
        .is_ok()
    );
    // A token issued in the future (beyond the leeway) is refused.
    assert_eq!(
        DeviceToken::verify_with_policy(
            &ring(),
            &token,
            NOW - time::Duration::seconds(61),
            &lenient
        ),
        Err(Error::NotYetValid { not_before: NOW })
    );
    // A maximum age too large to add never binds (and never panics).
    let huge = DevicePolicy::new()
        .max_age(Some(Duration::MAX))
        .leeway(Duration::MAX);
    assert!(DeviceToken::verify_with_policy(&ring(), &token, much_later, &huge).is_ok());
}

#[test]
fn tokens_of_other_purposes_are_refused() {
    let info = ApiToken::issue(
        &ring(),
        &ApiTokenRequest::new("alice", "CMS", Duration::from_secs(60)),
        NOW,
        &ApiPolicy::new(),
        &mut rng(3),
    )
    .unwrap();
    assert_eq!(
        DeviceToken::verify(&ring(), &info.token),
        Err(Error::WrongPurpose)
    );
    let sealed = ClientBoundId::seal(
        &ring(),
        &DeviceId::from_bytes([0; 16]),
        "x",
        NOW,
        &mut rng(3),
    )
    .unwrap();
    assert_eq!(
        DeviceToken::verify(&ring(), &sealed),
        Err(Error::WrongPurpose)
    );
    let (token, rec) = DeviceToken::issue(&ring(), "alice", NOW, &mut rng(3)).unwrap();
    assert_eq!(
        ClientBoundId::open(&ring(), &rec.device_id, &token),
        Err(Error::WrongPurpose)
    );
}

#[test]
fn altered_or_foreign_tokens_are_refused() {
    let (token, _) = DeviceToken::issue(&ring(), "alice", NOW, &mut rng(4)).unwrap();
    let other = KeyRing::new(Secret::from_text("another site's encryption secret").unwrap());
    assert_eq!(
        DeviceToken::verify(&other, &token),
        Err(Error::InvalidSignature)
    );
    let mut b = token.into_bytes();
    b[40] = if b[40] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        DeviceToken::verify(&ring(), &String::from_utf8(b).unwrap()),
        Err(Error::InvalidSignature)
    );
    assert!(matches!(
        DeviceToken::verify(&ring(), ""),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(
        DeviceToken::verify(&ring(), &"A".repeat(10_000)),
        Err(Error::TooLong { .. })
    ));
}

#[test]
fn bad_user_names_are_refused() {
    for user in ["", "a;b", "a=b", "a\nb"] {
        assert!(matches!(
            DeviceToken::issue(&ring(), user, NOW, &mut rng(5)),
            Err(Error::InvalidUserName(_))
        ));
    }
    assert!(matches!(
        DeviceToken::issue(&ring(), &"u".repeat(256), NOW, &mut rng(5)),
        Err(Error::InvalidUserName(_))
    ));
    let (token, _) = DeviceToken::issue(&ring(), &"u".repeat(255), NOW, &mut rng(5)).unwrap();
    assert_eq!(
        DeviceToken::verify(&ring(), &token).unwrap().user.len(),
        255
    );
    let before_1970 = datetime!(1969-12-31 23:59:59 UTC);
    assert!(matches!(
        DeviceToken::issue(&ring(), "alice", before_1970, &mut rng(5)),
        Err(Error::InvalidTime(_))
    ));
}

#[test]
fn registry_cap() {
    let reg = MemoryRegistry::new();
    let mut r = rng(6);
    let cap = 3;
    let records: Vec<_> = (0..cap).map(|_| record("alice", &mut r)).collect();
    for rec in &records {
        reg.register(rec, cap).unwrap();
    }
    // The next device for the same user, in any letter case, is refused, and the error names the cap.
    for user in ["alice", "ALICE", "Alice"] {
        let extra = record(user, &mut r);
        let err = reg.register(&extra, cap).unwrap_err();
        assert_eq!(err, Error::DeviceLimit { max: 3 });
        assert!(err.to_string().contains("at most 3 device tokens"), "{err}");
        assert!(
            !reg.is_active(&extra.device_id).unwrap(),
            "a refused device is not stored"
        );
    }
    // Other users have their own allowance.
    reg.register(&record("bob", &mut r), cap).unwrap();
    assert_eq!(reg.devices_of("alice").len(), 3);
    assert_eq!(reg.devices_of("ALICE"), records);
    assert_eq!(reg.len(), 4);
    // Revoking one frees a place.
    assert!(reg.revoke(&records[1].device_id).unwrap());
    let again = record("alice", &mut r);
    reg.register(&again, cap).unwrap();
    assert_eq!(
        reg.register(&record("alice", &mut r), cap),
        Err(Error::DeviceLimit { max: 3 })
    );
    // A cap of zero allows nothing. Registering the same record again (a retry after a
    // lost answer) succeeds without a second slot; another record with that id fails.
    assert_eq!(
        reg.register(&record("carol", &mut r), 0),
        Err(Error::DeviceLimit { max: 0 })
    );
    reg.register(&again, 10).unwrap();
    assert_eq!(reg.devices_of("alice").len(), 3);
    let mut impostor = again.clone();
    impostor.user = "mallory".into();
    assert!(matches!(
        reg.register(&impostor, 10),
        Err(Error::InvalidArgument(_))
    ));
    // The policy's cap is what a server passes.
    let policy = DevicePolicy::new().max_devices_per_user(2);
    assert_eq!(DevicePolicy::new().device_cap(), 10);
    reg.register(&record("dave", &mut r), policy.device_cap())
        .unwrap();
    reg.register(&record("dave", &mut r), policy.device_cap())
        .unwrap();
    assert_eq!(
        reg.register(&record("dave", &mut r), policy.device_cap()),
        Err(Error::DeviceLimit { max: 2 })
    );
}

#[test]
fn registry_revoke_one() {
    let reg = MemoryRegistry::new();
    let mut r = rng(8);
    let (token_a, a) = DeviceToken::issue(&ring(), "alice", NOW, &mut r).unwrap();
    let (token_b, b) = DeviceToken::issue(&ring(), "alice", NOW, &mut r).unwrap();
    reg.register(&a, 10).unwrap();
    reg.register(&b, 10).unwrap();

    assert!(reg.revoke(&a.device_id).unwrap());
    assert!(!reg.revoke(&a.device_id).unwrap(), "already revoked");
    // The revoked token still verifies cryptographically; the registry is what refuses it.
    let va = DeviceToken::verify(&ring(), &token_a).unwrap();
    assert!(!reg.is_active(&va.device_id).unwrap());
    let vb = DeviceToken::verify(&ring(), &token_b).unwrap();
    assert!(reg.is_active(&vb.device_id).unwrap());
    assert_eq!(reg.devices_of("alice"), vec![b]);
    // Unknown devices are inactive and revoking them is a no-op.
    let unknown = DeviceId::from_bytes([9; 16]);
    assert!(!reg.is_active(&unknown).unwrap());
    assert!(!reg.revoke(&unknown).unwrap());
}

#[test]
fn registry_revoke_all_of_a_user() {
    let reg = MemoryRegistry::new();
    let mut r = rng(9);
    let alice: Vec<_> = (0..4).map(|_| record("alice", &mut r)).collect();
    let bob = record("bob", &mut r);
    for rec in alice.iter().chain([&bob]) {
        reg.register(rec, 10).unwrap();
    }
    assert_eq!(reg.revoke_user("ALICE").unwrap(), 4);
    for rec in &alice {
        assert!(!reg.is_active(&rec.device_id).unwrap());
    }
    assert!(reg.is_active(&bob.device_id).unwrap());
    assert_eq!(reg.revoke_user("alice").unwrap(), 0);
    assert!(reg.devices_of("alice").is_empty());
    assert_eq!(reg.len(), 1);
    // Alice can log in again afterwards, with the full allowance.
    for _ in 0..10 {
        reg.register(&record("alice", &mut r), 10).unwrap();
    }
    assert_eq!(reg.revoke_user("alice").unwrap(), 10);
    assert!(reg.revoke(&bob.device_id).unwrap());
    assert!(reg.is_empty());
}

#[test]
fn registry_is_shared_between_threads_and_the_cap_holds() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MemoryRegistry>();

    let reg = Arc::new(MemoryRegistry::new());
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let reg = Arc::clone(&reg);
            std::thread::spawn(move || {
                let mut r = rng(100 + t);
                let mut ok = 0;
                for _ in 0..10 {
                    match reg.register(&record("shared", &mut r), 25) {
                        Ok(()) => ok += 1,
                        Err(e) => assert_eq!(e, Error::DeviceLimit { max: 25 }),
                    }
                }
                ok
            })
        })
        .collect();
    let registered: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(registered, 25, "exactly the cap, whatever the interleaving");
    assert_eq!(reg.devices_of("shared").len(), 25);
}

#[test]
fn registry_works_behind_the_trait() {
    fn login<R: DeviceRegistry>(
        reg: &R,
        user: &str,
        r: &mut ChaCha20Rng,
    ) -> Result<String, R::Error> {
        let (token, rec) = DeviceToken::issue(&ring(), user, NOW, r)?;
        reg.register(&rec, 1)?;
        Ok(token)
    }
    let reg = MemoryRegistry::new();
    let mut r = rng(10);
    let token = login(&reg, "erin", &mut r).unwrap();
    assert_eq!(
        login(&reg, "erin", &mut r),
        Err(Error::DeviceLimit { max: 1 })
    );
    let dyn_reg: &dyn DeviceRegistry<Error = Error> = &reg;
    let id = DeviceToken::verify(&ring(), &token).unwrap().device_id;
    assert!(dyn_reg.is_active(&id).unwrap());
}

#[test]
fn set_cookie_values() {
    let token = "AbC-_09";
    assert_eq!(
        SessionCookie::new().set_cookie(token).unwrap(),
        "FWSession=AbC-_09; Path=/; HttpOnly; Secure; SameSite=Lax"
    );
    let custom = SessionCookie::new()
        .path("/fotoweb/")
        .domain("dam.example.com")
        .max_age(Some(Duration::from_secs(3600)))
        .same_site(Some(SameSite::Strict));
    assert_eq!(
        custom.set_cookie(token).unwrap(),
        "FWSession=AbC-_09; Path=/fotoweb/; Domain=dam.example.com; Max-Age=3600; HttpOnly; Secure; SameSite=Strict"
    );
    let bare = SessionCookie::new()
        .no_path()
        .http_only(false)
        .secure(false)
        .same_site(None);
    assert_eq!(bare.set_cookie(token).unwrap(), "FWSession=AbC-_09");
    let cross_site = SessionCookie::new().same_site(Some(SameSite::None));
    assert_eq!(
        cross_site.set_cookie(token).unwrap(),
        "FWSession=AbC-_09; Path=/; HttpOnly; Secure; SameSite=None"
    );
    assert_eq!(
        custom.removal().unwrap(),
        "FWSession=; Path=/fotoweb/; Domain=dam.example.com; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
    );
    // A real device token is a valid cookie value.
    let (real, _) = DeviceToken::issue(&ring(), "alice", NOW, &mut rng(11)).unwrap();
    let header = SessionCookie::new().set_cookie(&real).unwrap();
    assert_eq!(
        SessionCookie::find(header.split(';').next().unwrap()),
        Some(real.as_str())
    );
}

#[test]
fn set_cookie_refuses_what_would_break_the_header() {
    for bad in ["", "a b", "a;b", "a,b", "a\"b", "a\\b", "a\nb", "é"] {
        assert!(
            matches!(
                SessionCookie::new().set_cookie(bad),
                Err(Error::InvalidArgument(_))
            ),
            "{bad:?}"
        );
    }
    for bad in ["", "/a;Domain=evil", "/a\r\nX: y"] {
        assert!(
            SessionCookie::new().path(bad).set_cookie("t").is_err(),
            "{bad:?}"
        );
        assert!(
            SessionCookie::new().domain(bad).set_cookie("t").is_err(),
            "{bad:?}"
        );
    }
    let insecure_none = SessionCookie::new()
        .secure(false)
        .same_site(Some(SameSite::None));
    assert_eq!(
        insecure_none.set_cookie("t"),
        Err(Error::InvalidArgument("SameSite=None requires Secure"))
    );
    assert!(insecure_none.removal().is_err());
}

#[test]
fn cookie_parsing_with_several_cookies_and_quoted_values() {
    let cases: &[(&str, Option<&str>)] = &[
        ("FWSession=abc", Some("abc")),
        ("theme=dark; FWSession=abc; lang=nb", Some("abc")),
        ("theme=dark;FWSession=abc;lang=nb", Some("abc")),
        ("  theme=dark ;   FWSession=abc  ; lang=nb  ", Some("abc")),
        ("theme=dark;\tFWSession=abc\t", Some("abc")),
        ("FWSession = abc", Some("abc")),
        (r#"FWSession="abc""#, Some("abc")),
        // A ';' inside another cookie's quotes (not valid there) does not hide ours...
        (r#"a="x; y"; FWSession="abc"; b=2"#, Some("abc")),
        // ... and cannot smuggle in a value: the fragment is not a valid cookie value.
        (r#"a="; FWSession=evil"; FWSession=good"#, Some("good")),
        (r#"a="xy"; FWSession="abc"; b="q""#, Some("abc")),
        (r#"FWSession=" abc""#, None),
        (r#"FWSession="abc"#, None),
        (r#"FWSession=abc""#, None),
        (r#"FWSession="""#, None),
        (r#"FWSession=""#, None),
        ("FWSession=", None),
        ("FWSession", None),
        ("fwsession=abc", None),
        ("XFWSession=abc; FWSessionX=def", None),
        ("a=FWSession=abc", None),
        ("", None),
        (";;;", None),
        // Values with '=' (base64 padding elsewhere) stay whole.
        ("FWSession=ab=c", Some("ab=c")),
        // A stale or broken one is skipped for the next valid one.
        ("FWSession=bad value; FWSession=good", Some("good")),
        ("FWSession=first; FWSession=second", Some("first")),
    ];
    for (header, want) in cases {
        assert_eq!(SessionCookie::find(header), *want, "{header:?}");
    }
    let all: Vec<_> =
        SessionCookie::find_all(r#"FWSession="one"; x=1; FWSession=two; FWSession="#).collect();
    assert_eq!(all, ["one", "two"]);
}

#[test]
fn quoted_cookie_values_reach_a_good_token() {
    let (token, _) = DeviceToken::issue(&ring(), "alice", NOW, &mut rng(12)).unwrap();
    let header = format!(r#"_ga=GA1.2.3; FWSession="{token}"; other="a b""#);
    let found = SessionCookie::find(&header).unwrap();
    assert_eq!(DeviceToken::verify(&ring(), found).unwrap().user, "alice");
}

#[test]
fn image_id_opens_only_for_its_device() {
    let mut r = rng(13);
    let (_, mine) = DeviceToken::issue(&ring(), "alice", NOW, &mut r).unwrap();
    let (_, theirs) = DeviceToken::issue(&ring(), "bob", NOW, &mut r).unwrap();
    let id = "archive-5000/2026/IMG_0042.jpg";
    let sealed = ClientBoundId::seal(&ring(), &mine.device_id, id, NOW, &mut r).unwrap();
    let opened = ClientBoundId::open(&ring(), &mine.device_id, &sealed).unwrap();
    assert_eq!(opened.as_str(), id);
    assert_eq!(opened.slot(), KeySlot::Primary);
    assert_eq!(
        ClientBoundId::open(&ring(), &theirs.device_id, &sealed),
        Err(Error::InvalidSignature)
    );
    // One bit of difference in the device id is enough.
    let mut near = mine.device_id.to_bytes();
    near[15] ^= 1;
    assert_eq!(
        ClientBoundId::open(&ring(), &DeviceId::from_bytes(near), &sealed),
        Err(Error::InvalidSignature)
    );
    // Another ring, an altered id: the same opaque error.
    let other = KeyRing::new(Secret::from_text("another site's encryption secret").unwrap());
    assert_eq!(
        ClientBoundId::open(&other, &mine.device_id, &sealed),
        Err(Error::InvalidSignature)
    );
    let mut b = sealed.clone().into_bytes();
    b[50] = if b[50] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        ClientBoundId::open(&ring(), &mine.device_id, &String::from_utf8(b).unwrap()),
        Err(Error::InvalidSignature)
    );
    // Sealing twice gives different text (random IV), both open.
    let again = ClientBoundId::seal(&ring(), &mine.device_id, id, NOW, &mut r).unwrap();
    assert_ne!(again, sealed);
    assert_eq!(
        ClientBoundId::open(&ring(), &mine.device_id, &again)
            .unwrap()
            .as_str(),
        id
    );
}

#[test]
fn image_id_limits() {
    let dev = DeviceId::from_bytes([5; 16]);
    let mut r = rng(14);
    assert!(matches!(
        ClientBoundId::seal(&ring(), &dev, "", NOW, &mut r),
        Err(Error::InvalidArgument(_))
    ));
    let longest = "i".repeat(MAX_CLIENT_ID_LEN);
    let sealed = ClientBoundId::seal(&ring(), &dev, &longest, NOW, &mut r).unwrap();
    assert_eq!(
        ClientBoundId::open(&ring(), &dev, &sealed)
            .unwrap()
            .into_inner(),
        longest
    );
    assert_eq!(
        ClientBoundId::seal(
            &ring(),
            &dev,
            &"i".repeat(MAX_CLIENT_ID_LEN + 1),
            NOW,
            &mut r
        ),
        Err(Error::TooLong {
            max: MAX_CLIENT_ID_LEN
        })
    );
    let unicode = "bilder/Ærlig talt – 東京.jpg";
    let sealed = ClientBoundId::seal(&ring(), &dev, unicode, NOW, &mut r).unwrap();
    assert_eq!(
        ClientBoundId::open(&ring(), &dev, &sealed)
            .unwrap()
            .as_str(),
        unicode
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let dev = DeviceId::from_bytes([1; 16]);
        let _ = DeviceToken::verify(&ring(), &text);
        let _ = DeviceToken::verify_with_policy(&ring(), &text, NOW, &DevicePolicy::new());
        let _ = ClientBoundId::open(&ring(), &dev, &text);
        let _ = SessionCookie::find(&text);
        let _ = text.parse::<DeviceId>();
    }

    #[test]
    fn cookie_found_among_others(
        before in proptest::collection::vec(("[a-zA-Z_]{1,8}", "[a-zA-Z0-9]{0,8}"), 0..4),
        after in proptest::collection::vec(("[a-zA-Z_]{1,8}", "[a-zA-Z0-9]{0,8}"), 0..4),
        quoted in any::<bool>(),
        seed in any::<u64>(),
    ) {
        prop_assume!(before.iter().chain(&after).all(|(n, _)| n != "FWSession"));
        let (token, rec) = DeviceToken::issue(&ring(), "alice", NOW, &mut rng(seed)).unwrap();
        let value = if quoted { format!("\"{token}\"") } else { token.clone() };
        let mut pairs: Vec<String> = before.iter().map(|(n, v)| format!("{n}={v}")).collect();
        pairs.push(format!("FWSession={value}"));
        pairs.extend(after.iter().map(|(n, v)| format!("{n}={v}")));
        let header = pairs.join("; ");
        prop_assert_eq!(SessionCookie::find(&header), Some(token.as_str()));
        let v = DeviceToken::verify(&ring(), SessionCookie::find(&header).unwrap()).unwrap();
        prop_assert_eq!(v.device_id, rec.device_id);
    }
}
