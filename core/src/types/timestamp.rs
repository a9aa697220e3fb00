//! `timestamptz` as PostgreSQL stores it: microseconds since 2000-01-01 UTC.
//!
//! The civil-date arithmetic is Howard Hinnant's `days_from_civil` /
//! `civil_from_days`, exact for every date PostgreSQL can hold.

/// Days between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.
pub(crate) const PG_EPOCH_DAYS_FROM_UNIX: i64 = 10_957;
pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A `timestamp` or `timestamptz`: the wire form is the same; only the
/// meaning (UTC instant or wall-clock reading) differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timestamp {
    NegInfinity,
    /// Microseconds since 2000-01-01T00:00:00Z.
    Micros(i64),
    Infinity,
}

impl Timestamp {
    pub fn from_micros(micros: i64) -> Timestamp {
        match micros {
            i64::MAX => Timestamp::Infinity,
            i64::MIN => Timestamp::NegInfinity,
            m => Timestamp::Micros(m),
        }
    }

    pub fn to_micros(self) -> i64 {
        match self {
            Timestamp::Infinity => i64::MAX,
            Timestamp::NegInfinity => i64::MIN,
            Timestamp::Micros(m) => m,
        }
    }

    /// Parses RFC 3339 (`2024-05-01T10:00:00.5+02:00`, a space may replace the
    /// `T`) or `infinity` / `-infinity`. An offset is required, because a
    /// timestamptz without one would depend on the session time zone.
    pub fn parse(text: &str) -> Result<Timestamp, String> {
        match text {
            "infinity" | "+infinity" => return Ok(Timestamp::Infinity),
            "-infinity" => return Ok(Timestamp::NegInfinity),
            _ => {}
        }
        let err = || format!("{text:?} is not an RFC 3339 timestamp with an offset");
        let b = text.as_bytes();
        let num = |range: std::ops::Range<usize>| -> Result<i64, String> {
            let s = text.get(range).ok_or_else(err)?;
            if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            s.parse::<i64>().map_err(|_| err())
        };
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return Err(err());
        }
        if b[13] != b':' || b[16] != b':' {
            return Err(err());
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(err());
        }
        let mut pos = 19;
        let mut micros = 0i64;
        if b.get(pos) == Some(&b'.') {
            let start = pos + 1;
            let mut end = start;
            while b.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            let digits = end - start;
            if digits == 0 || digits > 6 {
                return Err(format!("{text:?}: fractional seconds need 1 to 6 digits"));
            }
            micros = num(start..end)? * 10i64.pow(6 - digits as u32);
            pos = end;
        }
        let offset_seconds = match b.get(pos) {
            Some(b'Z' | b'z') if pos + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if pos + 6 == b.len() && b[pos + 3] == b':' => {
                let (h, m) = (num(pos + 1..pos + 3)?, num(pos + 4..pos + 6)?);
                if h > 15 || m > 59 {
                    return Err(err());
                }
                let s = h * 3600 + m * 60;
                if *sign == b'-' {
                    -s
                } else {
                    s
                }
            }
            _ => return Err(err()),
        };
        let days = days_from_civil(year, month, day) - PG_EPOCH_DAYS_FROM_UNIX;
        let seconds = hour * 3600 + minute * 60 + second - offset_seconds;
        Ok(Timestamp::Micros(
            days * MICROS_PER_DAY + seconds * 1_000_000 + micros,
        ))
    }
}

/// RFC 3339 in UTC with the fraction trimmed (`2024-05-01T08:00:00.5Z`);
/// years outside 0..=9999 use the expanded `±YYYYYY` form, as JS does.
impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let micros = match self {
            Timestamp::Infinity => return f.write_str("infinity"),
            Timestamp::NegInfinity => return f.write_str("-infinity"),
            Timestamp::Micros(m) => *m,
        };
        let days = micros.div_euclid(MICROS_PER_DAY);
        let in_day = micros.rem_euclid(MICROS_PER_DAY);
        let (year, month, day) = civil_from_days(days + PG_EPOCH_DAYS_FROM_UNIX);
        let secs = in_day / 1_000_000;
        let frac = in_day % 1_000_000;
        if (0..=9999).contains(&year) {
            write!(f, "{year:04}")?;
        } else {
            write!(f, "{}{:06}", if year < 0 { '-' } else { '+' }, year.abs())?;
        }
        write!(
            f,
            "-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )?;
        if frac != 0 {
            let digits = format!("{frac:06}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

pub(crate) fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_instants() {
        assert_eq!(Timestamp::Micros(0).to_string(), "2000-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::parse("2000-01-01T00:00:00Z").unwrap(),
            Timestamp::Micros(0)
        );
        let t = Timestamp::parse("2024-02-29 23:59:59.25+01:00").unwrap();
        assert_eq!(t.to_string(), "2024-02-29T22:59:59.25Z");
        assert_eq!(
            Timestamp::parse("1969-12-31T23:59:59.999999Z")
                .unwrap()
                .to_string(),
            "1969-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            Timestamp::Micros(-MICROS_PER_DAY * 800_000).to_string(),
            // Checked against JS: new Date(Date.UTC(2000, 0, 1) - 800000 * 86400000).toISOString()
            "-000191-09-04T00:00:00Z"
        );
    }

    #[test]
    fn infinities() {
        assert_eq!(Timestamp::from_micros(i64::MAX), Timestamp::Infinity);
        assert_eq!(Timestamp::parse("-infinity").unwrap().to_micros(), i64::MIN);
        assert_eq!(Timestamp::Infinity.to_string(), "infinity");
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "2024-02-30T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.1234567Z",
            "2024-1-01T00:00:00Z",
            "yesterday",
            "2024-01-01T00:00:00+1:00",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }
}
