//! Fault test (issue 5, "Done means" 4): in the middle of a write load every
//! pooled connection is killed with `pg_terminate_backend`, then the server
//! is restarted. Its own test binary: the restart would disturb other tests.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{int_column, observer, pool, settings, stmt};
use keel_native::{Driver, NativeError, Pool, PoolSettings, Value};
use keel_testkit::{database_url, restart_server};

const TABLE: &str = "keel_fault";
const APP: &str = "keel_fault";
const WORKERS: usize = 16;

#[derive(Debug)]
enum Outcome {
    Committed,
    /// Failed before COMMIT was sent: the row must not exist.
    FailedBeforeCommit(NativeError),
    /// The connection died while COMMIT was in flight: either is valid.
    FailedInCommit(NativeError),
}

async fn write(pool: &Pool, id: i64, committing: &AtomicBool) -> Result<(), NativeError> {
    let mut tx = pool.begin().await?;
    tx.query(&stmt(
        &format!("INSERT INTO {TABLE} (id) VALUES ($1)"),
        vec![Value::Int8(id)],
        &[],
    ))
    .await?;
    committing.store(true, Ordering::SeqCst);
    tx.commit().await
}

/// True for the errors a dead or restarting server produces: a closed
/// connection, a refused connect, or the server's own shutdown SQLSTATEs.
fn is_clear_connection_error(error: &NativeError) -> bool {
    match error {
        NativeError::Db(keel_native::Error::Closed(_) | keel_native::Error::Transport(_)) => true,
        NativeError::Db(keel_native::Error::Server(e)) => {
            // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now.
            e.code.starts_with("57P") || e.code.starts_with("08")
        }
        NativeError::ConnectTimeout(_) | NativeError::PoolTimeout { .. } => true,
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_and_a_restart_lose_no_committed_row() {
    let Some(url) = database_url() else { return };
    if std::env::var("KEEL_PG_DIR").is_err() {
        println!("skipping: KEEL_PG_DIR is not set, so the server cannot be restarted (run scripts/test)");
        return;
    }
    let pool = pool(
        &url,
        APP,
        PoolSettings {
            acquire_timeout: Some(Duration::from_secs(10)),
            connect_timeout: Some(Duration::from_secs(5)),
            ..settings(8)
        },
    )
    .await;
    pool.execute(&format!(
        "DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (id int8 PRIMARY KEY)"
    ))
    .await
    .unwrap();

    let next_id = Arc::new(AtomicUsize::new(0));
    let committed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(tokio::sync::Notify::new());
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (pool, next_id, committed, stop, progress) = (
                pool.clone(),
                next_id.clone(),
                committed.clone(),
                stop.clone(),
                progress.clone(),
            );
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let id = i64::try_from(next_id.fetch_add(1, Ordering::SeqCst)).unwrap();
                    let committing = AtomicBool::new(false);
                    let outcome = match write(&pool, id, &committing).await {
                        Ok(()) => {
                            committed.fetch_add(1, Ordering::SeqCst);
                            Outcome::Committed
                        }
                        Err(e) if committing.load(Ordering::SeqCst) => Outcome::FailedInCommit(e),
                        Err(e) => Outcome::FailedBeforeCommit(e),
                    };
                    outcomes.push((id, outcome));
                    progress.notify_waiters();
                }
                outcomes
            })
        })
        .collect();
    let wait_for_commits = |n: usize| {
        let (committed, progress) = (committed.clone(), progress.clone());
        async move {
            let target = committed.load(Ordering::SeqCst) + n;
            loop {
                let notified = progress.notified();
                if committed.load(Ordering::SeqCst) >= target {
                    return;
                }
                tokio::time::timeout(Duration::from_secs(60), notified)
                    .await
                    .expect("the load made no progress for 60 s");
            }
        }
    };

    wait_for_commits(300).await;
    let observer = observer(&url).await;
    let killed = observer
        .query(&stmt(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            vec![Value::Text(APP.into())],
            &["pg_terminate_backend"],
        ))
        .await
        .unwrap();
    assert!(!killed.is_empty(), "no pooled connection was found to kill");
    println!("fault test: terminated {} pooled backends", killed.len());
    wait_for_commits(300).await;

    let restarted = tokio::task::spawn_blocking(restart_server).await.unwrap();
    restarted.expect("KEEL_PG_DIR checked above").unwrap();
    println!("fault test: server restarted");
    wait_for_commits(300).await;
    stop.store(true, Ordering::SeqCst);

    let mut outcomes = Vec::new();
    for worker in workers {
        outcomes.extend(worker.await.unwrap());
    }
    let found: Vec<i64> =
        int_column(&pool, &format!("SELECT id AS v FROM {TABLE} ORDER BY id")).await;
    let unique: BTreeSet<i64> = found.iter().copied().collect();
    assert_eq!(unique.len(), found.len(), "duplicated rows");

    let (mut ok, mut failed) = (0, 0);
    for (id, outcome) in &outcomes {
        match outcome {
            Outcome::Committed => {
                ok += 1;
                assert!(unique.contains(id), "committed row {id} was lost");
            }
            Outcome::FailedBeforeCommit(error) => {
                failed += 1;
                assert!(
                    is_clear_connection_error(error),
                    "row {id}: unclear error {error:?}"
                );
                assert!(
                    !unique.contains(id),
                    "row {id} exists though its transaction failed"
                );
            }
            Outcome::FailedInCommit(error) => {
                failed += 1;
                assert!(
                    is_clear_connection_error(error),
                    "row {id}: unclear error {error:?}"
                );
            }
        }
    }
    let attempted: BTreeSet<i64> = outcomes.iter().map(|(id, _)| *id).collect();
    assert!(unique.is_subset(&attempted));
    println!("fault test: {ok} committed, {failed} failed with connection errors");
    assert!(failed > 0, "the faults caused no visible failure");
    assert!(ok >= 900);

    // The same pool, not rebuilt, serves again.
    for i in 0..50 {
        let rows = pool
            .fetch_statement(&stmt("SELECT $1::int4 AS v", vec![Value::Int4(i)], &["v"]))
            .await
            .unwrap();
        assert_eq!(rows.rows[0][0], Value::Int4(i));
    }
}
