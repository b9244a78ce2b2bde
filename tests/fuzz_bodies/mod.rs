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

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use fwtoken::time::OffsetDateTime;
use fwtoken::{
    ApiPolicy, ApiToken, ApiTokenRequest, CacheLink, CacheLinkSigner, ClientBoundId, DeviceId,
    DeviceToken, EdgeKey, EdgeKeyRing, EdgeParams, FernetKey, FernetRing, IpNetwork, KeyRing,
    LoginPolicy, LoginToken, Secret, SessionCookie,
};
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
    check_verifier_spelled(data, produced, verify, str::to_string);
}

/// [`check_verifier`] for a format with several accepted spellings of one token:
/// `canonical` maps each to one spelling, and "identical" means identical after it.
fn check_verifier_spelled<T>(
    data: &[u8],
    produced: &[String],
    verify: impl Fn(&str) -> Result<T, fwtoken::Error>,
    canonical: impl Fn(&str) -> String,
) {
    for p in produced {
        assert!(verify(p).is_ok(), "a token the target produced must verify");
    }
    if let [0xFF, pick, ops @ ..] = data {
        let original = &produced[usize::from(*pick) % produced.len()];
        if let Some(m) = mutate(original, ops)
            && let Some(m) = text(&m)
            && canonical(m) != *original
        {
            assert!(
                verify(m).is_err(),
                "a mutated token verified: {m:?} from {original:?}"
            );
        }
        return;
    }
    if let Some(t) = text(data)
        && verify(t).is_ok()
    {
        let t = canonical(t);
        assert!(produced.contains(&t), "fuzzer-made input verified: {t:?}");
    }
}

/// A FotoWeb token as it may arrive through a URL (a `+` sent as a space, or `%2B`,
/// `%2F`, `%3D` in either case), in its one base64 spelling.
fn fotoweb_canonical(t: &str) -> String {
    let mut out = String::new();
    let mut rest = t;
    while let Some(c) = rest.chars().next() {
        let esc = rest.get(..3).map(str::to_ascii_uppercase);
        let (put, used) = match (c, esc.as_deref()) {
            (' ', _) => ('+', 1),
            ('%', Some("%2B")) => ('+', 3),
            ('%', Some("%2F")) => ('/', 3),
            ('%', Some("%3D")) => ('=', 3),
            (c, _) => (c, c.len_utf8()),
        };
        out.push(put);
        rest = &rest[used..];
    }
    out
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
    check_verifier_spelled(
        data,
        login_tokens(false),
        |t| LoginToken::verify_fotoweb(ring(), t, now(), &policy),
        fotoweb_canonical,
    );
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
            // `Debug` is the fingerprint and nothing else. (Checking that it does not
            // contain the text fails for text such as "et { fingerpr", which is part of
            // the fixed output: the fuzzer found that.)
            assert_eq!(
                format!("{s:?}"),
                format!("Secret {{ fingerprint: {}, .. }}", s.fingerprint())
            );
        }
        // The error is one of the fixed rules: it cannot echo the text. (Checking that the
        // message does not contain the input is not enough: the fuzzer found " secret:",
        // which is part of the fixed message itself.)
        Err(e) => {
            const RULES: [&str; 4] = [
                "empty",
                "longer than 250 bytes",
                "contains a control character",
                "leading or trailing whitespace",
            ];
            assert!(
                matches!(e, fwtoken::Error::InvalidSecret(rule) if RULES.contains(&rule)),
                "{e:?}"
            );
            assert_eq!(
                e.to_string(),
                format!(
                    "invalid secret: {}",
                    match e {
                        fwtoken::Error::InvalidSecret(rule) => rule,
                        _ => "",
                    }
                )
            );
        }
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

