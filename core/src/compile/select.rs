//! SELECT, set operations and CTEs.

use std::borrow::Cow;
use std::rc::Rc;

use super::context::{Ctx, Entry, TableRef};
use super::error::{CompileError, R};
use super::expr::{bare_column, compile_expr, has_aggregate, type_of, Clause};
use super::filter::{compile_filter, push_join};
use crate::query::select::{Cte, Join, OrderBy, Select, SelectItem, SetQuery};
use crate::query::{Direction, Filter, LockStrength, LockWait, Nulls, QueryBody};
use crate::schema::{Column, PgType, RelationKind, Table};

/// A result column: its name and, where known, its type.
pub(crate) type OutColumn = (String, Option<PgType>);

/// What an eager-loading plan adds to a select or puts in place of its
/// parts, borrowed so that no subtree of the query is cloned.
pub(crate) struct Parts<'q> {
    pub columns: &'q Option<Vec<SelectItem>>,
    /// Key columns appended to an explicit column list.
    pub keys: &'q [String],
    /// A condition ANDed after the select's own.
    pub filter: Option<&'q Filter>,
    pub order_by: &'q [OrderBy],
}

impl<'q> Parts<'q> {
    pub fn of(select: &'q Select) -> Parts<'q> {
        Parts {
            columns: &select.columns,
            keys: &[],
            filter: None,
            order_by: &select.order_by,
        }
    }
}

/// Writes a select at the current position, in its own scope level, and
/// returns its result columns.
pub(crate) fn compile_select(ctx: &mut Ctx<'_>, select: &Select) -> R<Vec<OutColumn>> {
    compile_select_as(ctx, select, &Parts::of(select))
}

/// [`compile_select`] with `parts` in place of the select's own.
pub(crate) fn compile_select_as(
    ctx: &mut Ctx<'_>,
    select: &Select,
    parts: &Parts<'_>,
) -> R<Vec<OutColumn>> {
    compile_ctes(ctx, &select.ctes)?;
    let table = ctx.table(&select.from)?;
    let alias = select.alias.clone().unwrap_or_else(|| table.name.clone());
    ctx.push_frame(Entry {
        name: alias.clone(),
        table: table.clone(),
    });
    let result = select_body(ctx, select, parts, &table, &alias);
    ctx.pop_frame();
    result
}

fn select_body(
    ctx: &mut Ctx<'_>,
    select: &Select,
    parts: &Parts<'_>,
    table: &TableRef<'_>,
    alias: &str,
) -> R<Vec<OutColumn>> {
    // Joins are declared first so the select list can name their columns,
    // and written after it, so the SQL and its parameter numbers read in order.
    for join in &select.joins {
        let saved = std::mem::take(&mut ctx.sql);
        let result = compile_join(ctx, join, table, alias, true);
        ctx.sql = saved;
        result?;
    }

    ctx.sql.push_str("SELECT ");
    if select.distinct {
        ctx.sql.push_str("DISTINCT ");
    }
    if !select.distinct_on.is_empty() {
        ctx.sql.push_str("DISTINCT ON (");
        for (i, e) in select.distinct_on.iter().enumerate() {
            if i > 0 {
                ctx.sql.push_str(", ");
            }
            compile_expr(ctx, e, None, Clause::GroupBy)?;
        }
        ctx.sql.push_str(") ");
    }

    let items = projection(ctx, select, parts, table)?;
    let aggregated = items.iter().any(|(e, _)| has_aggregate(e));
    if aggregated && select.group_by.is_empty() {
        if let Some(column) = items.iter().find_map(|(e, _)| bare_column(e)) {
            return Err(CompileError::aggregate_without_group_by(
                &table.name,
                column,
            ));
        }
    }
    let mut out: Vec<OutColumn> = Vec::with_capacity(items.len());
    for (i, (expr, name)) in items.iter().enumerate() {
        if out.iter().any(|(n, _)| n == name) {
            return Err(CompileError::duplicate_column(&table.name, name));
        }
        if i > 0 {
            ctx.sql.push_str(", ");
        }
        ctx.subject.clone_from(name);
        compile_expr(ctx, expr, None, Clause::Projection)?;
        let natural = match &**expr {
            crate::query::Expr::Column(c) => c.rsplit('.').next() == Some(name.as_str()),
            _ => false,
        };
        if !natural {
            ctx.sql.push_str(" AS ");
            ctx.push_ident(name);
        }
        out.push((name.clone(), type_of(ctx, expr)));
    }

    ctx.sql.push_str(" FROM ");
    ctx.push_table(table, alias);
    for join in &select.joins {
        compile_join(ctx, join, table, alias, false)?;
    }

    let keyset = select.after.as_ref();
    let filters = select.filter.iter().chain(parts.filter);
    let conditions = filters.clone().count() + usize::from(keyset.is_some());
    if conditions > 0 {
        ctx.sql.push_str(" WHERE ");
        ctx.subject.clear();
        for (i, filter) in filters.enumerate() {
            if i > 0 {
                ctx.sql.push_str(" AND ");
            }
            compile_filter(ctx, filter, conditions == 1, Clause::Where)?;
        }
        if let Some(cursor) = keyset {
            if conditions > 1 {
                ctx.sql.push_str(" AND ");
            }
            compile_keyset(ctx, parts.order_by, cursor, &table.name)?;
        }
    }

    if !select.group_by.is_empty() {
        ctx.sql.push_str(" GROUP BY ");
        for (i, e) in select.group_by.iter().enumerate() {
            if i > 0 {
                ctx.sql.push_str(", ");
            }
            // An expression that is also selected is grouped by its position:
            // written twice, its values would be two parameters, and
            // PostgreSQL would not see the two as the same expression.
            let position = items
                .iter()
                .position(|(item, _)| **item == *e && !matches!(e, crate::query::Expr::Column(_)));
            match position {
                Some(p) => ctx.sql.push_str(&(p + 1).to_string()),
                None => compile_expr(ctx, e, None, Clause::GroupBy)?,
            }
        }
    }
    if let Some(having) = &select.having {
        ctx.sql.push_str(" HAVING ");
        compile_filter(ctx, having, true, Clause::Projection)?;
    }
    compile_order_by(ctx, parts.order_by, " ORDER BY ")?;
    compile_paging(ctx, select.limit, select.offset, &table.name)?;

    if let Some(lock) = &select.lock {
        ctx.sql.push_str(match lock.strength {
            LockStrength::Update => " FOR UPDATE",
            LockStrength::NoKeyUpdate => " FOR NO KEY UPDATE",
            LockStrength::Share => " FOR SHARE",
            LockStrength::KeyShare => " FOR KEY SHARE",
        });
        for (i, name) in lock.of.iter().enumerate() {
            let known = ctx
                .frames
                .last()
                .is_some_and(|f| f.entries.iter().any(|e| &e.name == name));
            if !known {
                return Err(CompileError::unknown_model(name));
            }
            ctx.sql.push_str(if i == 0 { " OF " } else { ", " });
            ctx.push_ident(name);
        }
        match lock.wait {
            Some(LockWait::Nowait) => ctx.sql.push_str(" NOWAIT"),
            Some(LockWait::SkipLocked) => ctx.sql.push_str(" SKIP LOCKED"),
            None => {}
        }
    }
    Ok(out)
}

/// The select list as (expression, result name): the named items and the
/// plan's keys, or every column of the table minus `defer`. Borrowed where
/// the query has the expression, so no subtree is cloned.
fn projection<'q>(
    ctx: &Ctx<'_>,
    select: &Select,
    parts: &Parts<'q>,
    table: &Table,
) -> R<Vec<(Cow<'q, crate::query::Expr>, String)>> {
    for name in &select.defer {
        if table.column(name).is_none() {
            return Err(CompileError::unknown_column(&table.name, name));
        }
    }
    let column = |c: &String| -> R<_> {
        let name = ctx.resolve(c).map(|r| r.column().name.clone())?;
        Ok((Cow::Owned(crate::query::Expr::Column(c.clone())), name))
    };
    let mut items = Vec::new();
    match parts.columns {
        None => {
            for c in &table.columns {
                if !select.defer.contains(&c.name) {
                    let expr = crate::query::Expr::Column(c.name.clone());
                    items.push((Cow::Owned(expr), c.name.clone()));
                }
            }
        }
        Some(list) => {
            if !select.defer.is_empty() {
                return Err(CompileError::invalid(
                    &table.name,
                    format_args!("\"defer\" applies when \"columns\" is \"*\""),
                ));
            }
            items.reserve(list.len() + parts.keys.len());
            for item in list {
                items.push(match item {
                    SelectItem::Column(c) => column(c)?,
                    SelectItem::Expr { expr, alias } => (Cow::Borrowed(expr), alias.clone()),
                });
            }
            for key in parts.keys {
                items.push(column(key)?);
            }
        }
    }
    if items.is_empty() {
        return Err(CompileError::no_columns(&table.name));
    }
    Ok(items)
}

