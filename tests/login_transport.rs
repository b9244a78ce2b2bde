//! FotoWeb login tokens as generators deliver them through a URL (issue 14): FotoWare's
//! PHP generator appends `?lt=` and standard base64 without percent-encoding, so a server
//! that decodes the query form-style sees each `+` as a space; `login_url` percent-encodes
//! `+ / =`. Both spellings must verify, to the same claims, and nothing else may.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fwtoken::time::{OffsetDateTime, macros::datetime};
use fwtoken::{
    Error, KeyRing, LoginFormat, LoginPolicy, LoginToken, MAX_FOTOWEB_TOKEN_CHARS, Secret,
    login_url,
};
use md5::{Digest, Md5};

const SECRET: &str = "site encryption secret from FotoWeb";
const NOW: OffsetDateTime = datetime!(2026-11-24 10:00:00 UTC);

fn ring() -> KeyRing {
    KeyRing::new(Secret::from_text(SECRET).unwrap())
}

fn fotoweb_time(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A token exactly as FotoWare's PHP generator builds it (szeidler/fotoweb-php-sdk
/// `src/Authentication/LoginTokenGenerator.php`, current version): the text, its MAC
/// `base64(md5(text . "es=" . secret))`, then `base64_encode` of the whole.
fn php_token(user: &str, start: OffsetDateTime, end: OffsetDateTime, secret: &str) -> String {
    php_token_w(user, start, end, secret, false)
}

fn php_token_w(
    user: &str,
    start: OffsetDateTime,
    end: OffsetDateTime,
    secret: &str,
    widgets: bool,
) -> String {
    let text = format!(
        "s={};e={};w={widgets};u={user};",
        fotoweb_time(start),
        fotoweb_time(end)
    );
    let mac = Md5::digest(format!("{text}es={secret}").as_bytes());
    STANDARD.encode(format!("{text}m={};", STANDARD.encode(mac)))
}

/// PHP's `utf8_encode`: each byte read as Latin-1 and written as UTF-8.
fn utf8_encode(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .flat_map(|&b| char::from(b).to_string().into_bytes())
        .collect()
}

/// The older generator (the same file before FotoWare dropped `utf8_encode`): the text and
/// the MAC input both pass through `utf8_encode`.
fn php_token_utf8_encode(user: &str, start: OffsetDateTime, end: OffsetDateTime) -> String {
    let text = format!(
        "s={};e={};w=false;u={user};",
        fotoweb_time(start),
        fotoweb_time(end)
    );
    let mac = Md5::digest(utf8_encode(format!("{text}es={SECRET}").as_bytes()));
    let whole = format!("{text}m={};", STANDARD.encode(mac));
    STANDARD.encode(utf8_encode(whole.as_bytes()))
}

/// A PHP-generated token for `user` whose base64 holds `c` (`+` or `/`), found by trying
/// both `w=` values and moving the window a second at a time. Only the user name can put
/// them there: a byte whose low six bits are `111110` or `111111` at the third place of a
/// three-byte group (`~`, `>`, `?`, and UTF-8 bytes such as the `þ` of `Guðþór`); where
/// the name sits is fixed, so the `w=` value decides.
fn token_with(user: &str, c: char) -> Option<(String, OffsetDateTime)> {
    for widgets in [false, true] {
        for s in 0..120 {
            let start = NOW - time::Duration::seconds(60 + s);
            let end = start + time::Duration::minutes(31);
            let token = php_token_w(user, start, end, SECRET, widgets);
            if token.contains(c) {
                return Some((token, start));
            }
        }
    }
    None
}

/// What a form-style query decoder makes of `lt=<token>` sent without percent-encoding.
fn through_form_decoding(token: &str) -> String {
    token.replace('+', " ")
}

/// The value of `lt=` as `login_url` writes it.
fn percent_encoded(token: &str) -> String {
    let url = login_url("https://dam.example.com/fotoweb/", token);
    url.split_once("lt=").unwrap().1.to_string()
}

const USERS: [&str; 10] = [
    "ab~",
    "x>y",
    "alice",
    "DOMAIN\\bob",
    "zoë",
    "Guðþór",
    "日本語~",
    "Ærøskøbing",
    "名前",
    "søren@example.com",
];

#[test]
fn plus_turned_to_space_and_percent_encoded_tokens_verify_to_the_same_claims() {
    let ring = ring();
    let policy = LoginPolicy::new();
    let (mut plus, mut slash) = (0, 0);
    for user in USERS {
        for c in ['+', '/'] {
            let Some((token, start)) = token_with(user, c) else {
                continue;
            };
            plus += usize::from(c == '+');
            slash += usize::from(c == '/');
            let direct = LoginToken::verify(&ring, &token, NOW, &policy).unwrap();
            assert_eq!(direct.user, user);
            assert_eq!(direct.format, LoginFormat::FotoWeb);
            assert_eq!(direct.not_before, start);
            let spaced = through_form_decoding(&token);
            let encoded = percent_encoded(&token);
            if c == '+' {
                assert!(spaced.contains(' '));
                assert!(encoded.contains("%2B"));
            } else {
                assert!(encoded.contains("%2F"));
            }
            let lower = encoded
                .replace("%2B", "%2b")
                .replace("%2F", "%2f")
                .replace("%3D", "%3d");
            // Partly encoded: the first `+` raw, the rest encoded.
            let partly = encoded.replacen("%2B", "+", 1);
            for text in [&spaced, &encoded, &lower, &partly] {
                let v = LoginToken::verify(&ring, text, NOW, &policy)
                    .unwrap_or_else(|e| panic!("{user} {text}: {e}"));
                assert_eq!(v.value(), direct.value(), "{user} {text}");
                let v = LoginToken::verify_fotoweb(&ring, text, NOW, &policy).unwrap();
                assert_eq!(v.value(), direct.value());
            }
        }
    }
    // The issue's example `ab~` gives a `+`, as do the non-ASCII `Guðþór` and `日本語~`;
    // `zoë` gives a `/`.
    for user in ["ab~", "Guðþór", "日本語~"] {
        assert!(token_with(user, '+').is_some(), "{user}");
    }
    assert!(token_with("zoë", '/').is_some());
    assert!(plus >= 3 && slash >= 1, "{plus} {slash}");
}

#[test]
fn tokens_issued_here_survive_both_transports() {
    let ring = ring();
    let policy = LoginPolicy::new();
    let mut seen_plus = 0;
    for (i, user) in USERS.iter().enumerate() {
        for minutes in 1..40 {
            let token = LoginToken::builder(user)
                .valid_for(std::time::Duration::from_secs(60 * minutes))
                .issue(&ring, NOW - time::Duration::seconds(i as i64))
                .unwrap();
            seen_plus += usize::from(token.contains('+'));
            for text in [
                token.clone(),
                through_form_decoding(&token),
                percent_encoded(&token),
            ] {
                let v = LoginToken::verify(&ring, &text, NOW, &policy).unwrap();
                assert_eq!(v.user, *user);
            }
        }
    }
    assert!(seen_plus > 10, "{seen_plus}");
}

#[test]
fn everything_else_stays_strict() {
    let ring = ring();
    let policy = LoginPolicy::new();
    let (token, _) = token_with("ab~", '+').unwrap();
    let plus = token.find('+').unwrap();
    let at = |i: usize, with: &str| format!("{}{with}{}", &token[..i], &token[i + 1..]);
    for (text, why) in [
        (at(plus, "%2G"), "not a percent escape of + / ="),
        (at(plus, "%41"), "percent escape of another character"),
        (at(plus, "%2"), "truncated escape"),
        (at(plus, "%"), "lone percent"),
        (at(plus, "%252B"), "double percent-encoding"),
        (at(plus, "-"), "URL-safe alphabet"),
        (at(plus, "\t"), "tab"),
        (format!("{token} "), "trailing space"),
        (format!("{token}%"), "trailing percent"),
        (token.trim_end_matches('=').to_string(), "missing padding"),
    ] {
        let err = LoginToken::verify(&ring, &text, NOW, &policy).unwrap_err();
        assert!(
            matches!(err, Error::Malformed(_)),
            "{why}: {text} gave {err:?}"
        );
    }
    // A space where the token had another character decodes to other bytes: the MAC (or
    // the strict parse) refuses it.
    let a = token.find('A').unwrap_or(3);
    assert!(LoginToken::verify(&ring, &at(a, " "), NOW, &policy).is_err());
    // Caps: the received text and the restored base64, both before decoding.
    let long = "%2B".repeat(MAX_FOTOWEB_TOKEN_CHARS + 1);
    assert_eq!(
        LoginToken::verify_fotoweb(&ring, &long, NOW, &policy).unwrap_err(),
        Error::TooLong {
            max: MAX_FOTOWEB_TOKEN_CHARS
        }
    );
    let longer = format!("cz0{}", " ".repeat(3 * MAX_FOTOWEB_TOKEN_CHARS));
    assert_eq!(
        LoginToken::verify(&ring, &longer, NOW, &policy).unwrap_err(),
        Error::TooLong {
            max: MAX_FOTOWEB_TOKEN_CHARS
        }
    );
    // Another secret: the opaque MAC failure, whatever the spelling.
    let other = KeyRing::new(Secret::from_text("another secret").unwrap());
    for text in [
        token.clone(),
        through_form_decoding(&token),
        percent_encoded(&token),
    ] {
        assert_eq!(
            LoginToken::verify(&other, &text, NOW, &policy).unwrap_err(),
            Error::InvalidSignature
        );
    }
}

/// The older generator passed the text through PHP's `utf8_encode` (Latin-1 to UTF-8). For
/// an ASCII user name that changes nothing. For a UTF-8 non-ASCII name it doubles the
/// encoding, in the token and in the MAC input alike, so the MAC still matches and the
/// token verifies, with the name as the generator signed it (`zoÃ«` for `zoë`): fwtoken
/// does not guess that a name was double-encoded (docs/FORMAT.md says why).
#[test]
fn utf8_encode_generator_tokens_verify_with_the_name_as_signed() {
    let ring = ring();
    let policy = LoginPolicy::new();
    let start = NOW - time::Duration::minutes(1);
    let end = NOW + time::Duration::minutes(30);
    let ascii = php_token_utf8_encode("alice", start, end);
    assert_eq!(ascii, php_token("alice", start, end, SECRET));
    assert_eq!(
        LoginToken::verify(&ring, &ascii, NOW, &policy)
            .unwrap()
            .user,
        "alice"
    );
    let doubled = php_token_utf8_encode("zoë", start, end);
    let claims = LoginToken::verify(&ring, &doubled, NOW, &policy).unwrap();
    assert_eq!(claims.user, "zoÃ«");
    assert_ne!(claims.user, "zoë");
    // And through a URL as well.
    let spaced = through_form_decoding(&doubled);
    assert_eq!(
        LoginToken::verify(&ring, &spaced, NOW, &policy)
            .unwrap()
            .user,
        "zoÃ«"
    );
}
