//! Who a user name names: the one place where fwtoken compares user names.
//!
//! Different systems behind a FotoWeb-style site compare names differently: SQL Server's
//! `=` ignores trailing spaces and (without a `_WS` collation) character width, Java's
//! `equalsIgnoreCase` and .NET's `OrdinalIgnoreCase` map `ı` and `ſ` to `I` and `S`, ICU's
//! comparisons ignore default-ignorable code points, and every Unicode-aware store treats
//! canonically equivalent spellings (`İ` and `I` + U+0307) as one. A refusal that compares
//! names more strictly than the account store behind it can be walked around with a
//! look-alike spelling, so every comparison here goes through one **skeleton**
//! ([`skeleton`]): decomposition first, ignorables removed, the Turkic i in every form as
//! `i`, compatibility caseless matching, white space trimmed.
//!
//! On top of the skeleton:
//!
//! - **Refusals over-match on purpose** ([`same_account`]): the site owner and a denied
//!   user are refused when the skeleton of the *account part* matches under any reading an
//!   account store might make: the whole name, after the first or last `\`, before the
//!   first or last `@`, and both in either order (`siteowner@corp\x`, `CORP\siteowner@x`).
//! - **Grouping is exact** ([`identity_key`]): a device cap or a `revoke_user` groups by
//!   the account's skeleton plus the domain's, read one documented way. `CORP\alice` and
//!   `alice@corp` are one key; bare `alice` and `alice@corp.example` are one key only
//!   where the site says `corp.example` is its own domain ([`SiteDomains`]).
//! - **New names follow RFC 8265** ([`validate_new_user_name`]): the PRECIS
//!   `UsernameCasePreserved` profile (RFC 8264 `IdentifierClass`, single spaces between
//!   parts, the bidi rule of RFC 5893, the joiner rules of RFC 5892 Appendix A), so symbols
//!   (`U+2800` BRAILLE PATTERN BLANK), format controls, private-use and unassigned code
//!   points are refused with an error that names the code point, while Persian names with
//!   a zero-width non-joiner and Indic names with a zero-width joiner after a virama pass.
//! - **Legacy names**: FotoWeb-format login tokens from FotoWare's 2017 PHP generator carry
//!   UTF-8 names encoded twice; [`LoginPolicy::legacy_utf8_encode`](crate::LoginPolicy::legacy_utf8_encode)
//!   reads them as meant.
//!
//! What the skeleton does not catch: letters of different scripts that look alike
//! (Cyrillic `о` for Latin `o`). Those need a confusables skeleton (UTS #39); see
//! `SECURITY.md` for why fwtoken does not apply one to every comparison.

mod account;
mod legacy;
mod precis;
mod skeleton;

use alloc::borrow::Cow;

use crate::error::{Error, Result};

pub(crate) use account::{Denied, any_denies};
pub use account::{SiteDomains, identity_key, same_account};
pub(crate) use legacy::undo_utf8_encode;
pub use precis::CodePointClass;

/// Longest user name accepted, in bytes.
pub const MAX_USER_LEN: usize = 255;

/// The version of the rules behind [`identity_key`]: it moves whenever the key of some
/// name can change (2: canonical equivalence first, the Turkic i in every form). A store
/// that keeps keys computed by an older version recomputes them (fwtoken-store does, in a
/// migration).
pub const IDENTITY_KEY_VERSION: u32 = 2;

/// Checks a user name for the token formats: not empty, at most 255 bytes, and no `;`,
/// `=` or control character (the FotoWeb format has no escaping, so such a name could
/// inject fields). `user`, `user@domain` and `domain\user` are all fine.
///
/// This is the rule for names a token may *carry* (a FotoWeb login token from another
/// generator, say). A name fwtoken *issues* a token for also passes
/// [`validate_new_user_name`].
pub fn validate_user_name(user: &str) -> Result<()> {
    if user.is_empty() {
        return Err(Error::InvalidUserName("empty"));
    }
    if user.len() > MAX_USER_LEN {
        return Err(Error::InvalidUserName("longer than 255 bytes"));
    }
    // One pass: `;` and `=` would inject fields; control characters have no place in a name.
    for c in user.chars() {
        if c == ';' || c == '=' {
            return Err(Error::InvalidUserName("contains ';' or '='"));
        }
        if c.is_control() {
            return Err(Error::InvalidUserName("contains a control character"));
        }
    }
    Ok(())
}

