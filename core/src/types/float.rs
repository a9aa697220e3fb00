//! Shortest round-trip float digits, from zmij (which serde_json links for
//! JSON numbers anyway). Going through core's `{:e}` and `{:?}` instead
//! links its whole float formatter, exact-precision modes and tables
//! included, about 30 KB of the wasm module.

use std::fmt;

/// A finite, non-zero float as its shortest digits: `0.d1d2d3… × 10^(exp+1)`.
pub(crate) struct Shortest {
    pub negative: bool,
    /// Significant digits, with no leading or trailing zeros.
    pub digits: String,
    /// The decimal exponent of the first digit.
    pub exp: i32,
}

/// `v` must be finite and non-zero.
pub(crate) fn shortest<F: zmij::Float>(v: F) -> Shortest {
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(v);
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    // zmij writes `123.45`, `1.5e+20` or `1e-7`.
    let (mantissa, e) = text.split_once('e').unwrap_or((text, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let point = mantissa.find('.').unwrap_or(mantissa.len());
    let all = mantissa.replace('.', "");
    let lead = all.len() - all.trim_start_matches('0').len();
    Shortest {
        negative,
        digits: all[lead..].trim_end_matches('0').to_string(),
        exp: point as i32 - 1 - lead as i32 + e,
    }
}

/// Rust's `{:?}` of an `f32` or `f64` (as `f64`), without options: fixed
/// notation with at least one decimal for magnitudes in `1e-4..1e16`,
/// `1.5e-7` style outside it.
pub(crate) fn debug<F: zmij::Float + Into<f64>>(v: F, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let wide: f64 = v.into();
    if wide.is_nan() {
        return f.write_str("NaN");
    }
    let sign = if wide.is_sign_negative() { "-" } else { "" };
    if wide.is_infinite() {
        return write!(f, "{sign}inf");
    }
    if wide == 0.0 {
        return write!(f, "{sign}0.0");
    }
    let Shortest { digits, exp, .. } = shortest(v);
    let out = if (-4..16).contains(&exp) {
        fixed(&digits, exp, true)
    } else {
        exponential(&digits, exp, false)
    };
    write!(f, "{sign}{out}")
}

/// `digits` in fixed notation; `min_decimal` adds `.0` to an integer.
pub(crate) fn fixed(digits: &str, exp: i32, min_decimal: bool) -> String {
    let mut out = String::with_capacity(digits.len() + 8);
    if exp < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(digits);
        return out;
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', int_len - digits.len()));
        if min_decimal {
            out.push_str(".0");
        }
    } else {
        out.push_str(&digits[..int_len]);
        out.push('.');
        out.push_str(&digits[int_len..]);
    }
    out
}

/// `d.ddde-7` as Rust writes it, or `d.ddde-07` / `d.ddde+20` as PostgreSQL does.
pub(crate) fn exponential(digits: &str, exp: i32, postgres: bool) -> String {
    let mut out = String::with_capacity(digits.len() + 8);
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    if exp < 0 {
        out.push('-');
    } else if postgres {
        out.push('+');
    }
    let abs = exp.unsigned_abs();
    if postgres && abs < 10 {
        out.push('0');
    }
    out.push_str(&abs.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Debugged<F>(F);

    impl<F: zmij::Float + Into<f64> + Copy> fmt::Debug for Debugged<F> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            debug(self.0, f)
        }
    }

    /// Agrees with core's `{:?}` and with the digits and exponent of its
    /// `{:e}`, except where two shortest candidates are equally close: core
    /// then rounds up and zmij, like PostgreSQL's Ryu, to the even one.
    fn check<F>(v: F)
    where
        F: zmij::Float + Into<f64> + Copy + fmt::Debug + fmt::LowerExp,
    {
        let wide: f64 = v.into();
        if !wide.is_finite() || wide == 0.0 {
            assert_eq!(format!("{:?}", Debugged(v)), format!("{v:?}"));
            return;
        }
        let core = format!("{v:e}");
        let (mantissa, exp) = core.split_once('e').unwrap();
        let core_digits = mantissa.replace(['-', '.'], "");
        let s = shortest(v);
        assert_eq!(s.negative, mantissa.starts_with('-'), "{core}");
        assert_eq!(s.exp.to_string(), exp, "{core}");
        if s.digits == core_digits {
            assert_eq!(format!("{:?}", Debugged(v)), format!("{v:?}"));
            return;
        }
        let exact = format!("{wide:.1100e}");
        let exact = exact.split_once('e').unwrap().0.replace(['-', '.'], "");
        let exact = exact.trim_end_matches('0');
        let n = exact.len() - 1;
        assert!(
            exact.ends_with('5') && n >= s.digits.len().max(core_digits.len()),
            "{core}"
        );
        let padded = |d: &str| format!("{d:0<n$}").parse::<u128>().unwrap();
        let (ours, theirs) = (padded(&s.digits), padded(&core_digits));
        assert!(ours % 2 == 0 && ours.abs_diff(theirs) == 1, "{core}");
    }

    #[test]
    fn agrees_with_core_float_formatting() {
        for v in [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            1e-4,
            1e16,
            0.1,
            -1.5,
            123456.0,
        ] {
            check(v);
            check(v as f32);
            for bits in [v.to_bits().wrapping_sub(1), v.to_bits() + 1] {
                check(f64::from_bits(bits));
            }
            for bits in [
                (v as f32).to_bits().wrapping_sub(1),
                (v as f32).to_bits() + 1,
            ] {
                check(f32::from_bits(bits));
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            check(f64::from_bits(x));
            check(f32::from_bits(x as u32));
            check(f32::from_bits((x >> 32) as u32));
        }
    }
}
