//! The `fwtoken` command refuses the site owner under every spelling the identity rules
//! know (canonical equivalents, every reading of a domain, blank and invisible code points,
//! case, width and decomposition variants), and reads legacy double-encoded names only
//! with `--legacy-utf8-encode`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::process::{Command, Output};

use base64::Engine as _;

const BIN: &str = env!("CARGO_BIN_EXE_fwtoken");
const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const NOW: &str = "2026-11-24T10:00:00Z";

fn run(args: &[&str], secret: &str) -> Output {
    let mut c = Command::new(BIN);
    c.args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FWTOKEN_") {
            c.env_remove(k);
        }
    }
    c.env("FWTOKEN_SECRET", secret);
    c.output().unwrap()
}

/// A FotoWeb-format login token as another generator would make it, for any name.
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

/// The spellings of issue 18, and case, width and decomposed variants of them.
fn owner_spellings() -> Vec<String> {
    let base = [
        "SI\u{0307}TEOWNER",
        "S\u{0130}TEOWNER",
        "si\u{0307}teowner",
        "siteowner@corp\\x",
        "siteowner@corp.example\\alice",
        "CORP\\siteowner@x",
        "siteowner\u{2800}",
        "siteowner\u{FFF9}",
        "site\u{FFFA}owner",
        "\u{FFFB}siteowner",
        "\u{0600}siteowner",
        "siteowner\u{13430}",
        "siteowner\u{E000}",
        "\u{017F}iteowner",
        "site\u{00AD}owner",
    ];
    let mut out = Vec::new();
    for b in base {
        let wide: String = b
            .chars()
            .map(|c| {
                if c.is_ascii_lowercase() {
                    char::from_u32(c as u32 - 0x61 + 0xFF41).unwrap()
                } else {
                    c
                }
            })
            .collect();
        out.extend([b.to_string(), b.to_lowercase(), b.to_uppercase(), wide]);
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn api_issue_refuses_every_owner_spelling() {
    for user in owner_spellings() {
        let o = run(
            &[
                "api",
                "issue",
                "--user",
                &user,
                "--app",
                "CMS",
                "--duration",
                "PT1H",
                "--owner",
                "siteowner",
            ],
            SECRET,
        );
        let code = o.status.code().unwrap();
        assert!(code == 1 || code == 2, "{user:?}: exit {code}");
        assert!(o.stdout.is_empty(), "{user:?}: a token was printed");
    }
}

#[test]
fn login_verify_refuses_every_owner_spelling_with_deny_user() {
    for user in owner_spellings() {
        let token = fotoweb_token(&user);
        for extra in [&[][..], &["--legacy-utf8-encode"][..]] {
            let mut args = vec![
                "login",
                "verify",
                &token,
                "--now",
                NOW,
                "--deny-user",
                "siteowner",
            ];
            args.extend_from_slice(extra);
            let o = run(&args, SECRET);
            assert_eq!(o.status.code(), Some(1), "{user:?} {extra:?}");
            assert!(o.stdout.is_empty());
        }
        // Without --deny-user the format's own rules decide (a C1 control is refused).
        let o = run(&["login", "verify", &token, "--now", NOW], SECRET);
        assert_eq!(o.status.code(), Some(0), "{user:?}");
    }
}

#[test]
fn the_rfc_8265_refusal_names_the_code_point() {
    let o = run(
        &[
            "login",
            "issue",
            "--user",
            "siteowner\u{2800}",
            "--now",
            NOW,
        ],
        SECRET,
    );
    assert_ne!(o.status.code(), Some(0));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("U+2800 is a symbol, not allowed in user names"),
        "{err}"
    );
    // Real names pass: Persian with a zero-width non-joiner, Sinhala with a joiner.
    for user in [
        "\u{0639}\u{0644}\u{06CC}\u{200C}\u{0627}\u{06A9}\u{0628}\u{0631}",
        "\u{0DC1}\u{0DCA}\u{200D}\u{0DBB}\u{0DD3}",
        "O\u{0308}mer I\u{0307}nan",
    ] {
        let o = run(&["login", "issue", "--user", user, "--now", NOW], SECRET);
        assert_eq!(o.status.code(), Some(0), "{user:?}");
    }
}

#[test]
fn legacy_utf8_encode_reads_the_2017_php_generators_names() {
    let file: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/vectors/login-fotoweb-legacy-utf8.json"
    ))
    .unwrap();
    let secret = file["secret"].as_str().unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 18);
    for v in vectors {
        let field = |name: &str| v[name].as_str().unwrap().to_string();
        let (intended, as_sent, token, now) = (
            field("intended_user"),
            field("user_as_sent"),
            field("token"),
            field("now"),
        );
        let with = run(
            &[
                "login",
                "verify",
                &token,
                "--now",
                &now,
                "--legacy-utf8-encode",
            ],
            secret,
        );
        assert_eq!(with.status.code(), Some(0), "{intended:?}");
        let claims: serde_json::Value = serde_json::from_slice(&with.stdout).unwrap();
        assert_eq!(claims["user"], intended.as_str());
        let without = run(&["login", "verify", &token, "--now", &now], secret);
        match without.status.code() {
            Some(0) => {
                let claims: serde_json::Value = serde_json::from_slice(&without.stdout).unwrap();
                assert_eq!(claims["user"], as_sent.as_str());
            }
            Some(1) => assert!(as_sent.chars().any(|c| ('\u{80}'..='\u{9F}').contains(&c))),
            other => panic!("{intended:?}: exit {other:?}"),
        }
    }
}
