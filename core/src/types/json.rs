//! The canonical JSON form of values, shared by every runtime.
//!
//! int8 becomes a JSON string (as in protobuf's JSON mapping) because a JSON
//! number above 2^53 loses precision in JavaScript; numeric stays exact text;
//! timestamptz is RFC 3339 in UTC; non-finite floats are the strings `NaN`,
//! `Infinity` and `-Infinity`.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::json_text;

use super::composite::{self, Array, ArrayDim, Bound, Range, RecordField};
use super::datetime::{self, Date, Interval, Time, Timetz};
use super::net::{self, Inet};
use super::{numeric, text, PgType, Rows, Timestamp, Value};

/// A JSON literal does not fit the column type it is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueFromJsonError {
    /// What was found, e.g. `string "abc"`.
    pub found: String,
}

impl Value {
    /// Converts a JSON literal from a query definition into a value of `ty`.
    ///
    /// Each type takes the JSON its canonical form produces: numbers (or
    /// strings, for int8 and numeric, to stay exact), strings in ISO forms
    /// for dates and times, `\\x`-hex strings for bytea, any JSON for
    /// json/jsonb, arrays (nested for more dimensions) for arrays,
    /// `{"lower", "upper", "lower_inc", "upper_inc"}` or `{"empty": true}`
    /// for ranges, and strings for user-defined types (enum labels, or the
    /// text form of a domain's value). JSON `null` is SQL NULL.
    pub fn from_json(json: &serde_json::Value, ty: &PgType) -> Result<Value, ValueFromJsonError> {
        from_json_at(json, ty, 0)
    }
}

fn from_json_at(
    json: &serde_json::Value,
    ty: &PgType,
    depth: usize,
) -> Result<Value, ValueFromJsonError> {
    convert(json, ty, depth).map_err(|nested| {
        nested.unwrap_or_else(|| ValueFromJsonError {
            found: describe(json),
        })
    })
}