fn compile_join(
    ctx: &mut Ctx<'_>,
    join: &Join,
    from: &Table,
    from_alias: &str,
    declare: bool,
) -> R<()> {
    let kind = match join.kind {
        crate::query::JoinKind::Inner => " INNER JOIN ",
        crate::query::JoinKind::Left => " LEFT JOIN ",
    };
    match (&join.relation, &join.table) {
        (Some(name), None) => {
            if join.on.is_some() {
                return Err(CompileError::invalid(&from.name, format_args!("the join on relation {name:?} takes its condition from the foreign key; \"on\" is for explicit joins")));
            }
            let schema = ctx.schema;
            let source = schema
                .table(&from.name)
                .ok_or_else(|| CompileError::unknown_relation(&from.name, name))?;
            let relation = schema
                .relation(source, name)
                .ok_or_else(|| CompileError::unknown_relation(&from.name, name))?;
            let alias = join.alias.clone().unwrap_or_else(|| name.clone());
            if let (RelationKind::ManyToMany, Some(through)) = (relation.kind, &relation.through) {
                let through_alias = format!("{alias}_through");
                push_join(
                    ctx,
                    kind,
                    through.table,
                    (&through_alias, from_alias),
                    &through.source_pairs,
                    false,
                );
                push_join(
                    ctx,
                    kind,
                    relation.target,
                    (&alias, &through_alias),
                    &through.target_pairs,
                    true,
                );
                if declare {
                    ctx.add_entry(Entry {
                        name: through_alias.clone(),
                        table: TableRef::Schema(through.table),
                    })?;
                }
            } else {
                push_join(
                    ctx,
                    kind,
                    relation.target,
                    (&alias, from_alias),
                    &relation.pairs,
                    true,
                );
            }
            if declare {
                ctx.add_entry(Entry {
                    name: alias,
                    table: TableRef::Schema(relation.target),
                })?;
            }
            Ok(())
        }
        (None, Some(table_name)) => {
            let table = ctx.table(table_name)?;
            let alias = join.alias.clone().unwrap_or_else(|| table.name.clone());
            let on = join.on.as_ref().ok_or_else(|| {
                CompileError::invalid(
                    &from.name,
                    format_args!("the explicit join of {table_name:?} needs \"on\""),
                )
            })?;
            ctx.sql.push_str(kind);
            ctx.push_table(&table, &alias);
            if declare {
                // The condition is compiled when the join is written, so its
                // parameters are numbered where they appear.
                return ctx.add_entry(Entry { name: alias, table });
            }
            ctx.sql.push_str(" ON ");
            compile_filter(ctx, on, true, Clause::Where)
        }
        _ => Err(CompileError::invalid(
            &from.name,
            format_args!("a join names exactly one of \"relation\" and \"table\""),
        )),
    }
}

