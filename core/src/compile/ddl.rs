//! DDL from the schema: types, tables, keys, indexes and materialized views.
//!
//! Defaults, checks and index predicates are SQL text in the schema, which is
//! trusted developer input like a migration; names are always quoted.

use super::context::{push_ident, push_type, Ctx};
use super::error::{CompileError, R};
use super::select::compile_select;
use crate::schema::{FkAction, Index, Schema, Table, View};

/// Every statement that creates `schema` in an empty database, in an order
/// that works: types, domains, tables, foreign keys (after all tables, so
/// tables may reference each other in any order), indexes, views.
pub fn create_schema(schema: &Schema) -> Result<Vec<String>, CompileError> {
    let mut out = Vec::new();
    for e in &schema.enums {
        let mut sql = String::from("CREATE TYPE ");
        push_ident(&mut sql, &e.name);
        sql.push_str(" AS ENUM (");
        for (i, label) in e.values.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            push_string(&mut sql, label, &e.name)?;
        }
        sql.push(')');
        out.push(sql);
    }
    for d in &schema.domains {
        let mut sql = String::from("CREATE DOMAIN ");
        push_ident(&mut sql, &d.name);
        sql.push_str(" AS ");
        push_type(&mut sql, &d.ty);
        if d.not_null {
            sql.push_str(" NOT NULL");
        }
        if let Some(check) = &d.check {
            sql.push_str(" CHECK (");
            sql.push_str(check);
            sql.push(')');
        }
        out.push(sql);
    }
    for table in &schema.tables {
        out.push(create_table(schema, table)?);
    }
    for table in &schema.tables {
        out.extend(foreign_keys(schema, table)?);
    }
    for table in &schema.tables {
        for index in &table.indexes {
            out.push(create_index(table, index)?);
        }
    }
    for view in &schema.views {
        out.push(create_materialized_view(schema, view)?);
    }
    Ok(out)
}

pub fn create_table(schema: &Schema, table: &Table) -> Result<String, CompileError> {
    let mut sql = String::from("CREATE TABLE ");
    push_table_name(&mut sql, table);
    sql.push_str(" (");
    for (i, column) in table.columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        if let crate::schema::PgType::Named(name) = &column.ty {
            if schema.named_type(name).is_none() {
                return Err(*CompileError::invalid_column(&table.name, &column.name, format_args!("type {name:?} is neither a built-in type nor declared in the schema's enums or domains")));
            }
        }
        push_ident(&mut sql, &column.name);
        sql.push(' ');
        push_type(&mut sql, &column.ty);
        if !column.nullable {
            sql.push_str(" NOT NULL");
        }
        if let Some(default) = &column.default {
            sql.push_str(" DEFAULT ");
            sql.push_str(default);
        }
    }
    if !table.primary_key.is_empty() {
        sql.push_str(", PRIMARY KEY ");
        push_columns(&mut sql, table, &table.primary_key)?;
    }
    for unique in &table.unique {
        sql.push_str(", ");
        if let Some(name) = &unique.name {
            sql.push_str("CONSTRAINT ");
            push_ident(&mut sql, name);
            sql.push(' ');
        }
        sql.push_str("UNIQUE ");
        push_columns(&mut sql, table, &unique.columns)?;
    }
    sql.push(')');
    Ok(sql)
}

fn foreign_keys(schema: &Schema, table: &Table) -> R<Vec<String>> {
    let mut out = Vec::new();
    for fk in &table.foreign_keys {
        let target = schema
            .table(&fk.references)
            .ok_or_else(|| CompileError::unknown_model(&fk.references))?;
        let referenced = if fk.referenced_columns.is_empty() {
            &target.primary_key
        } else {
            &fk.referenced_columns
        };
        let mut sql = String::from("ALTER TABLE ");
        push_table_name(&mut sql, table);
        sql.push_str(" ADD FOREIGN KEY ");
        push_columns(&mut sql, table, &fk.columns)?;
        sql.push_str(" REFERENCES ");
        push_table_name(&mut sql, target);
        sql.push(' ');
        push_columns(&mut sql, target, referenced)?;
        if let Some(action) = fk.on_delete {
            sql.push_str(match action {
                FkAction::Cascade => " ON DELETE CASCADE",
                FkAction::Restrict => " ON DELETE RESTRICT",
                FkAction::SetNull => " ON DELETE SET NULL",
                FkAction::NoAction => " ON DELETE NO ACTION",
            });
        }
        out.push(sql);
    }
    Ok(out)
}

