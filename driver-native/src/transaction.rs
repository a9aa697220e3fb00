//! Transactions and savepoints on a [`PooledConnection`].
//!
//! A [`Transaction`] is a guard: it rolls back unless `commit` completes,
//! whether it is dropped after an error, during a panic's unwinding, or
//! because the future using it was cancelled. `Drop` cannot await, so a
//! dropped guard records the rollback it owes on the connection; the
//! connection sends it before its next statement, or, when the connection
//! itself is dropped, its cleanup task does (see [`crate::connection`]).
//!
//! Two tasks cannot use one transaction: every operation takes `&mut self`,
//! and the guard is `!Sync`, so not even a shared reference can cross to
//! another task:
//!
//! ```compile_fail
//! fn share(tx: &keel_native::Transaction<'static>) {
//!     fn needs_send<T: Send>(_: T) {}
//!     needs_send(tx);
//! }
//! ```

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use keel_core::compile::Statement;
use keel_core::rows::RawRows;
use keel_core::types::Rows;
use keel_core::{Db, Driver, Query, Schema};

use crate::connection::{Pending, PooledConnection};
use crate::error::{NativeError, NativeResult};

/// `SET TRANSACTION` isolation levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

/// How a transaction starts. The default is the server's default
/// (normally READ COMMITTED, read-write).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransactionOptions {
    pub isolation: Option<IsolationLevel>,
    pub read_only: bool,
    /// Only meaningful with SERIALIZABLE READ ONLY: waits for a snapshot
    /// that cannot fail with a serialization error.
    pub deferrable: bool,
}

impl TransactionOptions {
    fn begin_sql(&self) -> String {
        let mut sql = String::from("BEGIN");
        match self.isolation {
            None => {}
            Some(IsolationLevel::ReadCommitted) => sql.push_str(" ISOLATION LEVEL READ COMMITTED"),
            Some(IsolationLevel::RepeatableRead) => {
                sql.push_str(" ISOLATION LEVEL REPEATABLE READ")
            }
            Some(IsolationLevel::Serializable) => sql.push_str(" ISOLATION LEVEL SERIALIZABLE"),
        }
        if self.read_only {
            sql.push_str(" READ ONLY");
        }
        if self.deferrable {
            sql.push_str(" DEFERRABLE");
        }
        sql
    }
}

enum Conn<'c> {
    Owned(Box<PooledConnection>),
    Borrowed(&'c mut PooledConnection),
}

/// An open transaction (`depth == 0`) or savepoint inside one.
pub struct Transaction<'c> {
    conn: Conn<'c>,
    /// `None` for the outermost transaction.
    savepoint: Option<String>,
    depth: usize,
    finished: bool,
    _not_sync: PhantomData<Cell<()>>,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("savepoint", &self.savepoint)
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

impl Transaction<'static> {
    pub(crate) async fn begin_owned(
        conn: PooledConnection,
        options: TransactionOptions,
    ) -> NativeResult<Transaction<'static>> {
        let mut conn = Box::new(conn);
        start(&mut conn, options).await?;
        Ok(Transaction::new(Conn::Owned(conn), None, 0))
    }
}

impl PooledConnection {
    /// Starts a transaction on this connection; the connection is usable
    /// again once the guard is gone.
    pub async fn begin_with(
        &mut self,
        options: TransactionOptions,
    ) -> NativeResult<Transaction<'_>> {
        start(self, options).await?;
        Ok(Transaction::new(Conn::Borrowed(self), None, 0))
    }
}

async fn start(conn: &mut PooledConnection, options: TransactionOptions) -> NativeResult<()> {
    conn.flush_pending().await?;
    if conn.state.depth > 0 {
        return Err(NativeError::AlreadyInTransaction);
    }
    // Owed before BEGIN is sent: if this future is dropped while BEGIN is
    // in flight, no guard exists yet to roll it back.
    conn.state.pending.push(Pending::Rollback);
    conn.state.depth = 1;
    conn.execute_now(&options.begin_sql()).await?;
    conn.state.pending.pop();
    Ok(())
}

