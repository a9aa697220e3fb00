//! PostgreSQL's text output for every value, byte for byte.
//!
//! This is what `psql` would show under `DateStyle = ISO`, `IntervalStyle =
//! postgres`, `TimeZone = UTC`, `bytea_output = hex` and the default
//! `extra_float_digits = 1`. The differential type test compares it with
//! the server's own output, which is how the decoders are checked.

use std::fmt::Write as _;

use super::composite::{Array, ArrayDim, Bound, Range, RecordField};
use super::datetime::{date_text, interval_text, timestamp_text, timetz_text, write_time_of_day};
use super::float::{exponential, fixed, shortest, Shortest};
use super::net::macaddr_text;
use super::Value;

pub(crate) fn render(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(v) => if *v { "t" } else { "f" }.into(),
        Value::Char(0) => String::new(),
        Value::Char(c) if *c >= 0x80 => format!("\\{c:03o}"),
        Value::Char(c) => char::from(*c).to_string(),
        Value::Int2(v) => v.to_string(),
        Value::Int4(v) => v.to_string(),
        Value::Int8(v) => v.to_string(),
        Value::Oid(v) => v.to_string(),
        Value::Float4(v) => float_text(*v, 6),
        Value::Float8(v) => float_text(*v, 15),
        Value::Numeric(v) | Value::Text(v) | Value::Json(v) | Value::Jsonb(v) => v.clone(),
        Value::Bytea(bytes) => {
            let mut out = String::with_capacity(2 + bytes.len() * 2);
            out.push_str("\\x");
            push_hex(&mut out, bytes);
            out
        }
        Value::Uuid(b) => {
            let mut out = String::with_capacity(36);
            let mut rest = &b[..];
            for group in [4, 2, 2, 2] {
                let (head, tail) = rest.split_at(group);
                push_hex(&mut out, head);
                out.push('-');
                rest = tail;
            }
            push_hex(&mut out, rest);
            out
        }
        Value::Date(d) => date_text(*d),
        Value::Time(t) => {
            let mut out = String::new();
            write_time_of_day(&mut out, t.micros);
            out
        }
        Value::Timetz(t) => timetz_text(*t),
        Value::Timestamp(ts) => timestamp_text(*ts, false),
        Value::Timestamptz(ts) => timestamp_text(*ts, true),
        Value::Interval(iv) => interval_text(*iv),
        Value::Inet(v) => v.text(false),
        Value::Cidr(v) => v.text(true),
        Value::Macaddr(m) => macaddr_text(m),
        Value::Array(a) => array_text(a),
        Value::Range(r) => range_text(r),
        Value::Record(fields) => record_text(fields),
    })
}

/// Lowercase hex, two digits a byte: a table lookup rather than `{:02x}`,
/// which pulls in the formatter for every byte.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