/// `CREATE [UNIQUE] INDEX name ON table [USING method] (cols) [INCLUDE (cols)] [WHERE pred]`.
pub fn create_index(table: &Table, index: &Index) -> Result<String, CompileError> {
    let mut sql = String::from(if index.unique {
        "CREATE UNIQUE INDEX "
    } else {
        "CREATE INDEX "
    });
    push_ident(&mut sql, &index.name);
    sql.push_str(" ON ");
    push_table_name(&mut sql, table);
    if let Some(method) = &index.using {
        if !method.chars().all(|c| c.is_ascii_lowercase()) || method.is_empty() {
            return Err(*CompileError::invalid(
                &table.name,
                format_args!("index method {method:?} is not a plain name"),
            ));
        }
        sql.push_str(" USING ");
        sql.push_str(method);
    }
    sql.push(' ');
    push_columns(&mut sql, table, &index.columns)?;
    if !index.include.is_empty() {
        sql.push_str(" INCLUDE ");
        push_columns(&mut sql, table, &index.include)?;
    }
    if let Some(predicate) = &index.predicate {
        sql.push_str(" WHERE ");
        sql.push_str(predicate);
    }
    Ok(sql)
}

/// `CREATE MATERIALIZED VIEW name AS select`. DDL takes no parameters, so
/// the select's values are written as escaped, typed literals.
pub fn create_materialized_view(schema: &Schema, view: &View) -> Result<String, CompileError> {
    let mut ctx = Ctx::new(schema);
    ctx.inline = true;
    ctx.sql.push_str("CREATE MATERIALIZED VIEW ");
    ctx.push_ident(&view.name);
    ctx.sql.push_str(" AS ");
    compile_select(&mut ctx, &view.query)?;
    Ok(ctx.sql)
}

/// `REFRESH MATERIALIZED VIEW [CONCURRENTLY] name`. CONCURRENTLY keeps the
/// view readable during the refresh and needs a unique index on it.
pub fn refresh_materialized_view(name: &str, concurrently: bool) -> String {
    let mut sql = String::from(if concurrently {
        "REFRESH MATERIALIZED VIEW CONCURRENTLY "
    } else {
        "REFRESH MATERIALIZED VIEW "
    });
    push_ident(&mut sql, name);
    sql
}

fn push_table_name(sql: &mut String, table: &Table) {
    if let Some(pg_schema) = &table.schema {
        push_ident(sql, pg_schema);
        sql.push('.');
    }
    push_ident(sql, &table.name);
}

fn push_columns(sql: &mut String, table: &Table, columns: &[String]) -> R<()> {
    sql.push('(');
    for (i, name) in columns.iter().enumerate() {
        if table.column(name).is_none() {
            return Err(CompileError::unknown_column(&table.name, name));
        }
        if i > 0 {
            sql.push_str(", ");
        }
        push_ident(sql, name);
    }
    sql.push(')');
    Ok(())
}

fn push_string(sql: &mut String, text: &str, model: &str) -> R<()> {
    if text.contains('\0') {
        return Err(CompileError::invalid(
            model,
            format_args!("a NUL character cannot be stored in PostgreSQL text"),
        ));
    }
    sql.push_str("E'");
    for c in text.chars() {
        match c {
            '\'' => sql.push_str("''"),
            '\\' => sql.push_str("\\\\"),
            c => sql.push(c),
        }
    }
    sql.push('\'');
    Ok(())
}
