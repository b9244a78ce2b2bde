//! Who is the same user: the site owner under every look-alike spelling (case, width,
//! decomposition, the Turkic i, invisible and blank code points, every reading of a
//! domain), legitimate names of many scripts that must keep working, RFC 8265 at issue
//! time, the legacy double-encoded names of FotoWare's 2017 PHP generator, and the
//! registry's grouping.
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
    ApiPolicy, ApiToken, ApiTokenRequest, CodePointClass, DeviceRecord, DeviceRegistry,
    DeviceToken, Error, KeyRing, LoginPolicy, LoginToken, MemoryRegistry, Secret, SiteDomains,
    identity_key, same_account, skeleton, validate_new_user_name,
};
use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};
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

fn nfd(s: &str) -> String {
    DecomposingNormalizerBorrowed::new_nfd()
        .normalize(s)
        .into_owned()
}

fn nfc(s: &str) -> String {
    ComposingNormalizerBorrowed::new_nfc()
        .normalize(s)
        .into_owned()
}

/// A FotoWeb-format login token for any name the format can carry, as a third-party
/// generator would make it (the builder refuses names RFC 8265 refuses).
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

/// An API token for any name the format can carry, sealed by an independent implementation
/// of `docs/FORMAT.md` (envelope v1, purpose `api`): what an older release or another
/// implementation holding the secret could have minted before the owner was configured.
fn forged_api_token(user: &str) -> String {
    use aes::cipher::{BlockCipherEncrypt, KeyInit};
    use hmac::Mac as _;
    let secret = Secret::from_text(SECRET).unwrap();
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"fwtoken/v1"), SECRET.as_bytes());
    let mut okm = [0u8; 96];
    hk.expand(b"fwtoken/v1/api", &mut okm).unwrap();
    let (enc_key, mac_key) = (&okm[..32], &okm[32..64]);
    let mut header = vec![0x01, 0x02];
    header.extend_from_slice(&secret.fingerprint().to_bytes());
    let issued = now().unix_timestamp() as u64 - 60;
    header.extend_from_slice(&issued.to_be_bytes());
    header.extend_from_slice(&(issued + 3600).to_be_bytes());
    let mut pt = vec![0x02];
    pt.extend_from_slice(&[0x5A; 16]);
    pt.push(u8::try_from(user.len()).unwrap());
    pt.extend_from_slice(user.as_bytes());
    pt.push(3);
    pt.extend_from_slice(b"CMS");
    let pad = 16 - pt.len() % 16;
    pt.extend(std::iter::repeat_n(u8::try_from(pad).unwrap(), pad));
    let iv = [0x24u8; 16];
    let aes = aes::Aes256::new_from_slice(enc_key).unwrap();
    let mut prev = iv;
    let mut ct = Vec::new();
    for chunk in pt.chunks(16) {
        let mut block = [0u8; 16];
        for (i, b) in block.iter_mut().enumerate() {
            *b = chunk[i] ^ prev[i];
        }
        let mut b = block.into();
        aes.encrypt_block(&mut b);
        prev = b.into();
        ct.extend_from_slice(&prev);
    }
    let mut token = header;
    token.extend_from_slice(&iv);
    token.extend_from_slice(&ct);
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(mac_key).unwrap();
    mac.update(&token);
    mac.update(&0u64.to_be_bytes());
    token.extend_from_slice(&mac.finalize().into_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token)
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
    // Every reading of a domain an account store might make.
    "siteowner@corp\\x",
    "siteowner@corp.example\\alice",
    "a\\b\\siteowner",
    "siteowner@a@b",
    "x\\siteowner@corp\\y",
    // Letters other comparators fold: long s, dotless i, dotted capital I.
    "\u{017F}iteowner",
    "s\u{0131}teowner",
    "S\u{0130}TEOWNER",
    "\u{017F}\u{0131}teowner@corp.example",
    // The Turkic i in decomposed form: I, i or ı followed by U+0307 COMBINING DOT ABOVE.
    "SI\u{0307}TEOWNER",
    "si\u{0307}teowner",
    "s\u{0131}\u{0307}teowner",
    "\u{FF33}I\u{0307}TEOWNER",
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
    // Blank and invisible code points that are not default-ignorable: the Braille blank,
    // interlinear annotation, Arabic number sign, Egyptian format controls, private use,
    // noncharacters.
    "siteowner\u{2800}",
    "\u{2800}siteowner",
    "siteowner\u{FFF9}",
    "site\u{FFFA}owner",
    "\u{FFFB}siteowner",
    "\u{0600}siteowner",
    "siteowner\u{13430}",
    "site\u{13437}owner",
    "siteowner\u{E000}",
    "siteowner\u{F0000}",
    "siteowner\u{FDD0}",
];

