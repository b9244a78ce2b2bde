//! Key text checked without a branch or a table lookup on its bytes.
//!
//! A site secret, an API key or an Edgecast key is validated when a server loads its
//! configuration. These checks look at every byte with the same instructions whatever its
//! value (masks built by arithmetic, no early exit, no lookup table), so the only
//! secret-dependent decision is the final verdict, which the operator is told anyway.
//! The text's *length* is public (it decides loop bounds and which bytes are read), as it is
//! for every comparison in the crate. `ctgrind/` checks this under Valgrind.

/// The text holds a control character (Unicode `Cc`: U+0000–U+001F, U+007F–U+009F).
pub(crate) const CONTROL: u8 = 1;
/// The text starts or ends with a white-space character (Unicode `White_Space`).
pub(crate) const EDGE_SPACE: u8 = 2;

/// `0xFF` when `lo <= b <= hi`, else `0`: both differences are computed in 16 bits and a
/// borrow from either sets bit 8.
#[inline]
fn within(b: u8, lo: u8, hi: u8) -> u8 {
    let x = u16::from(b).wrapping_sub(u16::from(lo)) | u16::from(hi).wrapping_sub(u16::from(b));
    (((x >> 8) & 1) as u8).wrapping_sub(1)
}

/// `0xFF` when `b == v`, else `0`.
#[inline]
fn is(b: u8, v: u8) -> u8 {
    within(b, v, v)
}

/// The byte at `i`, or `0` past the end (the length is public; `0` starts no character
/// that the checks below look for).
#[inline]
fn at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

/// `0xFF` when the three bytes are the UTF-8 encoding of a three-byte white-space
/// character: U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
#[inline]
fn space3(x: u8, y: u8, z: u8) -> u8 {
    let u1680 = is(x, 0xE1) & is(y, 0x9A) & is(z, 0x80);
    let u20xx = is(x, 0xE2)
        & (is(y, 0x80) & (within(z, 0x80, 0x8A) | is(z, 0xA8) | is(z, 0xA9) | is(z, 0xAF))
            | is(y, 0x81) & is(z, 0x9F));
    let u3000 = is(x, 0xE3) & is(y, 0x80) & is(z, 0x80);
    u1680 | u20xx | u3000
}

/// Which rule of a secret's text is broken: `0`, or [`CONTROL`] and/or [`EDGE_SPACE`].
///
/// `bytes` is valid UTF-8 (it comes from a `&str`), so a lead byte found at the start or at
/// its expected distance from the end is where a character starts. White space that is
/// also a control character (U+0009–U+000D, U+0085) counts as a control character.
pub(crate) fn broken_rules(bytes: &[u8]) -> u8 {
    let mut control = 0u8;
    let mut prev = 0u8;
    for &b in bytes {
        control |= within(b, 0x00, 0x1F) | is(b, 0x7F);
        // U+0080–U+009F: C2 80 to C2 9F.
        control |= is(prev, 0xC2) & within(b, 0x80, 0x9F);
        prev = b;
    }
    let n = bytes.len();
    let (b0, b1, b2) = (at(bytes, 0), at(bytes, 1), at(bytes, 2));
    let first = is(b0, 0x20) | (is(b0, 0xC2) & is(b1, 0xA0)) | space3(b0, b1, b2);
    let back = |k: usize| n.checked_sub(k).map_or(0, |i| at(bytes, i));
    let (z1, z2, z3) = (back(1), back(2), back(3));
    let last = is(z1, 0x20) | (is(z2, 0xC2) & is(z1, 0xA0)) | space3(z3, z2, z1);
    (control & CONTROL) | ((first | last) & EDGE_SPACE)
}

