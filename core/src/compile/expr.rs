//! Expressions: type inference (so a literal takes the type of what it meets)
//! and SQL generation.

use super::context::{push_type, Ctx};
use super::error::{CompileError, R};
use super::filter::compile_filter;
use crate::query::expr::{Agg, AggFunc, Expr};
use crate::schema::PgType;

/// Where an expression sits, for the aggregate rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clause {
    /// Select list, HAVING, ORDER BY: aggregates allowed.
    Projection,
    Where,
    GroupBy,
    Assignment,
}

impl Clause {
    fn name(self) -> &'static str {
        match self {
            Clause::Projection => "the select list",
            Clause::Where => "WHERE",
            Clause::GroupBy => "GROUP BY",
            Clause::Assignment => "SET or VALUES",
        }
    }
}

/// The allow-list of plain functions: (name, minimum and maximum argument
/// count, result). Anything else is an `UnknownFunction` error, so a
/// definition cannot call an arbitrary (possibly side-effecting) function.
const FUNCTIONS: &[(&str, usize, usize, Ret)] = &[
    ("lower", 1, 1, Ret::Text),
    ("upper", 1, 1, Ret::Text),
    ("trim", 1, 1, Ret::Text),
    ("btrim", 1, 2, Ret::Text),
    ("ltrim", 1, 2, Ret::Text),
    ("rtrim", 1, 2, Ret::Text),
    ("length", 1, 1, Ret::Int4),
    ("char_length", 1, 1, Ret::Int4),
    ("concat", 1, 32, Ret::Text),
    ("replace", 3, 3, Ret::Text),
    ("substr", 2, 3, Ret::Text),
    ("left", 2, 2, Ret::Text),
    ("right", 2, 2, Ret::Text),
    ("coalesce", 1, 32, Ret::FirstKnown),
    ("nullif", 2, 2, Ret::FirstKnown),
    ("greatest", 1, 32, Ret::FirstKnown),
    ("least", 1, 32, Ret::FirstKnown),
    ("abs", 1, 1, Ret::FirstKnown),
    ("round", 1, 2, Ret::Numeric),
    ("ceil", 1, 1, Ret::FirstKnown),
    ("floor", 1, 1, Ret::FirstKnown),
    ("now", 0, 0, Ret::Timestamptz),
    ("date_trunc", 2, 2, Ret::Second),
    ("age", 1, 2, Ret::Interval),
    ("array_length", 2, 2, Ret::Int4),
    ("cardinality", 1, 1, Ret::Int4),
    ("jsonb_array_length", 1, 1, Ret::Int4),
    ("jsonb_typeof", 1, 1, Ret::Text),
    ("to_tsvector", 1, 2, Ret::Named("tsvector")),
    ("md5", 1, 1, Ret::Text),
];