/// Checks a name that a token is about to be issued for (login, API and device tokens):
/// [`validate_user_name`], plus RFC 8265's `UsernameCasePreserved` profile, so that no two
/// accounts can look the same to a person and every name means the same to every system:
///
/// - every code point is allowed by RFC 8264's `IdentifierClass` after width mapping and
///   NFC: letters, marks and digits of any script, and printable ASCII; refused are
///   symbols, non-ASCII punctuation and spaces, compatibility characters (`ſ`, `𝐬`),
///   controls, format controls, default-ignorable, private-use and unassigned code points
///   ([`Error::DisallowedCodePoint`] names the code point and why);
/// - a zero-width joiner only after a virama, a zero-width non-joiner only there or inside
///   a joining context (RFC 5892 Appendix A), and the other contextual rules of that
///   appendix;
/// - a name with a right-to-left character follows the bidi rule of RFC 5893;
/// - parts are separated by single U+0020 spaces, none at either end;
/// - something is left after the skeleton.
///
/// NFC and NFD spellings of a name are both accepted (they are one user everywhere).
///
/// ```
/// use fwtoken::{CodePointClass, Error, validate_new_user_name};
/// assert!(validate_new_user_name("Jørgen Ødegård").is_ok());
/// assert!(validate_new_user_name("\u{0639}\u{0644}\u{06CC}\u{200C}\u{0627}\u{06A9}\u{0628}\u{0631}").is_ok()); // علی‌اکبر
/// assert!(validate_new_user_name("siteowner ").is_err());
/// assert!(validate_new_user_name("site\u{00AD}owner").is_err());
/// assert_eq!(
///     validate_new_user_name("siteowner\u{2800}"),
///     Err(Error::DisallowedCodePoint { code_point: '\u{2800}', class: CodePointClass::Symbol })
/// );
/// ```
pub fn validate_new_user_name(user: &str) -> Result<()> {
    validate_user_name(user)?;
    if user.is_ascii() {
        return precis::check_ascii_username(user);
    }
    precis::check_username(user)?;
    if skeleton(user).is_empty() {
        return Err(Error::InvalidUserName("nothing left after normalization"));
    }
    Ok(())
}

/// The skeleton of a whole name: two names with the same skeleton are the same spelling
/// to the systems a site sits on. Canonically equivalent spellings are decomposed first,
/// then default-ignorable code points are removed, the Turkic i in every form (`İ`,
/// `I`/`i`/`ı` + U+0307, `ı`) is `i`, compatibility caseless matching applies (D146, full
/// case folding, NFKD), white space is trimmed and the result is in NFC.
///
/// It is idempotent (`skeleton(skeleton(x)) == skeleton(x)`), gives the same answer for
/// the NFC and NFD forms of a name, and is borrowed when the name is already its own
/// skeleton.
///
/// ```
/// use fwtoken::skeleton;
/// assert_eq!(skeleton("SiteOwner"), "siteowner");
/// assert_eq!(skeleton("\u{017F}iteowner"), "siteowner");        // ſ
/// assert_eq!(skeleton("s\u{0131}teowner"), "siteowner");        // dotless ı
/// assert_eq!(skeleton("S\u{0130}TEOWNER"), "siteowner");        // İ
/// assert_eq!(skeleton("SI\u{0307}TEOWNER"), "siteowner");       // I + combining dot above
/// assert_eq!(skeleton("ｓｉｔｅｏｗｎｅｒ "), "siteowner");     // full width, trailing space
/// assert_eq!(skeleton("site\u{00AD}owner"), "siteowner");       // soft hyphen
/// assert_eq!(skeleton("Straße"), "strasse");
/// ```
pub fn skeleton(name: &str) -> Cow<'_, str> {
    skeleton::skeleton(name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn forms() {
        assert!(same_account("Admin", "admin"));
        assert!(same_account("ADMIN@corp.example", "admin"));
        assert!(same_account("CORP\\Admin", "admin"));
        assert!(!same_account("administrator", "admin"));
        assert!(validate_user_name("CORP\\jo@x").is_ok());
        assert!(validate_user_name("a;b").is_err());
        assert!(validate_user_name("a=b").is_err());
        assert!(validate_user_name("a\nb").is_err());
        assert!(validate_user_name("").is_err());
        assert!(validate_user_name(&"x".repeat(256)).is_err());
    }
}
