//! New user names by the standard: the PRECIS `UsernameCasePreserved` profile of RFC 8265,
//! on the `IdentifierClass` of RFC 8264, with the contextual rules of RFC 5892 Appendix A
//! and the bidi rule of RFC 5893.
//!
//! The derived property value of each code point is computed as RFC 8264 §8 and §9 define
//! it, from ICU4X's Unicode data (the same data the skeleton uses, Unicode 18): no table of
//! our own except the one the RFC itself fixes (the exceptions of RFC 5892 §2.6; the
//! `BackwardCompatible` list of RFC 8264 §9.7 is empty). The PRECIS crates on crates.io
//! derive their `IdentifierClass` from Unicode 6.3, so every letter added since 2013 would
//! be `UNASSIGNED` there; see `docs/FORMAT.md`.
//!
//! The order is RFC 8264 §7's: width mapping (full-width and half-width forms to their
//! ordinary forms), normalization (NFC), then the directionality rule and the code-point
//! rules. A name is one or more *userparts* separated by single spaces (RFC 8265 §3.1 allows
//! `1*SP`; fwtoken allows exactly one, so two names cannot differ by a run of spaces).

use alloc::string::String;
use core::fmt;

use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};
use icu_properties::props::{
    BidiClass, CanonicalCombiningClass, DefaultIgnorableCodePoint, EastAsianWidth, GeneralCategory,
    HangulSyllableType, JoinControl, JoiningType, NoncharacterCodePoint, Script,
};
use icu_properties::{CodePointMapData, CodePointSetData};

use crate::error::{Error, Result};

/// Why a code point may not be part of a new user name: the RFC 8264 property that refuses
/// it, in words an operator can act on ([`Error::DisallowedCodePoint`] names the code point).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodePointClass {
    /// A symbol (`Sm`, `Sc`, `Sk`, `So`: `U+2800` BRAILLE PATTERN BLANK, emoji, `©`).
    Symbol,
    /// Punctuation other than ASCII (`’`, `«`, `、`).
    Punctuation,
    /// A space other than a single U+0020 between parts, or a line or paragraph separator.
    Space,
    /// A character with a compatibility decomposition (`ſ`, `𝐬`, `ﬁ`, `²`, `Ⅻ`): its plain
    /// form is the one to use.
    Compatibility,
    /// A title-case letter, a letter number, another number form or an enclosing mark
    /// (`ǅ`, `ᛮ`, `৴`).
    OtherLetterDigit,
    /// A control character (`Cc`).
    Control,
    /// An invisible format control (`Cf`: `U+0600` ARABIC NUMBER SIGN, `U+FFF9`–`U+FFFB`
    /// interlinear annotation, the Egyptian format controls `U+13430`…).
    Format,
    /// A bidi control (`U+202A`–`U+202E`, `U+2066`–`U+2069`, `U+200E`, `U+200F`, `U+061C`).
    BidiControl,
    /// A default-ignorable code point (soft hyphen, zero-width space, variation selectors).
    Invisible,
    /// A noncharacter (`U+FFFE`, `U+FDD0`…).
    Noncharacter,
    /// A private-use code point: it has no meaning anyone else can see.
    PrivateUse,
    /// A conjoining Hangul jamo that does not compose into a syllable.
    OldHangulJamo,
    /// Unassigned in the Unicode version fwtoken's data follows.
    Unassigned,
    /// Refused by the exceptions of RFC 5892 §2.6 (`U+0640` ARABIC TATWEEL, `U+07FA`, …).
    Exception,
    /// Allowed only in a context it is not in (RFC 5892 Appendix A: a zero-width joiner not
    /// after a virama, a zero-width non-joiner outside a joining context, `·` not between
    /// two `l`, Arabic-Indic digits mixed with extended ones, …).
    Context,
    /// Breaks the bidi rule of RFC 5893 (a right-to-left part that starts or ends with a
    /// left-to-right letter, or mixes European and Arabic-Indic digits).
    Bidi,
}

