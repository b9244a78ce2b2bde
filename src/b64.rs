//! Base64 in the exact dialects the formats need, decoding into stack buffers.
//!
//! The dialect decoders are strict: one alphabet, the dialect's padding rule, and no
//! non-canonical trailing bits, so each byte string has exactly one accepted text. Two
//! helpers accept more, for formats whose peers send more: [`decode_any_alphabet_into`]
//! (Edgecast: both alphabets, padding optional) and [`restore_url_transport`] (FotoWeb
//! login tokens that went through a URL unencoded or percent-encoded). With
//! `std` on x86-64 and AArch64, base64's SIMD engine (chosen at run time, falling back to
//! the scalar engine) does the work; its output is the same.

use alloc::string::String;
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};

use crate::error::{Error, Result};

const fn strict(pad: bool) -> GeneralPurposeConfig {
    GeneralPurposeConfig::new()
        .with_encode_padding(pad)
        .with_decode_allow_trailing_bits(false)
        .with_decode_padding_mode(if pad {
            DecodePaddingMode::RequireCanonical
        } else {
            DecodePaddingMode::RequireNone
        })
}

/// A base64 dialect: alphabet and padding rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// base64url, no padding (envelope v1, Edgecast output).
    UrlUnpadded,
    /// base64url with canonical padding (Fernet).
    #[cfg_attr(not(feature = "fernet"), allow(dead_code))]
    UrlPadded,
    /// Standard alphabet, no padding (Edgecast input, after mapping `-_` to `+/`).
    #[cfg_attr(not(feature = "edgecast"), allow(dead_code))]
    StdUnpadded,
    /// Standard alphabet with canonical padding (FotoWeb login tokens).
    StdPadded,
}

const URL_NOPAD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, strict(false));
const URL_PAD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, strict(true));
const STD_NOPAD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, strict(false));
const STD_PAD: GeneralPurpose = general_purpose::STANDARD;

impl Dialect {
    const fn pad(self) -> bool {
        matches!(self, Dialect::UrlPadded | Dialect::StdPadded)
    }

    #[cfg_attr(
        all(feature = "std", any(target_arch = "x86_64", target_arch = "aarch64")),
        allow(dead_code)
    )]
    const fn scalar(self) -> &'static GeneralPurpose {
        match self {
            Dialect::UrlUnpadded => &URL_NOPAD,
            Dialect::UrlPadded => &URL_PAD,
            Dialect::StdUnpadded => &STD_NOPAD,
            Dialect::StdPadded => &STD_PAD,
        }
    }
}

#[cfg(all(feature = "std", any(target_arch = "x86_64", target_arch = "aarch64")))]
mod engines {
    use base64::engine::Simd;
    use std::sync::OnceLock;

    use super::{Dialect, strict};

    /// The run-time selected SIMD engines, one per dialect.
    pub(super) fn get(d: Dialect) -> &'static Simd {
        static E: OnceLock<[Simd; 4]> = OnceLock::new();
        let [a, b, c, e] = E.get_or_init(|| {
            [
                Simd::url_safe(strict(false)),
                Simd::url_safe(strict(true)),
                Simd::standard(strict(false)),
                Simd::standard(strict(true)),
            ]
        });
        match d {
            Dialect::UrlUnpadded => a,
            Dialect::UrlPadded => b,
            Dialect::StdUnpadded => c,
            Dialect::StdPadded => e,
        }
    }
}

#[cfg(not(all(feature = "std", any(target_arch = "x86_64", target_arch = "aarch64"))))]
mod engines {
    use base64::engine::general_purpose::GeneralPurpose;

    use super::Dialect;

    pub(super) fn get(d: Dialect) -> &'static GeneralPurpose {
        d.scalar()
    }
}

/// Decodes `input` into `out`, returning the decoded length.
///
/// Fails with `Malformed` on any character outside the dialect, wrong padding,
/// non-canonical trailing bits, or when `out` is too small.
pub(crate) fn decode_into(d: Dialect, input: &[u8], out: &mut [u8]) -> Result<usize> {
    engines::get(d)
        .decode_slice(input, out)
        .map_err(|_| Error::Malformed("invalid base64"))
}

/// Decodes `input` into a stack buffer sized for it (see [`with_stack_buf`]; the caller
/// has already capped the input so that `MAX` bytes suffice) and runs `f` on the decoded
/// bytes.
pub(crate) fn with_decoded<const MAX: usize, T>(
    d: Dialect,
    input: &[u8],
    f: impl FnOnce(&mut [u8]) -> Result<T>,
) -> Result<T> {
    let estimate = input.len() / 4 * 3 + 3;
    with_stack_buf::<MAX, T>(estimate, |buf| {
        let n = decode_into(d, input, buf)?;
        f(buf.get_mut(..n).ok_or(Error::Malformed("invalid base64"))?)
    })
}

