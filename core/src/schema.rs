//! The data model of a database: tables, typed columns, keys, relations and
//! indexes, which queries are checked against and DDL is generated from.
//!
//! A schema is plain serde data, so it can be written by hand, derived from
//! Rust models, or produced by introspection, and shared between runtimes.
//! It is read by hand from a parsed JSON tree (see the end of this file),
//! accepting what serde's derive accepted.

use serde::Serialize;

use crate::json_text::Node;
use crate::query::json::{
    boolean, fields, list, pg_type, select, string, strings, unit_variant, FormatError, R,
};

pub use crate::types::PgType;

/// A database's tables and user-defined types. Queries name tables and
/// columns; the compiler resolves those names here, so a typo fails before any I/O.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Unique {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub columns: Vec<String>,
}

/// A foreign key, and the relations it defines: `relation` on this table
/// (belongs-to) and `inverse` on the referenced one (has-many, or has-one
/// when `inverse_one`).
#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    Cascade,
    Restrict,
    SetNull,
    NoAction,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManyToMany {
    pub name: String,
    pub through: String,
    pub target: String,
}

/// An index. `include` makes it covering; `where` (trusted SQL, as for
/// defaults) makes it partial.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnumType {
    pub name: String,
    pub values: Vec<String>,
}

/// `CREATE DOMAIN name AS type [CHECK (...)]`; values are checked as the base type.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
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
    pub fn from_json(json: &str) -> Result<Schema, FormatError> {
        crate::json_text::read(json, schema)
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
                return Some(Relation {
                    name: fk.relation.as_deref().unwrap_or_default(),
                    kind: RelationKind::BelongsTo,
                    target,
                    pairs: column_pairs(fk, target, false),
                    through: None,
                });
            }
        }
        for other in &self.tables {
            for fk in &other.foreign_keys {
                if fk.references == table.name && fk.inverse.as_deref() == Some(name) {
                    return Some(Relation {
                        name: fk.inverse.as_deref().unwrap_or_default(),
                        kind: if fk.inverse_one {
                            RelationKind::HasOne
                        } else {
                            RelationKind::HasMany
                        },
                        target: other,
                        pairs: column_pairs(fk, table, true),
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
                source_pairs: column_pairs(to_source, table, false),
                target_pairs: column_pairs(to_target, target, false),
            }),
        })
    }
}

/// (`fk` column, `target` column) pairs, or the other way round when
/// `flip`; the target's primary key when `fk` names no referenced columns.
/// One function for all four uses, so one iterator chain is compiled.
fn column_pairs<'a>(fk: &'a ForeignKey, target: &'a Table, flip: bool) -> Vec<(&'a str, &'a str)> {
    let referenced = if fk.referenced_columns.is_empty() {
        &target.primary_key
    } else {
        &fk.referenced_columns
    };
    fk.columns
        .iter()
        .zip(referenced)
        .map(|(a, b)| {
            if flip {
                (b.as_str(), a.as_str())
            } else {
                (a.as_str(), b.as_str())
            }
        })
        .collect()
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

// The readers below accept exactly what the derive with the attributes above
// accepted: an object with no unknown keys, or an array of the fields in
// order; `#[serde(default)]` fields may be absent, and only `Option`s take null.

fn schema(n: Node) -> R<Schema> {
    let mut f = fields(
        n,
        "struct Schema",
        &["tables", "enums", "domains", "views"],
        true,
        true,
    );
    let value = Schema {
        tables: f.required(0, |n| list(n, table)).unwrap_or_default(),
        enums: f.or_default(1, |n| list(n, enum_type)),
        domains: f.or_default(2, |n| list(n, domain)),
        views: f.or_default(3, |n| list(n, view)),
    };
    f.done(value)
}

fn table(n: Node) -> R<Table> {
    let mut f = fields(
        n,
        "struct Table",
        &[
            "name",
            "schema",
            "columns",
            "primary_key",
            "unique",
            "foreign_keys",
            "many_to_many",
            "indexes",
        ],
        true,
        true,
    );
    let value = Table {
        name: f.required(0, string).unwrap_or_default(),
        schema: f.optional(1, string),
        columns: f.required(2, |n| list(n, column)).unwrap_or_default(),
        primary_key: f.or_default(3, strings),
        unique: f.or_default(4, |n| list(n, unique)),
        foreign_keys: f.or_default(5, |n| list(n, foreign_key)),
        many_to_many: f.or_default(6, |n| list(n, many_to_many)),
        indexes: f.or_default(7, |n| list(n, index)),
    };
    f.done(value)
}