impl CodePointClass {
    /// The class in words, as [`Error::DisallowedCodePoint`] shows it.
    pub const fn description(self) -> &'static str {
        match self {
            Self::Symbol => "a symbol",
            Self::Punctuation => "punctuation other than ASCII",
            Self::Space => "a space other than a single U+0020 between parts",
            Self::Compatibility => "a compatibility character",
            Self::OtherLetterDigit => "a title-case, numeric or enclosing form",
            Self::Control => "a control character",
            Self::Format => "an invisible format control",
            Self::BidiControl => "a bidi control character",
            Self::Invisible => "an invisible (default-ignorable) character",
            Self::Noncharacter => "a noncharacter",
            Self::PrivateUse => "a private-use character",
            Self::OldHangulJamo => "a conjoining Hangul jamo",
            Self::Unassigned => "unassigned in Unicode",
            Self::Exception => "disallowed by RFC 5892",
            Self::Context => "not allowed in this position (RFC 5892 context rule)",
            Self::Bidi => "not allowed in this position (RFC 5893 bidi rule)",
        }
    }
}

impl fmt::Display for CodePointClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// An RFC 8264 derived property value, for the `IdentifierClass`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    Valid,
    ContextJ,
    ContextO,
    Refused(CodePointClass),
}

/// RFC 5892 §2.6, the exceptions (F), which RFC 8264 §9.6 takes over unchanged.
fn exception(cp: u32) -> Option<Value> {
    Some(match cp {
        0x00DF | 0x03C2 | 0x06FD | 0x06FE | 0x0F0B | 0x3007 => Value::Valid,
        0x00B7 | 0x0375 | 0x05F3 | 0x05F4 | 0x30FB | 0x0660..=0x0669 | 0x06F0..=0x06F9 => {
            Value::ContextO
        }
        0x0640 | 0x07FA | 0x302E | 0x302F | 0x3031..=0x3035 | 0x303B => {
            Value::Refused(CodePointClass::Exception)
        }
        _ => return None,
    })
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// `toNFKC(cp) != cp` (RFC 8264 §9.17, `HasCompat`).
fn has_compat(c: char) -> bool {
    let mut buf = [0u8; 4];
    !ComposingNormalizerBorrowed::new_nfkc().is_normalized(c.encode_utf8(&mut buf))
}

/// The derived property value of `c` in the `IdentifierClass` (RFC 8264 §8, in its order).
fn derived(c: char) -> Value {
    use GeneralCategory as Gc;
    use HangulSyllableType as Hst;
    let cp = u32::from(c);
    if let Some(v) = exception(cp) {
        return v;
    }
    // BackwardCompatible (G) is empty.
    let gc = CodePointMapData::<GeneralCategory>::new().get(c);
    let noncharacter = CodePointSetData::new::<NoncharacterCodePoint>().contains(c);
    if gc == Gc::Unassigned && !noncharacter {
        return Value::Refused(CodePointClass::Unassigned);
    }
    if (0x21..=0x7E).contains(&cp) {
        return Value::Valid; // ASCII7
    }
    if CodePointSetData::new::<JoinControl>().contains(c) {
        return Value::ContextJ;
    }
    let hst = CodePointMapData::<HangulSyllableType>::new().get(c);
    if matches!(hst, Hst::LeadingJamo | Hst::VowelJamo | Hst::TrailingJamo) {
        return Value::Refused(CodePointClass::OldHangulJamo);
    }
    if noncharacter {
        return Value::Refused(CodePointClass::Noncharacter);
    }
    if CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c) {
        return Value::Refused(if is_bidi_control(c) {
            CodePointClass::BidiControl
        } else {
            CodePointClass::Invisible
        });
    }
    if gc == Gc::Control {
        return Value::Refused(CodePointClass::Control);
    }
    if has_compat(c) {
        return Value::Refused(if gc == Gc::SpaceSeparator {
            CodePointClass::Space
        } else {
            CodePointClass::Compatibility
        });
    }
    Value::Refused(match gc {
        Gc::LowercaseLetter
        | Gc::UppercaseLetter
        | Gc::OtherLetter
        | Gc::DecimalNumber
        | Gc::ModifierLetter
        | Gc::NonspacingMark
        | Gc::SpacingMark => return Value::Valid,
        Gc::TitlecaseLetter | Gc::LetterNumber | Gc::OtherNumber | Gc::EnclosingMark => {
            CodePointClass::OtherLetterDigit
        }
        Gc::SpaceSeparator | Gc::LineSeparator | Gc::ParagraphSeparator => CodePointClass::Space,
        Gc::MathSymbol | Gc::CurrencySymbol | Gc::ModifierSymbol | Gc::OtherSymbol => {
            CodePointClass::Symbol
        }
        Gc::ConnectorPunctuation
        | Gc::DashPunctuation
        | Gc::OpenPunctuation
        | Gc::ClosePunctuation
        | Gc::InitialPunctuation
        | Gc::FinalPunctuation
        | Gc::OtherPunctuation => CodePointClass::Punctuation,
        Gc::PrivateUse => CodePointClass::PrivateUse,
        Gc::Format if is_bidi_control(c) => CodePointClass::BidiControl,
        Gc::Format => CodePointClass::Format,
        // Control and Unassigned were decided above; surrogates are not `char`s.
        _ => CodePointClass::Control,
    })
}