/// [`from_json_at`] with `Err(None)` for "`json` itself does not fit", so
/// the description is written once rather than at every mismatch; an inner
/// value's mismatch comes back as it is.
fn convert(
    json: &serde_json::Value,
    ty: &PgType,
    depth: usize,
) -> Result<Value, Option<ValueFromJsonError>> {
    use serde_json::Value as J;
    let mismatch = || None;
    if depth > 16 {
        return Err(mismatch());
    }
    let string = || match json {
        J::String(s) => Ok(s.as_str()),
        _ => Err(mismatch()),
    };
    Ok(match (ty, json) {
        (_, J::Null) => Value::Null,
        (PgType::Bool, J::Bool(b)) => Value::Bool(*b),
        (PgType::Char, J::String(s)) => match s.as_bytes() {
            [] => Value::Char(0),
            [b] => Value::Char(*b),
            _ => return Err(mismatch()),
        },
        (PgType::Int2, J::Number(n)) => Value::Int2(
            n.as_i64()
                .and_then(|v| i16::try_from(v).ok())
                .ok_or_else(mismatch)?,
        ),
        (PgType::Int4, J::Number(n)) => Value::Int4(
            n.as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(mismatch)?,
        ),
        (PgType::Int8, J::Number(n)) => Value::Int8(n.as_i64().ok_or_else(mismatch)?),
        (PgType::Int8, J::String(s)) => Value::Int8(s.parse().map_err(|_| mismatch())?),
        (PgType::Oid, J::Number(n)) => Value::Oid(
            n.as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(mismatch)?,
        ),
        (PgType::Oid, J::String(s)) => Value::Oid(s.parse().map_err(|_| mismatch())?),
        (PgType::Float4, J::Number(n)) => Value::Float4(n.as_f64().ok_or_else(mismatch)? as f32),
        (PgType::Float8, J::Number(n)) => Value::Float8(n.as_f64().ok_or_else(mismatch)?),
        (PgType::Float4 | PgType::Float8, J::String(s)) => {
            let v = match s.as_str() {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                _ => return Err(mismatch()),
            };
            if *ty == PgType::Float4 {
                Value::Float4(v as f32)
            } else {
                Value::Float8(v)
            }
        }
        (PgType::Numeric, J::String(s)) if numeric::is_valid(s) => Value::Numeric(s.clone()),
        (PgType::Numeric, J::Number(n)) if numeric::is_valid(&n.to_string()) => {
            Value::Numeric(n.to_string())
        }
        (PgType::Text | PgType::Varchar | PgType::Bpchar | PgType::Name, J::String(s)) => {
            Value::Text(s.clone())
        }
        (PgType::Bytea, J::String(s)) => Value::Bytea(parse_hex_bytea(s).ok_or_else(mismatch)?),
        (PgType::Uuid, J::String(s)) => Value::Uuid(parse_uuid(s).ok_or_else(mismatch)?),
        (PgType::Json, any) => Value::Json(json_text::to_string(any)),
        (PgType::Jsonb, any) => Value::Jsonb(json_text::to_string(any)),
        (PgType::Date, _) => Value::Date(Date::parse(string()?).map_err(|_| mismatch())?),
        (PgType::Time, _) => Value::Time(Time::parse(string()?).map_err(|_| mismatch())?),
        (PgType::Timetz, _) => Value::Timetz(Timetz::parse(string()?).map_err(|_| mismatch())?),
        (PgType::Timestamp, _) => {
            Value::Timestamp(datetime::parse_local_timestamp(string()?).map_err(|_| mismatch())?)
        }
        (PgType::Timestamptz, J::String(s)) => {
            Value::Timestamptz(Timestamp::parse(s).map_err(|_| mismatch())?)
        }
        (PgType::Interval, _) => {
            Value::Interval(Interval::parse(string()?).map_err(|_| mismatch())?)
        }
        (PgType::Inet, _) => Value::Inet(Inet::parse(string()?).map_err(|_| mismatch())?),
        (PgType::Cidr, _) => {
            let v = Inet::parse(string()?).map_err(|_| mismatch())?;
            if !v.is_network() {
                return Err(mismatch());
            }
            Value::Cidr(v)
        }
        (PgType::Macaddr, _) => {
            Value::Macaddr(net::parse_macaddr(string()?).map_err(|_| mismatch())?)
        }
        (PgType::Array(element), J::Array(_)) => {
            let mut dims = Vec::new();
            let mut probe = json;
            while let J::Array(items) = probe {
                let len = i32::try_from(items.len()).map_err(|_| mismatch())?;
                dims.push(ArrayDim { len, lower: 1 });
                match items.first() {
                    Some(first) => probe = first,
                    None => break,
                }
            }
            if let [ArrayDim { len: 0, .. }] = dims[..] {
                dims.clear();
            }
            let mut elements = Vec::new();
            if !dims.is_empty() {
                flatten(json, &dims, element, depth, &mut elements).ok_or_else(mismatch)??;
            }
            let array = Array {
                element: element.as_ref().clone(),
                dims,
                elements,
            };
            array.check_shape().map_err(|_| mismatch())?;
            Value::Array(array)
        }
        (
            PgType::Int4Range
            | PgType::Int8Range
            | PgType::NumRange
            | PgType::DateRange
            | PgType::TsRange
            | PgType::TstzRange,
            J::Object(map),
        ) => {
            let subtype = composite::range_subtype(ty).ok_or_else(mismatch)?;
            let known = ["empty", "lower", "upper", "lower_inc", "upper_inc"];
            if map.keys().any(|k| !known.contains(&k.as_str())) {
                return Err(mismatch());
            }
            if map.get("empty") == Some(&J::Bool(true)) {
                if map.len() != 1 {
                    return Err(mismatch());
                }
                return Ok(Value::Range(Range {
                    ty: ty.clone(),
                    bounds: None,
                }));
            }
            let flag = |key: &str, default: bool| match map.get(key) {
                None => Ok(default),
                Some(J::Bool(b)) => Ok(*b),
                Some(_) => Err(mismatch()),
            };
            let bound = |key: &str, inclusive: bool| -> Result<Bound, Option<_>> {
                match map.get(key) {
                    None | Some(J::Null) => Ok(Bound::Unbounded),
                    Some(v) => {
                        let v = Box::new(from_json_at(v, &subtype, depth + 1)?);
                        Ok(if inclusive {
                            Bound::Inclusive(v)
                        } else {
                            Bound::Exclusive(v)
                        })
                    }
                }
            };
            Value::Range(Range {
                ty: ty.clone(),
                bounds: Some((
                    bound("lower", flag("lower_inc", true)?)?,
                    bound("upper", flag("upper_inc", false)?)?,
                )),
            })
        }
        (PgType::Record, J::Array(items)) => {
            let mut fields = Vec::with_capacity(items.len());
            for item in items {
                let ty = match item {
                    J::Null => None,
                    J::Bool(_) => Some(PgType::Bool),
                    J::Number(n) if n.is_i64() => Some(PgType::Int8),
                    J::Number(_) => Some(PgType::Numeric),
                    J::String(_) => Some(PgType::Text),
                    J::Array(_) | J::Object(_) => Some(PgType::Jsonb),
                };
                let value = match &ty {
                    Some(ty) => from_json_at(item, ty, depth + 1)?,
                    None => Value::Null,
                };
                fields.push(RecordField {
                    oid: ty.map_or(0, |t| t.oid()),
                    value,
                });
            }
            Value::Record(fields)
        }
        (PgType::Named(_), J::String(s)) => Value::Text(s.clone()),
        (PgType::Named(_), J::Number(n)) => Value::Text(n.to_string()),
        (PgType::Named(_), J::Bool(b)) => Value::Text(b.to_string()),
        _ => return Err(mismatch()),
    })
}