/// `0xFF` when the (valid UTF-8) text is one character repeated, else `0`: it has the
/// period of its first character's length, and that length divides its own.
pub(crate) fn one_repeated_char(bytes: &[u8]) -> u8 {
    let b0 = at(bytes, 0);
    let n = bytes.len();
    let mut any = 0u8;
    for (k, width) in [
        (1usize, within(b0, 0x00, 0x7F)),
        (2, within(b0, 0xC0, 0xDF)),
        (3, within(b0, 0xE0, 0xEF)),
        (4, within(b0, 0xF0, 0xF7)),
    ] {
        let mut periodic = if n.is_multiple_of(k) { 0xFF } else { 0 };
        for (a, b) in bytes.iter().zip(bytes.iter().skip(k)) {
            periodic &= is(*a, *b);
        }
        any |= width & periodic;
    }
    any
}

/// The number of characters of (valid UTF-8) text: its bytes that are not continuation
/// bytes (`10xxxxxx`).
pub(crate) fn char_count(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|&b| usize::from(1 - (within(b, 0x80, 0xBF) & 1)))
        .sum()
}

/// `0xFF` when `b` is an ASCII letter or digit, else `0`.
pub(crate) fn alnum(b: u8) -> u8 {
    within(b, b'0', b'9') | within(b, b'a', b'z') | within(b, b'A', b'Z')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use alloc::format;
    use alloc::string::String;

    /// The rules as `char`'s own predicates state them.
    fn reference(text: &str) -> u8 {
        let control = text.chars().any(char::is_control);
        // White space that is also a control character counts as the latter only.
        let space = |c: char| c.is_whitespace() && !c.is_control();
        let edge =
            text.chars().next().is_some_and(space) || text.chars().next_back().is_some_and(space);
        u8::from(control) * CONTROL + u8::from(edge) * EDGE_SPACE
    }

    #[test]
    fn every_character_at_the_start_in_the_middle_and_at_the_end() {
        let mut buf = [0u8; 16];
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let mut enc = [0u8; 4];
            let c_bytes = c.encode_utf8(&mut enc).as_bytes();
            for (before, after) in [
                ("", "abc"),
                ("ab", "cd"),
                ("abc", ""),
                ("", ""),
                ("", "\u{e9}"),
            ] {
                let parts = [before.as_bytes(), c_bytes, after.as_bytes()];
                let n = parts.iter().map(|p| p.len()).sum();
                let mut at = 0;
                for p in parts {
                    buf[at..at + p.len()].copy_from_slice(p);
                    at += p.len();
                }
                let text = core::str::from_utf8(&buf[..n]).unwrap();
                assert_eq!(
                    broken_rules(text.as_bytes()),
                    reference(text),
                    "{c:?} in {text:?}"
                );
            }
        }
        assert_eq!(broken_rules(b""), 0);
    }

    #[test]
    fn repeated_characters_of_every_width() {
        for (text, want) in [
            ("aaaa", true),
            ("aaab", false),
            ("a", true),
            ("éééé", true),
            ("ééé\u{e8}", false),
            ("€€€", true),
            ("€€", true),
            ("€a€", false),
            ("𝄞𝄞𝄞", true),
            ("𝄞𝄞a", false),
            ("ab", false),
            ("abab", false),
            ("", true),
        ] {
            assert_eq!(one_repeated_char(text.as_bytes()) == 0xFF, want, "{text:?}");
        }
        // Every character, repeated and followed by another.
        for c in (0..=0x10FFFFu32).step_by(97).filter_map(char::from_u32) {
            let same: String = core::iter::repeat_n(c, 5).collect();
            assert_eq!(one_repeated_char(same.as_bytes()), 0xFF, "{c:?}");
            let other = format!("{same}{}", if c == 'x' { 'y' } else { 'x' });
            assert_eq!(one_repeated_char(other.as_bytes()), 0, "{c:?}");
        }
    }

    #[test]
    fn characters_are_counted_as_chars() {
        for text in ["", "abc", "é€𝄞", "aé€𝄞z", "\u{0}\u{7f}\u{80}"] {
            assert_eq!(
                char_count(text.as_bytes()),
                text.chars().count(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn letters_and_digits() {
        for b in 0..=255u8 {
            assert_eq!(alnum(b) == 0xFF, b.is_ascii_alphanumeric(), "{b}");
        }
    }
}
