//! The site's encryption secret.

use alloc::boxed::Box;
use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};
use crate::keytext;

/// Longest secret text accepted, in bytes.
pub const MAX_SECRET_LEN: usize = 250;

/// The label the fingerprint HMAC is computed over.
const FINGERPRINT_LABEL: &[u8] = b"fwtoken/v1/fingerprint";

/// A site's encryption secret (or a CDN key), exactly as an administrator copies it.
///
/// The text is zeroized on drop, never shown by `Debug` (which prints the
/// [fingerprint](Secret::fingerprint) only), has no `Display`, and compares in constant
/// time. [`Secret::expose_text`] is the one way to read it.
///
/// ```
/// use fwtoken::Secret;
/// let s = Secret::from_text("correct horse battery staple")?;
/// assert_eq!(s.fingerprint().to_string().len(), 8);
/// assert!(!format!("{s:?}").contains("horse"));
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone, ZeroizeOnDrop)]
pub struct Secret {
    /// UTF-8 text (checked by `from_text`, or hex written by `generate`), kept as bytes so
    /// that making a secret never runs UTF-8 validation, which branches on every byte.
    text: Box<[u8]>,
    #[zeroize(skip)]
    fingerprint: Fingerprint,
}

impl Secret {
    /// Accepts the secret text: 1 to 250 bytes, no control characters, no leading or
    /// trailing whitespace. The error names the rule that failed, never the text.
    ///
    /// The text is checked without a branch or a table lookup on its bytes (only its length
    /// and the final verdict decide anything), so loading a key reveals nothing about it
    /// through timing; `ctgrind/` checks this under Valgrind.
    pub fn from_text(text: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(Error::InvalidSecret("empty"));
        }
        if text.len() > MAX_SECRET_LEN {
            return Err(Error::InvalidSecret("longer than 250 bytes"));
        }
        let broken = keytext::broken_rules(text.as_bytes());
        // The verdict: the one branch on the text (the operator is told which rule broke).
        if broken != 0 {
            return Err(Error::InvalidSecret(if broken & keytext::CONTROL != 0 {
                "contains a control character"
            } else {
                "leading or trailing whitespace"
            }));
        }
        Ok(Self::new_unchecked(text.as_bytes().into()))
    }

    fn new_unchecked(text: Box<[u8]>) -> Self {
        let fingerprint = Fingerprint::of(&text);
        Self { text, fingerprint }
    }

    /// 32 random bytes written as 64 lowercase hex characters (what
    /// `openssl rand -hex 32` prints), so a generated secret is also valid text.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut raw = [0u8; 32];
        rng.fill_bytes(&mut raw);
        let mut hex = [0u8; 64];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(raw.iter()) {
            pair.copy_from_slice(&hex_byte(*byte));
        }
        // ASCII by construction: kept as bytes, not validated (validation would branch on
        // the secret's characters).
        let text: Box<[u8]> = hex.as_slice().into();
        raw.zeroize();
        hex.zeroize();
        Self::new_unchecked(text)
    }

    /// A short, stable, non-secret identifier: the first 4 bytes of
    /// HMAC-SHA256(key = secret, `fwtoken/v1/fingerprint`).
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// True for secrets under 16 bytes or made of one repeated character (computed
    /// without a branch on the text; only the answer depends on it).
    pub fn is_weak(&self) -> bool {
        self.text.len() < 16 || keytext::one_repeated_char(&self.text) != 0
    }

    /// The number of characters (Unicode scalar values) of the text, counted without a
    /// branch on its bytes. A full API key shorter than 16 characters can be guessed; see
    /// `fwtoken-store`'s configuration rules.
    pub fn char_count(&self) -> usize {
        keytext::char_count(&self.text)
    }

    /// The secret text. Named explicitly so every use is easy to find in review.
    ///
    /// Handing out a `&str` checks the bytes are UTF-8 (they always are), which branches
    /// on them: expose the text only to show or store it, never on a hot path.
    pub fn expose_text(&self) -> &str {
        core::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// The secret's bytes (its UTF-8 text).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.text
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Secret {
    /// Constant time: compares SHA-256 digests of both texts, so neither length nor
    /// content leaks through timing.
    fn eq(&self, other: &Self) -> bool {
        let mut a: [u8; 32] = Sha256::digest(self.bytes()).into();
        let mut b: [u8; 32] = Sha256::digest(other.bytes()).into();
        let eq = crate::ct::eq(&a, &b);
        a.zeroize();
        b.zeroize();
        eq
    }
}

impl Eq for Secret {}

/// The non-secret identifier of a [`Secret`]; `Display` gives 8 lowercase hex characters.
/// It is also the key id written into every sealed token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 4]);

impl Fingerprint {
    fn of(secret: &[u8]) -> Self {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
            return Self([0; 4]);
        };
        mac.update(FINGERPRINT_LABEL);
        let tag: [u8; 32] = mac.finalize().into_bytes().into();
        let [a, b, c, d, ..] = tag;
        Self([a, b, c, d])
    }

    /// The 4 bytes.
    pub const fn to_bytes(self) -> [u8; 4] {
        self.0
    }

    /// From the 4 bytes (as read from a token header).
    pub const fn from_bytes(b: [u8; 4]) -> Self {
        Self(b)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Lowercase hex of a (secret) byte, without a table lookup or a branch on its value:
/// for a nibble `n`, `'0' + n`, plus 39 (from `'9' + 1` to `'a'`) when `n > 9`.
fn hex_byte(b: u8) -> [u8; 2] {
    let digit = |n: u8| b'0' + n + 39 * ((9u8.wrapping_sub(n) >> 4) & 1);
    [digit(b >> 4), digit(b & 0x0f)]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn branch_free_hex_is_lowercase_hex() {
        for b in 0..=255u8 {
            let hex = hex_byte(b);
            assert_eq!(
                core::str::from_utf8(&hex).unwrap(),
                alloc::format!("{b:02x}")
            );
        }
    }

    #[test]
    fn rules_are_named_and_never_echo() {
        for (text, rule) in [
            ("", "empty"),
            (" abc", "leading or trailing whitespace"),
            ("abc\t", "contains a control character"),
            ("abc ", "leading or trailing whitespace"),
            ("a\u{7f}b", "contains a control character"),
            ("a\u{85}b", "contains a control character"),
            ("\u{a0}abc", "leading or trailing whitespace"),
            ("abc\u{3000}", "leading or trailing whitespace"),
            ("\u{2028}abc", "leading or trailing whitespace"),
            ("\tabc", "contains a control character"),
        ] {
            let err = Secret::from_text(text).unwrap_err();
            assert_eq!(err, Error::InvalidSecret(rule));
        }
        let long = "x".repeat(251);
        assert_eq!(
            Secret::from_text(&long).unwrap_err(),
            Error::InvalidSecret("longer than 250 bytes")
        );
        assert!(Secret::from_text(&"x".repeat(250)).is_ok());
    }

    #[test]
    fn weak() {
        assert!(Secret::from_text("short").unwrap().is_weak());
        assert!(Secret::from_text(&"a".repeat(40)).unwrap().is_weak());
        assert!(!Secret::from_text("0123456789abcdef").unwrap().is_weak());
        assert!(Secret::from_text(&"é".repeat(20)).unwrap().is_weak());
        assert!(
            !Secret::from_text(&"é".repeat(20).replacen('é', "e", 1))
                .unwrap()
                .is_weak()
        );
        assert_eq!(Secret::from_text("aé€𝄞").unwrap().char_count(), 4);
    }
}