#[derive(Debug, Clone, Copy)]
enum Ret {
    Text,
    Int4,
    Numeric,
    Timestamptz,
    Interval,
    FirstKnown,
    Second,
    Named(&'static str),
}

/// EXTRACT fields, written as keywords, so they come from a fixed list.
const EXTRACT_FIELDS: &[&str] = &[
    "century",
    "day",
    "decade",
    "dow",
    "doy",
    "epoch",
    "hour",
    "isodow",
    "isoyear",
    "microseconds",
    "millennium",
    "milliseconds",
    "minute",
    "month",
    "quarter",
    "second",
    "week",
    "year",
];

/// The type of `expr` where it can be known without the server.
pub(crate) fn type_of(ctx: &Ctx<'_>, expr: &Expr) -> Option<PgType> {
    match expr {
        Expr::Column(name) => ctx.resolve(name).ok().map(|c| c.column().ty.clone()),
        Expr::Value(_) => None,
        Expr::Add(ab) | Expr::Sub(ab) | Expr::Mul(ab) | Expr::Div(ab) | Expr::Mod(ab) => {
            type_of(ctx, &ab[0]).or_else(|| type_of(ctx, &ab[1]))
        }
        Expr::Neg(e) => type_of(ctx, e),
        Expr::Cast(c) => Some(c.ty.clone()),
        Expr::Func(f) => {
            let (_, _, _, ret) = FUNCTIONS.iter().find(|(n, ..)| *n == f.name)?;
            match ret {
                Ret::Text => Some(PgType::Text),
                Ret::Int4 => Some(PgType::Int4),
                Ret::Numeric => Some(PgType::Numeric),
                Ret::Timestamptz => Some(PgType::Timestamptz),
                Ret::Interval => Some(PgType::Interval),
                Ret::Named(n) => Some(PgType::Named((*n).to_owned())),
                Ret::FirstKnown => f.args.iter().find_map(|a| type_of(ctx, a)),
                Ret::Second => f.args.get(1).and_then(|a| type_of(ctx, a)),
            }
        }
        Expr::Extract(_) => Some(PgType::Numeric),
        Expr::Agg(agg) => agg_type(ctx, agg),
        Expr::JsonText(_) => Some(PgType::Text),
        Expr::JsonGet(_) => Some(PgType::Jsonb),
        Expr::Subquery(select) => match select.columns.as_deref() {
            Some([crate::query::SelectItem::Column(c)]) => {
                let table = ctx.table(&select.from).ok()?;
                let name = c.rsplit('.').next().unwrap_or(c);
                table.column(name).map(|c| c.ty.clone())
            }
            Some([crate::query::SelectItem::Expr { expr, .. }]) => match expr {
                Expr::Agg(a) if a.func == AggFunc::Count => Some(PgType::Int8),
                _ => None,
            },
            _ => None,
        },
        Expr::Excluded(name) => ctx.resolve(name).ok().map(|c| c.column().ty.clone()),
        Expr::Case(case) => case
            .when
            .iter()
            .map(|w| &w.then)
            .chain(case.otherwise.as_ref())
            .find_map(|e| type_of(ctx, e)),
    }
}

fn agg_type(ctx: &Ctx<'_>, agg: &Agg) -> Option<PgType> {
    let arg = agg.arg.as_ref().and_then(|a| type_of(ctx, a));
    match agg.func {
        AggFunc::Count => Some(PgType::Int8),
        AggFunc::Sum => match arg? {
            PgType::Int2 | PgType::Int4 => Some(PgType::Int8),
            PgType::Int8 | PgType::Numeric => Some(PgType::Numeric),
            other => Some(other),
        },
        AggFunc::Avg => match arg? {
            PgType::Float4 | PgType::Float8 => Some(PgType::Float8),
            PgType::Interval => Some(PgType::Interval),
            _ => Some(PgType::Numeric),
        },
        AggFunc::Min | AggFunc::Max => arg,
        AggFunc::StringAgg => Some(PgType::Text),
        AggFunc::ArrayAgg => arg.map(|t| PgType::Array(Box::new(t))),
        AggFunc::JsonAgg => Some(PgType::Json),
        AggFunc::BoolAnd | AggFunc::BoolOr => Some(PgType::Bool),
    }
}

/// Whether `expr` contains an aggregate at this query level.
pub(crate) fn has_aggregate(expr: &Expr) -> bool {
    match expr {
        Expr::Agg(_) => true,
        Expr::Add(ab) | Expr::Sub(ab) | Expr::Mul(ab) | Expr::Div(ab) | Expr::Mod(ab) => {
            has_aggregate(&ab[0]) || has_aggregate(&ab[1])
        }
        Expr::Neg(e) => has_aggregate(e),
        Expr::Cast(c) => has_aggregate(&c.expr),
        Expr::Func(f) => f.args.iter().any(has_aggregate),
        Expr::Extract(x) => has_aggregate(&x.from),
        Expr::JsonText(j) | Expr::JsonGet(j) => has_aggregate(&j.expr),
        Expr::Case(c) => {
            c.when.iter().any(|w| has_aggregate(&w.then))
                || c.otherwise.as_ref().is_some_and(has_aggregate)
        }
        Expr::Column(_) | Expr::Value(_) | Expr::Subquery(_) | Expr::Excluded(_) => false,
    }
}

/// The first column referenced outside any aggregate, if any.
pub(crate) fn bare_column(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Column(c) => Some(c),
        Expr::Agg(_) | Expr::Value(_) | Expr::Subquery(_) | Expr::Excluded(_) => None,
        Expr::Add(ab) | Expr::Sub(ab) | Expr::Mul(ab) | Expr::Div(ab) | Expr::Mod(ab) => {
            bare_column(&ab[0]).or_else(|| bare_column(&ab[1]))
        }
        Expr::Neg(e) => bare_column(e),
        Expr::Cast(c) => bare_column(&c.expr),
        Expr::Func(f) => f.args.iter().find_map(bare_column),
        Expr::Extract(x) => bare_column(&x.from),
        Expr::JsonText(j) | Expr::JsonGet(j) => bare_column(&j.expr),
        Expr::Case(c) => c
            .when
            .iter()
            .find_map(|w| bare_column(&w.then))
            .or_else(|| c.otherwise.as_ref().and_then(bare_column)),
    }
}