/// RFC 8265 §3.4.1, the width mapping rule: a full-width or half-width form becomes its
/// ordinary form (`ｓ` → `s`, `ｶ` → `カ`). Only one-to-one mappings are applied, and never
/// to a space: `U+3000` IDEOGRAPHIC SPACE stays itself and is refused, so a name never gains
/// a separator it did not show.
fn width_map(c: char) -> char {
    let eaw = CodePointMapData::<EastAsianWidth>::new().get(c);
    if eaw != EastAsianWidth::Fullwidth && eaw != EastAsianWidth::Halfwidth {
        return c;
    }
    let mut buf = [0u8; 4];
    let decomposed = DecomposingNormalizerBorrowed::new_nfkd().normalize(c.encode_utf8(&mut buf));
    let mut chars = decomposed.chars();
    match (chars.next(), chars.next()) {
        (Some(d), None) if d != ' ' => d,
        _ => c,
    }
}

/// The character before `i` in `part`, if any.
fn before(part: &[char], i: usize) -> Option<char> {
    i.checked_sub(1).and_then(|j| part.get(j)).copied()
}

fn is_virama(c: Option<char>) -> bool {
    c.is_some_and(|c| {
        CodePointMapData::<CanonicalCombiningClass>::new().get(c) == CanonicalCombiningClass::Virama
    })
}

fn script(c: Option<char>) -> Option<Script> {
    c.map(|c| CodePointMapData::<Script>::new().get(c))
}

/// The contextual rules of RFC 5892 Appendix A for the code point at `i` of `part`.
fn context_allows(part: &[char], i: usize) -> bool {
    let Some(&c) = part.get(i) else {
        return false;
    };
    let after = part.get(i + 1).copied();
    match c {
        // A.1 ZERO WIDTH NON-JOINER: after a virama, or inside a joining context.
        '\u{200C}' => {
            is_virama(before(part, i))
                || (joins(part.get(..i).unwrap_or_default().iter().rev(), true)
                    && joins(part.get(i + 1..).unwrap_or_default().iter(), false))
        }
        // A.2 ZERO WIDTH JOINER: after a virama.
        '\u{200D}' => is_virama(before(part, i)),
        // A.3 MIDDLE DOT: between two `l` (Catalan `l·l`).
        '\u{00B7}' => before(part, i) == Some('l') && after == Some('l'),
        // A.4 GREEK LOWER NUMERAL SIGN: followed by Greek.
        '\u{0375}' => script(after) == Some(Script::Greek),
        // A.5, A.6 HEBREW GERESH and GERSHAYIM: after Hebrew.
        '\u{05F3}' | '\u{05F4}' => script(before(part, i)) == Some(Script::Hebrew),
        // A.7 KATAKANA MIDDLE DOT: in a part with Hiragana, Katakana or Han.
        '\u{30FB}' => part.iter().any(|&x| {
            matches!(
                script(Some(x)),
                Some(Script::Hiragana | Script::Katakana | Script::Han)
            )
        }),
        // A.8, A.9 ARABIC-INDIC and EXTENDED ARABIC-INDIC digits: not mixed.
        '\u{0660}'..='\u{0669}' => !part.iter().any(|x| matches!(x, '\u{06F0}'..='\u{06F9}')),
        '\u{06F0}'..='\u{06F9}' => !part.iter().any(|x| matches!(x, '\u{0660}'..='\u{0669}')),
        _ => false,
    }
}