/// Appends the elements of a rectangular nested JSON array; the outer
/// `None` means the nesting is ragged.
fn flatten(
    json: &serde_json::Value,
    dims: &[ArrayDim],
    element: &PgType,
    depth: usize,
    out: &mut Vec<Value>,
) -> Option<Result<(), ValueFromJsonError>> {
    match (dims.split_first(), json) {
        (None, serde_json::Value::Array(_)) => None,
        (None, leaf) => Some(from_json_at(leaf, element, depth + 1).map(|v| out.push(v))),
        (Some((dim, inner)), serde_json::Value::Array(items)) => {
            if i32::try_from(items.len()).ok()? != dim.len {
                return None;
            }
            for item in items {
                if let Err(e) = flatten(item, inner, element, depth, out)? {
                    return Some(Err(e));
                }
            }
            Some(Ok(()))
        }
        (Some(_), _) => None,
    }
}

fn parse_hex_bytea(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?.as_bytes();
    if hex.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(hex.len() / 2);
    for pair in hex.chunks_exact(2) {
        out.push(net::hex_byte(pair[0], pair[1])?);
    }
    Some(out)
}

/// 32 hex digits, with `-` anywhere between them.
fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut digits = 0;
    for b in text.bytes().filter(|b| *b != b'-') {
        let byte = out.get_mut(digits / 2)?;
        // One digit: a pair whose high digit is 0.
        *byte = *byte << 4 | net::hex_byte(b'0', b)?;
        digits += 1;
    }
    (digits == 32).then_some(out)
}