/// PostgreSQL's shortest-exact float output: the shortest digits that read
/// back to the same float, in fixed notation for decimal exponents in
/// `-4..fixed_below` and `1.5e+20` style otherwise.
fn float_text<F: zmij::Float + Into<f64>>(v: F, fixed_below: i32) -> String {
    let wide: f64 = v.into();
    if wide.is_nan() {
        return "NaN".into();
    }
    if wide.is_infinite() {
        return if wide > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if wide == 0.0 {
        return if wide.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let Shortest {
        negative,
        digits,
        exp,
    } = shortest(v);
    let body = if (-4..fixed_below).contains(&exp) {
        fixed(&digits, exp, false)
    } else {
        exponential(&digits, exp, true)
    };
    if negative {
        format!("-{body}")
    } else {
        body
    }
}

fn is_array_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

fn array_element(out: &mut String, value: &Value) {
    let Some(text) = render(value) else {
        out.push_str("NULL");
        return;
    };
    let needs_quotes = text.is_empty()
        || text.eq_ignore_ascii_case("NULL")
        || text
            .chars()
            .any(|c| matches!(c, '{' | '}' | '"' | '\\' | ',') || is_array_space(c));
    if !needs_quotes {
        out.push_str(&text);
        return;
    }
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn array_text(array: &Array) -> String {
    let mut out = String::new();
    if array.dims.is_empty() || array.elements.is_empty() {
        return "{}".into();
    }
    if array.dims.iter().any(|d| d.lower != 1) {
        for d in &array.dims {
            let upper = i64::from(d.lower) + i64::from(d.len) - 1;
            let _ = write!(out, "[{}:{upper}]", d.lower);
        }
        out.push('=');
    }
    let mut next = 0;
    nest(&mut out, &array.dims, &array.elements, &mut next);
    out
}

fn nest(out: &mut String, dims: &[ArrayDim], elements: &[Value], next: &mut usize) {
    let Some((dim, inner)) = dims.split_first() else {
        if let Some(value) = elements.get(*next) {
            array_element(out, value);
        }
        *next += 1;
        return;
    };
    out.push('{');
    for i in 0..dim.count() {
        if i > 0 {
            out.push(',');
        }
        nest(out, inner, elements, next);
    }
    out.push('}');
}

/// Range bounds and record fields share one quoting rule: quote when empty
/// or when holding a delimiter or space, doubling `"` and `\`.
fn composite_element(out: &mut String, text: &str, specials: &[char]) {
    let needs_quotes = text.is_empty()
        || text
            .chars()
            .any(|c| specials.contains(&c) || c.is_ascii_whitespace() || c == '\x0b');
    if !needs_quotes {
        out.push_str(text);
        return;
    }
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('"');
}

fn range_text(range: &Range) -> String {
    let Some((lower, upper)) = &range.bounds else {
        return "empty".into();
    };
    let specials = ['"', '\\', '(', ')', '[', ']', ','];
    let mut out = String::new();
    let bound = |out: &mut String, b: &Bound| {
        if let Bound::Inclusive(v) | Bound::Exclusive(v) = b {
            composite_element(out, &render(v).unwrap_or_default(), &specials);
        }
    };
    out.push(if matches!(lower, Bound::Inclusive(_)) {
        '['
    } else {
        '('
    });
    bound(&mut out, lower);
    out.push(',');
    bound(&mut out, upper);
    out.push(if matches!(upper, Bound::Inclusive(_)) {
        ']'
    } else {
        ')'
    });
    out
}

fn record_text(fields: &[RecordField]) -> String {
    let specials = ['"', '\\', '(', ')', ','];
    let mut out = String::from("(");
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if let Some(text) = render(&field.value) {
            composite_element(&mut out, &text, &specials);
        }
    }
    out.push(')');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_match_postgres_shortest_output() {
        let f8 = |v: f64| render(&Value::Float8(v)).unwrap();
        let f4 = |v: f32| render(&Value::Float4(v)).unwrap();
        assert_eq!(f8(1e-300), "1e-300");
        assert_eq!(f8(0.1), "0.1");
        assert_eq!(f8(123456789012345.0), "123456789012345");
        assert_eq!(f8(1e15), "1e+15");
        assert_eq!(f8(-0.0001), "-0.0001");
        assert_eq!(f8(0.00001), "1e-05");
        assert_eq!(f8(f64::NAN), "NaN");
        assert_eq!(f4(100000.0), "100000");
        assert_eq!(f4(1000000.0), "1e+06");
        assert_eq!(f4(1.1), "1.1");
        // Each of these is exactly halfway between two shortest candidates
        // (…985.125, …203.25, …567.25, …204.25); the server's Ryu takes the
        // even one.
        assert_eq!(f4(312985.12), "312985.12");
        assert_eq!(f4(-3661203.2), "-3.6612032e+06");
        assert_eq!(f8(-981446413237567.2), "-981446413237567.2");
        assert_eq!(f8(1727756845721204.2), "1.7277568457212042e+15");
    }
}
