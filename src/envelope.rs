//! The sealed envelope, version 1: the one AES-256-CBC + HMAC-SHA256 engine behind every
//! token type that fwtoken defines itself. The byte layout is specified in `docs/FORMAT.md`.
//!
//! ```text
//! version 0x01 | purpose (1) | key id (4) | issued_at (u64 BE) | expires_at (u64 BE, 0 = never)
//! | IV (16) | AES-256-CBC PKCS#7 ciphertext | HMAC-SHA256 tag (32)
//! ```
//! then base64url without padding. The tag covers every preceding byte, then the
//! caller's context (bound, not transmitted), then the context's length as u64 BE.

use alloc::string::String;

use aes::Aes256;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit};
use hmac::Mac as _;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;

use crate::b64;
use crate::ct;
use crate::error::{Error, Result};
use crate::keyring::{KeyRing, KeySlot, Purpose, PurposeKeys, RingKey, Verified};
use crate::timeutil::{self, MAX_UNIX};

/// Version byte of this layout.
pub(crate) const VERSION: u8 = 0x01;
/// Longest token accepted, in characters; checked before decoding.
pub(crate) const MAX_TOKEN_CHARS: usize = 4096;
/// The decoded size of the longest token.
pub(crate) const MAX_RAW: usize = MAX_TOKEN_CHARS / 4 * 3;
/// version, purpose, key id, issued_at, expires_at.
pub(crate) const HEADER_LEN: usize = 1 + 1 + 4 + 8 + 8;
const IV_LEN: usize = 16;
const TAG_LEN: usize = 32;
const BLOCK: usize = 16;
/// Fixed overhead around the ciphertext.
const OVERHEAD: usize = HEADER_LEN + IV_LEN + TAG_LEN;
/// Largest plaintext whose token stays within [`MAX_TOKEN_CHARS`].
pub(crate) const MAX_PLAINTEXT: usize = (MAX_RAW - OVERHEAD) / BLOCK * BLOCK - 1;

/// How the IV is chosen when sealing.
pub(crate) enum IvMode<'r, R: CryptoRng> {
    /// From the caller's random generator.
    Random(&'r mut R),
    /// Synthetic: the first 16 bytes of HMAC(siv key, header || context || len(context) || plaintext).
    Deterministic,
}

/// The authenticated header and plaintext of an opened envelope.
pub(crate) struct Opened<'a> {
    pub(crate) issued_at: u64,
    pub(crate) expires_at: u64,
    pub(crate) plaintext: &'a [u8],
}

/// What a sealer puts in the header.
#[derive(Clone, Copy)]
pub(crate) struct Times {
    pub(crate) issued_at: u64,
    /// 0 = never expires.
    pub(crate) expires_at: u64,
}

/// Seals `plaintext` for `purpose` under the ring's primary key.
pub(crate) fn seal<R: CryptoRng>(
    ring: &KeyRing,
    purpose: Purpose,
    times: Times,
    plaintext: &[u8],
    context: &[u8],
    iv_mode: IvMode<'_, R>,
) -> Result<String> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(Error::TooLong { max: MAX_PLAINTEXT });
    }
    if times.issued_at > MAX_UNIX || times.expires_at > MAX_UNIX {
        return Err(Error::InvalidTime("timestamp out of range"));
    }
    let ct_len = (plaintext.len() / BLOCK + 1) * BLOCK;
    b64::with_stack_buf::<MAX_RAW, _>(OVERHEAD + ct_len, |buf| {
        seal_in(buf, ring, purpose, times, plaintext, context, iv_mode)
    })
}

/// Seals into `buf` (a stack buffer sized for the token), then encodes: one allocation.
fn seal_in<R: CryptoRng>(
    buf: &mut [u8],
    ring: &KeyRing,
    purpose: Purpose,
    times: Times,
    plaintext: &[u8],
    context: &[u8],
    iv_mode: IvMode<'_, R>,
) -> Result<String> {
    let key = ring.primary_key();
    let keys = key.purpose(purpose);
    let ct_len = (plaintext.len() / BLOCK + 1) * BLOCK;
    let total = OVERHEAD + ct_len;
    let mac_len = HEADER_LEN + IV_LEN + ct_len;
    {
        let (head, rest) = buf.split_at_mut(HEADER_LEN);
        write_header(head, purpose, key.id(), times);
        let (iv_out, rest) = rest.split_at_mut(IV_LEN);
        let iv: [u8; IV_LEN] = match iv_mode {
            IvMode::Random(rng) => {
                let mut iv = [0u8; IV_LEN];
                rng.fill_bytes(&mut iv);
                iv
            }
            IvMode::Deterministic => synthetic_iv(keys, head, context, plaintext),
        };
        iv_out.copy_from_slice(&iv);
        let ct_out = rest
            .get_mut(..ct_len)
            .ok_or(Error::TooLong { max: MAX_PLAINTEXT })?;
        let pt_dst = ct_out
            .get_mut(..plaintext.len())
            .ok_or(Error::TooLong { max: MAX_PLAINTEXT })?;
        pt_dst.copy_from_slice(plaintext);
        cbc::Encryptor::<&Aes256>::inner_iv_init(&keys.aes, &iv.into())
            .encrypt_padded::<Pkcs7>(ct_out, plaintext.len())
            .map_err(|_| Error::TooLong { max: MAX_PLAINTEXT })?;
    }
    let (signed, tag_out) = buf.split_at_mut(mac_len);
    let tag = tag(keys, signed, context);
    if let Some(t) = tag_out.get_mut(..TAG_LEN) {
        t.copy_from_slice(&tag);
    }
    Ok(b64::encode(
        b64::Dialect::UrlUnpadded,
        buf.get(..total).unwrap_or_default(),
    ))
}

