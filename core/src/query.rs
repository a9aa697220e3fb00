//! The query AST. Its serde form is keel's public, versioned JSON format for
//! query definitions, so a definition written once runs on every runtime.

use serde::{Deserialize, Serialize};

/// The only JSON format version this build understands.
pub const FORMAT_VERSION: u32 = 1;

/// A query definition: `{"version": 1, "select": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// Format version; the compiler rejects versions it does not know rather
    /// than guessing at their meaning.
    pub version: u32,
    #[serde(flatten)]
    pub body: QueryBody,
}

/// What the query does. One key of the JSON object names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryBody {
    Select(Select),
}

/// `SELECT columns FROM table [WHERE filter] [ORDER BY ...] [LIMIT n]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Select {
    pub from: String,
    pub columns: Vec<String>,
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<OrderBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// A row filter. Values are JSON literals; the compiler checks each one
/// against its column's type and always sends it as a bound parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Filter {
    /// `column = value`: `{"eq": {"column": "album_id", "value": 1}}`.
    Eq {
        column: String,
        value: serde_json::Value,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBy {
    pub column: String,
    #[serde(default)]
    pub direction: Direction,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

impl Query {
    pub fn from_json(json: &str) -> Result<Query, serde_json::Error> {
        serde_json::from_str(json)
    }

    pub fn to_json(&self) -> String {
        // A Query holds only strings, numbers and JSON values, which always serialize.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl From<Select> for Query {
    fn from(select: Select) -> Query {
        Query {
            version: FORMAT_VERSION,
            body: QueryBody::Select(select),
        }
    }
}

/// Builder methods: `Select::from("track").columns(["name"]).filter(Filter::eq("album_id", 1))`
/// produces exactly the AST the JSON form deserializes to.
impl Select {
    pub fn from(table: impl Into<String>) -> Select {
        Select {
            from: table.into(),
            columns: Vec::new(),
            filter: None,
            order_by: Vec::new(),
            limit: None,
        }
    }

    pub fn columns<I, S>(mut self, columns: I) -> Select
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns.extend(columns.into_iter().map(Into::into));
        self
    }

    pub fn filter(mut self, filter: Filter) -> Select {
        self.filter = Some(filter);
        self
    }

    pub fn order_by(mut self, column: impl Into<String>, direction: Direction) -> Select {
        self.order_by.push(OrderBy {
            column: column.into(),
            direction,
        });
        self
    }

    pub fn limit(mut self, limit: u64) -> Select {
        self.limit = Some(limit);
        self
    }
}

impl Filter {
    pub fn eq(column: impl Into<String>, value: impl Into<serde_json::Value>) -> Filter {
        Filter::Eq {
            column: column.into(),
            value: value.into(),
        }
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
    fn direction_defaults_to_ascending() {
        let q = Query::from_json(
            r#"{"version":1,"select":{"from":"t","columns":["a"],"order_by":[{"column":"a"}]}}"#,
        )
        .unwrap();
        let QueryBody::Select(select) = q.body;
        assert_eq!(select.order_by[0].direction, Direction::Asc);
    }
}
