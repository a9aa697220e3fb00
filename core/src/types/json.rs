//! The canonical JSON form of values, shared by every runtime.
//!
//! int8 becomes a JSON string (as in protobuf's JSON mapping) because a JSON
//! number above 2^53 loses precision in JavaScript; numeric stays exact text;
//! timestamptz is RFC 3339 in UTC; non-finite floats are the strings `NaN`,
//! `Infinity` and `-Infinity`.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::{numeric, PgType, Rows, Timestamp, Value};

/// A JSON literal does not fit the column type it is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueFromJsonError {
    /// What was found, e.g. `string "abc"`.
    pub found: String,
}

impl Value {
    /// Converts a JSON literal from a query definition into a value of `ty`.
    pub fn from_json(json: &serde_json::Value, ty: PgType) -> Result<Value, ValueFromJsonError> {
        use serde_json::Value as J;
        let mismatch = || ValueFromJsonError {
            found: describe(json),
        };
        Ok(match (ty, json) {
            (_, J::Null) => Value::Null,
            (PgType::Bool, J::Bool(b)) => Value::Bool(*b),
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
            (PgType::Float4, J::Number(n)) => {
                Value::Float4(n.as_f64().ok_or_else(mismatch)? as f32)
            }
            (PgType::Float8, J::Number(n)) => Value::Float8(n.as_f64().ok_or_else(mismatch)?),
            (PgType::Float4 | PgType::Float8, J::String(s)) => {
                let v = match s.as_str() {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    _ => return Err(mismatch()),
                };
                if ty == PgType::Float4 {
                    Value::Float4(v as f32)
                } else {
                    Value::Float8(v)
                }
            }
            (PgType::Numeric, J::String(s)) if numeric::is_valid(s) => Value::Numeric(s.clone()),
            (PgType::Numeric, J::Number(n)) if numeric::is_valid(&n.to_string()) => {
                Value::Numeric(n.to_string())
            }
            (PgType::Text | PgType::Varchar, J::String(s)) => Value::Text(s.clone()),
            (PgType::Timestamptz, J::String(s)) => {
                Value::Timestamptz(Timestamp::parse(s).map_err(|_| mismatch())?)
            }
            _ => return Err(mismatch()),
        })
    }
}

fn describe(json: &serde_json::Value) -> String {
    use serde_json::Value as J;
    let kind = match json {
        J::Null => "null",
        J::Bool(_) => "boolean",
        J::Number(_) => "number",
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    };
    let mut text = json.to_string();
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

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(v) => s.serialize_bool(*v),
            Value::Int2(v) => s.serialize_i16(*v),
            Value::Int4(v) => s.serialize_i32(*v),
            Value::Int8(v) => s.collect_str(v),
            Value::Float4(v) => float_json(f64::from(*v), s),
            Value::Float8(v) => float_json(*v, s),
            Value::Numeric(v) | Value::Text(v) => s.serialize_str(v),
            Value::Timestamptz(v) => s.collect_str(v),
        }
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
            Value::from_json(&json!(5), PgType::Int4),
            Ok(Value::Int4(5))
        );
        assert_eq!(
            Value::from_json(&json!("9007199254740993"), PgType::Int8),
            Ok(Value::Int8(9_007_199_254_740_993))
        );
        assert_eq!(
            Value::from_json(&json!("0.10"), PgType::Numeric),
            Ok(Value::Numeric("0.10".into()))
        );
        assert_eq!(
            Value::from_json(&json!(null), PgType::Text),
            Ok(Value::Null)
        );
        let err = Value::from_json(&json!("abc"), PgType::Int4).unwrap_err();
        assert_eq!(err.found, "string \"abc\"");
        assert!(Value::from_json(&json!(3_000_000_000i64), PgType::Int4).is_err());
        assert!(Value::from_json(&json!(1.5), PgType::Int8).is_err());
        assert!(Value::from_json(&json!("1e3"), PgType::Numeric).is_err());
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
