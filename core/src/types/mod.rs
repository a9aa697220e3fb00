//! Values and their PostgreSQL wire encodings.
//!
//! Parameters are encoded and result cells decoded in binary format, here and
//! only here, so every driver produces the same values from the same bytes.

mod binary;
mod composite;
mod datetime;
mod float;
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

use std::fmt;

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
    let mut shown = format!("{:?}", Shown::Value(value));
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

/// `{:?}` of a value exactly as the derived `Debug` prints it, but with
/// floats through [`float::debug`]: the derived impl links core's float
/// formatting into the wasm module, where this is its only use.
enum Shown<'a> {
    Value(&'a Value),
    Elements(&'a [Value]),
    Array(&'a Array),
    Range(&'a Range),
    Bound(&'a Bound),
    Fields(&'a [RecordField]),
    Field(&'a RecordField),
    Inet(&'a Inet),
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = match *self {
            Shown::Value(v) => v,
            Shown::Elements(values) => {
                return f
                    .debug_list()
                    .entries(values.iter().map(Shown::Value))
                    .finish()
            }
            Shown::Array(a) => {
                return f
                    .debug_struct("Array")
                    .field("element", &a.element)
                    .field("dims", &a.dims)
                    .field("elements", &Shown::Elements(&a.elements))
                    .finish()
            }
            Shown::Range(r) => {
                let bounds = r
                    .bounds
                    .as_ref()
                    .map(|(lower, upper)| (Shown::Bound(lower), Shown::Bound(upper)));
                return f
                    .debug_struct("Range")
                    .field("ty", &r.ty)
                    .field("bounds", &bounds)
                    .finish();
            }
            Shown::Bound(Bound::Unbounded) => return f.write_str("Unbounded"),
            Shown::Bound(Bound::Inclusive(v)) => {
                return f.debug_tuple("Inclusive").field(&Shown::Value(v)).finish()
            }
            Shown::Bound(Bound::Exclusive(v)) => {
                return f.debug_tuple("Exclusive").field(&Shown::Value(v)).finish()
            }
            Shown::Fields(fields) => {
                return f
                    .debug_list()
                    .entries(fields.iter().map(Shown::Field))
                    .finish()
            }
            Shown::Inet(inet) => {
                // `IpAddr`'s `Debug` is its `Display`.
                let addr = net::ip_text(&inet.addr, false);
                return f
                    .debug_struct("Inet")
                    .field("addr", &format_args!("{addr}"))
                    .field("prefix", &inet.prefix)
                    .finish();
            }
            Shown::Field(field) => {
                return f
                    .debug_struct("RecordField")
                    .field("oid", &field.oid)
                    .field("value", &Shown::Value(&field.value))
                    .finish()
            }
        };
        let (name, inner): (&str, &dyn fmt::Debug) = match value {
            Value::Null => return f.write_str("Null"),
            Value::Float4(v) => return f.debug_tuple("Float4").field(&Float(*v)).finish(),
            Value::Float8(v) => return f.debug_tuple("Float8").field(&Float(*v)).finish(),
            Value::Bool(v) => ("Bool", v),
            Value::Char(v) => ("Char", v),
            Value::Int2(v) => ("Int2", v),
            Value::Int4(v) => ("Int4", v),
            Value::Int8(v) => ("Int8", v),
            Value::Oid(v) => ("Oid", v),
            Value::Numeric(v) => ("Numeric", v),
            Value::Text(v) => ("Text", v),
            Value::Bytea(v) => ("Bytea", v),
            Value::Uuid(v) => ("Uuid", v),
            Value::Json(v) => ("Json", v),
            Value::Jsonb(v) => ("Jsonb", v),
            Value::Date(v) => ("Date", v),
            Value::Time(v) => ("Time", v),
            Value::Timetz(v) => ("Timetz", v),
            Value::Timestamp(v) => ("Timestamp", v),
            Value::Timestamptz(v) => ("Timestamptz", v),
            Value::Interval(v) => ("Interval", v),
            Value::Inet(v) => ("Inet", &Shown::Inet(v)),
            Value::Cidr(v) => ("Cidr", &Shown::Inet(v)),
            Value::Macaddr(v) => ("Macaddr", v),
            Value::Array(a) => ("Array", &Shown::Array(a)),
            Value::Range(r) => ("Range", &Shown::Range(r)),
            Value::Record(fields) => ("Record", &Shown::Fields(fields)),
        };
        f.debug_tuple(name).field(inner).finish()
    }
}

struct Float<F>(F);

impl<F: zmij::Float + Into<f64> + Copy> fmt::Debug for Float<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        float::debug(self.0, f)
    }
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
    fn error_descriptions_match_derived_debug() {
        let int = |v| Box::new(Value::Int4(v));
        let scalars = vec![
            Value::Null,
            Value::Bool(true),
            Value::Char(b'x'),
            Value::Int2(-2),
            Value::Int4(4),
            Value::Int8(-8),
            Value::Oid(26),
            Value::Float4(1.5e-7),
            Value::Float4(-0.0),
            Value::Float8(1e16),
            Value::Float8(f64::NAN),
            Value::Float8(-123.25),
            Value::Numeric("1.50".into()),
            Value::Text("a \"quoted\"\n text".into()),
            Value::Bytea(vec![0, 255]),
            Value::Uuid([7; 16]),
            Value::Json("{}".into()),
            Value::Jsonb("[]".into()),
            Value::Date(Date::Days(3)),
            Value::Time(Time { micros: 5 }),
            Value::Timetz(Timetz {
                micros: 5,
                offset_west: -3600,
            }),
            Value::Timestamp(Timestamp::Infinity),
            Value::Timestamptz(Timestamp::Micros(9)),
            Value::Interval(Interval::default()),
            Value::Inet(Inet::parse("10.0.0.1/8").unwrap()),
            Value::Cidr(Inet::parse("2001:db8::/32").unwrap()),
            Value::Inet(Inet::parse("::1.2.3.4").unwrap()),
            Value::Macaddr([1, 2, 3, 4, 5, 6]),
        ];
        let mut values = scalars.clone();
        values.push(Value::Array(
            Array::from_elements(PgType::Float8, scalars.clone()).unwrap(),
        ));
        values.push(Value::Array(
            Array::from_elements(PgType::Int4, Vec::new()).unwrap(),
        ));
        values.push(Value::Range(Range {
            ty: PgType::Int4Range,
            bounds: Some((Bound::Inclusive(int(1)), Bound::Unbounded)),
        }));
        values.push(Value::Range(Range {
            ty: PgType::NumRange,
            bounds: Some((
                Bound::Unbounded,
                Bound::Exclusive(Box::new(Value::Float4(2.5))),
            )),
        }));
        values.push(Value::Range(Range {
            ty: PgType::DateRange,
            bounds: None,
        }));
        values.push(Value::Record(
            scalars
                .into_iter()
                .enumerate()
                .map(|(oid, value)| RecordField {
                    oid: oid as u32,
                    value,
                })
                .collect(),
        ));
        values.push(Value::Record(vec![RecordField {
            oid: 0,
            value: values[values.len() - 2].clone(),
        }]));
        for value in &values {
            assert_eq!(format!("{:?}", Shown::Value(value)), format!("{value:?}"));
            assert_eq!(format!("{:#?}", Shown::Value(value)), format!("{value:#?}"));
        }
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
