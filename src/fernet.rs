//! Fernet tokens, per the Fernet specification, with a key ring.
//!
//! ```text
//! token = base64url-padded(0x80 | timestamp (u64 BE) | IV (16) | AES-128-CBC PKCS#7 ciphertext | HMAC-SHA256 (32))
//! key   = base64url-padded(signing key (16) || encryption key (16))
//! ```
//! The HMAC covers every byte before it.
//!
//! Fernet cannot use fwtoken's sealed envelope, so this file has its own AES-CBC and
//! HMAC calls, kept to the minimum: the layout is Fernet's (version `0x80`, no purpose,
//! key id or expiry, no bound context), the cipher is AES-128 rather than AES-256, the
//! keys are the 32 raw bytes of a Fernet key rather than HKDF output from a secret's text,
//! and tokens are base64url *with* padding. Changing any of these would stop other Fernet
//! implementations from reading the tokens.
//!
//! Decoding is stricter than the reference implementations: only canonical padded
//! base64url is accepted (no missing or extra `=`, no non-canonical trailing bits, no
//! standard-alphabet characters), so each token has exactly one text.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};
use base64ct::{Base64Url, Base64UrlUnpadded, Encoding as _};
use hmac::{Hmac, Mac as _};
use rand_core::CryptoRng;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use zeroize::{Zeroize, Zeroizing};

use crate::b64;
use crate::ct;
use crate::error::{Error, Result};
use crate::keyring::{KeySlot, Slots, Verified};
use crate::secret::Fingerprint;
use crate::timeutil::{self, MAX_UNIX};

/// Longest Fernet token accepted or produced, in characters; checked before decoding.
pub const MAX_FERNET_TOKEN_CHARS: usize = 8192;
/// The decoded size of the longest token.
const MAX_RAW: usize = MAX_FERNET_TOKEN_CHARS / 4 * 3;
const VERSION: u8 = 0x80;
const TS_LEN: usize = 8;
const IV_LEN: usize = 16;
const TAG_LEN: usize = 32;
const BLOCK: usize = 16;
/// Version, timestamp, IV.
const HEADER_LEN: usize = 1 + TS_LEN + IV_LEN;
const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Largest plaintext whose token stays within [`MAX_FERNET_TOKEN_CHARS`], in bytes (6079).
pub const MAX_FERNET_PLAINTEXT: usize = (MAX_RAW - OVERHEAD) / BLOCK * BLOCK - 1;
/// Length of a Fernet key's text (32 bytes in padded base64url).
const KEY_TEXT_LEN: usize = 44;
/// How far in the future a token's timestamp may be when a TTL is given, by default
/// (the reference implementation's `_MAX_CLOCK_SKEW`).
pub const DEFAULT_FERNET_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// One Fernet key: a 16-byte signing key and a 16-byte encryption key, with the AES-128
/// key schedule and the keyed HMAC-SHA256 state built once.
///
/// Zeroized on drop; `Debug` prints a fingerprint only; equality is constant-time.
///
/// ```
/// use fwtoken::FernetKey;
/// let key = FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")?;
/// assert_eq!(key.expose_base64(), "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=");
/// assert!(!format!("{key:?}").contains("cw_0x"));
/// // The padding is part of the key text.
/// assert!(FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4").is_err());
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone)]
pub struct FernetKey {
    raw: Zeroizing<[u8; 32]>,
    aes: Aes128,
    mac: Hmac<Sha256>,
    fingerprint: Fingerprint,
}

impl FernetKey {
    /// A key from its text: exactly 44 characters of canonical padded base64url encoding
    /// 32 bytes, as `Fernet.generate_key()` prints it.
    ///
    /// Decoded in constant time (`base64ct`: the alphabet is mapped by arithmetic, not a
    /// table), and checked canonical by encoding the 32 bytes again and comparing all 44
    /// characters with `subtle`, so only the verdict depends on the key's characters.
    pub fn from_base64(text: &str) -> Result<Self> {
        const BAD: Error =
            Error::InvalidSecret("a Fernet key is 32 bytes in padded base64url (44 characters)");
        let given: &[u8; KEY_TEXT_LEN] = text.as_bytes().try_into().map_err(|_| BAD)?;
        // 43 characters of data and one `=`: decoded without the padding (so no branch on
        // where it is), in place.
        let mut buf = Zeroizing::new(*given);
        let data = buf.get_mut(..KEY_TEXT_LEN - 1).ok_or(BAD)?;
        let raw: [u8; 32] = Base64UrlUnpadded::decode_in_place(data)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(BAD)?;
        let raw = Zeroizing::new(raw);
        // Canonical: the 32 bytes encode back to exactly the text (padding and the unused
        // low bits of the last character included).
        let mut again = Zeroizing::new([0u8; KEY_TEXT_LEN]);
        let encoded = Base64Url::encode(raw.as_slice(), again.as_mut_slice()).map_err(|_| BAD)?;
        let canonical = encoded.as_bytes().ct_eq(given.as_slice());
        if !bool::from(canonical) {
            return Err(BAD);
        }
        Ok(Self::from_bytes(*raw))
    }