/// Rows strictly after `cursor` in `order_by` order. With one direction this
/// is a row comparison (which a composite index serves); mixed directions
/// expand to `a > $1 OR (a = $1 AND b < $2)`.
fn compile_keyset(
    ctx: &mut Ctx<'_>,
    order_by: &[OrderBy],
    cursor: &[serde_json::Value],
    model: &str,
) -> R<()> {
    if order_by.is_empty() || order_by.len() != cursor.len() {
        return Err(CompileError::invalid(
            model,
            format_args!(
                "\"after\" holds {} value(s) but \"order_by\" has {} column(s)",
                cursor.len(),
                order_by.len()
            ),
        ));
    }
    let mut columns = Vec::with_capacity(order_by.len());
    for order in order_by {
        let Some(name) = &order.column else {
            return Err(CompileError::invalid(
                model,
                format_args!("keyset pagination orders by columns, not expressions"),
            ));
        };
        let column = ctx.resolve(name)?;
        if column.column().nullable {
            return Err(column.invalid(format_args!(
                "keyset pagination needs NOT NULL columns: a NULL would end the page early"
            )));
        }
        columns.push((column, order.direction));
    }
    let uniform = columns.iter().all(|(_, d)| *d == columns[0].1);
    if uniform {
        let op = if columns[0].1 == Direction::Asc {
            " > "
        } else {
            " < "
        };
        ctx.sql.push('(');
        for (i, (c, _)) in columns.iter().enumerate() {
            if i > 0 {
                ctx.sql.push_str(", ");
            }
            ctx.push_column(c);
        }
        ctx.sql.push(')');
        ctx.sql.push_str(op);
        ctx.sql.push('(');
        for (i, ((c, _), value)) in columns.iter().zip(cursor).enumerate() {
            if i > 0 {
                ctx.sql.push_str(", ");
            }
            let column = c.column();
            ctx.bind_json(value, &column.ty, &c.table.name, &column.name)?;
        }
        ctx.sql.push(')');
        return Ok(());
    }
    ctx.sql.push('(');
    for i in 0..columns.len() {
        if i > 0 {
            ctx.sql.push_str(" OR ");
        }
        ctx.sql.push('(');
        for (j, ((c, direction), value)) in columns.iter().zip(cursor).enumerate().take(i + 1) {
            if j > 0 {
                ctx.sql.push_str(" AND ");
            }
            ctx.push_column(c);
            ctx.sql.push_str(if j < i {
                " = "
            } else if *direction == Direction::Asc {
                " > "
            } else {
                " < "
            });
            let column = c.column();
            ctx.bind_json(value, &column.ty, &c.table.name, &column.name)?;
        }
        ctx.sql.push(')');
    }
    ctx.sql.push(')');
    Ok(())
}

