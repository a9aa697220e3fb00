//! Models with eagerly loaded relations.
//!
//! A relation is only ever read from rows already fetched by the plan; one
//! that was not requested with `with(..)` is an [`OrmError::NotLoaded`],
//! never a query issued behind the caller's back.
//!
//! Every level of the plan is grouped by its key once, on first use, and the
//! grouping is shared by all the [`Loaded`] values cut from the same plan, so
//! walking a tree of `n` rows costs O(n) however deep it nests.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use super::{FromRow, OrmError, OrmResult};
use crate::db::{RawLoad, RawPlan};
use crate::query::typed::Model;
use crate::rows::RawRows;
use crate::types::{column_types, decode_cell, PgType, Value};

/// Models of one level of an eager-loading query, with access to the
/// relations loaded under them.
///
/// [`Find::all_loaded`](super::Find::all_loaded) gives the root level;
/// [`children`](Self::children) gives, per model, a `Loaded` of its related
/// models, which can be descended into the same way.
#[derive(Debug)]
pub struct Loaded<M> {
    pub models: Vec<M>,
    shared: Arc<Shared>,
    /// The node of `shared` this level's rows belong to.
    node: usize,
    /// For each model, its row's index in the node's rows.
    rows: Vec<usize>,
}

/// The fetched plan and, per level, its lazily built key index.
#[derive(Debug)]
struct Shared {
    plan: RawPlan,
    nodes: Vec<Node>,
}

/// One level of the plan, in pre-order; node 0 is the root.
#[derive(Debug)]
struct Node {
    /// Indices into `loads` from the root down to this level.
    path: Vec<usize>,
    /// How this level's cells decode (`column_types` of its rows).
    types: Vec<Option<PgType>>,
    /// The relations loaded under this level, by name, with their node.
    children: Vec<(String, usize)>,
    /// This level's rows grouped by the value of its `child_key` column
    /// (the column holding the parent's key); unused at the root.
    groups: OnceLock<HashMap<Key, Vec<usize>>>,
}

/// A hashable image of a key value. Integer widths are unified, because a
/// foreign key may be declared `int4` while the key it points at is `int8`.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Key {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Uuid([u8; 16]),
    /// Any other type, by its debug form: equal values print equally.
    Other(String),
}

impl Key {
    fn of(value: &Value) -> Option<Key> {
        Some(match value {
            Value::Null => return None,
            Value::Int2(v) => Key::Int(i64::from(*v)),
            Value::Int4(v) => Key::Int(i64::from(*v)),
            Value::Int8(v) => Key::Int(*v),
            Value::Oid(v) => Key::Int(i64::from(*v)),
            Value::Text(v) => Key::Text(v.clone()),
            Value::Bytea(v) => Key::Bytes(v.clone()),
            Value::Uuid(v) => Key::Uuid(*v),
            other => Key::Other(format!("{other:?}")),
        })
    }
}

impl Shared {
    fn new(plan: RawPlan) -> Result<Shared, crate::types::DecodeError> {
        let mut nodes = vec![Node {
            path: Vec::new(),
            types: column_types(&plan.rows)?,
            children: Vec::new(),
            groups: OnceLock::new(),
        }];
        // Pre-order over the plan: (node id, that node's loads).
        let mut stack: Vec<(usize, &RawPlan)> = vec![(0, &plan)];
        while let Some((id, level)) = stack.pop() {
            for (index, load) in level.loads.iter().enumerate() {
                let mut path = nodes[id].path.clone();
                path.push(index);
                let child = nodes.len();
                nodes.push(Node {
                    path,
                    types: column_types(&load.rows.rows)?,
                    children: Vec::new(),
                    groups: OnceLock::new(),
                });
                nodes[id].children.push((load.relation.clone(), child));
                stack.push((child, &load.rows));
            }
        }
        Ok(Shared { plan, nodes })
    }

    /// The rows of `node`, and the relation that loaded them (none at the root).
    fn level(&self, node: usize) -> (&RawPlan, Option<&RawLoad>) {
        let mut level = &self.plan;
        let mut relation = None;
        for &index in &self.nodes[node].path {
            let load = &level.loads[index];
            relation = Some(load);
            level = &load.rows;
        }
        (level, relation)
    }
}

impl<M: Model> Loaded<M> {
    /// Decodes the root level of `plan` into models.
    pub(super) fn new(plan: RawPlan) -> OrmResult<Loaded<M>>
    where
        M: FromRow,
    {
        let shared = Shared::new(plan).map_err(crate::error::Error::from)?;
        let all: Vec<usize> = (0..shared.plan.rows.len()).collect();
        let models = Decoder::<M>::new(&shared, 0)?.decode(&all)?;
        Ok(Loaded {
            models,
            shared: Arc::new(shared),
            node: 0,
            rows: all,
        })
    }

    /// All rows of this level's plan node, undecoded. Below the root that
    /// is the rows loaded for every parent at once, not only this
    /// `Loaded`'s models.
    pub fn plan(&self) -> &RawPlan {
        self.shared.level(self.node).0
    }

    /// The related models of `self.models[parent]` through `relation`: zero
    /// or one for belongs-to and has-one, any number otherwise.
    pub fn related<C: Model + FromRow>(&self, parent: usize, relation: &str) -> OrmResult<Vec<C>> {
        let link = self.link(relation)?;
        let decoder = Decoder::<C>::new(&self.shared, link.child)?;
        decoder.decode(self.rows_of(&link, parent)?)
    }