    /// A new random key.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut raw = [0u8; 32];
        rng.fill_bytes(&mut raw);
        Self::from_bytes(raw)
    }

    fn from_bytes(mut raw: [u8; 32]) -> Self {
        let raw_z = Zeroizing::new(raw);
        raw.zeroize();
        let (signing, encryption) = raw_z.split_at(16);
        let aes =
            Aes128::new_from_slice(encryption).unwrap_or_else(|_| Aes128::new(&Default::default()));
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(signing)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        let fingerprint = fingerprint(raw_z.as_slice());
        Self {
            raw: raw_z,
            aes,
            mac,
            fingerprint,
        }
    }

    /// The key text (44 characters of padded base64url). Named explicitly so every use is
    /// easy to find in review.
    pub fn expose_base64(&self) -> String {
        // `base64ct`, like decoding: no table lookup on the key's bytes.
        let mut text = Zeroizing::new([0u8; KEY_TEXT_LEN]);
        Base64Url::encode(self.raw.as_slice(), text.as_mut_slice())
            .map(String::from)
            .unwrap_or_default()
    }

    /// A short, stable, non-secret identifier: the first 4 bytes of
    /// HMAC-SHA256(key = the 32 key bytes, `fwtoken/v1/fingerprint`).
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    fn tag(&self, signed: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.mac.clone();
        mac.update(signed);
        mac.finalize().into_bytes().into()
    }
}

fn fingerprint(raw: &[u8]) -> Fingerprint {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(raw) else {
        return Fingerprint::from_bytes([0; 4]);
    };
    mac.update(b"fwtoken/v1/fingerprint");
    let tag: [u8; 32] = mac.finalize().into_bytes().into();
    let [a, b, c, d, ..] = tag;
    Fingerprint::from_bytes([a, b, c, d])
}

impl fmt::Debug for FernetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FernetKey")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl PartialEq for FernetKey {
    /// Constant time on the 32 key bytes.
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.raw.as_slice().ct_eq(other.raw.as_slice()))
    }
}

impl Eq for FernetKey {}

/// A decrypted Fernet token.
#[derive(Clone, PartialEq, Eq)]
pub struct FernetMessage {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// The token's timestamp: when it was made.
    pub issued_at: OffsetDateTime,
}

impl fmt::Debug for FernetMessage {
    /// Shows the plaintext's length, not its bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FernetMessage")
            .field("plaintext_len", &self.plaintext.len())
            .field("issued_at", &self.issued_at)
            .finish()
    }
}

/// A primary Fernet key and an optional backup (Python's `MultiFernet` with two keys).
///
/// Encrypts with the primary; decrypts with the primary, then the backup, and reports
/// which one matched. [`FernetRing::rotate`] re-encrypts a token under the primary.
///
/// ```
/// use fwtoken::{FernetKey, FernetRing, KeySlot};
/// use fwtoken::time::macros::datetime;
/// use std::time::Duration;
///
/// let mut rng = fwtoken::os_rng();
/// let old = FernetRing::new(FernetKey::generate(&mut rng));
/// let now = datetime!(2026-11-24 10:00 UTC);
/// let token = old.encrypt(b"hello", now, &mut rng)?;
///
/// let ring = FernetRing::new(FernetKey::generate(&mut rng)).with_backup(old.primary().clone())?;
/// let msg = ring.decrypt(&token, now, Some(Duration::from_secs(60)))?;
/// assert_eq!(msg.slot(), KeySlot::Backup);
/// assert_eq!(msg.plaintext, b"hello");
///
/// let fresh = ring.rotate(&token, &mut rng)?;
/// assert_eq!(ring.decrypt(&fresh, now, None)?.slot(), KeySlot::Primary);
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone)]
pub struct FernetRing {
    keys: Slots<FernetKey>,
    skew: Duration,
}