/// Writes `expr`. A literal takes `expected` (the type of what it meets),
/// or failing that a type from its JSON kind.
pub(crate) fn compile_expr(
    ctx: &mut Ctx<'_>,
    expr: &Expr,
    expected: Option<&PgType>,
    clause: Clause,
) -> R<()> {
    match expr {
        Expr::Column(name) => {
            let column = ctx.resolve(name)?;
            ctx.push_column(&column);
        }
        Expr::Value(json) => {
            let ty = match expected {
                Some(t) => t.clone(),
                None => kind_type(json),
            };
            ctx.bind_subject(json, &ty)?;
        }
        Expr::Add(ab) => binary(ctx, ab, " + ", expected, clause)?,
        Expr::Sub(ab) => binary(ctx, ab, " - ", expected, clause)?,
        Expr::Mul(ab) => binary(ctx, ab, " * ", expected, clause)?,
        Expr::Div(ab) => binary(ctx, ab, " / ", expected, clause)?,
        Expr::Mod(ab) => binary(ctx, ab, " % ", expected, clause)?,
        Expr::Neg(e) => {
            ctx.sql.push_str("(-");
            compile_expr(ctx, e, expected, clause)?;
            ctx.sql.push(')');
        }
        Expr::Cast(c) => {
            ctx.sql.push_str("CAST(");
            compile_expr(ctx, &c.expr, None, clause)?;
            ctx.sql.push_str(" AS ");
            push_type(&mut ctx.sql, &c.ty);
            ctx.sql.push(')');
        }
        Expr::Func(f) => {
            let Some((name, min, max, _)) = FUNCTIONS.iter().find(|(n, ..)| *n == f.name) else {
                return Err(ctx.unknown_function(&f.name));
            };
            if f.args.len() < *min || f.args.len() > *max {
                let found = f.args.len();
                return Err(if min == max {
                    ctx.wrong_arity(&f.name, format_args!("{min}"), found)
                } else {
                    ctx.wrong_arity(&f.name, format_args!("{min} to {max}"), found)
                });
            }
            // Arguments of the "same type" functions share the first known type.
            let shared = f.args.iter().find_map(|a| type_of(ctx, a));
            ctx.sql.push_str(name);
            ctx.sql.push('(');
            for (i, arg) in f.args.iter().enumerate() {
                if i > 0 {
                    ctx.sql.push_str(", ");
                }
                let hint = match *name {
                    "date_trunc" if i == 0 => Some(PgType::Text),
                    "btrim" | "ltrim" | "rtrim" | "replace" | "concat" | "to_tsvector" => {
                        Some(PgType::Text)
                    }
                    "substr" | "left" | "right" | "array_length" | "round" if i > 0 => {
                        Some(PgType::Int4)
                    }
                    _ => shared.clone(),
                };
                compile_expr(ctx, arg, hint.as_ref(), clause)?;
            }
            ctx.sql.push(')');
        }
        Expr::Extract(x) => {
            let field = x.field.to_ascii_lowercase();
            if !EXTRACT_FIELDS.contains(&field.as_str()) {
                return Err(
                    ctx.invalid_subject(format_args!("unknown EXTRACT field {:?}", x.field))
                );
            }
            ctx.sql.push_str("EXTRACT(");
            ctx.sql.push_str(&field.to_ascii_uppercase());
            ctx.sql.push_str(" FROM ");
            compile_expr(ctx, &x.from, Some(&PgType::Timestamptz), clause)?;
            ctx.sql.push(')');
        }
        Expr::Agg(agg) => compile_agg(ctx, agg, clause)?,
        Expr::JsonText(j) | Expr::JsonGet(j) => {
            ctx.sql.push('(');
            compile_expr(ctx, &j.expr, Some(&PgType::Jsonb), clause)?;
            ctx.sql.push_str(if matches!(expr, Expr::JsonText(_)) {
                " ->> "
            } else {
                " -> "
            });
            let key = serde_json::Value::String(j.key.clone());
            ctx.bind_subject(&key, &PgType::Text)?;
            ctx.sql.push(')');
        }
        Expr::Subquery(select) => {
            ctx.sql.push('(');
            let columns = super::select::compile_select(ctx, select)?;
            if columns.len() != 1 {
                return Err(CompileError::invalid(
                    &select.from,
                    format_args!(
                        "a scalar subquery returns one column, this one returns {}",
                        columns.len()
                    ),
                ));
            }
            ctx.sql.push(')');
        }
        Expr::Excluded(name) => {
            let column = ctx.resolve(name)?;
            ctx.sql.push_str("EXCLUDED.");
            let column_name = column.column().name.clone();
            ctx.push_ident(&column_name);
        }
        Expr::Case(case) => {
            let ty = type_of(ctx, expr).or_else(|| expected.cloned());
            ctx.sql.push_str("CASE");
            for when in &case.when {
                ctx.sql.push_str(" WHEN ");
                compile_filter(ctx, &when.condition, false, clause)?;
                ctx.sql.push_str(" THEN ");
                compile_expr(ctx, &when.then, ty.as_ref(), clause)?;
            }
            if let Some(otherwise) = &case.otherwise {
                ctx.sql.push_str(" ELSE ");
                compile_expr(ctx, otherwise, ty.as_ref(), clause)?;
            }
            ctx.sql.push_str(" END");
        }
    }
    Ok(())
}

