//! ISO 8601 durations: the table of accepted and refused forms, and formatting back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::time::Duration;

use fwtoken::{Error, MAX_DURATION_LEN, format_duration, parse_duration};
use proptest::prelude::*;

const DAY: u64 = 86_400;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Every form the issue names, their combinations, and fractional seconds.
const ACCEPTED: &[(&str, Duration)] = &[
    ("PT60S", Duration::from_secs(60)),
    ("PT1S", Duration::from_secs(1)),
    ("PT1M", Duration::from_secs(60)),
    ("PT1H", Duration::from_secs(3600)),
    ("PT36H", Duration::from_secs(36 * 3600)),
    ("P5D", Duration::from_secs(5 * DAY)),
    ("P1W", Duration::from_secs(7 * DAY)),
    ("P52W", Duration::from_secs(52 * 7 * DAY)),
    // 'M' after 'T' is minutes, not months.
    ("P1DT1H1M", Duration::from_secs(DAY + 3600 + 60)),
    ("P1DT2H30M", Duration::from_secs(DAY + 2 * 3600 + 30 * 60)),
    (
        "P1DT2H30M15S",
        Duration::from_secs(DAY + 2 * 3600 + 30 * 60 + 15),
    ),
    ("P2DT12H", Duration::from_secs(2 * DAY + 12 * 3600)),
    ("P1DT1S", Duration::from_secs(DAY + 1)),
    ("PT1H1S", Duration::from_secs(3601)),
    ("PT2M30S", Duration::from_secs(150)),
    ("PT90M", Duration::from_secs(90 * 60)),
    ("PT0H0M1S", Duration::from_secs(1)),
    ("P0DT1H", Duration::from_secs(3600)),
    ("PT1.5S", Duration::from_millis(1500)),
    ("PT0.5S", Duration::from_millis(500)),
    ("PT0.000000001S", Duration::from_nanos(1)),
    ("PT1.123456789S", Duration::new(1, 123_456_789)),
    ("PT1M0.25S", Duration::from_millis(60_250)),
    ("P1DT0.1S", Duration::new(DAY, 100_000_000)),
    ("PT007S", Duration::from_secs(7)),
    ("PT18446744073709551615S", Duration::from_secs(u64::MAX)),
    ("P213503982334601DT7H15S", Duration::from_secs(u64::MAX)),
    (
        "PT18446744073709551615.999999999S",
        Duration::new(u64::MAX, 999_999_999),
    ),
];

/// Refused forms, each with the error it must give.
const REFUSED: &[(&str, Error)] = &[
    // Calendar units: their length depends on the calendar.
    (
        "P1Y",
        Error::InvalidDuration("years and months have no fixed length"),
    ),
    (
        "P1M",
        Error::InvalidDuration("years and months have no fixed length"),
    ),
    (
        "P1Y2M",
        Error::InvalidDuration("years and months have no fixed length"),
    ),
    (
        "P1D1M",
        Error::InvalidDuration("years and months have no fixed length"),
    ),
    (
        "P1.5Y",
        Error::InvalidDuration("years and months have no fixed length"),
    ),
    (
        "P0Y",
        Error::InvalidDuration("years and months have no fixed length"),
    ),
    // Zero in every spelling.
    ("PT0S", Error::InvalidDuration("zero")),
    ("P0D", Error::InvalidDuration("zero")),
    ("P0W", Error::InvalidDuration("zero")),
    ("PT0H0M0S", Error::InvalidDuration("zero")),
    ("PT0.000000000S", Error::InvalidDuration("zero")),
    // Signs.
    (
        "-PT1S",
        Error::InvalidDuration("signed durations are not allowed"),
    ),
    (
        "+PT1S",
        Error::InvalidDuration("signed durations are not allowed"),
    ),
    ("PT-1S", Error::InvalidDuration("expected a number")),
    ("P-1D", Error::InvalidDuration("expected a number")),
    // Overflow.
    (
        "PT18446744073709551616S",
        Error::InvalidDuration("overflow"),
    ),
    ("P30000000000000000D", Error::InvalidDuration("overflow")),
    ("P3000000000000000W", Error::InvalidDuration("overflow")),
    ("PT5124095576030432H", Error::InvalidDuration("overflow")),
    ("P213503982334601DT8H", Error::InvalidDuration("overflow")),
    (
        "P213503982334601DT7H16S",
        Error::InvalidDuration("overflow"),
    ),
    // Shape.
    ("", Error::InvalidDuration("must start with 'P'")),
    ("60", Error::InvalidDuration("must start with 'P'")),
    ("T1S", Error::InvalidDuration("must start with 'P'")),
    ("pt1s", Error::InvalidDuration("must start with 'P'")),
    (" PT1S", Error::InvalidDuration("must start with 'P'")),
    ("P", Error::InvalidDuration("no components")),
    (
        "PT",
        Error::InvalidDuration("'T' must be followed by a time component"),
    ),
    (
        "P1DT",
        Error::InvalidDuration("'T' must be followed by a time component"),
    ),
    ("PT1s", Error::InvalidDuration("unknown or misplaced unit")),
    ("PT1S ", Error::InvalidDuration("expected a number")),
    ("PT1", Error::InvalidDuration("missing unit")),
    ("P1", Error::InvalidDuration("missing unit")),
    ("PTS", Error::InvalidDuration("expected a number")),
    ("PT.5S", Error::InvalidDuration("expected a number")),
    ("PT1HT1M", Error::InvalidDuration("expected a number")),
    // Units in the wrong part, the wrong order, or twice.
    ("P1H", Error::InvalidDuration("unknown or misplaced unit")),
    ("P1S", Error::InvalidDuration("unknown or misplaced unit")),
    ("PT1D", Error::InvalidDuration("unknown or misplaced unit")),
    ("PT1W", Error::InvalidDuration("unknown or misplaced unit")),
    ("PT1Y", Error::InvalidDuration("unknown or misplaced unit")),
    (
        "PT1S1M",
        Error::InvalidDuration("unknown or misplaced unit"),
    ),
    (
        "PT1M1H",
        Error::InvalidDuration("unknown or misplaced unit"),
    ),
    (
        "PT1H1H",
        Error::InvalidDuration("unknown or misplaced unit"),
    ),
    ("P1D1D", Error::InvalidDuration("unknown or misplaced unit")),
    ("P1D1W", Error::InvalidDuration("unknown or misplaced unit")),
    (
        "PT1S1S",
        Error::InvalidDuration("unknown or misplaced unit"),
    ),
    // Weeks stand alone.
    (
        "P1W1D",
        Error::InvalidDuration("weeks cannot be combined with other units"),
    ),
    (
        "P1WT1H",
        Error::InvalidDuration("weeks cannot be combined with other units"),
    ),
    // Fractions: seconds only, '.' only, 1 to 9 digits.
    (
        "PT1.5M",
        Error::InvalidDuration("only seconds may have a fraction"),
    ),
    (
        "PT1.5H",
        Error::InvalidDuration("only seconds may have a fraction"),
    ),
    (
        "P1.5D",
        Error::InvalidDuration("only seconds may have a fraction"),
    ),
    (
        "P1.5W",
        Error::InvalidDuration("only seconds may have a fraction"),
    ),
    (
        "PT1,5S",
        Error::InvalidDuration("unknown or misplaced unit"),
    ),
    (
        "PT1.S",
        Error::InvalidDuration("fraction must have 1 to 9 digits"),
    ),
    (
        "PT1.1234567891S",
        Error::InvalidDuration("fraction must have 1 to 9 digits"),
    ),
    // Non-ASCII never panics.
    (
        "PT1\u{0405}",
        Error::InvalidDuration("unknown or misplaced unit"),
    ),
    ("P\u{0661}D", Error::InvalidDuration("expected a number")),
];

