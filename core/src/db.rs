//! The ORM entry point: a schema plus a driver.

use std::sync::Arc;

use crate::compile::{compile, Statement};
use crate::driver::Driver;
use crate::error::Result;
use crate::query::Query;
use crate::schema::Schema;
use crate::types::Rows;

/// Runs query definitions against a database through any [`Driver`].
///
/// Every call is exactly one round trip and one `.await`; nothing is loaded
/// lazily behind the caller's back.
pub struct Db<D> {
    driver: D,
    schema: Arc<Schema>,
}

impl<D: Driver> Db<D> {
    pub fn new(driver: D, schema: impl Into<Arc<Schema>>) -> Db<D> {
        Db {
            driver,
            schema: schema.into(),
        }
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn driver(&self) -> &D {
        &self.driver
    }

    pub fn into_driver(self) -> D {
        self.driver
    }

    /// Compiles without running: shows the SQL a query would send.
    pub fn compile(&self, query: &Query) -> Result<Statement> {
        Ok(compile(query, &self.schema)?)
    }

    /// Compiles, runs and decodes `query`. Invalid definitions fail here
    /// before the driver is touched.
    pub async fn fetch(&self, query: &Query) -> Result<Rows> {
        let statement = self.compile(query)?;
        self.fetch_statement(&statement).await
    }

    pub async fn fetch_statement(&self, statement: &Statement) -> Result<Rows> {
        let raw = self.driver.query(statement).await?;
        Ok(Rows::decode(&statement.columns, &raw)?)
    }
}