/// Identity: no panic; the skeleton is idempotent and the same for the NFD and NFC forms of
/// a name; equal skeletons are the same account both ways and give the same identity key;
/// one identity key is one account for refusals; a name that passes the issue-time check
/// has a non-empty skeleton.
pub fn identity(data: &[u8]) {
    use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};
    let Some(t) = text(data) else { return };
    // Two names: the input split at its first NUL (or the input and its upper case).
    let (a, b) = match t.split_once('\0') {
        Some((a, b)) => (a.to_owned(), b.to_owned()),
        None => (t.to_owned(), t.to_uppercase()),
    };
    let sa = fwtoken::skeleton(&a).into_owned();
    let sb = fwtoken::skeleton(&b).into_owned();
    assert_eq!(fwtoken::skeleton(&sa), sa.as_str(), "not idempotent: {a:?}");
    assert_eq!(fwtoken::skeleton(&sb), sb.as_str(), "not idempotent: {b:?}");
    let nfd = DecomposingNormalizerBorrowed::new_nfd().normalize(&a);
    assert_eq!(fwtoken::skeleton(&nfd), sa.as_str(), "NFD differs: {a:?}");
    let nfc = ComposingNormalizerBorrowed::new_nfc().normalize(&a);
    assert_eq!(fwtoken::skeleton(&nfc), sa.as_str(), "NFC differs: {a:?}");
    let site = fwtoken::SiteDomains::new()
        .with("corp.example")
        .with("corp");
    if sa == sb {
        assert!(fwtoken::same_account(&a, &b), "{a:?} {b:?}");
        assert!(fwtoken::same_account(&b, &a), "{a:?} {b:?}");
        assert_eq!(
            fwtoken::identity_key(&a, &site),
            fwtoken::identity_key(&b, &site)
        );
    }
    // Refusals read every way grouping does (and more).
    let plain = fwtoken::SiteDomains::new();
    if fwtoken::identity_key(&a, &plain) == fwtoken::identity_key(&b, &plain) {
        assert!(fwtoken::same_account(&a, &b), "{a:?} {b:?}");
    }
    assert!(fwtoken::same_account(&a, &a), "{a:?}");
    if fwtoken::validate_new_user_name(&a).is_ok() {
        assert!(!sa.is_empty(), "{a:?}");
    }
}

// ---- API and device tokens, cookies, client-bound ids ---------------------------------

fn api_tokens() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| {
        let backup_only = KeyRing::new(ring().backup().unwrap().clone());
        let mut r = rng(2);
        let mut out = Vec::new();
        for (user, app, d) in [
            ("alice", "CMS", "PT1H"),
            ("CORP\\bob", "sync", "P5D"),
            ("Jørgen", "x", "PT60S"),
        ] {
            let req = ApiTokenRequest {
                un: user.into(),
                app: app.into(),
                duration: d.into(),
            };
            for ring in [ring(), &backup_only] {
                out.push(
                    ApiToken::issue(ring, &req, now(), &ApiPolicy::new(), &mut r)
                        .unwrap()
                        .token,
                );
            }
        }
        out
    })
}

/// Target `api_token`: API-token verification.
pub fn api_token(data: &[u8]) {
    check_verifier(data, api_tokens(), |t| {
        ApiToken::verify(ring(), t, now(), Duration::from_secs(60))
    });
}

fn device_tokens() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| {
        let backup_only = KeyRing::new(ring().backup().unwrap().clone());
        let mut r = rng(3);
        let mut out = Vec::new();
        for user in ["alice", "carol@example.com", "山田"] {
            for ring in [ring(), &backup_only] {
                out.push(DeviceToken::issue(ring, user, now(), &mut r).unwrap().0);
            }
        }
        out
    })
}

/// Target `device_token`: device-token verification.
pub fn device_token(data: &[u8]) {
    check_verifier(data, device_tokens(), |t| DeviceToken::verify(ring(), t));
}

/// Target `session_cookie`: `Cookie` header parsing. Whatever is found is a piece of the
/// header without separators; a token placed among other cookies is found again exactly.
pub fn session_cookie(data: &[u8]) {
    let Some(header) = text(data) else { return };
    if let Some(v) = SessionCookie::find(header) {
        assert!(header.contains(v));
        assert!(
            !v.contains(';') && !v.contains(',') && !v.contains(' '),
            "{v:?}"
        );
    }
    for v in SessionCookie::find_all(header) {
        assert!(header.contains(v));
    }
    // Round trip: any base64url token between other cookies is found again.
    let token: String = header
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(200)
        .collect();
    if !token.is_empty() {
        for h in [
            format!("FWSession={token}"),
            format!("theme=dark; FWSession={token}; lang=nb"),
            format!("a=\"x;y\";FWSession=\"{token}\"; b=1"),
        ] {
            assert_eq!(SessionCookie::find(&h), Some(token.as_str()), "{h:?}");
        }
    }
}

