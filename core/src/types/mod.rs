//! Values and their PostgreSQL wire encodings.
//!
//! Parameters are encoded and result cells decoded in binary format, here and
//! only here, so every driver produces the same values from the same bytes.

mod json;
mod numeric;
mod pg_type;
mod timestamp;

pub use json::ValueFromJsonError;
pub use pg_type::PgType;
pub use timestamp::Timestamp;

use crate::rows::RawRows;

/// A decoded (or to-be-bound) PostgreSQL value.
///
/// `Numeric` keeps the exact decimal text: no binary float ever touches it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    Numeric(String),
    Text(String),
    Timestamptz(Timestamp),
}

/// A value could not be encoded for the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode {value} as a parameter: {reason}")]
pub struct EncodeError {
    pub value: String,
    pub reason: String,
}

/// A result cell could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("column {column:?}: type OID {oid} is not supported yet")]
    UnsupportedType { column: String, oid: u32 },
    #[error("column {column:?}: the server sent text format where binary was requested")]
    TextFormat { column: String },
    #[error("column {column:?} ({ty}): {reason}")]
    Invalid {
        column: String,
        ty: &'static str,
        reason: String,
    },
    #[error("result columns {found:?} do not match the statement's columns {expected:?}")]
    ShapeMismatch {
        expected: Vec<String>,
        found: Vec<String>,
    },
}

impl Value {
    /// Binary wire encoding; `None` is SQL NULL.
    pub fn encode_binary(&self) -> Result<Option<Vec<u8>>, EncodeError> {
        Ok(Some(match self {
            Value::Null => return Ok(None),
            Value::Bool(v) => vec![u8::from(*v)],
            Value::Int2(v) => v.to_be_bytes().to_vec(),
            Value::Int4(v) => v.to_be_bytes().to_vec(),
            Value::Int8(v) => v.to_be_bytes().to_vec(),
            Value::Float4(v) => v.to_be_bytes().to_vec(),
            Value::Float8(v) => v.to_be_bytes().to_vec(),
            Value::Numeric(text) => numeric::encode(text).map_err(|reason| EncodeError {
                value: format!("{text:?}"),
                reason,
            })?,
            Value::Text(v) => v.as_bytes().to_vec(),
            Value::Timestamptz(ts) => ts.to_micros().to_be_bytes().to_vec(),
        }))
    }

    /// Decodes one binary cell of type `ty`. Errors are plain reasons; the
    /// caller adds the column.
    pub fn decode_binary(ty: PgType, bytes: &[u8]) -> Result<Value, String> {
        Ok(match ty {
            PgType::Bool => match bytes {
                [0] => Value::Bool(false),
                [1] => Value::Bool(true),
                _ => return Err(format!("invalid bool bytes {bytes:?}")),
            },
            PgType::Int2 => Value::Int2(i16::from_be_bytes(fixed(bytes)?)),
            PgType::Int4 => Value::Int4(i32::from_be_bytes(fixed(bytes)?)),
            PgType::Int8 => Value::Int8(i64::from_be_bytes(fixed(bytes)?)),
            PgType::Float4 => Value::Float4(f32::from_be_bytes(fixed(bytes)?)),
            PgType::Float8 => Value::Float8(f64::from_be_bytes(fixed(bytes)?)),
            PgType::Numeric => Value::Numeric(numeric::decode(bytes)?),
            PgType::Text | PgType::Varchar => Value::Text(
                std::str::from_utf8(bytes)
                    .map_err(|e| format!("invalid UTF-8: {e}"))?
                    .to_owned(),
            ),
            PgType::Timestamptz => {
                Value::Timestamptz(Timestamp::from_micros(i64::from_be_bytes(fixed(bytes)?)))
            }
        })
    }
}

fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], String> {
    bytes
        .try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", bytes.len()))
}