/// A JSON literal as error messages show it: its kind and its text, cut short.
pub(crate) fn describe(json: &serde_json::Value) -> String {
    use serde_json::Value as J;
    let kind = match json {
        J::Null => "null",
        J::Bool(_) => "boolean",
        J::Number(_) => "number",
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    };
    let mut text = json_text::to_string(json);
    if text.len() > 40 {
        let cut = (0..=40)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    format!("{kind} {text}")
}

fn float_json<S: Serializer>(v: f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if v.is_infinite() {
        s.serialize_str(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        s.serialize_f64(v)
    }
}

impl Value {
    /// The string that is this value's canonical JSON form, for the types
    /// whose form is one (int8, numeric, text, dates and times, network
    /// addresses, ...); `None` for numbers, JSON documents and structures.
    pub fn json_string(&self) -> Option<Cow<'_, str>> {
        Some(match self {
            Value::Int8(v) => v.to_string().into(),
            Value::Numeric(v) | Value::Text(v) => Cow::Borrowed(v),
            Value::Timestamptz(v) => v.to_string().into(),
            Value::Timestamp(v) => {
                let mut utc = v.to_string();
                if utc.ends_with('Z') {
                    utc.pop();
                }
                utc.into()
            }
            Value::Interval(iv) => interval_iso(*iv).into(),
            Value::Char(_)
            | Value::Bytea(_)
            | Value::Uuid(_)
            | Value::Date(_)
            | Value::Time(_)
            | Value::Timetz(_)
            | Value::Inet(_)
            | Value::Cidr(_)
            | Value::Macaddr(_) => text::render(self).unwrap_or_default().into(),
            Value::Null
            | Value::Bool(_)
            | Value::Int2(_)
            | Value::Int4(_)
            | Value::Oid(_)
            | Value::Float4(_)
            | Value::Float8(_)
            | Value::Json(_)
            | Value::Jsonb(_)
            | Value::Array(_)
            | Value::Range(_)
            | Value::Record(_) => return None,
        })
    }

    /// Appends this value's canonical JSON text: what its `Serialize` gives
    /// with serde_json, without serde_json's serializer.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(v) => out.push_str(if *v { "true" } else { "false" }),
            Value::Int2(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Int4(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Oid(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Float4(v) => write_float(out, f64::from(*v)),
            Value::Float8(v) => write_float(out, *v),
            Value::Json(v) | Value::Jsonb(v) => match json_text::parse_value(v) {
                Ok(doc) => json_text::write_value(out, &doc),
                Err(_) => json_text::write_str(out, v),
            },
            Value::Array(array) => write_nested(out, &array.dims, &array.elements),
            Value::Range(range) => {
                let Some((lower, upper)) = &range.bounds else {
                    out.push_str(r#"{"empty":true}"#);
                    return;
                };
                for (key, inc_key, bound) in [
                    (r#"{"lower":"#, r#","lower_inc":"#, lower),
                    (r#","upper":"#, r#","upper_inc":"#, upper),
                ] {
                    out.push_str(key);
                    match bound {
                        Bound::Unbounded => out.push_str("null"),
                        Bound::Inclusive(v) | Bound::Exclusive(v) => v.write_json(out),
                    }
                    out.push_str(inc_key);
                    out.push_str(if matches!(bound, Bound::Inclusive(_)) {
                        "true"
                    } else {
                        "false"
                    });
                }
                out.push('}');
            }
            Value::Record(fields) => {
                out.push('[');
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    field.value.write_json(out);
                }
                out.push(']');
            }
            _ => json_text::write_str(out, &self.json_string().unwrap_or_default()),
        }
    }

    /// The canonical JSON text of a list of values, as a JSON array.
    pub fn list_to_json(values: &[Value]) -> String {
        let mut out = String::from("[");
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            value.write_json(&mut out);
        }
        out.push(']');
        out
    }
}

fn write_float(out: &mut String, v: f64) {
    match serde_json::Number::from_f64(v) {
        Some(n) => json_text::write_number(out, &n),
        None if v.is_nan() => out.push_str(r#""NaN""#),
        None if v > 0.0 => out.push_str(r#""Infinity""#),
        None => out.push_str(r#""-Infinity""#),
    }
}

/// Like [`NestedRef`]'s serialization, as text.
fn write_nested(out: &mut String, dims: &[ArrayDim], elements: &[Value]) {
    out.push('[');
    if let Some((dim, inner)) = dims.split_first().filter(|_| !elements.is_empty()) {
        let stride = ArrayDim::product(inner);
        for i in 0..dim.count() {
            if i > 0 {
                out.push(',');
            }
            if inner.is_empty() {
                elements.get(i).unwrap_or(&Value::Null).write_json(out);
            } else {
                let start = (i * stride).min(elements.len());
                let end = (start + stride).min(elements.len());
                write_nested(out, inner, &elements[start..end]);
            }
        }
    }
    out.push(']');
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(v) => s.serialize_bool(*v),
            Value::Int2(v) => s.serialize_i16(*v),
            Value::Int4(v) => s.serialize_i32(*v),
            Value::Oid(v) => s.serialize_u32(*v),
            Value::Float4(v) => float_json(f64::from(*v), s),
            Value::Float8(v) => float_json(*v, s),
            Value::Json(v) | Value::Jsonb(v) => {
                match serde_json::from_str::<serde_json::Value>(v) {
                    Ok(doc) => doc.serialize(s),
                    Err(_) => s.serialize_str(v),
                }
            }
            Value::Array(array) => NestedRef {
                dims: &array.dims,
                elements: &array.elements,
            }
            .serialize(s),
            Value::Range(range) => {
                let Some((lower, upper)) = &range.bounds else {
                    let mut map = s.serialize_map(Some(1))?;
                    map.serialize_entry("empty", &true)?;
                    return map.end();
                };
                let mut map = s.serialize_map(Some(4))?;
                for (key, inc_key, bound) in
                    [("lower", "lower_inc", lower), ("upper", "upper_inc", upper)]
                {
                    match bound {
                        Bound::Unbounded => {
                            map.serialize_entry(key, &Value::Null)?;
                            map.serialize_entry(inc_key, &false)?;
                        }
                        Bound::Inclusive(v) | Bound::Exclusive(v) => {
                            map.serialize_entry(key, v.as_ref())?;
                            map.serialize_entry(inc_key, &matches!(bound, Bound::Inclusive(_)))?;
                        }
                    }
                }
                map.end()
            }
            Value::Record(fields) => {
                let mut seq = s.serialize_seq(Some(fields.len()))?;
                for field in fields {
                    seq.serialize_element(&field.value)?;
                }
                seq.end()
            }
            _ => s.serialize_str(&self.json_string().unwrap_or_default()),
        }
    }
}

/// ISO 8601, each field with its own sign as PostgreSQL allows (`P1Y-2M3DT4H5M6.5S`).
fn interval_iso(iv: Interval) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("P");
    let (years, months) = (iv.months / 12, iv.months % 12);
    for (v, unit) in [(years, 'Y'), (months, 'M'), (iv.days, 'D')] {
        if v != 0 {
            let _ = write!(out, "{v}{unit}");
        }
    }
    if iv.micros != 0 || out.len() == 1 {
        out.push('T');
        let sign = if iv.micros < 0 { "-" } else { "" };
        let abs = iv.micros.unsigned_abs();
        let (hours, minutes) = (abs / 3_600_000_000, abs / 60_000_000 % 60);
        let (secs, frac) = (abs / 1_000_000 % 60, abs % 1_000_000);
        if hours != 0 {
            let _ = write!(out, "{sign}{hours}H");
        }
        if minutes != 0 {
            let _ = write!(out, "{sign}{minutes}M");
        }
        if secs != 0 || frac != 0 || (hours == 0 && minutes == 0) {
            let _ = write!(out, "{sign}{secs}");
            if frac != 0 {
                let digits = format!("{frac:06}");
                let _ = write!(out, ".{}", digits.trim_end_matches('0'));
            }
            out.push('S');
        }
    }
    out
}

struct NestedRef<'a> {
    dims: &'a [ArrayDim],
    elements: &'a [Value],
}

impl Serialize for NestedRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some((dim, inner)) = self
            .dims
            .split_first()
            .filter(|_| !self.elements.is_empty())
        else {
            return s.serialize_seq(Some(0))?.end();
        };
        let stride = ArrayDim::product(inner);
        let len = dim.count();
        let mut seq = s.serialize_seq(Some(len))?;
        for i in 0..len {
            if inner.is_empty() {
                seq.serialize_element(self.elements.get(i).unwrap_or(&Value::Null))?;
            } else {
                let start = (i * stride).min(self.elements.len());
                let end = (start + stride).min(self.elements.len());
                seq.serialize_element(&NestedRef {
                    dims: inner,
                    elements: &self.elements[start..end],
                })?;
            }
        }
        seq.end()
    }
}