fn column(n: Node) -> R<Column> {
    let mut f = fields(
        n,
        "struct Column",
        &["name", "type", "nullable", "default"],
        true,
        true,
    );
    let name = f.required(0, string).unwrap_or_default();
    let ty = f.required(1, pg_type);
    let nullable = f.or_default(2, boolean);
    let default = f.optional(3, string);
    let Some(ty) = ty else {
        return Err(f.error());
    };
    f.done(Column {
        name,
        ty,
        nullable,
        default,
    })
}

fn unique(n: Node) -> R<Unique> {
    let mut f = fields(n, "struct Unique", &["name", "columns"], true, true);
    let value = Unique {
        name: f.optional(0, string),
        columns: f.required(1, strings).unwrap_or_default(),
    };
    f.done(value)
}

fn foreign_key(n: Node) -> R<ForeignKey> {
    let mut f = fields(
        n,
        "struct ForeignKey",
        &[
            "columns",
            "references",
            "referenced_columns",
            "relation",
            "inverse",
            "inverse_one",
            "on_delete",
        ],
        true,
        true,
    );
    let value = ForeignKey {
        columns: f.required(0, strings).unwrap_or_default(),
        references: f.required(1, string).unwrap_or_default(),
        referenced_columns: f.or_default(2, strings),
        relation: f.optional(3, string),
        inverse: f.optional(4, string),
        inverse_one: f.or_default(5, boolean),
        on_delete: f.optional(6, fk_action),
    };
    f.done(value)
}

fn fk_action(n: Node) -> R<FkAction> {
    const ALL: [FkAction; 4] = [
        FkAction::Cascade,
        FkAction::Restrict,
        FkAction::SetNull,
        FkAction::NoAction,
    ];
    let i = unit_variant(n, &["cascade", "restrict", "set_null", "no_action"])?;
    Ok(ALL.get(i).copied().unwrap_or(FkAction::Cascade))
}

fn many_to_many(n: Node) -> R<ManyToMany> {
    let mut f = fields(
        n,
        "struct ManyToMany",
        &["name", "through", "target"],
        true,
        true,
    );
    let value = ManyToMany {
        name: f.required(0, string).unwrap_or_default(),
        through: f.required(1, string).unwrap_or_default(),
        target: f.required(2, string).unwrap_or_default(),
    };
    f.done(value)
}

fn index(n: Node) -> R<Index> {
    let mut f = fields(
        n,
        "struct Index",
        &["name", "columns", "unique", "include", "where", "using"],
        true,
        true,
    );
    let value = Index {
        name: f.required(0, string).unwrap_or_default(),
        columns: f.required(1, strings).unwrap_or_default(),
        unique: f.or_default(2, boolean),
        include: f.or_default(3, strings),
        predicate: f.optional(4, string),
        using: f.optional(5, string),
    };
    f.done(value)
}

fn enum_type(n: Node) -> R<EnumType> {
    let mut f = fields(n, "struct EnumType", &["name", "values"], true, true);
    let value = EnumType {
        name: f.required(0, string).unwrap_or_default(),
        values: f.required(1, strings).unwrap_or_default(),
    };
    f.done(value)
}

fn domain(n: Node) -> R<Domain> {
    let mut f = fields(
        n,
        "struct Domain",
        &["name", "type", "not_null", "check"],
        true,
        true,
    );
    let name = f.required(0, string).unwrap_or_default();
    let ty = f.required(1, pg_type);
    let not_null = f.or_default(2, boolean);
    let check = f.optional(3, string);
    let Some(ty) = ty else {
        return Err(f.error());
    };
    f.done(Domain {
        name,
        ty,
        not_null,
        check,
    })
}

fn view(n: Node) -> R<View> {
    let mut f = fields(n, "struct View", &["name", "query"], true, true);
    let name = f.required(0, string).unwrap_or_default();
    let query = f.required(1, select);
    let Some(query) = query else {
        return Err(f.error());
    };
    f.done(View { name, query })
}

