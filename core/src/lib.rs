//! keel's core: everything between a query definition and decoded rows, with no I/O.
//!
//! The pipeline reads top to bottom: [`schema`] → [`query`] → [`compile`] →
//! [`driver`] (the only async boundary, implemented outside this crate or over
//! a [`protocol::Transport`]) → [`rows`] → [`types`] decoding. The same code
//! runs natively and in WebAssembly, so a query definition compiles to the same
//! SQL and decodes to the same values on every runtime.

pub mod compile;
pub mod db;
pub mod driver;
pub mod error;
pub(crate) mod json_text;
pub mod orm;
pub mod protocol;
pub mod query;
pub mod rows;
pub mod schema;
pub mod types;

pub use compile::{compile, Statement};
pub use db::Db;
pub use driver::Driver;
pub use error::{Error, Result, ServerError};
pub use query::Query;
pub use rows::{ColumnDesc, RawRows};
pub use schema::Schema;
pub use types::{Rows, Value};
