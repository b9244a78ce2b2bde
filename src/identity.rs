//! Who a user name names: the one place where fwtoken compares user names.
//!
//! Different systems behind a FotoWeb-style site compare names differently: SQL Server's
//! `=` ignores trailing spaces and (without a `_WS` collation) character width, Java's
//! `equalsIgnoreCase` and .NET's `OrdinalIgnoreCase` map `ı` and `ſ` to `I` and `S`, ICU's
//! comparisons ignore default-ignorable code points. A refusal that compares names more
//! strictly than the account store behind it can be walked around with a look-alike
//! spelling, so every comparison here goes through one **skeleton**:
//!
//! 1. default-ignorable code points (soft hyphen, zero-width characters, word joiner,
//!    variation selectors, bidi controls: the Unicode property
//!    `Default_Ignorable_Code_Point`) are removed, and the Turkic letters `ı` (U+0131)
//!    and `İ` (U+0130) become `i`, so that Turkic-insensitive comparators can't be used
//!    against it;
//! 2. Unicode *compatibility caseless matching* (The Unicode Standard, definition D146):
//!    `NFKD(toCasefold(NFKD(toCasefold(NFD(X)))))`, with full case folding, so `ſ` is
//!    `s`, `ß` is `ss`, full-width and mathematical letters are their plain letters;
//! 3. steps 1 again (NFKD can produce ignorables and a dotless i), white space
//!    (`White_Space`) trimmed at both ends, and the result put in NFC.
//!
//! The Unicode data comes from ICU4X (`icu_normalizer`, `icu_casemap`,
//! `icu_properties`), never from tables of our own. ASCII names take a fast path that
//! gives the same answer (trim, ASCII lower case) without allocating.
//!
//! On top of the skeleton:
//!
//! - **Refusals over-match on purpose** ([`same_account`]): the site owner and a denied
//!   user are refused when the skeleton of the *account part* matches, whatever the
//!   domain: `siteowner`, `SITEOWNER@corp.example`, `CORP\siteowner`, `ſiteowner`,
//!   `ｓｉｔｅｏｗｎｅｒ` and `siteowner` followed by a soft hyphen are all the owner.
//! - **Grouping is exact** ([`identity_key`]): a device cap or a `revoke_user` groups by
//!   the account's skeleton plus the domain's, when there is one. `CORP\alice` and
//!   `alice@corp` are one key; bare `alice` and `alice@corp.example` are one key only
//!   where the site says `corp.example` is its own domain ([`SiteDomains`]).
//! - **Names a user can't tell apart are refused when a token is issued**
//!   ([`validate_new_user_name`]): white space at either end (after NFKC), default-ignorable
//!   code points, bidi controls.
//!
//! What the skeleton does not catch: letters of different scripts that look alike
//! (Cyrillic `о` for Latin `o`). Those need a confusables skeleton (UTS #39); see
//! `SECURITY.md` for why fwtoken does not apply one to every comparison.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use icu_casemap::CaseMapperBorrowed;
use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};
use icu_properties::CodePointSetData;
use icu_properties::props::DefaultIgnorableCodePoint;

use crate::error::{Error, Result};

/// Longest user name accepted, in bytes.
pub const MAX_USER_LEN: usize = 255;

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

