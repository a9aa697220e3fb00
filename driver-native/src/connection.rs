//! A connection checked out of the [`Pool`](crate::Pool), and the guarantee
//! that it never goes back dirty.
//!
//! Every operation marks the connection *interrupted* before its first
//! `.await` and clears the mark only when the server's answer is complete.
//! A future dropped at any await point therefore leaves the mark set, as do
//! errors and open transactions. When a marked connection is dropped it is
//! not returned directly: a task sends `ROLLBACK` (which also waits out any
//! response still in flight, since tokio-postgres answers requests in order)
//! and only a connection that answers within the cleanup timeout rejoins the
//! pool; any other is discarded. Nothing can observe a half-used connection.

use std::time::Duration;

use deadpool_postgres::Object;
use keel_core::compile::Statement;
use keel_core::rows::RawRows;
use keel_core::types::Rows;
use keel_core::{Query, Schema};
use tokio_postgres::NoTls;

use crate::driver::{map_error, run_on, StatementCache};
use crate::error::{NativeError, NativeResult};

/// What must be undone on the server before the connection is reused.
#[derive(Debug, Default)]
pub(crate) struct ConnState {
    /// Open levels: 0 outside a transaction, 1 in one, 2+ in savepoints.
    /// Raised before `BEGIN`/`SAVEPOINT` is sent, so a cancelled start
    /// still counts as open.
    pub(crate) depth: usize,
    /// The level at which a statement failed or was cancelled. PostgreSQL
    /// ignores everything but a rollback after a failure and silently turns
    /// `COMMIT` into `ROLLBACK`; keel refuses to commit instead.
    pub(crate) aborted_at: Option<usize>,
    /// An operation started and did not finish cleanly (cancelled, timed
    /// out, failed): the connection is checked before it is handed out.
    pub(crate) interrupted: bool,
    /// A cancel request was sent on this connection's behalf. The server
    /// delivers it asynchronously, so it could still hit a later statement:
    /// such a connection is never reused.
    pub(crate) poisoned: bool,
    /// Rollbacks owed by dropped transaction guards; sent before the next
    /// statement, because `Drop` cannot await.
    pub(crate) pending: Vec<Pending>,
    /// Cursors declared so far, for unique cursor names.
    pub(crate) cursors: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Roll back to the savepoint that opened `level`.
    RollbackTo {
        name: String,
        level: usize,
    },
    Rollback,
}

impl ConnState {
    fn is_dirty(&self) -> bool {
        self.depth > 0 || self.interrupted || !self.pending.is_empty()
    }
}

/// One pooled connection, exclusively borrowed. Dropping it returns it to
/// the pool (after a cleanup round trip when it may be dirty).
pub struct PooledConnection {
    object: Option<Object>,
    pub(crate) state: ConnState,
    cleanup_timeout: Duration,
    statement_timeout: Option<Duration>,
    statement_cache: StatementCache,
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConnection")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl PooledConnection {
    pub(crate) fn new(
        object: Object,
        cleanup_timeout: Duration,
        statement_timeout: Option<Duration>,
        statement_cache: StatementCache,
    ) -> PooledConnection {
        PooledConnection {
            object: Some(object),
            state: ConnState::default(),
            cleanup_timeout,
            statement_timeout,
            statement_cache,
        }
    }

    /// The client, for operations that manage the connection state
    /// themselves (preparing without executing, COPY).
    pub(crate) fn raw_client(&self) -> NativeResult<&tokio_postgres::Client> {
        self.client().map(|client| &**client)
    }

    fn client(&self) -> NativeResult<&deadpool_postgres::ClientWrapper> {
        if self.state.poisoned {
            return Err(NativeError::Db(keel_core::Error::Closed(Some(
                "connection retired after a statement timeout; its cancel request may still be pending"
                    .to_owned(),
            ))));
        }
        match &self.object {
            Some(object) => Ok(object),
            None => Err(NativeError::Db(keel_core::Error::Closed(Some(
                "pooled connection already released".to_owned(),
            )))),
        }
    }