/// The joining context of A.1 on one side of a ZWNJ: transparent characters skipped, then
/// a left-joining or dual-joining character before it (`left`), a right-joining or
/// dual-joining one after it.
fn joins<'a>(mut side: impl Iterator<Item = &'a char>, left: bool) -> bool {
    let jt = CodePointMapData::<JoiningType>::new();
    side.find(|&&c| jt.get(c) != JoiningType::Transparent)
        .is_some_and(|&c| {
            let t = jt.get(c);
            t == JoiningType::DualJoining
                || (left && t == JoiningType::LeftJoining)
                || (!left && t == JoiningType::RightJoining)
        })
}

/// The bidi rule of RFC 5893 §2 for one part; `Err` holds the code point that breaks it.
fn bidi_rule(part: &[char]) -> core::result::Result<(), char> {
    use BidiClass as B;
    let bc = CodePointMapData::<BidiClass>::new();
    let Some(&first) = part.first() else {
        return Ok(());
    };
    let class = |c: char| bc.get(c);
    // 1. The first character is L, R or AL.
    let rtl = match class(first) {
        B::LeftToRight => false,
        B::RightToLeft | B::ArabicLetter => true,
        _ => return Err(first),
    };
    let (mut en, mut an) = (None, None);
    for &c in part {
        let k = class(c);
        let allowed = if rtl {
            // 2. Only R, AL, AN, EN, ES, CS, ET, ON, BN and NSM.
            matches!(
                k,
                B::RightToLeft
                    | B::ArabicLetter
                    | B::ArabicNumber
                    | B::EuropeanNumber
                    | B::EuropeanSeparator
                    | B::CommonSeparator
                    | B::EuropeanTerminator
                    | B::OtherNeutral
                    | B::BoundaryNeutral
                    | B::NonspacingMark
            )
        } else {
            // 5. Only L, EN, ES, CS, ET, ON, BN and NSM.
            matches!(
                k,
                B::LeftToRight
                    | B::EuropeanNumber
                    | B::EuropeanSeparator
                    | B::CommonSeparator
                    | B::EuropeanTerminator
                    | B::OtherNeutral
                    | B::BoundaryNeutral
                    | B::NonspacingMark
            )
        };
        if !allowed {
            return Err(c);
        }
        if k == B::EuropeanNumber {
            en.get_or_insert(c);
        }
        if k == B::ArabicNumber {
            an.get_or_insert(c);
        }
    }
    // 4. In a right-to-left part, not both EN and AN.
    if let (true, Some(_), Some(a)) = (rtl, en, an) {
        return Err(a);
    }
    // 3. and 6. The end, before any trailing NSM: R, AL, EN or AN; L or EN.
    let Some(&last) = part.iter().rev().find(|&&c| class(c) != B::NonspacingMark) else {
        return Err(first);
    };
    let end_ok = match class(last) {
        B::EuropeanNumber => true,
        B::RightToLeft | B::ArabicLetter | B::ArabicNumber => rtl,
        B::LeftToRight => !rtl,
        _ => false,
    };
    if end_ok { Ok(()) } else { Err(last) }
}

fn refuse(c: char, class: CodePointClass) -> Error {
    Error::DisallowedCodePoint {
        code_point: c,
        class,
    }
}

