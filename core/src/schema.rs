//! The data model of a database: the tables and typed columns queries are checked against.
//!
//! A schema is plain serde data, so it can be written by hand, derived from
//! Rust models, or produced by introspection, and shared between runtimes.

use serde::{Deserialize, Serialize};

pub use crate::types::PgType;

/// A database's tables. Queries name tables and columns; the compiler resolves
/// those names here, so a typo fails before any I/O.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    pub tables: Vec<Table>,
}

/// A table, the unit a query selects from. Its `name` is what errors call the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub name: String,
    /// The PostgreSQL schema the table lives in; unqualified when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub columns: Vec<Column>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: PgType,
    #[serde(default)]
    pub nullable: bool,
}

impl Schema {
    pub fn from_json(json: &str) -> Result<Schema, serde_json::Error> {
        serde_json::from_str(json)
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}
