//! The ORM entry point: a schema plus a driver.

use std::sync::Arc;

use crate::compile::{compile, compile_plan, CompileError, Load, Plan, Statement};
use crate::driver::Driver;
use crate::error::Result;
use crate::query::Query;
use crate::rows::RawRows;
use crate::schema::Schema;
use crate::types::{
    check_columns, column_types, decode_cell, Array, ArrayDim, DecodeError, PgType, Rows, Value,
};

/// Runs query definitions against a database through any [`Driver`].
///
/// Every call is exactly one round trip and one `.await`; nothing is loaded
/// lazily behind the caller's back.
pub struct Db<D> {
    driver: D,
    schema: Arc<Schema>,
}

impl<D: Driver> Db<D> {
    pub fn new(driver: D, schema: impl Into<Arc<Schema>>) -> Db<D> {
        Db {
            driver,
            schema: schema.into(),
        }
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn driver(&self) -> &D {
        &self.driver
    }

    pub fn into_driver(self) -> D {
        self.driver
    }

    /// Compiles without running: shows the SQL a query would send.
    pub fn compile(&self, query: &Query) -> Result<Statement> {
        Ok(compile(query, &self.schema)?)
    }

    /// Compiles, runs and decodes `query`. Invalid definitions fail here
    /// before the driver is touched.
    pub async fn fetch(&self, query: &Query) -> Result<Rows> {
        let statement = self.compile(query)?;
        self.fetch_statement(&statement).await
    }

    pub async fn fetch_statement(&self, statement: &Statement) -> Result<Rows> {
        let raw = self.driver.query(statement).await?;
        Ok(Rows::decode(&statement.columns, &raw)?)
    }

    /// Runs a compiled statement and returns its rows undecoded, once the
    /// server's columns are checked to be the statement's: for callers that
    /// decode cells straight into their own types (`FromRow::from_raw`).
    pub async fn fetch_raw(&self, statement: &Statement) -> Result<RawRows> {
        let raw = self.driver.query(statement).await?;
        check_columns(&statement.columns, &raw)?;
        Ok(raw)
    }
}

/// The rows of an eager-loading plan: the root's rows, then per relation the
/// rows loaded for all the parents at once (one statement per level).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlanRows {
    pub rows: Rows,
    pub loads: Vec<LoadedRelation>,
}

/// One relation level: child rows whose `child_key` column matches the
/// parent rows' `parent_key` column.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedRelation {
    pub relation: String,
    pub parent_key: String,
    pub child_key: String,
    pub rows: PlanRows,
}

/// The undecoded rows of an eager-loading plan, level by level like
/// [`PlanRows`]; what typed eager loading decodes straight into models.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawPlan {
    pub rows: RawRows,
    pub loads: Vec<RawLoad>,
}

/// One relation level of a [`RawPlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLoad {
    pub relation: String,
    pub parent_key: String,
    pub child_key: String,
    pub rows: RawPlan,
}

impl<D: Driver> Db<D> {
    /// Runs an eager-loading query: the root, then one `= ANY($1)` statement
    /// per relation level with the keys of all parent rows. A level whose
    /// parents hold no key is not sent at all.
    pub async fn fetch_plan(&self, query: &Query) -> Result<PlanRows> {
        decode_plan(self.fetch_plan_raw(query).await?)
    }

    /// [`fetch_plan`](Self::fetch_plan) without decoding the rows (only the
    /// key columns that feed the next level are decoded).
    pub async fn fetch_plan_raw(&self, query: &Query) -> Result<RawPlan> {
        let plan = compile_plan(query, &self.schema)?;
        self.run_plan(&plan).await
    }

