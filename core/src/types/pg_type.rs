//! The PostgreSQL types a schema can declare, with their OIDs.

use serde::{Deserialize, Serialize};

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
