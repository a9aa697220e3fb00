//! INSERT, UPDATE and DELETE.

use std::collections::BTreeMap;

use serde::Serialize;

use super::expr::Expr;
use super::filter::Filter;
use super::select::{Select, SelectItem};

/// `INSERT INTO table (...) VALUES (...), (...) | SELECT ... [ON CONFLICT ...] [RETURNING ...]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Insert {
    pub into: String,
    #[serde(flatten)]
    pub source: InsertSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_conflict: Option<OnConflict>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returning: Vec<SelectItem>,
}

/// Where the inserted rows come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InsertSource {
    /// One object per row, keyed by column. The column list is every key of
    /// every row, in schema order; a row without a key gets `DEFAULT`.
    Rows(Vec<BTreeMap<String, serde_json::Value>>),
    /// `INSERT ... SELECT`: the select's result columns fill `columns`, in order.
    Select(InsertSelect),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InsertSelect {
    pub columns: Vec<String>,
    pub query: Box<Select>,
}

/// `ON CONFLICT (columns) | ON CONSTRAINT name DO NOTHING | DO UPDATE SET ... [WHERE ...]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OnConflict {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
    #[serde(rename = "do")]
    pub action: ConflictAction,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictAction {
    Nothing,
    Update {
        /// Assignments; `{"excluded": "col"}` is the row that was proposed.
        set: BTreeMap<String, Expr>,
        #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
        filter: Option<Filter>,
    },
}

/// `UPDATE table SET ... WHERE ... [RETURNING ...]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    pub table: String,
    /// Assignments by column: a value (`{"value": 3}`) or an expression
    /// (`{"sub": [{"column": "stock"}, {"value": 1}]}`).
    pub set: BTreeMap<String, Expr>,
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// Required (and `where` forbidden) to touch every row: a forgotten
    /// filter must not rewrite a whole table.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_rows: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returning: Vec<SelectItem>,
}

/// `DELETE FROM table WHERE ... [RETURNING ...]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Delete {
    pub from: String,
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// As for [`Update::all_rows`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_rows: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returning: Vec<SelectItem>,
}