crate::query::json::deserialize_via_node! {
    Schema => schema,
    Table => table,
    Column => column,
    Unique => unique,
    ForeignKey => foreign_key,
    FkAction => fk_action,
    ManyToMany => many_to_many,
    Index => index,
    EnumType => enum_type,
    Domain => domain,
    View => view,
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::{json, Value as J};

    use super::*;
    use crate::query::Select;

    // The derive this file used to have, attribute for attribute, as the
    // reference the hand reader is checked against.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DSchema {
        tables: Vec<DTable>,
        #[serde(default)]
        enums: Vec<DEnumType>,
        #[serde(default)]
        domains: Vec<DDomain>,
        #[serde(default)]
        views: Vec<DView>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DTable {
        name: String,
        #[serde(default)]
        schema: Option<String>,
        columns: Vec<DColumn>,
        #[serde(default)]
        primary_key: Vec<String>,
        #[serde(default)]
        unique: Vec<DUnique>,
        #[serde(default)]
        foreign_keys: Vec<DForeignKey>,
        #[serde(default)]
        many_to_many: Vec<DManyToMany>,
        #[serde(default)]
        indexes: Vec<DIndex>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DColumn {
        name: String,
        #[serde(rename = "type")]
        ty: PgType,
        #[serde(default)]
        nullable: bool,
        #[serde(default)]
        default: Option<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DUnique {
        #[serde(default)]
        name: Option<String>,
        columns: Vec<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DForeignKey {
        columns: Vec<String>,
        references: String,
        #[serde(default)]
        referenced_columns: Vec<String>,
        #[serde(default)]
        relation: Option<String>,
        #[serde(default)]
        inverse: Option<String>,
        #[serde(default)]
        inverse_one: bool,
        #[serde(default)]
        on_delete: Option<DFkAction>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum DFkAction {
        Cascade,
        Restrict,
        SetNull,
        NoAction,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DManyToMany {
        name: String,
        through: String,
        target: String,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DIndex {
        name: String,
        columns: Vec<String>,
        #[serde(default)]
        unique: bool,
        #[serde(default)]
        include: Vec<String>,
        #[serde(rename = "where", default)]
        predicate: Option<String>,
        #[serde(default)]
        using: Option<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DEnumType {
        name: String,
        values: Vec<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DDomain {
        name: String,
        #[serde(rename = "type")]
        ty: PgType,
        #[serde(default)]
        not_null: bool,
        #[serde(default)]
        check: Option<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DView {
        name: String,
        query: Select,
    }

    /// What the derive makes of `text`: the schema, or its message without
    /// the position (the hand reader names a path instead).
    fn derived(text: &str) -> Result<DSchema, String> {
        serde_json::from_str(text).map_err(|e| {
            let e = e.to_string().replace("struct D", "struct ");
            match e.rfind(" at line ") {
                Some(at) => e[..at].to_owned(),
                None => e,
            }
        })
    }

    /// The hand reader's result, in the derive's terms: written back out and
    /// read by the derive, which fills in the same defaults.
    fn by_hand(text: &str) -> Result<DSchema, String> {
        let schema = Schema::from_json(text).map_err(|e| {
            // A view's query reports its own path, as its `Deserialize` did.
            match e.path.split_once("query.") {
                Some((_, inner)) => format!("{} at {inner}", e.message),
                None => e.message,
            }
        })?;
        Ok(serde_json::from_value(serde_json::to_value(&schema).unwrap()).unwrap())
    }

    fn agree(text: &str) {
        match (by_hand(text), derived(text)) {
            // serde_json refuses an enum that is neither string nor map with
            // a bare "expected value"; the hand reader says what it found.
            (Err(hand), Err(derive)) if derive == "expected value" => {
                assert!(hand.contains("expected string or map") || hand.contains("single key"));
            }
            (hand, derive) => assert_eq!(hand, derive, "{text}"),
        }
    }

    const FIXTURES: &[&str] = &[
        include_str!("../../examples/music/schema.json"),
        include_str!("../../tests/corpus/chinook/schema.json"),
        include_str!("../../tests/corpus/pagila/schema.json"),
        include_str!("../../tests/chinook/track.schema.json"),
        include_str!("../tests/golden/schema.json"),
    ];

    fn full() -> J {
        json!({
            "tables": [
                {"name": "a", "schema": "s", "primary_key": ["id"],
                 "columns": [{"name": "id", "type": "int4", "nullable": false, "default": "0"},
                             {"name": "tags", "type": "text[]", "nullable": true}],
                 "unique": [{"name": "u", "columns": ["id"]}, {"columns": ["tags"]}],
                 "foreign_keys": [{"columns": ["id"], "references": "b", "referenced_columns": ["id"],
                     "relation": "b", "inverse": "a", "inverse_one": true, "on_delete": "set_null"}],
                 "many_to_many": [{"name": "cs", "through": "ab", "target": "c"}],
                 "indexes": [{"name": "i", "columns": ["id"], "unique": true, "include": ["tags"],
                     "where": "id > 0", "using": "btree"}]},
                {"name": "b", "columns": [{"name": "id", "type": "mood"}]}
            ],
            "enums": [{"name": "mood", "values": ["ok"]}],
            "domains": [{"name": "pos", "type": "int4", "not_null": true, "check": "VALUE > 0"}],
            "views": [{"name": "v", "query": {"from": "a", "columns": ["id"]}}]
        })
    }

    /// Also every `*.json` in `KEEL_TEST_SCHEMA_DIR`, e.g. `keel introspect`
    /// output for the shared datasets, which the repository does not hold.
    #[test]
    fn fixtures_read_as_the_derive_read_them() {
        for text in FIXTURES {
            assert!(derived(text).is_ok());
            agree(text);
        }
        agree(&full().to_string());
        let Some(dir) = std::env::var_os("KEEL_TEST_SCHEMA_DIR") else {
            return;
        };
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(derived(&text).is_ok(), "{}", path.display());
                agree(&text);
            }
        }
    }

    /// Every object of `doc`, by its path of keys and indexes.
    fn objects(doc: &J, path: Vec<J>, out: &mut Vec<Vec<J>>) {
        match doc {
            J::Object(map) => {
                out.push(path.clone());
                for (k, v) in map {
                    let mut p = path.clone();
                    p.push(json!(k));
                    objects(v, p, out);
                }
            }
            J::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(json!(i));
                    objects(v, p, out);
                }
            }
            _ => {}
        }
    }

    fn at<'a>(doc: &'a mut J, path: &[J]) -> &'a mut J {
        path.iter().fold(doc, |d, k| match k {
            J::String(k) => &mut d[k.as_str()],
            J::Number(i) => &mut d[i.as_u64().unwrap() as usize],
            _ => unreachable!(),
        })
    }

    #[test]
    fn every_single_change_is_accepted_or_refused_as_by_the_derive() {
        let doc = full();
        let mut paths = Vec::new();
        objects(&doc, Vec::new(), &mut paths);
        let replacements = [
            json!(null),
            json!(1),
            json!(-1),
            json!(1.5),
            json!("x"),
            json!(""),
            json!(" "),
            json!(true),
            json!([]),
            json!(["x"]),
            json!({}),
            json!({"cascade": null}),
            json!("cascade"),
            json!("no_action"),
        ];
        for path in paths {
            let keys: Vec<String> = match at(&mut doc.clone(), &path) {
                J::Object(map) => map.keys().cloned().collect(),
                _ => unreachable!(),
            };
            let mut changed = doc.clone();
            at(&mut changed, &path)["zz"] = json!(1);
            agree(&changed.to_string());
            for key in keys {
                let mut changed = doc.clone();
                if let J::Object(map) = at(&mut changed, &path) {
                    map.remove(&key);
                }
                agree(&changed.to_string());
                for r in &replacements {
                    let mut changed = doc.clone();
                    at(&mut changed, &path)[key.as_str()] = r.clone();
                    agree(&changed.to_string());
                }
            }
        }
    }

    #[test]
    fn quirks_of_the_derive_are_kept() {
        for text in [
            // Structs written as arrays of their fields in order.
            r#"[[["t", null, [["id", "int4"], ["n", "text", true, "1"]], ["id"]]], [["m", ["a"]]]]"#,
            r#"{"tables": [["t", "s", [["id", "int4", false]], [], [[null, ["id"]]],
                [[["id"], "t", [], "r", null, false, "cascade"]], [["m", "j", "t"]],
                [["i", ["id"], false, [], null, "gin"]]]], "domains": [["d", "int4", true, null]]}"#,
            r#"[[], [], [], [["v", ["t"]]]]"#,
            r#"[[["t"]]]"#,
            r#"[[["t", null]]]"#,
            r#"[]"#,
            r#"[[], [], [["d", "int4"]]]"#,
            // Repeated keys, and unit variants written as maps.
            r#"{"tables": [], "tables": []}"#,
            r#"{"tables": [{"name": "t", "columns": [], "foreign_keys": [{"columns": [], "references": "t", "on_delete": {"restrict": null}}]}]}"#,
            r#"{"tables": [{"name": "t", "columns": [], "foreign_keys": [{"columns": [], "references": "t", "on_delete": {"restrict": 1}}]}]}"#,
            r#"{"tables": [{"name": "t", "columns": [], "foreign_keys": [{"columns": [], "references": "t", "on_delete": {"restrict": null, "cascade": null}}]}]}"#,
            r#"{"tables": [{"name": "t", "columns": [{"name": "c", "type": ""}]}]}"#,
            r#"{"tables": [{"name": "t", "columns": [{"name": "c", "type": "  "}]}]}"#,
            r#"{"tables": [{"name": "t", "columns": [{"name": "c", "type": "int4", "default": null, "nullable": null}]}]}"#,
            r#"{"tables": [], "views": [{"name": "v", "query": {"from": "t"}}]}"#,
            r#"{"tables": [], "views": [{"name": "v", "query": []}]}"#,
            r#"{}"#,
            r#"[]"#,
            r#"7"#,
        ] {
            agree(text);
        }
    }

    #[test]
    fn errors_name_the_path() {
        let err = Schema::from_json(
            r#"{"tables": [{"name": "t", "columns": [{"name": "c", "type": 5}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid type: integer `5`, expected a string at tables[0].columns[0].type"
        );
        let err = Schema::from_json(r#"{"tables": []"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "EOF while parsing an object at line 1 column 13"
        );
        let parsed: Schema = serde_json::from_str(FIXTURES[0]).unwrap();
        assert_eq!(parsed, Schema::from_json(FIXTURES[0]).unwrap());
    }
}
