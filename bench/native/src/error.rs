//! One error type for the whole suite, so a failure says which contender and
//! which step broke instead of aborting the run with a bare library error.

use thiserror::Error;

pub type BenchResult<T> = Result<T, BenchError>;

#[derive(Debug, Error)]
pub enum BenchError {
    #[error("keel: {0}")]
    Keel(#[from] keel_native::orm::OrmError),
    #[error("keel-native: {0}")]
    KeelNative(#[from] keel_native::NativeError),
    #[error("keel core: {0}")]
    KeelCore(#[from] keel_native::Error),
    #[error("tokio-postgres: {0}")]
    TokioPostgres(#[from] tokio_postgres::Error),
    #[error("deadpool-postgres: {0}")]
    Deadpool(#[from] deadpool_postgres::PoolError),
    #[error("deadpool-postgres setup: {0}")]
    DeadpoolCreate(#[from] deadpool_postgres::CreatePoolError),
    #[error("sqlx: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("sea-orm: {0}")]
    SeaOrm(#[from] sea_orm::DbErr),
    #[error("diesel: {0}")]
    Diesel(#[from] diesel::result::Error),
    #[error("diesel connection: {0}")]
    DieselConnection(#[from] diesel::ConnectionError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("writing the results: {0}")]
    Json(#[from] serde_json::Error),
    #[error("task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// Contenders returned different data for the same workload: timing
    /// them would compare different work.
    #[error("{workload}: {contender} returned {got}, {reference_name} returned {expected}")]
    Mismatch {
        workload: String,
        contender: &'static str,
        got: String,
        reference_name: &'static str,
        expected: String,
    },
    #[error("{0}")]
    Setup(String),
}

impl BenchError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let context = context.into();
        move |source| BenchError::Io { context, source }
    }
}
