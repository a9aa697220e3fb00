//! Starvation and cancellation-storm tests of the pool (issue 5, "Done
//! means" 2 and 3). Wall times are printed; run with `--nocapture` to see them.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{int_column, observer, pool, quiesce, sessions, settings, stmt};
use keel_native::{Db, NativeError, Pool, PoolSettings, Query, Schema, Value};
use keel_testkit::database_url;

const MUSIC_SCHEMA: &str = include_str!("../../examples/music/schema.json");
const DEMO_QUERY: &str = include_str!("../../examples/music/queries/tracks_of_album.json");

const TASKS: i32 = 10_000;

fn echo(i: i32) -> keel_native::compile::Statement {
    stmt("SELECT $1::int4 AS v", vec![Value::Int4(i)], &["v"])
}

async fn echoed(result: Result<keel_native::Rows, NativeError>) -> Result<i32, NativeError> {
    match result?.rows.first().and_then(|r| r.first()) {
        Some(Value::Int4(v)) => Ok(*v),
        other => panic!("unexpected echo result {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_tasks_share_ten_connections_without_starving() {
    let Some(url) = database_url() else { return };
    let pool = pool(
        &url,
        "keel_starve",
        PoolSettings {
            acquire_timeout: Some(Duration::from_secs(60)),
            ..settings(10)
        },
    )
    .await;

    // Run 1: connection held for one statement, then 100 ms of unrelated
    // async work with no connection held.
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let value = echoed(pool.fetch_statement(&echo(i)).await).await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok::<_, NativeError>(value)
            })
        })
        .collect();
    for (i, task) in (0..TASKS).zip(tasks) {
        assert_eq!(task.await.unwrap().unwrap(), i);
    }
    let wall = started.elapsed();
    println!("starvation run 1: {TASKS} tasks on a pool of 10 finished in {wall:?}");
    assert!(pool.status().size <= 10);
    // 10,000 × 100 ms of work serialised on 10 connections would be 100 s.
    assert!(wall < Duration::from_secs(30), "{wall:?}");

    // Run 2: connections held inside transactions across the 100 ms, with a
    // 50 ms acquire timeout: the ones that cannot get a connection fail
    // promptly with PoolTimeout, the others commit.
    let pool = pool_with_acquire(&url, Duration::from_millis(50)).await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let asked = Instant::now();
                let mut tx = match pool.begin().await {
                    Ok(tx) => tx,
                    Err(error) => return Err((error, asked.elapsed())),
                };
                let value = echoed(tx.fetch_statement(&echo(i)).await)
                    .await
                    .map_err(|e| (e, asked.elapsed()))?;
                tokio::time::sleep(Duration::from_millis(100)).await;
                tx.commit().await.map_err(|e| (e, asked.elapsed()))?;
                Ok(value)
            })
        })
        .collect();
    let (mut succeeded, mut timed_out) = (0, 0);
    let mut slowest_timeout = Duration::ZERO;
    for (i, task) in (0..TASKS).zip(tasks) {
        match task.await.unwrap() {
            Ok(value) => {
                assert_eq!(value, i);
                succeeded += 1;
            }
            Err((NativeError::PoolTimeout { .. }, waited)) => {
                timed_out += 1;
                slowest_timeout = slowest_timeout.max(waited);
            }
            Err((other, _)) => panic!("task {i}: unexpected error {other:?}"),
        }
    }
    let wall = started.elapsed();
    println!(
        "starvation run 2: {succeeded} committed, {timed_out} PoolTimeout (slowest after {slowest_timeout:?}), {wall:?} wall"
    );
    assert_eq!(succeeded + timed_out, TASKS);
    assert!(succeeded >= 10, "{succeeded}");
    assert!(timed_out > 0);
    // "Promptly": the 50 ms timeout plus scheduling of 10,000 tasks on 2 cores.
    assert!(
        slowest_timeout < Duration::from_secs(3),
        "{slowest_timeout:?}"
    );
}

async fn pool_with_acquire(url: &str, acquire: Duration) -> Pool {
    pool(
        url,
        "keel_starve_tx",
        PoolSettings {
            acquire_timeout: Some(acquire),
            ..settings(10)
        },
    )
    .await
}

/// xorshift64*: reproducible random cancellation points without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Completed,
    /// Cancelled before `COMMIT` was sent: nothing may be visible.
    CancelledBeforeCommit,
    /// Cancelled while `COMMIT` was in flight: either outcome is valid.
    CancelledInCommit,
}

const STORM: usize = 10_000;
const TABLE: &str = "keel_storm";

