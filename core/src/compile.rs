//! Turns a query definition into PostgreSQL SQL with `$n` parameters.
//!
//! Every name is resolved against the [`Schema`] and quoted, every value is
//! type-checked against its column and bound, and any problem is a
//! [`CompileError`] naming the model and column, raised before any I/O.

use crate::error::Result;
use crate::query::{Direction, Filter, Query, QueryBody, Select, FORMAT_VERSION};
use crate::schema::{PgType, Schema, Table};
use crate::types::Value;

/// A compiled statement: what a [`crate::Driver`] sends, and what the decoder expects back.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    /// Bound values, `$1` first.
    pub params: Vec<Value>,
    pub param_types: Vec<PgType>,
    /// Result column names, in order; the decoder checks the server agrees.
    pub columns: Vec<String>,
}

/// Why a query definition was rejected. `model` is the table the query names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("query format version {found} is not supported; this build reads version {supported}")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("unknown model {model:?}: the schema has no such table")]
    UnknownModel { model: String },
    #[error("{model}: unknown column {column:?}")]
    UnknownColumn { model: String, column: String },
    #[error("{model}.{column}: expected a value of type {expected}, got {found}")]
    TypeMismatch {
        model: String,
        column: String,
        expected: PgType,
        found: String,
    },
    #[error("{model}: a select must name at least one column")]
    NoColumns { model: String },
    #[error("{model}.{column}: selected twice; each result column needs a distinct name")]
    DuplicateColumn { model: String, column: String },
    #[error("{model}: limit {limit} is larger than PostgreSQL's bigint maximum")]
    LimitOutOfRange { model: String, limit: u64 },
}

impl CompileError {
    /// The model and column the error concerns, where it names them.
    pub fn subject(&self) -> (Option<&str>, Option<&str>) {
        match self {
            CompileError::UnsupportedVersion { .. } => (None, None),
            CompileError::UnknownModel { model }
            | CompileError::NoColumns { model }
            | CompileError::LimitOutOfRange { model, .. } => (Some(model), None),
            CompileError::UnknownColumn { model, column }
            | CompileError::TypeMismatch { model, column, .. }
            | CompileError::DuplicateColumn { model, column } => (Some(model), Some(column)),
        }
    }
}

impl Statement {
    pub fn param_oids(&self) -> Vec<u32> {
        self.param_types.iter().map(|t| t.oid()).collect()
    }

    /// Every parameter in binary wire format; `None` is NULL.
    pub fn encode_params(&self) -> Result<Vec<Option<Vec<u8>>>> {
        self.params
            .iter()
            .map(|v| v.encode_binary().map_err(Into::into))
            .collect()
    }
}

/// Compiles `query` against `schema`. Pure and deterministic: the same
/// definition gives byte-identical SQL on every runtime.
pub fn compile(query: &Query, schema: &Schema) -> Result<Statement, CompileError> {
    if query.version != FORMAT_VERSION {
        return Err(CompileError::UnsupportedVersion {
            found: query.version,
            supported: FORMAT_VERSION,
        });
    }
    match &query.body {
        QueryBody::Select(select) => compile_select(select, schema),
    }
}

struct Builder<'a> {
    table: &'a Table,
    sql: String,
    params: Vec<Value>,
    param_types: Vec<PgType>,
}

impl<'a> Builder<'a> {
    fn column(&self, name: &str) -> Result<&'a crate::schema::Column, CompileError> {
        self.table
            .column(name)
            .ok_or_else(|| CompileError::UnknownColumn {
                model: self.table.name.clone(),
                column: name.to_owned(),
            })
    }

    fn bind(&mut self, value: Value, ty: PgType) {
        self.params.push(value);
        self.param_types.push(ty);
        self.sql.push('$');
        self.sql.push_str(&self.params.len().to_string());
    }
}

