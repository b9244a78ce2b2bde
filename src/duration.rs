//! ISO 8601 durations in the forms FotoWeb's API uses (`PT60S`, `P5D`, `P1DT2H30M`).
//!
//! Accepted: `PnW` alone, or `P[nD][T[nH][nM][n[.f]S]]` with at least one component,
//! components in that order, each once, `n` decimal digits, a fraction (up to 9 digits,
//! `.` as the separator) on seconds only. Refused, with a clear reason: years and months
//! (their length depends on the calendar), signs, zero, and values that overflow.

use alloc::string::String;
use core::fmt::Write as _;
use core::time::Duration;

use crate::error::{Error, Result};

/// Longest duration text accepted.
pub const MAX_DURATION_LEN: usize = 64;

/// Parses an ISO 8601 duration.
///
/// ```
/// use core::time::Duration;
/// assert_eq!(fwtoken::parse_duration("PT60S")?, Duration::from_secs(60));
/// assert_eq!(fwtoken::parse_duration("P1DT2H30M")?, Duration::from_secs(86400 + 9000));
/// assert_eq!(fwtoken::parse_duration("PT1.5S")?, Duration::from_millis(1500));
/// assert!(fwtoken::parse_duration("P1M").is_err()); // months have no fixed length
/// # Ok::<(), fwtoken::Error>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration> {
    if text.len() > MAX_DURATION_LEN {
        return Err(Error::TooLong {
            max: MAX_DURATION_LEN,
        });
    }
    let b = text.as_bytes();
    if b.first() == Some(&b'-') || b.first() == Some(&b'+') {
        return Err(Error::InvalidDuration("signed durations are not allowed"));
    }
    let rest = b
        .strip_prefix(b"P")
        .ok_or(Error::InvalidDuration("must start with 'P'"))?;
    let (date, time) = match rest.iter().position(|&c| c == b'T') {
        Some(i) => {
            let (d, t) = rest.split_at(i);
            (d, Some(t.get(1..).unwrap_or_default()))
        }
        None => (rest, None),
    };
    let mut secs: u64 = 0;
    let mut nanos: u32 = 0;
    let mut any = false;
    // Date part: nW alone, or nD.
    let mut d = date;
    let mut date_units: &[(u8, u64)] = &[(b'W', 7 * 86_400), (b'D', 86_400)];
    while !d.is_empty() {
        // Calendar units are refused by name, before their number is looked at (so a
        // fractional or overflowing count of years still gets this reason).
        let unit_ahead = d.iter().find(|c| !c.is_ascii_digit() && **c != b'.');
        if matches!(unit_ahead, Some(b'Y' | b'M')) {
            return Err(Error::InvalidDuration(
                "years and months have no fixed length",
            ));
        }
        let (n, frac, unit, rest) = component(d)?;
        if frac.is_some() {
            return Err(Error::InvalidDuration("only seconds may have a fraction"));
        }
        let pos = date_units
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or(Error::InvalidDuration("unknown or misplaced unit"))?;
        let (_, mult) = date_units
            .get(pos)
            .copied()
            .ok_or(Error::InvalidDuration("unknown unit"))?;
        if unit == b'W' && (!rest.is_empty() || time.is_some()) {
            return Err(Error::InvalidDuration(
                "weeks cannot be combined with other units",
            ));
        }
        secs = add_scaled(secs, n, mult)?;
        date_units = date_units.get(pos + 1..).unwrap_or_default();
        any = true;
        d = rest;
    }
    if let Some(mut t) = time {
        if t.is_empty() {
            return Err(Error::InvalidDuration(
                "'T' must be followed by a time component",
            ));
        }
        let mut time_units: &[(u8, u64)] = &[(b'H', 3600), (b'M', 60), (b'S', 1)];
        while !t.is_empty() {
            let (n, frac, unit, rest) = component(t)?;
            let pos = time_units
                .iter()
                .position(|(u, _)| *u == unit)
                .ok_or(Error::InvalidDuration("unknown or misplaced unit"))?;
            let (_, mult) = time_units
                .get(pos)
                .copied()
                .ok_or(Error::InvalidDuration("unknown unit"))?;
            if let Some(f) = frac {
                if unit != b'S' {
                    return Err(Error::InvalidDuration("only seconds may have a fraction"));
                }
                nanos = f;
            }
            secs = add_scaled(secs, n, mult)?;
            time_units = time_units.get(pos + 1..).unwrap_or_default();
            any = true;
            t = rest;
        }
    }
    if !any {
        return Err(Error::InvalidDuration("no components"));
    }
    if secs == 0 && nanos == 0 {
        return Err(Error::InvalidDuration("zero"));
    }
    Ok(Duration::new(secs, nanos))
}

fn add_scaled(acc: u64, n: u64, mult: u64) -> Result<u64> {
    n.checked_mul(mult)
        .and_then(|v| acc.checked_add(v))
        .ok_or(Error::InvalidDuration("overflow"))
}

/// One `n[.f]U` component: (integer, fraction as nanoseconds, unit, rest).
fn component(s: &[u8]) -> Result<(u64, Option<u32>, u8, &[u8])> {
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return Err(Error::InvalidDuration("expected a number"));
    }
    let (num, rest) = s.split_at(digits);
    let mut n: u64 = 0;
    for &c in num {
        n = n
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or(Error::InvalidDuration("overflow"))?;
    }
    let (frac, rest) = match rest.strip_prefix(b".") {
        Some(r) => {
            let fd = r.iter().take_while(|c| c.is_ascii_digit()).count();
            if fd == 0 || fd > 9 {
                return Err(Error::InvalidDuration("fraction must have 1 to 9 digits"));
            }
            let (f, r) = r.split_at(fd);
            let mut v: u32 = 0;
            for i in 0..9 {
                let d = f.get(i).map_or(0, |c| u32::from(c - b'0'));
                v = v * 10 + d;
            }
            (Some(v), r)
        }
        None => (None, rest),
    };
    let (&unit, rest) = rest
        .split_first()
        .ok_or(Error::InvalidDuration("missing unit"))?;
    Ok((n, frac, unit, rest))
}

/// Formats a duration the canonical way (`P1DT2H30M`, `PT1.5S`); `parse_duration`
/// gives the same value back. A zero duration formats as `PT0S`.
///
/// ```
/// use core::time::Duration;
/// assert_eq!(fwtoken::format_duration(Duration::from_secs(86400 + 9000)), "P1DT2H30M");
/// assert_eq!(fwtoken::format_duration(Duration::from_millis(1500)), "PT1.5S");
/// ```
pub fn format_duration(d: Duration) -> String {
    let mut out = String::with_capacity(24);
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (hours, rem) = (rem / 3600, rem % 3600);
    let (minutes, seconds) = (rem / 60, rem % 60);
    let nanos = d.subsec_nanos();
    out.push('P');
    if days > 0 {
        let _ = write!(out, "{days}D");
    }
    if hours > 0 || minutes > 0 || seconds > 0 || nanos > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            let _ = write!(out, "{hours}H");
        }
        if minutes > 0 {
            let _ = write!(out, "{minutes}M");
        }
        if seconds > 0 || nanos > 0 || (hours == 0 && minutes == 0) {
            let _ = write!(out, "{seconds}");
            if nanos > 0 {
                let frac = alloc::format!("{nanos:09}");
                let _ = write!(out, ".{}", frac.trim_end_matches('0'));
            }
            out.push('S');
        }
    }
    out
}