struct RowRef<'a>(&'a [String], &'a [Value]);

impl Serialize for RowRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0.iter().zip(self.1) {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl Serialize for Rows {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for row in &self.rows {
            seq.serialize_element(&RowRef(&self.columns, row))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literals_convert_by_column_type() {
        assert_eq!(
            Value::from_json(&json!(5), &PgType::Int4),
            Ok(Value::Int4(5))
        );
        assert_eq!(
            Value::from_json(&json!("9007199254740993"), &PgType::Int8),
            Ok(Value::Int8(9_007_199_254_740_993))
        );
        assert_eq!(
            Value::from_json(&json!("0.10"), &PgType::Numeric),
            Ok(Value::Numeric("0.10".into()))
        );
        assert_eq!(
            Value::from_json(&json!(null), &PgType::Text),
            Ok(Value::Null)
        );
        let err = Value::from_json(&json!("abc"), &PgType::Int4).unwrap_err();
        assert_eq!(err.found, "string \"abc\"");
        assert!(Value::from_json(&json!(3_000_000_000i64), &PgType::Int4).is_err());
        assert!(Value::from_json(&json!(1.5), &PgType::Int8).is_err());
        assert!(Value::from_json(&json!("1e3"), &PgType::Numeric).is_err());
        // PostgreSQL's hex format has no signs.
        assert_eq!(
            Value::from_json(&json!("\\x0f"), &PgType::Bytea),
            Ok(Value::Bytea(vec![15]))
        );
        assert!(Value::from_json(&json!("\\x+f"), &PgType::Bytea).is_err());
    }