    /// The server process id, as `pg_stat_activity.pid` shows it.
    pub async fn backend_pid(&mut self) -> NativeResult<i32> {
        let statement = Statement {
            sql: "SELECT pg_backend_pid()".to_owned(),
            params: Vec::new(),
            param_types: Vec::new(),
            columns: vec!["pg_backend_pid".to_owned()],
        };
        let decoded = self.fetch_statement(&statement).await?;
        match decoded.rows.first().and_then(|r| r.first()) {
            Some(keel_core::Value::Int4(pid)) => Ok(*pid),
            other => Err(NativeError::Db(keel_core::Error::Transport(format!(
                "pg_backend_pid() returned {other:?}"
            )))),
        }
    }

    /// Overrides the pool's client-side statement deadline for this connection.
    pub fn set_statement_timeout(&mut self, timeout: Option<Duration>) {
        self.statement_timeout = timeout;
    }

    /// Runs one compiled statement and returns its undecoded rows.
    pub async fn query(&mut self, statement: &Statement) -> NativeResult<RawRows> {
        self.flush_pending().await?;
        self.state.interrupted = true;
        let client = self.client()?;
        let run = run_on(
            client,
            statement,
            self.statement_cache,
            self.state.depth == 0,
        );
        let mut poisoned = false;
        let result = match self.statement_timeout {
            None => run.await.map_err(NativeError::from),
            Some(timeout) => match tokio::time::timeout(timeout, run).await {
                Ok(result) => result.map_err(NativeError::from),
                Err(_) => {
                    // The cancel request races the statement's completion
                    // and may land on a later statement, so the connection
                    // is discarded when released.
                    poisoned = true;
                    if let Err(error) = client.cancel_token().cancel_query(NoTls).await {
                        tracing::warn!(%error, "cancel request after a statement timeout failed");
                    }
                    Err(NativeError::StatementTimeout {
                        timeout,
                        sql: statement.sql.clone(),
                    })
                }
            },
        };
        self.state.poisoned |= poisoned;
        self.finish(&result);
        result
    }

    /// Sends every statement at once on this connection: tokio-postgres
    /// writes all the requests before reading any answer, so a batch of
    /// statements already in the connection's statement cache costs one
    /// round trip, and a batch with new ones two (their prepares, then the
    /// executes). Each statement has its own result; outside a transaction
    /// one failing does not undo the others.
    pub async fn pipeline(
        &mut self,
        statements: &[Statement],
    ) -> NativeResult<Vec<NativeResult<RawRows>>> {
        self.flush_pending().await?;
        self.state.interrupted = true;
        let client = self.client()?;
        let (cache, may_retry) = (self.statement_cache, self.state.depth == 0);
        let results: Vec<NativeResult<RawRows>> =
            futures_util::future::join_all(statements.iter().map(|statement| async move {
                run_on(client, statement, cache, may_retry)
                    .await
                    .map_err(NativeError::from)
            }))
            .await;
        if results.iter().all(Result::is_ok) {
            self.state.interrupted = false;
        } else {
            self.mark_aborted();
        }
        Ok(results)
    }

    /// Runs and decodes one compiled statement.
    pub async fn fetch_statement(&mut self, statement: &Statement) -> NativeResult<Rows> {
        let raw = self.query(statement).await?;
        Ok(Rows::decode(&statement.columns, &raw).map_err(keel_core::Error::from)?)
    }

    /// Compiles `query` against `schema`, runs and decodes it.
    pub async fn fetch(&mut self, schema: &Schema, query: &Query) -> NativeResult<Rows> {
        let statement = keel_core::compile(query, schema).map_err(keel_core::Error::from)?;
        self.fetch_statement(&statement).await
    }

