//! Secret-taint checking of every fwtoken verification path under Valgrind memcheck.
//!
//! The technique is Adam Langley's ctgrind, as BoringSSL's constant-time validation and
//! SUPERCOP's TIMECOP use it: secret bytes are marked *undefined*, so memcheck reports
//! every conditional branch and every memory address that depends on them. For each
//! path the harness marks the secret material undefined before any key is derived from
//! it, derives the keys, verifies a valid token and tokens whose tag is wrong in its
//! first, middle and last byte, and declassifies only the outcome it returns. The few
//! places where a secret-derived value legitimately becomes public inside the library
//! (the MAC's yes/no, then the authenticated plaintext, and whether a configured key text
//! is valid) are listed in `ctgrind/declassify.points`, which `run.sh` turns into memcheck
//! suppressions; `SECURITY.md` says why each is public.
//!
//! Key loading is checked the same way: every key type (site secret, full API key,
//! Edgecast key, Fernet key, generated secrets and keys) is loaded from text marked
//! undefined, and nothing but the verdict may depend on it.
//!
//! Memcheck's error count (`VALGRIND_COUNT_ERRORS`, suppressed errors excluded) is read
//! before and after each path: a path passes when its outcomes are right and it added no
//! error. Four negative controls in the same run (an early-exit byte loop over the same
//! secret-derived tag, a table lookup indexed by it, and key text decoded or checked the
//! old way: the `base64` crate's tables, `char::is_control`) must each add errors; if they
//! do not, the harness checked nothing and fails.
//!
//! Run it with `ctgrind/run.sh` from the repository root.

mod vg;

use core::time::Duration;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use fwtoken::rand_core::{TryCryptoRng, TryRng};
use fwtoken::time::OffsetDateTime;
use fwtoken::{
    ApiKey, ApiPolicy, ApiToken, ApiTokenRequest, CacheLink, CacheLinkSigner, ClientBoundId,
    DeviceId, DeviceToken, EdgeKey, EdgeKeyRing, FernetKey, FernetRing, KeyRing, KeySlot,
    LoginPolicy, LoginToken, Secret,
};
use hmac::Mac as _;

/// The site secret of the primary key (public here; marked secret before derivation).
const PRIMARY: &str = "ctgrind primary site secret, 0123456789abcdef";
/// The backup secret.
const BACKUP: &str = "ctgrind backup site secret, fedcba9876543210";
/// The Edgecast key text.
const EDGE_KEY: &str = "Ctgrind2026EdgecastKey0123456789";
/// A generated-style secret (64 lowercase hex characters).
const SECRET_HEX: &str = "4f1c9a0e7d2b6c3a8e5f0d1b2c3a4e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3";
/// A full API key.
const API_KEY_TEXT: &str = "ctgrind full API key of the site, 0123456789";
/// The Fernet specification's key (`generate.json`).
const FERNET_KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
/// A secret outside every ring.
const FOREIGN: &str = "ctgrind foreign site secret, 00112233445566";

/// `--refusals-only`: run only the cases that must be refused (the attacker's cases), so
/// that `run.sh` can check them with the MAC verdicts as the only declassification points.
static REFUSALS_ONLY: AtomicBool = AtomicBool::new(false);

/// Whether cases that must be accepted run (they reach the authenticated plaintext).
fn accepting() -> bool {
    !REFUSALS_ONLY.load(Ordering::Relaxed)
}

/// One check's bookkeeping.
struct Harness {
    /// On Valgrind (memcheck): the error counts mean something.
    valgrind: bool,
    /// Lines describing each failure.
    failures: Vec<String>,
    /// Paths checked.
    paths: usize,
    /// Errors attributed to paths (key loading included) and controls.
    attributed: usize,
}

/// The cases of one path: (label, expected outcome, declassified outcome).
type Cases = Vec<(String, bool, bool)>;

