//! Eager loading: a root select plus nested `with` relations becomes a plan
//! of statements, the root then one select-in statement per relation level.
//!
//! A level's statement is `SELECT ... FROM child WHERE child.key = ANY($1)`,
//! where `$1` is the array of key values collected from every row of the
//! parent level, so loading N parents costs one statement per level and
//! never one per parent row. [`Load::statement`] holds an empty array in
//! `params[0]` as a placeholder for those keys.

use super::error::{CompileError, R};
use super::select::Parts;
use super::{check_version, compile_body, compile_root, Statement};
use crate::query::filter::InList;
use crate::query::select::{Include, Join, JoinKind, Select, SelectItem};
use crate::query::{Filter, Query, QueryBody};
use crate::schema::{RelationKind, Schema, Table};

/// The statements of an eager-loading query.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub root: Statement,
    pub loads: Vec<Load>,
}

/// One relation level. Run [`Load::statement`] with `params[0]` set to the
/// distinct non-null values of `parent_key` in the parent's rows; attach each
/// result row to the parents whose `parent_key` equals its `child_key`.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// The relation's name, which is also the key the children go under.
    pub relation: String,
    pub kind: RelationKind,
    /// A result column of the parent statement.
    pub parent_key: String,
    /// A result column of this statement.
    pub child_key: String,
    pub statement: Statement,
    pub loads: Vec<Load>,
}

/// The result column many-to-many children carry their parent's key in.
pub const PARENT_KEY_COLUMN: &str = "__keel_parent";

pub fn compile_plan(query: &Query, schema: &Schema) -> Result<Plan, CompileError> {
    check_version(query)?;
    let QueryBody::Select(select) = &query.body else {
        return Ok(Plan {
            root: compile_body(&query.body, schema)?,
            loads: Vec::new(),
        });
    };
    let table = schema
        .table(&select.from)
        .ok_or_else(|| CompileError::unknown_model(&select.from))?;
    // The loads only add key columns, so the select is compiled in place
    // with those appended rather than cloned.
    let mut keys = Vec::new();
    let loads = plan_includes(schema, table, (&select.columns, &mut keys), &select.with)?;
    let parts = Parts {
        keys: &keys,
        ..Parts::of(select)
    };
    Ok(Plan {
        root: compile_root(select, &parts, schema)?,
        loads,
    })
}

fn plan_includes(
    schema: &Schema,
    parent: &Table,
    (parent_columns, parent_keys): (&Option<Vec<SelectItem>>, &mut Vec<String>),
    includes: &[Include],
) -> R<Vec<Load>> {
    let mut loads = Vec::with_capacity(includes.len());
    for include in includes {
        loads.push(plan_include(
            schema,
            parent,
            (parent_columns, &mut *parent_keys),
            include,
        )?);
    }
    Ok(loads)
}

fn plan_include(
    schema: &Schema,
    parent: &Table,
    (parent_columns, parent_keys): (&Option<Vec<SelectItem>>, &mut Vec<String>),
    include: &Include,
) -> R<Load> {
    let relation = schema
        .relation(parent, &include.relation)
        .ok_or_else(|| CompileError::unknown_relation(&parent.name, &include.relation))?;
    let composite = || {
        CompileError::invalid(
            &parent.name,
            format_args!(
                "relation {:?} has a composite key; eager loading supports single-column keys",
                include.relation
            ),
        )
    };
    let target = relation.target;
    let mut child = Select::from(target.name.clone());
    child.columns = include.columns.as_ref().map(|names| {
        let mut items = Vec::with_capacity(names.len());
        for name in names {
            items.push(SelectItem::Column(name.clone()));
        }
        items
    });
    let mut keys = Vec::new();
    let (parent_key, child_key, key_filter) = match (&relation.kind, &relation.through) {
        (RelationKind::ManyToMany, Some(through)) => {
            let [(join_source, source)] = through.source_pairs.as_slice() else {
                return Err(composite());
            };
            let through_alias = format!("{}_through", include.relation);
            let mut on = Vec::with_capacity(through.target_pairs.len());
            for (j, t) in &through.target_pairs {
                on.push(Filter::Eq(crate::query::Compare::Exprs {
                    left: crate::query::Expr::Column(format!("{through_alias}.{j}")),
                    right: crate::query::Expr::Column(format!("{}.{t}", target.name)),
                }));
            }
            child.joins.push(Join {
                relation: None,
                table: Some(through.table.name.clone()),
                alias: Some(through_alias.clone()),
                kind: JoinKind::Inner,
                on: Some(Filter::And(on)),
            });
            let qualified = format!("{through_alias}.{join_source}");
            let columns = child.columns.get_or_insert_with(|| {
                let mut items = Vec::with_capacity(target.columns.len() + 1);
                for c in &target.columns {
                    items.push(SelectItem::Column(format!("{}.{}", target.name, c.name)));
                }
                items
            });
            columns.push(SelectItem::Expr {
                expr: crate::query::Expr::Column(qualified.clone()),
                alias: PARENT_KEY_COLUMN.to_owned(),
            });
            (
                (*source).to_owned(),
                PARENT_KEY_COLUMN.to_owned(),
                qualified,
            )
        }
        _ => {
            let [(source, target_column)] = relation.pairs.as_slice() else {
                return Err(composite());
            };
            ensure_column(&child.columns, &mut keys, target_column);
            (
                (*source).to_owned(),
                (*target_column).to_owned(),
                (*target_column).to_owned(),
            )
        }
    };
    ensure_column(parent_columns, parent_keys, &parent_key);
    // The key filter comes first so the keys are always `$1`.
    child.filter = Some(Filter::In(InList {
        column: key_filter,
        values: Some(Vec::new()),
        subquery: None,
    }));
    let loads = plan_includes(schema, target, (&child.columns, &mut keys), &include.with)?;
    let parts = Parts {
        columns: &child.columns,
        keys: &keys,
        filter: include.filter.as_ref(),
        order_by: &include.order_by,
    };
    Ok(Load {
        relation: include.relation.clone(),
        kind: relation.kind,
        parent_key,
        child_key,
        statement: compile_root(&child, &parts, schema)?,
        loads,
    })
}

/// Adds `column` to an explicit column list (`list`, then `added`) that
/// lacks it: the plan needs the keys to stitch levels together. An absent
/// list already has every column.
fn ensure_column(list: &Option<Vec<SelectItem>>, added: &mut Vec<String>, column: &str) {
    if let Some(list) = list {
        let present = list.iter().any(|item| match item {
            SelectItem::Column(c) => c == column || c.rsplit('.').next() == Some(column),
            SelectItem::Expr { alias, .. } => alias == column,
        }) || added.iter().any(|c| c == column);
        if !present {
            added.push(column.to_owned());
        }
    }
}