/// Opens a token made for `purpose`, in the documented order: length cap, strict
/// decoding, version and purpose, key by key id, constant-time tag, times (with
/// `leeway`), decryption. `parse` turns the authenticated plaintext into the owned
/// result; nothing is allocated before it runs.
pub(crate) fn open<T>(
    ring: &KeyRing,
    purpose: Purpose,
    token: &str,
    now: u64,
    leeway: u64,
    context: &[u8],
    parse: impl FnOnce(&Opened<'_>) -> Result<T>,
) -> Result<Verified<T>> {
    if token.len() > MAX_TOKEN_CHARS {
        return Err(Error::TooLong {
            max: MAX_TOKEN_CHARS,
        });
    }
    b64::with_decoded::<MAX_RAW, _>(b64::Dialect::UrlUnpadded, token.as_bytes(), |raw| {
        open_raw(raw, ring, purpose, now, leeway, context, parse)
    })
}

fn open_raw<T>(
    raw: &mut [u8],
    ring: &KeyRing,
    purpose: Purpose,
    now: u64,
    leeway: u64,
    context: &[u8],
    parse: impl FnOnce(&Opened<'_>) -> Result<T>,
) -> Result<Verified<T>> {
    if raw.len() < OVERHEAD + BLOCK || !(raw.len() - OVERHEAD).is_multiple_of(BLOCK) {
        return Err(Error::Malformed("wrong length"));
    }
    let header = read_header(raw)?;
    if header.version != VERSION {
        return Err(Error::Malformed("unsupported version"));
    }
    if header.purpose != purpose as u8 {
        return Err(Error::WrongPurpose);
    }
    let mac_len = raw.len() - TAG_LEN;
    let (signed, tag_in) = raw.split_at_mut(mac_len);
    let tag_in: &[u8; TAG_LEN] = (&*tag_in)
        .try_into()
        .map_err(|_| Error::Malformed("wrong length"))?;
    let (slot, key) = select_key(ring, purpose, header.key_id, signed, context, tag_in)?;
    if header.issued_at > MAX_UNIX || header.expires_at > MAX_UNIX {
        return Err(Error::InvalidTime("timestamp out of range"));
    }
    if header.expires_at != 0 && header.expires_at < header.issued_at {
        return Err(Error::Malformed("expires before issued"));
    }
    let expires = (header.expires_at != 0).then_some(header.expires_at);
    timeutil::check_window(now, header.issued_at, expires, leeway)?;
    let (_, iv_ct) = signed.split_at_mut(HEADER_LEN);
    let (iv, ct) = iv_ct.split_at_mut(IV_LEN);
    let iv: [u8; IV_LEN] = (&*iv)
        .try_into()
        .map_err(|_| Error::Malformed("wrong length"))?;
    let keys = key.purpose(purpose);
    let pt = cbc::Decryptor::<&Aes256>::inner_iv_init(&keys.aes, &iv.into())
        .decrypt_padded::<Pkcs7>(ct)
        // The tag verified, so bad padding means a faulty sealer: still one opaque error.
        .map_err(|_| Error::InvalidSignature)?;
    let opened = Opened {
        issued_at: header.issued_at,
        expires_at: header.expires_at,
        plaintext: pt,
    };
    parse(&opened).map(|v| Verified::new(v, slot))
}

/// Finds the ring key whose id matches and whose tag verifies. An unknown key id fails
/// exactly like a bad tag. When primary and backup share a key id (one chance in four
/// billion), both are tried.
fn select_key<'r>(
    ring: &'r KeyRing,
    purpose: Purpose,
    key_id: [u8; 4],
    signed: &[u8],
    context: &[u8],
    tag_in: &[u8; TAG_LEN],
) -> Result<(KeySlot, &'r RingKey)> {
    for (slot, key) in ring.slots() {
        if bool::from(key.id().ct_eq(&key_id)) {
            let expected = tag(key.purpose(purpose), signed, context);
            if ct::eq(&expected, tag_in) {
                return Ok((slot, key));
            }
        }
    }
    Err(Error::InvalidSignature)
}

fn tag(keys: &PurposeKeys, signed: &[u8], context: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = keys.mac.clone();
    mac.update(signed);
    mac.update(context);
    mac.update(&(context.len() as u64).to_be_bytes());
    mac.finalize().into_bytes().into()
}

fn synthetic_iv(
    keys: &PurposeKeys,
    header: &[u8],
    context: &[u8],
    plaintext: &[u8],
) -> [u8; IV_LEN] {
    let mut mac = keys.siv.clone();
    mac.update(header);
    mac.update(context);
    mac.update(&(context.len() as u64).to_be_bytes());
    mac.update(plaintext);
    let full: [u8; 32] = mac.finalize().into_bytes().into();
    let mut iv = [0u8; IV_LEN];
    iv.copy_from_slice(full.get(..IV_LEN).unwrap_or(&[0; IV_LEN]));
    iv
}

struct Header {
    version: u8,
    purpose: u8,
    key_id: [u8; 4],
    issued_at: u64,
    expires_at: u64,
}

fn write_header(out: &mut [u8], purpose: Purpose, key_id: [u8; 4], times: Times) {
    let mut h = [0u8; HEADER_LEN];
    let [v, p, k0, k1, k2, k3, rest @ ..] = &mut h;
    *v = VERSION;
    *p = purpose as u8;
    [*k0, *k1, *k2, *k3] = key_id;
    let (ia, ea) = rest.split_at_mut(8);
    ia.copy_from_slice(&times.issued_at.to_be_bytes());
    ea.copy_from_slice(&times.expires_at.to_be_bytes());
    if let Some(dst) = out.get_mut(..HEADER_LEN) {
        dst.copy_from_slice(&h);
    }
}

fn read_header(raw: &[u8]) -> Result<Header> {
    let h: &[u8; HEADER_LEN] = raw
        .get(..HEADER_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::Malformed("wrong length"))?;
    let [
        version,
        purpose,
        k0,
        k1,
        k2,
        k3,
        i0,
        i1,
        i2,
        i3,
        i4,
        i5,
        i6,
        i7,
        e0,
        e1,
        e2,
        e3,
        e4,
        e5,
        e6,
        e7,
    ] = *h;
    Ok(Header {
        version,
        purpose,
        key_id: [k0, k1, k2, k3],
        issued_at: u64::from_be_bytes([i0, i1, i2, i3, i4, i5, i6, i7]),
        expires_at: u64::from_be_bytes([e0, e1, e2, e3, e4, e5, e6, e7]),
    })
}

/// Test hook: seals with a fixed IV so known-answer vectors can be produced.
#[cfg(test)]
pub(crate) struct FixedIv(pub(crate) [u8; 16]);

#[cfg(test)]
impl rand_core::TryRng for FixedIv {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> core::result::Result<u32, Self::Error> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> core::result::Result<u64, Self::Error> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> core::result::Result<(), Self::Error> {
        for (d, s) in dst.iter_mut().zip(self.0.iter().cycle()) {
            *d = *s;
        }
        Ok(())
    }
}

#[cfg(test)]
impl rand_core::TryCryptoRng for FixedIv {}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;
    use crate::secret::Secret;

    #[derive(serde::Deserialize)]
    struct File {
        secret: String,
        fingerprint: String,
        vectors: Vec<Vector>,
    }
    #[derive(serde::Deserialize)]
    struct Vector {
        purpose: String,
        issued_at: u64,
        expires_at: u64,
        plaintext_hex: String,
        context_hex: String,
        iv_mode: String,
        iv_hex: String,
        token: String,
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn purpose(s: &str) -> Purpose {
        *Purpose::ALL.iter().find(|p| p.label() == s).unwrap()
    }

    #[test]
    fn known_answer_vectors() {
        let file: File =
            serde_json::from_str(include_str!("../tests/vectors/envelope-v1.json")).unwrap();
        let secret = Secret::from_text(&file.secret).unwrap();
        assert_eq!(secret.fingerprint().to_string(), file.fingerprint);
        let ring = KeyRing::new(secret);
        for v in &file.vectors {
            let p = purpose(&v.purpose);
            let pt = hex(&v.plaintext_hex);
            let ctx = hex(&v.context_hex);
            let times = Times {
                issued_at: v.issued_at,
                expires_at: v.expires_at,
            };
            let mut fixed = FixedIv(hex(&v.iv_hex).try_into().unwrap());
            let mode = if v.iv_mode == "random" {
                IvMode::Random(&mut fixed)
            } else {
                IvMode::Deterministic
            };
            let token = seal(&ring, p, times, &pt, &ctx, mode).unwrap();
            assert_eq!(token, v.token, "{}", v.purpose);
            let now = v.issued_at.max(1);
            let opened = open(&ring, p, &v.token, now, 0, &ctx, |o| {
                assert_eq!(o.issued_at, v.issued_at);
                assert_eq!(o.expires_at, v.expires_at);
                Ok(o.plaintext.to_vec())
            })
            .unwrap();
            assert_eq!(opened.value(), &pt);
            assert_eq!(opened.slot(), KeySlot::Primary);
            // Another purpose never opens it.
            for other in Purpose::ALL.iter().filter(|o| **o != p) {
                let err = open(&ring, *other, &v.token, now, 0, &ctx, |_| Ok(())).unwrap_err();
                assert_eq!(err, Error::WrongPurpose);
            }
        }
    }

    #[test]
    fn max_plaintext_fits_the_cap() {
        let ring = KeyRing::new(Secret::from_text("a secret for the size test").unwrap());
        let times = Times {
            issued_at: 1,
            expires_at: 0,
        };
        let pt = vec![7u8; MAX_PLAINTEXT];
        let token =
            seal::<FixedIv>(&ring, Purpose::Api, times, &pt, b"", IvMode::Deterministic).unwrap();
        assert!(token.len() <= MAX_TOKEN_CHARS, "{}", token.len());
        let back = open(&ring, Purpose::Api, &token, 2, 0, b"", |o| {
            Ok(o.plaintext.len())
        })
        .unwrap();
        assert_eq!(*back, MAX_PLAINTEXT);
        let too_big = vec![7u8; MAX_PLAINTEXT + 1];
        let err = seal::<FixedIv>(
            &ring,
            Purpose::Api,
            times,
            &too_big,
            b"",
            IvMode::Deterministic,
        )
        .unwrap_err();
        assert_eq!(err, Error::TooLong { max: MAX_PLAINTEXT });
    }

    #[test]
    fn context_is_bound() {
        let ring = KeyRing::new(Secret::from_text("a secret for the context test").unwrap());
        let times = Times {
            issued_at: 1,
            expires_at: 0,
        };
        let token = seal::<FixedIv>(
            &ring,
            Purpose::ImageId,
            times,
            b"img",
            b"device-a",
            IvMode::Deterministic,
        )
        .unwrap();
        assert!(
            open(&ring, Purpose::ImageId, &token, 2, 0, b"device-a", |_| Ok(
                ()
            ))
            .is_ok()
        );
        let err = open(&ring, Purpose::ImageId, &token, 2, 0, b"device-b", |_| {
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err, Error::InvalidSignature);
        // Moving bytes between context and plaintext changes the synthetic IV.
        let a = seal::<FixedIv>(
            &ring,
            Purpose::Cache,
            times,
            b"bc",
            b"a",
            IvMode::Deterministic,
        )
        .unwrap();
        let b = seal::<FixedIv>(
            &ring,
            Purpose::Cache,
            times,
            b"c",
            b"ab",
            IvMode::Deterministic,
        )
        .unwrap();
        assert_ne!(a[38..60], b[38..60]);
    }

    #[test]
    fn hostile_times_are_errors() {
        let ring = KeyRing::new(Secret::from_text("a secret for the time test").unwrap());
        // A u64::MAX expiry cannot be sealed ...
        let times = Times {
            issued_at: 1,
            expires_at: u64::MAX,
        };
        let err = seal::<FixedIv>(&ring, Purpose::Api, times, b"x", b"", IvMode::Deterministic)
            .unwrap_err();
        assert_eq!(err, Error::InvalidTime("timestamp out of range"));
        // ... and one forged with a valid tag (we hold the key here) is refused, not a panic.
        let mut raw = [0u8; 22 + 16 + 16 + 32];
        write_header(
            &mut raw,
            Purpose::Api,
            ring.primary_key().id(),
            Times {
                issued_at: 1,
                expires_at: u64::MAX,
            },
        );
        let keys = ring.primary_key().purpose(Purpose::Api);
        let iv = [0u8; 16];
        let (_, rest) = raw.split_at_mut(22 + 16);
        cbc::Encryptor::<&Aes256>::inner_iv_init(&keys.aes, &iv.into())
            .encrypt_padded::<Pkcs7>(&mut rest[..16], 1)
            .unwrap();
        let t = tag(keys, &raw[..22 + 16 + 16], b"");
        raw[22 + 16 + 16..].copy_from_slice(&t);
        let token = b64::encode(b64::Dialect::UrlUnpadded, &raw);
        for now in [0, 1, u64::MAX] {
            let err =
                open(&ring, Purpose::Api, &token, now, u64::MAX, b"", |_| Ok(())).unwrap_err();
            assert_eq!(err, Error::InvalidTime("timestamp out of range"));
        }
    }
}
