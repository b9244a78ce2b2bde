//! Edgecast token v3: the AES-256-GCM tokens that CDNs implementing Edgecast token-based
//! authentication check on every protected request.
//!
//! ```text
//! key   = SHA-256(key text)                                  (AES-256 key)
//! token = base64url-nopad(nonce (12) || AES-256-GCM ciphertext || tag (16))   (no associated data)
//! ```
//!
//! The plaintext is a parameter string (`ec_expire=1700000000&ec_url_allow=/videos/`), built
//! and parsed by [`EdgeParams`] and checked against a request by [`EdgeParams::evaluate`].
//!
//! Decoding accepts what the deployed decoders accept: the base64url (`-_`) and the
//! standard (`+/`) alphabets, mixed, padded or not. The C decoder of the reference
//! implementations (`VerizonDigital/ectoken`, `c-ectoken/ecencrypt/base64.c`) maps `+` and
//! `-` to one digit and `/` and `_` to another, and the C#, Java, Python, JavaScript and
//! Ruby decoders replace `-_` by `+/` and re-pad before decoding. The GCM tag
//! authenticates the decoded bytes, so accepting several spellings of one token lets no
//! one change what it says. Still refused: other characters, `=` anywhere but as
//! canonical final padding, and non-canonical trailing bits (no encoder emits them).
//! Encoding always emits unpadded base64url.
//!
//! Tokens over 512 characters are refused before decoding: the CDN's documented limit
//! ("Generating Tokens" and the Azure CDN token-auth page), which npm `ectoken`'s
//! `decrypt` also enforces (`token: Joi.string().max(512)`). The C decoder takes up to
//! 6144 characters and the C# generator refuses plaintexts over 512 characters (tokens of
//! up to 720), but a token the CDN itself refuses is no use to anyone.

mod eval;
mod params;

use alloc::string::String;
use core::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::b64;
use crate::error::{Error, Result};
use crate::keyring::{KeySlot, Slots, Verified};
use crate::keytext;
use crate::secret::{Fingerprint, Secret};
use crate::timeutil::StackStr;

pub use eval::{EdgeRefusal, EdgeRequest};
pub use params::{CountryCode, EdgeParams, EdgeParamsBuilder, EdgeProto};

/// Longest Edgecast token accepted or produced, in characters (the CDN's limit).
pub const MAX_EDGE_TOKEN_CHARS: usize = 512;
/// Longest Edgecast key text, in characters (the CDN's limit).
pub const MAX_EDGE_KEY_LEN: usize = 250;
/// The decoded size of the longest token.
const MAX_RAW: usize = MAX_EDGE_TOKEN_CHARS / 4 * 3;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Longest plaintext whose token stays within [`MAX_EDGE_TOKEN_CHARS`], in bytes (356).
pub const MAX_EDGE_PLAINTEXT: usize = MAX_RAW - NONCE_LEN - TAG_LEN;

/// One Edgecast encryption key, with its AES-256-GCM cipher built once.
///
/// The key text is what the CDN's token-auth page shows; the AES key is its SHA-256.
/// The text is kept in a [`Secret`] (zeroized on drop, constant-time equality) and the
/// cipher's key schedule is zeroized on drop too. `Debug` prints the fingerprint only.
///
/// ```
/// use fwtoken::EdgeKey;
/// let key = EdgeKey::new("Primary2026Key")?;
/// assert!(!format!("{key:?}").contains("Primary2026Key"));
/// // Keys that predate the CDN's letters-and-digits rule:
/// assert!(EdgeKey::new("my-secret-key").is_err());
/// let legacy = EdgeKey::new_legacy("my-secret-key")?;
/// # let _ = legacy;
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone)]
pub struct EdgeKey {
    secret: Secret,
    cipher: Aes256Gcm,
}