/// 10,000 operations, each cut off by a random deadline: Db queries,
/// committed transactions, transactions with rolled-back and released
/// savepoints, long statements, abandoned transactions, cursor streams and
/// binary COPY loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_storm_leaves_every_connection_clean() {
    let Some(url) = database_url() else { return };
    let app = "keel_storm";
    let pool = pool(&url, app, settings(10)).await;
    pool.execute(&format!(
        "DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (id int8 PRIMARY KEY)"
    ))
    .await
    .unwrap();
    let db = Arc::new(Db::new(
        pool.clone(),
        Schema::from_json(MUSIC_SCHEMA).unwrap(),
    ));
    let demo = Arc::new(Query::from_json(DEMO_QUERY).unwrap());

    let started = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut handles = Vec::with_capacity(STORM);
    // A bounded number in flight, so a deadline measures the operation and
    // not the queue of 10,000 spawned tasks ahead of it.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(10));
    for op in 0..STORM {
        // Deadlines from 0 to 15 ms: before acquire, mid-statement, between
        // statements, during COMMIT, or never.
        let deadline = Duration::from_micros(rng.next() % 15_000);
        let permit = in_flight.clone().acquire_owned().await.unwrap();
        let pool = pool.clone();
        let db = db.clone();
        let demo = demo.clone();
        let id = i64::try_from(op).unwrap();
        handles.push(tokio::spawn(async move {
            let committing = Arc::new(AtomicBool::new(false));
            let flag = committing.clone();
            let work = async move {
                match op % 7 {
                    0 => {
                        let rows = db.fetch(&demo).await?;
                        assert_eq!(rows.rows.len(), 5);
                    }
                    1 => {
                        let mut tx = pool.begin().await?;
                        tx.query(&insert(id)).await?;
                        flag.store(true, Ordering::SeqCst);
                        tx.commit().await?;
                    }
                    2 => {
                        let mut tx = pool.begin().await?;
                        tx.query(&insert(id)).await?;
                        {
                            let mut sp = tx.savepoint().await?;
                            // Rolled back: must never be visible.
                            sp.query(&insert(id + 1_000_000)).await?;
                            sp.rollback().await?;
                        }
                        {
                            let mut sp = tx.savepoint().await?;
                            sp.query(&insert(id + 2_000_000)).await?;
                            sp.commit().await?;
                        }
                        flag.store(true, Ordering::SeqCst);
                        tx.commit().await?;
                    }
                    3 => {
                        // Long enough to be cancelled mid-flight on the server.
                        pool.query(&stmt("SELECT pg_sleep(0.02)", vec![], &["pg_sleep"]))
                            .await?;
                    }
                    4 => {
                        let mut tx = pool.begin().await?;
                        tx.query(&insert(id)).await?;
                        // Dropped without commit: always rolled back.
                    }
                    5 => {
                        use futures_util::TryStreamExt;
                        let batches: Vec<_> = pool
                            .stream(
                                stmt(
                                    "SELECT i AS v FROM generate_series(1, 2000) i",
                                    vec![],
                                    &["v"],
                                ),
                                100,
                            )
                            .try_collect()
                            .await?;
                        assert_eq!(batches.len(), 20);
                    }
                    _ => {
                        let mut tx = pool.begin().await?;
                        let rows = copied(id).into_iter().map(|v| vec![Value::Int8(v)]);
                        tx.copy_in(TABLE, &["id"], rows, |_| {}).await?;
                        flag.store(true, Ordering::SeqCst);
                        tx.commit().await?;
                    }
                }
                Ok::<_, NativeError>(())
            };
            let outcome = match tokio::time::timeout(deadline, work).await {
                Ok(result) => {
                    result.unwrap();
                    Outcome::Completed
                }
                Err(_) if committing.load(Ordering::SeqCst) => Outcome::CancelledInCommit,
                Err(_) => Outcome::CancelledBeforeCommit,
            };
            drop(permit);
            (id, outcome)
        }));
    }
    let mut outcomes = Vec::with_capacity(STORM);
    for handle in handles {
        outcomes.push(handle.await.unwrap());
    }
    let storm_time = started.elapsed();

    quiesce(&pool).await;
    let observer = observer(&url).await;
    let states = sessions(&observer, app).await;
    assert!(!states.is_empty());
    for (pid, state) in &states {
        assert_eq!(state, "idle", "session {pid} after the storm");
    }

    // The next 1,000 queries all succeed.
    let checks: Vec<_> = (0..1_000)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move { echoed(pool.fetch_statement(&echo(i)).await).await })
        })
        .collect();
    for (i, check) in (0..1_000).zip(checks) {
        assert_eq!(check.await.unwrap().unwrap(), i);
    }

    let found: BTreeSet<i64> = int_column(&pool, &format!("SELECT id AS v FROM {TABLE}"))
        .await
        .into_iter()
        .collect();
    let mut expected = BTreeSet::new();
    let mut maybe = BTreeSet::new();
    let mut counts = [0usize; 3];
    for (id, outcome) in &outcomes {
        let rows: Vec<i64> = match id % 7 {
            1 => vec![*id],
            2 => vec![*id, id + 2_000_000],
            6 => copied(*id),
            _ => vec![],
        };
        match outcome {
            Outcome::Completed => {
                counts[0] += 1;
                expected.extend(rows);
            }
            Outcome::CancelledBeforeCommit => counts[1] += 1,
            Outcome::CancelledInCommit => {
                counts[2] += 1;
                maybe.extend(rows);
            }
        }
    }
    println!(
        "cancellation storm: {STORM} operations in {storm_time:?}: {} completed, {} cancelled before commit, {} cancelled during commit",
        counts[0], counts[1], counts[2]
    );
    assert!(counts[0] > 100 && counts[1] > 100, "{counts:?}");
    let missing: Vec<_> = expected.difference(&found).collect();
    assert!(missing.is_empty(), "committed rows lost: {missing:?}");
    let unexpected: Vec<_> = found
        .iter()
        .filter(|id| !expected.contains(id) && !maybe.contains(id))
        .collect();
    assert!(
        unexpected.is_empty(),
        "rows that were never committed: {unexpected:?}"
    );
    // A transaction whose COMMIT was in flight is all or nothing.
    for (id, outcome) in &outcomes {
        if *outcome == Outcome::CancelledInCommit && id % 7 == 2 {
            assert_eq!(
                found.contains(id),
                found.contains(&(id + 2_000_000)),
                "{id}"
            );
        }
    }
}

/// The rows a COPY operation loads.
fn copied(id: i64) -> Vec<i64> {
    (0..5).map(|k| 3_000_000 + id * 10 + k).collect()
}

fn insert(id: i64) -> keel_native::compile::Statement {
    stmt(
        &format!("INSERT INTO {TABLE} (id) VALUES ($1)"),
        vec![Value::Int8(id)],
        &[],
    )
}
