//! A PostgreSQL password never shows (issue 21): for random passwords made of URL-special
//! characters in every position, passed in every way the driver reads (the URL's user
//! info raw and percent-encoded, `password=` raw and percent-encoded, a percent-encoded
//! parameter name, the key=value form), neither `StoreUrl::describe`, its `Debug`, nor a
//! parse error contains the password or its percent-encoding; and when the password is
//! written correctly, the driver did read it (so what is hidden is what will be used).
//!
//! The same property through the real `fwtoken` command and the example server's start-up
//! is in the root crate's `tests/store_url_redaction.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use fwtoken_store::StoreUrl;
use proptest::prelude::*;

/// Characters with a meaning in a URL or a key=value string, and a few more.
const SPECIAL: &[char] = &[
    '@', ':', '/', '?', '#', '&', '=', '%', '+', ';', ',', '[', ']', '\'', '"', '\\', ' ', '!',
    '$', '(', ')', '~', '^', '|', '{', '}', '<', '>', '`',
];

/// A password of 8 to 24 characters with special characters at its start, in its middle
/// and at its end, and an upper-case letter no printed store has.
fn password() -> impl Strategy<Value = String> {
    let special = proptest::sample::select(SPECIAL);
    let any = prop_oneof![
        proptest::sample::select(SPECIAL),
        proptest::char::range('a', 'z'),
        proptest::char::range('A', 'Z'),
        proptest::char::range('0', '9'),
        Just('é'),
    ];
    (
        special.clone(),
        proptest::collection::vec(any, 5..21),
        special,
        proptest::char::range('Q', 'Z'),
        0usize..100,
    )
        .prop_map(|(first, middle, last, upper, at)| {
            let mut chars = middle;
            let at = at % (chars.len() + 1);
            chars.insert(at, upper);
            let mut p = String::new();
            p.push(first);
            p.extend(chars);
            p.push(last);
            p
        })
}

/// `s` with every byte but ASCII letters and digits percent-encoded.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `s` quoted for the key=value form.
fn kv_quote(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Every way of passing `p`: (the connection string, whether it is written correctly).
fn ways(p: &str) -> Vec<(String, bool)> {
    vec![
        (format!("postgres://fw:{p}@db.example:5432/fw"), false),
        (format!("postgres://fw:{}@db.example:5432/fw", pct(p)), true),
        (format!("postgresql://fw@db.example/fw?password={p}"), false),
        (
            format!(
                "postgresql://fw@db.example/fw?sslmode=disable&password={}",
                pct(p)
            ),
            true,
        ),
        (
            format!("postgres://fw@db.example/fw?pass%77ord={}", pct(p)),
            true,
        ),
        (
            format!(
                "postgres://fw@db.example/fw?%70%61%73%73%77%6F%72%64={}",
                pct(p)
            ),
            true,
        ),
        (
            format!(
                "host=db.example port=5432 user=fw password={} dbname=fw",
                kv_quote(p)
            ),
            true,
        ),
        (
            format!("host=db.example user=fw password={p} dbname=fw"),
            false,
        ),
        // No user part: a raw `@` in the query ends the "user info" for the driver.
        (format!("postgres://db.example/fw?password={p}"), false),
        (
            format!("postgresql://db.example:5432/fw?user=fw&password={p}"),
            false,
        ),
        (
            format!("postgres://db.example:5432/fw?user=fw&password={}", pct(p)),
            true,
        ),
        (
            format!("postgres://fw:{p}@db.example/fw?password={p}"),
            false,
        ),
    ]
}

/// What a store may be shown as, from the connection strings of [`ways`]: the user, host,
/// port and database as written (each may be missing when a raw character cut the string
/// short), never anything made of the password.
fn allowed_shown(shown: &str) -> bool {
    for user in ["", "fw", ":***", "fw:***"] {
        for port in ["", ":5432"] {
            for db in ["", "/fw"] {
                let at = if user.is_empty() { "" } else { "@" };
                if shown == format!("postgres://{user}{at}db.example{port}{db}") {
                    return true;
                }
            }
        }
    }
    false
}

fn assert_hidden(p: &str, text: &str, shown: &str) {
    for form in [p.to_string(), pct(p)] {
        assert!(
            !shown.contains(&form),
            "the password shows in {shown:?} (from {text:?})"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_password_never_shows(p in password()) {
        for (text, well_formed) in ways(&p) {
            match StoreUrl::parse(&text) {
                Ok(url) => {
                    assert_hidden(&p, &text, &url.describe());
                    // Not even a piece of it: only the parts as written.
                    prop_assert!(allowed_shown(&url.describe()), "{text:?} shown as {}", url.describe());
                    assert_hidden(&p, &text, &format!("{url:?}"));
                    if well_formed {
                        let StoreUrl::Postgres(target) = &url else {
                            panic!("{text:?} is not a PostgreSQL store");
                        };
                        prop_assert_eq!(target.config().get_password(), Some(p.as_bytes()));
                        prop_assert_eq!(url.describe(), "postgres://fw:***@db.example:5432/fw");
                    }
                }
                Err(e) => {
                    prop_assert!(!well_formed, "{text:?} refused: {e}");
                    assert_hidden(&p, &text, &e.to_string());
                    assert_hidden(&p, &text, &format!("{e:?}"));
                }
            }
        }
    }
}
