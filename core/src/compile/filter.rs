//! Conditions: WHERE, HAVING, ON and CASE WHEN.

use super::context::{ColumnRef, Ctx, Entry, TableRef};
use super::error::{CompileError, R};
use super::expr::{compile_expr, type_of, Clause};
use super::select::compile_select;
use crate::query::filter::{Compare, Filter, InList};
use crate::query::Expr;
use crate::schema::{PgType, RelationKind, Table};

/// Writes `filter`. `top` leaves a top-level AND unparenthesised; anything
/// nested is parenthesised, so precedence never depends on the caller.
pub(crate) fn compile_filter(
    ctx: &mut Ctx<'_>,
    filter: &Filter,
    top: bool,
    clause: Clause,
) -> R<()> {
    match filter {
        Filter::Eq(c) => compare(ctx, c, " = ", Some(" IS NULL"), clause)?,
        Filter::Ne(c) => compare(ctx, c, " <> ", Some(" IS NOT NULL"), clause)?,
        Filter::Lt(c) => compare(ctx, c, " < ", None, clause)?,
        Filter::Lte(c) => compare(ctx, c, " <= ", None, clause)?,
        Filter::Gt(c) => compare(ctx, c, " > ", None, clause)?,
        Filter::Gte(c) => compare(ctx, c, " >= ", None, clause)?,
        Filter::IsDistinctFrom(c) => compare(ctx, c, " IS DISTINCT FROM ", None, clause)?,
        Filter::IsNotDistinctFrom(c) => compare(ctx, c, " IS NOT DISTINCT FROM ", None, clause)?,
        Filter::In(list) => in_list(ctx, list, false)?,
        Filter::NotIn(list) => in_list(ctx, list, true)?,
        Filter::Between(b) => {
            let column = ctx.resolve(&b.column)?;
            let ty = &column.column().ty;
            ctx.push_column(&column);
            ctx.sql.push_str(" BETWEEN ");
            bind(ctx, &b.low, ty, &column)?;
            ctx.sql.push_str(" AND ");
            bind(ctx, &b.high, ty, &column)?;
        }
        Filter::Like(p) => pattern(ctx, &p.column, &p.pattern, " LIKE ")?,
        Filter::Ilike(p) => pattern(ctx, &p.column, &p.pattern, " ILIKE ")?,
        Filter::NotLike(p) => pattern(ctx, &p.column, &p.pattern, " NOT LIKE ")?,
        Filter::NotIlike(p) => pattern(ctx, &p.column, &p.pattern, " NOT ILIKE ")?,
        Filter::IsNull(name) | Filter::IsNotNull(name) => {
            let column = ctx.resolve(name)?;
            ctx.push_column(&column);
            ctx.sql.push_str(if matches!(filter, Filter::IsNull(_)) {
                " IS NULL"
            } else {
                " IS NOT NULL"
            });
        }
        Filter::JsonContains(cv) => {
            let column = ctx.resolve(&cv.column)?;
            require_jsonb(&column, "@>")?;
            ctx.push_column(&column);
            ctx.sql.push_str(" @> ");
            bind(ctx, &cv.value, &column.column().ty, &column)?;
        }
        Filter::JsonHasKey(ck) => {
            let column = ctx.resolve(&ck.column)?;
            require_jsonb(&column, "?")?;
            ctx.push_column(&column);
            ctx.sql.push_str(" ? ");
            let key = serde_json::Value::String(ck.key.clone());
            bind(ctx, &key, &PgType::Text, &column)?;
        }
        Filter::ArrayContains(cv) | Filter::ArrayOverlaps(cv) => {
            let column = ctx.resolve(&cv.column)?;
            let ty = &column.column().ty;
            if !matches!(ty, PgType::Array(_)) {
                return Err(column.invalid(format_args!(
                    "array operators need an array column, this one is {ty}"
                )));
            }
            ctx.push_column(&column);
            ctx.sql
                .push_str(if matches!(filter, Filter::ArrayContains(_)) {
                    " @> "
                } else {
                    " && "
                });
            bind(ctx, &cv.value, ty, &column)?;
        }
        Filter::TextSearch(ts) => {
            let column = ctx.resolve(&ts.column)?;
            let config = ts
                .config
                .as_ref()
                .map(|c| serde_json::Value::String(c.clone()));
            ctx.sql.push_str("to_tsvector(");
            if let Some(config) = &config {
                bind(ctx, config, &PgType::Text, &column)?;
                ctx.sql.push_str("::regconfig, ");
            }
            ctx.push_column(&column);
            ctx.sql.push_str(") @@ plainto_tsquery(");
            if let Some(config) = &config {
                bind(ctx, config, &PgType::Text, &column)?;
                ctx.sql.push_str("::regconfig, ");
            }
            let query = serde_json::Value::String(ts.query.clone());
            bind(ctx, &query, &PgType::Text, &column)?;
            ctx.sql.push(')');
        }
        Filter::And(all) | Filter::Or(all) => {
            let (joiner, empty) = if matches!(filter, Filter::And(_)) {
                (" AND ", "TRUE")
            } else {
                (" OR ", "FALSE")
            };
            if all.is_empty() {
                ctx.sql.push_str(empty);
                return Ok(());
            }
            let wrap = !top && all.len() > 1;
            if wrap {
                ctx.sql.push('(');
            }
            for (i, f) in all.iter().enumerate() {
                if i > 0 {
                    ctx.sql.push_str(joiner);
                }
                compile_filter(ctx, f, false, clause)?;
            }
            if wrap {
                ctx.sql.push(')');
            }
        }
        Filter::Not(inner) => {
            ctx.sql.push_str("NOT (");
            compile_filter(ctx, inner, true, clause)?;
            ctx.sql.push(')');
        }
        Filter::Exists(select) | Filter::NotExists(select) => {
            if matches!(filter, Filter::NotExists(_)) {
                ctx.sql.push_str("NOT ");
            }
            ctx.sql.push_str("EXISTS (");
            compile_select(ctx, select)?;
            ctx.sql.push(')');
        }
        Filter::Has(has) => {
            let model = ctx.model();
            // Relations are declared on schema tables; a CTE has none.
            let (outer, source) = match ctx.frames.last().and_then(|f| f.entries.first()) {
                Some(Entry {
                    name,
                    table: TableRef::Schema(t),
                }) => (name.clone(), *t),
                Some(_) => {
                    return Err(CompileError::invalid(
                        model,
                        format_args!("a CTE has no relations; join it explicitly"),
                    ))
                }
                None => {
                    return Err(CompileError::invalid(
                        model,
                        format_args!("a relation filter needs a table"),
                    ))
                }
            };
            let relation = ctx
                .schema
                .relation(source, &has.relation)
                .ok_or_else(|| CompileError::unknown_relation(model, &has.relation))?;
            ctx.sql.push_str("EXISTS (SELECT 1 FROM ");
            let alias = unique_alias(ctx, &has.relation);
            ctx.push_table(relation.target, &alias);
            match (&relation.kind, &relation.through) {
                (RelationKind::ManyToMany, Some(through)) => {
                    let through_alias = format!("{alias}_through");
                    push_join(
                        ctx,
                        " INNER JOIN ",
                        through.table,
                        (&through_alias, &alias),
                        &through.target_pairs,
                        false,
                    );
                    ctx.sql.push_str(" WHERE ");
                    push_pairs(ctx, (&through_alias, &outer), &through.source_pairs, false);
                }
                _ => {
                    ctx.sql.push_str(" WHERE ");
                    push_pairs(ctx, (&alias, &outer), &relation.pairs, true);
                }
            }
            if let Some(inner) = &has.filter {
                ctx.sql.push_str(" AND ");
                ctx.push_frame(Entry {
                    name: alias,
                    table: TableRef::Schema(relation.target),
                });
                if let Some(frame) = ctx.frames.last_mut() {
                    frame.qualify = true;
                }
                let result = compile_filter(ctx, inner, false, Clause::Where);
                ctx.pop_frame();
                result?;
            }
            ctx.sql.push(')');
        }
        Filter::Expr(e) => compile_expr(ctx, e, Some(&PgType::Bool), clause)?,
    }
    Ok(())
}

