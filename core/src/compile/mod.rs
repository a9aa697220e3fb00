//! Turns a query definition into PostgreSQL SQL with `$n` parameters.
//!
//! Every name is resolved against the [`Schema`] and quoted, every value is
//! type-checked against what it meets and bound, and any problem is a
//! [`CompileError`] naming the model and column, raised before any I/O.
//!
//! The submodules: `context` holds the scope and parameter state, then one
//! module per part of the language (`expr`, `filter`, `select`, `mutate`),
//! [`ddl`] for schema statements and [`plan`] for eager loading.

mod context;
pub mod ddl;
mod error;
mod expr;
mod filter;
mod mutate;
pub mod plan;
mod select;

use crate::error::Result;
use crate::query::select::Select;
use crate::query::{Query, QueryBody, FORMAT_VERSION};
use crate::schema::{PgType, Schema};
use crate::types::Value;

pub use error::CompileError;
use error::R;
pub use plan::{compile_plan, Load, Plan};

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
///
/// A select with eager-loaded relations (`with`) is several statements; it
/// is compiled by [`compile_plan`], and refused here so that no relation is
/// silently left out.
pub fn compile(query: &Query, schema: &Schema) -> Result<Statement, CompileError> {
    check_version(query)?;
    if let QueryBody::Select(select) = &query.body {
        if !select.with.is_empty() {
            return Err(*CompileError::invalid(&select.from, format_args!("a select with eager-loaded relations (\"with\") is a plan of several statements: compile it with compile_plan")));
        }
    }
    Ok(compile_body(&query.body, schema)?)
}

pub(crate) fn check_version(query: &Query) -> R<()> {
    if query.version != FORMAT_VERSION {
        return Err(CompileError::unsupported_version(query.version));
    }
    Ok(())
}

pub(crate) fn compile_body(body: &QueryBody, schema: &Schema) -> R<Statement> {
    let mut ctx = context::Ctx::new(schema);
    let columns = match body {
        QueryBody::Select(s) => select::compile_select(&mut ctx, s)?,
        QueryBody::SetOp(s) => select::compile_set_query(&mut ctx, s)?,
        QueryBody::Insert(i) => mutate::compile_insert(&mut ctx, i)?,
        QueryBody::Update(u) => mutate::compile_update(&mut ctx, u)?,
        QueryBody::Delete(d) => mutate::compile_delete(&mut ctx, d)?,
        QueryBody::Raw(raw) => {
            for param in &raw.params {
                let value = ctx.value_of(&param.value, &param.ty, "raw", "")?;
                ctx.params.push(value);
                ctx.param_types.push(param.ty.clone());
            }
            return Ok(Statement {
                sql: raw.sql.clone(),
                params: ctx.params,
                param_types: ctx.param_types,
                columns: raw.columns.clone(),
            });
        }
    };
    Ok(statement(ctx, columns))
}

/// A plan's root: `select` with the keys its loads need.
pub(crate) fn compile_root(
    select: &Select,
    parts: &select::Parts<'_>,
    schema: &Schema,
) -> R<Statement> {
    let mut ctx = context::Ctx::new(schema);
    let columns = select::compile_select_as(&mut ctx, select, parts)?;
    Ok(statement(ctx, columns))
}

fn statement(ctx: context::Ctx<'_>, columns: Vec<select::OutColumn>) -> Statement {
    Statement {
        sql: ctx.sql,
        params: ctx.params,
        param_types: ctx.param_types,
        columns: columns.into_iter().map(|(name, _)| name).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{Direction, Filter, Select};

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