impl EdgeKey {
    /// A key under the CDN's rule: 1 to 250 ASCII letters and digits, case-sensitive.
    /// The error names the rule that failed, never the text.
    pub fn new(text: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(Error::InvalidSecret("empty"));
        }
        if text.len() > MAX_EDGE_KEY_LEN {
            return Err(Error::InvalidSecret("longer than 250 characters"));
        }
        // Every character checked without a branch (`keytext::alnum`), then one branch on
        // the folded verdict, not an early exit on the first bad character (the key is
        // secret).
        let letters_and_digits = text.bytes().fold(0xFF, |acc, b| acc & keytext::alnum(b));
        if letters_and_digits != 0xFF {
            return Err(Error::InvalidSecret(
                "an Edgecast key is letters and digits only (EdgeKey::new_legacy accepts older keys)",
            ));
        }
        Self::new_legacy(text)
    }

    /// A key that predates the CDN's letters-and-digits rule (`my-secret-key`, say, as in
    /// the reference implementations' examples): any text that [`Secret::from_text`]
    /// accepts (1 to 250 bytes, no control characters, no surrounding whitespace).
    /// Prefer [`EdgeKey::new`] for new keys; the CDN will not accept such a key today.
    pub fn new_legacy(text: &str) -> Result<Self> {
        Secret::from_text(text).map(Self::from_secret)
    }

    /// A new random key: 64 lowercase hex characters (valid under the CDN's rule).
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        Self::from_secret(Secret::generate(rng))
    }

    /// Builds the cipher from SHA-256 of the text, once.
    fn from_secret(secret: Secret) -> Self {
        let mut digest: [u8; 32] = Sha256::digest(secret.bytes()).into();
        let cipher = Aes256Gcm::new(&digest.into());
        digest.zeroize();
        Self { secret, cipher }
    }

    /// The key's non-secret fingerprint (as [`Secret::fingerprint`] of its text).
    pub fn fingerprint(&self) -> Fingerprint {
        self.secret.fingerprint()
    }

    /// The key text. Named explicitly so every use is easy to find in review.
    pub fn expose_text(&self) -> &str {
        self.secret.expose_text()
    }
}

impl fmt::Debug for EdgeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeKey")
            .field("fingerprint", &self.secret.fingerprint())
            .finish_non_exhaustive()
    }
}

impl PartialEq for EdgeKey {
    /// Constant time (compares the key texts as [`Secret`] does).
    fn eq(&self, other: &Self) -> bool {
        self.secret == other.secret
    }
}

impl Eq for EdgeKey {}

/// A primary Edgecast key and an optional backup, as the CDN's token-auth page has them.
///
/// Tokens are encrypted with the primary; decryption tries the primary, then the backup,
/// and reports which one matched ([`Verified::slot`]).
///
/// ```
/// use fwtoken::{EdgeKey, EdgeKeyRing, EdgeParams, KeySlot};
/// use fwtoken::time::macros::datetime;
///
/// let ring = EdgeKeyRing::new(EdgeKey::new("NewKey2026")?).with_backup(EdgeKey::new("OldKey2025")?)?;
/// let params = EdgeParams::builder()
///     .expires_at(datetime!(2026-11-24 12:00 UTC))
///     .url_allow("/videos/")
///     .build()?;
/// let token = ring.encrypt_params(&params, &mut fwtoken::os_rng())?;
/// let back = ring.decrypt_params(&token)?;
/// assert_eq!(back.slot(), KeySlot::Primary);
/// assert_eq!(back.url_allow(), ["/videos/"]);
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone)]
pub struct EdgeKeyRing {
    keys: Slots<EdgeKey>,
}

impl EdgeKeyRing {
    /// A ring with only a primary key.
    pub fn new(primary: EdgeKey) -> Self {
        Self {
            keys: Slots::new(primary),
        }
    }

    /// Sets the backup key (replacing any previous one). Fails if it equals the primary.
    pub fn with_backup(self, backup: EdgeKey) -> Result<Self> {
        Ok(Self {
            keys: self.keys.with_backup(backup)?,
        })
    }

    /// Makes `new_primary` the primary; the old primary becomes the backup and the old
    /// backup is dropped. Fails if `new_primary` is already the primary or the backup.
    pub fn rotate(self, new_primary: EdgeKey) -> Result<Self> {
        Ok(Self {
            keys: self.keys.rotate(new_primary)?,
        })
    }

    /// Drops the backup: tokens made under it stop decrypting.
    pub fn retire_backup(self) -> Self {
        Self {
            keys: self.keys.retire_backup(),
        }
    }

    /// The primary key.
    pub fn primary(&self) -> &EdgeKey {
        self.keys.primary()
    }

    /// The backup key, if any.
    pub fn backup(&self) -> Option<&EdgeKey> {
        self.keys.backup()
    }

    fn slots(&self) -> impl Iterator<Item = (KeySlot, &EdgeKey)> {
        self.keys.iter()
    }