fn binary(
    ctx: &mut Ctx<'_>,
    ab: &[Expr; 2],
    op: &str,
    expected: Option<&PgType>,
    clause: Clause,
) -> R<()> {
    let ty = type_of(ctx, &ab[0])
        .or_else(|| type_of(ctx, &ab[1]))
        .or_else(|| expected.cloned());
    ctx.sql.push('(');
    compile_expr(ctx, &ab[0], ty.as_ref(), clause)?;
    ctx.sql.push_str(op);
    compile_expr(ctx, &ab[1], ty.as_ref(), clause)?;
    ctx.sql.push(')');
    Ok(())
}

fn compile_agg(ctx: &mut Ctx<'_>, agg: &Agg, clause: Clause) -> R<()> {
    if clause != Clause::Projection {
        return Err(ctx.aggregate_not_allowed(clause.name()));
    }
    let name = agg.func.sql_name();
    ctx.sql.push_str(name);
    ctx.sql.push('(');
    match &agg.arg {
        None if agg.func == AggFunc::Count => ctx.sql.push('*'),
        None => return Err(ctx.wrong_arity(name, format_args!("1"), 0)),
        Some(arg) => {
            if has_aggregate(arg) {
                return Err(ctx.aggregate_not_allowed("another aggregate"));
            }
            if agg.distinct {
                ctx.sql.push_str("DISTINCT ");
            }
            let hint = if agg.func == AggFunc::StringAgg {
                Some(PgType::Text)
            } else {
                None
            };
            compile_expr(ctx, arg, hint.as_ref(), Clause::Projection)?;
            if agg.func == AggFunc::StringAgg {
                let separator = agg.separator.as_deref().ok_or_else(|| {
                    ctx.wrong_arity(name, format_args!("an argument and a separator"), 1)
                })?;
                ctx.sql.push_str(", ");
                let separator = serde_json::Value::String(separator.to_owned());
                ctx.bind_subject(&separator, &PgType::Text)?;
            }
            super::select::compile_order_by(ctx, &agg.order_by, " ORDER BY ")?;
        }
    }
    ctx.sql.push(')');
    Ok(())
}

/// A literal's type when nothing around it gives one.
fn kind_type(json: &serde_json::Value) -> PgType {
    use serde_json::Value as J;
    match json {
        J::Bool(_) => PgType::Bool,
        J::Number(n) if n.is_i64() => PgType::Int8,
        J::Number(_) => PgType::Float8,
        J::Array(_) | J::Object(_) => PgType::Jsonb,
        J::Null | J::String(_) => PgType::Text,
    }
}
