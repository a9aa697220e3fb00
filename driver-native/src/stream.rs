//! Streaming a large result in bounded batches through a server-side cursor.
//!
//! tokio-postgres exposes protocol-level portals only through its own
//! transaction type, which would fight keel's transaction bookkeeping; a SQL
//! cursor (`DECLARE ... CURSOR FOR`, then `FETCH n`) is the same portal on
//! the server, driven with ordinary statements. At most one batch of rows is
//! in memory at a time. A cursor lives in a transaction: a stream from the
//! pool opens a read-only one and owns it; a stream inside a [`Transaction`]
//! borrows it. Dropping a stream part-way is safe: the transaction's rollback
//! (or commit) closes the cursor.

use futures_util::{Stream, StreamExt, TryStreamExt};
use keel_core::compile::Statement;
use keel_core::orm::{FromRow, Row};
use keel_core::query::typed::Model;
use keel_core::types::Rows;
use keel_core::{Query, Schema};

use crate::connection::PooledConnection;
use crate::driver::map_error;
use crate::error::{NativeError, NativeResult};
use crate::transaction::{Transaction, TransactionOptions};
use crate::Pool;

impl PooledConnection {
    /// Declares a cursor for `statement` and returns its name. Columns of
    /// types keel does not decode are cast to text in the cursor's query,
    /// keeping their names, as the single-statement path does.
    async fn declare_cursor(&mut self, statement: &Statement) -> NativeResult<String> {
        let types: Vec<postgres_types::Type> = statement
            .param_oids()
            .into_iter()
            .map(|oid| postgres_types::Type::from_oid(oid).unwrap_or(postgres_types::Type::UNKNOWN))
            .collect();
        let prepared = self
            .raw_client()?
            .prepare_typed(&statement.sql, &types)
            .await
            .map_err(map_error)?;
        let unknown: Vec<bool> = prepared
            .columns()
            .iter()
            .map(|c| keel_core::types::PgType::from_oid(c.type_().oid()).is_none())
            .collect();
        let body = statement.sql.trim_end().trim_end_matches(';');
        let query = if unknown.iter().any(|u| *u) {
            let names: Vec<String> = (0..unknown.len()).map(|i| format!("keel_c{i}")).collect();
            let select: Vec<String> = prepared
                .columns()
                .iter()
                .zip(&names)
                .zip(&unknown)
                .map(|((column, name), unknown)| {
                    let alias = quote_identifier(column.name());
                    if *unknown {
                        format!("{name}::text AS {alias}")
                    } else {
                        format!("{name} AS {alias}")
                    }
                })
                .collect();
            format!(
                "WITH keel_q({}) AS MATERIALIZED ({body}\n) SELECT {} FROM keel_q",
                names.join(", "),
                select.join(", ")
            )
        } else {
            body.to_owned()
        };
        self.state.cursors += 1;
        let name = format!("keel_cursor_{}", self.state.cursors);
        let declare = Statement {
            sql: format!("DECLARE {name} NO SCROLL CURSOR FOR {query}"),
            params: statement.params.clone(),
            param_types: statement.param_types.clone(),
            columns: Vec::new(),
        };
        self.query(&declare).await?;
        Ok(name)
    }
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The rows of `FETCH batch FROM cursor`, decoded against `columns`.
async fn fetch_batch(
    conn: &mut PooledConnection,
    cursor: &str,
    batch: u32,
    columns: &[String],
) -> NativeResult<Rows> {
    conn.fetch_statement(&Statement {
        sql: format!("FETCH {batch} FROM {cursor}"),
        params: Vec::new(),
        param_types: Vec::new(),
        columns: columns.to_vec(),
    })
    .await
}

impl<'c> Transaction<'c> {
    /// The rows of `statement` in batches of at most `batch` rows.
    pub fn stream<'s>(
        &'s mut self,
        statement: &'s Statement,
        batch: u32,
    ) -> impl Stream<Item = NativeResult<Rows>> + Send + use<'s, 'c> {
        let batch = batch.max(1);
        futures_util::stream::try_unfold(
            (self, None::<String>, false),
            move |(tx, cursor, done)| async move {
                if done {
                    return Ok(None);
                }
                let cursor = match cursor {
                    Some(cursor) => cursor,
                    None => tx.connection().declare_cursor(statement).await?,
                };
                let rows = fetch_batch(tx.connection(), &cursor, batch, &statement.columns).await?;
                let last = rows.rows.len() < batch as usize;
                if last {
                    tx.connection().execute(&format!("CLOSE {cursor}")).await?;
                    if rows.rows.is_empty() {
                        return Ok(None);
                    }
                }
                Ok(Some((rows, (tx, Some(cursor), last))))
            },
        )
    }
}

impl Pool {
    /// The rows of `statement` in batches of at most `batch` rows, through
    /// a cursor in a read-only transaction that the stream owns: the
    /// connection is held until the stream ends or is dropped.
    pub fn stream(
        &self,
        statement: Statement,
        batch: u32,
    ) -> impl Stream<Item = NativeResult<Rows>> + Send + 'static {
        let pool = self.clone();
        let batch = batch.max(1);
        futures_util::stream::try_unfold(
            (
                pool,
                statement,
                None::<(Transaction<'static>, String)>,
                false,
            ),
            move |(pool, statement, open, done)| async move {
                if done {
                    return Ok::<_, NativeError>(None);
                }
                let (mut tx, cursor) = match open {
                    Some(open) => open,
                    None => {
                        let mut tx = pool
                            .begin_with(TransactionOptions {
                                read_only: true,
                                ..TransactionOptions::default()
                            })
                            .await?;
                        let cursor = tx.connection().declare_cursor(&statement).await?;
                        (tx, cursor)
                    }
                };
                let rows = fetch_batch(tx.connection(), &cursor, batch, &statement.columns).await?;
                if rows.rows.len() < batch as usize {
                    tx.commit().await?;
                    if rows.rows.is_empty() {
                        return Ok(None);
                    }
                    return Ok(Some((rows, (pool, statement, None, true))));
                }
                Ok(Some((rows, (pool, statement, Some((tx, cursor)), false))))
            },
        )
    }
}

impl Pool {
    /// The models of a query definition (no `with`), streamed in batches of
    /// `batch` rows through [`Pool::stream`]: memory holds one batch.
    pub fn stream_models<M: Model + FromRow + Send + 'static>(
        &self,
        schema: &Schema,
        query: &Query,
        batch: u32,
    ) -> NativeResult<impl Stream<Item = NativeResult<M>> + Send + 'static> {
        let statement = keel_core::compile(query, schema).map_err(keel_core::Error::from)?;
        Ok(self
            .stream(statement, batch)
            .map_ok(|rows| {
                let models: Vec<NativeResult<M>> = rows
                    .rows
                    .iter()
                    .map(|values| {
                        M::from_row(&Row {
                            columns: &rows.columns,
                            values,
                        })
                        .map_err(|source| NativeError::Row {
                            model: M::TABLE,
                            source,
                        })
                    })
                    .collect();
                futures_util::stream::iter(models)
            })
            .try_flatten()
            .boxed())
    }
}