impl FernetRing {
    /// A ring with only a primary key and the default clock skew (60 s).
    pub fn new(primary: FernetKey) -> Self {
        Self {
            keys: Slots::new(primary),
            skew: DEFAULT_FERNET_CLOCK_SKEW,
        }
    }

    /// Sets the backup key (replacing any previous one). Fails if it equals the primary.
    pub fn with_backup(self, backup: FernetKey) -> Result<Self> {
        Ok(Self {
            keys: self.keys.with_backup(backup)?,
            skew: self.skew,
        })
    }

    /// Makes `new_primary` the primary; the old primary becomes the backup and the old
    /// backup is dropped. Fails if `new_primary` is already the primary or the backup.
    pub fn rotate_key(self, new_primary: FernetKey) -> Result<Self> {
        Ok(Self {
            keys: self.keys.rotate(new_primary)?,
            skew: self.skew,
        })
    }

    /// Drops the backup: tokens made under it stop decrypting.
    pub fn retire_backup(self) -> Self {
        Self {
            keys: self.keys.retire_backup(),
            skew: self.skew,
        }
    }

    /// How far in the future a token's timestamp may be when a TTL is given (default 60 s;
    /// whole seconds count).
    #[must_use]
    pub fn with_clock_skew(self, skew: Duration) -> Self {
        Self { skew, ..self }
    }

    /// The clock skew allowed.
    pub fn clock_skew(&self) -> Duration {
        self.skew
    }

    /// The primary key.
    pub fn primary(&self) -> &FernetKey {
        self.keys.primary()
    }

    /// The backup key, if any.
    pub fn backup(&self) -> Option<&FernetKey> {
        self.keys.backup()
    }

    fn slots(&self) -> impl Iterator<Item = (KeySlot, &FernetKey)> {
        self.keys.iter()
    }

    /// Encrypts `plaintext` under the primary key, timestamped `now` (whole seconds), with a
    /// random IV from `rng`. Refuses plaintexts over [`MAX_FERNET_PLAINTEXT`] bytes and
    /// times before 1970.
    pub fn encrypt(
        &self,
        plaintext: &[u8],
        now: OffsetDateTime,
        rng: &mut impl CryptoRng,
    ) -> Result<String> {
        let mut iv = [0u8; IV_LEN];
        rng.fill_bytes(&mut iv);
        seal(self.primary(), timeutil::unix(now)?, iv, plaintext)
    }

    /// Decrypts a token with the primary key, then the backup.
    ///
    /// In order: the length cap, strict decoding, length and version, the HMAC (constant
    /// time on the 32 bytes; a token no key authenticates is the opaque
    /// [`Error::InvalidSignature`]), the timestamp, then decryption in a stack buffer.
    /// With a `ttl` (whole seconds count), as in the reference implementation, a token
    /// older than `ttl` is [`Error::Expired`] and one more than the clock skew in the
    /// future is [`Error::NotYetValid`]; without one, the timestamp is not checked against
    /// `now`. A timestamp past the year 9999 is always [`Error::InvalidTime`].
    pub fn decrypt(
        &self,
        token: &str,
        now: OffsetDateTime,
        ttl: Option<Duration>,
    ) -> Result<Verified<FernetMessage>> {
        let window = match ttl {
            Some(ttl) => Some((timeutil::unix(now)?, ttl.as_secs())),
            None => None,
        };
        self.open(token, window, |ts, plaintext| {
            Ok(FernetMessage {
                plaintext: plaintext.to_vec(),
                issued_at: timeutil::from_unix(ts)?,
            })
        })
    }

    /// Re-encrypts a token made by any key of the ring under the primary, with a fresh IV
    /// and its original timestamp (Python's `MultiFernet.rotate`). The token's age is not
    /// checked; the plaintext never leaves the stack.
    pub fn rotate(&self, token: &str, rng: &mut impl CryptoRng) -> Result<String> {
        let mut iv = [0u8; IV_LEN];
        rng.fill_bytes(&mut iv);
        self.open(token, None, |ts, plaintext| {
            seal(self.primary(), ts, iv, plaintext)
        })
        .map(Verified::into_inner)
    }

