//! The pool and transactions against the throwaway PostgreSQL.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::{int_column, observer, pool, quiesce, sessions, settings, stmt};
use keel_native::{
    Db, IsolationLevel, NativeError, Pool, PoolSettings, Query, Schema, TransactionOptions, Value,
};
use keel_testkit::database_url;

const MUSIC_SCHEMA: &str = include_str!("../../examples/music/schema.json");
const DEMO_QUERY: &str = include_str!("../../examples/music/queries/tracks_of_album.json");

async fn scratch_table(pool: &Pool, table: &str) {
    pool.execute(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY, note text)"
    ))
    .await
    .unwrap();
}

fn insert(table: &str, id: i32) -> keel_native::compile::Statement {
    stmt(
        &format!("INSERT INTO {table} (id, note) VALUES ($1, 'x')"),
        vec![Value::Int4(id)],
        &[],
    )
}

async fn ids(pool: &Pool, table: &str) -> Vec<i64> {
    int_column(
        pool,
        &format!("SELECT id::int8 AS v FROM {table} ORDER BY id"),
    )
    .await
}

#[tokio::test]
async fn db_on_a_pool_releases_the_connection_after_each_statement() {
    let Some(url) = database_url() else { return };
    let pool = pool(
        &url,
        "keel_pool_db",
        PoolSettings {
            min_idle: 2,
            ..settings(4)
        },
    )
    .await;
    let status = pool.status();
    assert_eq!((status.max_size, status.size, status.available), (4, 2, 2));

    let db = Db::new(pool.clone(), Schema::from_json(MUSIC_SCHEMA).unwrap());
    let query = Query::from_json(DEMO_QUERY).unwrap();
    let (a, b, c) = tokio::join!(db.fetch(&query), db.fetch(&query), db.fetch(&query));
    for rows in [a, b, c] {
        let ids: Vec<Value> = rows
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        assert_eq!(ids, [1, 2, 3, 4, 5].map(Value::Int4));
    }
    let status = pool.status();
    assert_eq!(status.available, status.size, "{status:?}");
    assert_eq!(status.waiting, 0);
    assert!(status.size >= 2 && status.size <= 4, "{status:?}");
}

