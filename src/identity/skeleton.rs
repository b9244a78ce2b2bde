//! The skeleton of a name: one spelling for every spelling the systems behind a site treat
//! as the same name.
//!
//! 1. **Canonical equivalence first**: the name is decomposed (NFD) before anything maps
//!    it, so every canonically equivalent spelling (`İ` and `I` + U+0307, `Ö` and `O` +
//!    U+0308, marks in any canonical order) enters the same way;
//! 2. what a person cannot see is removed: default-ignorable code points (soft hyphen,
//!    zero-width characters, word joiner, variation selectors, bidi controls), the other
//!    format controls (`U+0600` ARABIC NUMBER SIGN, `U+FFF9`–`U+FFFB`, the Egyptian format
//!    controls), private-use code points, noncharacters and `U+2800` BRAILLE PATTERN BLANK
//!    (a symbol that renders as nothing); and the **Turkic i in every form**
//!    becomes `i`: `I`, `i` or `ı` (U+0131) followed by U+0307 COMBINING DOT ABOVE (with no
//!    other mark of class 230 between them) loses the dot, and `ı` itself is `i`, so
//!    Turkic-insensitive comparators (Java, .NET, SQL collations) can't be used against it;
//! 3. Unicode *compatibility caseless matching* (The Unicode Standard, D146):
//!    `NFKD(toCasefold(NFKD(toCasefold(NFD(X)))))`, with full case folding, so `ſ` is `s`,
//!    `ß` is `ss`, full-width and mathematical letters are their plain letters;
//! 4. step 2 again (NFKD can produce ignorables, a dotless i and a dot above), white space
//!    (`White_Space`) trimmed at both ends, and the result put in NFC.
//!
//! So `skeleton(nfd(s)) == skeleton(nfc(s)) == skeleton(s)` for every string, and the
//! skeleton is idempotent. The Unicode data comes from ICU4X (`icu_normalizer`,
//! `icu_casemap`, `icu_properties`). ASCII names take a fast path that gives the same
//! answer (trim, ASCII lower case) without allocating: ASCII is its own NFD, holds no
//! ignorable code point and no combining dot.

use alloc::borrow::Cow;
use alloc::string::String;

use icu_casemap::CaseMapperBorrowed;
use icu_normalizer::properties::CanonicalCombiningClassMapBorrowed;
use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};
use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory, NoncharacterCodePoint};
use icu_properties::{CodePointMapData, CodePointSetData};

/// U+0307 COMBINING DOT ABOVE.
const DOT_ABOVE: char = '\u{0307}';
/// Canonical combining class 230 (Above), which blocks a later dot above from the base.
const CCC_ABOVE: u8 = 230;

/// The skeleton of a whole name (see the module docs).
pub(crate) fn skeleton(name: &str) -> Cow<'_, str> {
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

pub(super) fn unicode_skeleton(name: &str) -> String {
    let nfkd = DecomposingNormalizerBorrowed::new_nfkd();
    let fold = CaseMapperBorrowed::new();
    // 1. and 2. NFD, then ignorables and the Turkic i.
    let s = DecomposingNormalizerBorrowed::new_nfd().normalize(name);
    let s = ignorables_and_turkic_i(&s);
    // 3. D146 (the NFD it starts with is done).
    let s = fold.fold_string(&s);
    let s = nfkd.normalize(&s);
    let s = fold.fold_string(&s);
    let s = nfkd.normalize(&s);
    // 4. NFKD can produce both (U+FFA0 becomes the ignorable U+3164; U+1D6A4 becomes ı).
    let s = ignorables_and_turkic_i(&s);
    let trimmed = s.trim_matches(char::is_whitespace);
    ComposingNormalizerBorrowed::new_nfc()
        .normalize(trimmed)
        .into_owned()
}

/// True for what a person cannot see (step 2 of the module docs).
fn invisible(c: char) -> bool {
    if CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || CodePointSetData::new::<NoncharacterCodePoint>().contains(c)
    {
        return true;
    }
    // U+2800 BRAILLE PATTERN BLANK is a symbol (So) that shows as a blank, the one used
    // for "invisible" user names; the rest are format controls and private use.
    c == '\u{2800}'
        || matches!(
            CodePointMapData::<GeneralCategory>::new().get(c),
            GeneralCategory::Format | GeneralCategory::PrivateUse
        )
}

/// On decomposed text: removes what a person cannot see (and puts the marks that were
/// around it back in canonical order), then maps the Turkic i: `I`, `i` and `ı`
/// become `i`, and the first U+0307 of the marks that follow is dropped unless a mark of
/// class 230 comes before it (the `After_I` condition of Unicode's SpecialCasing.txt).
fn ignorables_and_turkic_i(s: &str) -> Cow<'_, str> {
    let s = if s.chars().any(invisible) {
        let kept: String = s.chars().filter(|&c| !invisible(c)).collect();
        Cow::Owned(
            DecomposingNormalizerBorrowed::new_nfd()
                .normalize(&kept)
                .into_owned(),
        )
    } else {
        Cow::Borrowed(s)
    };
    // Without these the loop below gives its input back (a lone `i` stays `i`).
    if !s.contains(['I', '\u{0130}', '\u{0131}', DOT_ABOVE]) {
        return s;
    }
    let ccc = CanonicalCombiningClassMapBorrowed::new();
    let chars: alloc::vec::Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut drop_at = None;
    for (i, &c) in chars.iter().enumerate() {
        if drop_at == Some(i) {
            continue;
        }
        match c {
            'I' | 'i' | '\u{0131}' => {
                out.push('i');
                drop_at = dot_after(&chars, i, |m| ccc.get_u8(m));
            }
            // Not in decomposed text, but never let it through as a capital.
            '\u{0130}' => out.push('i'),
            c => out.push(c),
        }
    }
    if out == *s { s } else { Cow::Owned(out) }
}

/// The index of the U+0307 that belongs to the base at `base`: the first dot above among
/// the marks that follow it, with no mark of class 230 before it.
fn dot_after(chars: &[char], base: usize, ccc: impl Fn(char) -> u8) -> Option<usize> {
    for (j, &m) in chars.iter().enumerate().skip(base + 1) {
        let class = ccc(m);
        if class == 0 {
            return None;
        }
        if m == DOT_ABOVE {
            return Some(j);
        }
        if class == CCC_ABOVE {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_fast_path_agrees_with_unicode_path() {
        for name in [
            " Alice ",
            "CORP\\Bob",
            "x@Y.example",
            "\tTab",
            "a b",
            "I",
            "Ii",
        ] {
            let fast = skeleton(name).into_owned();
            assert_eq!(fast, unicode_skeleton(name), "{name:?}");
        }
    }

    #[test]
    fn the_turkic_i_in_every_form() {
        for s in [
            "\u{0130}",
            "I\u{0307}",
            "i\u{0307}",
            "\u{0131}",
            "\u{0131}\u{0307}",
            "\u{FF29}\u{0307}",
            "I\u{0323}\u{0307}",
        ] {
            let k = unicode_skeleton(s);
            assert!(k == "i" || k == "\u{1ECB}", "{s:?} -> {k:?}");
        }
        // A dot above after another mark above is a second mark, not the i's dot.
        assert_eq!(unicode_skeleton("i\u{0301}\u{0307}"), "\u{00ED}\u{0307}");
    }
}
