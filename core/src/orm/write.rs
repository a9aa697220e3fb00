//! Model writes: insert, bulk insert, upsert, update, delete, raw SQL.

use std::collections::BTreeMap;

use super::{
    column_names, decode_all, decode_raw, exactly_one, match_columns, primary_key, FromRow,
    OrmError, OrmResult, Patch, ToRow, MAX_PARAMS,
};
use crate::compile::Statement;
use crate::driver::Driver;
use crate::query::expr::Expr;
use crate::query::filter::Filter;
use crate::query::mutate::{Delete, Insert, Update};
use crate::query::typed::Model;
use crate::query::{Query, QueryBody, Raw, RawParam};
use crate::types::{PgType, Rows};
use crate::Db;

impl<D: Driver> Db<D> {
    /// Columns to insert for `rows`: all fields, except those NULL in every
    /// row whose column has a default (a serial key left `None`), so the
    /// server fills them in.
    fn insert_columns<M: Model>(
        &self,
        rows: &[Vec<(&'static str, serde_json::Value)>],
    ) -> Vec<&'static str> {
        let table = self.schema().table(M::TABLE);
        let Some(first) = rows.first() else {
            return Vec::new();
        };
        first
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| {
                let has_default = table
                    .and_then(|t| t.column(name))
                    .is_some_and(|c| c.default.is_some());
                let all_null = rows
                    .iter()
                    .all(|row| row.iter().any(|(n, v)| n == name && v.is_null()));
                !(has_default && all_null)
            })
            .collect()
    }