impl Harness {
    /// Runs `body` (which builds its keys from marked secrets and runs its cases) and
    /// checks that it added no memcheck error and that every outcome is the expected one.
    fn path(&mut self, name: &str, secret: &str, body: impl FnOnce() -> Cases) {
        let before = vg::count_errors();
        let cases = body();
        let errors = vg::count_errors().saturating_sub(before);
        self.attributed += errors;
        self.paths += 1;
        let wrong: Vec<&str> = cases
            .iter()
            .filter(|(_, expect, got)| expect != got)
            .map(|(label, ..)| label.as_str())
            .collect();
        let labels: Vec<&str> = cases.iter().map(|(l, ..)| l.as_str()).collect();
        let verdict = if errors == 0 && wrong.is_empty() {
            "ok  "
        } else {
            "FAIL"
        };
        println!(
            "ctgrind: {verdict} {name}\n          secret: {secret}\n          cases ({}): {}\n          memcheck errors: {errors}",
            cases.len(),
            labels.join(", ")
        );
        if errors != 0 {
            self.failures.push(format!(
                "{name}: {errors} memcheck error(s): a branch or an address depends on secret data (see the report above)"
            ));
        }
        if !wrong.is_empty() {
            self.failures
                .push(format!("{name}: wrong outcome for {}", wrong.join(", ")));
        }
    }

    /// Runs key loading on marked key text and checks that it added no memcheck error: a
    /// server loads its keys from configuration text, and nothing about that text may
    /// decide a branch or an address (only the verdict "valid or not", a declassification
    /// point, and the fingerprint, a public key id). `cases` are the outcomes, declassified.
    fn key_loading(&mut self, name: &str, secret: &str, body: impl FnOnce() -> Cases) {
        self.path(&format!("key loading: {name}"), secret, body);
    }

    /// Runs a negative control, which must make memcheck report at least one error.
    fn control(&mut self, name: &str, body: impl FnOnce()) {
        let before = vg::count_errors();
        body();
        let errors = vg::count_errors().saturating_sub(before);
        self.attributed += errors;
        let caught = errors > 0;
        println!(
            "ctgrind: {} negative control: {name}\n          memcheck errors: {errors} ({})",
            if caught || !self.valgrind {
                "ok  "
            } else {
                "FAIL"
            },
            if caught {
                "caught, as it must be"
            } else {
                "NOT caught"
            }
        );
        if self.valgrind && !caught {
            self.failures.push(format!(
                "negative control {name}: memcheck reported nothing, so the harness checks nothing"
            ));
        }
    }
}

/// Declassifies `value` (marks its bytes defined) and returns it: the harness's own
/// declassification point, applied to what a verification returns.
fn public<T>(mut value: T) -> T {
    vg::declassify(&mut value);
    value
}

/// The outcome of a verification, declassified: accepted or refused.
///
/// The returned value is not dropped: an accepted token's claims can hold heap data made
/// from its authenticated plaintext (the lists of Edgecast parameters), whose destructor
/// would branch on lengths memcheck still holds undefined. The harness runs once, so the
/// few kilobytes it keeps are of no consequence.
fn outcome<T, E>(result: Result<T, E>) -> bool {
    let result = core::mem::ManuallyDrop::new(public(result));
    result.is_ok()
}

/// A `Secret` whose text memcheck holds undefined from here on. The text is validated
/// and its fingerprint (the public key id written into every sealed token) computed
/// first, as a server does when it loads its configuration.
fn marked_secret(text: &str) -> Secret {
    let secret = Secret::from_text(text).unwrap_or_else(|_| bad_constant());
    vg::mark_secret(secret.expose_text().as_bytes());
    secret
}

/// The same secret, not marked: the issuer's copy. Tokens are issued with it, so issuing
/// (whose output, the token, is public) is not part of what a path checks.
fn public_secret(text: &str) -> Secret {
    Secret::from_text(text).unwrap_or_else(|_| bad_constant())
}

/// The harness's constants are valid secrets and keys; this is never reached.
fn bad_constant<T>() -> T {
    eprintln!("ctgrind: a constant secret of the harness was refused");
    std::process::exit(3)
}

/// A deterministic random generator (splitmix64) for key material; the marked one's
/// output is undefined for memcheck (secret), the public one's is the same numbers, defined.
struct SecretRng {
    state: u64,
    mark: bool,
}

impl SecretRng {
    fn marked(seed: u64) -> Self {
        Self {
            state: seed,
            mark: true,
        }
    }
    fn public(seed: u64) -> Self {
        Self {
            state: seed,
            mark: false,
        }
    }
}