/// An alias not used by any level in scope, so an inner table never
/// shadows the outer one its condition refers to.
pub(crate) fn unique_alias(ctx: &Ctx<'_>, base: &str) -> String {
    let taken = |name: &str| {
        ctx.frames
            .iter()
            .any(|f| f.entries.iter().any(|e| e.name == name))
    };
    if !taken(base) {
        return base.to_owned();
    }
    let mut n = 2;
    loop {
        let candidate = format!("{base}_{n}");
        if !taken(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// `"a"."x" = "b"."y" AND ...`.
/// `{kind}{table} AS alias ON a.x = b.y AND ...`: one joined table with its
/// key equalities, as relation joins and `has` filters both write it.
/// `kind table AS alias ON ...`, the condition as [`push_pairs`] writes it
/// with `alias` on the left.
pub(crate) fn push_join(
    ctx: &mut Ctx<'_>,
    kind: &str,
    table: &Table,
    (alias, other): (&str, &str),
    pairs: &[(&str, &str)],
    flip: bool,
) {
    ctx.sql.push_str(kind);
    ctx.push_table(table, alias);
    ctx.sql.push_str(" ON ");
    push_pairs(ctx, (alias, other), pairs, flip);
}

/// `left.a = right.b AND ...` for each pair `(a, b)`, or `(b, a)` when
/// `flip`: one slice walk rather than an iterator adapter per caller.
pub(crate) fn push_pairs(
    ctx: &mut Ctx<'_>,
    (left, right): (&str, &str),
    pairs: &[(&str, &str)],
    flip: bool,
) {
    for (i, &(a, b)) in pairs.iter().enumerate() {
        if i > 0 {
            ctx.sql.push_str(" AND ");
        }
        let (a, b) = if flip { (b, a) } else { (a, b) };
        ctx.push_ident(left);
        ctx.sql.push('.');
        ctx.push_ident(a);
        ctx.sql.push_str(" = ");
        ctx.push_ident(right);
        ctx.sql.push('.');
        ctx.push_ident(b);
    }
}

/// Binds `json` as a `ty` compared with `column`, which a mismatch names.
fn bind(ctx: &mut Ctx<'_>, json: &serde_json::Value, ty: &PgType, column: &ColumnRef<'_>) -> R<()> {
    ctx.bind_json(json, ty, &column.table.name, &column.column().name)
}

fn require_jsonb(column: &ColumnRef<'_>, op: &str) -> R<()> {
    match &column.column().ty {
        PgType::Jsonb => Ok(()),
        ty => Err(column.invalid(format_args!("{op} needs a jsonb column, this one is {ty}"))),
    }
}

fn compare(
    ctx: &mut Ctx<'_>,
    c: &Compare,
    op: &str,
    null_form: Option<&str>,
    clause: Clause,
) -> R<()> {
    match c {
        Compare::ColumnValue { column, value } => {
            let column = ctx.resolve(column)?;
            ctx.push_column(&column);
            if value.is_null() {
                // `= NULL` is never true; a null literal means "is null", as in Prisma.
                if let Some(null_form) = null_form {
                    ctx.sql.push_str(null_form);
                    return Ok(());
                }
            }
            ctx.sql.push_str(op);
            bind(ctx, value, &column.column().ty, &column)?;
        }
        Compare::Exprs { left, right } => {
            let ty = type_of(ctx, left).or_else(|| type_of(ctx, right));
            let subject = match (left, right) {
                (Expr::Column(c), _) | (_, Expr::Column(c)) => c.clone(),
                _ => ctx.subject.clone(),
            };
            let saved = std::mem::replace(&mut ctx.subject, subject);
            let result = (|| {
                compile_expr(ctx, left, ty.as_ref(), clause)?;
                ctx.sql.push_str(op);
                compile_expr(ctx, right, ty.as_ref(), clause)
            })();
            ctx.subject = saved;
            result?;
        }
    }
    Ok(())
}

fn in_list(ctx: &mut Ctx<'_>, list: &InList, negated: bool) -> R<()> {
    let column = ctx.resolve(&list.column)?;
    ctx.push_column(&column);
    match (&list.values, &list.subquery) {
        (Some(values), None) => {
            // One array parameter: the SQL text is the same for any list length,
            // so one prepared statement serves them all.
            ctx.sql
                .push_str(if negated { " <> ALL(" } else { " = ANY(" });
            let array = PgType::Array(Box::new(column.column().ty.clone()));
            let values = serde_json::Value::Array(values.clone());
            bind(ctx, &values, &array, &column)?;
            ctx.sql.push(')');
        }
        (None, Some(select)) => {
            ctx.sql
                .push_str(if negated { " NOT IN (" } else { " IN (" });
            let columns = compile_select(ctx, select)?;
            if columns.len() != 1 {
                return Err(column.invalid(format_args!(
                    "an IN subquery returns one column, this one returns {}",
                    columns.len()
                )));
            }
            ctx.sql.push(')');
        }
        _ => {
            return Err(column.invalid(format_args!(
                "\"in\" takes exactly one of \"values\" and \"subquery\""
            )))
        }
    }
    Ok(())
}

fn pattern(ctx: &mut Ctx<'_>, column: &str, pattern: &str, op: &str) -> R<()> {
    let column = ctx.resolve(column)?;
    let ty = &column.column().ty;
    if !matches!(
        ty,
        PgType::Text | PgType::Varchar | PgType::Bpchar | PgType::Name
    ) {
        return Err(column.invalid(format_args!("LIKE needs a text column, this one is {ty}")));
    }
    ctx.push_column(&column);
    ctx.sql.push_str(op);
    let pattern = serde_json::Value::String(pattern.to_owned());
    bind(ctx, &pattern, &PgType::Text, &column)
}
