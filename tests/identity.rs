//! Who is the same user: the site owner under every look-alike spelling, legitimate names
//! that must keep working, and the registry's grouping (issue: one user, one identity).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use core::time::Duration;

use base64::Engine as _;
use fwtoken::time::OffsetDateTime;
use fwtoken::time::macros::datetime;
use fwtoken::{
    ApiPolicy, ApiToken, ApiTokenRequest, DeviceRecord, DeviceRegistry, DeviceToken, Error,
    KeyRing, LoginPolicy, LoginToken, MemoryRegistry, Secret, SiteDomains, identity_key,
    same_account, skeleton, validate_new_user_name,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const SECRET: &str = "identity tests: the site's encryption secret";
const OWNER: &str = "siteowner";

fn now() -> OffsetDateTime {
    datetime!(2026-11-24 10:00:00 UTC)
}

fn ring() -> KeyRing {
    KeyRing::new(Secret::from_text(SECRET).unwrap())
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(11)
}

/// A FotoWeb-format login token for any name the format can carry, as a third-party
/// generator would make it (the builder refuses names a person can't tell apart).
fn fotoweb_token(user: &str) -> String {
    use md5::Digest as _;
    let p = format!("s=2026-11-24 09:59:00;e=2026-11-24 10:30:00;w=false;u={user};");
    let mut h = md5::Md5::new();
    h.update(p.as_bytes());
    h.update(b"es=");
    h.update(SECRET.as_bytes());
    let mac = base64::engine::general_purpose::STANDARD.encode(h.finalize());
    base64::engine::general_purpose::STANDARD.encode(format!("{p}m={mac};"))
}

/// Spellings that every refusal must treat as the owner `siteowner`.
const OWNER_SPELLINGS: &[&str] = &[
    // Case.
    "siteowner",
    "SITEOWNER",
    "SiteOwner",
    "sItEoWnEr",
    // The three forms, any domain.
    "siteowner@corp.example",
    "SITEOWNER@OTHER.EXAMPLE",
    "CORP\\siteowner",
    "corp\\SiteOwner",
    "EVIL\\siteowner@evil.example",
    // Letters other comparators fold: long s, dotless i, dotted capital I.
    "\u{017F}iteowner",
    "s\u{0131}teowner",
    "S\u{0130}TEOWNER",
    "\u{017F}\u{0131}teowner@corp.example",
    // Compatibility letters: full width, mathematical bold and sans-serif italic.
    "\u{FF53}\u{FF49}\u{FF54}\u{FF45}\u{FF4F}\u{FF57}\u{FF4E}\u{FF45}\u{FF52}",
    "\u{FF33}\u{FF29}\u{FF34}\u{FF25}\u{FF2F}\u{FF37}\u{FF2E}\u{FF25}\u{FF32}",
    "\u{1D42C}\u{1D422}\u{1D42D}\u{1D41E}\u{1D428}\u{1D430}\u{1D427}\u{1D41E}\u{1D42B}",
    "\u{1D634}\u{1D62A}\u{1D635}\u{1D626}\u{1D630}\u{1D638}\u{1D62F}\u{1D626}\u{1D633}",
    // Full-width separators: backslash and at sign.
    "CORP\u{FF3C}siteowner",
    "siteowner\u{FF20}corp.example",
    // White space at either end, also the kinds NFKC turns into a space.
    "siteowner ",
    "  siteowner",
    "siteowner\u{00A0}",
    "\u{3000}siteowner",
    "siteowner\u{2003}",
    // Default-ignorable code points in every position.
    "\u{00AD}siteowner",
    "site\u{00AD}owner",
    "siteowner\u{00AD}",
    "\u{200B}siteowner",
    "site\u{200B}owner",
    "siteowner\u{200B}",
    "si\u{200C}teowner",
    "sit\u{200D}eowner",
    "siteow\u{2060}ner",
    "siteowne\u{FEFF}r",
    "s\u{FE0F}iteowner",
    "siteowner\u{034F}",
    "siteowner\u{180E}",
    // Bidi controls.
    "\u{202E}siteowner",
    "site\u{2066}owner\u{2069}",
    "\u{200F}siteowner",
];

/// Names that must keep working (issued, verified, grouped on their own).
const LEGITIMATE: &[&str] = &[
    "alice",
    "s\u{00F8}ren",
    "J\u{00F8}rgen \u{00D8}deg\u{00E5}rd",
    "\u{5C71}\u{7530}\u{592A}\u{90CE}",
    "d.e-f_g",
    "CORP\\carol",
    "bob@partner.example",
    "\u{03A3}\u{03C9}\u{03BA}\u{03C1}\u{03AC}\u{03C4}\u{03B7}\u{03C2}",
    "\u{0395}\u{03BB}\u{03AD}\u{03BD}\u{03B7}",
    "\u{0414}\u{043C}\u{0438}\u{0442}\u{0440}\u{0438}\u{0439}",
    "Jose\u{0301}",
    "Zo\u{00EB}",
    "o'brien",
    "site owner",
    "siteowner2",
    "owner",
    "\u{00DF}iteowner",
    "ren\u{00E9}e.dubois@corp.example",
];

fn api_request(user: &str) -> ApiTokenRequest {
    ApiTokenRequest {
        un: user.into(),
        app: "CMS".into(),
        duration: "PT1H".into(),
    }
}

#[test]
fn at_least_thirty_owner_spellings_and_fifteen_legitimate_names() {
    assert!(OWNER_SPELLINGS.len() >= 30, "{}", OWNER_SPELLINGS.len());
    assert!(LEGITIMATE.len() >= 15, "{}", LEGITIMATE.len());
}

#[test]
fn every_owner_spelling_is_the_same_account() {
    for name in OWNER_SPELLINGS {
        assert!(same_account(name, OWNER), "{name:?}");
        assert!(same_account(OWNER, name), "{name:?} (symmetric)");
    }
    for name in LEGITIMATE {
        assert!(!same_account(name, OWNER), "{name:?}");
    }
}

#[test]
fn api_issue_refuses_every_owner_spelling() {
    let (ring, mut rng) = (ring(), rng());
    let policy = ApiPolicy::new().site_owner(OWNER);
    for name in OWNER_SPELLINGS {
        let got = ApiToken::issue(&ring, &api_request(name), now(), &policy, &mut rng);
        assert!(
            matches!(got, Err(Error::DeniedUser | Error::InvalidUserName(_))),
            "{name:?}: {got:?}"
        );
    }
    for name in LEGITIMATE {
        let info = ApiToken::issue(&ring, &api_request(name), now(), &policy, &mut rng)
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        let claims =
            ApiToken::verify_with_policy(&ring, &info.token, now(), Duration::ZERO, &policy)
                .unwrap();
        assert_eq!(claims.user, *name);
    }
}

#[test]
fn names_a_person_cannot_tell_apart_are_refused_at_issue_without_any_policy() {
    let (ring, mut rng) = (ring(), rng());
    let mut refused = 0;
    for name in OWNER_SPELLINGS {
        let has_invisible_or_edge_space = validate_new_user_name(name).is_err();
        let api = ApiToken::issue(
            &ring,
            &api_request(name),
            now(),
            &ApiPolicy::new(),
            &mut rng,
        );
        let login = LoginToken::builder(name).issue(&ring, now());
        let device = DeviceToken::issue(&ring, name, now(), &mut rng);
        assert_eq!(api.is_err(), has_invisible_or_edge_space, "{name:?}");
        assert_eq!(login.is_err(), has_invisible_or_edge_space, "{name:?}");
        assert_eq!(device.is_err(), has_invisible_or_edge_space, "{name:?}");
        if has_invisible_or_edge_space {
            refused += 1;
            assert!(matches!(api, Err(Error::InvalidUserName(_))), "{name:?}");
        }
    }
    // White space at the ends (5), ignorables (13) and bidi controls (3).
    assert_eq!(refused, 21);
    for name in LEGITIMATE {
        validate_new_user_name(name).unwrap_or_else(|e| panic!("{name:?}: {e}"));
        LoginToken::builder(name).issue(&ring, now()).unwrap();
        DeviceToken::issue(&ring, name, now(), &mut rng).unwrap();
    }
}

#[test]
fn api_verify_with_policy_refuses_owner_tokens_minted_before_the_owner_was_set() {
    let (ring, mut rng) = (ring(), rng());
    let policy = ApiPolicy::new().site_owner(OWNER);
    let mut minted = 0;
    for name in OWNER_SPELLINGS {
        // Without an owner configured, only the names a person can tell apart are minted.
        let Ok(info) = ApiToken::issue(
            &ring,
            &api_request(name),
            now(),
            &ApiPolicy::new(),
            &mut rng,
        ) else {
            continue;
        };
        minted += 1;
        assert!(ApiToken::verify(&ring, &info.token, now(), Duration::ZERO).is_ok());
        let got = ApiToken::verify_with_policy(&ring, &info.token, now(), Duration::ZERO, &policy);
        assert_eq!(got.unwrap_err(), Error::DeniedUser, "{name:?}");
        // A denied user (not the owner) is refused the same way.
        let denied = ApiPolicy::new().deny_user("CORP\\SITEOWNER");
        let got = ApiToken::verify_with_policy(&ring, &info.token, now(), Duration::ZERO, &denied);
        assert_eq!(got.unwrap_err(), Error::DeniedUser, "{name:?}");
    }
    assert_eq!(minted, OWNER_SPELLINGS.len() - 21);
}

#[test]
fn fotoweb_login_tokens_carry_any_name_but_deny_applies_the_skeleton() {
    let ring = ring();
    let policy = LoginPolicy::new().deny_user(OWNER);
    for name in OWNER_SPELLINGS {
        let got = LoginToken::verify(&ring, &fotoweb_token(name), now(), &policy);
        assert!(matches!(got, Err(Error::DeniedUser)), "{name:?}: {got:?}");
        // Without the deny rule the format's own rules decide: a real generator may send it.
        let open = LoginToken::verify(&ring, &fotoweb_token(name), now(), &LoginPolicy::new());
        assert_eq!(open.unwrap().user, *name);
    }
    for name in LEGITIMATE {
        let claims = LoginToken::verify(&ring, &fotoweb_token(name), now(), &policy)
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert_eq!(claims.user, *name);
    }
}

#[test]
fn a_macos_client_sends_nfd_and_it_is_the_same_user() {
    let nfc = "Jos\u{00E9}";
    let nfd = "Jose\u{0301}";
    assert_eq!(skeleton(nfc), skeleton(nfd));
    let ring = ring();
    let claims =
        LoginToken::verify(&ring, &fotoweb_token(nfd), now(), &LoginPolicy::new()).unwrap();
    assert_eq!(claims.user, nfd);
    let policy = LoginPolicy::new().deny_user(nfc);
    assert_eq!(
        LoginToken::verify(&ring, &fotoweb_token(nfd), now(), &policy).unwrap_err(),
        Error::DeniedUser
    );
    assert_eq!(
        identity_key(nfd, &SiteDomains::new()),
        identity_key(nfc, &SiteDomains::new())
    );
}

fn record(user: &str, n: u8) -> DeviceRecord {
    DeviceRecord {
        device_id: fwtoken::DeviceId::from_bytes([n; 16]),
        user: user.into(),
        issued_at: now(),
    }
}

#[test]
fn registry_groups_every_spelling_of_one_account() {
    let site = SiteDomains::new().with("corp.example").with("CORP");
    let registry = MemoryRegistry::with_site_domains(site);
    // The cap counts across spellings and forms of one account.
    let spellings = [
        "alice",
        "ALICE",
        "\u{FF41}lice",
        "alice@corp.example",
        "CORP\\Alice",
    ];
    for (n, user) in spellings.iter().enumerate() {
        registry.register(&record(user, n as u8 + 1), 5).unwrap();
    }
    assert_eq!(
        registry.register(&record("Alice@CORP.EXAMPLE", 9), 5),
        Err(Error::DeviceLimit { max: 5 })
    );
    // Another domain is another account with its own cap (`PARTNER\\alice` is `alice@partner`).
    registry.register(&record("alice@partner", 10), 5).unwrap();
    registry.register(&record("PARTNER\\alice", 11), 5).unwrap();
    assert_eq!(registry.devices_of("alice@partner").len(), 2);
    // revoke_user of any spelling revokes every device of the account, and only those.
    assert_eq!(registry.revoke_user("CORP\\ALICE").unwrap(), 5);
    for n in 1..=5u8 {
        assert!(!registry.is_active(&record("alice", n).device_id).unwrap());
    }
    assert!(registry.is_active(&record("x", 10).device_id).unwrap());
    assert!(registry.is_active(&record("x", 11).device_id).unwrap());
}

#[test]
fn without_site_domains_a_domain_keeps_its_users_apart() {
    let registry = MemoryRegistry::new();
    registry.register(&record("alice", 1), 1).unwrap();
    registry.register(&record("CORP\\alice", 2), 1).unwrap();
    registry
        .register(&record("alice@corp.example", 3), 1)
        .unwrap();
    // `CORP\alice` and `alice@corp` are one key; `alice@corp.example` is another.
    assert_eq!(
        registry.register(&record("alice@CORP", 4), 1),
        Err(Error::DeviceLimit { max: 1 })
    );
    assert_eq!(registry.revoke_user("alice").unwrap(), 1);
    assert!(registry.is_active(&record("x", 2).device_id).unwrap());
    assert!(registry.is_active(&record("x", 3).device_id).unwrap());
}

#[test]
fn the_legitimate_names_are_all_different_accounts() {
    let registry = MemoryRegistry::new();
    for (n, user) in LEGITIMATE.iter().enumerate() {
        registry.register(&record(user, n as u8 + 1), 1).unwrap();
    }
    assert_eq!(registry.len(), LEGITIMATE.len());
    // The owner's spellings are one account, distinct from all of them.
    let keys: std::collections::HashSet<String> = OWNER_SPELLINGS
        .iter()
        .filter(|n| {
            !n.contains('\\')
                && !n.contains('@')
                && !n.contains('\u{FF3C}')
                && !n.contains('\u{FF20}')
        })
        .map(|n| identity_key(n, &SiteDomains::new()))
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
}

#[test]
fn a_revoked_device_stays_revoked() {
    let registry = MemoryRegistry::new();
    let r = record("alice", 1);
    registry.register(&r, 3).unwrap();
    // A retry of the same registration takes no second slot.
    registry.register(&r, 3).unwrap();
    assert_eq!(registry.devices_of("alice").len(), 1);
    assert!(registry.revoke(&r.device_id).unwrap());
    assert!(!registry.revoke(&r.device_id).unwrap());
    assert!(registry.register(&r, 3).is_err());
    assert!(!registry.is_active(&r.device_id).unwrap());
    // Revoking an id never registered leaves a tombstone too.
    let never = record("bob", 2);
    assert!(!registry.revoke(&never.device_id).unwrap());
    assert!(registry.register(&never, 3).is_err());
    assert!(!registry.is_active(&never.device_id).unwrap());
}

/// A perturbation of an ASCII name that every comparator of the field treats as equal.
fn perturb(name: &str, ops: &[(u8, usize)]) -> String {
    let mut chars: Vec<String> = name.chars().map(String::from).collect();
    for &(op, at) in ops {
        let i = at % chars.len().max(1);
        match op % 8 {
            0 => chars[i] = chars[i].to_uppercase(),
            1 => {
                // Full width.
                if let Some(c) = chars[i].chars().next().filter(char::is_ascii_alphanumeric) {
                    chars[i] = char::from_u32(c as u32 - 0x21 + 0xFF01)
                        .unwrap()
                        .to_string();
                }
            }
            2 => chars.insert(i, "\u{00AD}".into()),
            3 => chars.insert(i, "\u{200B}".into()),
            4 => chars.insert(i, "\u{2060}".into()),
            5 => {
                if chars[i] == "s" {
                    chars[i] = "\u{017F}".into();
                } else if chars[i] == "i" {
                    chars[i] = "\u{0131}".into();
                }
            }
            6 => chars.push(" ".into()),
            _ => chars.insert(0, "\u{00A0}".into()),
        }
    }
    chars.concat()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn every_perturbation_of_a_denied_name_is_refused(
        name in "[a-z][a-z0-9.]{0,15}",
        ops in proptest::collection::vec((any::<u8>(), any::<usize>()), 0..6),
        domain in proptest::option::of("[a-z]{1,8}"),
    ) {
        let mut candidate = perturb(&name, &ops);
        if let Some(d) = &domain {
            candidate = if ops.len() % 2 == 0 { format!("{d}\\{candidate}") } else { format!("{candidate}@{d}.example") };
        }
        prop_assert!(same_account(&candidate, &name), "{:?}", candidate);
        let policy = LoginPolicy::new().deny_user(&name);
        let got = LoginToken::verify(&ring(), &fotoweb_token(&candidate), now(), &policy);
        prop_assert_eq!(got.unwrap_err(), Error::DeniedUser);
        let api = ApiToken::issue(&ring(), &api_request(&candidate), now(), &ApiPolicy::new().site_owner(&name), &mut rng());
        prop_assert!(matches!(api, Err(Error::DeniedUser | Error::InvalidUserName(_))));
        // The skeleton is idempotent and ignores the perturbation.
        let s = skeleton(&candidate).into_owned();
        prop_assert_eq!(skeleton(&s).into_owned(), s.clone());
        if domain.is_none() {
            prop_assert_eq!(s, skeleton(&name).into_owned());
        }
    }
}

#[test]
fn setting_the_site_owner_again_replaces_it_and_denied_users_add_up() {
    let (ring, mut rng) = (ring(), rng());
    let policy = ApiPolicy::new()
        .site_owner("first")
        .site_owner(OWNER)
        .deny_user("mallory")
        .deny_user("eve");
    for (name, refused) in [
        ("first", false),
        ("SITEOWNER", true),
        ("CORP\\Mallory", true),
        ("eve@example.com", true),
        ("alice", false),
    ] {
        let got = ApiToken::issue(&ring, &api_request(name), now(), &policy, &mut rng);
        assert_eq!(got.is_err(), refused, "{name}: {got:?}");
        if refused {
            assert_eq!(got.unwrap_err(), Error::DeniedUser);
        }
    }
}
