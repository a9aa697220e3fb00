//! Fan-out on the pool, explicit pipelines, and read-replica routing.

mod common;

use std::time::{Duration, Instant};

use common::{pool, settings, stmt};
use keel_native::{Db, PoolSettings, ReplicaSet, Schema, TransactionOptions, Value};
use keel_testkit::database_url;

#[tokio::test]
async fn joined_queries_run_concurrently_on_the_pool() {
    let Some(url) = database_url() else { return };
    let pool = pool(
        &url,
        "keel_fanout",
        PoolSettings {
            min_idle: 4,
            ..settings(4)
        },
    )
    .await;
    let db = Db::new(
        pool,
        Schema {
            tables: vec![],
            enums: vec![],
            domains: vec![],
            views: vec![],
        },
    );
    let slow = stmt(
        "SELECT pg_backend_pid() AS pid FROM pg_sleep(0.3)",
        vec![],
        &["pid"],
    );
    let started = Instant::now();
    let (a, b, c, d) = tokio::join!(
        db.fetch_statement(&slow),
        db.fetch_statement(&slow),
        db.fetch_statement(&slow),
        db.fetch_statement(&slow)
    );
    let elapsed = started.elapsed();
    let pids: std::collections::BTreeSet<String> = [a, b, c, d]
        .into_iter()
        .map(|r| format!("{:?}", r.unwrap().rows[0][0]))
        .collect();
    assert_eq!(pids.len(), 4, "{pids:?}");
    // Four 300 ms statements one after another would take 1.2 s.
    assert!(elapsed < Duration::from_millis(900), "{elapsed:?}");
}

#[tokio::test]
async fn a_pipeline_keeps_each_statements_result() {
    let Some(url) = database_url() else { return };
    let pool = pool(&url, "keel_pipeline", settings(1)).await;
    let mut conn = pool.get().await.unwrap();
    let statements = [
        stmt("SELECT 1::int4 AS v", vec![], &["v"]),
        stmt("SELECT 1/0 AS v", vec![], &["v"]),
        stmt("SELECT $1::int4 AS v", vec![Value::Int4(3)], &["v"]),
    ];
    let results = conn.pipeline(&statements).await.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().len(), 1);
    assert_eq!(results[1].as_ref().unwrap_err().sqlstate(), Some("22012"));
    let third =
        keel_native::Rows::decode(&statements[2].columns, results[2].as_ref().unwrap()).unwrap();
    assert_eq!(third.rows[0][0], Value::Int4(3));
}

fn app_of(rows: &keel_native::RawRows) -> String {
    let decoded = keel_native::Rows::decode(&["app".to_owned()], rows).unwrap();
    match &decoded.rows[0][0] {
        Value::Text(app) => app.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reads_go_round_robin_to_replicas_and_writes_to_the_primary() {
    let Some(url) = database_url() else { return };
    // One server plays all three roles; application_name tells them apart.
    let set = ReplicaSet::new(
        pool(&url, "keel_primary", settings(2)).await,
        vec![
            pool(&url, "keel_replica_a", settings(2)).await,
            pool(&url, "keel_replica_b", settings(2)).await,
        ],
    );
    let read = stmt(
        "SELECT current_setting('application_name') AS app",
        vec![],
        &["app"],
    );
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(app_of(&set.query(&read).await.unwrap()));
    }
    assert_eq!(
        seen,
        [
            "keel_replica_a",
            "keel_replica_b",
            "keel_replica_a",
            "keel_replica_b"
        ]
    );
    let write = stmt(
        "WITH w AS (UPDATE track SET name = name WHERE false RETURNING 1) \
         SELECT current_setting('application_name') AS app",
        vec![],
        &["app"],
    );
    assert_eq!(app_of(&set.query(&write).await.unwrap()), "keel_primary");
    let locking = stmt(
        "SELECT current_setting('application_name') AS app FROM track LIMIT 1 FOR UPDATE",
        vec![],
        &["app"],
    );
    assert_eq!(app_of(&set.query(&locking).await.unwrap()), "keel_primary");
    assert_eq!(
        app_of(&set.primary().query(&read).await.unwrap()),
        "keel_primary"
    );
    let mut tx = set.begin_with(TransactionOptions::default()).await.unwrap();
    assert_eq!(app_of(&tx.query(&read).await.unwrap()), "keel_primary");
    tx.commit().await.unwrap();
}