    /// Runs a plan already compiled from this database's schema, as
    /// [`fetch_plan_raw`](Self::fetch_plan_raw) does.
    pub async fn run_plan(&self, plan: &Plan) -> Result<RawPlan> {
        // Pre-order, so every level's parent is fetched before it; iterative,
        // so the future needs no boxing (and stays `Send` natively).
        let mut order: Vec<(&Load, Option<usize>)> = Vec::new();
        let mut stack: Vec<(&Load, Option<usize>)> = Vec::new();
        for load in plan.loads.iter().rev() {
            stack.push((load, None));
        }
        while let Some((load, parent)) = stack.pop() {
            let index = order.len();
            order.push((load, parent));
            for child in load.loads.iter().rev() {
                stack.push((child, Some(index)));
            }
        }
        let root = self.fetch_raw(&plan.root).await?;
        let mut fetched: Vec<RawRows> = Vec::with_capacity(order.len());
        for (load, parent) in &order {
            let parent_rows = match parent {
                None => &root,
                Some(i) => &fetched[*i],
            };
            let keys = distinct_keys(parent_rows, &load.parent_key)?;
            let rows = if keys.is_empty() {
                let mut columns = Vec::with_capacity(load.statement.columns.len());
                for name in &load.statement.columns {
                    columns.push(crate::rows::ColumnDesc {
                        name: name.clone(),
                        type_oid: 0,
                        format: 0,
                    });
                }
                RawRows::new(columns)
            } else {
                let mut statement = load.statement.clone();
                let element = match statement.param_types.first() {
                    Some(PgType::Array(element)) => (**element).clone(),
                    _ => return Err(plan_error(load, "its first parameter is not the key array")),
                };
                let len = i32::try_from(keys.len())
                    .map_err(|_| plan_error(load, "more parent keys than an array holds"))?;
                let slot = statement
                    .params
                    .first_mut()
                    .ok_or_else(|| plan_error(load, "it has no key parameter"))?;
                *slot = Value::Array(Array {
                    element,
                    dims: vec![ArrayDim { len, lower: 1 }],
                    elements: keys,
                });
                self.fetch_raw(&statement).await?
            };
            fetched.push(rows);
        }
        Ok(RawPlan {
            rows: root,
            loads: assemble(&order, None, &mut fetched),
        })
    }
}

/// Decodes every level of a fetched plan.
fn decode_plan(raw: RawPlan) -> Result<PlanRows> {
    let names: Vec<String> = raw.rows.columns().iter().map(|c| c.name.clone()).collect();
    Ok(PlanRows {
        rows: Rows::decode(&names, &raw.rows)?,
        loads: raw
            .loads
            .into_iter()
            .map(|load| {
                Ok(LoadedRelation {
                    relation: load.relation,
                    parent_key: load.parent_key,
                    child_key: load.child_key,
                    rows: decode_plan(load.rows)?,
                })
            })
            .collect::<Result<_>>()?,
    })
}

fn plan_error(load: &Load, problem: &str) -> crate::Error {
    CompileError::Invalid {
        model: load.relation.clone(),
        problem: format!("eager-loading statement: {problem}"),
    }
    .into()
}

/// The distinct non-null values of `column`, in first-seen order (told
/// apart by their wire bytes, which are unique per value of one type).
fn distinct_keys(rows: &RawRows, column: &str) -> Result<Vec<Value>> {
    let index = rows
        .columns()
        .iter()
        .position(|c| c.name == column)
        .ok_or_else(|| CompileError::UnknownColumn {
            model: "eager loading".to_owned(),
            column: column.to_owned(),
        })?;
    let types = column_types(rows)?;
    let ty = types.get(index).and_then(Option::as_ref);
    let numbered = rows.key_index(index);
    let mut keys = Vec::with_capacity(numbered.numbers.len());
    for (row, number) in rows.iter().zip(&numbered.rows) {
        // A value's first row is the one that numbered it.
        if *number != Some(keys.len()) {
            continue;
        }
        let value = decode_cell(ty, row.get(index)).map_err(|reason| DecodeError::Invalid {
            column: column.to_owned(),
            ty: ty.map_or_else(|| "text format".into(), PgType::name),
            reason,
        })?;
        keys.push(value);
    }
    Ok(keys)
}

fn assemble(
    order: &[(&Load, Option<usize>)],
    parent: Option<usize>,
    fetched: &mut [RawRows],
) -> Vec<RawLoad> {
    let mut out = Vec::new();
    for (index, (load, p)) in order.iter().enumerate() {
        if *p != parent {
            continue;
        }
        let loads = assemble(order, Some(index), fetched);
        out.push(RawLoad {
            relation: load.relation.clone(),
            parent_key: load.parent_key.clone(),
            child_key: load.child_key.clone(),
            rows: RawPlan {
                // Each level has one parent, so its rows are taken once.
                rows: std::mem::take(&mut fetched[index]),
                loads,
            },
        });
    }
    out
}