/// Checks a name that a token is about to be issued for: [`validate_user_name`], plus
/// the rules that keep two accounts from looking the same to a person:
///
/// - no default-ignorable code point (soft hyphen U+00AD, zero-width space/joiners
///   U+200B–U+200F, word joiner U+2060, variation selectors, …);
/// - no bidi control (U+202A–U+202E, U+2066–U+2069; also default-ignorable, named
///   separately in the error);
/// - no white space at either end, also after NFKC (a no-break space is a space);
/// - something left after the skeleton.
///
/// ```
/// use fwtoken::validate_new_user_name;
/// assert!(validate_new_user_name("Jørgen Ødegård").is_ok());
/// assert!(validate_new_user_name("siteowner ").is_err());
/// assert!(validate_new_user_name("site\u{00AD}owner").is_err());
/// assert!(validate_new_user_name("\u{202E}renwoetis").is_err());
/// ```
pub fn validate_new_user_name(user: &str) -> Result<()> {
    validate_user_name(user)?;
    if user.is_ascii() {
        // No ASCII character is default-ignorable, and ASCII is its own NFKC.
        return if user.trim_matches(char::is_whitespace) == user {
            Ok(())
        } else {
            Err(Error::InvalidUserName("starts or ends with white space"))
        };
    }
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    for c in user.chars() {
        if is_bidi_control(c) {
            return Err(Error::InvalidUserName("contains a bidi control character"));
        }
        if ignorable.contains(c) {
            return Err(Error::InvalidUserName(
                "contains an invisible (default-ignorable) character",
            ));
        }
    }
    let nfkc = ComposingNormalizerBorrowed::new_nfkc().normalize(user);
    if nfkc.trim_matches(char::is_whitespace) != nfkc {
        return Err(Error::InvalidUserName("starts or ends with white space"));
    }
    if skeleton(user).is_empty() {
        return Err(Error::InvalidUserName("nothing left after normalization"));
    }
    Ok(())
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The skeleton of a whole name: two names with the same skeleton are the same spelling
/// to the systems a site sits on: default-ignorable code points removed, `ı`/`İ` as `i`,
/// compatibility caseless matching (D146, full case folding, NFKD), white space trimmed,
/// NFC.
///
/// It is idempotent (`skeleton(skeleton(x)) == skeleton(x)`), and borrowed when the name
/// is already its own skeleton.
///
/// ```
/// use fwtoken::skeleton;
/// assert_eq!(skeleton("SiteOwner"), "siteowner");
/// assert_eq!(skeleton("\u{017F}iteowner"), "siteowner");        // ſ
/// assert_eq!(skeleton("s\u{0131}teowner"), "siteowner");        // dotless ı
/// assert_eq!(skeleton("ｓｉｔｅｏｗｎｅｒ "), "siteowner");     // full width, trailing space
/// assert_eq!(skeleton("site\u{00AD}owner"), "siteowner");       // soft hyphen
/// assert_eq!(skeleton("Straße"), "strasse");
/// ```
pub fn skeleton(name: &str) -> Cow<'_, str> {
    if name.is_ascii() {
        let trimmed = name.trim_matches(char::is_whitespace);
        return if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(trimmed.to_ascii_lowercase())
        } else {
            Cow::Borrowed(trimmed)
        };
    }
    Cow::Owned(unicode_skeleton(name))
}

fn unicode_skeleton(name: &str) -> String {
    let nfd = DecomposingNormalizerBorrowed::new_nfd();
    let nfkd = DecomposingNormalizerBorrowed::new_nfkd();
    let fold = CaseMapperBorrowed::new();
    let cleaned = strip_ignorables_and_turkic_i(name);
    // D146: NFKD(toCasefold(NFKD(toCasefold(NFD(X))))).
    let s = nfd.normalize(&cleaned);
    let s = fold.fold_string(&s);
    let s = nfkd.normalize(&s);
    let s = fold.fold_string(&s);
    let s = nfkd.normalize(&s);
    // NFKD can produce both (U+FFA0 becomes the ignorable U+3164; U+1D6A4 becomes ı).
    let s = strip_ignorables_and_turkic_i(&s);
    let trimmed = s.trim_matches(char::is_whitespace);
    ComposingNormalizerBorrowed::new_nfc()
        .normalize(trimmed)
        .into_owned()
}

fn strip_ignorables_and_turkic_i(s: &str) -> Cow<'_, str> {
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    let keep = |c: char| !ignorable.contains(c) && c != '\u{0130}' && c != '\u{0131}';
    if s.chars().all(keep) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter_map(|c| match c {
                '\u{0130}' | '\u{0131}' => Some('i'),
                c if ignorable.contains(c) => None,
                c => Some(c),
            })
            .collect(),
    )
}

/// A name split into its account and its domain, on its skeleton: `DOMAIN\user` (the
/// domain is everything before the last `\`), else `user@domain` (the account is
/// everything before the first `@`), else a bare account.
fn split(skel: &str) -> (&str, Option<&str>) {
    let (account, domain) = if let Some((domain, account)) = skel.rsplit_once('\\') {
        (account, Some(domain))
    } else {
        match skel.split_once('@') {
            Some((account, domain)) => (account, Some(domain)),
            None => (skel, None),
        }
    };
    (trim(account), domain.map(trim))
}

/// White space trimmed at both ends (a part of a name, as a comparator that ignores
/// trailing spaces sees it).
fn trim(s: &str) -> &str {
    s.trim_matches(char::is_whitespace)
}

