//! Errors of the pooled driver that the core's [`keel_core::Error`] has no
//! variant for: a caller must be able to tell "the pool is saturated" from
//! "the statement failed" without parsing a message.

use std::time::Duration;

/// A failure of a pooled operation.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// Every connection stayed checked out for the whole acquire timeout.
    /// This is back-pressure, not a fault: retry later or shed load.
    #[error("no pooled connection became free within {waited:?} (pool of at most {max_size})")]
    PoolTimeout { waited: Duration, max_size: usize },
    /// Opening a new connection took longer than the connect timeout.
    #[error("connecting to PostgreSQL took longer than {0:?}")]
    ConnectTimeout(Duration),
    /// The pool was closed while the caller waited.
    #[error("the connection pool is closed")]
    PoolClosed,
    /// The statement outlived its client-side deadline; a cancel request was
    /// sent to the server and the connection is checked before reuse.
    #[error("statement exceeded its {timeout:?} deadline and was cancelled: {sql}")]
    StatementTimeout { timeout: Duration, sql: String },
    /// `commit` found that a statement in the transaction (or savepoint)
    /// had failed or been cancelled; it rolled back instead.
    #[error("transaction rolled back: a statement in it failed or was cancelled")]
    TransactionAborted,
    /// A transaction was started on a connection that already has one open.
    #[error("a transaction is already open on this connection")]
    AlreadyInTransaction,
    /// A streamed row did not fit the model.
    #[error("{model}: {source}")]
    Row {
        model: &'static str,
        #[source]
        source: keel_core::orm::RowError,
    },
    /// The pool settings are contradictory or the URL does not parse.
    #[error("invalid pool configuration: {0}")]
    Config(String),
    /// The database or the connection failed.
    #[error(transparent)]
    Db(#[from] keel_core::Error),
}

impl NativeError {
    /// True when the failure says nothing about the connection or the
    /// statement, only that the pool was saturated.
    pub fn is_pool_timeout(&self) -> bool {
        matches!(self, NativeError::PoolTimeout { .. })
    }

    /// The SQLSTATE when the server rejected the statement.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            NativeError::Db(keel_core::Error::Server(e)) => Some(&e.code),
            _ => None,
        }
    }
}

/// For [`keel_core::Db`], whose [`keel_core::Driver`] can only return the
/// core error: a pool timeout stays typed there; the other pool-specific
/// variants keep their message and become a transport error. Use the pool's
/// own methods to match on those.
impl From<NativeError> for keel_core::Error {
    fn from(error: NativeError) -> Self {
        match error {
            NativeError::Db(e) => e,
            NativeError::PoolTimeout { waited, max_size } => {
                keel_core::Error::PoolTimeout { waited, max_size }
            }
            other => keel_core::Error::Transport(other.to_string()),
        }
    }
}

pub type NativeResult<T> = std::result::Result<T, NativeError>;