/// Decodes base64 text in either alphabet into `out`, as the deployed Edgecast decoders do,
/// returning the decoded length.
///
/// `-` and `+` are the same digit, as are `_` and `/`, in any mix (the C, C#, Java, Python,
/// JavaScript and Ruby `ectoken` decoders all map both alphabets onto one table). Padding is
/// optional, but when present it is canonical (`=` or `==` making the length a multiple of
/// four). Still refused: any other character, `=` elsewhere than at the end, and
/// non-canonical trailing bits (no encoder emits them). `N` bounds the input length; the
/// caller has checked it.
#[cfg_attr(not(feature = "edgecast"), allow(dead_code))]
pub(crate) fn decode_any_alphabet_into<const N: usize>(
    input: &[u8],
    out: &mut [u8],
) -> Result<usize> {
    let mut text = [0u8; N];
    let text = text
        .get_mut(..input.len())
        .ok_or(Error::Malformed("invalid base64"))?;
    for (t, &b) in text.iter_mut().zip(input) {
        *t = match b {
            b'-' => b'+',
            b'_' => b'/',
            b => b,
        };
    }
    let d = if text.last() == Some(&b'=') {
        Dialect::StdPadded
    } else {
        Dialect::StdUnpadded
    };
    decode_into(d, text, out)
}

/// Undoes what a URL does to a standard-alphabet base64 value sent without
/// percent-encoding, or percent-encoded, into `out`; returns the restored length.
///
/// A space becomes `+` (a form-style query decoder turned the `+` into a space), and
/// `%2B`, `%2F`, `%3D` (hex digits in either case, RFC 3986 section 2.1) become `+`, `/`,
/// `=`. Any other `%` is refused (`Malformed`), as is output longer than `out`
/// (`TooLong`). Every other byte is copied unchanged, for the strict decoder to judge.
pub(crate) fn restore_url_transport(input: &[u8], out: &mut [u8]) -> Result<usize> {
    const BAD: Error = Error::Malformed("invalid base64");
    let too_long = Error::TooLong { max: out.len() };
    let mut n = 0;
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        let (c, used) = match b {
            b' ' => (b'+', 1),
            b'%' => {
                let hi = input.get(i + 1).copied().ok_or(BAD)?;
                let lo = input.get(i + 2).copied().ok_or(BAD)?.to_ascii_uppercase();
                match (hi, lo) {
                    (b'2', b'B') => (b'+', 3),
                    (b'2', b'F') => (b'/', 3),
                    (b'3', b'D') => (b'=', 3),
                    _ => return Err(BAD),
                }
            }
            b => (b, 1),
        };
        *out.get_mut(n).ok_or(too_long.clone())? = c;
        n += 1;
        i += used;
    }
    Ok(n)
}

/// The stack buffer used for short tokens (up to 512 characters: nearly all of them).
const SMALL: usize = 384;

/// Runs `f` with a zeroed stack buffer of at least `len` bytes: `SMALL` bytes when that
/// suffices, `MAX` otherwise (zeroing a few kilobytes per call would cost more than the
/// cryptography).
///
/// The buffer is not wiped afterwards: it holds a token's bytes, its header, ciphertext
/// and tag (public) and, after opening, the plaintext that is handed to the caller as an
/// ordinary owned value anyway. Keys, which are secret, live in zeroize-on-drop types.
pub(crate) fn with_stack_buf<const MAX: usize, T>(
    len: usize,
    f: impl FnOnce(&mut [u8]) -> Result<T>,
) -> Result<T> {
    if len <= SMALL {
        f(&mut [0u8; SMALL])
    } else {
        f(&mut [0u8; MAX])
    }
}

/// Encodes `input` into a new string of exactly the right capacity.
pub(crate) fn encode(d: Dialect, input: &[u8]) -> String {
    let mut s = String::with_capacity(encoded_len(input.len(), d.pad()));
    engines::get(d).encode_string(input, &mut s);
    s
}

/// Encodes `input` into `out`, returning the encoded length (0 when `out` is too small).
pub(crate) fn encode_into(d: Dialect, input: &[u8], out: &mut [u8]) -> usize {
    engines::get(d).encode_slice(input, out).unwrap_or(0)
}

/// The encoded length of `n` bytes.
pub(crate) const fn encoded_len(n: usize, pad: bool) -> usize {
    if pad {
        n.div_ceil(3) * 4
    } else {
        (n * 4).div_ceil(3)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The SIMD and scalar engines accept and refuse exactly the same texts.
    #[test]
    fn simd_and_scalar_agree() {
        let samples: [&[u8]; 12] = [
            b"", b"QQ", b"QR", b"QQ==", b"QQ=", b"Q===", b"AQID", b"AQI-", b"AQI+", b"AQI_/w",
            b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
            b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=AAAA",
        ];
        for d in [
            Dialect::UrlUnpadded,
            Dialect::UrlPadded,
            Dialect::StdUnpadded,
            Dialect::StdPadded,
        ] {
            for s in samples {
                let mut a = [0u8; 128];
                let mut b = [0u8; 128];
                let simd = decode_into(d, s, &mut a).ok();
                let scalar = d.scalar().decode_slice(s, &mut b).ok();
                assert_eq!(simd, scalar, "{d:?} {:?}", core::str::from_utf8(s));
                assert_eq!(a, b);
            }
        }
    }
}
