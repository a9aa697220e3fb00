//! Rows to structs and structs to rows.
//!
//! `#[derive(Row)]` (next to `#[derive(Model)]`) implements [`FromRow`]
//! and [`ToRow`] by column name, so a struct maps the same whether its rows
//! come from a compiled query, `RETURNING`, or hand-written SQL.

use crate::types::{Timestamp, Value};

/// A decoded result row with its column names.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub columns: &'a [String],
    pub values: &'a [Value],
}

/// A column of a row could not become the field that asked for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {problem}")]
pub struct RowError {
    pub column: String,
    pub problem: String,
}

impl<'a> Row<'a> {
    /// The value of `column` converted to `T`.
    pub fn get<T: FromValue>(&self, column: &str) -> Result<T, RowError> {
        let index = self
            .columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| RowError {
                column: column.to_owned(),
                problem: format!("not in the result (columns: {})", self.columns.join(", ")),
            })?;
        let value = self.values.get(index).ok_or_else(|| RowError {
            column: column.to_owned(),
            problem: "row is shorter than its column list".to_owned(),
        })?;
        T::from_value(value).map_err(|problem| RowError {
            column: column.to_owned(),
            problem,
        })
    }
}

/// A struct built from one row, by column name.
pub trait FromRow: Sized {
    fn from_row(row: &Row<'_>) -> Result<Self, RowError>;
}

/// A struct's columns as JSON literals, the form the query language binds
/// (the compiler types each one by its column, so no Rust type is trusted
/// for the wire format).
pub trait ToRow {
    fn to_row(&self) -> Vec<(&'static str, serde_json::Value)>;
}

/// One decoded value converted to a Rust field type.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Result<Self, String>;
}

fn mismatch<T>(wanted: &str, value: &Value) -> Result<T, String> {
    Err(match value {
        Value::Null => format!("NULL in a non-optional {wanted} field (use Option)"),
        other => format!("cannot read {other:?} as {wanted}"),
    })
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self, String> {
        Ok(value.clone())
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Bool(b) => Ok(*b),
            other => mismatch("bool", other),
        }
    }
}

impl FromValue for i16 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Int2(v) => Ok(*v),
            other => mismatch("i16", other),
        }
    }
}

impl FromValue for i32 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Int2(v) => Ok(i32::from(*v)),
            Value::Int4(v) => Ok(*v),
            other => mismatch("i32", other),
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Int2(v) => Ok(i64::from(*v)),
            Value::Int4(v) => Ok(i64::from(*v)),
            Value::Int8(v) => Ok(*v),
            other => mismatch("i64", other),
        }
    }
}

impl FromValue for f32 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Float4(v) => Ok(*v),
            other => mismatch("f32", other),
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Float4(v) => Ok(f64::from(*v)),
            Value::Float8(v) => Ok(*v),
            other => mismatch("f64", other),
        }
    }
}

/// Text as is; any other non-null value as the server's text rendering
/// (`numeric` stays exact, a `date` reads `2024-01-31`, an enum its label).
impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(s) | Value::Numeric(s) | Value::Json(s) | Value::Jsonb(s) => Ok(s.clone()),
            Value::Null => mismatch("String", value),
            other => other
                .to_pg_text()
                .ok_or_else(|| format!("{other:?} has no text form")),
        }
    }
}

impl FromValue for Timestamp {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Timestamp(t) | Value::Timestamptz(t) => Ok(*t),
            other => mismatch("Timestamp", other),
        }
    }
}

impl FromValue for serde_json::Value {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Json(s) | Value::Jsonb(s) => {
                serde_json::from_str(s).map_err(|e| format!("invalid JSON from the server: {e}"))
            }
            other => mismatch("serde_json::Value", other),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// A one-dimensional array (the elements in order; bounds are dropped).
impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Array(array) if array.dims.len() <= 1 => {
                array.elements.iter().map(T::from_value).collect()
            }
            Value::Array(_) => Err("a multi-dimensional array cannot become a Vec".to_owned()),
            other => mismatch("Vec", other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Array, ArrayDim, PgType};

    fn row<'a>(columns: &'a [String], values: &'a [Value]) -> Row<'a> {
        Row { columns, values }
    }

    #[test]
    fn fields_convert_by_column_name() {
        let columns = ["id", "price", "tags", "note"].map(String::from);
        let values = [
            Value::Int2(7),
            Value::Numeric("1.50".into()),
            Value::Array(Array {
                element: PgType::Text,
                dims: vec![ArrayDim { len: 2, lower: 1 }],
                elements: vec![Value::Text("a".into()), Value::Text("b".into())],
            }),
            Value::Null,
        ];
        let r = row(&columns, &values);
        assert_eq!(r.get::<i64>("id"), Ok(7));
        assert_eq!(r.get::<String>("price"), Ok("1.50".to_owned()));
        assert_eq!(
            r.get::<Vec<String>>("tags"),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(r.get::<Option<i32>>("note"), Ok(None));
    }

    #[test]
    fn mismatches_name_the_column() {
        let columns = ["id", "note"].map(String::from);
        let values = [Value::Int8(1), Value::Null];
        let r = row(&columns, &values);
        let narrowing = r.get::<i32>("id").unwrap_err();
        assert_eq!(narrowing.column, "id");
        let null = r.get::<String>("note").unwrap_err();
        assert!(null.problem.contains("use Option"), "{null}");
        let missing = r.get::<i32>("absent").unwrap_err();
        assert!(missing.problem.contains("id, note"), "{missing}");
    }
}