/// The skeleton of the account part alone, as refusals compare it: for `DOMAIN\user`,
/// `user@domain` and `user` it is the skeleton of `user` (for `DOMAIN\user@x`, of `user`).
fn account_skeleton(skel: &str) -> &str {
    let account = skel.rsplit_once('\\').map_or(skel, |(_, a)| a);
    trim(account.split_once('@').map_or(account, |(a, _)| a))
}

/// True when `candidate` and `user` name the same account *for a refusal*: their account
/// parts have the same skeleton, whatever the domains. It over-matches on purpose, so a
/// denied user can't get through under another domain or spelling.
///
/// ```
/// use fwtoken::same_account;
/// assert!(same_account("CORP\\SiteOwner", "siteowner"));
/// assert!(same_account("siteowner@elsewhere.example", "siteowner"));
/// assert!(same_account("\u{FF53}iteowner", "siteowner"));
/// assert!(!same_account("siteowner2", "siteowner"));
/// ```
pub fn same_account(candidate: &str, user: &str) -> bool {
    Denied::new(user).matches(candidate)
}

/// A refused user, kept as its account skeleton so that checking a candidate costs one
/// skeleton (none for ASCII candidates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Denied(String);

impl Denied {
    pub(crate) fn new(user: &str) -> Self {
        Self(String::from(account_skeleton(&skeleton(user))))
    }

    pub(crate) fn matches(&self, candidate: &str) -> bool {
        if candidate.is_ascii() {
            // The same as comparing skeletons, without allocating.
            return account_skeleton(candidate).eq_ignore_ascii_case(&self.0);
        }
        account_skeleton(&skeleton(candidate)) == self.0
    }
}

/// True when any of `denied` refuses `candidate`.
pub(crate) fn any_denies(denied: &[Denied], candidate: &str) -> bool {
    denied.iter().any(|d| d.matches(candidate))
}

/// The domains that are the site's own: a name in one of them is the same user as the
/// bare account name (`alice@corp.example`, `CORP\alice` and `alice` are one user when
/// `corp.example` and `corp` are listed).
///
/// ```
/// use fwtoken::{SiteDomains, identity_key};
/// let site = SiteDomains::new().with("corp.example").with("CORP");
/// assert_eq!(identity_key("CORP\\Alice", &site), "alice");
/// assert_eq!(identity_key("alice@corp.example", &site), "alice");
/// assert_eq!(identity_key("alice@partner.example", &site), "alice@partner.example");
/// assert_eq!(identity_key("PARTNER\\alice", &SiteDomains::new()), "alice@partner");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteDomains {
    skeletons: Vec<String>,
}

impl SiteDomains {
    /// No domain of the site's own: every domain keeps its users apart.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a domain (a DNS name such as `corp.example` or a Windows domain such as
    /// `CORP`; list both when users write both). Compared by skeleton.
    #[must_use]
    pub fn with(mut self, domain: &str) -> Self {
        let skel = skeleton(domain).into_owned();
        if !skel.is_empty() && !self.skeletons.contains(&skel) {
            self.skeletons.push(skel);
        }
        self
    }

    /// True when `domain` is one of the site's own.
    pub fn contains(&self, domain: &str) -> bool {
        let skel = skeleton(domain);
        self.skeletons.iter().any(|d| *d == skel)
    }

    fn contains_skeleton(&self, skel: &str) -> bool {
        self.skeletons.iter().any(|d| d == skel)
    }
}

/// The canonical key of the account a name names, for grouping (a device cap,
/// `revoke_user`, a database column): the skeleton of the account, plus `@` and the
/// skeleton of the domain when there is a domain that is not one of `site`'s own.
///
/// `DOMAIN\user` and `user@domain` give the same key (`user@domain`); `user` and
/// `user@own.domain` give the same key (`user`). Two names with the same key are one
/// account; two names with different keys may still be refused together by
/// [`same_account`], which ignores domains.
pub fn identity_key(name: &str, site: &SiteDomains) -> String {
    let skel = skeleton(name);
    let (account, domain) = split(&skel);
    match domain {
        Some(d) if !site.contains_skeleton(d) => {
            let mut key = String::with_capacity(account.len() + 1 + d.len());
            key.push_str(account);
            key.push('@');
            key.push_str(d);
            key
        }
        _ => String::from(account),
    }
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

    #[test]
    fn ascii_fast_path_agrees_with_unicode_path() {
        for name in [" Alice ", "CORP\\Bob", "x@Y.example", "\tTab", "a b"] {
            let fast = skeleton(name).into_owned();
            assert_eq!(fast, unicode_skeleton(name), "{name:?}");
        }
    }
}
