//! The query AST. Its serde form is keel's public, versioned JSON format for
//! query definitions, so a definition written once runs on every runtime.
//!
//! The submodules hold one part of the language each: [`expr`] (scalar
//! expressions), [`filter`] (conditions), [`select`], [`mutate`] (insert,
//! update, delete) and [`builder`] (the Rust constructors that produce exactly
//! what the JSON form deserializes to).

pub mod builder;
pub mod expr;
pub mod filter;
pub mod json;
pub mod mutate;
pub mod select;
pub mod typed;

use serde::Serialize;

pub use expr::{AggFunc, Expr};
pub use filter::{Compare, Filter};
pub use json::FormatError;
pub use mutate::{ConflictAction, Delete, Insert, InsertSource, OnConflict, Update};
pub use select::{
    Cte, Direction, Include, Join, JoinKind, Lock, LockStrength, LockWait, Nulls, OrderBy, Select,
    SelectItem, SetOp, SetQuery,
};

/// The only JSON format version this build understands.
pub const FORMAT_VERSION: u32 = 1;

/// A query definition: `{"version": 1, "select": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Query {
    /// Format version; the compiler rejects versions it does not know rather
    /// than guessing at their meaning.
    pub version: u32,
    #[serde(flatten)]
    pub body: QueryBody,
    /// How rows are handed back: objects keyed by column name (the default)
    /// or, like Django's `values_list`, arrays of values in column order. It
    /// does not change the SQL; drivers that build rows read it.
    #[serde(default, skip_serializing_if = "RowShape::is_objects")]
    pub row_shape: RowShape,
}

/// The shape of each returned row; see [`Query::row_shape`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowShape {
    #[default]
    Objects,
    Values,
}

impl RowShape {
    fn is_objects(&self) -> bool {
        *self == RowShape::Objects
    }
}

/// What the query does. One key of the JSON object names it.
// A query is built once and compiled; boxing the select would only add an
// allocation and noise to every constructor.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryBody {
    Select(Select),
    /// UNION / INTERSECT / EXCEPT of selects.
    SetOp(SetQuery),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
    /// The escape hatch: SQL written by hand, with bound parameters.
    Raw(Raw),
}

/// Hand-written SQL. Values are still bound (`$1`, `$2`, ...), never spliced,
/// and `columns` says what the decoder should expect back.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub sql: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<RawParam>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
}

/// One parameter of a raw statement; raw SQL has no column to infer its type from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawParam {
    pub value: serde_json::Value,
    #[serde(rename = "type")]
    pub ty: crate::types::PgType,
}

impl Query {
    pub fn from_json(json: &str) -> Result<Query, FormatError> {
        crate::json_text::read(json, json::query)
    }

    /// Reads a JSON array of definitions. An error in one of them names the
    /// position in the text where reading stopped, as serde_json did.
    pub fn list_from_json(json: &str) -> Result<Vec<Query>, FormatError> {
        crate::json_text::read_list(json, json::query)
    }

    /// The same query, returning each row as an array of values.
    pub fn values(mut self) -> Query {
        self.row_shape = RowShape::Values;
        self
    }

    pub fn to_json(&self) -> String {
        // A Query holds only strings, numbers and JSON values, which always serialize.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn new(body: QueryBody) -> Query {
        Query {
            version: FORMAT_VERSION,
            body,
            row_shape: RowShape::Objects,
        }
    }
}

impl From<Select> for Query {
    fn from(select: Select) -> Query {
        Query::new(QueryBody::Select(select))
    }
}

impl From<SetQuery> for Query {
    fn from(q: SetQuery) -> Query {
        Query::new(QueryBody::SetOp(q))
    }
}

impl From<Insert> for Query {
    fn from(q: Insert) -> Query {
        Query::new(QueryBody::Insert(q))
    }
}

impl From<Update> for Query {
    fn from(q: Update) -> Query {
        Query::new(QueryBody::Update(q))
    }
}

impl From<Delete> for Query {
    fn from(q: Delete) -> Query {
        Query::new(QueryBody::Delete(q))
    }
}

impl From<Raw> for Query {
    fn from(q: Raw) -> Query {
        Query::new(QueryBody::Raw(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_and_json_form_agree_and_round_trip() {
        let json = r#"{
            "version": 1,
            "select": {
                "from": "track",
                "columns": ["track_id", "name"],
                "where": {"eq": {"column": "album_id", "value": 1}},
                "order_by": [{"column": "track_id", "direction": "desc"}],
                "limit": 3
            }
        }"#;
        let parsed = Query::from_json(json).unwrap();
        let built: Query = Select::from("track")
            .columns(["track_id", "name"])
            .filter(Filter::eq("album_id", 1))
            .order_by("track_id", Direction::Desc)
            .limit(3)
            .into();
        assert_eq!(parsed, built);
        assert_eq!(Query::from_json(&built.to_json()).unwrap(), built);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Query::from_json(r#"{"version":1,"select":{"from":"t","columns":[],"limt":1}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("limt"), "{err}");
    }

    #[test]
    fn columns_are_required_and_star_means_every_column() {
        let err = Query::from_json(r#"{"version": 1, "select": {"from": "track"}}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `columns`"), "{err}");
        let all = Query::from_json(r#"{"version":1,"select":{"from":"t","columns":"*"}}"#).unwrap();
        assert_eq!(all, Select::from("t").into());
        assert!(all.to_json().contains(r#""columns": "*""#));
        assert!(Query::from_json(r#"{"version":1,"select":{"from":"t","columns":"a"}}"#).is_err());
    }

    #[test]
    fn direction_defaults_to_ascending() {
        let q = Query::from_json(
            r#"{"version":1,"select":{"from":"t","columns":["a"],"order_by":[{"column":"a"}]}}"#,
        )
        .unwrap();
        let QueryBody::Select(select) = q.body else {
            panic!("not a select")
        };
        assert_eq!(select.order_by[0].direction, Direction::Asc);
    }
}