fn compile_select(select: &Select, schema: &Schema) -> Result<Statement, CompileError> {
    let table = schema
        .table(&select.from)
        .ok_or_else(|| CompileError::UnknownModel {
            model: select.from.clone(),
        })?;
    if select.columns.is_empty() {
        return Err(CompileError::NoColumns {
            model: table.name.clone(),
        });
    }
    let mut b = Builder {
        table,
        sql: String::with_capacity(128),
        params: Vec::new(),
        param_types: Vec::new(),
    };

    b.sql.push_str("SELECT ");
    for (i, name) in select.columns.iter().enumerate() {
        let column = b.column(name)?;
        if select.columns[..i].contains(name) {
            return Err(CompileError::DuplicateColumn {
                model: table.name.clone(),
                column: name.clone(),
            });
        }
        if i > 0 {
            b.sql.push_str(", ");
        }
        push_ident(&mut b.sql, &column.name);
    }
    b.sql.push_str(" FROM ");
    if let Some(pg_schema) = &table.schema {
        push_ident(&mut b.sql, pg_schema);
        b.sql.push('.');
    }
    push_ident(&mut b.sql, &table.name);

    if let Some(filter) = &select.filter {
        b.sql.push_str(" WHERE ");
        compile_filter(&mut b, filter)?;
    }

    for (i, order) in select.order_by.iter().enumerate() {
        let column = b.column(&order.column)?;
        b.sql.push_str(if i == 0 { " ORDER BY " } else { ", " });
        push_ident(&mut b.sql, &column.name);
        b.sql.push_str(match order.direction {
            Direction::Asc => " ASC",
            Direction::Desc => " DESC",
        });
    }

    if let Some(limit) = select.limit {
        let limit_i64 = i64::try_from(limit).map_err(|_| CompileError::LimitOutOfRange {
            model: table.name.clone(),
            limit,
        })?;
        b.sql.push_str(" LIMIT ");
        b.bind(Value::Int8(limit_i64), PgType::Int8);
    }

    Ok(Statement {
        sql: b.sql,
        params: b.params,
        param_types: b.param_types,
        columns: select.columns.clone(),
    })
}

fn compile_filter(b: &mut Builder<'_>, filter: &Filter) -> Result<(), CompileError> {
    match filter {
        Filter::Eq { column, value } => {
            let column = b.column(column)?;
            let value =
                Value::from_json(value, column.ty).map_err(|e| CompileError::TypeMismatch {
                    model: b.table.name.clone(),
                    column: column.name.clone(),
                    expected: column.ty,
                    found: e.found,
                })?;
            push_ident(&mut b.sql, &column.name);
            // `= NULL` is never true; a null literal means "is null", as in Prisma.
            if value == Value::Null {
                b.sql.push_str(" IS NULL");
            } else {
                b.sql.push_str(" = ");
                b.bind(value, column.ty);
            }
        }
    }
    Ok(())
}

/// Quotes an identifier, doubling embedded quotes, so no name can change the
/// statement's structure.
fn push_ident(sql: &mut String, ident: &str) {
    sql.push('"');
    for c in ident.chars() {
        if c == '"' {
            sql.push('"');
        }
        sql.push(c);
    }
    sql.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Select;

    fn schema() -> Schema {
        Schema::from_json(
            r#"{"tables":[{"name":"track","columns":[
                {"name":"track_id","type":"int4"},
                {"name":"album_id","type":"int4"},
                {"name":"name","type":"text"},
                {"name":"we\"ird","type":"text","nullable":true}
            ]}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn select_with_filter_order_limit() {
        let q: Query = Select::from("track")
            .columns(["track_id", "name"])
            .filter(Filter::eq("album_id", 3))
            .order_by("track_id", Direction::Desc)
            .limit(10)
            .into();
        let st = compile(&q, &schema()).unwrap();
        assert_eq!(
            st.sql,
            r#"SELECT "track_id", "name" FROM "track" WHERE "album_id" = $1 ORDER BY "track_id" DESC LIMIT $2"#
        );
        assert_eq!(st.params, vec![Value::Int4(3), Value::Int8(10)]);
        assert_eq!(st.param_oids(), vec![23, 20]);
        assert_eq!(st.columns, vec!["track_id", "name"]);
    }

    #[test]
    fn identifiers_are_quoted_and_null_means_is_null() {
        let q: Query = Select::from("track")
            .columns(["we\"ird"])
            .filter(Filter::eq("we\"ird", serde_json::Value::Null))
            .into();
        let st = compile(&q, &schema()).unwrap();
        assert_eq!(
            st.sql,
            r#"SELECT "we""ird" FROM "track" WHERE "we""ird" IS NULL"#
        );
        assert!(st.params.is_empty());
    }

    #[test]
    fn errors_name_model_and_column() {
        let s = schema();
        let err = |q: Query| compile(&q, &s).unwrap_err().to_string();
        assert_eq!(
            err(Select::from("trak").columns(["name"]).into()),
            r#"unknown model "trak": the schema has no such table"#
        );
        assert_eq!(
            err(Select::from("track").columns(["nme"]).into()),
            r#"track: unknown column "nme""#
        );
        assert_eq!(
            err(Select::from("track")
                .columns(["name"])
                .filter(Filter::eq("album_id", "one"))
                .into()),
            r#"track.album_id: expected a value of type int4, got string "one""#
        );
        assert_eq!(
            err(Select::from("track")
                .columns(["name"])
                .order_by("x", Direction::Asc)
                .into()),
            r#"track: unknown column "x""#
        );
        assert_eq!(
            err(Select::from("track").columns(["name", "name"]).into()),
            "track.name: selected twice; each result column needs a distinct name"
        );
        let mut q: Query = Select::from("track").columns(["name"]).into();
        q.version = 2;
        assert!(err(q).contains("version 2"));
    }
}
