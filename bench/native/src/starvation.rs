//! The starvation scenario of issue #5: 10,000 tasks share a pool of 10.
//! Run 1 holds a connection for one statement only, then sleeps 100 ms
//! without it; run 2 holds it inside a transaction across the 100 ms with a
//! 50 ms acquire timeout, so most tasks must fail fast with a pool timeout.

use std::future::Future;
use std::time::{Duration, Instant};

use keel_native::compile::Statement;
use keel_native::types::PgType;
use keel_native::{NativeError, Pool, PoolSettings, Value};
use sqlx::postgres::PgPoolOptions;

use crate::error::{BenchError, BenchResult};
use crate::report::{median, Better, Workload};
use crate::Settings;

const POOL_SIZE: usize = 10;
const SLEEP: Duration = Duration::from_millis(100);
const TX_ACQUIRE: Duration = Duration::from_millis(50);
const ECHO_SQL: &str = "SELECT $1::int4 AS v";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    PoolTimeout,
}

fn echo(i: i32) -> Statement {
    Statement {
        sql: ECHO_SQL.to_owned(),
        params: vec![Value::Int4(i)],
        param_types: vec![PgType::Int4],
        columns: vec!["v".to_owned()],
    }
}

fn expect_echo(contender: &'static str, i: i32, got: Option<i32>) -> BenchResult<Outcome> {
    if got == Some(i) {
        Ok(Outcome::Done)
    } else {
        Err(BenchError::Mismatch {
            workload: "starvation".into(),
            contender,
            got: format!("{got:?}"),
            reference_name: "the task",
            expected: i.to_string(),
        })
    }
}

fn keel_echoed(rows: &keel_native::Rows) -> Option<i32> {
    match rows.rows.first().and_then(|r| r.first()) {
        Some(Value::Int4(v)) => Some(*v),
        _ => None,
    }
}

/// Spawns `tasks` tasks at once; returns the wall time until the last one
/// ended and the count of pool timeouts.
async fn storm<F, Fut>(tasks: i32, task: F) -> BenchResult<(Duration, usize)>
where
    F: Fn(i32) -> Fut,
    Fut: Future<Output = BenchResult<Outcome>> + Send + 'static,
{
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks).map(|i| tokio::spawn(task(i))).collect();
    let mut timeouts = 0;
    for handle in handles {
        if handle.await?? == Outcome::PoolTimeout {
            timeouts += 1;
        }
    }
    Ok((started.elapsed(), timeouts))
}

struct Pools {
    keel: Pool,
    deadpool: deadpool_postgres::Pool,
    sqlx: sqlx::PgPool,
}