/// Case, width and decomposition variants of a spelling, mixed: the table test refuses
/// every one of them.
fn variants(name: &str) -> Vec<String> {
    let full_width: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap()
            } else {
                c
            }
        })
        .collect();
    let mut out = vec![
        name.to_string(),
        name.to_uppercase(),
        name.to_lowercase(),
        nfd(name),
        nfc(name),
        full_width.clone(),
        nfd(&full_width),
        nfd(&name.to_uppercase()),
    ];
    out.sort();
    out.dedup();
    out
}

/// Names that must keep working (issued in NFC and NFD, verified, grouped on their own):
/// 34 names, 16 scripts.
const LEGITIMATE: &[&str] = &[
    // Latin: Norwegian, German, Icelandic, Turkish, Vietnamese (stacked diacritics), Catalan.
    "alice",
    "J\u{00F8}rgen \u{00D8}deg\u{00E5}rd",
    "\u{00C5}se Kj\u{00E6}rstad",
    "Zo\u{00EB}",
    "J\u{00FC}rgen Gro\u{00DF}",
    "Bj\u{00F6}rk Gu\u{00F0}mundsd\u{00F3}ttir",
    "\u{00D6}mer \u{0130}nan",
    "I\u{015F}\u{0131}l \u{00C7}elik",
    "Nguy\u{1EC5}n Th\u{1ECB} Ng\u{1ECD}c",
    "Gal\u{00B7}la",
    // ASCII forms.
    "CORP\\carol",
    "o'brien",
    "user.name+tag@example.com",
    "d.e-f_g",
    "site owner",
    "siteowner2",
    "\u{00DF}iteowner",
    // Greek, Cyrillic, Armenian, Georgian.
    "\u{03A3}\u{03C9}\u{03BA}\u{03C1}\u{03AC}\u{03C4}\u{03B7}\u{03C2}",
    "\u{0395}\u{03BB}\u{03AD}\u{03BD}\u{03B7}",
    "\u{0414}\u{043C}\u{0438}\u{0442}\u{0440}\u{0438}\u{0439}",
    "\u{0410}\u{043D}\u{043D}\u{0430} \u{0401}\u{0436}\u{0438}\u{043A}\u{043E}\u{0432}\u{0430}",
    "\u{0531}\u{0580}\u{0561}\u{0574}",
    "\u{10DC}\u{10D8}\u{10DC}\u{10DD}",
    // Hebrew, Arabic, Persian with a zero-width non-joiner (علی‌اکبر).
    "\u{05D3}\u{05D5}\u{05D3} \u{05DB}\u{05D4}\u{05DF}",
    "\u{0645}\u{062D}\u{0645}\u{062F} \u{0639}\u{0628}\u{062F}\u{0627}\u{0644}\u{0644}\u{0647}",
    "\u{0639}\u{0644}\u{06CC}\u{200C}\u{0627}\u{06A9}\u{0628}\u{0631}",
    // Devanagari and Sinhala with a zero-width joiner after a virama (क्‍षितिज, ශ්‍රී), Tamil.
    "\u{0915}\u{094D}\u{200D}\u{0937}\u{093F}\u{0924}\u{093F}\u{091C}",
    "\u{0DC1}\u{0DCA}\u{200D}\u{0DBB}\u{0DD3}",
    "\u{0BAE}\u{0BC1}\u{0BB0}\u{0BC1}\u{0B95}\u{0BA9}\u{0BCD}",
    // Korean, Thai, Japanese (with the katakana middle dot), Chinese, Ethiopic.
    "\u{AE40}\u{BBFC}\u{C900}",
    "\u{0E2A}\u{0E21}\u{0E0A}\u{0E32}\u{0E22}",
    "\u{5C71}\u{7530}\u{592A}\u{90CE}",
    "\u{30B8}\u{30E7}\u{30F3}\u{30FB}\u{30B9}\u{30DF}\u{30B9}",
    "\u{738B}\u{5C0F}\u{660E}",
    "\u{12A0}\u{1260}\u{1260}",
];