impl<'c> Transaction<'c> {
    fn new(conn: Conn<'c>, savepoint: Option<String>, depth: usize) -> Transaction<'c> {
        Transaction {
            conn,
            savepoint,
            depth,
            finished: false,
            _not_sync: PhantomData,
        }
    }

    pub(crate) fn connection(&mut self) -> &mut PooledConnection {
        self.conn()
    }

    fn conn(&mut self) -> &mut PooledConnection {
        match &mut self.conn {
            Conn::Owned(conn) => conn,
            Conn::Borrowed(conn) => conn,
        }
    }

    /// Nesting depth: 0 for the transaction, 1 for its first savepoint, ...
    pub fn depth(&self) -> usize {
        self.depth
    }

    pub async fn query(&mut self, statement: &Statement) -> NativeResult<RawRows> {
        self.conn().query(statement).await
    }

    pub async fn fetch_statement(&mut self, statement: &Statement) -> NativeResult<Rows> {
        self.conn().fetch_statement(statement).await
    }

    pub async fn fetch(&mut self, schema: &Schema, query: &Query) -> NativeResult<Rows> {
        self.conn().fetch(schema, query).await
    }

    /// Parameterless SQL through the simple protocol; see
    /// [`PooledConnection::execute`].
    pub async fn execute(&mut self, sql: &str) -> NativeResult<()> {
        self.conn().execute(sql).await
    }

    /// The core's query API inside this transaction. Statements run one at
    /// a time: the driver holds the transaction behind an async mutex, so
    /// even `join!`ed queries cannot interleave on the connection.
    pub fn db(&mut self, schema: impl Into<Arc<Schema>>) -> Db<TransactionDriver<'_, 'c>> {
        Db::new(
            TransactionDriver {
                tx: tokio::sync::Mutex::new(self),
            },
            schema,
        )
    }

    /// Opens a savepoint; dropping it without `commit` rolls back to it.
    pub async fn savepoint(&mut self) -> NativeResult<Transaction<'_>> {
        let conn = self.conn();
        conn.flush_pending().await?;
        let level = conn.state.depth + 1;
        let name = format!("keel_sp_{level}");
        conn.execute_now(&format!("SAVEPOINT {name}")).await?;
        conn.state.depth = level;
        let depth = self.depth + 1;
        Ok(Transaction::new(
            Conn::Borrowed(self.conn()),
            Some(name),
            depth,
        ))
    }

    /// Runs `body` in a savepoint: released on `Ok`, rolled back to on
    /// `Err`, panic or cancellation; the outer transaction continues.
    pub async fn nested<T, E, F>(&mut self, body: F) -> Result<T, E>
    where
        F: for<'t, 'u> FnOnce(&'t mut Transaction<'u>) -> BoxFuture<'t, Result<T, E>>,
        E: From<NativeError>,
    {
        let savepoint = self.savepoint().await?;
        run_body(savepoint, body).await
    }

    /// The connection level this guard opened.
    fn level(&mut self) -> usize {
        self.depth + 1
    }

    /// Commits the transaction, or releases the savepoint. If a statement in
    /// it failed or was cancelled, PostgreSQL would silently roll back on
    /// `COMMIT`; keel rolls back and returns
    /// [`NativeError::TransactionAborted`] instead.
    pub async fn commit(mut self) -> NativeResult<()> {
        let level = self.level();
        self.conn().flush_pending().await?;
        if self.conn().state.aborted_at.is_some_and(|at| at >= level) {
            self.rollback_now().await?;
            return Err(NativeError::TransactionAborted);
        }
        let sql = match &self.savepoint {
            None => "COMMIT".to_owned(),
            Some(name) => format!("RELEASE SAVEPOINT {name}"),
        };
        self.conn().execute_now(&sql).await?;
        self.conn().state.depth = level - 1;
        self.finished = true;
        Ok(())
    }

    /// Rolls back the transaction, or back to the savepoint.
    pub async fn rollback(mut self) -> NativeResult<()> {
        self.conn().flush_pending().await?;
        self.rollback_now().await
    }

    async fn rollback_now(&mut self) -> NativeResult<()> {
        let level = self.level();
        let sql = match &self.savepoint {
            None => "ROLLBACK".to_owned(),
            Some(name) => format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"),
        };
        self.conn().execute_now(&sql).await?;
        let state = &mut self.conn().state;
        state.depth = level - 1;
        if state.aborted_at.is_some_and(|at| at >= level) {
            state.aborted_at = None;
        }
        self.finished = true;
        Ok(())
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let level = self.depth + 1;
        let owed = match self.savepoint.take() {
            Some(name) => Pending::RollbackTo { name, level },
            None => Pending::Rollback,
        };
        self.conn().state.pending.push(owed);
    }
}

/// Commits on `Ok`, rolls back on `Err`; a panic or a dropped future
/// unwinds through the guard, whose `Drop` owes the rollback.
pub(crate) async fn run_body<'c, T, E, F>(mut tx: Transaction<'c>, body: F) -> Result<T, E>
where
    F: for<'t> FnOnce(&'t mut Transaction<'c>) -> BoxFuture<'t, Result<T, E>>,
    E: From<NativeError>,
{
    match body(&mut tx).await {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(%rollback, "rollback after a failed transaction body failed");
            }
            Err(error)
        }
    }
}

/// [`Driver`] for [`Transaction::db`].
pub struct TransactionDriver<'t, 'c> {
    tx: tokio::sync::Mutex<&'t mut Transaction<'c>>,
}

#[async_trait::async_trait]
impl Driver for TransactionDriver<'_, '_> {
    async fn query(&self, statement: &Statement) -> keel_core::Result<RawRows> {
        let mut tx = self.tx.lock().await;
        Ok(tx.query(statement).await?)
    }
}