pub(crate) fn compile_order_by(ctx: &mut Ctx<'_>, order_by: &[OrderBy], keyword: &str) -> R<()> {
    for (i, order) in order_by.iter().enumerate() {
        ctx.sql.push_str(if i == 0 { keyword } else { ", " });
        match (&order.column, &order.expr) {
            (Some(name), None) => {
                let column = ctx.resolve(name)?;
                ctx.push_column(&column);
            }
            (None, Some(expr)) => compile_expr(ctx, expr, None, Clause::Projection)?,
            _ => {
                return Err(CompileError::invalid(
                    ctx.model(),
                    format_args!("an order_by entry names exactly one of \"column\" and \"expr\""),
                ))
            }
        }
        ctx.sql.push_str(match order.direction {
            Direction::Asc => " ASC",
            Direction::Desc => " DESC",
        });
        match order.nulls {
            Some(Nulls::First) => ctx.sql.push_str(" NULLS FIRST"),
            Some(Nulls::Last) => ctx.sql.push_str(" NULLS LAST"),
            None => {}
        }
    }
    Ok(())
}

fn compile_paging(
    ctx: &mut Ctx<'_>,
    limit: Option<u64>,
    offset: Option<u64>,
    model: &str,
) -> R<()> {
    for (keyword, n) in [(" LIMIT ", limit), (" OFFSET ", offset)] {
        if let Some(n) = n {
            let value = i64::try_from(n).map_err(|_| CompileError::limit_out_of_range(model, n))?;
            ctx.sql.push_str(keyword);
            ctx.bind_json(&serde_json::Value::from(value), &PgType::Int8, model, "")?;
        }
    }
    Ok(())
}

/// Writes a set operation; its result columns are the first select's.
pub(crate) fn compile_set_query(ctx: &mut Ctx<'_>, query: &SetQuery) -> R<Vec<OutColumn>> {
    let (first, rest) = query.queries.split_first().ok_or_else(|| {
        CompileError::invalid(
            "",
            format_args!("a set operation needs at least two selects"),
        )
    })?;
    if rest.is_empty() {
        return Err(CompileError::invalid(
            &first.from,
            format_args!("a set operation needs at least two selects"),
        ));
    }
    let columns = set_member(ctx, first)?;
    for select in rest {
        ctx.sql.push_str(query.op.sql());
        let other = set_member(ctx, select)?;
        if other.len() != columns.len() {
            return Err(CompileError::invalid(
                &select.from,
                format_args!(
                    "each select of a set operation returns {} column(s), this one {}",
                    columns.len(),
                    other.len()
                ),
            ));
        }
    }
    finish_set_query(ctx, query, &columns, &first.from)?;
    Ok(columns)
}