fn api_request(user: &str) -> ApiTokenRequest {
    ApiTokenRequest {
        un: user.into(),
        app: "CMS".into(),
        duration: "PT1H".into(),
    }
}

#[test]
fn enough_spellings_and_legitimate_names() {
    assert!(OWNER_SPELLINGS.len() >= 60, "{}", OWNER_SPELLINGS.len());
    assert!(LEGITIMATE.len() >= 25, "{}", LEGITIMATE.len());
}

#[test]
fn every_owner_spelling_is_the_same_account() {
    for name in OWNER_SPELLINGS {
        for v in variants(name) {
            assert!(same_account(&v, OWNER), "{v:?}");
        }
        // A denied name is read the one way grouping reads it, so symmetry holds for the
        // spellings without a domain.
        if !name.contains(['@', '\\', '\u{FF20}', '\u{FF3C}']) {
            assert!(same_account(OWNER, name), "{name:?} (symmetric)");
        }
    }
    for name in LEGITIMATE {
        assert!(!same_account(name, OWNER), "{name:?}");
        assert!(!same_account(&nfd(name), OWNER), "{name:?}");
    }
}

#[test]
fn api_issue_refuses_every_owner_spelling() {
    let (ring, mut rng) = (ring(), rng());
    let policy = ApiPolicy::new().site_owner(OWNER);
    for name in OWNER_SPELLINGS {
        for v in variants(name) {
            let got = ApiToken::issue(&ring, &api_request(&v), now(), &policy, &mut rng);
            assert!(
                matches!(
                    got,
                    Err(Error::DeniedUser
                        | Error::InvalidUserName(_)
                        | Error::DisallowedCodePoint { .. })
                ),
                "{v:?}: {got:?}"
            );
        }
    }
}

#[test]
fn api_verify_with_policy_refuses_every_owner_spelling_in_a_token_minted_elsewhere() {
    let ring = ring();
    let policy = ApiPolicy::new().site_owner(OWNER);
    let denied = ApiPolicy::new().deny_user("CORP\\SITEOWNER");
    for name in OWNER_SPELLINGS {
        for v in variants(name) {
            if v.len() > 255 {
                continue;
            }
            let token = forged_api_token(&v);
            // The token itself is sound: only the policy refuses it.
            let open = ApiToken::verify(&ring, &token, now(), Duration::ZERO)
                .unwrap_or_else(|e| panic!("{v:?}: {e}"));
            assert_eq!(open.user, v);
            let got = ApiToken::verify_with_policy(&ring, &token, now(), Duration::ZERO, &policy);
            assert_eq!(got.unwrap_err(), Error::DeniedUser, "{v:?}");
            let got = ApiToken::verify_with_policy(&ring, &token, now(), Duration::ZERO, &denied);
            assert_eq!(got.unwrap_err(), Error::DeniedUser, "{v:?}");
        }
    }
}

#[test]
fn fotoweb_login_tokens_carry_any_name_but_deny_applies_the_skeleton() {
    let ring = ring();
    let policy = LoginPolicy::new().deny_user(OWNER);
    for name in OWNER_SPELLINGS {
        for v in variants(name) {
            let got = LoginToken::verify(&ring, &fotoweb_token(&v), now(), &policy);
            assert!(matches!(got, Err(Error::DeniedUser)), "{v:?}: {got:?}");
            // Also with the legacy reading on (the name is not double-encoded UTF-8).
            let legacy = policy.clone().legacy_utf8_encode(true);
            let got = LoginToken::verify(&ring, &fotoweb_token(&v), now(), &legacy);
            assert!(matches!(got, Err(Error::DeniedUser)), "{v:?}: {got:?}");
        }
        // Without the deny rule the format's own rules decide: a real generator may send it.
        let open = LoginToken::verify(&ring, &fotoweb_token(name), now(), &LoginPolicy::new());
        assert_eq!(open.unwrap().user, *name);
    }
    for name in LEGITIMATE {
        for v in [name.to_string(), nfd(name)] {
            let claims = LoginToken::verify(&ring, &fotoweb_token(&v), now(), &policy)
                .unwrap_or_else(|e| panic!("{v:?}: {e}"));
            assert_eq!(claims.user, v);
        }
    }
}

