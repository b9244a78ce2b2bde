//! Account parts: how refusals read a name (every way an account store might), and how
//! grouping reads it (one documented way).

use alloc::string::String;
use alloc::vec::Vec;

use super::skeleton::skeleton;

/// White space trimmed at both ends (a part of a name, as a comparator that ignores
/// trailing spaces sees it).
fn trim(s: &str) -> &str {
    s.trim_matches(char::is_whitespace)
}

/// The position of the first `sep` at or after `from`.
fn find_from(b: &[u8], from: usize, sep: u8) -> Option<usize> {
    b.get(from..)?
        .iter()
        .position(|&c| c == sep)
        .map(|i| i + from)
}

/// The position of the last `sep` before `to`.
fn rfind_before(b: &[u8], to: usize, sep: u8) -> Option<usize> {
    b.get(..to)?.iter().rposition(|&c| c == sep)
}

/// True when `test` holds for any account part `skel` can be read as: the whole name;
/// after the first or the last `\`; before the first or the last `@`; and both, in either
/// order (`user@domain\x`, `domain\user@x`). Each reading is trimmed.
///
/// Only the readings that hold no `\` or `@` are tested: a refused account is itself cut
/// at both (`Denied::new`), so no other reading can equal it. That leaves one reading for
/// a name with separators of one kind or none (found with two `memchr` scans, as cheap as
/// the single reading of earlier releases; `docs/PERFORMANCE.md`); only a name with both
/// kinds is read all ways, and no reading is tested twice.
fn any_reading(skel: &str, mut test: impl FnMut(&str) -> bool) -> bool {
    match (skel.find('\\'), skel.find('@')) {
        (None, None) => return test(trim(skel)),
        // Before the first `@` (before the last one holds an `@` unless it is the first).
        (None, Some(at)) => return skel.get(..at).is_some_and(|r| test(trim(r))),
        // After the last `\` (after the first one holds a `\` unless it is the last).
        (Some(_), None) => {
            let start = skel.rfind('\\').map_or(0, |i| i + 1);
            return skel.get(start..).is_some_and(|r| test(trim(r)));
        }
        (Some(_), Some(_)) => {}
    }
    let (first_bs, last_bs) = (skel.find('\\'), skel.rfind('\\'));
    let (first_at, last_at) = (skel.find('@'), skel.rfind('@'));
    let b = skel.as_bytes();
    let len = b.len();
    let mut seen = [(0usize, 0usize); 18];
    let mut n = 0;
    let mut check = |start: usize, end: usize| -> bool {
        let pair = (start, end);
        if seen.get(..n).is_some_and(|s| s.contains(&pair)) {
            return false;
        }
        if let Some(slot) = seen.get_mut(n) {
            *slot = pair;
            n += 1;
        }
        // `\` and `@` are ASCII, so every cut is on a character boundary.
        skel.get(start..end)
            .is_some_and(|r| !r.contains(['\\', '@']) && test(trim(r)))
    };
    // A domain stripped at a `\` first, then at an `@` of what is left.
    for start in [Some(0), first_bs.map(|i| i + 1), last_bs.map(|i| i + 1)]
        .into_iter()
        .flatten()
    {
        let first = match first_at {
            Some(a) if a >= start => Some(a),
            _ => find_from(b, start, b'@'),
        };
        let last = last_at.filter(|&a| a >= start);
        for end in [Some(len), first, last].into_iter().flatten() {
            if check(start, end) {
                return true;
            }
        }
    }
    // At an `@` first, then at a `\` of what is left.
    for end in [Some(len), first_at, last_at].into_iter().flatten() {
        let first = first_bs.filter(|&x| x < end).map(|x| x + 1);
        let last = match last_bs {
            Some(x) if x < end => Some(x),
            _ => rfind_before(b, end, b'\\'),
        }
        .map(|x| x + 1);
        for start in [Some(0), first, last].into_iter().flatten() {
            if start <= end && check(start, end) {
                return true;
            }
        }
    }
    false
}

/// A name split into its account and its domain, on its skeleton, the one way grouping
/// reads it: `DOMAIN\user` (the domain is everything before the last `\`), else
/// `user@domain` (the account is everything before the first `@`), else a bare account.
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

/// The account part of a skeleton as grouping reads it: for `DOMAIN\user`, `user@domain`
/// and `user` it is `user` (for `DOMAIN\user@x`, `user`).
fn account_skeleton(skel: &str) -> &str {
    let account = skel.rsplit_once('\\').map_or(skel, |(_, a)| a);
    trim(account.split_once('@').map_or(account, |(a, _)| a))
}

/// True when `candidate` and `user` name the same account *for a refusal*: some reading of
/// the candidate's account part has the skeleton of `user`'s account, whatever the domains.
/// It over-matches on purpose, so a denied user can't get through under another domain,
/// spelling or way of writing the domain.
///
/// ```
/// use fwtoken::same_account;
/// assert!(same_account("CORP\\SiteOwner", "siteowner"));
/// assert!(same_account("siteowner@elsewhere.example", "siteowner"));
/// assert!(same_account("siteowner@corp\\x", "siteowner"));          // split at '@' first
/// assert!(same_account("SI\u{0307}TEOWNER", "siteowner"));          // I + combining dot above
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
            // The same as comparing skeletons, without allocating: the ASCII skeleton is
            // the name trimmed and in lower case, which moves no `\` or `@`.
            return any_reading(candidate, |r| r.eq_ignore_ascii_case(&self.0));
        }
        any_reading(&skeleton(candidate), |r| r == self.0)
    }
}

/// True when any of `denied` refuses `candidate`: the candidate's skeleton is made once,
/// whatever the number of refused users.
pub(crate) fn any_denies(denied: &[Denied], candidate: &str) -> bool {
    if denied.is_empty() {
        return false;
    }
    if candidate.is_ascii() {
        return denied.iter().any(|d| d.matches(candidate));
    }
    let skel = skeleton(candidate);
    denied.iter().any(|d| any_reading(&skel, |r| r == d.0))
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
/// Grouping reads a name **one way**: `DOMAIN\user` (the domain is everything before the
/// last `\`), else `user@domain` (the account is everything before the first `@`), else a
/// bare account. `DOMAIN\user` and `user@domain` give the same key (`user@domain`); `user`
/// and `user@own.domain` give the same key (`user`). Two names with the same key are one
/// account; two names with different keys may still be refused together by
/// [`same_account`], which reads every way.
///
/// Canonically equivalent spellings have one key (`Ömer İnan` in NFC and in NFD).
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
    use super::*;

    #[test]
    fn every_reading() {
        let owner = Denied::new("siteowner");
        for name in [
            "siteowner",
            "CORP\\siteowner",
            "a\\b\\siteowner",
            "siteowner@corp\\x",
            "siteowner@corp.example\\alice",
            "domain\\siteowner@x",
            "siteowner@a@b",
            "x\\siteowner@corp\\y",
            " siteowner @corp",
        ] {
            assert!(owner.matches(name), "{name:?}");
        }
        for name in ["siteowner2", "corp\\alice", "alice@siteowner", "site@owner"] {
            assert!(!owner.matches(name), "{name:?}");
        }
    }
}