fn set_member(ctx: &mut Ctx<'_>, select: &Select) -> R<Vec<OutColumn>> {
    ctx.sql.push('(');
    let columns = compile_select(ctx, select)?;
    ctx.sql.push(')');
    Ok(columns)
}

/// ORDER BY, LIMIT and OFFSET of a whole set operation: by result column name.
fn finish_set_query(
    ctx: &mut Ctx<'_>,
    query: &SetQuery,
    columns: &[OutColumn],
    model: &str,
) -> R<()> {
    let result = Rc::new(virtual_table(model, columns));
    ctx.push_frame(Entry {
        name: model.to_owned(),
        table: TableRef::Virtual(result),
    });
    if let Some(frame) = ctx.frames.last_mut() {
        frame.qualify = false;
    }
    let ordered = compile_order_by(ctx, &query.order_by, " ORDER BY ");
    ctx.pop_frame();
    ordered?;
    compile_paging(ctx, query.limit, query.offset, model)
}

fn virtual_table(name: &str, columns: &[OutColumn]) -> Table {
    let mut list = Vec::with_capacity(columns.len());
    for (n, t) in columns {
        list.push(Column {
            name: n.clone(),
            ty: t.clone().unwrap_or(PgType::Text),
            nullable: true,
            default: None,
        });
    }
    Table {
        name: name.to_owned(),
        schema: None,
        columns: list,
        primary_key: Vec::new(),
        unique: Vec::new(),
        foreign_keys: Vec::new(),
        many_to_many: Vec::new(),
        indexes: Vec::new(),
    }
}

/// `WITH [RECURSIVE] a AS (...), b AS (...) `. Each CTE becomes a table the
/// rest of the statement can name; a recursive one is typed from its base case.
fn compile_ctes(ctx: &mut Ctx<'_>, ctes: &[Cte]) -> R<()> {
    if ctes.is_empty() {
        return Ok(());
    }
    ctx.sql.push_str(if ctes.iter().any(|c| c.recursive) {
        "WITH RECURSIVE "
    } else {
        "WITH "
    });
    for (i, cte) in ctes.iter().enumerate() {
        if i > 0 {
            ctx.sql.push_str(", ");
        }
        ctx.push_ident(&cte.name);
        ctx.sql.push_str(" AS (");
        let columns = if cte.recursive {
            let QueryBody::SetOp(set) = cte.query.as_ref() else {
                return Err(CompileError::invalid(&cte.name, format_args!("a recursive CTE is a set operation: the base case, then the recursive step")));
            };
            let (base, steps) = set.queries.split_first().ok_or_else(|| {
                CompileError::invalid(&cte.name, format_args!("a recursive CTE needs a base case"))
            })?;
            let columns = set_member(ctx, base)?;
            ctx.ctes.push(Rc::new(virtual_table(&cte.name, &columns)));
            for step in steps {
                ctx.sql.push_str(set.op.sql());
                set_member(ctx, step)?;
            }
            columns
        } else {
            let columns = compile_body(ctx, &cte.query)?;
            ctx.ctes.push(Rc::new(virtual_table(&cte.name, &columns)));
            columns
        };
        if columns.is_empty() {
            return Err(CompileError::no_columns(&cte.name));
        }
        ctx.sql.push(')');
    }
    ctx.sql.push(' ');
    Ok(())
}

/// Any query body in a CTE: selects, set operations, or data-modifying
/// statements with RETURNING.
fn compile_body(ctx: &mut Ctx<'_>, body: &QueryBody) -> R<Vec<OutColumn>> {
    match body {
        QueryBody::Select(s) => compile_select(ctx, s),
        QueryBody::SetOp(s) => compile_set_query(ctx, s),
        QueryBody::Insert(i) => super::mutate::compile_insert(ctx, i),
        QueryBody::Update(u) => super::mutate::compile_update(ctx, u),
        QueryBody::Delete(d) => super::mutate::compile_delete(ctx, d),
        QueryBody::Raw(_) => Err(CompileError::invalid(
            "",
            format_args!("raw SQL cannot be a CTE; write the whole statement as raw SQL"),
        )),
    }
}
