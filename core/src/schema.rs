//! The data model of a database: tables, typed columns, keys, relations and
//! indexes, which queries are checked against and DDL is generated from.
//!
//! A schema is plain serde data, so it can be written by hand, derived from
//! Rust models, or produced by introspection, and shared between runtimes.

use serde::{Deserialize, Serialize};

pub use crate::types::PgType;

/// A database's tables and user-defined types. Queries name tables and
/// columns; the compiler resolves those names here, so a typo fails before any I/O.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    pub tables: Vec<Table>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enums: Vec<EnumType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
    /// Materialized views; their query is a select over the tables above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<View>,
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
    /// Unique constraints, each a list of columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique: Vec<Unique>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    /// Many-to-many relations through a join table that has a foreign key to
    /// this table and one to the target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub many_to_many: Vec<ManyToMany>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: PgType,
    #[serde(default)]
    pub nullable: bool,
    /// A default as SQL text (`"now()"`, `"0"`). The schema is trusted
    /// developer input, like a migration, so it is written into DDL as is;
    /// query values never are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unique {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub columns: Vec<String>,
}

/// A foreign key, and the relations it defines: `relation` on this table
/// (belongs-to) and `inverse` on the referenced one (has-many, or has-one
/// when `inverse_one`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    /// The referenced columns; the referenced table's primary key when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referenced_columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverse: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inverse_one: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<FkAction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    Cascade,
    Restrict,
    SetNull,
    NoAction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManyToMany {
    pub name: String,
    pub through: String,
    pub target: String,
}

/// An index. `include` makes it covering; `where` (trusted SQL, as for
/// defaults) makes it partial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    /// The index method (`btree`, `gin`, `gist`, ...); btree when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub using: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumType {
    pub name: String,
    pub values: Vec<String>,
}

/// `CREATE DOMAIN name AS type [CHECK (...)]`; values are checked as the base type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: PgType,
    /// `NOT NULL` on the domain itself; columns of the domain then refuse NULL too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_null: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct View {
    pub name: String,
    pub query: crate::query::Select,
}

/// How two tables are connected, resolved from the schema's foreign keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    BelongsTo,
    HasMany,
    HasOne,
    ManyToMany,
}

/// A named relation from `source`: `pairs` are (source column, target column)
/// equalities; for many-to-many, `through` holds the join table with its
/// (join column, source column) and (join column, target column) pairs.
#[derive(Debug, Clone)]
pub struct Relation<'a> {
    pub name: &'a str,
    pub kind: RelationKind,
    pub target: &'a Table,
    pub pairs: Vec<(&'a str, &'a str)>,
    pub through: Option<Through<'a>>,
}

#[derive(Debug, Clone)]
pub struct Through<'a> {
    pub table: &'a Table,
    /// (join table column, source column).
    pub source_pairs: Vec<(&'a str, &'a str)>,
    /// (join table column, target column).
    pub target_pairs: Vec<(&'a str, &'a str)>,
}

/// What a user-defined type name refers to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NamedType<'a> {
    Enum(&'a EnumType),
    Domain(&'a Domain),
}

impl Schema {
    pub fn from_json(json: &str) -> Result<Schema, serde_json::Error> {
        serde_json::from_str(json)
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn named_type(&self, name: &str) -> Option<NamedType<'_>> {
        if let Some(e) = self.enums.iter().find(|e| e.name == name) {
            return Some(NamedType::Enum(e));
        }
        self.domains
            .iter()
            .find(|d| d.name == name)
            .map(NamedType::Domain)
    }

    /// The relation `name` of `table`, from its own foreign keys (belongs-to),
    /// other tables' foreign keys to it (has-many/has-one), or its
    /// many-to-many declarations.
    pub fn relation<'a>(&'a self, table: &'a Table, name: &str) -> Option<Relation<'a>> {
        for fk in &table.foreign_keys {
            if fk.relation.as_deref() == Some(name) {
                let target = self.table(&fk.references)?;
                let referenced = referenced_columns(fk, target);
                return Some(Relation {
                    name: fk.relation.as_deref().unwrap_or_default(),
                    kind: RelationKind::BelongsTo,
                    target,
                    pairs: fk
                        .columns
                        .iter()
                        .map(String::as_str)
                        .zip(referenced)
                        .collect(),
                    through: None,
                });
            }
        }
        for other in &self.tables {
            for fk in &other.foreign_keys {
                if fk.references == table.name && fk.inverse.as_deref() == Some(name) {
                    let referenced = referenced_columns(fk, table);
                    return Some(Relation {
                        name: fk.inverse.as_deref().unwrap_or_default(),
                        kind: if fk.inverse_one {
                            RelationKind::HasOne
                        } else {
                            RelationKind::HasMany
                        },
                        target: other,
                        pairs: referenced
                            .into_iter()
                            .zip(fk.columns.iter().map(String::as_str))
                            .collect(),
                        through: None,
                    });
                }
            }
        }
        let m2m = table.many_to_many.iter().find(|m| m.name == name)?;
        let join = self.table(&m2m.through)?;
        let target = self.table(&m2m.target)?;
        let to_source = join
            .foreign_keys
            .iter()
            .find(|fk| fk.references == table.name)?;
        let to_target = join
            .foreign_keys
            .iter()
            .find(|fk| fk.references == target.name && !std::ptr::eq(*fk, to_source))?;
        Some(Relation {
            name: &m2m.name,
            kind: RelationKind::ManyToMany,
            target,
            pairs: Vec::new(),
            through: Some(Through {
                table: join,
                source_pairs: to_source
                    .columns
                    .iter()
                    .map(String::as_str)
                    .zip(referenced_columns(to_source, table))
                    .collect(),
                target_pairs: to_target
                    .columns
                    .iter()
                    .map(String::as_str)
                    .zip(referenced_columns(to_target, target))
                    .collect(),
            }),
        })
    }
}

fn referenced_columns<'a>(fk: &'a ForeignKey, target: &'a Table) -> Vec<&'a str> {
    if fk.referenced_columns.is_empty() {
        target.primary_key.iter().map(String::as_str).collect()
    } else {
        fk.referenced_columns.iter().map(String::as_str).collect()
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}
