//! `date`, `time`, `timetz` and `interval`, in PostgreSQL's binary units
//! (days and microseconds since 2000-01-01, seconds west of UTC), plus the
//! ISO text renderings PostgreSQL prints with `DateStyle = ISO`.

use std::fmt::{self, Write as _};

use super::timestamp::{
    civil_from_days, days_from_civil, days_in_month, MICROS_PER_DAY, PG_EPOCH_DAYS_FROM_UNIX,
};
use super::Timestamp;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// A `date`: days since 2000-01-01, or ±infinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Date {
    NegInfinity,
    Days(i32),
    Infinity,
}

impl Date {
    pub fn from_days(days: i32) -> Date {
        match days {
            i32::MAX => Date::Infinity,
            i32::MIN => Date::NegInfinity,
            d => Date::Days(d),
        }
    }

    pub fn to_days(self) -> i32 {
        match self {
            Date::Infinity => i32::MAX,
            Date::NegInfinity => i32::MIN,
            Date::Days(d) => d,
        }
    }

    /// Parses `YYYY-MM-DD` (the year may be longer or negative, astronomical
    /// numbering: year 0 is 1 BC), optionally followed by ` BC`, or `infinity`.
    pub fn parse(text: &str) -> Result<Date, String> {
        match text {
            "infinity" | "+infinity" => return Ok(Date::Infinity),
            "-infinity" => return Ok(Date::NegInfinity),
            _ => {}
        }
        let err = || format!("{text:?} is not a date (YYYY-MM-DD)");
        let (body, bc) = match text.strip_suffix(" BC") {
            Some(body) => (body, true),
            None => (text, false),
        };
        let (year, month, day) = parse_ymd(body).ok_or_else(err)?;
        let year = if bc {
            if year < 1 {
                return Err(err());
            }
            1 - year
        } else {
            year
        };
        let days = days_from_civil(year, month, day) - PG_EPOCH_DAYS_FROM_UNIX;
        i32::try_from(days)
            .ok()
            .filter(|d| *d != i32::MAX && *d != i32::MIN)
            .map(Date::Days)
            .ok_or_else(err)
    }
}

fn parse_ymd(text: &str) -> Option<(i64, i64, i64)> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut parts = unsigned.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, min: usize, max: usize| {
        (s.len() >= min && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    let year = digits(y, 4, 7)?;
    let (month, day) = (digits(m, 2, 2)?, digits(d, 2, 2)?);
    let year = if negative { -year } else { year };
    ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month))
        .then_some((year, month, day))
}

/// Parses `HH:MM:SS[.ffffff]` into microseconds; `24:00:00` is allowed, as
/// in PostgreSQL.
fn parse_time_of_day(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let num = |s: &str| {
        (s.len() == 2 && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    let (h, m, s) = (
        num(text.get(0..2)?)?,
        num(text.get(3..5)?)?,
        num(text.get(6..8)?)?,
    );
    let mut micros = 0;
    if b.len() > 8 {
        let frac = text.get(8..)?.strip_prefix('.')?;
        if frac.is_empty() || frac.len() > 6 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        micros = frac.parse::<i64>().ok()? * 10i64.pow(6 - frac.len() as u32);
    }
    if m > 59 || s > 59 || h > 24 {
        return None;
    }
    let total = (h * 3600 + m * 60 + s) * MICROS_PER_SECOND + micros;
    (total <= MICROS_PER_DAY).then_some(total)
}

/// Parses a timestamp without a time zone, `YYYY-MM-DD[T| ]HH:MM:SS[.f]`.
pub(crate) fn parse_local_timestamp(text: &str) -> Result<Timestamp, String> {
    match text {
        "infinity" | "+infinity" => return Ok(Timestamp::Infinity),
        "-infinity" => return Ok(Timestamp::NegInfinity),
        _ => {}
    }
    let err = || format!("{text:?} is not a timestamp (YYYY-MM-DD HH:MM:SS)");
    let split = text.rfind(['T', ' ']).ok_or_else(err)?;
    let (date, time) = (&text[..split], &text[split + 1..]);
    let Date::Days(days) = Date::parse(date)? else {
        return Err(err());
    };
    let micros = parse_time_of_day(time)
        .filter(|m| *m < MICROS_PER_DAY)
        .ok_or_else(err)?;
    i64::from(days)
        .checked_mul(MICROS_PER_DAY)
        .and_then(|d| d.checked_add(micros))
        .map(Timestamp::Micros)
        .ok_or_else(err)
}

/// A `time`: microseconds since midnight (0 to 24:00:00 inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time {
    pub micros: i64,
}

impl Time {
    pub fn parse(text: &str) -> Result<Time, String> {
        parse_time_of_day(text)
            .map(|micros| Time { micros })
            .ok_or_else(|| format!("{text:?} is not a time (HH:MM:SS[.ffffff])"))
    }
}

/// A `timetz`: a time of day and a fixed UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timetz {
    pub micros: i64,
    /// Seconds *west* of UTC, as PostgreSQL stores it: `+02:00` is -7200.
    pub offset_west: i32,
}