#[test]
fn accepted_forms() {
    for (text, want) in ACCEPTED {
        assert_eq!(parse_duration(text).as_ref(), Ok(want), "{text}");
    }
}

#[test]
fn refused_forms() {
    for (text, want) in REFUSED {
        assert_eq!(parse_duration(text).as_ref(), Err(want), "{text}");
    }
}

#[test]
fn length_cap_comes_first() {
    let long = format!("PT{}S", "1".repeat(MAX_DURATION_LEN));
    assert_eq!(
        parse_duration(&long),
        Err(Error::TooLong {
            max: MAX_DURATION_LEN
        })
    );
    let at_cap = format!("PT{}S", "0".repeat(MAX_DURATION_LEN - 4) + "1");
    assert_eq!(at_cap.len(), MAX_DURATION_LEN);
    assert_eq!(parse_duration(&at_cap), Ok(secs(1)));
}

#[test]
fn refusals_name_the_reason() {
    let e = parse_duration("P1M").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid duration: years and months have no fixed length"
    );
    assert_eq!(
        parse_duration("PT0S").unwrap_err().to_string(),
        "invalid duration: zero"
    );
}

#[test]
fn formats_canonically() {
    let table: &[(Duration, &str)] = &[
        (secs(60), "PT1M"),
        (secs(1), "PT1S"),
        (secs(3600), "PT1H"),
        (secs(5 * DAY), "P5D"),
        (secs(7 * DAY), "P7D"),
        (secs(DAY + 2 * 3600 + 30 * 60), "P1DT2H30M"),
        (secs(DAY + 1), "P1DT1S"),
        (secs(3601), "PT1H1S"),
        (Duration::from_millis(1500), "PT1.5S"),
        (Duration::from_nanos(1), "PT0.000000001S"),
        (Duration::new(DAY, 100_000_000), "P1DT0.1S"),
        (Duration::ZERO, "PT0S"),
    ];
    for (d, want) in table {
        assert_eq!(format_duration(*d), *want, "{d:?}");
    }
}

#[test]
fn accepted_forms_format_and_parse_back() {
    for (text, d) in ACCEPTED {
        let canonical = format_duration(*d);
        assert_eq!(
            parse_duration(&canonical).as_ref(),
            Ok(d),
            "{text} -> {canonical}"
        );
    }
}

proptest! {
    #[test]
    fn format_then_parse_is_identity(s in 0u64..=u64::MAX, n in 0u32..1_000_000_000) {
        let d = Duration::new(s, n);
        prop_assume!(!d.is_zero());
        prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,70}") {
        let _ = parse_duration(&text);
    }

    #[test]
    fn duration_alphabet_never_panics(text in "[PTWDHMSY0-9.,+-]{0,40}") {
        if let Ok(d) = parse_duration(&text) {
            prop_assert!(!d.is_zero());
        }
    }
}
