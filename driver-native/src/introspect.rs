//! `keel introspect`: a live database's catalog as a keel [`Schema`].
//!
//! Reads `pg_catalog` (not `information_schema`, which hides enum labels,
//! index methods and partitioned tables) over the simple protocol, so every
//! value arrives as text and no type needs decoding. Relations are named
//! from foreign keys without guessing plurals: belongs-to after the
//! referenced table (or the key column, minus `_id`, when a table has
//! several keys to it), has-many after the referencing table; a clash gets
//! the key column appended. Join tables whose primary key is exactly their
//! two foreign keys become many-to-many relations on both sides.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use keel_core::schema::{
    Column, Domain, EnumType, FkAction, ForeignKey, Index, ManyToMany, Schema, Table, Unique,
};
use keel_core::types::PgType;
use tokio_postgres::SimpleQueryMessage;

use crate::driver::map_error;
use crate::endpoint::Endpoint;
use crate::error::{NativeError, NativeResult};
use crate::tls::TlsSettings;

/// Schemas never introspected.
const SYSTEM: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'";

/// Connects to `url` and reads its schema. TLS follows the URL's
/// `sslmode`/`sslrootcert` (default `prefer`).
pub async fn introspect(url: &str) -> NativeResult<Schema> {
    introspect_with(url, &TlsSettings::default()).await
}

/// [`introspect`] with TLS settings, as a pool takes them.
pub async fn introspect_with(url: &str, tls: &TlsSettings) -> NativeResult<Schema> {
    let client = Endpoint::new(url, tls)?.connect().await?;
    introspect_client(&client).await
}

type TextRow = Vec<Option<String>>;

/// A foreign key as read: (table index, referenced table index, columns,
/// referenced columns, ON DELETE action).
type RawForeignKey = (usize, usize, Vec<String>, Vec<String>, Option<FkAction>);