    #[test]
    fn literals_for_every_other_type() {
        let j = |v: serde_json::Value, ty: &str| {
            let ty: PgType = serde_json::from_value(json!(ty)).unwrap();
            Value::from_json(&v, &ty)
        };
        let text = |v: serde_json::Value, ty: &str| j(v, ty).unwrap().to_pg_text().unwrap();
        assert_eq!(text(json!("\\x00ff"), "bytea"), "\\x00ff");
        assert_eq!(
            text(json!("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), "uuid"),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        );
        assert_eq!(text(json!({"a": [1, null]}), "jsonb"), r#"{"a":[1,null]}"#);
        assert_eq!(text(json!("0044-03-15 BC"), "date"), "0044-03-15 BC");
        assert_eq!(
            text(json!("2024-01-02 03:04:05.5"), "timestamp"),
            "2024-01-02 03:04:05.5"
        );
        assert_eq!(text(json!("10:00:00+05:30"), "timetz"), "10:00:00+05:30");
        assert_eq!(
            text(json!("P1Y2M3DT4H5M6S"), "interval"),
            "1 year 2 mons 3 days 04:05:06"
        );
        assert_eq!(text(json!("10.0.0.0/8"), "cidr"), "10.0.0.0/8");
        assert!(j(json!("10.0.0.1/8"), "cidr").is_err(), "host bits set");
        assert_eq!(
            text(json!([[1, 2], [null, 4]]), "int4[]"),
            "{{1,2},{NULL,4}}"
        );
        assert!(j(json!([[1, 2], [3]]), "int4[]").is_err(), "ragged");
        assert_eq!(text(json!([]), "text[]"), "{}");
        assert_eq!(text(json!({"lower": 1, "upper": 5}), "int4range"), "[1,5)");
        assert_eq!(text(json!({"empty": true}), "daterange"), "empty");
        assert!(j(json!({"lower": 1, "nope": 2}), "int4range").is_err());
        assert_eq!(j(json!("happy"), "mood"), Ok(Value::Text("happy".into())));
        assert_eq!(j(json!(5), "posint"), Ok(Value::Text("5".into())));
        assert_eq!(text(json!(["a", 1]), "record"), "(a,1)");
    }

    #[test]
    fn canonical_json_of_structured_values() {
        let value =
            Value::from_json(&json!([[1, null]]), &PgType::Array(Box::new(PgType::Int8))).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), r#"[["1",null]]"#);
        let range = Value::from_json(
            &json!({"lower": "2024-01-01", "lower_inc": false}),
            &PgType::DateRange,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&range).unwrap(),
            r#"{"lower":"2024-01-01","lower_inc":false,"upper":null,"upper_inc":false}"#
        );
        let iv = Value::Interval(Interval {
            months: 14,
            days: -3,
            micros: -3_723_500_000,
        });
        assert_eq!(
            serde_json::to_string(&iv).unwrap(),
            r#""P1Y2M-3DT-1H-2M-3.5S""#
        );
        assert_eq!(
            Value::from_json(&json!("P1Y2M-3DT-1H-2M-3.5S"), &PgType::Interval),
            Ok(iv)
        );
        let doc = Value::Jsonb(r#"{"a": [1, 2]}"#.into());
        assert_eq!(serde_json::to_string(&doc).unwrap(), r#"{"a":[1,2]}"#);
    }

    #[test]
    fn written_json_is_what_serialize_gives() {
        let j = |v: serde_json::Value, ty: &str| {
            Value::from_json(&v, &PgType::parse(ty)).unwrap_or_else(|e| panic!("{ty}: {e:?}"))
        };
        let ragged = Value::Array(Array {
            element: PgType::Int4,
            dims: vec![ArrayDim { len: 3, lower: 1 }, ArrayDim { len: 2, lower: 1 }],
            elements: vec![Value::Int4(1), Value::Int4(2), Value::Int4(3)],
        });
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int2(i16::MIN),
            Value::Int4(-7),
            Value::Int8(i64::MIN),
            Value::Oid(u32::MAX),
            Value::Float4(0.1),
            Value::Float4(f32::NAN),
            Value::Float8(-0.0),
            Value::Float8(1e21),
            Value::Float8(1.5e-7),
            Value::Float8(f64::INFINITY),
            Value::Float8(f64::NEG_INFINITY),
            Value::Numeric("-12.50".into()),
            Value::Text("a\"b\\c\n\u{1}\u{1f}é😀".into()),
            Value::Char(b'"'),
            Value::Bytea(vec![0, 255]),
            Value::Json(r#"{"b": [1, 2.50, "\u0041"], "a": null, "a": true}"#.into()),
            Value::Jsonb("not json".into()),
            Value::Jsonb("1e400".into()),
            Value::Timestamptz(Timestamp::Micros(-1)),
            Value::Record(vec![]),
            ragged,
            j(json!("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), "uuid"),
            j(json!("0044-03-15 BC"), "date"),
            j(json!("10:00:00.5+05:30"), "timetz"),
            j(json!("04:05:06.000001"), "time"),
            j(json!("2024-01-02 03:04:05.5"), "timestamp"),
            j(json!("2024-01-02T03:04:05Z"), "timestamptz"),
            j(json!("P1Y-2M3DT-4H5M6.25S"), "interval"),
            j(json!("PT0S"), "interval"),
            j(json!("10.0.0.0/8"), "cidr"),
            j(json!("::1"), "inet"),
            j(json!("08:00:2b:01:02:03"), "macaddr"),
            j(json!([[1, null], [3, 4]]), "int8[]"),
            j(json!([]), "text[]"),
            j(json!([["a\"", "b"]]), "text[]"),
            j(json!({"lower": 1, "upper": 5}), "int4range"),
            j(
                json!({"lower": null, "upper": "2024-01-01", "upper_inc": true}),
                "daterange",
            ),
            j(json!({"empty": true}), "numrange"),
            j(json!(["a", 1, 2.5, null, [1], {"k": 1}]), "record"),
        ];
        for value in &values {
            let mut written = String::new();
            value.write_json(&mut written);
            assert_eq!(written, serde_json::to_string(value).unwrap(), "{value:?}");
            if let Some(text) = value.json_string() {
                let text = serde_json::Value::String(text.into_owned());
                assert_eq!(text, serde_json::to_value(value).unwrap());
            }
        }
        assert_eq!(
            Value::list_to_json(&values),
            serde_json::to_string(&values[..]).unwrap()
        );
        assert_eq!(Value::list_to_json(&[]), "[]");
    }

    #[test]
    fn canonical_json() {
        let rows = Rows {
            columns: vec!["b".into(), "a".into()],
            rows: vec![vec![Value::Int8(i64::MAX), Value::Float8(f64::NAN)]],
        };
        assert_eq!(
            rows.to_json_string(),
            r#"[{"b":"9223372036854775807","a":"NaN"}]"#
        );
    }
}
