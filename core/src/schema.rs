//! The data model of a database: the tables and typed columns queries are checked against.
//!
//! A schema is plain serde data, so it can be written by hand, derived from
//! Rust models, or produced by introspection, and shared between runtimes.

use serde::{Deserialize, Serialize};

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

/// The PostgreSQL types keel knows how to bind and decode in binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PgType {
    #[serde(alias = "boolean")]
    Bool,
    #[serde(alias = "smallint")]
    Int2,
    #[serde(alias = "integer", alias = "int")]
    Int4,
    #[serde(alias = "bigint")]
    Int8,
    #[serde(alias = "real")]
    Float4,
    #[serde(alias = "double precision")]
    Float8,
    #[serde(alias = "decimal")]
    Numeric,
    Text,
    #[serde(alias = "character varying")]
    Varchar,
    #[serde(alias = "timestamp with time zone")]
    Timestamptz,
}

impl PgType {
    pub fn oid(self) -> u32 {
        match self {
            PgType::Bool => 16,
            PgType::Int2 => 21,
            PgType::Int4 => 23,
            PgType::Int8 => 20,
            PgType::Float4 => 700,
            PgType::Float8 => 701,
            PgType::Numeric => 1700,
            PgType::Text => 25,
            PgType::Varchar => 1043,
            PgType::Timestamptz => 1184,
        }
    }

    pub fn from_oid(oid: u32) -> Option<PgType> {
        Some(match oid {
            16 => PgType::Bool,
            21 => PgType::Int2,
            23 => PgType::Int4,
            20 => PgType::Int8,
            700 => PgType::Float4,
            701 => PgType::Float8,
            1700 => PgType::Numeric,
            25 => PgType::Text,
            1043 => PgType::Varchar,
            1184 => PgType::Timestamptz,
            _ => return None,
        })
    }

    /// The name PostgreSQL uses, as shown in errors.
    pub fn name(self) -> &'static str {
        match self {
            PgType::Bool => "bool",
            PgType::Int2 => "int2",
            PgType::Int4 => "int4",
            PgType::Int8 => "int8",
            PgType::Float4 => "float4",
            PgType::Float8 => "float8",
            PgType::Numeric => "numeric",
            PgType::Text => "text",
            PgType::Varchar => "varchar",
            PgType::Timestamptz => "timestamptz",
        }
    }
}

impl std::fmt::Display for PgType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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