#[test]
fn rfc_8265_refuses_what_a_person_cannot_see_and_names_the_code_point() {
    use CodePointClass as C;
    for (name, code_point, class) in [
        ("siteowner\u{2800}", '\u{2800}', C::Symbol),
        ("siteowner\u{FFF9}", '\u{FFF9}', C::Format),
        ("site\u{FFFA}owner", '\u{FFFA}', C::Format),
        ("\u{0600}siteowner", '\u{0600}', C::Format),
        ("siteowner\u{13430}", '\u{13430}', C::Format),
        ("siteowner\u{E000}", '\u{E000}', C::PrivateUse),
        ("siteowner\u{F0000}", '\u{F0000}', C::PrivateUse),
        ("site\u{00AD}owner", '\u{00AD}', C::Invisible),
        ("\u{202E}siteowner", '\u{202E}', C::BidiControl),
        ("\u{017F}iteowner", '\u{017F}', C::Compatibility),
        (
            "\u{0384}\u{0391}\u{03BB}\u{03C6}\u{03B1}",
            '\u{0384}',
            C::Compatibility,
        ),
        ("siteowner\u{00A0}x", '\u{00A0}', C::Space),
        ("o\u{2019}brien", '\u{2019}', C::Punctuation),
        ("si\u{200D}teowner", '\u{200D}', C::Context),
        ("\u{0639}\u{0644}\u{06CC}\u{200C}", '\u{200C}', C::Context),
        ("\u{0639}a", 'a', C::Bidi),
        ("\u{1100}\u{1100}", '\u{1100}', C::OldHangulJamo),
        ("siteowner\u{FDD0}", '\u{FDD0}', C::Noncharacter),
        ("\u{0628}\u{0640}\u{0628}", '\u{0640}', C::Exception),
        ("a\u{50000}", '\u{50000}', C::Unassigned),
    ] {
        let expected = Error::DisallowedCodePoint { code_point, class };
        assert_eq!(
            validate_new_user_name(name),
            Err(expected.clone()),
            "{name:?}"
        );
        let (ring, mut rng) = (ring(), rng());
        let api = ApiToken::issue(
            &ring,
            &api_request(name),
            now(),
            &ApiPolicy::new(),
            &mut rng,
        );
        assert_eq!(api.unwrap_err(), expected, "{name:?}");
        assert_eq!(
            LoginToken::builder(name).issue(&ring, now()).unwrap_err(),
            expected
        );
        assert_eq!(
            DeviceToken::issue(&ring, name, now(), &mut rng).unwrap_err(),
            expected
        );
    }
    let message = validate_new_user_name("siteowner\u{2800}")
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "invalid user name: U+2800 is a symbol, not allowed in user names"
    );
    for (name, reason) in [
        (" siteowner", "starts or ends with a space"),
        ("siteowner ", "starts or ends with a space"),
        ("site  owner", "two spaces in a row"),
        (
            "J\u{00F8}rgen  \u{00D8}deg\u{00E5}rd",
            "two spaces in a row",
        ),
    ] {
        assert_eq!(
            validate_new_user_name(name),
            Err(Error::InvalidUserName(reason))
        );
    }
}