#[tokio::test]
async fn acquire_timeout_is_a_typed_pool_timeout() {
    let Some(url) = database_url() else { return };
    let pool = pool(
        &url,
        "keel_pool_timeout",
        PoolSettings {
            acquire_timeout: Some(Duration::from_millis(50)),
            ..settings(1)
        },
    )
    .await;
    let held = pool.get().await.unwrap();
    let started = Instant::now();
    let error = pool.get().await.unwrap_err();
    let waited = started.elapsed();
    assert!(error.is_pool_timeout(), "{error:?}");
    assert!(
        matches!(error, NativeError::PoolTimeout { max_size: 1, waited } if waited == Duration::from_millis(50))
    );
    assert!(
        waited >= Duration::from_millis(45) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    // Through the core's Db the timeout stays typed as well.
    let db = Db::new(pool.clone(), Schema::from_json(MUSIC_SCHEMA).unwrap());
    let through_db = db
        .fetch_statement(&stmt("SELECT 1 AS one", vec![], &["one"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            through_db,
            keel_native::Error::PoolTimeout { max_size: 1, .. }
        ),
        "{through_db:?}"
    );
    drop(held);
    assert!(pool.get().await.is_ok());
}

#[tokio::test]
async fn invalid_settings_are_refused() {
    let Some(url) = database_url() else { return };
    let error = Pool::connect(
        &url,
        PoolSettings {
            min_idle: 3,
            ..settings(2)
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, NativeError::Config(ref m) if m.contains("min_idle")),
        "{error}"
    );
}

#[tokio::test]
async fn a_killed_connection_is_replaced_and_a_failed_one_checked() {
    let Some(url) = database_url() else { return };
    let pool = pool(&url, "keel_pool_killed", settings(1)).await;
    let mut conn = pool.get().await.unwrap();
    let first = conn.backend_pid().await.unwrap();
    // A server error leaves the connection usable: after the check it is
    // handed out again.
    let error = conn
        .query(&stmt("SELECT 1/0", vec![], &["?column?"]))
        .await
        .unwrap_err();
    assert_eq!(error.sqlstate(), Some("22012"));
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    assert_eq!(conn.backend_pid().await.unwrap(), first);

    let kill = stmt(
        "SELECT pg_terminate_backend($1)",
        vec![Value::Int4(first)],
        &["pg_terminate_backend"],
    );
    // The single pooled connection is checked out, so kill from outside.
    let observer = observer(&url).await;
    keel_native::Driver::query(&observer, &kill).await.unwrap();
    let error = conn.backend_pid().await.unwrap_err();
    assert!(
        matches!(
            error,
            NativeError::Db(keel_native::Error::Closed(_) | keel_native::Error::Server(_))
        ),
        "{error:?}"
    );
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    assert_ne!(conn.backend_pid().await.unwrap(), first);
}

#[tokio::test]
async fn max_lifetime_and_idle_timeout_retire_connections() {
    let Some(url) = database_url() else { return };
    for (name, settings) in [
        (
            "keel_pool_lifetime",
            PoolSettings {
                max_lifetime: Some(Duration::ZERO),
                ..settings(1)
            },
        ),
        (
            "keel_pool_idle",
            PoolSettings {
                idle_timeout: Some(Duration::ZERO),
                ..settings(1)
            },
        ),
    ] {
        let pool = pool(&url, name, settings).await;
        let a = pool.get().await.unwrap().backend_pid().await.unwrap();
        let b = pool.get().await.unwrap().backend_pid().await.unwrap();
        assert_ne!(a, b, "{name}: an expired connection was handed out again");
    }
    // With the defaults the same connection is reused.
    let pool = pool(&url, "keel_pool_reuse", settings(1)).await;
    let a = pool.get().await.unwrap().backend_pid().await.unwrap();
    let b = pool.get().await.unwrap().backend_pid().await.unwrap();
    assert_eq!(a, b);
}

#[tokio::test]
async fn guard_commits_or_rolls_back_when_dropped() {
    let Some(url) = database_url() else { return };
    let app = "keel_tx_guard";
    let pool = pool(&url, app, settings(2)).await;
    scratch_table(&pool, "keel_tx_guard").await;

    let mut tx = pool.begin().await.unwrap();
    tx.query(&insert("keel_tx_guard", 1)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    tx.query(&insert("keel_tx_guard", 2)).await.unwrap();
    drop(tx);

    let mut tx = pool.begin().await.unwrap();
    tx.query(&insert("keel_tx_guard", 3)).await.unwrap();
    tx.rollback().await.unwrap();

    assert_eq!(ids(&pool, "keel_tx_guard").await, [1]);
    quiesce(&pool).await;
    let observer = observer(&url).await;
    for (pid, state) in sessions(&observer, app).await {
        assert_eq!(state, "idle", "session {pid}");
    }
}

#[tokio::test]
async fn closure_commits_on_ok_and_rolls_back_on_err_and_panic() {
    let Some(url) = database_url() else { return };
    let pool = pool(&url, "keel_tx_closure", settings(2)).await;
    scratch_table(&pool, "keel_tx_closure").await;

    let value = pool
        .transaction(TransactionOptions::default(), |tx| {
            Box::pin(async move {
                tx.query(&insert("keel_tx_closure", 1)).await?;
                Ok::<_, NativeError>(42)
            })
        })
        .await
        .unwrap();
    assert_eq!(value, 42);

    let error = pool
        .transaction(TransactionOptions::default(), |tx| {
            Box::pin(async move {
                tx.query(&insert("keel_tx_closure", 2)).await?;
                // Duplicate key: the body fails, the whole transaction goes.
                tx.query(&insert("keel_tx_closure", 1)).await?;
                Ok::<_, NativeError>(())
            })
        })
        .await
        .unwrap_err();
    assert_eq!(error.sqlstate(), Some("23505"));

    let panicking = pool.clone();
    let joined = tokio::spawn(async move {
        panicking
            .transaction(TransactionOptions::default(), |tx| {
                Box::pin(async move {
                    tx.query(&insert("keel_tx_closure", 3)).await?;
                    if tx.depth() == 0 {
                        panic!("deliberate panic inside a transaction");
                    }
                    Ok::<_, NativeError>(())
                })
            })
            .await
    })
    .await;
    assert!(joined.unwrap_err().is_panic());

    assert_eq!(ids(&pool, "keel_tx_closure").await, [1]);
}

#[tokio::test]
async fn savepoints_nest_and_roll_back_independently() {
    let Some(url) = database_url() else { return };
    let pool = pool(&url, "keel_tx_savepoint", settings(2)).await;
    scratch_table(&pool, "keel_tx_savepoint").await;
    let t = "keel_tx_savepoint";

    let mut tx = pool.begin().await.unwrap();
    tx.query(&insert(t, 1)).await.unwrap();
    {
        let mut sp = tx.savepoint().await.unwrap();
        assert_eq!(sp.depth(), 1);
        sp.query(&insert(t, 2)).await.unwrap();
        {
            let mut inner = sp.savepoint().await.unwrap();
            inner.query(&insert(t, 3)).await.unwrap();
            inner.rollback().await.unwrap();
        }
        sp.commit().await.unwrap();
    }
    {
        // Dropped without commit: rolled back to before the next statement.
        let mut sp = tx.savepoint().await.unwrap();
        sp.query(&insert(t, 4)).await.unwrap();
    }
    // A failing statement inside a savepoint does not doom the outer
    // transaction once the savepoint is rolled back.
    let error = tx
        .nested(|sp| {
            Box::pin(async move {
                sp.query(&insert(t, 5)).await?;
                sp.query(&insert(t, 1)).await?;
                Ok::<_, NativeError>(())
            })
        })
        .await
        .unwrap_err();
    assert_eq!(error.sqlstate(), Some("23505"));
    tx.nested(|sp| {
        Box::pin(async move {
            sp.query(&insert(t, 6)).await?;
            Ok::<_, NativeError>(())
        })
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&pool, t).await, [1, 2, 6]);
}

#[tokio::test]
async fn a_failed_statement_makes_commit_an_error() {
    let Some(url) = database_url() else { return };
    let pool = pool(&url, "keel_tx_aborted", settings(1)).await;
    scratch_table(&pool, "keel_tx_aborted").await;
    let mut tx = pool.begin().await.unwrap();
    tx.query(&insert("keel_tx_aborted", 1)).await.unwrap();
    assert!(tx.query(&insert("keel_tx_aborted", 1)).await.is_err());
    let error = tx.commit().await.unwrap_err();
    assert!(
        matches!(error, NativeError::TransactionAborted),
        "{error:?}"
    );
    assert_eq!(ids(&pool, "keel_tx_aborted").await, Vec::<i64>::new());
}

#[tokio::test]
async fn isolation_read_only_and_deferrable_reach_the_server() {
    let Some(url) = database_url() else { return };
    let pool = pool(&url, "keel_tx_options", settings(1)).await;
    let options = TransactionOptions {
        isolation: Some(IsolationLevel::Serializable),
        read_only: true,
        deferrable: true,
    };
    let mut tx = pool.begin_with(options).await.unwrap();
    let show = |name: &str| stmt(&format!("SHOW {name}"), vec![], &[name]);
    for (setting, expected) in [
        ("transaction_isolation", "serializable"),
        ("transaction_read_only", "on"),
        ("transaction_deferrable", "on"),
    ] {
        let rows = tx.fetch_statement(&show(setting)).await.unwrap();
        assert_eq!(rows.rows[0][0], Value::Text(expected.into()), "{setting}");
    }
    let error = tx
        .query(&stmt("CREATE TEMP TABLE keel_ro (id int)", vec![], &[]))
        .await
        .unwrap_err();
    assert_eq!(error.sqlstate(), Some("25006"));
    drop(tx);

    let mut tx = pool
        .begin_with(TransactionOptions {
            isolation: Some(IsolationLevel::RepeatableRead),
            ..TransactionOptions::default()
        })
        .await
        .unwrap();
    let rows = tx
        .fetch_statement(&show("transaction_isolation"))
        .await
        .unwrap();
    assert_eq!(rows.rows[0][0], Value::Text("repeatable read".into()));
    let rows = tx
        .fetch_statement(&show("transaction_read_only"))
        .await
        .unwrap();
    assert_eq!(rows.rows[0][0], Value::Text("off".into()));
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_core_db_api_runs_inside_a_transaction() {
    let Some(url) = database_url() else { return };
    let pool = pool(&url, "keel_tx_db", settings(1)).await;
    let schema = std::sync::Arc::new(Schema::from_json(MUSIC_SCHEMA).unwrap());
    let query = Query::from_json(DEMO_QUERY).unwrap();
    let mut tx = pool.begin().await.unwrap();
    {
        let db = tx.db(schema.clone());
        let (a, b) = tokio::join!(db.fetch(&query), db.fetch(&query));
        assert_eq!(a.unwrap(), b.unwrap());
    }
    let rows = tx.fetch(&schema, &query).await.unwrap();
    assert_eq!(rows.rows.len(), 5);
    tx.commit().await.unwrap();
}

/// Polls the inner future at most `polls` times, then drops it: a
/// cancellation at a chosen await point, without timing.
struct CancelAfter<F> {
    future: Option<Pin<Box<F>>>,
    polls: usize,
}

impl<F: Future> Future for CancelAfter<F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.polls == 0 {
            self.future = None;
            return Poll::Ready(None);
        }
        self.polls -= 1;
        let Some(future) = self.future.as_mut() else {
            return Poll::Ready(None);
        };
        match future.as_mut().poll(cx) {
            Poll::Ready(value) => Poll::Ready(Some(value)),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[tokio::test]
async fn cancelling_at_every_await_point_never_leaks_a_dirty_connection() {
    let Some(url) = database_url() else { return };
    let app = "keel_tx_cancel";
    let pool = pool(&url, app, settings(1)).await;
    let t = "keel_tx_cancel";
    scratch_table(&pool, t).await;
    let observer = observer(&url).await;
    let mut committed = Vec::new();
    let mut polls = 1;
    loop {
        let id = i32::try_from(polls).unwrap();
        let p = pool.clone();
        let work = async move {
            let mut tx = p.begin().await?;
            tx.query(&insert(t, id)).await?;
            {
                let mut sp = tx.savepoint().await?;
                sp.query(&insert(t, id + 10_000)).await?;
                sp.commit().await?;
            }
            tx.query(&insert(t, id + 20_000)).await?;
            tx.commit().await?;
            Ok::<_, NativeError>(())
        };
        let outcome = CancelAfter {
            future: Some(Box::pin(work)),
            polls,
        }
        .await;
        quiesce(&pool).await;
        for (pid, state) in sessions(&observer, app).await {
            assert_eq!(state, "idle", "after {polls} polls, session {pid}");
        }
        let found = ids(&pool, t).await;
        match outcome {
            Some(result) => {
                result.unwrap();
                committed.extend([id, id + 10_000, id + 20_000].map(i64::from));
                committed.sort_unstable();
                assert_eq!(found, committed);
                break;
            }
            // Cancelled: nothing of it may be visible, except when the
            // cancellation hit COMMIT after it was sent.
            None if found.len() == committed.len() + 3 => {
                committed.extend([id, id + 10_000, id + 20_000].map(i64::from));
                committed.sort_unstable();
                assert_eq!(found, committed);
            }
            None => assert_eq!(found, committed, "after {polls} polls"),
        }
        polls += 1;
        assert!(polls < 200, "the transaction never completed");
    }
    assert!(polls > 5, "only {polls} await points were exercised");
}

#[tokio::test]
async fn a_client_deadline_cancels_the_statement_and_retires_the_connection() {
    let Some(url) = database_url() else { return };
    let app = "keel_deadline";
    let pool = pool(
        &url,
        app,
        PoolSettings {
            statement_timeout: Some(Duration::from_millis(100)),
            ..settings(1)
        },
    )
    .await;
    let mut conn = pool.get().await.unwrap();
    let pid = conn.backend_pid().await.unwrap();
    let started = Instant::now();
    let error = conn
        .query(&stmt("SELECT pg_sleep(30)", vec![], &["pg_sleep"]))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&error, NativeError::StatementTimeout { timeout, sql }
            if *timeout == Duration::from_millis(100) && sql.contains("pg_sleep")),
        "{error:?}"
    );
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    assert_ne!(
        conn.backend_pid().await.unwrap(),
        pid,
        "a retired connection came back"
    );
    drop(conn);
    // The cancel reached the server: the old backend is not still sleeping.
    let observer = observer(&url).await;
    let statement = stmt(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
        vec![Value::Int4(pid)],
        &["count"],
    );
    let raw = keel_native::Driver::query(&observer, &statement)
        .await
        .unwrap();
    let rows = keel_native::Rows::decode(&statement.columns, &raw).unwrap();
    assert_eq!(rows.rows[0][0], Value::Int8(0));
}

#[tokio::test]
async fn the_server_statement_timeout_keeps_the_connection() {
    let Some(url) = database_url() else { return };
    let pool = pool(
        &url,
        "keel_server_timeout",
        PoolSettings {
            server_statement_timeout: Some(Duration::from_millis(100)),
            ..settings(1)
        },
    )
    .await;
    let mut conn = pool.get().await.unwrap();
    let pid = conn.backend_pid().await.unwrap();
    let error = conn
        .query(&stmt("SELECT pg_sleep(30)", vec![], &["pg_sleep"]))
        .await
        .unwrap_err();
    assert_eq!(error.sqlstate(), Some("57014"), "{error:?}");
    drop(conn);
    assert_eq!(pool.get().await.unwrap().backend_pid().await.unwrap(), pid);
}
