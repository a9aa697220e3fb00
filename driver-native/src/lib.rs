//! keel for Rust services: the core API on a `tokio-postgres` driver.
//!
//! The driver only moves bytes. It asks tokio-postgres for every result column
//! in binary and hands the raw cells to the core, which decodes them exactly
//! as it does in WebAssembly.
//!
//! A service uses a [`Pool`]: as a [`Driver`] it holds a connection only for
//! one statement; [`Pool::begin`] and [`Pool::transaction`] hold one for a
//! [`Transaction`], which rolls back unless committed.

pub mod codegen;
pub mod connection;
pub mod copy;
pub mod driver;
mod endpoint;
pub mod error;
pub mod introspect;
pub mod listen;
pub mod pool;
pub mod proxy;
pub mod replicas;
pub mod stream;
pub mod tls;
pub mod transaction;

pub use connection::PooledConnection;
pub use driver::{DriverSettings, NativeDriver, StatementCache};
pub use error::{NativeError, NativeResult};
pub use keel_core::*;
pub use listen::{ListenEvent, Listener, Notification};
pub use pool::{Pool, PoolSettings, PoolStatus};
pub use replicas::ReplicaSet;
pub use tls::{SslMode, TlsSettings};
pub use transaction::{IsolationLevel, Transaction, TransactionDriver, TransactionOptions};