async fn rows(client: &tokio_postgres::Client, sql: &str) -> NativeResult<Vec<TextRow>> {
    let messages = client.simple_query(sql).await.map_err(map_error)?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

fn text(row: &TextRow, i: usize) -> NativeResult<String> {
    row.get(i).cloned().flatten().ok_or_else(|| {
        NativeError::Db(keel_core::Error::Transport(format!(
            "catalog query returned NULL in column {i}"
        )))
    })
}

fn list(row: &TextRow, i: usize) -> NativeResult<Vec<String>> {
    // `array_to_string(..., E'\x1f')`: names never contain the unit separator.
    Ok(text(row, i)?
        .split('\u{1f}')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The keel type name of a catalog type: built-ins by `typname`, arrays as
/// `element[]`, the one-byte `"char"` quoted, user types by name.
fn type_name(typname: &str, element: Option<&str>) -> PgType {
    match element {
        Some(element) => PgType::Array(Box::new(type_name(element, None))),
        None if typname == "char" => PgType::Char,
        None => PgType::parse(typname),
    }
}

pub(crate) async fn introspect_client(client: &tokio_postgres::Client) -> NativeResult<Schema> {
    let tables_sql = format!(
        "SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND {SYSTEM} ORDER BY n.nspname, c.relname"
    );
    let mut tables: Vec<(String, Table)> = Vec::new();
    let mut by_oid: HashMap<String, usize> = HashMap::new();
    for row in rows(client, &tables_sql).await? {
        let (oid, nsp, name) = (text(&row, 0)?, text(&row, 1)?, text(&row, 2)?);
        by_oid.insert(oid.clone(), tables.len());
        tables.push((
            oid,
            Table {
                name,
                schema: (nsp != "public").then_some(nsp),
                columns: Vec::new(),
                primary_key: Vec::new(),
                unique: Vec::new(),
                foreign_keys: Vec::new(),
                many_to_many: Vec::new(),
                indexes: Vec::new(),
            },
        ));
    }

    let columns_sql = format!(
        "SELECT a.attrelid, a.attname, t.typname, e.typname, a.attnotnull, \
                pg_get_expr(d.adbin, d.adrelid) \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A' \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND {SYSTEM} \
         ORDER BY a.attrelid, a.attnum"
    );
    for row in rows(client, &columns_sql).await? {
        let Some(&index) = by_oid.get(&text(&row, 0)?) else {
            continue;
        };
        let element = row.get(3).cloned().flatten();
        tables[index].1.columns.push(Column {
            name: text(&row, 1)?,
            ty: type_name(&text(&row, 2)?, element.as_deref()),
            nullable: text(&row, 4)? != "t",
            default: row.get(5).cloned().flatten(),
        });
    }

    let constraints_sql = format!(
        "SELECT con.conrelid, con.contype, con.conname, \
                array_to_string(ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i) \
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i), E'\\x1f'), \
                con.confrelid, \
                array_to_string(ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i) \
                    JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i), E'\\x1f'), \
                con.confdeltype \
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE con.contype IN ('p', 'u', 'f') AND c.relkind IN ('r', 'p') AND {SYSTEM} \
         ORDER BY con.conrelid, con.contype, con.conname"
    );
    let mut fks: Vec<RawForeignKey> = Vec::new();
    for row in rows(client, &constraints_sql).await? {
        let Some(&index) = by_oid.get(&text(&row, 0)?) else {
            continue;
        };
        let columns = list(&row, 3)?;
        match text(&row, 1)?.as_str() {
            "p" => tables[index].1.primary_key = columns,
            "u" => tables[index].1.unique.push(Unique {
                name: Some(text(&row, 2)?),
                columns,
            }),
            _ => {
                let Some(&target) = by_oid.get(&text(&row, 4)?) else {
                    continue;
                };
                let action = match text(&row, 6)?.as_str() {
                    "c" => Some(FkAction::Cascade),
                    "r" => Some(FkAction::Restrict),
                    "n" => Some(FkAction::SetNull),
                    "a" => Some(FkAction::NoAction),
                    _ => None,
                };
                fks.push((index, target, columns, list(&row, 5)?, action));
            }
        }
    }

    let indexes_sql = format!(
        "SELECT i.indrelid, ic.relname, i.indisunique, am.amname, pg_get_expr(i.indpred, i.indrelid), \
                i.indnkeyatts, \
                array_to_string(ARRAY(SELECT coalesce(a.attname, '') FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o) \
                    LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o), E'\\x1f'), \
                0 = ANY(i.indkey::int2[]) \
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_am am ON am.oid = ic.relam \
         WHERE c.relkind IN ('r', 'p') AND {SYSTEM} \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid) \
         ORDER BY i.indrelid, ic.relname"
    );
    for row in rows(client, &indexes_sql).await? {
        let Some(&index) = by_oid.get(&text(&row, 0)?) else {
            continue;
        };
        // Expression indexes have no column list keel can express.
        if text(&row, 7)? == "t" {
            continue;
        }
        let all = list(&row, 6)?;
        let keys: usize = text(&row, 5)?.parse().unwrap_or(all.len());
        let (columns, include) = all.split_at(keys.min(all.len()));
        let method = text(&row, 3)?;
        tables[index].1.indexes.push(Index {
            name: text(&row, 1)?,
            columns: columns.to_vec(),
            unique: text(&row, 2)? == "t",
            include: include.to_vec(),
            predicate: row.get(4).cloned().flatten(),
            using: (method != "btree").then_some(method),
        });
    }

    let enums_sql = format!(
        "SELECT t.typname, array_to_string(ARRAY(SELECT e.enumlabel FROM pg_enum e \
                WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), E'\\x1f') \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE t.typtype = 'e' AND {SYSTEM} ORDER BY t.typname"
    );
    let mut enums = Vec::new();
    for row in rows(client, &enums_sql).await? {
        enums.push(EnumType {
            name: text(&row, 0)?,
            values: list(&row, 1)?,
        });
    }

    let domains_sql = format!(
        "SELECT t.typname, b.typname, be.typname, t.typnotnull, \
                (SELECT string_agg(regexp_replace(pg_get_constraintdef(con.oid), '^CHECK \\((.*)\\)$', '\\1'), ' AND ') \
                 FROM pg_constraint con WHERE con.contypid = t.oid AND con.contype = 'c') \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         JOIN pg_type b ON b.oid = t.typbasetype \
         LEFT JOIN pg_type be ON be.oid = b.typelem AND b.typcategory = 'A' \
         WHERE t.typtype = 'd' AND {SYSTEM} ORDER BY t.typname"
    );
    let mut domains = Vec::new();
    for row in rows(client, &domains_sql).await? {
        let element = row.get(2).cloned().flatten();
        domains.push(Domain {
            name: text(&row, 0)?,
            ty: type_name(&text(&row, 1)?, element.as_deref()),
            not_null: text(&row, 3)? == "t",
            check: row.get(4).cloned().flatten(),
        });
    }

    let mut tables: Vec<Table> = tables.into_iter().map(|(_, t)| t).collect();
    name_relations(&mut tables, fks);
    Ok(Schema {
        tables,
        enums,
        domains,
        views: Vec::new(),
    })
}

/// Attaches foreign keys with relation names unique per table, and
/// many-to-many relations through pure join tables.
fn name_relations(tables: &mut [Table], fks: Vec<RawForeignKey>) {
    let mut taken: Vec<BTreeSet<String>> = tables
        .iter()
        .map(|t| t.columns.iter().map(|c| c.name.clone()).collect())
        .collect();
    let mut claim = |table: usize, wanted: String, fallback: String| -> String {
        let mut name = wanted;
        if taken[table].contains(&name) {
            name = fallback;
        }
        let base = name.clone();
        let mut n = 2;
        while taken[table].contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        taken[table].insert(name.clone());
        name
    };
    let mut per_target: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (source, target, ..) in &fks {
        *per_target.entry((*source, *target)).or_default() += 1;
    }
    let mut join_fks: BTreeMap<usize, Vec<(usize, Vec<String>)>> = BTreeMap::new();
    for (source, target, columns, referenced, action) in fks {
        let target_name = tables[target].name.clone();
        let source_name = tables[source].name.clone();
        let key = columns.join("_");
        let stem = key.trim_end_matches("_id").to_owned();
        let several = per_target[&(source, target)] > 1;
        let relation = claim(
            source,
            if several {
                stem.clone()
            } else {
                target_name.clone()
            },
            format!("{target_name}_by_{key}"),
        );
        let inverse = claim(
            target,
            if several {
                format!("{source_name}_by_{stem}")
            } else {
                source_name.clone()
            },
            format!("{source_name}_by_{key}"),
        );
        let source_table = &tables[source];
        let unique_key = source_table.primary_key == columns
            || source_table.unique.iter().any(|u| u.columns == columns);
        let referenced_columns = if tables[target].primary_key == referenced {
            Vec::new()
        } else {
            referenced
        };
        join_fks
            .entry(source)
            .or_default()
            .push((target, columns.clone()));
        tables[source].foreign_keys.push(ForeignKey {
            columns,
            references: target_name,
            referenced_columns,
            relation: Some(relation),
            inverse: Some(inverse),
            inverse_one: unique_key,
            on_delete: action,
        });
    }
    for (join, keys) in join_fks {
        let [(a, a_cols), (b, b_cols)] = keys.as_slice() else {
            continue;
        };
        let pk: BTreeSet<&String> = tables[join].primary_key.iter().collect();
        let both: BTreeSet<&String> = a_cols.iter().chain(b_cols).collect();
        if a == b || pk != both || pk.len() != a_cols.len() + b_cols.len() {
            continue;
        }
        let through = tables[join].name.clone();
        for (from, to) in [(*a, *b), (*b, *a)] {
            let target = tables[to].name.clone();
            let name = claim(from, target.clone(), format!("{target}_via_{through}"));
            tables[from].many_to_many.push(ManyToMany {
                name,
                through: through.clone(),
                target,
            });
        }
    }
}
