//! Bulk load of a million rows: keel's binary COPY and `insert_many`
//! against tokio-postgres's binary COPY and hand-built multi-row INSERTs.

use std::time::Instant;

use futures_util::pin_mut;
use keel_native::orm::MAX_PARAMS;
use keel_native::{Db, Pool, PoolSettings, Schema, Value};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::error::{BenchError, BenchResult};
use crate::models::NewBulkUser;
use crate::report::{Better, Workload};
use crate::Settings;

const HAIR: &str = "hair_color";

fn name(i: usize) -> String {
    format!("User {i}")
}

async fn keel_copy(pool: &Pool, rows: usize) -> BenchResult<()> {
    let mut conn = pool.get().await?;
    let values = (0..rows).map(|i| vec![Value::Text(name(i)), Value::Text(HAIR.to_owned())]);
    conn.copy_in("bulk_users", &["name", "hair_color"], values, |_| {})
        .await?;
    Ok(())
}

async fn keel_insert_many(db: &Db<Pool>, rows: usize) -> BenchResult<()> {
    let models: Vec<NewBulkUser> = (0..rows)
        .map(|i| NewBulkUser {
            id: None,
            name: name(i),
            hair_color: Some(HAIR.to_owned()),
        })
        .collect();
    let keys = db.insert_many(&models).await?;
    std::hint::black_box(keys);
    Ok(())
}

async fn tokio_postgres_copy(client: &tokio_postgres::Client, rows: usize) -> BenchResult<()> {
    let sink = client
        .copy_in("COPY bulk_users (name, hair_color) FROM STDIN (FORMAT binary)")
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &[Type::VARCHAR, Type::VARCHAR]);
    pin_mut!(writer);
    let hair = HAIR.to_owned();
    for i in 0..rows {
        let name = name(i);
        writer.as_mut().write(&[&name, &hair]).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// Multi-row INSERTs of as many rows as the 65,535 bind parameters allow,
/// the full-size statement prepared once.
async fn tokio_postgres_insert(client: &tokio_postgres::Client, rows: usize) -> BenchResult<()> {
    let per_statement = MAX_PARAMS / 2;
    let names: Vec<String> = (0..rows).map(name).collect();
    let hair = HAIR.to_owned();
    let full = client
        .prepare(&crate::orm::insert_sql("bulk_users", per_statement))
        .await?;
    for chunk in names.chunks(per_statement) {
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(chunk.len() * 2);
        for name in chunk {
            params.push(name);
            params.push(&hair);
        }
        if chunk.len() == per_statement {
            client.execute(&full, &params).await?;
        } else {
            let last = client
                .prepare(&crate::orm::insert_sql("bulk_users", chunk.len()))
                .await?;
            client.execute(&last, &params).await?;
        }
    }
    Ok(())
}

pub async fn run(
    settings: &Settings,
    setup: &tokio_postgres::Client,
    schema: &Schema,
) -> BenchResult<Workload> {
    let rows: usize = if settings.quick { 50_000 } else { 1_000_000 };
    let repeats = settings.repeats.min(3);
    let pool = Pool::connect(
        &settings.url,
        PoolSettings {
            max_size: 1,
            min_idle: 1,
            ..PoolSettings::default()
        },
    )
    .await?;
    let db = Db::new(pool.clone(), schema.clone());
    let client = crate::tokio_postgres_client(&settings.url).await?;

    let mut workload = Workload::new(
        "bulk",
        "bulk insert",
        format!("{rows} rows"),
        "s",
        Better::Lower,
    );
    workload.note = format!(
        "{rows} rows (name, hair_color) into an empty bulk_users (serial key, no other index), one connection, rows generated inside the timing; keel (insert_many) also returns the {rows} keys; {repeats} repeats, truncated between runs"
    );
    let names = [
        "keel (COPY)",
        "keel (insert_many)",
        "tokio-postgres (binary COPY)",
        "tokio-postgres (multi-row INSERT)",
    ];
    let wanted: Vec<&str> = names.into_iter().filter(|n| settings.wants(n)).collect();
    for repeat in 0..repeats {
        for k in 0..wanted.len() {
            let name = wanted[(k + repeat) % wanted.len()];
            setup
                .batch_execute("TRUNCATE bulk_users RESTART IDENTITY; CHECKPOINT")
                .await?;
            let started = Instant::now();
            match name {
                "keel (COPY)" => keel_copy(&pool, rows).await?,
                "keel (insert_many)" => keel_insert_many(&db, rows).await?,
                "tokio-postgres (binary COPY)" => tokio_postgres_copy(&client, rows).await?,
                _ => tokio_postgres_insert(&client, rows).await?,
            }
            let seconds = started.elapsed().as_secs_f64();
            let stored: i64 = setup
                .query_one("SELECT count(*)::int8 FROM bulk_users", &[])
                .await?
                .try_get(0)?;
            if usize::try_from(stored).ok() != Some(rows) {
                return Err(BenchError::Mismatch {
                    workload: "bulk insert".into(),
                    contender: name,
                    got: format!("{stored} rows"),
                    reference_name: "the workload",
                    expected: format!("{rows} rows"),
                });
            }
            workload.sample(name, seconds);
        }
    }
    setup
        .batch_execute("TRUNCATE bulk_users RESTART IDENTITY")
        .await?;
    Ok(workload.finish())
}
