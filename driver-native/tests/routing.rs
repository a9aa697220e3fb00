//! Fan-out on the pool, explicit pipelines, and read-replica routing.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{pool, settings, stmt};
use keel_native::{Db, PoolSettings, ReplicaSet, Schema, TransactionOptions, Value};
use keel_testkit::{database_url, PgUrl};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// A TCP relay in front of the server that counts the client's flights:
/// bursts of bytes the client sends after the server last spoke. One
/// flight per round trip, whatever the TCP segmentation.
struct FlightCounter {
    port: u16,
    flights: Arc<AtomicUsize>,
}

impl FlightCounter {
    async fn start(upstream: (String, u16)) -> FlightCounter {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let flights = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&flights);
        tokio::spawn(async move {
            let (client, _) = listener.accept().await.unwrap();
            let server = TcpStream::connect(upstream).await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let server_spoke = Arc::new(AtomicBool::new(true));
            let spoke = Arc::clone(&server_spoke);
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = server_read.read(&mut buffer).await {
                    spoke.store(true, Ordering::SeqCst);
                    if client_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            });
            let mut buffer = vec![0u8; 64 * 1024];
            while let Ok(n @ 1..) = client_read.read(&mut buffer).await {
                if server_spoke.swap(false, Ordering::SeqCst) {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                if server_write.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
            }
        });
        FlightCounter { port, flights }
    }

    fn flights(&self) -> usize {
        self.flights.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_pipeline_of_known_statements_is_one_round_trip() {
    let Some(url) = database_url() else { return };
    let mut parts = PgUrl::parse(&url).unwrap();
    let relay = FlightCounter::start((parts.host.clone(), parts.port)).await;
    parts.host = "127.0.0.1".into();
    parts.port = relay.port;
    let pool = pool(&parts.to_url(), "keel_pipeline_flights", settings(1)).await;
    let mut conn = pool.get().await.unwrap();
    let statements: Vec<_> = (0..10)
        .map(|i| {
            stmt(
                &format!("SELECT $1::int4 + {i} AS v"),
                vec![Value::Int4(i)],
                &["v"],
            )
        })
        .collect();
    // First time every statement is prepared, and each execute follows its
    // own prepare's answer: more than one flight, how many depends on how
    // the server's answers are split.
    let before = relay.flights();
    for result in conn.pipeline(&statements).await.unwrap() {
        result.unwrap();
    }
    assert!(relay.flights() - before >= 2);
    // Every statement is now in the connection's cache: one flight.
    let before = relay.flights();
    let results = conn.pipeline(&statements).await.unwrap();
    assert_eq!(relay.flights() - before, 1);
    for (i, result) in results.into_iter().enumerate() {
        let rows = keel_native::Rows::decode(&statements[i].columns, &result.unwrap()).unwrap();
        assert_eq!(rows.rows[0][0], Value::Int4(2 * i as i32));
    }
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