impl TryRng for SecretRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        // splitmix64: deterministic, so every run checks the same keys.
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_ne_bytes();
            chunk.copy_from_slice(word.get(..chunk.len()).unwrap_or_default());
        }
        if self.mark {
            vg::mark_secret(dst);
        }
        Ok(())
    }
}

impl TryCryptoRng for SecretRng {}

/// The three wrong-tag variants of a token: the tag's byte `i` (of `tag_len`) flipped,
/// for the first, middle and last byte.
fn wrong_tags(raw: &[u8], tag_len: usize) -> Vec<(String, Vec<u8>)> {
    let start = raw.len().saturating_sub(tag_len);
    [("first", 0), ("middle", tag_len / 2), ("last", tag_len - 1)]
        .into_iter()
        .map(|(label, i)| {
            let mut bad = raw.to_vec();
            if let Some(b) = bad.get_mut(start + i) {
                *b ^= 0x01;
            }
            (format!("tag byte {i} ({label}) wrong"), bad)
        })
        .collect()
}

/// Runs `verify` on `token` and on its wrong-tag variants (`tag_len` bytes at the end of
/// its decoding with `engine`).
fn tag_cases(
    token: &str,
    engine: &impl base64::Engine,
    tag_len: usize,
    verify: impl Fn(&str) -> bool,
) -> Cases {
    let mut cases = Vec::new();
    if accepting() {
        cases.push(("valid".to_string(), true, verify(token)));
    }
    let raw = engine.decode(token).unwrap_or_default();
    for (label, bad) in wrong_tags(&raw, tag_len) {
        cases.push((label, false, verify(&engine.encode(bad))));
    }
    cases
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--refusals-only") {
        REFUSALS_ONLY.store(true, Ordering::Relaxed);
        println!(
            "ctgrind: refusals only: the cases that open a sealed token (and so reach its authenticated plaintext) are skipped"
        );
    }
    let valgrind = vg::running_on_valgrind();
    let mut h = Harness {
        valgrind,
        failures: Vec::new(),
        paths: 0,
        attributed: 0,
    };
    if valgrind {
        // The marking works: 8 secret bytes show 64 undefined bits.
        let probe = [0x5au8; 8];
        vg::mark_secret(&probe);
        match vg::undefined_bits(&probe) {
            Some(64) => println!("ctgrind: memcheck is running; marked bytes read as undefined"),
            other => {
                println!("ctgrind: FAIL marking secret bytes had no effect ({other:?})");
                return ExitCode::FAILURE;
            }
        }
    } else {
        println!(
            "ctgrind: NOT under Valgrind: outcomes are checked, taint is not (run ctgrind/run.sh)"
        );
    }
    cpu_report();

    let now =
        OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let mut rng = fwtoken::os_rng();

    // --- Envelope v1, every purpose -------------------------------------------------
    h.path(
        "envelope open: login token, sealed (LoginToken::verify_sealed)",
        "the site secret (before HKDF), so every derived key and the expected tag",
        || {
            let issuer = KeyRing::new(public_secret(PRIMARY));
            let ring = KeyRing::new(marked_secret(PRIMARY));
            let policy = LoginPolicy::new();
            let token = LoginToken::builder("alice")
                .issue_sealed(&issuer, now, &mut rng)
                .unwrap_or_default();
            tag_cases(&token, &URL_SAFE_NO_PAD, 32, |t| {
                outcome(LoginToken::verify_sealed(&ring, t, now, &policy))
            })
        },
    );
    h.path(
        "envelope open: API token (ApiToken::verify)",
        "the site secret (before HKDF)",
        || {
            let issuer = KeyRing::new(public_secret(PRIMARY));
            let ring = KeyRing::new(marked_secret(PRIMARY));
            let request = ApiTokenRequest {
                un: "alice".into(),
                app: "CMS".into(),
                duration: "PT60S".into(),
            };
            let token = ApiToken::issue(&issuer, &request, now, &ApiPolicy::new(), &mut rng)
                .map(|i| i.token)
                .unwrap_or_default();
            tag_cases(&token, &URL_SAFE_NO_PAD, 32, |t| {
                outcome(ApiToken::verify(&ring, t, now, Duration::from_secs(60)))
            })
        },
    );
    h.path(
        "envelope open: device token (DeviceToken::verify)",
        "the site secret (before HKDF)",
        || {
            let issuer = KeyRing::new(public_secret(PRIMARY));
            let ring = KeyRing::new(marked_secret(PRIMARY));
            let token = DeviceToken::issue(&issuer, "alice", now, &mut rng)
                .map(|(t, _)| t)
                .unwrap_or_default();
            tag_cases(&token, &URL_SAFE_NO_PAD, 32, |t| {
                outcome(DeviceToken::verify(&ring, t))
            })
        },
    );
    h.path(
        "envelope open: cache link (CacheLinkSigner::open)",
        "the site secret (before HKDF)",
        || {
            let issuer = CacheLinkSigner::new(KeyRing::new(public_secret(PRIMARY)));
            let signer = CacheLinkSigner::new(KeyRing::new(marked_secret(PRIMARY)));
            let link = CacheLink::new("archive/IMG_0042.jpg").width(800);
            let token = issuer.sign(&link, now).unwrap_or_default();
            tag_cases(&token, &URL_SAFE_NO_PAD, 32, |t| {
                outcome(signer.open(t, now, None))
            })
        },
    );
    h.path(
        "envelope open: client-bound id (ClientBoundId::open)",
        "the site secret (before HKDF)",
        || {
            let issuer = KeyRing::new(public_secret(PRIMARY));
            let ring = KeyRing::new(marked_secret(PRIMARY));
            let device = DeviceId::from_bytes([7; 16]);
            let other = DeviceId::from_bytes([8; 16]);
            let token =
                ClientBoundId::seal(&issuer, &device, "archive/IMG_0042.jpg", now, &mut rng)
                    .unwrap_or_default();
            let mut cases = tag_cases(&token, &URL_SAFE_NO_PAD, 32, |t| {
                outcome(ClientBoundId::open(&ring, &device, t))
            });
            cases.push((
                "another device".into(),
                false,
                outcome(ClientBoundId::open(&ring, &other, &token)),
            ));
            cases
        },
    );

    // --- Key-ring slot selection ----------------------------------------------------
    h.path(
        "key-ring slot selection (primary + backup; the key id is public)",
        "both secrets (before HKDF)",
        || {
            let old = KeyRing::new(public_secret(BACKUP));
            let ring = KeyRing::new(marked_secret(PRIMARY))
                .with_backup(marked_secret(BACKUP))
                .unwrap_or_else(|_| KeyRing::new(marked_secret(PRIMARY)));
            let foreign = KeyRing::new(public_secret(FOREIGN));
            let issuer = KeyRing::new(public_secret(PRIMARY));
            let from_backup = DeviceToken::issue(&old, "alice", now, &mut rng)
                .map(|(t, _)| t)
                .unwrap_or_default();
            let from_primary = DeviceToken::issue(&issuer, "alice", now, &mut rng)
                .map(|(t, _)| t)
                .unwrap_or_default();
            let from_foreign = DeviceToken::issue(&foreign, "alice", now, &mut rng)
                .map(|(t, _)| t)
                .unwrap_or_default();
            let slot = |t: &str| public(DeviceToken::verify(&ring, t)).map(|v| v.slot());
            let mut cases = Vec::new();
            if accepting() {
                cases.push((
                    "primary's token opens with slot Primary".into(),
                    true,
                    slot(&from_primary) == Ok(KeySlot::Primary),
                ));
                cases.push((
                    "backup's token opens with slot Backup".into(),
                    true,
                    slot(&from_backup) == Ok(KeySlot::Backup),
                ));
            }
            cases.push((
                "unknown key id refused".into(),
                false,
                slot(&from_foreign).is_ok(),
            ));
            let raw = URL_SAFE_NO_PAD.decode(&from_backup).unwrap_or_default();
            for (label, bad) in wrong_tags(&raw, 32) {
                let t = URL_SAFE_NO_PAD.encode(bad);
                cases.push((format!("backup's token, {label}"), false, slot(&t).is_ok()));
            }
            cases
        },
    );

    // --- FotoWeb login token (MD5 MAC) ----------------------------------------------
    h.path(
        "FotoWeb login verify, MD5 MAC compare (LoginToken::verify_fotoweb)",
        "the site secret (the MAC's key: md5(message + \"es=\" + secret))",
        || {
            let issuer = KeyRing::new(public_secret(PRIMARY));
            let ring = KeyRing::new(marked_secret(PRIMARY));
            let policy = LoginPolicy::new();
            let token = LoginToken::builder("alice")
                .issue(&issuer, now)
                .unwrap_or_default();
            let verify = |t: &str| outcome(LoginToken::verify_fotoweb(&ring, t, now, &policy));
            let mut cases = vec![("valid".to_string(), true, verify(&token))];
            // T = message + "m=" + base64(mac) + ";": change one byte of the 16-byte MAC.
            let t = STANDARD.decode(&token).unwrap_or_default();
            let split = t.len().saturating_sub(27);
            let (message, field) = t.split_at(split);
            let mac = field
                .get(2..26)
                .and_then(|m| STANDARD.decode(m).ok())
                .unwrap_or_default();
            for (label, bad_mac) in wrong_tags(&mac, 16) {
                let mut bad = message.to_vec();
                bad.extend_from_slice(b"m=");
                bad.extend_from_slice(STANDARD.encode(bad_mac).as_bytes());
                bad.push(b';');
                cases.push((label, false, verify(&STANDARD.encode(bad))));
            }
            cases
        },
    );

    // --- The full API key -------------------------------------------------------------
    h.path(
        "ApiKey::verify_header (full key; presented values of several lengths)",
        "the API key text (before its SHA-256 digest is computed) and each presented value",
        || {
            let key = ApiKey::new(marked_secret(PRIMARY));
            let n = PRIMARY.len();
            let flip = |i: usize| {
                let mut b = PRIMARY.as_bytes().to_vec();
                if let Some(c) = b.get_mut(i) {
                    *c ^= 0x01;
                }
                String::from_utf8(b).unwrap_or_default()
            };
            let presented: Vec<(String, bool, String)> = vec![
                ("the key".into(), true, PRIMARY.into()),
                ("first byte wrong".into(), false, flip(0)),
                ("middle byte wrong".into(), false, flip(n / 2)),
                ("last byte wrong".into(), false, flip(n - 1)),
                ("empty".into(), false, String::new()),
                (
                    "one byte".into(),
                    false,
                    PRIMARY.get(..1).unwrap_or_default().into(),
                ),
                (
                    "the key minus its last byte".into(),
                    false,
                    PRIMARY.get(..n - 1).unwrap_or_default().into(),
                ),
                ("the key plus one byte".into(), false, format!("{PRIMARY}x")),
                ("4 kB".into(), false, "k".repeat(4096)),
            ];
            presented
                .into_iter()
                .map(|(label, expect, p)| {
                    // The presented value is marked too: nothing may branch on it either
                    // before the verdict (it is hashed, then compared).
                    vg::mark_secret(p.as_bytes());
                    (label, expect, public(key.verify_header(&p)))
                })
                .collect()
        },
    );

    // --- Secret equality --------------------------------------------------------------
    h.path("Secret equality (PartialEq)", "both texts", || {
        let a = marked_secret(PRIMARY);
        let n = PRIMARY.len();
        let variant = |i: usize| {
            let mut b = PRIMARY.as_bytes().to_vec();
            if let Some(c) = b.get_mut(i) {
                *c ^= 0x01;
            }
            marked_secret(&String::from_utf8(b).unwrap_or_default())
        };
        vec![
            ("equal".into(), true, public(a == marked_secret(PRIMARY))),
            ("first byte differs".into(), false, public(a == variant(0))),
            (
                "middle byte differs".into(),
                false,
                public(a == variant(n / 2)),
            ),
            (
                "last byte differs".into(),
                false,
                public(a == variant(n - 1)),
            ),
            (
                "shorter".into(),
                false,
                public(a == marked_secret(PRIMARY.get(..n - 1).unwrap_or_default())),
            ),
            (
                "other secret".into(),
                false,
                public(a == marked_secret(BACKUP)),
            ),
        ]
    });

    // --- Fernet ---------------------------------------------------------------------
    h.path(
        "Fernet decrypt, HMAC-SHA256 compare (FernetRing::decrypt)",
        "the 32 key bytes (generated as undefined, before AES and HMAC keys are built)",
        || {
            let issuer = FernetRing::new(FernetKey::generate(&mut SecretRng::public(1)));
            let ring = FernetRing::new(FernetKey::generate(&mut SecretRng::marked(1)));
            let token = issuer
                .encrypt(b"payload", now, &mut rng)
                .unwrap_or_default();
            tag_cases(&token, &URL_SAFE, 32, |t| {
                outcome(ring.decrypt(t, now, None))
            })
        },
    );

    // --- Edgecast -------------------------------------------------------------------
    h.path(
        "Edgecast decrypt, AES-256-GCM tag (EdgeKeyRing::decrypt and decrypt_params)",
        "the key text (before SHA-256, the AES key schedule and GHASH's H)",
        || {
            let issuer =
                EdgeKeyRing::new(EdgeKey::new(EDGE_KEY).unwrap_or_else(|_| bad_constant()));
            let ring = EdgeKeyRing::new(edge_key());
            let token = issuer
                .encrypt("ec_expire=1795000600&ec_url_allow=/videos/", &mut rng)
                .unwrap_or_default();
            let mut cases = tag_cases(&token, &URL_SAFE_NO_PAD, 16, |t| outcome(ring.decrypt(t)));
            // The same token through the parameter parser (what a CDN edge evaluates).
            for (label, expect, result) in tag_cases(&token, &URL_SAFE_NO_PAD, 16, |t| {
                outcome(ring.decrypt_params(t))
            }) {
                cases.push((format!("{label}, as parameters"), expect, result));
            }
            cases
        },
    );

    // --- Key loading: every key type, from marked text ---------------------------------
    h.key_loading(
        "Secret::from_text, is_weak, char_count (site secrets, API keys)",
        "the text, before it is checked (control characters, white space at either end), fingerprinted, and measured",
        || {
            let mut cases = Vec::new();
            for (label, text, weak) in [
                ("a 46-byte secret", PRIMARY, false),
                ("a generated 64-hex secret", SECRET_HEX, false),
                ("a short secret", "abc123", true),
                ("one character repeated", "xxxxxxxxxxxxxxxxxxxx", true),
                ("one 2-byte character repeated", "éééééééééééééééééééé", true),
                ("non-ASCII text", "clé secrète du site, ünïcödé ✓ 𝄞", false),
            ] {
                let chars = text.chars().count();
                let text = String::from(text);
                vg::mark_secret(text.as_bytes());
                let s = Secret::from_text(&text);
                let loaded = public(s.is_ok());
                cases.push((format!("{label}: accepted"), true, loaded));
                if let Ok(s) = s {
                    cases.push((format!("{label}: is_weak"), weak, public(s.is_weak())));
                    let n = public(s.char_count());
                    cases.push((format!("{label}: char_count"), true, n == chars));
                }
            }
            cases
        },
    );
    h.key_loading(
        "ApiKey::from_text (the full API key)",
        "the key text, before it is checked and its SHA-256 digest computed",
        || {
            let text = String::from(API_KEY_TEXT);
            vg::mark_secret(text.as_bytes());
            let key = ApiKey::from_text(&text);
            let ok = public(key.is_ok());
            let chars = key.map(|k| public(k.secret().char_count())).unwrap_or(0);
            vec![
                ("accepted".into(), true, ok),
                ("char_count".into(), true, chars == API_KEY_TEXT.len()),
            ]
        },
    );
    h.key_loading(
        "EdgeKey::new and EdgeKey::new_legacy (Edgecast keys)",
        "the key text, before the letters-and-digits check, SHA-256, the AES key schedule and GHASH's H",
        || {
            let mut cases = Vec::new();
            for (label, text, legacy, ok) in [
                ("a letters-and-digits key", EDGE_KEY, false, true),
                ("a legacy key with hyphens, new", "my-secret-key", false, false),
                ("a legacy key with hyphens, new_legacy", "my-secret-key", true, true),
            ] {
                let text = String::from(text);
                vg::mark_secret(text.as_bytes());
                let key = if legacy {
                    EdgeKey::new_legacy(&text)
                } else {
                    EdgeKey::new(&text)
                };
                cases.push((label.to_string(), ok, outcome(key)));
            }
            cases
        },
    );
    h.key_loading(
        "FernetKey::from_base64 and expose_base64 (Fernet keys)",
        "the key text, before base64 decoding, the canonical check, the AES-128 key schedule, the HMAC key and the fingerprint",
        || {
            let mut cases = Vec::new();
            for (label, text, ok) in [
                ("the specification's key", FERNET_KEY, true),
                (
                    "non-canonical trailing bits",
                    "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e5=",
                    false,
                ),
                (
                    "a standard-alphabet character",
                    "cw/0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=",
                    false,
                ),
                (
                    "no padding, one more character",
                    "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4A",
                    false,
                ),
            ] {
                let text = String::from(text);
                vg::mark_secret(text.as_bytes());
                let key = FernetKey::from_base64(&text);
                cases.push((label.to_string(), ok, public(key.is_ok())));
                if let Ok(key) = key {
                    let back = key.expose_base64();
                    let same = public(bool::from(subtle::ConstantTimeEq::ct_eq(
                        back.as_bytes(),
                        text.as_bytes(),
                    )));
                    cases.push((format!("{label}: expose_base64 gives it back"), true, same));
                }
            }
            cases
        },
    );
    h.key_loading(
        "Secret::generate and FernetKey::generate (marked random bytes)",
        "the random bytes, before hex encoding (secrets) or key setup and base64 encoding (Fernet); expose_text is not called (it hands the text out)",
        || {
            let secret = Secret::generate(&mut SecretRng::marked(2));
            let fernet = FernetKey::generate(&mut SecretRng::marked(3));
            let text = fernet.expose_base64();
            vec![
                (
                    "a 64-character secret".into(),
                    true,
                    public(secret.char_count()) == 64 && !public(secret.is_weak()),
                ),
                (
                    "a 44-character Fernet key".into(),
                    true,
                    public(text.len()) == 44,
                ),
            ]
        },
    );

    // --- Negative controls ------------------------------------------------------------
    let token = {
        let ring = KeyRing::new(Secret::from_text(PRIMARY).unwrap_or_else(|_| bad_constant()));
        let request = ApiTokenRequest {
            un: "alice".into(),
            app: "CMS".into(),
            duration: "PT60S".into(),
        };
        ApiToken::issue(&ring, &request, now, &ApiPolicy::new(), &mut rng)
            .map(|i| i.token)
            .unwrap_or_default()
    };
    let raw = URL_SAFE_NO_PAD.decode(&token).unwrap_or_default();
    let (signed, presented) = raw.split_at(raw.len().saturating_sub(32));
    let mut text = PRIMARY.as_bytes().to_vec();
    vg::mark_secret(&text);
    let expected = envelope_api_tag(&text, signed);
    // The recomputed tag is the token's tag (checked in constant time, then declassified).
    let same = public(bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_slice(),
        presented,
    )));
    println!(
        "ctgrind: the controls' tag, recomputed from the marked secret (docs/FORMAT.md), {} the API token's tag",
        if same { "is" } else { "is NOT" }
    );
    if !same {
        h.failures
            .push("negative controls: the recomputed tag differs from the token's".into());
    }
    let mut wrong_last = presented.to_vec();
    if let Some(b) = wrong_last.last_mut() {
        *b ^= 1;
    }
    h.control(
        "early-exit byte loop over the secret-derived envelope tag",
        || {
            let mut refused = 0usize;
            for presented in [presented, wrong_last.as_slice()] {
                refused += usize::from(!leaky_eq(&expected, presented));
            }
            std::hint::black_box(refused);
        },
    );
    h.control(
        "table lookup indexed by a byte of the secret-derived tag",
        || {
            let table: [u8; 256] = core::array::from_fn(|i| (i as u8).wrapping_mul(31));
            let i = usize::from(std::hint::black_box(expected[0]));
            std::hint::black_box(table.get(i).copied());
        },
    );
    text.clear();
    h.control(
        "key loading: the Fernet key text decoded with the table-driven `base64` crate",
        || {
            let text = String::from(FERNET_KEY);
            vg::mark_secret(text.as_bytes());
            let decoded = URL_SAFE.decode(&text).map(|k| k.len());
            std::hint::black_box(public(decoded).is_ok());
        },
    );
    h.control(
        "key loading: a secret's text checked with `char::is_control` (the old Secret::from_text)",
        || {
            let text = String::from(PRIMARY);
            vg::mark_secret(text.as_bytes());
            let control = text.chars().any(char::is_control);
            std::hint::black_box(public(control));
        },
    );

    let unattributed = vg::count_errors().saturating_sub(h.attributed);
    if unattributed > 0 {
        h.failures.push(format!(
            "{unattributed} memcheck error(s) outside every path and control"
        ));
    }
    println!(
        "ctgrind: {} paths checked, {} failure(s)",
        h.paths,
        h.failures.len()
    );
    for f in &h.failures {
        println!("ctgrind: FAILED {f}");
    }
    if !h.failures.is_empty() {
        ExitCode::FAILURE
    } else if valgrind || std::env::args().any(|a| a == "--outcomes-only") {
        ExitCode::SUCCESS
    } else {
        // Natively nothing about taint was checked: say so in the exit code too.
        ExitCode::from(2)
    }
}

