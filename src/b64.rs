//! Base64 in the exact dialects the formats need, decoding into caller buffers.
//!
//! Every decoder here is strict: one alphabet, the format's padding rule, and no
//! non-canonical trailing bits, so each byte string has exactly one accepted text.

use alloc::string::String;
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{Config as _, DecodePaddingMode, general_purpose};

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

/// base64url, no padding (envelope v1, Edgecast output).
pub(crate) const URL_NOPAD: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::URL_SAFE, strict(false));
/// base64url with canonical padding (Fernet; Edgecast input).
#[cfg(any(feature = "fernet", feature = "edgecast"))]
pub(crate) const URL_PAD: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::URL_SAFE, strict(true));
/// Standard alphabet, no padding (Edgecast input).
#[cfg(feature = "edgecast")]
pub(crate) const STD_NOPAD: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::STANDARD, strict(false));
/// Standard alphabet with canonical padding (FotoWeb login tokens).
pub(crate) const STD_PAD: GeneralPurpose = general_purpose::STANDARD;

/// Decodes `input` into `out`, returning the decoded length.
///
/// Fails with `Malformed` on any character outside the dialect, wrong padding,
/// non-canonical trailing bits, or when `out` is too small.
pub(crate) fn decode_into(engine: &GeneralPurpose, input: &[u8], out: &mut [u8]) -> Result<usize> {
    engine
        .decode_slice(input, out)
        .map_err(|_| Error::Malformed("invalid base64"))
}

/// Encodes `input` into a new string of exactly the right capacity.
pub(crate) fn encode(engine: &GeneralPurpose, input: &[u8]) -> String {
    let mut s = String::with_capacity(encoded_len(input.len(), engine.config().encode_padding()));
    engine.encode_string(input, &mut s);
    s
}

/// The encoded length of `n` bytes.
pub(crate) const fn encoded_len(n: usize, pad: bool) -> usize {
    if pad {
        n.div_ceil(3) * 4
    } else {
        (n * 4).div_ceil(3)
    }
}

/// Encodes `input` into `out`, returning the encoded length (0 when `out` is too small).
pub(crate) fn encode_into(engine: &GeneralPurpose, input: &[u8], out: &mut [u8]) -> usize {
    engine.encode_slice(input, out).unwrap_or(0)
}
