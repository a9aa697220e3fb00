//! Read replicas: reads round-robin over replica pools, everything else on
//! the primary.
//!
//! Routing is by statement: a compiled `SELECT` (or a `WITH` whose body
//! writes nothing) outside a transaction is a read. Transactions always run
//! on the primary, since a replica cannot write and a transaction's reads
//! must see its own writes. A read that must see a write just made (replica
//! lag) is forced onto the primary with [`ReplicaSet::primary`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use keel_core::compile::Statement;
use keel_core::rows::RawRows;
use keel_core::Driver;

use crate::error::NativeResult;
use crate::transaction::{Transaction, TransactionOptions};
use crate::Pool;

/// A primary pool and any number of replica pools, as one [`Driver`].
#[derive(Clone)]
pub struct ReplicaSet {
    primary: Pool,
    replicas: Arc<[Pool]>,
    next: Arc<AtomicUsize>,
}

impl ReplicaSet {
    /// With no replicas every statement goes to the primary.
    pub fn new(primary: Pool, replicas: Vec<Pool>) -> ReplicaSet {
        ReplicaSet {
            primary,
            replicas: replicas.into(),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The primary, for reads that must not lag and for anything else
    /// explicitly pinned to it (`Db::new(set.primary().clone(), schema)`).
    pub fn primary(&self) -> &Pool {
        &self.primary
    }

    pub fn replicas(&self) -> &[Pool] {
        &self.replicas
    }

    /// Where `statement` would run.
    pub fn route(&self, statement: &Statement) -> &Pool {
        if self.replicas.is_empty() || !is_read(&statement.sql) {
            return &self.primary;
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.replicas.len();
        &self.replicas[turn]
    }

    /// Transactions always start on the primary.
    pub async fn begin_with(
        &self,
        options: TransactionOptions,
    ) -> NativeResult<Transaction<'static>> {
        self.primary.begin_with(options).await
    }

    pub async fn query(&self, statement: &Statement) -> NativeResult<RawRows> {
        self.route(statement).query(statement).await
    }
}

/// A statement that only reads: `SELECT ...`, or `WITH ...` with no
/// data-modifying clause and no row lock. Conservative: anything it cannot
/// tell goes to the primary.
fn is_read(sql: &str) -> bool {
    let upper = sql.trim_start().to_ascii_uppercase();
    let reads =
        upper.starts_with("SELECT") || upper.starts_with("WITH") || upper.starts_with("VALUES");
    let writes = [
        "INSERT ",
        "UPDATE ",
        "DELETE ",
        "MERGE ",
        " FOR UPDATE",
        " FOR SHARE",
        " FOR NO KEY",
        " FOR KEY SHARE",
        "NEXTVAL(",
        "SETVAL(",
    ]
    .iter()
    .any(|w| upper.contains(w));
    reads && !writes
}

#[async_trait::async_trait]
impl Driver for ReplicaSet {
    async fn query(&self, statement: &Statement) -> keel_core::Result<RawRows> {
        Ok(ReplicaSet::query(self, statement).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::is_read;

    #[test]
    fn only_plain_reads_are_reads() {
        assert!(is_read("SELECT * FROM track"));
        assert!(is_read("  with t AS (SELECT 1) SELECT * FROM t"));
        assert!(!is_read(
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"
        ));
        assert!(!is_read("SELECT * FROM t FOR UPDATE"));
        assert!(!is_read("INSERT INTO t VALUES (1)"));
        assert!(!is_read("SELECT nextval('s')"));
        assert!(!is_read("UPDATE t SET a = 1"));
    }
}
