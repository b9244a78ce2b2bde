//! Base64 in the exact dialects the formats need, decoding into stack buffers.
//!
//! Every decoder here is strict: one alphabet, the dialect's padding rule, and no
//! non-canonical trailing bits, so each byte string has exactly one accepted text. With
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
    /// base64url with canonical padding (Fernet; Edgecast input).
    #[cfg_attr(not(any(feature = "fernet", feature = "edgecast")), allow(dead_code))]
    UrlPadded,
    /// Standard alphabet, no padding (Edgecast input).
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
