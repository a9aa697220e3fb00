//! The per-connection prepared-statement cache, observed from the server's
//! own `pg_prepared_statements` view of the connection under test.

mod common;

use common::stmt;
use keel_native::{
    Driver, DriverSettings, NativeDriver, Pool, PoolSettings, Rows, StatementCache, Value,
};
use keel_testkit::database_url;

async fn driver(url: &str, capacity: usize) -> NativeDriver {
    let settings = DriverSettings {
        statement_cache: StatementCache { capacity },
        ..DriverSettings::default()
    };
    NativeDriver::connect_with(url, &settings).await.unwrap()
}

async fn rows(driver: &NativeDriver, sql: &str, columns: &[&str]) -> Rows {
    let statement = stmt(sql, vec![], columns);
    let raw = driver.query(&statement).await.unwrap();
    Rows::decode(&statement.columns, &raw).unwrap()
}

/// How many statements with exactly this text the connection holds prepared.
async fn prepared(driver: &NativeDriver, sql: &str) -> i64 {
    let statement = stmt(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
        vec![Value::Text(sql.to_owned())],
        &["count"],
    );
    let raw = driver.query(&statement).await.unwrap();
    match Rows::decode(&statement.columns, &raw).unwrap().rows[0][0] {
        Value::Int8(n) => n,
        ref other => panic!("count(*) returned {other:?}"),
    }
}

const PROBE: &str = "SELECT 41 + 1 AS answer";

#[tokio::test]
async fn statements_stay_prepared_and_are_reused() {
    let Some(url) = database_url() else { return };
    let cached = driver(&url, 16).await;
    for _ in 0..3 {
        let found = rows(&cached, PROBE, &["answer"]).await;
        assert_eq!(found.rows, vec![vec![Value::Int4(42)]]);
    }
    assert_eq!(prepared(&cached, PROBE).await, 1, "one statement, reused");

    // Capacity 0: every statement is prepared afresh and closed after use,
    // as pgbouncer's transaction mode needs.
    let uncached = driver(&url, 0).await;
    rows(&uncached, PROBE, &["answer"]).await;
    assert_eq!(prepared(&uncached, PROBE).await, 0);
}

#[tokio::test]
async fn a_full_cache_is_emptied_so_it_stays_bounded() {
    let Some(url) = database_url() else { return };
    let capacity = 4;
    let cached = driver(&url, capacity).await;
    for i in 0..20 {
        let sql = format!("SELECT {i} AS n");
        let found = rows(&cached, &sql, &["n"]).await;
        assert_eq!(found.rows, vec![vec![Value::Int4(i)]]);
    }
    let total = rows(
        &cached,
        "SELECT count(*) FROM pg_prepared_statements",
        &["count"],
    )
    .await;
    match total.rows[0][0] {
        Value::Int8(n) => assert!(n <= capacity as i64, "{n} statements prepared"),
        ref other => panic!("count(*) returned {other:?}"),
    }
}

#[tokio::test]
async fn stale_statements_are_prepared_again() {
    let Some(url) = database_url() else { return };
    let cached = driver(&url, 16).await;
    rows(&cached, "CREATE TEMP TABLE keel_cache_probe (a int)", &[]).await;
    rows(&cached, "INSERT INTO keel_cache_probe VALUES (1)", &[]).await;
    let select = "SELECT * FROM keel_cache_probe";
    assert_eq!(
        rows(&cached, select, &["a"]).await.rows,
        vec![vec![Value::Int4(1)]]
    );

    // The cached statement's result type changes under it: the server
    // refuses it (0A000) and the driver prepares it again, once.
    rows(
        &cached,
        "ALTER TABLE keel_cache_probe ADD COLUMN b text DEFAULT 'x'",
        &[],
    )
    .await;
    assert_eq!(
        rows(&cached, select, &["a", "b"]).await.rows,
        vec![vec![Value::Int4(1), Value::Text("x".into())]]
    );

    // Something else deallocated every statement (26000).
    rows(&cached, "DEALLOCATE ALL", &[]).await;
    assert_eq!(rows(&cached, select, &["a", "b"]).await.rows.len(), 1);
}

#[tokio::test]
async fn inside_a_transaction_a_stale_statement_is_not_retried() {
    let Some(url) = database_url() else { return };
    let pool = Pool::connect(
        &common::tagged(&url, "keel_cache_tx"),
        PoolSettings {
            max_size: 1,
            ..PoolSettings::default()
        },
    )
    .await
    .unwrap();
    let mut conn = pool.get().await.unwrap();
    let setup = stmt("CREATE TEMP TABLE keel_cache_tx (a int)", vec![], &[]);
    conn.query(&setup).await.unwrap();
    let select = stmt("SELECT * FROM keel_cache_tx", vec![], &["a"]);
    conn.query(&select).await.unwrap();
    let alter = stmt("ALTER TABLE keel_cache_tx ADD COLUMN b int", vec![], &[]);
    conn.query(&alter).await.unwrap();
    drop(conn);

    let mut tx = pool.begin().await.unwrap();
    // A retry here would run in an aborted transaction; the caller gets the
    // server's own error instead, and the next attempt after rollback works.
    let error = tx.query(&select).await.unwrap_err();
    assert_eq!(error.sqlstate(), Some("0A000"), "{error}");
    tx.rollback().await.unwrap();
    let select = stmt("SELECT * FROM keel_cache_tx", vec![], &["a", "b"]);
    let raw = pool.query(&select).await.unwrap();
    assert_eq!(raw.len(), 0);
}
