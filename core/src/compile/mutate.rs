//! INSERT, UPDATE and DELETE.

use std::collections::BTreeMap;

use super::context::{Ctx, Entry};
use super::error::{CompileError, R};
use super::expr::{compile_expr, has_aggregate, type_of, Clause};
use super::filter::compile_filter;
use super::select::{compile_select, OutColumn};
use crate::query::mutate::{ConflictAction, Delete, Insert, InsertSource, Update};
use crate::query::{Expr, SelectItem};
use crate::schema::Table;

pub(crate) fn compile_insert(ctx: &mut Ctx<'_>, insert: &Insert) -> R<Vec<OutColumn>> {
    let table = ctx.table(&insert.into)?;
    ctx.push_frame(Entry {
        name: table.name.clone(),
        table: table.clone(),
    });
    let result = insert_body(ctx, insert, &table);
    ctx.pop_frame();
    result
}

fn insert_body(ctx: &mut Ctx<'_>, insert: &Insert, table: &Table) -> R<Vec<OutColumn>> {
    ctx.sql.push_str("INSERT INTO ");
    ctx.push_table(table, &table.name);
    match &insert.source {
        InsertSource::Rows(rows) => insert_rows(ctx, table, rows)?,
        InsertSource::Select(source) => {
            if source.columns.is_empty() {
                return Err(CompileError::no_columns(&table.name));
            }
            ctx.sql.push_str(" (");
            for (i, name) in source.columns.iter().enumerate() {
                let column = known_column(table, name)?;
                if i > 0 {
                    ctx.sql.push_str(", ");
                }
                ctx.push_ident(&column.name);
            }
            ctx.sql.push_str(") ");
            let produced = compile_select(ctx, &source.query)?;
            if produced.len() != source.columns.len() {
                return Err(CompileError::invalid(
                    &table.name,
                    format_args!(
                        "INSERT ... SELECT fills {} column(s) but the select returns {}",
                        source.columns.len(),
                        produced.len()
                    ),
                ));
            }
        }
    }
    if let Some(conflict) = &insert.on_conflict {
        ctx.sql.push_str(" ON CONFLICT");
        match (&conflict.constraint, conflict.columns.is_empty()) {
            (Some(name), true) => {
                ctx.sql.push_str(" ON CONSTRAINT ");
                ctx.push_ident(name);
            }
            (None, false) => {
                ctx.sql.push_str(" (");
                for (i, name) in conflict.columns.iter().enumerate() {
                    let column = known_column(table, name)?;
                    if i > 0 {
                        ctx.sql.push_str(", ");
                    }
                    ctx.push_ident(&column.name);
                }
                ctx.sql.push(')');
            }
            (None, true) if matches!(conflict.action, ConflictAction::Nothing) => {}
            _ => return Err(CompileError::invalid(&table.name, format_args!("ON CONFLICT names either \"columns\" or a \"constraint\" (DO UPDATE needs one)"))),
        }
        match &conflict.action {
            ConflictAction::Nothing => ctx.sql.push_str(" DO NOTHING"),
            ConflictAction::Update { set, filter } => {
                ctx.sql.push_str(" DO UPDATE SET ");
                // EXCLUDED is in scope too, so the target's columns must be qualified.
                if let Some(frame) = ctx.frames.last_mut() {
                    frame.qualify = true;
                }
                assignments(ctx, table, set)?;
                if let Some(filter) = filter {
                    ctx.sql.push_str(" WHERE ");
                    compile_filter(ctx, filter, true, Clause::Where)?;
                }
            }
        }
    }
    returning(ctx, table, &insert.returning)
}

fn insert_rows(
    ctx: &mut Ctx<'_>,
    table: &Table,
    rows: &[BTreeMap<String, serde_json::Value>],
) -> R<()> {
    if rows.is_empty() {
        return Err(CompileError::invalid(
            &table.name,
            format_args!("an insert needs at least one row"),
        ));
    }
    for row in rows {
        for key in row.keys() {
            known_column(table, key)?;
        }
    }
    // Schema order, so the statement text does not depend on key order.
    let columns: Vec<&crate::schema::Column> = table
        .columns
        .iter()
        .filter(|c| rows.iter().any(|r| r.contains_key(&c.name)))
        .collect();
    for column in &table.columns {
        let missing_somewhere = rows.iter().any(|r| !r.contains_key(&column.name));
        if missing_somewhere && !column.nullable && column.default.is_none() {
            return Err(CompileError::null_not_allowed(&table.name, &column.name));
        }
    }
    if columns.is_empty() {
        if rows.len() > 1 {
            return Err(CompileError::invalid(
                &table.name,
                format_args!("several rows of defaults only: insert them one by one"),
            ));
        }
        ctx.sql.push_str(" DEFAULT VALUES");
        return Ok(());
    }
    ctx.sql.push_str(" (");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            ctx.sql.push_str(", ");
        }
        ctx.push_ident(&column.name);
    }
    ctx.sql.push_str(") VALUES ");
    for (r, row) in rows.iter().enumerate() {
        ctx.sql.push_str(if r == 0 { "(" } else { ", (" });
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                ctx.sql.push_str(", ");
            }
            match row.get(&column.name) {
                None => ctx.sql.push_str("DEFAULT"),
                Some(value) => {
                    if value.is_null() && !column.nullable {
                        return Err(CompileError::null_not_allowed(&table.name, &column.name));
                    }
                    ctx.bind_json(value, &column.ty, &table.name, &column.name)?;
                }
            }
        }
        ctx.sql.push(')');
    }
    Ok(())
}