impl Timetz {
    /// Parses `HH:MM:SS[.f]±HH[:MM[:SS]]`.
    pub fn parse(text: &str) -> Result<Timetz, String> {
        let err = || format!("{text:?} is not a time with an offset (HH:MM:SS±HH:MM)");
        let sign_at = text.rfind(['+', '-']).ok_or_else(err)?;
        let micros = parse_time_of_day(&text[..sign_at]).ok_or_else(err)?;
        let mut seconds = 0i32;
        let mut units = 3600;
        for part in text[sign_at + 1..].split(':') {
            if part.len() != 2 || !part.bytes().all(|c| c.is_ascii_digit()) || units == 0 {
                return Err(err());
            }
            seconds += part.parse::<i32>().map_err(|_| err())? * units;
            units /= 60;
        }
        if seconds > 15 * 3600 + 59 * 60 + 59 {
            return Err(err());
        }
        let east = if text.as_bytes()[sign_at] == b'-' {
            -seconds
        } else {
            seconds
        };
        Ok(Timetz {
            micros,
            offset_west: -east,
        })
    }
}

/// An `interval`, kept in PostgreSQL's three independent fields: months and
/// days are not converted to time, since their length depends on the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Interval {
    /// Parses an ISO 8601 duration (`P1Y2M3DT4H5M6.5S`, `-P1D`, `PT-5M`);
    /// each number may carry its own sign, as PostgreSQL allows.
    pub fn parse(text: &str) -> Result<Interval, String> {
        let err = || format!("{text:?} is not an ISO 8601 duration (P1Y2M3DT4H5M6S)");
        let (negate, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let body = body.strip_prefix('P').ok_or_else(err)?;
        if body.is_empty() {
            return Err(err());
        }
        let (mut months, mut days, mut micros) = (0i64, 0i64, 0i64);
        let mut in_time = false;
        let mut number = String::new();
        for c in body.chars() {
            match c {
                'T' if !in_time && number.is_empty() => in_time = true,
                '0'..='9' | '-' | '+' | '.' => number.push(c),
                unit => {
                    let value = std::mem::take(&mut number);
                    let whole = || value.parse::<i64>().map_err(|_| err());
                    match (in_time, unit) {
                        (false, 'Y') => months += whole()? * 12,
                        (false, 'M') => months += whole()?,
                        (false, 'W') => days += whole()? * 7,
                        (false, 'D') => days += whole()?,
                        (true, 'H') => micros += whole()? * MICROS_PER_HOUR,
                        (true, 'M') => micros += whole()? * 60 * MICROS_PER_SECOND,
                        (true, 'S') => micros += parse_seconds(&value).ok_or_else(err)?,
                        _ => return Err(err()),
                    }
                }
            }
        }
        if !number.is_empty() {
            return Err(err());
        }
        let sign = if negate { -1 } else { 1 };
        Ok(Interval {
            months: i32::try_from(months * sign).map_err(|_| err())?,
            days: i32::try_from(days * sign).map_err(|_| err())?,
            micros: micros * sign,
        })
    }
}

