//! Row conditions: WHERE, HAVING, join conditions and partial predicates.

use serde::Serialize;

use super::expr::Expr;
use super::select::Select;

/// A condition. Each JSON form is an object with one key naming the operator.
/// Values are JSON literals; the compiler checks each one against its
/// column's type and always sends it as a bound parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Filter {
    /// `=`; a `null` value means `IS NULL`, since `= NULL` never matches.
    Eq(Compare),
    /// `<>`; a `null` value means `IS NOT NULL`.
    Ne(Compare),
    Lt(Compare),
    Lte(Compare),
    Gt(Compare),
    Gte(Compare),
    IsDistinctFrom(Compare),
    IsNotDistinctFrom(Compare),
    /// `column = ANY($1)`: the whole list is one array parameter, so the SQL
    /// text is the same for any number of values.
    In(InList),
    /// `NOT (column = ANY($1))`.
    NotIn(InList),
    Between(Between),
    Like(Pattern),
    Ilike(Pattern),
    NotLike(Pattern),
    NotIlike(Pattern),
    IsNull(String),
    IsNotNull(String),
    /// jsonb `column @> $1`.
    JsonContains(ColumnValue),
    /// `column ? $1`: the jsonb object has this key.
    JsonHasKey(ColumnKey),
    /// Array `column @> $1`.
    ArrayContains(ColumnValue),
    /// Array `column && $1`.
    ArrayOverlaps(ColumnValue),
    /// Full-text search: `to_tsvector(config, column) @@ plainto_tsquery(config, $1)`.
    TextSearch(TextSearch),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Exists(Box<Select>),
    NotExists(Box<Select>),
    /// A filter across a relation: some related row matches (`EXISTS` over the relation).
    Has(Box<Has>),
    /// A boolean expression.
    Expr(Expr),
}

/// Two operands: the short form `{"column": "c", "value": v}`, or any two
/// expressions `{"left": e, "right": e}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Compare {
    ColumnValue {
        column: String,
        value: serde_json::Value,
    },
    Exprs {
        left: Expr,
        right: Expr,
    },
}

/// A list of values (one array parameter) or a subquery; exactly one of the two.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InList {
    pub column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<serde_json::Value>>,
    /// `column IN (SELECT ...)` instead of a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subquery: Option<Box<Select>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Between {
    pub column: String,
    pub low: serde_json::Value,
    pub high: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pattern {
    pub column: String,
    pub pattern: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnValue {
    pub column: String,
    pub value: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnKey {
    pub column: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TextSearch {
    pub column: String,
    pub query: String,
    /// The text search configuration, e.g. `english`; `simple` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

/// Some row of `relation` matches `where` (any row, when absent). An EXISTS
/// rather than a join, so the parent rows are never repeated.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Has {
    pub relation: String,
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
}

impl Filter {
    pub fn eq(column: impl Into<String>, value: impl Into<serde_json::Value>) -> Filter {
        Filter::Eq(Compare::ColumnValue {
            column: column.into(),
            value: value.into(),
        })
    }

    pub fn and<I: IntoIterator<Item = Filter>>(filters: I) -> Filter {
        Filter::And(filters.into_iter().collect())
    }

    pub fn or<I: IntoIterator<Item = Filter>>(filters: I) -> Filter {
        Filter::Or(filters.into_iter().collect())
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(filter: Filter) -> Filter {
        Filter::Not(Box::new(filter))
    }

    pub fn has(relation: impl Into<String>, filter: Option<Filter>) -> Filter {
        Filter::Has(Box::new(Has {
            relation: relation.into(),
            filter,
        }))
    }

    pub fn exists(select: Select) -> Filter {
        Filter::Exists(Box::new(select))
    }
}
