//! Values and their PostgreSQL wire encodings.
//!
//! Parameters are encoded and result cells decoded in binary format, here and
//! only here, so every driver produces the same values from the same bytes.

mod binary;
mod composite;
mod datetime;
mod fuzz;
pub(crate) mod json;
mod net;
mod numeric;
mod pg_type;
mod text;
mod timestamp;

pub use composite::{Array, ArrayDim, Bound, Range, RecordField};
pub use datetime::{Date, Interval, Time, Timetz};
#[doc(hidden)]
pub use fuzz::fuzz_decode;
pub use json::ValueFromJsonError;
pub use net::Inet;
pub use pg_type::PgType;
pub use timestamp::Timestamp;

use crate::rows::RawRows;

/// A decoded (or to-be-bound) PostgreSQL value.
///
/// Every variant keeps what PostgreSQL sent without loss: `Numeric` is the
/// exact decimal text, `Json`/`Jsonb` the document text, `Interval` its three
/// fields. A cell of a type the codec does not know arrives in text format
/// and decodes to `Text`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The one-byte `"char"` type.
    Char(u8),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Oid(u32),
    Float4(f32),
    Float8(f64),
    Numeric(String),
    /// text, varchar, bpchar, name, and any type received in text format.
    Text(String),
    Bytea(Vec<u8>),
    Uuid([u8; 16]),
    Json(String),
    Jsonb(String),
    Date(Date),
    Time(Time),
    Timetz(Timetz),
    Timestamp(Timestamp),
    Timestamptz(Timestamp),
    Interval(Interval),
    Inet(Inet),
    Cidr(Inet),
    Macaddr([u8; 6]),
    Array(Array),
    Range(Range),
    /// An anonymous record; each field keeps the type OID the server sent.
    Record(Vec<RecordField>),
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
    #[error("column {column:?}: type OID {oid} is not supported in binary format")]
    UnsupportedType { column: String, oid: u32 },
    #[error("column {column:?} ({ty}): {reason}")]
    Invalid {
        column: String,
        ty: String,
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
        if matches!(self, Value::Null) {
            return Ok(None);
        }
        let mut out = Vec::new();
        binary::encode(self, &mut out).map_err(|reason| EncodeError {
            value: describe_for_error(self),
            reason,
        })?;
        Ok(Some(out))
    }

    /// Decodes one binary cell of type `ty`. Errors are plain reasons; the
    /// caller adds the column.
    pub fn decode_binary(ty: &PgType, bytes: &[u8]) -> Result<Value, String> {
        binary::decode(ty, bytes)
    }

    /// The type this value is bound as, when it can tell (arrays and ranges
    /// carry their element type; `Null` and `Text` cannot say).
    pub fn pg_type(&self) -> Option<PgType> {
        binary::type_of(self)
    }

    /// The server's text rendering of this value (its output function, with
    /// `DateStyle = ISO`, `IntervalStyle = postgres`, `TimeZone = UTC`,
    /// `bytea_output = hex`); `None` for NULL. `inet`/`cidr` differ only in
    /// whether a full-length prefix is shown.
    pub fn to_pg_text(&self) -> Option<String> {
        text::render(self)
    }
}

/// Secrets may travel as parameters, so errors show the kind of value and at
/// most a short prefix of it.
fn describe_for_error(value: &Value) -> String {
    let mut shown = format!("{value:?}");
    if shown.len() > 60 {
        let cut = (0..=60)
            .rev()
            .find(|i| shown.is_char_boundary(*i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    shown
}

/// Decoded rows, with the column names in select order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Checks that the server returned the columns the statement asked for, in order.
pub fn check_columns(expected: &[String], raw: &RawRows) -> Result<(), DecodeError> {
    let same = raw.columns().len() == expected.len()
        && raw
            .columns()
            .iter()
            .zip(expected)
            .all(|(c, e)| c.name == *e);
    if same {
        return Ok(());
    }
    Err(DecodeError::ShapeMismatch {
        expected: expected.to_vec(),
        found: raw.columns().iter().map(|c| c.name.clone()).collect(),
    })
}

/// The type each column of `raw` is decoded as: `None` for a column sent in
/// text format (how unknown types travel; their text is the value).
pub fn column_types(raw: &RawRows) -> Result<Vec<Option<PgType>>, DecodeError> {
    raw.columns()
        .iter()
        .map(|column| {
            if column.format == 0 {
                return Ok(None);
            }
            PgType::from_oid(column.type_oid).map(Some).ok_or_else(|| {
                DecodeError::UnsupportedType {
                    column: column.name.clone(),
                    oid: column.type_oid,
                }
            })
        })
        .collect()
}

/// One cell as a value: `None` bytes are NULL, `None` type is text format.
pub fn decode_cell(ty: Option<&PgType>, bytes: Option<&[u8]>) -> Result<Value, String> {
    match (bytes, ty) {
        (None, _) => Ok(Value::Null),
        (Some(bytes), Some(ty)) => Value::decode_binary(ty, bytes),
        (Some(bytes), None) => std::str::from_utf8(bytes)
            .map(|text| Value::Text(text.to_owned()))
            .map_err(|e| format!("invalid UTF-8: {e}")),
    }
}

impl Rows {
    /// Decodes every cell of `raw`, checking that the server returned the
    /// columns the statement asked for, in order.
    pub fn decode(expected_columns: &[String], raw: &RawRows) -> Result<Rows, DecodeError> {
        check_columns(expected_columns, raw)?;
        let found: Vec<String> = raw.columns().iter().map(|c| c.name.clone()).collect();
        let types = column_types(raw)?;
        let mut rows = Vec::with_capacity(raw.len());
        for raw_row in raw.iter() {
            let mut row = Vec::with_capacity(types.len());
            for (index, ty) in types.iter().enumerate() {
                let value = decode_cell(ty.as_ref(), raw_row.get(index)).map_err(|reason| {
                    DecodeError::Invalid {
                        column: found[index].clone(),
                        ty: ty
                            .as_ref()
                            .map_or_else(|| "text format".into(), PgType::name),
                        reason,
                    }
                })?;
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

    /// The canonical JSON form of values-style rows: an array of arrays,
    /// values in column order.
    pub fn to_values_json_string(&self) -> String {
        serde_json::to_string(&self.rows).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::ColumnDesc;

    fn roundtrip(ty: PgType, value: Value) {
        let bytes = value.encode_binary().unwrap().unwrap();
        assert_eq!(Value::decode_binary(&ty, &bytes).unwrap(), value, "{ty}");
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
        assert!(Value::decode_binary(&PgType::Int4, &[0, 1]).is_err());
        assert!(Value::decode_binary(&PgType::Int8, &[]).is_err());
        assert!(Value::decode_binary(&PgType::Bool, &[2]).is_err());
        assert!(Value::decode_binary(&PgType::Text, &[0xff, 0xfe]).is_err());
        assert!(Value::decode_binary(&PgType::Timestamptz, &[1; 9]).is_err());
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