fn parse_seconds(text: &str) -> Option<i64> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if whole.is_empty()
        || frac.len() > 6
        || !(whole.bytes().chain(frac.bytes())).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let mut micros = whole.parse::<i64>().ok()?.checked_mul(MICROS_PER_SECOND)?;
    if !frac.is_empty() {
        micros += frac.parse::<i64>().ok()? * 10i64.pow(6 - frac.len() as u32);
    }
    Some(if negative { -micros } else { micros })
}

/// `HH:MM:SS[.ffffff]` with trailing fractional zeros removed, as PostgreSQL prints.
pub(crate) fn write_time_of_day(out: &mut String, micros: i64) {
    let secs = micros / MICROS_PER_SECOND;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    write_fraction(out, micros % MICROS_PER_SECOND);
}

fn write_fraction(out: &mut String, frac: i64) {
    if frac != 0 {
        let digits = format!("{:06}", frac.abs());
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// `YYYY-MM-DD`, with ` BC` appended by the caller for years before 1.
fn write_ymd(out: &mut String, days_since_2000: i64) -> bool {
    let (year, month, day) = civil_from_days(days_since_2000 + PG_EPOCH_DAYS_FROM_UNIX);
    let (shown, bc) = if year <= 0 {
        (1 - year, true)
    } else {
        (year, false)
    };
    let _ = write!(out, "{shown:04}-{month:02}-{day:02}");
    bc
}

pub(crate) fn date_text(date: Date) -> String {
    match date {
        Date::Infinity => "infinity".into(),
        Date::NegInfinity => "-infinity".into(),
        Date::Days(days) => {
            let mut out = String::with_capacity(13);
            if write_ymd(&mut out, i64::from(days)) {
                out.push_str(" BC");
            }
            out
        }
    }
}

/// `timestamp` (`zone = None`) or `timestamptz` in UTC (`+00`), as
/// PostgreSQL prints with `DateStyle = ISO` and `TimeZone = UTC`.
pub(crate) fn timestamp_text(ts: Timestamp, utc_suffix: bool) -> String {
    let micros = match ts {
        Timestamp::Infinity => return "infinity".into(),
        Timestamp::NegInfinity => return "-infinity".into(),
        Timestamp::Micros(m) => m,
    };
    let mut out = String::with_capacity(32);
    let bc = write_ymd(&mut out, micros.div_euclid(MICROS_PER_DAY));
    out.push(' ');
    write_time_of_day(&mut out, micros.rem_euclid(MICROS_PER_DAY));
    if utc_suffix {
        out.push_str("+00");
    }
    if bc {
        out.push_str(" BC");
    }
    out
}

pub(crate) fn timetz_text(t: Timetz) -> String {
    let mut out = String::with_capacity(24);
    write_time_of_day(&mut out, t.micros);
    let east = -i64::from(t.offset_west);
    out.push(if east < 0 { '-' } else { '+' });
    let abs = east.abs();
    let _ = write!(out, "{:02}", abs / 3600);
    if abs % 3600 != 0 {
        let _ = write!(out, ":{:02}", abs / 60 % 60);
        if abs % 60 != 0 {
            let _ = write!(out, ":{:02}", abs % 60);
        }
    }
    out
}

/// PostgreSQL's `IntervalStyle = postgres` rendering (`1 year 2 mons -3 days +04:05:06`).
pub(crate) fn interval_text(iv: Interval) -> String {
    let mut out = String::new();
    let mut is_zero = true;
    let mut is_before = false;
    let years = iv.months / 12;
    let months = iv.months % 12;
    for (value, unit) in [
        (i64::from(years), "year"),
        (i64::from(months), "mon"),
        (i64::from(iv.days), "day"),
    ] {
        if value == 0 {
            continue;
        }
        let _ = write!(
            out,
            "{}{}{value} {unit}{}",
            if is_zero { "" } else { " " },
            if is_before && value > 0 { "+" } else { "" },
            if value != 1 { "s" } else { "" }
        );
        is_before = value < 0;
        is_zero = false;
    }
    let time = iv.micros;
    if is_zero || time != 0 {
        let minus = time < 0;
        let abs = time.unsigned_abs();
        let secs = abs / 1_000_000;
        let _ = write!(
            out,
            "{}{}{:02}:{:02}:{:02}",
            if is_zero { "" } else { " " },
            if minus {
                "-"
            } else if is_before {
                "+"
            } else {
                ""
            },
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        write_fraction(&mut out, (abs % 1_000_000) as i64);
    }
    out
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&date_text(*self))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_time_of_day(&mut out, self.micros);
        f.write_str(&out)
    }
}

impl fmt::Display for Timetz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&timetz_text(*self))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&interval_text(*self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_render_like_postgres() {
        assert_eq!(Date::Days(0).to_string(), "2000-01-01");
        assert_eq!(
            Date::parse("0001-01-01 BC").unwrap().to_string(),
            "0001-01-01 BC"
        );
        assert_eq!(
            Date::parse("-0044-03-15").unwrap().to_string(),
            "0045-03-15 BC"
        );
        assert_eq!(Date::parse("infinity").unwrap(), Date::Infinity);
        assert!(Date::parse("2023-02-29").is_err());
        assert!(Date::parse("0000-01-01 BC").is_err());
    }

    #[test]
    fn times_and_intervals_render_like_postgres() {
        assert_eq!(Time::parse("24:00:00").unwrap().to_string(), "24:00:00");
        assert_eq!(
            Time::parse("01:02:03.450").unwrap().to_string(),
            "01:02:03.45"
        );
        let tz = Timetz::parse("10:00:00+05:30").unwrap();
        assert_eq!(tz.offset_west, -19800);
        assert_eq!(tz.to_string(), "10:00:00+05:30");
        assert_eq!(
            Timetz::parse("10:00:00-08").unwrap().to_string(),
            "10:00:00-08"
        );
        let iv = |months, days, micros| Interval {
            months,
            days,
            micros,
        };
        assert_eq!(iv(0, 0, 0).to_string(), "00:00:00");
        assert_eq!(
            iv(14, 3, 14_706_789_000).to_string(),
            "1 year 2 mons 3 days 04:05:06.789"
        );
        assert_eq!(iv(-1, 0, 0).to_string(), "-1 mons");
        assert_eq!(iv(0, -1, 3_600_000_000).to_string(), "-1 days +01:00:00");
        assert_eq!(iv(0, 1, -1).to_string(), "1 day -00:00:00.000001");
        assert_eq!(
            Interval::parse("P1Y2M3DT4H5M6.789S").unwrap(),
            iv(14, 3, 14_706_789_000)
        );
        assert_eq!(Interval::parse("-P1D").unwrap(), iv(0, -1, 0));
        assert!(Interval::parse("P").is_err());
        assert!(Interval::parse("1 day").is_err());
    }

    #[test]
    fn local_timestamps() {
        let ts = parse_local_timestamp("2024-02-29 23:59:59.5").unwrap();
        assert_eq!(timestamp_text(ts, false), "2024-02-29 23:59:59.5");
        assert_eq!(timestamp_text(ts, true), "2024-02-29 23:59:59.5+00");
        let first_ad = parse_local_timestamp("0001-01-01T00:00:00").unwrap();
        assert_eq!(
            timestamp_text(
                Timestamp::Micros(first_ad.to_micros() - MICROS_PER_DAY),
                false
            ),
            "0001-12-31 00:00:00 BC"
        );
    }
}