fn device(n: u8) -> DeviceId {
    DeviceId::from_bytes([n; 16])
}

fn client_bound() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| {
        let mut r = rng(4);
        ["image-1", "a/b/c.jpg", "ø"]
            .iter()
            .map(|id| ClientBoundId::seal(ring(), &device(1), id, now(), &mut r).unwrap())
            .collect()
    })
}

/// Target `image_id`: client-bound id opening. Only this device opens its ids; another
/// device never does.
pub fn image_id(data: &[u8]) {
    check_verifier(data, client_bound(), |t| {
        ClientBoundId::open(ring(), &device(1), t)
    });
    for t in client_bound() {
        assert!(ClientBoundId::open(ring(), &device(2), t).is_err());
    }
    if let Some(t) = text(data) {
        assert!(
            ClientBoundId::open(ring(), &device(2), t).is_err()
                || client_bound().iter().all(|p| p != t)
        );
    }
}

// ---- cache links ------------------------------------------------------------------------

fn signer() -> &'static CacheLinkSigner<KeyRing> {
    static S: OnceLock<CacheLinkSigner<KeyRing>> = OnceLock::new();
    S.get_or_init(|| {
        CacheLinkSigner::new(ring().clone())
            .prefix("/fotoweb")
            .unwrap()
    })
}

fn cache_links() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| {
        let backup_only = CacheLinkSigner::new(KeyRing::new(ring().backup().unwrap().clone()));
        let links = [
            CacheLink::new("/archives/photos/harbour.tif")
                .width(800)
                .height(600)
                .format("jpg")
                .quality(80),
            CacheLink::new("/a").expires(now() + Duration::from_secs(3600)),
            CacheLink::new("/b")
                .client(IpNetwork::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 0)), 24).unwrap())
                .tag("t"),
        ];
        let mut out: Vec<String> = links
            .iter()
            .map(|l| signer().sign(l, now()).unwrap())
            .collect();
        out.push(backup_only.sign(&links[0], now()).unwrap());
        out
    })
}

/// Target `cache_open`: cache-link opening, plus a round trip of a link built from the input.
pub fn cache_open(data: &[u8]) {
    let client = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)));
    check_verifier(data, cache_links(), |t| signer().open(t, now(), client));
    if let Some(link) = link_from(data)
        && let Ok(token) = signer().sign(&link, now())
    {
        assert_eq!(
            signer().sign(&link, now()).unwrap(),
            token,
            "signing is deterministic"
        );
        let ip = link.client.map(|n| n.addr());
        let opened = signer().open(&token, now(), ip).unwrap().into_inner();
        let mut expected = link.clone();
        expected.expires = link.expires.map(|e| signer().round_expiry(e).unwrap());
        assert_eq!(opened, expected);
        let path = signer().path(&link, now()).unwrap();
        assert_eq!(
            signer().parse_path(&path, now(), ip).unwrap().into_inner(),
            expected
        );
    }
}

/// Builds a cache link from fuzzer bytes (None when too short).
fn link_from(data: &[u8]) -> Option<CacheLink> {
    let (&[flags, w0, w1, h0, h1, q, fmt, exp, net, plen], rest) =
        data.split_first_chunk::<10>()?;
    let (path, tag) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut link = CacheLink::new(String::from_utf8_lossy(path).into_owned());
    if flags & 1 != 0 {
        link = link.width(u16::from_le_bytes([w0, w1]));
    }
    if flags & 2 != 0 {
        link = link.height(u16::from_le_bytes([h0, h1]));
    }
    if flags & 4 != 0 {
        link = link.quality(q);
    }
    if flags & 8 != 0 {
        link = link
            .format(["jpg", "png", "webp", "avif", "x", "JPG", "toolongfmt"][usize::from(fmt) % 7]);
    }
    if flags & 16 != 0 {
        link = link.expires(now() + Duration::from_secs(u64::from(exp) * 997));
    }
    if flags & 32 != 0 {
        let addr = if net & 1 == 0 {
            IpAddr::V4(Ipv4Addr::new(net, 0, 113, 9))
        } else {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, u16::from(net), 0, 0, 0, 0, 9))
        };
        let net = IpNetwork::new(addr, plen % 129)
            .ok()
            .or_else(|| Some(IpNetwork::host(addr)))?;
        link = link.client(net);
    }
    if let Some(t) = tag {
        link = link.tag(&String::from_utf8_lossy(t));
    }
    Some(link)
}