/// Checks a non-ASCII name against RFC 8265's `UsernameCasePreserved` profile (see the
/// module docs). The name itself is not changed; the checks run on its width-mapped NFC
/// form, as the profile's enforcement would produce it.
pub(super) fn check_username(user: &str) -> Result<()> {
    let mapped: String = user.chars().map(width_map).collect();
    let nfc: alloc::vec::Vec<char> = ComposingNormalizerBorrowed::new_nfc()
        .normalize(&mapped)
        .chars()
        .collect();
    let bc = CodePointMapData::<BidiClass>::new();
    let bidi_name = nfc.iter().any(|&c| {
        matches!(
            bc.get(c),
            BidiClass::RightToLeft | BidiClass::ArabicLetter | BidiClass::ArabicNumber
        )
    });
    let mut parts = nfc.split(|&c| c == ' ').peekable();
    let mut first = true;
    while let Some(part) = parts.next() {
        if part.is_empty() {
            return Err(Error::InvalidUserName(if first || parts.peek().is_none() {
                "starts or ends with a space"
            } else {
                "two spaces in a row"
            }));
        }
        first = false;
        for (i, &c) in part.iter().enumerate() {
            match derived(c) {
                Value::Valid => {}
                Value::ContextJ | Value::ContextO if context_allows(part, i) => {}
                Value::ContextJ | Value::ContextO => {
                    return Err(refuse(c, CodePointClass::Context));
                }
                Value::Refused(class) => return Err(refuse(c, class)),
            }
        }
        if bidi_name {
            bidi_rule(part).map_err(|c| refuse(c, CodePointClass::Bidi))?;
        }
    }
    Ok(())
}

