//! Checked conversions between `OffsetDateTime` and the formats' integer and text times.

use core::time::Duration;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::error::{Error, Result};

/// The last second the text formats can write (9999-12-31 23:59:59 UTC).
pub(crate) const MAX_UNIX: u64 = 253_402_300_799;

/// `now` as Unix seconds; times before 1970 are refused.
pub(crate) fn unix(t: OffsetDateTime) -> Result<u64> {
    u64::try_from(t.unix_timestamp()).map_err(|_| Error::InvalidTime("before 1970-01-01"))
}

/// Unix seconds back to a UTC time; anything past year 9999 is refused.
pub(crate) fn from_unix(secs: u64) -> Result<OffsetDateTime> {
    if secs > MAX_UNIX {
        return Err(Error::InvalidTime("timestamp out of range"));
    }
    let secs = i64::try_from(secs).map_err(|_| Error::InvalidTime("timestamp out of range"))?;
    OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|_| Error::InvalidTime("timestamp out of range"))
}

/// `t + d`, checked.
pub(crate) fn add(t: OffsetDateTime, d: Duration) -> Result<OffsetDateTime> {
    let d = time::Duration::try_from(d).map_err(|_| Error::InvalidTime("duration out of range"))?;
    t.checked_add(d)
        .ok_or(Error::InvalidTime("time out of range"))
}

/// `t - d`, checked.
pub(crate) fn sub(t: OffsetDateTime, d: Duration) -> Result<OffsetDateTime> {
    let d = time::Duration::try_from(d).map_err(|_| Error::InvalidTime("duration out of range"))?;
    t.checked_sub(d)
        .ok_or(Error::InvalidTime("time out of range"))
}

/// Checks a validity window `[not_before - leeway, expires + leeway]` against `now`.
///
/// All arithmetic is on `u64` seconds and checked; a bound that overflows with the
/// leeway added simply stops binding (it is beyond any representable `now`).
pub(crate) fn check_window(
    now: u64,
    not_before: u64,
    expires: Option<u64>,
    leeway: u64,
) -> Result<()> {
    if let Some(exp) = expires {
        let last = exp.saturating_add(leeway);
        if now > last {
            return Err(Error::Expired {
                expired_at: from_unix(exp)?,
            });
        }
    }
    let first = not_before.saturating_sub(leeway);
    if now < first {
        return Err(Error::NotYetValid {
            not_before: from_unix(not_before)?,
        });
    }
    Ok(())
}

/// Writes `t` (converted to UTC) as `YYYY-MM-DD HH:MM:SS`.
pub(crate) fn write_fotoweb(
    out: &mut impl core::fmt::Write,
    t: OffsetDateTime,
) -> core::fmt::Result {
    let t = t.to_offset(UtcOffset::UTC);
    write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Writes `t` (converted to UTC) as RFC 3339 with second precision and `Z`.
pub(crate) fn write_rfc3339(
    out: &mut impl core::fmt::Write,
    t: OffsetDateTime,
) -> core::fmt::Result {
    let t = t.to_offset(UtcOffset::UTC);
    write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `t` as RFC 3339 UTC text with second precision (`2016-03-31T16:12:00Z`).
pub fn rfc3339(t: OffsetDateTime) -> alloc::string::String {
    let mut s = alloc::string::String::with_capacity(20);
    let _ = write_rfc3339(&mut s, t);
    s
}

fn digits<const N: usize>(s: &[u8]) -> Option<u32> {
    if s.len() != N {
        return None;
    }
    let mut v: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

/// Parses exactly `YYYY-MM-DD HH:MM:SS` (UTC); anything else is `None`.
pub(crate) fn parse_fotoweb(s: &[u8]) -> Option<OffsetDateTime> {
    parse_with_sep(s, b' ')
}

fn parse_with_sep(s: &[u8], sep: u8) -> Option<OffsetDateTime> {
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        t,
        h0,
        h1,
        b':',
        n0,
        n1,
        b':',
        s0,
        s1,
    ] = *s
    else {
        return None;
    };
    if t != sep {
        return None;
    }
    let year = digits::<4>(&[y0, y1, y2, y3])?;
    let month = Month::try_from(u8::try_from(digits::<2>(&[m0, m1])?).ok()?).ok()?;
    let day = u8::try_from(digits::<2>(&[d0, d1])?).ok()?;
    let hour = u8::try_from(digits::<2>(&[h0, h1])?).ok()?;
    let minute = u8::try_from(digits::<2>(&[n0, n1])?).ok()?;
    let second = u8::try_from(digits::<2>(&[s0, s1])?).ok()?;
    let date = Date::from_calendar_date(i32::try_from(year).ok()?, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Parses RFC 3339 UTC with second precision and `Z` (`2016-03-31T16:12:00Z`), strictly.
pub fn parse_rfc3339_utc(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes().strip_suffix(b"Z")?;
    parse_with_sep(b, b'T')
}

/// Formats into a fixed stack buffer (no allocation).
pub(crate) struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    pub(crate) const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl<const N: usize> core::fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(core::fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
