//! SELECT and its parts: projections, joins, ordering, paging, grouping,
//! set operations, CTEs, locking and eager loading.

use serde::Serialize;

use super::expr::Expr;
use super::filter::Filter;
use super::QueryBody;

/// `[WITH ...] SELECT [DISTINCT [ON (...)]] columns FROM table [joins]
/// [WHERE] [GROUP BY] [HAVING] [ORDER BY] [LIMIT] [OFFSET] [FOR ...]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Select {
    /// Common table expressions, usable as tables in `from`, joins and subqueries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ctes: Vec<Cte>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub distinct: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distinct_on: Vec<Expr>,
    pub from: String,
    /// An alias for `from`, needed when a table is joined to itself.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// What to return; required. `"*"` (`None`) is every column of `from`,
    /// minus `defer`.
    #[serde(serialize_with = "all_or_list::serialize")]
    pub columns: Option<Vec<SelectItem>>,
    /// Columns to leave out when `columns` is `"*"` (Django's `defer`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defer: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joins: Vec<Join>,
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<Expr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub having: Option<Filter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<OrderBy>,
    /// Keyset pagination: the `order_by` values of the last row already seen.
    /// Rows strictly after it (in `order_by` order) are returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
    /// Relations to load eagerly, one select-in statement per level
    /// (see [`crate::compile::compile_plan`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<Include>,
}

/// One result column: a column name (`"name"`, `"album.title"`) or an
/// expression with a result name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SelectItem {
    Column(String),
    Expr {
        expr: Expr,
        #[serde(rename = "as")]
        alias: String,
    },
}

/// A join: through a declared relation (the ON condition comes from its
/// foreign key, so it cannot be written wrong) or of any table with `on`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Join {
    /// A relation declared in the schema; the ON condition comes from its foreign key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// An explicit join of any table (or CTE), with `on`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default)]
    pub kind: JoinKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Filter>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JoinKind {
    #[default]
    Inner,
    Left,
}

/// One ORDER BY key. `nulls` is explicit because PostgreSQL's default
/// (NULLs sort as larger than every value) surprises users of other databases.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBy {
    /// A column (the v1 form); exactly one of `column` and `expr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<Expr>,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nulls: Option<Nulls>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Nulls {
    First,
    Last,
}

/// `FOR UPDATE | NO KEY UPDATE | SHARE | KEY SHARE [OF ...] [NOWAIT | SKIP LOCKED]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub strength: LockStrength,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub of: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<LockWait>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockStrength {
    Update,
    NoKeyUpdate,
    Share,
    KeyShare,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockWait {
    Nowait,
    SkipLocked,
}

/// `WITH [RECURSIVE] name AS (query)`. A recursive CTE's query is a set
/// operation whose first select is the base case; the others may name the CTE.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cte {
    pub name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recursive: bool,
    pub query: Box<QueryBody>,
}

/// `select UNION [ALL] select ...`, optionally ordered and limited as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SetQuery {
    pub op: SetOp,
    pub queries: Vec<Select>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<OrderBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetOp {
    Union,
    UnionAll,
    Intersect,
    IntersectAll,
    Except,
    ExceptAll,
}

impl SetOp {
    pub fn sql(self) -> &'static str {
        match self {
            SetOp::Union => " UNION ",
            SetOp::UnionAll => " UNION ALL ",
            SetOp::Intersect => " INTERSECT ",
            SetOp::IntersectAll => " INTERSECT ALL ",
            SetOp::Except => " EXCEPT ",
            SetOp::ExceptAll => " EXCEPT ALL ",
        }
    }
}

/// A relation to load with its parents: `{"relation": "tracks", "with": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Include {
    pub relation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<OrderBy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<Include>,
}

/// `"columns": "*"` or a list. The key stays required (as in the first
/// version of the format), so a forgotten column list is still an error;
/// reading it is in [`super::json`].
mod all_or_list {
    use serde::{Serialize, Serializer};

    use super::SelectItem;

    pub fn serialize<S: Serializer>(
        columns: &Option<Vec<SelectItem>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match columns {
            None => s.serialize_str("*"),
            Some(list) => list.serialize(s),
        }
    }
}