/// Checks an ASCII name: every printable ASCII character is `PVALID`; spaces only single,
/// between parts.
pub(super) fn check_ascii_username(user: &str) -> Result<()> {
    if user.starts_with(' ') || user.ends_with(' ') {
        return Err(Error::InvalidUserName("starts or ends with a space"));
    }
    if user.contains("  ") {
        return Err(Error::InvalidUserName("two spaces in a row"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn arabic_with_vowel_marks() {
        // عَلِي: ARABIC LETTER AIN, FATHA, LAM, KASRA, YEH (marks inside a right-to-left part).
        assert_eq!(
            check_username("\u{0639}\u{064E}\u{0644}\u{0650}\u{064A}"),
            Ok(())
        );
        // A left-to-right letter in a right-to-left part breaks rule 2.
        assert_eq!(
            check_username("\u{0639}a"),
            Err(refuse('a', CodePointClass::Bidi))
        );
    }

    #[test]
    fn derived_values_of_the_rfc_examples() {
        assert_eq!(derived('a'), Value::Valid);
        assert_eq!(derived('\u{00DF}'), Value::Valid); // ß: exception
        assert_eq!(derived('\u{200D}'), Value::ContextJ);
        assert_eq!(derived('\u{00B7}'), Value::ContextO);
        assert_eq!(derived('\u{2800}'), Value::Refused(CodePointClass::Symbol));
        assert_eq!(
            derived('\u{017F}'),
            Value::Refused(CodePointClass::Compatibility)
        );
        assert_eq!(derived('\u{0600}'), Value::Refused(CodePointClass::Format));
        assert_eq!(
            derived('\u{E000}'),
            Value::Refused(CodePointClass::PrivateUse)
        );
        assert_eq!(
            derived('\u{1100}'),
            Value::Refused(CodePointClass::OldHangulJamo)
        );
        assert_eq!(
            derived('\u{0640}'),
            Value::Refused(CodePointClass::Exception)
        );
        assert_eq!(derived('\u{00A0}'), Value::Refused(CodePointClass::Space));
        assert_eq!(
            derived('\u{202E}'),
            Value::Refused(CodePointClass::BidiControl)
        );
        assert_eq!(
            derived('\u{FFFE}'),
            Value::Refused(CodePointClass::Noncharacter)
        );
        assert_eq!(width_map('\u{FF53}'), 's');
        assert_eq!(width_map('\u{FF76}'), '\u{30AB}');
        assert_eq!(width_map('\u{3000}'), '\u{3000}');
    }
}

/// The derived property values against an independent implementation: the `precis-core`
/// crate, whose tables are generated from the Unicode 6.3 data files (the version the
/// IANA PRECIS registry lists). Every code point Unicode 6.3 assigned gets the same value,
/// except where Unicode itself changed the code point's properties since.
#[cfg(test)]
mod differential {
    use super::*;
    use precis_core::stringclasses::StringClass;
    use precis_core::{DerivedPropertyValue as D, IdentifierClass};

    #[test]
    fn identifier_class_agrees_with_precis_core_on_unicode_6_3() {
        let theirs = IdentifierClass::default();
        let mut compared = 0;
        let mut differ = alloc::vec::Vec::new();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let their = theirs.get_value_from_char(c);
            if their == D::Unassigned {
                continue;
            }
            compared += 1;
            let same = matches!(
                (derived(c), their),
                (Value::Valid, D::PValid | D::SpecClassPval)
                    | (Value::ContextJ, D::ContextJ)
                    | (Value::ContextO, D::ContextO)
                    | (Value::Refused(_), D::Disallowed | D::SpecClassDis)
            );
            if !same {
                differ.push((c, derived(c), their));
            }
        }
        assert!(compared > 240_000, "{compared}");
        assert!(
            differ.is_empty(),
            "{} differ: {:?}",
            differ.len(),
            differ.get(..20)
        );
    }

    /// Characters of every rule: letters of several scripts, marks, the joiners and a
    /// virama, the contextual exceptions, right-to-left letters and digits, symbols,
    /// compatibility and full-width forms, a no-break space.
    const POOL: &[char] = &[
        'a', 'b', 'l', 'I', 'i', '1', '.', '-', '_', '@', '\\', '\'', '\u{00E9}', '\u{0301}',
        '\u{0307}', '\u{0131}', '\u{00DF}', '\u{017F}', '\u{03B1}', '\u{0375}', '\u{05D0}',
        '\u{05F3}', '\u{0639}', '\u{0644}', '\u{06CC}', '\u{0627}', '\u{0628}', '\u{0661}',
        '\u{06F1}', '\u{0640}', '\u{064B}', '\u{200C}', '\u{200D}', '\u{0915}', '\u{094D}',
        '\u{0DC1}', '\u{0DCA}', '\u{30AB}', '\u{30FB}', '\u{3042}', '\u{5C71}', '\u{00B7}',
        '\u{2800}', '\u{0600}', '\u{00A9}', '\u{FF53}', '\u{00A0}', '\u{AC00}', '\u{1100}',
        '\u{1161}', '\u{0384}', '\u{E000}', '\u{00AD}', '\u{2019}', '\u{01C5}',
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// One part (no space), in NFC: our check and precis-profiles'
        /// `UsernameCasePreserved::enforce` accept and refuse the same strings.
        ///
        /// Except one known divergence: in a name with a right-to-left character,
        /// precis-profiles 0.2 refuses any character after a nonspacing mark, which RFC 5893
        /// does not (rule 2 allows NSM anywhere; rule 3 only says what ends the label), so
        /// Arabic with vowel marks (`عَلِي`) would be refused; those strings are skipped here
        /// and tested on their own (`arabic_with_vowel_marks`).
        #[test]
        fn username_profile_agrees_with_precis_profiles(
            picks in proptest::collection::vec(0..POOL.len(), 1..7)
        ) {
            use precis_profiles::precis_core::profile::Profile as _;
            let raw: String = picks.iter().filter_map(|&i| POOL.get(i)).collect();
            let name: String = ComposingNormalizerBorrowed::new_nfc().normalize(&raw).into_owned();
            let bc = CodePointMapData::<BidiClass>::new();
            let rtl = name.chars().any(|c| matches!(bc.get(c), BidiClass::RightToLeft | BidiClass::ArabicLetter | BidiClass::ArabicNumber));
            let chars: alloc::vec::Vec<char> = name.chars().collect();
            let mark_inside = chars.windows(2).any(|w| matches!(w, [m, n] if bc.get(*m) == BidiClass::NonspacingMark && bc.get(*n) != BidiClass::NonspacingMark));
            proptest::prop_assume!(!(rtl && mark_inside));
            let ours = check_username(&name).is_ok();
            let theirs = precis_profiles::UsernameCasePreserved::default().enforce(name.as_str()).is_ok();
            proptest::prop_assert_eq!(ours, theirs, "{:?} ({:?})", name, check_username(&name));
        }
    }
}