    fn insert_query<M: Model>(
        &self,
        rows: &[Vec<(&'static str, serde_json::Value)>],
        columns: &[&'static str],
    ) -> Insert {
        Insert::rows(
            M::TABLE,
            rows.iter().map(|row| {
                row.iter()
                    .filter(|(name, _)| columns.contains(name))
                    .map(|(name, value)| ((*name).to_owned(), value.clone()))
                    .collect::<BTreeMap<_, _>>()
            }),
        )
    }

    /// Inserts one row and returns it as stored (defaults and generated
    /// keys filled in).
    pub async fn insert<M: Model + ToRow + FromRow>(&self, model: &M) -> OrmResult<M> {
        let rows = [model.to_row()];
        let columns = self.insert_columns::<M>(&rows);
        let insert = self
            .insert_query::<M>(&rows, &columns)
            .returning(column_names::<M>());
        let found = self.fetch(&Query::new(QueryBody::Insert(insert))).await?;
        exactly_one(decode_all(&found)?)
    }

    /// Inserts every model with multi-row `INSERT`s, each kept under
    /// PostgreSQL's 65,535 bind parameters, and returns the primary keys in
    /// input order. Not atomic on its own: run it in a transaction when a
    /// partial load must not remain.
    pub async fn insert_many<M: Model + ToRow>(&self, models: &[M]) -> OrmResult<Rows> {
        let key = primary_key::<M>()?;
        let rows: Vec<_> = models.iter().map(ToRow::to_row).collect();
        let columns = self.insert_columns::<M>(&rows);
        let per_statement = (MAX_PARAMS / columns.len().max(1)).max(1);
        let mut keys = Rows {
            columns: key.clone(),
            rows: Vec::with_capacity(rows.len()),
        };
        for chunk in rows.chunks(per_statement) {
            let insert = self
                .insert_query::<M>(chunk, &columns)
                .returning(key.clone());
            let found = self.fetch(&Query::new(QueryBody::Insert(insert))).await?;
            keys.rows.extend(found.rows);
        }
        Ok(keys)
    }

    /// `INSERT ... ON CONFLICT (conflict) DO UPDATE` every other column,
    /// returning the stored row. One statement, so concurrent upserts of
    /// the same key cannot both insert.
    pub async fn upsert<M: Model + ToRow + FromRow>(
        &self,
        model: &M,
        conflict: &[&str],
    ) -> OrmResult<M> {
        let rows = [model.to_row()];
        let columns = self.insert_columns::<M>(&rows);
        let set: BTreeMap<String, Expr> = columns
            .iter()
            .filter(|c| !conflict.contains(c))
            .map(|c| ((*c).to_owned(), Expr::Excluded((*c).to_owned())))
            .collect();
        let insert = self
            .insert_query::<M>(&rows, &columns)
            .on_conflict_update(conflict.iter().copied(), set, None)
            .returning(column_names::<M>());
        let found = self.fetch(&Query::new(QueryBody::Insert(insert))).await?;
        exactly_one(decode_all(&found)?)
    }

    /// Same as [`upsert`](Self::upsert): the row with the `conflict`
    /// columns' values ends up holding `model`'s other values.
    pub async fn update_or_create<M: Model + ToRow + FromRow>(
        &self,
        model: &M,
        conflict: &[&str],
    ) -> OrmResult<M> {
        self.upsert(model, conflict).await
    }

    /// The row matching `model`'s `conflict` columns, inserting `model` if
    /// there is none; `true` when it was inserted. `ON CONFLICT DO NOTHING`
    /// makes the insert safe against a concurrent one: the loser reads the
    /// winner's row.
    pub async fn get_or_create<M: Model + ToRow + FromRow>(
        &self,
        model: &M,
        conflict: &[&str],
    ) -> OrmResult<(M, bool)> {
        let rows = [model.to_row()];
        let columns = self.insert_columns::<M>(&rows);
        let insert = self
            .insert_query::<M>(&rows, &columns)
            .on_conflict_do_nothing(conflict.iter().copied())
            .returning(column_names::<M>());
        let found = self.fetch(&Query::new(QueryBody::Insert(insert))).await?;
        let mut inserted = decode_all::<M>(&found)?;
        if let Some(row) = inserted.pop() {
            return Ok((row, true));
        }
        let conflict: Vec<String> = conflict.iter().map(|c| (*c).to_owned()).collect();
        let filter = match_columns::<M>(&rows[0], &conflict)?;
        Ok((self.find::<M>().filter(filter).one().await?, false))
    }

    /// Writes `patch` to the rows matching `filter`; returns how many.
    pub async fn update_where<M: Model>(&self, filter: Filter, patch: Patch<M>) -> OrmResult<u64> {
        if patch.is_empty() {
            return Err(OrmError::Usage {
                model: M::TABLE,
                problem: "empty patch".to_owned(),
            });
        }
        let update = patch
            .into_update(M::TABLE)
            .filter(filter)
            .returning(primary_key::<M>().unwrap_or_else(|_| column_names::<M>()));
        let found = self.fetch(&Query::new(QueryBody::Update(update))).await?;
        Ok(found.rows.len() as u64)
    }

    /// Writes only the patched columns of `model`'s row (by primary key)
    /// and returns the row as stored.
    pub async fn update<M: Model + ToRow + FromRow>(
        &self,
        model: &M,
        patch: Patch<M>,
    ) -> OrmResult<M> {
        if patch.is_empty() {
            return Err(OrmError::Usage {
                model: M::TABLE,
                problem: "empty patch".to_owned(),
            });
        }
        let filter = match_columns::<M>(&model.to_row(), &primary_key::<M>()?)?;
        let update: Update = patch
            .into_update(M::TABLE)
            .filter(filter)
            .returning(column_names::<M>());
        let found = self.fetch(&Query::new(QueryBody::Update(update))).await?;
        exactly_one(decode_all(&found)?)
    }

    /// Deletes the rows matching `filter`; returns how many.
    pub async fn delete_where<M: Model>(&self, filter: Filter) -> OrmResult<u64> {
        let delete = Delete::from(M::TABLE)
            .filter(filter)
            .returning(primary_key::<M>().unwrap_or_else(|_| column_names::<M>()));
        let found = self.fetch(&Query::new(QueryBody::Delete(delete))).await?;
        Ok(found.rows.len() as u64)
    }

    /// Deletes `model`'s row by primary key; false when it was already gone.
    pub async fn delete<M: Model + ToRow>(&self, model: &M) -> OrmResult<bool> {
        let filter = match_columns::<M>(&model.to_row(), &primary_key::<M>()?)?;
        Ok(self.delete_where::<M>(filter).await? == 1)
    }

    /// Hand-written SQL with bound parameters (`$1`...), its rows mapped to
    /// `T` by column name: select the columns the struct's fields name.
    /// Errors name the model "raw SQL".
    pub async fn raw<T: FromRow>(
        &self,
        sql: &str,
        params: Vec<(serde_json::Value, PgType)>,
    ) -> OrmResult<Vec<T>> {
        let raw = Raw {
            sql: sql.to_owned(),
            params: params
                .into_iter()
                .map(|(value, ty)| RawParam { value, ty })
                .collect(),
            columns: Vec::new(),
        };
        let statement: Statement = self.compile(&Query::new(QueryBody::Raw(raw)))?;
        let cells = self.driver().query(&statement).await?;
        decode_raw(&cells, "raw SQL")
    }
}