/// An Edgecast key whose text is undefined from before its validation and derivation
/// (`EdgeKey::new` validates and derives in one call).
fn edge_key() -> EdgeKey {
    let text = String::from(EDGE_KEY);
    vg::mark_secret(text.as_bytes());
    EdgeKey::new(&text).unwrap_or_else(|_| bad_constant())
}

/// The envelope v1 tag of an API token, recomputed from the secret text as
/// `docs/FORMAT.md` specifies: HKDF-SHA256 (salt `fwtoken/v1`, info `fwtoken/v1/api`,
/// 96 bytes: encryption key, MAC key, SIV key), then HMAC-SHA256 under the MAC key over
/// the signed bytes, the (empty) context and the context's length as u64 big-endian.
fn envelope_api_tag(secret: &[u8], signed: &[u8]) -> [u8; 32] {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"fwtoken/v1"), secret);
    let mut okm = [0u8; 96];
    let _ = hk.expand(b"fwtoken/v1/api", &mut okm);
    let mac_key = okm.get(32..64).unwrap_or_default();
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(mac_key) else {
        return [0; 32];
    };
    mac.update(signed);
    mac.update(&0u64.to_be_bytes());
    mac.finalize().into_bytes().into()
}

/// The negative control: the comparison constant-time code must never be. It returns at
/// the first differing byte, so its running time tells how many leading bytes matched.
#[inline(never)]
fn leaky_eq(expected: &[u8], presented: &[u8]) -> bool {
    if expected.len() != presented.len() {
        return false;
    }
    for (a, b) in expected.iter().zip(presented) {
        if a != b {
            return false;
        }
    }
    true
}

