//! `numeric` in binary: base-10000 digit groups, exact in both directions.
//!
//! Layout: ndigits i16, weight i16 (power of 10000 of the first group),
//! sign u16, dscale u16 (digits after the point), then ndigits i16 groups.

const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;
const NAN: u16 = 0xC000;
const POS_INFINITY: u16 = 0xD000;
const NEG_INFINITY: u16 = 0xF000;
const INFINITY_DSCALE: u16 = 0x20;
/// PostgreSQL's NUMERIC_MAX_DISPLAY_SCALE bound on dscale.
const MAX_DSCALE: u16 = 0x3FFF;

/// Decodes to the decimal text PostgreSQL itself would print.
pub(crate) fn decode(bytes: &[u8]) -> Result<String, String> {
    let header: [u8; 8] = bytes
        .get(..8)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| format!("numeric needs an 8-byte header, got {} bytes", bytes.len()))?;
    let ndigits = i16::from_be_bytes([header[0], header[1]]);
    let weight = i16::from_be_bytes([header[2], header[3]]);
    let sign = u16::from_be_bytes([header[4], header[5]]);
    let dscale = u16::from_be_bytes([header[6], header[7]]);
    match sign {
        NAN => return Ok("NaN".into()),
        POS_INFINITY => return Ok("Infinity".into()),
        NEG_INFINITY => return Ok("-Infinity".into()),
        POSITIVE | NEGATIVE => {}
        other => return Err(format!("invalid numeric sign {other:#06x}")),
    }
    if ndigits < 0 {
        return Err(format!("negative numeric digit count {ndigits}"));
    }
    if dscale > MAX_DSCALE {
        return Err(format!("numeric scale {dscale} out of range"));
    }
    let body = &bytes[8..];
    if body.len() != ndigits as usize * 2 {
        return Err(format!(
            "numeric declares {ndigits} digits but carries {} bytes",
            body.len()
        ));
    }
    let mut digits = Vec::with_capacity(ndigits as usize);
    for pair in body.chunks_exact(2) {
        let digit = i16::from_be_bytes([pair[0], pair[1]]);
        if !(0..10000).contains(&digit) {
            return Err(format!("invalid numeric digit {digit}"));
        }
        digits.push(digit);
    }
    let group = |i: i32| -> i16 {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };

    let weight = i32::from(weight);
    let mut out = String::new();
    if weight < 0 {
        out.push('0');
    } else {
        // PostgreSQL never sends leading zero groups, but a hostile peer
        // may; trimming keeps one canonical text per value.
        let mut int_part = String::with_capacity(4 * (weight as usize + 1));
        for i in 0..=weight {
            int_part.push_str(&format!("{:04}", group(i)));
        }
        let trimmed = int_part.trim_start_matches('0');
        out.push_str(if trimmed.is_empty() { "0" } else { trimmed });
    }
    if dscale > 0 {
        out.push('.');
        let mut frac = String::with_capacity(usize::from(dscale) + 4);
        let mut i = weight + 1;
        while frac.len() < usize::from(dscale) {
            frac.push_str(&format!("{:04}", group(i)));
            i += 1;
        }
        frac.truncate(usize::from(dscale));
        out.push_str(&frac);
    }
    // PostgreSQL has no negative zero; only a hostile peer sends one.
    if sign == NEGATIVE && out.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        out.insert(0, '-');
    }
    Ok(out)
}

