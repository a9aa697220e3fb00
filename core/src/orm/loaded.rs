//! Models with eagerly loaded relations.
//!
//! A relation is only ever read from rows already fetched by the plan; one
//! that was not requested with `with(..)` is an [`OrmError::NotLoaded`],
//! never a query issued behind the caller's back.

use super::{decode_as, FromRow, OrmError, OrmResult};
use crate::db::{LoadedRelation, PlanRows};
use crate::query::typed::Model;
use crate::types::Value;

/// The root models of an eager-loading query and the rows of every level.
#[derive(Debug)]
pub struct Loaded<M> {
    pub models: Vec<M>,
    plan: PlanRows,
}

impl<M: Model> Loaded<M> {
    pub(super) fn new(models: Vec<M>, plan: PlanRows) -> Loaded<M> {
        Loaded { models, plan }
    }

    /// All rows of the plan, for nested levels.
    pub fn plan(&self) -> &PlanRows {
        &self.plan
    }

    fn relation(&self, relation: &str) -> OrmResult<&LoadedRelation> {
        self.plan
            .loads
            .iter()
            .find(|l| l.relation == relation)
            .ok_or_else(|| OrmError::NotLoaded {
                model: M::TABLE,
                relation: relation.to_owned(),
            })
    }

    /// The related models of `self.models[parent]` through `relation`: zero
    /// or one for belongs-to and has-one, any number otherwise.
    pub fn related<C: Model + FromRow>(&self, parent: usize, relation: &str) -> OrmResult<Vec<C>> {
        let loaded = self.relation(relation)?;
        let key = column(&self.plan.rows.columns, &loaded.parent_key, M::TABLE)?;
        let Some(value) = self.plan.rows.rows.get(parent).and_then(|r| r.get(key)) else {
            return Err(OrmError::Usage {
                model: M::TABLE,
                problem: format!("no model at index {parent}"),
            });
        };
        if *value == Value::Null {
            return Ok(Vec::new());
        }
        let children = &loaded.rows.rows;
        let child_key = column(&children.columns, &loaded.child_key, C::TABLE)?;
        let matching = crate::types::Rows {
            columns: children.columns.clone(),
            rows: children
                .rows
                .iter()
                .filter(|row| row.get(child_key) == Some(value))
                .cloned()
                .collect(),
        };
        decode_as(&matching, C::TABLE)
    }
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
