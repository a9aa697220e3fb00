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

use super::{FromRow, OrmError, OrmResult, Row};
use crate::db::{LoadedRelation, PlanRows};
use crate::query::typed::Model;
use crate::types::{Rows, Value};

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
    plan: PlanRows,
    nodes: Vec<Node>,
}

/// One level of the plan, in pre-order; node 0 is the root.
#[derive(Debug)]
struct Node {
    /// Indices into `loads` from the root down to this level.
    path: Vec<usize>,
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
    fn new(plan: PlanRows) -> Shared {
        let mut nodes = vec![Node {
            path: Vec::new(),
            children: Vec::new(),
            groups: OnceLock::new(),
        }];
        // Pre-order over the plan: (node id, that node's loads).
        let mut stack: Vec<(usize, &PlanRows)> = vec![(0, &plan)];
        while let Some((id, level)) = stack.pop() {
            for (index, load) in level.loads.iter().enumerate() {
                let mut path = nodes[id].path.clone();
                path.push(index);
                let child = nodes.len();
                nodes.push(Node {
                    path,
                    children: Vec::new(),
                    groups: OnceLock::new(),
                });
                nodes[id].children.push((load.relation.clone(), child));
                stack.push((child, &load.rows));
            }
        }
        Shared { plan, nodes }
    }

    /// The rows of `node`, and the relation that loaded them (none at the root).
    fn level(&self, node: usize) -> (&PlanRows, Option<&LoadedRelation>) {
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
    pub(super) fn new(models: Vec<M>, plan: PlanRows) -> Loaded<M> {
        let rows = (0..models.len()).collect();
        Loaded {
            models,
            shared: Arc::new(Shared::new(plan)),
            node: 0,
            rows,
        }
    }

    /// All rows of this level's plan node. Below the root that is the rows
    /// loaded for every parent at once, not only this `Loaded`'s models.
    pub fn plan(&self) -> &PlanRows {
        self.shared.level(self.node).0
    }

    /// The related models of `self.models[parent]` through `relation`: zero
    /// or one for belongs-to and has-one, any number otherwise.
    pub fn related<C: Model + FromRow>(&self, parent: usize, relation: &str) -> OrmResult<Vec<C>> {
        let (child, rows) = self.child_rows(parent, relation)?;
        decode_rows(&self.shared, child, rows)
    }

    /// Every model's related models through `relation`, in the order of
    /// [`models`](Self::models), each as a `Loaded` so that relations loaded
    /// below it (`with(Include::relation("posts").with(..))`) can be read in
    /// turn. This is how a nested tree such as
    /// `Vec<(User, Vec<(Post, Vec<Comment>)>)>` is assembled, with no
    /// further query.
    pub fn children<C: Model + FromRow>(&self, relation: &str) -> OrmResult<Vec<Loaded<C>>> {
        (0..self.models.len())
            .map(|parent| {
                let (child, rows) = self.child_rows(parent, relation)?;
                let models = decode_rows(&self.shared, child, rows)?;
                Ok(Loaded {
                    models,
                    shared: Arc::clone(&self.shared),
                    node: child,
                    rows: rows.to_vec(),
                })
            })
            .collect()
    }

    /// The node loaded through `relation` and the indices of its rows that
    /// belong to `self.models[parent]`.
    fn child_rows(&self, parent: usize, relation: &str) -> OrmResult<(usize, &[usize])> {
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
        let Some(&row) = self.rows.get(parent) else {
            return Err(OrmError::Usage {
                model: M::TABLE,
                problem: format!("no model at index {parent}"),
            });
        };
        let (level, _) = shared.level(self.node);
        let (children, load) = shared.level(child);
        let Some(load) = load else {
            return Err(OrmError::Usage {
                model: M::TABLE,
                problem: format!("relation {relation} has no plan level"),
            });
        };
        let key = column(&level.rows.columns, &load.parent_key, M::TABLE)?;
        let Some(key) = level.rows.rows.get(row).and_then(|r| r.get(key)) else {
            return Err(OrmError::Usage {
                model: M::TABLE,
                problem: format!("no row at index {row}"),
            });
        };
        let groups = match shared.nodes[child].groups.get() {
            Some(groups) => groups,
            None => {
                let built = group(&children.rows, &load.child_key, M::TABLE)?;
                shared.nodes[child].groups.get_or_init(|| built)
            }
        };
        Ok((
            child,
            Key::of(key)
                .and_then(|k| groups.get(&k))
                .map_or(&[][..], Vec::as_slice),
        ))
    }
}

fn decode_rows<C: Model + FromRow>(
    shared: &Shared,
    node: usize,
    rows: &[usize],
) -> OrmResult<Vec<C>> {
    let all = &shared.level(node).0.rows;
    rows.iter()
        .filter_map(|&i| all.rows.get(i))
        .map(|values| {
            C::from_row(&Row {
                columns: &all.columns,
                values,
            })
            .map_err(|source| OrmError::Row {
                model: C::TABLE,
                source,
            })
        })
        .collect()
}

/// Row indices of `rows` by the value of their `key` column; rows whose key
/// is NULL belong to no parent.
fn group(rows: &Rows, key: &str, model: &'static str) -> OrmResult<HashMap<Key, Vec<usize>>> {
    let index = column(&rows.columns, key, model)?;
    let mut groups: HashMap<Key, Vec<usize>> = HashMap::new();
    for (i, row) in rows.rows.iter().enumerate() {
        if let Some(key) = row.get(index).and_then(Key::of) {
            groups.entry(key).or_default().push(i);
        }
    }
    Ok(groups)
}

fn column(columns: &[String], name: &str, model: &'static str) -> OrmResult<usize> {
    columns
        .iter()
        .position(|c| c == name)
        .ok_or_else(|| OrmError::Usage {
            model,
            problem: format!("eager-loading key column {name} is missing from the rows"),
        })
}
