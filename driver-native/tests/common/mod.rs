//! Helpers shared by the pool test binaries.
#![allow(dead_code)]

use std::time::Duration;

use keel_native::compile::Statement;
use keel_native::types::PgType;
use keel_native::{NativeDriver, Pool, PoolSettings, Value};

/// A statement with bound parameters (types taken from the values).
pub fn stmt(sql: &str, params: Vec<Value>, columns: &[&str]) -> Statement {
    let param_types = params
        .iter()
        .map(|v| v.pg_type().unwrap_or(PgType::Text))
        .collect();
    Statement {
        sql: sql.to_owned(),
        params,
        param_types,
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
    }
}

/// `url` with an `application_name`, so a test can find its own sessions in
/// `pg_stat_activity` while other tests run.
pub fn tagged(url: &str, app: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={app}")
}

pub async fn pool(url: &str, app: &str, settings: PoolSettings) -> Pool {
    Pool::connect(&tagged(url, app), settings).await.unwrap()
}

pub fn settings(max_size: usize) -> PoolSettings {
    PoolSettings {
        max_size,
        acquire_timeout: Some(Duration::from_secs(20)),
        ..PoolSettings::default()
    }
}

/// A single connection outside the pool under test, for inspecting it.
pub async fn observer(url: &str) -> NativeDriver {
    NativeDriver::connect(url).await.unwrap()
}

/// Sessions of `app` by state, from a connection outside the pool.
pub async fn sessions(observer: &NativeDriver, app: &str) -> Vec<(i32, String)> {
    use keel_native::Driver;
    let statement = stmt(
        "SELECT pid, coalesce(state, '') FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
        vec![Value::Text(app.to_owned())],
        &["pid", "coalesce"],
    );
    let raw = observer.query(&statement).await.unwrap();
    let rows = keel_native::Rows::decode(&statement.columns, &raw).unwrap();
    rows.rows
        .into_iter()
        .map(|r| match (&r[0], &r[1]) {
            (Value::Int4(pid), Value::Text(state)) => (*pid, state.clone()),
            other => panic!("unexpected pg_stat_activity row {other:?}"),
        })
        .collect()
}

/// Waits until every connection of `pool` is back and idle, by holding all
/// of them at once: a connection still being cleaned is checked out, so
/// this returns only after every cleanup finished.
pub async fn quiesce(pool: &Pool) {
    let mut held = Vec::new();
    for _ in 0..pool.status().max_size {
        held.push(pool.get().await.unwrap());
    }
}

pub async fn int_column(pool: &Pool, sql: &str) -> Vec<i64> {
    let statement = stmt(sql, vec![], &["v"]);
    let rows = pool.fetch_statement(&statement).await.unwrap();
    rows.rows
        .into_iter()
        .map(|r| match r[0] {
            Value::Int8(v) => v,
            Value::Int4(v) => i64::from(v),
            ref other => panic!("expected an integer, got {other:?}"),
        })
        .collect()
}