/// Which instruction-set paths the RustCrypto crates take here: they choose at run time
/// from CPUID (the `cpufeatures` crate), and under Valgrind CPUID is Valgrind's own.
fn cpu_report() {
    #[cfg(target_arch = "x86_64")]
    {
        let f = |yes: bool| if yes { "yes" } else { "no" };
        let aes = std::arch::is_x86_feature_detected!("aes");
        let vaes = std::arch::is_x86_feature_detected!("vaes");
        let avx512f = std::arch::is_x86_feature_detected!("avx512f");
        let sha = std::arch::is_x86_feature_detected!("sha");
        let clmul = std::arch::is_x86_feature_detected!("pclmulqdq");
        let avx = std::arch::is_x86_feature_detected!("avx");
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        println!(
            "ctgrind: CPUID as the code sees it: aes={} vaes={} avx512f={} sha={} pclmulqdq={} avx={} avx2={}",
            f(aes),
            f(vaes),
            f(avx512f),
            f(sha),
            f(clmul),
            f(avx),
            f(avx2)
        );
        let soft_aes = cfg!(aes_backend = "soft");
        let soft_polyval = cfg!(polyval_backend = "soft");
        let aes_path = if soft_aes {
            "soft (bitsliced, forced by --cfg aes_backend=\"soft\")"
        } else if vaes {
            "VAES (not what this run should see under Valgrind)"
        } else if aes {
            "AES-NI"
        } else {
            "soft (bitsliced; no AES-NI)"
        };
        let ghash_path = if soft_polyval {
            "soft (forced by --cfg polyval_backend=\"soft\")"
        } else if clmul && avx {
            "PCLMULQDQ"
        } else {
            "soft"
        };
        let sha_path = if sha { "SHA-NI" } else { "soft" };
        println!(
            "ctgrind: CPU path checked: AES {aes_path}; GHASH/POLYVAL {ghash_path}; SHA-256 {sha_path}; MD5 soft"
        );
    }
}