    fn open<T>(
        &self,
        token: &str,
        window: Option<(u64, u64)>,
        parse: impl FnOnce(u64, &[u8]) -> Result<T>,
    ) -> Result<Verified<T>> {
        if token.len() > MAX_FERNET_TOKEN_CHARS {
            return Err(Error::TooLong {
                max: MAX_FERNET_TOKEN_CHARS,
            });
        }
        b64::with_decoded::<MAX_RAW, _>(b64::Dialect::UrlPadded, token.as_bytes(), |raw| {
            if raw.len() < OVERHEAD + BLOCK || !(raw.len() - OVERHEAD).is_multiple_of(BLOCK) {
                return Err(Error::Malformed("wrong length"));
            }
            let (signed, tag_in) = raw.split_at_mut(raw.len() - TAG_LEN);
            let tag_in: &[u8; TAG_LEN] = (&*tag_in)
                .try_into()
                .map_err(|_| Error::Malformed("wrong length"))?;
            let [version, t0, t1, t2, t3, t4, t5, t6, t7, iv @ ..]: [u8; HEADER_LEN] = signed
                .get(..HEADER_LEN)
                .and_then(|h| h.try_into().ok())
                .ok_or(Error::Malformed("wrong length"))?;
            if version != VERSION {
                return Err(Error::Malformed("unsupported version"));
            }
            let (slot, key) = self
                .slots()
                .find(|(_, key)| ct::eq(&key.tag(signed), tag_in))
                .ok_or(Error::InvalidSignature)?;
            let ct = signed
                .get_mut(HEADER_LEN..)
                .ok_or(Error::Malformed("wrong length"))?;
            let ts = u64::from_be_bytes([t0, t1, t2, t3, t4, t5, t6, t7]);
            if ts > MAX_UNIX {
                return Err(Error::InvalidTime("timestamp out of range"));
            }
            if let Some((now, ttl)) = window {
                // An end past u64::MAX is beyond every `now`: the token has not expired.
                if let Some(end) = ts.checked_add(ttl)
                    && end < now
                {
                    return Err(Error::Expired {
                        expired_at: timeutil::from_unix(end)?,
                    });
                }
                if now.saturating_add(self.skew.as_secs()) < ts {
                    return Err(Error::NotYetValid {
                        not_before: timeutil::from_unix(ts)?,
                    });
                }
            }
            let pt = cbc::Decryptor::<&Aes128>::inner_iv_init(&key.aes, &iv.into())
                .decrypt_padded::<Pkcs7>(ct)
                // The HMAC verified, so bad padding means a faulty encrypter: still one opaque error.
                .map_err(|_| Error::InvalidSignature)?;
            parse(ts, pt).map(|v| Verified::new(v, slot))
        })
    }
}

impl fmt::Debug for FernetRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FernetRing")
            .field("primary", &self.primary().fingerprint)
            .field("backup", &self.backup().map(|b| b.fingerprint))
            .field("clock_skew", &self.skew)
            .finish()
    }
}

/// Builds a token under `key` with the given timestamp and IV.
fn seal(key: &FernetKey, ts: u64, iv: [u8; IV_LEN], plaintext: &[u8]) -> Result<String> {
    if plaintext.len() > MAX_FERNET_PLAINTEXT {
        return Err(Error::TooLong {
            max: MAX_FERNET_PLAINTEXT,
        });
    }
    if ts > MAX_UNIX {
        return Err(Error::InvalidTime("timestamp out of range"));
    }
    seal_unchecked(key, ts, iv, plaintext)
}

/// [`seal`] without the timestamp range check (tests forge hostile timestamps with it).
fn seal_unchecked(key: &FernetKey, ts: u64, iv: [u8; IV_LEN], plaintext: &[u8]) -> Result<String> {
    let ct_len = (plaintext.len() / BLOCK + 1) * BLOCK;
    let total = OVERHEAD + ct_len;
    b64::with_stack_buf::<MAX_RAW, _>(total, |buf| seal_in(buf, key, ts, iv, plaintext, ct_len))
}