/// Decoded rows, with the column names in select order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    /// Decodes every cell of `raw`, checking that the server returned the
    /// columns the statement asked for, in order.
    pub fn decode(expected_columns: &[String], raw: &RawRows) -> Result<Rows, DecodeError> {
        let found: Vec<String> = raw.columns().iter().map(|c| c.name.clone()).collect();
        if found != expected_columns {
            return Err(DecodeError::ShapeMismatch {
                expected: expected_columns.to_vec(),
                found,
            });
        }
        let mut types = Vec::with_capacity(raw.columns().len());
        for column in raw.columns() {
            let ty =
                PgType::from_oid(column.type_oid).ok_or_else(|| DecodeError::UnsupportedType {
                    column: column.name.clone(),
                    oid: column.type_oid,
                })?;
            if column.format != 1 {
                return Err(DecodeError::TextFormat {
                    column: column.name.clone(),
                });
            }
            types.push(ty);
        }
        let mut rows = Vec::with_capacity(raw.len());
        for raw_row in raw.iter() {
            let mut row = Vec::with_capacity(types.len());
            for (index, ty) in types.iter().enumerate() {
                let value = match raw_row.get(index) {
                    None => Value::Null,
                    Some(bytes) => {
                        Value::decode_binary(*ty, bytes).map_err(|reason| DecodeError::Invalid {
                            column: found[index].clone(),
                            ty: ty.name(),
                            reason,
                        })?
                    }
                };
                row.push(value);
            }
            rows.push(row);
        }
        Ok(Rows {
            columns: found,
            rows,
        })
    }

    /// The canonical JSON form: an array of objects, keys in column order.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::ColumnDesc;

    fn roundtrip(ty: PgType, value: Value) {
        let bytes = value.encode_binary().unwrap().unwrap();
        assert_eq!(Value::decode_binary(ty, &bytes).unwrap(), value, "{ty}");
    }

    #[test]
    fn scalar_round_trips() {
        roundtrip(PgType::Bool, Value::Bool(true));
        roundtrip(PgType::Int2, Value::Int2(-7));
        roundtrip(PgType::Int4, Value::Int4(i32::MIN));
        roundtrip(PgType::Int8, Value::Int8(i64::MAX));
        roundtrip(PgType::Float8, Value::Float8(-0.25));
        roundtrip(PgType::Float4, Value::Float4(1.5));
        roundtrip(PgType::Text, Value::Text("héllo \"x\"".into()));
        roundtrip(PgType::Numeric, Value::Numeric("-1234.5600".into()));
        roundtrip(
            PgType::Timestamptz,
            Value::Timestamptz(Timestamp::parse("2024-02-29T23:59:59.123456Z").unwrap()),
        );
    }

    #[test]
    fn bad_lengths_are_errors_not_panics() {
        assert!(Value::decode_binary(PgType::Int4, &[0, 1]).is_err());
        assert!(Value::decode_binary(PgType::Int8, &[]).is_err());
        assert!(Value::decode_binary(PgType::Bool, &[2]).is_err());
        assert!(Value::decode_binary(PgType::Text, &[0xff, 0xfe]).is_err());
        assert!(Value::decode_binary(PgType::Timestamptz, &[1; 9]).is_err());
    }

    #[test]
    fn decode_checks_shape_and_names_the_column() {
        let mut raw = RawRows::new(vec![ColumnDesc {
            name: "n".into(),
            type_oid: 23,
            format: 1,
        }]);
        raw.push_row([Some(&[0u8, 0, 0, 5][..])]).unwrap();
        raw.push_row([None]).unwrap();
        let rows = Rows::decode(&["n".to_string()], &raw).unwrap();
        assert_eq!(rows.rows, vec![vec![Value::Int4(5)], vec![Value::Null]]);
        assert_eq!(rows.to_json_string(), r#"[{"n":5},{"n":null}]"#);

        let err = Rows::decode(&["m".to_string()], &raw).unwrap_err();
        assert!(matches!(err, DecodeError::ShapeMismatch { .. }));

        let mut bad = RawRows::new(vec![ColumnDesc {
            name: "n".into(),
            type_oid: 23,
            format: 1,
        }]);
        bad.push_row([Some(&[1u8][..])]).unwrap();
        let err = Rows::decode(&["n".to_string()], &bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "column \"n\" (int4): expected 4 bytes, got 1"
        );
    }
}