fn known_column<'t>(table: &'t Table, name: &str) -> R<&'t crate::schema::Column> {
    table
        .column(name)
        .ok_or_else(|| CompileError::unknown_column(&table.name, name))
}

/// `"a" = expr, "b" = expr`: each value takes its column's type; NULL into a
/// NOT NULL column is refused here rather than by the server.
fn assignments(ctx: &mut Ctx<'_>, table: &Table, set: &BTreeMap<String, Expr>) -> R<()> {
    if set.is_empty() {
        return Err(CompileError::invalid(
            &table.name,
            format_args!("SET needs at least one column"),
        ));
    }
    for (i, (name, expr)) in set.iter().enumerate() {
        let column = known_column(table, name)?;
        if !column.nullable && matches!(expr, Expr::Value(serde_json::Value::Null)) {
            return Err(CompileError::null_not_allowed(&table.name, &column.name));
        }
        if has_aggregate(expr) {
            return Err(CompileError::aggregate_not_allowed(
                &table.name,
                &column.name,
                "SET",
            ));
        }
        if i > 0 {
            ctx.sql.push_str(", ");
        }
        ctx.push_ident(&column.name);
        ctx.sql.push_str(" = ");
        ctx.subject.clone_from(&column.name);
        compile_expr(ctx, expr, Some(&column.ty), Clause::Assignment)?;
    }
    ctx.subject.clear();
    Ok(())
}

fn returning(ctx: &mut Ctx<'_>, table: &Table, items: &[SelectItem]) -> R<Vec<OutColumn>> {
    let mut out: Vec<OutColumn> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        ctx.sql.push_str(if i == 0 { " RETURNING " } else { ", " });
        let (name, ty) = match item {
            SelectItem::Column(c) => {
                let column = ctx.resolve(c)?;
                ctx.push_column(&column);
                let column = column.column();
                (column.name.clone(), Some(column.ty.clone()))
            }
            SelectItem::Expr { expr, alias } => {
                ctx.subject.clone_from(alias);
                compile_expr(ctx, expr, None, Clause::Assignment)?;
                ctx.sql.push_str(" AS ");
                ctx.push_ident(alias);
                (alias.clone(), type_of(ctx, expr))
            }
        };
        if out.iter().any(|(n, _)| *n == name) {
            return Err(CompileError::duplicate_column(&table.name, &name));
        }
        out.push((name, ty));
    }
    Ok(out)
}

pub(crate) fn compile_update(ctx: &mut Ctx<'_>, update: &Update) -> R<Vec<OutColumn>> {
    let table = ctx.table(&update.table)?;
    if update.filter.is_none() && !update.all_rows {
        return Err(CompileError::unfiltered_mutation(&table.name, "UPDATE"));
    }
    ctx.push_frame(Entry {
        name: table.name.clone(),
        table: table.clone(),
    });
    let result = (|| {
        ctx.sql.push_str("UPDATE ");
        ctx.push_table(&table, &table.name);
        ctx.sql.push_str(" SET ");
        assignments(ctx, &table, &update.set)?;
        if let Some(filter) = &update.filter {
            ctx.sql.push_str(" WHERE ");
            compile_filter(ctx, filter, true, Clause::Where)?;
        }
        returning(ctx, &table, &update.returning)
    })();
    ctx.pop_frame();
    result
}

pub(crate) fn compile_delete(ctx: &mut Ctx<'_>, delete: &Delete) -> R<Vec<OutColumn>> {
    let table = ctx.table(&delete.from)?;
    if delete.filter.is_none() && !delete.all_rows {
        return Err(CompileError::unfiltered_mutation(&table.name, "DELETE"));
    }
    ctx.push_frame(Entry {
        name: table.name.clone(),
        table: table.clone(),
    });
    let result = (|| {
        ctx.sql.push_str("DELETE FROM ");
        ctx.push_table(&table, &table.name);
        if let Some(filter) = &delete.filter {
            ctx.sql.push_str(" WHERE ");
            compile_filter(ctx, filter, true, Clause::Where)?;
        }
        returning(ctx, &table, &delete.returning)
    })();
    ctx.pop_frame();
    result
}