fn seal_in(
    buf: &mut [u8],
    key: &FernetKey,
    ts: u64,
    iv: [u8; IV_LEN],
    plaintext: &[u8],
    ct_len: usize,
) -> Result<String> {
    const TOO_LONG: Error = Error::TooLong {
        max: MAX_FERNET_PLAINTEXT,
    };
    let total = OVERHEAD + ct_len;
    {
        let (header, rest) = buf.split_at_mut(HEADER_LEN);
        let (version, rest_h) = header.split_at_mut(1);
        version.copy_from_slice(&[VERSION]);
        let (ts_out, iv_out) = rest_h.split_at_mut(TS_LEN);
        ts_out.copy_from_slice(&ts.to_be_bytes());
        iv_out.copy_from_slice(&iv);
        let ct = rest.get_mut(..ct_len).ok_or(TOO_LONG)?;
        ct.get_mut(..plaintext.len())
            .ok_or(TOO_LONG)?
            .copy_from_slice(plaintext);
        cbc::Encryptor::<&Aes128>::inner_iv_init(&key.aes, &iv.into())
            .encrypt_padded::<Pkcs7>(ct, plaintext.len())
            .map_err(|_| TOO_LONG)?;
    }
    let (signed, rest) = buf.split_at_mut(total - TAG_LEN);
    let tag = key.tag(signed);
    rest.get_mut(..TAG_LEN)
        .ok_or(TOO_LONG)?
        .copy_from_slice(&tag);
    Ok(b64::encode(
        b64::Dialect::UrlPadded,
        buf.get(..total).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;
    use crate::envelope::FixedIv;

    fn key() -> FernetKey {
        FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap()
    }

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    #[test]
    fn hostile_timestamps_are_errors_not_panics() {
        let ring = FernetRing::new(key());
        for ts in [u64::MAX, u64::MAX - 30, MAX_UNIX + 1, i64::MAX as u64 + 1] {
            // Authentic tokens (we hold the key) with a timestamp no clock can reach.
            let token = seal_unchecked(ring.primary(), ts, [7; 16], b"x").unwrap();
            for ttl in [
                None,
                Some(Duration::ZERO),
                Some(Duration::from_secs(60)),
                Some(Duration::MAX),
            ] {
                for now in [at(0), at(1_700_000_000), at(MAX_UNIX as i64)] {
                    let err = ring.decrypt(&token, now, ttl).unwrap_err();
                    assert_eq!(
                        err,
                        Error::InvalidTime("timestamp out of range"),
                        "ts {ts} ttl {ttl:?}"
                    );
                }
            }
            assert_eq!(
                ring.rotate(&token, &mut FixedIv([0x42; 16])).unwrap_err(),
                Error::InvalidTime("timestamp out of range")
            );
            assert_eq!(
                seal(ring.primary(), ts, [7; 16], b"x").unwrap_err(),
                Error::InvalidTime("timestamp out of range")
            );
        }
        // The last representable second still works, with a huge TTL and a huge skew.
        let token = seal(ring.primary(), MAX_UNIX, [7; 16], b"x").unwrap();
        let ring = ring.with_clock_skew(Duration::MAX);
        let msg = ring.decrypt(&token, at(0), Some(Duration::MAX)).unwrap();
        assert_eq!(msg.issued_at, at(MAX_UNIX as i64));
    }

    #[test]
    fn cap_and_max_plaintext() {
        let ring = FernetRing::new(key());
        let pt = vec![0xa5; MAX_FERNET_PLAINTEXT];
        let token = ring.encrypt(&pt, at(1), &mut FixedIv([0x42; 16])).unwrap();
        assert!(token.len() <= MAX_FERNET_TOKEN_CHARS, "{}", token.len());
        assert_eq!(ring.decrypt(&token, at(1), None).unwrap().plaintext, pt);
        let err = ring
            .encrypt(
                &[0; MAX_FERNET_PLAINTEXT + 1],
                at(1),
                &mut FixedIv([0x42; 16]),
            )
            .unwrap_err();
        assert_eq!(
            err,
            Error::TooLong {
                max: MAX_FERNET_PLAINTEXT
            }
        );
        let long = "A".repeat(MAX_FERNET_TOKEN_CHARS + 4);
        assert_eq!(
            ring.decrypt(&long, at(1), None).unwrap_err(),
            Error::TooLong {
                max: MAX_FERNET_TOKEN_CHARS
            }
        );
    }
}