    /// Runs SQL text with no parameters through the simple protocol: several
    /// `;`-separated statements in one round trip, for DDL and session
    /// commands. Never interpolate values into it; use a [`Statement`].
    pub async fn execute(&mut self, sql: &str) -> NativeResult<()> {
        self.flush_pending().await?;
        self.execute_now(sql).await
    }

    fn finish<T>(&mut self, result: &NativeResult<T>) {
        match result {
            Ok(_) => self.state.interrupted = false,
            Err(_) => self.mark_aborted(),
        }
    }

    /// Records a failed operation that ran outside `query`/`execute`.
    pub(crate) fn note_failure(&mut self) {
        self.mark_aborted();
    }

    fn mark_aborted(&mut self) {
        if self.state.depth > 0 && self.state.aborted_at.is_none() {
            self.state.aborted_at = Some(self.state.depth);
        }
    }

    /// Sends the rollbacks that dropped guards owe, oldest first. An
    /// operation that never finished (its future was dropped) leaves an
    /// open transaction in an unknown state, so that transaction may no
    /// longer commit.
    pub(crate) async fn flush_pending(&mut self) -> NativeResult<()> {
        if self.state.interrupted {
            self.mark_aborted();
        }
        while let Some(pending) = self.state.pending.first().cloned() {
            let result = match &pending {
                Pending::RollbackTo { name, .. } => {
                    self.execute_now(&format!(
                        "ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"
                    ))
                    .await
                }
                Pending::Rollback => self.execute_now("ROLLBACK").await,
            };
            self.state.pending.remove(0);
            match (&pending, result) {
                (Pending::RollbackTo { level, .. }, Ok(())) => {
                    self.state.depth = level - 1;
                    if self.state.aborted_at.is_some_and(|at| at >= *level) {
                        self.state.aborted_at = None;
                    }
                }
                (Pending::Rollback, Ok(())) => {
                    self.state.depth = 0;
                    self.state.aborted_at = None;
                }
                (_, Err(error)) => return Err(error),
            }
        }
        Ok(())
    }

    /// Like [`execute`](Self::execute) without flushing owed rollbacks first.
    pub(crate) async fn execute_now(&mut self, sql: &str) -> NativeResult<()> {
        self.state.interrupted = true;
        let client = self.client()?;
        let result = client
            .batch_execute(sql)
            .await
            .map_err(|e| map_error(e).into());
        self.finish(&result);
        result
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let Some(object) = self.object.take() else {
            return;
        };
        if !self.state.is_dirty() {
            return;
        }
        if object.is_closed() || self.state.poisoned {
            discard(object);
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(clean(object, self.cleanup_timeout));
            }
            Err(_) => discard(object),
        }
    }
}

/// Rolls back whatever the connection was doing; the connection rejoins
/// the pool only if that works within `timeout`.
///
/// A statement abandoned mid-flight is not cancelled: a cancel request is
/// delivered asynchronously and could cancel the next user's statement
/// instead. tokio-postgres answers requests in order, so the `ROLLBACK`
/// simply waits the statement out; one slower than the cleanup timeout
/// gets its connection discarded. Bound slow statements with
/// [`PoolSettings::statement_timeout`](crate::PoolSettings).
async fn clean(object: Object, timeout: Duration) {
    let work = object.simple_query("ROLLBACK");
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(_)) if !object.is_closed() => drop(object),
        Ok(Ok(_)) => discard(object),
        Ok(Err(error)) => {
            tracing::debug!(%error, "discarding a pooled connection that failed its cleanup");
            discard(object);
        }
        Err(_) => {
            tracing::debug!(
                ?timeout,
                "discarding a pooled connection whose cleanup timed out"
            );
            discard(object);
        }
    }
}

/// Removes the connection from the pool for good; dropping the client
/// aborts its connection task, which closes the socket, and the server
/// rolls back anything left open.
fn discard(object: Object) {
    drop(Object::take(object));
}