async fn pools(url: &str, acquire: Duration) -> BenchResult<Pools> {
    let keel = Pool::connect(
        url,
        PoolSettings {
            max_size: POOL_SIZE,
            min_idle: POOL_SIZE,
            acquire_timeout: Some(acquire),
            ..PoolSettings::default()
        },
    )
    .await?;
    let deadpool = crate::pool::deadpool(url, POOL_SIZE, Some(acquire))?;
    // Open every connection before timing, as keel's min_idle and sqlx's
    // min_connections do.
    let mut held = Vec::with_capacity(POOL_SIZE);
    for _ in 0..POOL_SIZE {
        held.push(deadpool.get().await?);
    }
    drop(held);
    // sqlx applies the acquire timeout to opening connections too, and a
    // SCRAM login can take longer than 50 ms: let its background task open
    // the minimum and wait for it. (That task starts at once only without
    // an idle timeout or lifetime, which a run this short never reaches.)
    let sqlx = PgPoolOptions::new()
        .max_connections(POOL_SIZE as u32)
        .min_connections(POOL_SIZE as u32)
        .acquire_timeout(acquire)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy(url)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while (sqlx.size() as usize) < POOL_SIZE {
        if Instant::now() > deadline {
            return Err(BenchError::Setup(format!(
                "sqlx opened {} of {POOL_SIZE} connections in 30 s",
                sqlx.size()
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Pools {
        keel,
        deadpool,
        sqlx,
    })
}

async fn run_once(
    pools: &Pools,
    name: &'static str,
    tasks: i32,
    in_tx: bool,
) -> BenchResult<(Duration, usize)> {
    match (name, in_tx) {
        ("keel", false) => {
            storm(tasks, |i| {
                let pool = pools.keel.clone();
                async move {
                    let rows = pool.fetch_statement(&echo(i)).await?;
                    let outcome = expect_echo("keel", i, keel_echoed(&rows))?;
                    tokio::time::sleep(SLEEP).await;
                    Ok(outcome)
                }
            })
            .await
        }
        ("keel", true) => {
            storm(tasks, |i| {
                let pool = pools.keel.clone();
                async move {
                    let mut tx = match pool.begin().await {
                        Ok(tx) => tx,
                        Err(NativeError::PoolTimeout { .. }) => return Ok(Outcome::PoolTimeout),
                        Err(other) => return Err(other.into()),
                    };
                    let rows = tx.fetch_statement(&echo(i)).await?;
                    let outcome = expect_echo("keel", i, keel_echoed(&rows))?;
                    tokio::time::sleep(SLEEP).await;
                    tx.commit().await?;
                    Ok(outcome)
                }
            })
            .await
        }
        ("deadpool-postgres", false) => {
            storm(tasks, |i| {
                let pool = pools.deadpool.clone();
                async move {
                    let client = pool.get().await?;
                    let statement = client.prepare_cached(ECHO_SQL).await?;
                    let row = client.query_one(&statement, &[&i]).await?;
                    drop(client);
                    let outcome = expect_echo("deadpool-postgres", i, row.try_get(0)?)?;
                    tokio::time::sleep(SLEEP).await;
                    Ok(outcome)
                }
            })
            .await
        }
        ("deadpool-postgres", true) => {
            storm(tasks, |i| {
                let pool = pools.deadpool.clone();
                async move {
                    let mut client = match pool.get().await {
                        Ok(client) => client,
                        Err(deadpool_postgres::PoolError::Timeout(_)) => {
                            return Ok(Outcome::PoolTimeout)
                        }
                        Err(other) => return Err(other.into()),
                    };
                    let tx = client.transaction().await?;
                    let statement = tx.prepare_cached(ECHO_SQL).await?;
                    let row = tx.query_one(&statement, &[&i]).await?;
                    let outcome = expect_echo("deadpool-postgres", i, row.try_get(0)?)?;
                    tokio::time::sleep(SLEEP).await;
                    tx.commit().await?;
                    Ok(outcome)
                }
            })
            .await
        }
        ("sqlx", false) => {
            storm(tasks, |i| {
                let pool = pools.sqlx.clone();
                async move {
                    let v: i32 = sqlx::query_scalar(ECHO_SQL)
                        .bind(i)
                        .fetch_one(&pool)
                        .await?;
                    let outcome = expect_echo("sqlx", i, Some(v))?;
                    tokio::time::sleep(SLEEP).await;
                    Ok(outcome)
                }
            })
            .await
        }
        ("sqlx", true) => {
            storm(tasks, |i| {
                let pool = pools.sqlx.clone();
                async move {
                    let mut tx = match pool.begin().await {
                        Ok(tx) => tx,
                        Err(sqlx::Error::PoolTimedOut) => return Ok(Outcome::PoolTimeout),
                        Err(other) => return Err(other.into()),
                    };
                    let v: i32 = sqlx::query_scalar(ECHO_SQL)
                        .bind(i)
                        .fetch_one(&mut *tx)
                        .await?;
                    let outcome = expect_echo("sqlx", i, Some(v))?;
                    tokio::time::sleep(SLEEP).await;
                    tx.commit().await?;
                    Ok(outcome)
                }
            })
            .await
        }
        (other, _) => Err(BenchError::Setup(format!("unknown contender {other}"))),
    }
}

pub async fn run(settings: &Settings) -> BenchResult<Vec<Workload>> {
    let tasks: i32 = if settings.quick { 2_000 } else { 10_000 };
    let names: Vec<&'static str> = ["keel", "deadpool-postgres", "sqlx"]
        .into_iter()
        .filter(|n| settings.wants(n))
        .collect();
    let mut out = Vec::new();
    for in_tx in [false, true] {
        let acquire = if in_tx {
            TX_ACQUIRE
        } else {
            Duration::from_secs(60)
        };
        let pools = pools(&settings.url, acquire).await?;
        let (name, param) = if in_tx {
            (
                "starvation: connections held in transactions",
                format!("{tasks} tasks, pool of {POOL_SIZE}, acquire timeout 50 ms"),
            )
        } else {
            (
                "starvation: acquire, query, release, sleep",
                format!("{tasks} tasks, pool of {POOL_SIZE}"),
            )
        };
        let mut workload = Workload::new("starvation", name, param, "ms", Better::Lower);
        let mut timeouts: Vec<(&str, Vec<f64>)> = names.iter().map(|n| (*n, Vec::new())).collect();
        // One small storm first, so every pool has its statements prepared.
        for name in &names {
            run_once(&pools, name, 100, in_tx).await?;
        }
        for repeat in 0..settings.repeats {
            for k in 0..names.len() {
                let index = (k + repeat) % names.len();
                let name = names[index];
                let (wall, timed_out) = run_once(&pools, name, tasks, in_tx).await?;
                workload.sample(name, wall.as_secs_f64() * 1e3);
                timeouts[index].1.push(timed_out as f64);
            }
        }
        workload.note = if in_tx {
            let counts: Vec<String> = timeouts
                .iter()
                .map(|(name, t)| {
                    let t = median(t).unwrap_or(f64::NAN);
                    format!(
                        "{name} {:.0} committed / {t:.0} PoolTimeout",
                        f64::from(tasks) - t
                    )
                })
                .collect();
            format!(
                "wall time for all tasks; each begins a transaction (acquire timeout 50 ms), runs {ECHO_SQL}, sleeps 100 ms inside it, commits. Median counts: {}",
                counts.join("; ")
            )
        } else {
            format!(
                "wall time for all tasks; each acquires a connection, runs {ECHO_SQL}, releases it, then sleeps 100 ms without one ({tasks} x 100 ms serialised on {POOL_SIZE} connections would be {} s)",
                i64::from(tasks) / 10 / i64::try_from(POOL_SIZE).unwrap_or(1)
            )
        };
        out.push(workload.finish());
    }
    Ok(out)
}