    /// Every model's related models through `relation`, in the order of
    /// [`models`](Self::models), each as a `Loaded` so that relations loaded
    /// below it (`with(Include::relation("posts").with(..))`) can be read in
    /// turn. This is how a nested tree such as
    /// `Vec<(User, Vec<(Post, Vec<Comment>)>)>` is assembled, with no
    /// further query.
    pub fn children<C: Model + FromRow>(&self, relation: &str) -> OrmResult<Vec<Loaded<C>>> {
        let link = self.link(relation)?;
        let decoder = Decoder::<C>::new(&self.shared, link.child)?;
        (0..self.models.len())
            .map(|parent| {
                let rows = self.rows_of(&link, parent)?;
                Ok(Loaded {
                    models: decoder.decode(rows)?,
                    shared: Arc::clone(&self.shared),
                    node: link.child,
                    rows: rows.to_vec(),
                })
            })
            .collect()
    }

    /// Resolves `relation` below this level once: its node, where the key
    /// is in this level's rows, and the child rows grouped by key.
    fn link(&self, relation: &str) -> OrmResult<Link<'_>> {
        let shared = &*self.shared;
        let child = shared.nodes[self.node]
            .children
            .iter()
            .find(|(name, _)| name == relation)
            .map(|(_, node)| *node)
            .ok_or_else(|| OrmError::NotLoaded {
                model: M::TABLE,
                relation: relation.to_owned(),
            })?;
        let (level, _) = shared.level(self.node);
        let (children, load) = shared.level(child);
        let Some(load) = load else {
            return Err(OrmError::Usage {
                model: M::TABLE,
                problem: format!("relation {relation} has no plan level"),
            });
        };
        let groups = match shared.nodes[child].groups.get() {
            Some(groups) => groups,
            None => {
                let built = group(
                    &children.rows,
                    &shared.nodes[child].types,
                    &load.child_key,
                    M::TABLE,
                )?;
                shared.nodes[child].groups.get_or_init(|| built)
            }
        };
        Ok(Link {
            child,
            rows: &level.rows,
            key: column(&level.rows, &load.parent_key, M::TABLE)?,
            key_name: &load.parent_key,
            groups,
        })
    }

    /// The indices of the child rows that belong to `self.models[parent]`.
    fn rows_of<'l>(&self, link: &Link<'l>, parent: usize) -> OrmResult<&'l [usize]> {
        let row = self
            .rows
            .get(parent)
            .and_then(|&row| link.rows.row(row))
            .ok_or_else(|| OrmError::Usage {
                model: M::TABLE,
                problem: format!("no model at index {parent}"),
            })?;
        let key = key_of(
            &self.shared.nodes[self.node].types,
            link.key,
            row.get(link.key),
            link.key_name,
            M::TABLE,
        )?;
        Ok(key
            .and_then(|k| link.groups.get(&k))
            .map_or(&[][..], Vec::as_slice))
    }
}

/// A relation below a level, resolved for reading it parent by parent.
struct Link<'a> {
    child: usize,
    /// The parent level's rows and where its key is in them.
    rows: &'a RawRows,
    key: usize,
    key_name: &'a str,
    groups: &'a HashMap<Key, Vec<usize>>,
}

/// Decodes rows of one plan level into `C`, its columns resolved once.
struct Decoder<'a, C> {
    raw: &'a RawRows,
    types: &'a [Option<PgType>],
    indices: Vec<usize>,
    model: std::marker::PhantomData<C>,
}

impl<'a, C: Model + FromRow> Decoder<'a, C> {
    fn new(shared: &'a Shared, node: usize) -> OrmResult<Self> {
        let raw = &shared.level(node).0.rows;
        let indices = C::raw_columns(raw).map_err(|source| OrmError::Row {
            model: C::TABLE,
            source,
        })?;
        Ok(Decoder {
            raw,
            types: &shared.nodes[node].types,
            indices,
            model: std::marker::PhantomData,
        })
    }

    fn decode(&self, rows: &[usize]) -> OrmResult<Vec<C>> {
        rows.iter()
            .filter_map(|&i| self.raw.row(i))
            .map(|row| {
                C::from_raw_row(row, self.types, &self.indices).map_err(|source| OrmError::Row {
                    model: C::TABLE,
                    source,
                })
            })
            .collect()
    }
}

/// The grouping key of one key cell; `None` for NULL, which matches nothing.
fn key_of(
    types: &[Option<PgType>],
    index: usize,
    bytes: Option<&[u8]>,
    column: &str,
    model: &'static str,
) -> OrmResult<Option<Key>> {
    let value =
        decode_cell(types.get(index).and_then(Option::as_ref), bytes).map_err(|problem| {
            OrmError::Row {
                model,
                source: super::RowError {
                    column: column.to_owned(),
                    problem,
                },
            }
        })?;
    Ok(Key::of(&value))
}

/// Row indices of `rows` by the value of their `key` column; rows whose key
/// is NULL belong to no parent.
fn group(
    rows: &RawRows,
    types: &[Option<PgType>],
    key: &str,
    model: &'static str,
) -> OrmResult<HashMap<Key, Vec<usize>>> {
    let index = column(rows, key, model)?;
    let mut groups: HashMap<Key, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        if let Some(key) = key_of(types, index, row.get(index), key, model)? {
            groups.entry(key).or_default().push(i);
        }
    }
    Ok(groups)
}

fn column(rows: &RawRows, name: &str, model: &'static str) -> OrmResult<usize> {
    rows.columns()
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| OrmError::Usage {
            model,
            problem: format!("eager-loading key column {name} is missing from the rows"),
        })
}