    /// Encrypts `plaintext` under the primary key with a random nonce from `rng`.
    ///
    /// Refuses an empty plaintext and one over [`MAX_EDGE_PLAINTEXT`] bytes (its token
    /// would exceed the CDN's 512 characters). The plaintext is encrypted as given; use
    /// [`EdgeKeyRing::encrypt_params`] to have the parameters checked.
    pub fn encrypt(&self, plaintext: &str, rng: &mut impl CryptoRng) -> Result<String> {
        let pt = plaintext.as_bytes();
        if pt.is_empty() {
            return Err(Error::InvalidArgument("empty plaintext"));
        }
        if pt.len() > MAX_EDGE_PLAINTEXT {
            return Err(Error::TooLong {
                max: MAX_EDGE_PLAINTEXT,
            });
        }
        let total = NONCE_LEN + pt.len() + TAG_LEN;
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut buf = [0u8; MAX_RAW];
        let (nonce_out, rest) = buf.split_at_mut(NONCE_LEN);
        nonce_out.copy_from_slice(&nonce);
        let (body, rest) = rest.split_at_mut(pt.len());
        body.copy_from_slice(pt);
        let nonce: Nonce<Aes256Gcm> = nonce.into();
        let tag = self
            .primary()
            .cipher
            .encrypt_inout_detached(&nonce, &[], body.into())
            .map_err(|_| Error::TooLong {
                max: MAX_EDGE_PLAINTEXT,
            })?;
        let tag: [u8; TAG_LEN] = tag.into();
        rest.get_mut(..TAG_LEN)
            .ok_or(Error::TooLong {
                max: MAX_EDGE_PLAINTEXT,
            })?
            .copy_from_slice(&tag);
        let out = b64::encode(
            b64::Dialect::UrlUnpadded,
            buf.get(..total).unwrap_or_default(),
        );
        if let Some(used) = buf.get_mut(..total) {
            used.zeroize();
        }
        Ok(out)
    }

    /// Encrypts the parameter string of `params` under the primary key.
    pub fn encrypt_params(&self, params: &EdgeParams, rng: &mut impl CryptoRng) -> Result<String> {
        let mut text = StackStr::<MAX_EDGE_PLAINTEXT>::new();
        fmt::Write::write_fmt(&mut text, format_args!("{params}")).map_err(|_| Error::TooLong {
            max: MAX_EDGE_PLAINTEXT,
        })?;
        let text = core::str::from_utf8(text.as_bytes())
            .map_err(|_| Error::InvalidArgument("parameters"))?;
        self.encrypt(text, rng)
    }

    /// Decrypts a token with the primary key, then the backup, and returns its plaintext
    /// and the key that matched.
    ///
    /// In order: the 512-character cap, decoding (either alphabet, padding optional; see
    /// the module documentation), the length, then AES-256-GCM in place in a stack buffer. A token that no
    /// key of the ring authenticates is the opaque [`Error::InvalidSignature`]. The owned
    /// plaintext is the only allocation.
    pub fn decrypt(&self, token: &str) -> Result<Verified<String>> {
        self.open(token, |text| Ok(String::from(text)))
    }

    /// Decrypts a token and parses its plaintext as parameters ([`EdgeParams::parse`]).
    pub fn decrypt_params(&self, token: &str) -> Result<Verified<EdgeParams>> {
        self.open(token, EdgeParams::parse)
    }

    fn open<T>(&self, token: &str, parse: impl FnOnce(&str) -> Result<T>) -> Result<Verified<T>> {
        if token.len() > MAX_EDGE_TOKEN_CHARS {
            return Err(Error::TooLong {
                max: MAX_EDGE_TOKEN_CHARS,
            });
        }
        let mut raw = [0u8; MAX_RAW];
        let n = b64::decode_any_alphabet_into::<MAX_EDGE_TOKEN_CHARS>(token.as_bytes(), &mut raw)?;
        self.open_raw(raw.get_mut(..n).unwrap_or_default(), parse)
    }

    fn open_raw<T>(
        &self,
        raw: &mut [u8],
        parse: impl FnOnce(&str) -> Result<T>,
    ) -> Result<Verified<T>> {
        if raw.len() <= NONCE_LEN + TAG_LEN {
            return Err(Error::Malformed("too short"));
        }
        let (nonce, rest) = raw.split_at_mut(NONCE_LEN);
        let (body, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        let nonce: [u8; NONCE_LEN] = (&*nonce)
            .try_into()
            .map_err(|_| Error::Malformed("too short"))?;
        let tag: [u8; TAG_LEN] = (&*tag)
            .try_into()
            .map_err(|_| Error::Malformed("too short"))?;
        let nonce: Nonce<Aes256Gcm> = nonce.into();
        let tag: Tag<Aes256Gcm> = tag.into();
        // A failed tag check leaves `body` untouched, so the backup sees the ciphertext.
        let slot = self
            .slots()
            .find(|(_, key)| {
                key.cipher
                    .decrypt_inout_detached(&nonce, &[], (&mut *body).into(), &tag)
                    .is_ok()
            })
            .map(|(slot, _)| slot)
            .ok_or(Error::InvalidSignature)?;
        core::str::from_utf8(body)
            .map_err(|_| Error::Malformed("plaintext is not UTF-8"))
            .and_then(parse)
            .map(|v| Verified::new(v, slot))
    }
}

impl fmt::Debug for EdgeKeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeKeyRing")
            .field("primary", &self.primary().fingerprint())
            .field("backup", &self.backup().map(EdgeKey::fingerprint))
            .finish()
    }
}