/// Target `cache_path`: cache-path parsing. Only paths this signer made open.
pub fn cache_path(data: &[u8]) {
    let produced: Vec<String> = cache_links()
        .iter()
        .zip(["jpg", "bin", "bin", "jpg"])
        .map(|(t, ext)| format!("/fotoweb/cache/v1/{t}.{ext}"))
        .collect();
    let client = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)));
    check_verifier(data, &produced, |p| signer().parse_path(p, now(), client));
}

// ---- Edgecast and Fernet -------------------------------------------------------------

fn edge_ring() -> &'static EdgeKeyRing {
    static R: OnceLock<EdgeKeyRing> = OnceLock::new();
    R.get_or_init(|| {
        EdgeKeyRing::new(EdgeKey::new("FuzzBackupKey2025").unwrap())
            .rotate(EdgeKey::new("FuzzPrimaryKey2026").unwrap())
            .unwrap()
    })
}

fn edge_tokens() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| {
        let backup_only = EdgeKeyRing::new(edge_ring().backup().unwrap().clone());
        let mut r = rng(5);
        let mut out = Vec::new();
        for pt in [
            "ec_expire=1764004200&ec_url_allow=/fotoweb/cache/v1/",
            "ec_clientip=203.0.113.7",
            "x",
        ] {
            for ring in [edge_ring(), &backup_only] {
                out.push(ring.encrypt(pt, &mut r).unwrap());
            }
        }
        out
    })
}

/// Deployed Edgecast decoders accept `-_` and `+/` base64, mixed, padded or not, and so
/// does fwtoken: compare tokens in one canonical spelling.
fn edge_canonical(t: &str) -> String {
    t.trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// Target `edge_decrypt`: Edgecast token decryption. What decrypts is one of the tokens
/// made here (in any accepted spelling); a mutated token never decrypts.
pub fn edge_decrypt(data: &[u8]) {
    let produced: Vec<String> = edge_tokens().to_vec();
    for p in &produced {
        assert!(edge_ring().decrypt(p).is_ok());
    }
    if let [0xFF, pick, ops @ ..] = data {
        let original = &produced[usize::from(*pick) % produced.len()];
        if let Some(m) = mutate(original, ops).and_then(|m| String::from_utf8(m).ok())
            && edge_canonical(&m) != *original
        {
            assert!(
                edge_ring().decrypt(&m).is_err(),
                "mutated Edgecast token decrypted: {m:?}"
            );
        }
        return;
    }
    if let Some(t) = text(data)
        && edge_ring().decrypt(t).is_ok()
    {
        assert!(
            produced.contains(&edge_canonical(t)),
            "fuzzer-made Edgecast token decrypted: {t:?}"
        );
    }
}

/// Target `edge_params`: Edgecast parameter parsing. Parsed parameters write back to a
/// string that parses to the same value, and writing is stable.
pub fn edge_params(data: &[u8]) {
    let Some(t) = text(data) else { return };
    if let Ok(p) = EdgeParams::parse(t) {
        let written = p.to_string();
        let again = EdgeParams::parse(&written)
            .unwrap_or_else(|e| panic!("{written:?} does not parse: {e}"));
        assert_eq!(again, p, "{t:?} -> {written:?}");
        assert_eq!(again.to_string(), written);
    }
}

fn fernet_ring() -> &'static FernetRing {
    static R: OnceLock<FernetRing> = OnceLock::new();
    R.get_or_init(|| {
        FernetRing::new(
            FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap(),
        )
        .with_backup(FernetKey::generate(&mut rng(6)))
        .unwrap()
    })
}