#[test]
fn legitimate_names_of_many_scripts_are_issued_in_nfc_and_nfd() {
    let (ring, mut rng) = (ring(), rng());
    let policy = ApiPolicy::new().site_owner(OWNER);
    for name in LEGITIMATE {
        for v in [nfc(name), nfd(name)] {
            validate_new_user_name(&v).unwrap_or_else(|e| panic!("{v:?}: {e}"));
            LoginToken::builder(&v).issue(&ring, now()).unwrap();
            DeviceToken::issue(&ring, &v, now(), &mut rng).unwrap();
            let info = ApiToken::issue(&ring, &api_request(&v), now(), &policy, &mut rng)
                .unwrap_or_else(|e| panic!("{v:?}: {e}"));
            let claims =
                ApiToken::verify_with_policy(&ring, &info.token, now(), Duration::ZERO, &policy)
                    .unwrap();
            assert_eq!(claims.user, v);
        }
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

/// Five names whose NFC and NFD forms differ, the Turkic capital İ among them.
const NFC_NFD_NAMES: &[&str] = &[
    "\u{00D6}mer \u{0130}nan",
    "J\u{00F8}rgen \u{00C5}s",
    "Nguy\u{1EC5}n",
    "\u{AE40}\u{BBFC}\u{C900}",
    "Ren\u{00E9}e",
];

#[test]
fn nfc_and_nfd_share_one_cap_and_one_revoke_user() {
    let registry = MemoryRegistry::new();
    let mut n = 0u8;
    for name in NFC_NFD_NAMES {
        assert_ne!(nfc(name), nfd(name), "{name:?}");
        for form in [nfc(name), nfd(name)] {
            for _ in 0..2 {
                n += 1;
                registry.register(&record(&form, n), 4).unwrap();
            }
        }
        // Four devices, two per form: the cap of 4 holds across both forms.
        n += 1;
        assert_eq!(
            registry.register(&record(&nfd(name), n), 4),
            Err(Error::DeviceLimit { max: 4 }),
            "{name:?}"
        );
        assert_eq!(registry.devices_of(&nfc(name)).len(), 4);
        // And one revoke_user of either form revokes them all.
        assert_eq!(registry.revoke_user(&nfd(name)).unwrap(), 4, "{name:?}");
        assert_eq!(registry.revoke_user(&nfc(name)).unwrap(), 0);
    }
    // The Turkic İ of the issue: NFC, NFD and I + U+0307 written by hand.
    let registry = MemoryRegistry::new();
    registry
        .register(&record("\u{00D6}mer \u{0130}nan", 1), 2)
        .unwrap();
    registry
        .register(&record("O\u{0308}mer I\u{0307}nan", 2), 2)
        .unwrap();
    assert_eq!(
        registry.register(&record("\u{00F6}MER \u{0130}NAN", 3), 2),
        Err(Error::DeviceLimit { max: 2 })
    );
    assert_eq!(registry.revoke_user("\u{00D6}mer \u{0130}nan").unwrap(), 2);
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
fn grouping_reads_a_name_one_way() {
    let site = SiteDomains::new();
    // DOMAIN\user (the last backslash), else user@domain (the first at sign).
    assert_eq!(identity_key("A\\B\\carol", &site), "carol@a\\b");
    assert_eq!(identity_key("carol@x@y", &site), "carol@x@y");
    assert_eq!(identity_key("CORP\\carol@x", &site), "carol@x@corp");
    // Refusals read it every way, grouping does not: these are not carol's key.
    assert!(same_account("carol@corp\\x", "carol"));
    assert_ne!(identity_key("carol@corp\\x", &site), "carol");
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
    // The owner's spellings without a domain are one account, distinct from all of them.
    let keys: std::collections::HashSet<String> = OWNER_SPELLINGS
        .iter()
        .filter(|n| !n.contains(['\\', '@', '\u{FF3C}', '\u{FF20}']))
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

// ---------------------------------------------------------------------------------------
// Legacy double-encoded names (FotoWare's 2017 PHP generator)
// ---------------------------------------------------------------------------------------

#[derive(serde::Deserialize)]
struct LegacyFile {
    secret: String,
    vectors: Vec<LegacyVector>,
}

#[derive(serde::Deserialize)]
struct LegacyVector {
    generator: String,
    intended_user: String,
    user_as_sent: String,
    token: String,
    now: String,
}

fn legacy_vectors() -> LegacyFile {
    serde_json::from_str(include_str!("vectors/login-fotoweb-legacy-utf8.json")).unwrap()
}

#[test]
fn legacy_vectors_verify_to_the_intended_names_with_the_option() {
    let file = legacy_vectors();
    let ring = KeyRing::new(Secret::from_text(&file.secret).unwrap());
    let on = LoginPolicy::new().legacy_utf8_encode(true);
    let off = LoginPolicy::new();
    let (mut repaired, mut refused_without, mut as_sent_without) = (0, 0, 0);
    assert_eq!(file.vectors.len(), 18);
    for v in &file.vectors {
        let at = fwtoken::parse_rfc3339_utc(&v.now).unwrap();
        let claims = LoginToken::verify(&ring, &v.token, at, &on)
            .unwrap_or_else(|e| panic!("{} {:?}: {e}", v.generator, v.intended_user));
        assert_eq!(claims.user, v.intended_user, "{}", v.generator);
        if v.user_as_sent != v.intended_user {
            repaired += 1;
        }
        // Without the option: refused (a C1 control) or left as it was sent.
        match LoginToken::verify(&ring, &v.token, at, &off) {
            Ok(c) => {
                assert_eq!(c.user, v.user_as_sent);
                as_sent_without += 1;
            }
            Err(e) => {
                assert_eq!(e, Error::InvalidUserName("contains a control character"));
                assert!(
                    v.user_as_sent
                        .chars()
                        .any(|c| ('\u{80}'..='\u{9F}').contains(&c))
                );
                refused_without += 1;
            }
        }
    }
    // alice is ASCII and needs no repair; every other name was encoded twice.
    assert_eq!(repaired, 16);
    // Øyvind, Åse, Æsa Ødegård, Straße (a C1 control each), from both generators.
    assert_eq!(refused_without, 8);
    assert_eq!(as_sent_without, 10);
}

#[test]
fn legacy_deny_checks_refuse_the_name_as_sent_and_as_meant() {
    let file = legacy_vectors();
    let ring = KeyRing::new(Secret::from_text(&file.secret).unwrap());
    for v in &file.vectors {
        let at = fwtoken::parse_rfc3339_utc(&v.now).unwrap();
        for denied in [&v.intended_user, &v.user_as_sent] {
            let policy = LoginPolicy::new()
                .legacy_utf8_encode(true)
                .deny_user(denied);
            assert_eq!(
                LoginToken::verify(&ring, &v.token, at, &policy).unwrap_err(),
                Error::DeniedUser,
                "{:?} denying {denied:?}",
                v.intended_user
            );
        }
    }
    // ſiteowner encoded twice is `Å¿iteowner`: only its repaired reading is the owner.
    let owner = file
        .vectors
        .iter()
        .find(|v| v.intended_user == "\u{017F}iteowner")
        .unwrap();
    let at = fwtoken::parse_rfc3339_utc(&owner.now).unwrap();
    let deny = LoginPolicy::new().deny_user(OWNER);
    assert_eq!(
        LoginToken::verify(&ring, &owner.token, at, &deny)
            .unwrap()
            .user,
        owner.user_as_sent
    );
    assert_eq!(
        LoginToken::verify(&ring, &owner.token, at, &deny.legacy_utf8_encode(true)).unwrap_err(),
        Error::DeniedUser
    );
}

#[test]
fn the_legacy_option_leaves_other_names_alone() {
    let ring = ring();
    let on = LoginPolicy::new().legacy_utf8_encode(true);
    // Not valid UTF-8 once read as Latin-1 bytes, or a character above U+00FF: as sent.
    for name in [
        "Zo\u{00EB}",
        "\u{00C5}se",
        "\u{5C71}\u{7530}",
        "alice",
        "Ren\u{00E9}e",
    ] {
        let claims = LoginToken::verify(&ring, &fotoweb_token(name), now(), &on).unwrap();
        assert_eq!(claims.user, name);
    }
    // fwtoken never issues a name the repair would change: the second byte of a UTF-8
    // sequence read as Latin-1 is a C1 control, Latin-1 punctuation or a symbol, all
    // refused by RFC 8265.
    for twice in [
        "zo\u{00C3}\u{00AB}",
        "\u{00C3}\u{0098}yvind",
        "Stra\u{00C3}\u{009F}e",
    ] {
        assert!(validate_new_user_name(twice).is_err(), "{twice:?}");
        assert!(
            LoginToken::builder(twice)
                .issue_sealed(&ring, now(), &mut rng())
                .is_err()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// A perturbation of an ASCII name that every comparator of the field treats as equal.
fn perturb(name: &str, ops: &[(u8, usize)]) -> String {
    let mut chars: Vec<String> = name.chars().map(String::from).collect();
    for &(op, at) in ops {
        let i = at % chars.len().max(1);
        match op % 12 {
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
            7 => chars.insert(0, "\u{00A0}".into()),
            8 => {
                // The Turkic i, composed or decomposed.
                if chars[i] == "i" {
                    chars[i] =
                        ["\u{0130}", "I\u{0307}", "i\u{0307}", "\u{0131}\u{0307}"][at % 4].into();
                }
            }
            9 => chars.insert(
                i,
                ["\u{2800}", "\u{FFF9}", "\u{E000}", "\u{13430}"][at % 4].into(),
            ),
            10 => {
                // A decomposed letter: the same letter plus a mark, in NFC or NFD.
                chars[i] = nfd(&chars[i]);
            }
            _ => chars.insert(i, "\u{034F}".into()),
        }
    }
    chars.concat()
}

/// Combining marks of several classes (220 below, 230 above, 202 attached below, 1
/// overlay, 240 iota subscript) for canonical reorderings.
const MARKS: &[char] = &[
    '\u{0301}', '\u{0307}', '\u{0308}', '\u{0323}', '\u{0327}', '\u{0334}', '\u{0345}', '\u{0316}',
    '\u{0300}', '\u{0328}',
];

fn ccc(c: char) -> u8 {
    icu_normalizer::properties::CanonicalCombiningClassMapBorrowed::new().get_u8(c)
}

/// A random canonical reordering: adjacent marks of different non-zero classes swapped,
/// which gives a canonically equivalent string.
fn reorder(s: &str, swaps: &[usize]) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for &k in swaps {
        if chars.len() < 2 {
            break;
        }
        let i = k % (chars.len() - 1);
        let (a, b) = (ccc(chars[i]), ccc(chars[i + 1]));
        if a != 0 && b != 0 && a != b {
            chars.swap(i, i + 1);
        }
    }
    chars.into_iter().collect()
}

fn any_name() -> impl Strategy<Value = String> {
    let pool: Vec<char> = "aAiIsSzZ0 @\\.\u{0130}\u{0131}\u{017F}\u{00DF}\u{00C5}\u{00D8}\u{03A3}\u{0414}\u{05D0}\u{0639}\u{AC00}\u{1100}\u{1161}\u{FF21}\u{FF41}\u{1D400}\u{00AD}\u{200B}\u{2800}\u{3000}\u{1E9E}\u{212A}\u{2126}"
        .chars()
        .chain(MARKS.iter().copied())
        .collect();
    proptest::collection::vec(proptest::sample::select(pool), 0..12)
        .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonically_equivalent_spellings_have_one_skeleton(
        s in any_name(),
        swaps in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let k = skeleton(&s).into_owned();
        prop_assert_eq!(skeleton(&nfd(&s)).into_owned(), k.clone());
        prop_assert_eq!(skeleton(&nfc(&s)).into_owned(), k.clone());
        prop_assert_eq!(skeleton(&reorder(&s, &swaps)).into_owned(), k.clone());
        prop_assert_eq!(skeleton(&reorder(&nfd(&s), &swaps)).into_owned(), k.clone());
        // Idempotent.
        prop_assert_eq!(skeleton(&k).into_owned(), k.clone());
        // The key groups the same way.
        let site = SiteDomains::new();
        prop_assert_eq!(identity_key(&nfd(&s), &site), identity_key(&s, &site));
    }

    #[test]
    fn every_perturbation_of_a_denied_name_is_refused(
        name in "[a-z][a-z0-9.]{0,15}",
        ops in proptest::collection::vec((any::<u8>(), any::<usize>()), 0..6),
        domain in proptest::option::of("[a-z]{1,8}"),
    ) {
        let mut candidate = perturb(&name, &ops);
        if let Some(d) = &domain {
            candidate = match ops.len() % 3 {
                0 => format!("{d}\\{candidate}"),
                1 => format!("{candidate}@{d}.example"),
                _ => format!("{candidate}@{d}\\x"),
            };
        }
        prop_assert!(same_account(&candidate, &name), "{:?}", candidate);
        prop_assert!(same_account(&nfd(&candidate), &name), "{:?}", candidate);
        let policy = LoginPolicy::new().deny_user(&name);
        let got = LoginToken::verify(&ring(), &fotoweb_token(&candidate), now(), &policy);
        prop_assert_eq!(got.unwrap_err(), Error::DeniedUser);
        let api = ApiToken::issue(&ring(), &api_request(&candidate), now(), &ApiPolicy::new().site_owner(&name), &mut rng());
        let refused = matches!(api, Err(Error::DeniedUser | Error::InvalidUserName(_) | Error::DisallowedCodePoint { .. }));
        prop_assert!(refused, "{:?}", api);
        if candidate.len() <= 255 {
            let forged = forged_api_token(&candidate);
            let got = ApiToken::verify_with_policy(&ring(), &forged, now(), Duration::ZERO, &ApiPolicy::new().site_owner(&name));
            prop_assert_eq!(got.unwrap_err(), Error::DeniedUser);
        }
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