/// Encodes decimal text (`-12.340`, `NaN`, `Infinity`); the scale written is
/// the number of digits after the point, so trailing zeros survive.
pub(crate) fn encode(text: &str) -> Result<Vec<u8>, String> {
    let special = match text {
        "NaN" => Some(NAN),
        "Infinity" | "+Infinity" => Some(POS_INFINITY),
        "-Infinity" => Some(NEG_INFINITY),
        _ => None,
    };
    if let Some(sign) = special {
        let mut out = vec![0u8; 8];
        out[4..6].copy_from_slice(&sign.to_be_bytes());
        // PostgreSQL 14+ sends the infinities with dscale 32 (header bits it
        // reads as a scale); matching it keeps re-encoding byte-identical.
        if sign != NAN {
            out[6..8].copy_from_slice(&INFINITY_DSCALE.to_be_bytes());
        }
        return Ok(out);
    }
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_part, frac_part) = match unsigned.split_once('.') {
        Some((i, f)) => (i, f),
        None => (unsigned, ""),
    };
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !is_digits(int_part)
        || !is_digits(frac_part)
    {
        return Err("not a decimal number".into());
    }
    let dscale = u16::try_from(frac_part.len())
        .ok()
        .filter(|s| *s <= MAX_DSCALE)
        .ok_or("too many digits after the decimal point")?;

    let int_trimmed = int_part.trim_start_matches('0');
    let int_pad = (4 - int_trimmed.len() % 4) % 4;
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let mut all = String::with_capacity(int_pad + int_trimmed.len() + frac_part.len() + frac_pad);
    all.extend(std::iter::repeat_n('0', int_pad));
    all.push_str(int_trimmed);
    all.push_str(frac_part);
    all.extend(std::iter::repeat_n('0', frac_pad));
    let int_groups = (int_pad + int_trimmed.len()) / 4;

    let mut groups: Vec<i16> = all
        .as_bytes()
        .chunks_exact(4)
        .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')))
        .collect();
    let mut weight = i32::try_from(int_groups).map_err(|_| "number too large")? - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= i32::try_from(leading).map_err(|_| "number too large")?;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let weight = i16::try_from(weight).map_err(|_| "number out of numeric range")?;
    let ndigits = i16::try_from(groups.len()).map_err(|_| "number out of numeric range")?;
    let sign = if negative && !groups.is_empty() {
        NEGATIVE
    } else {
        POSITIVE
    };

    let mut out = Vec::with_capacity(8 + groups.len() * 2);
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Ok(out)
}

/// Whether `text` is a decimal `encode` accepts.
pub(crate) fn is_valid(text: &str) -> bool {
    encode(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn rt(text: &str, expected: &str) {
        assert_eq!(decode(&encode(text).unwrap()).unwrap(), expected, "{text}");
    }

    #[test]
    fn round_trips_exactly() {
        rt("0", "0");
        rt("0.00", "0.00");
        rt("1", "1");
        rt("-1", "-1");
        rt("0.99", "0.99");
        rt("10000", "10000");
        rt("12345678.000100", "12345678.000100");
        rt("-0.0001", "-0.0001");
        rt("000123.4500", "123.4500");
        rt(
            "99999999999999999999999999999999.123456789",
            "99999999999999999999999999999999.123456789",
        );
        rt(".5", "0.5");
        rt("-0", "0");
        rt("NaN", "NaN");
        rt("Infinity", "Infinity");
        rt("-Infinity", "-Infinity");
    }

    #[test]
    fn matches_postgres_bytes() {
        // SELECT 1234.5::numeric sent in binary by PostgreSQL 15.
        let bytes = [0, 2, 0, 0, 0, 0, 0, 1, 0x04, 0xD2, 0x13, 0x88];
        assert_eq!(decode(&bytes).unwrap(), "1234.5");
        assert_eq!(encode("1234.5").unwrap(), bytes);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "-", ".", "1.2.3", "1e5", "abc", " 1"] {
            assert!(encode(bad).is_err(), "{bad:?}");
        }
        assert!(decode(&[0, 1]).is_err());
        assert!(decode(&[0, 1, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode(&[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10]).is_err());
        assert!(decode(&[0xff, 0xff, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode(&[0, 0, 0, 0, 0x12, 0x34, 0, 0]).is_err());
    }

    #[test]
    fn leading_zero_groups_are_not_printed() {
        // Found by the decode fuzzer: weight 1 with a leading zero group.
        let bytes = [0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0x13, 0x88];
        assert_eq!(decode(&bytes).unwrap(), "5000");
        assert_eq!(decode(&encode("5000").unwrap()).unwrap(), "5000");
        // And a negative sign on zero digits.
        assert_eq!(
            decode(&[0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0, 0]).unwrap(),
            "0.00"
        );
    }
}