fn fernet_tokens() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| {
        let backup_only = FernetRing::new(fernet_ring().backup().unwrap().clone());
        let mut r = rng(7);
        let mut out = Vec::new();
        for pt in [b"hello".as_slice(), b"", &[0u8; 64]] {
            for ring in [fernet_ring(), &backup_only] {
                out.push(ring.encrypt(pt, now(), &mut r).unwrap());
            }
        }
        out
    })
}

/// Target `fernet_decrypt`: Fernet decryption (with a TTL, so times are checked too).
pub fn fernet_decrypt(data: &[u8]) {
    check_verifier(data, fernet_tokens(), |t| {
        fernet_ring().decrypt(t, now(), Some(Duration::from_secs(3600)))
    });
}

/// A target's name and body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target by name.
pub const TARGETS: &[Target] = &[
    ("login_fotoweb", login_fotoweb),
    ("login_sealed", login_sealed),
    ("secret_from_text", secret_from_text),
    ("duration", duration),
    ("identity", identity),
    ("api_token", api_token),
    ("device_token", device_token),
    ("session_cookie", session_cookie),
    ("image_id", image_id),
    ("cache_open", cache_open),
    ("cache_path", cache_path),
    ("edge_decrypt", edge_decrypt),
    ("edge_params", edge_params),
    ("fernet_decrypt", fernet_decrypt),
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
        "identity" => [
            "siteowner",
            "S\u{0130}TEOWNER\0\u{017F}\u{0131}teowner",
            "CORP\\Alice\0alice@corp.example",
            "\u{FF53}ite\u{00AD}owner \0siteowner",
            "Jose\u{0301}\0Jos\u{00E9}",
            "\u{1D42C}\u{200B}@\u{FF3C}\0x",
            "\u{FFA0}\u{1D6A4}\u{3164}",
            "\u{0345}\u{0399}\u{03B9}\u{1FBE}",
            "\u{FB00}\u{FB03}\u{00DF}\u{1E9E}",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        "api_token" => api_tokens().iter().map(|t| t.as_bytes().to_vec()).collect(),
        "device_token" => device_tokens().iter().map(|t| t.as_bytes().to_vec()).collect(),
        "image_id" => client_bound().iter().map(|t| t.as_bytes().to_vec()).collect(),
        "cache_open" => {
            let mut v: Vec<Vec<u8>> = cache_links().iter().map(|t| t.as_bytes().to_vec()).collect();
            v.push(b"\x3f\x20\x03\x58\x02\x50\x00\x05\x02\x18/archives/a.tif\x00tag".to_vec());
            v.push(b"\x2f\x20\x03\x58\x02\x50\x01\x05\x03\x30/p\xc3\xa5.png".to_vec());
            v
        }
        "cache_path" => cache_links().iter().map(|t| format!("/fotoweb/cache/v1/{t}.jpg").into_bytes()).collect(),
        "session_cookie" => ["FWSession=abc", "a=1; FWSession=\"q-_z\"; b=2", "FWSession=;FWSession=x", "fwsession=x", "FWSession =x"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect(),
        "edge_decrypt" => {
            let mut v: Vec<Vec<u8>> = edge_tokens().iter().map(|t| t.as_bytes().to_vec()).collect();
            v.push(format!("{}==", edge_tokens()[0].replace('-', "+")).into_bytes());
            v
        }
        "edge_params" => [
            "ec_expire=1764004200&ec_clientip=203.0.113.7&ec_url_allow=/fotoweb/cache/v1/&ec_proto_allow=https",
            "ec_country_allow=NO,SE&ec_country_deny=US&ec_host_allow=*.example.com&ec_ref_allow=missing,example.com/a",
            "ec_clientip=2001:db8::/32&custom=1&ec_proto_deny=http",
            "ec_expire=18446744073709551615",
            "a=&b",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        "fernet_decrypt" => fernet_tokens().iter().map(|t| t.as_bytes().to_vec()).collect(),
        _ => Vec::new(),
    };
    out.push(Vec::new());
    out.push(vec![0xFF, 0, 0, 5, 0, b'A']);
    out
}
