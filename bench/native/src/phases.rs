//! Where the time goes: keel's trivial query split into the phases a
//! `find().all()` runs (compile, prepare + execute + copy the raw cells,
//! decode to `Value`s, map to structs), next to hand-written tokio-postgres
//! (execute, map). Printed, not written to the results file: it explains
//! the diesel numbers rather than being one.

use std::time::{Duration, Instant};

use keel_native::orm::{FromRow, Row};
use keel_native::query::typed::Model;
use keel_native::{Db, Driver, NativeDriver, Query, Rows, Schema};

use crate::error::BenchResult;
use crate::models::User;
use crate::Settings;

const SQL: &str = "SELECT id, name, hair_color FROM users";

#[derive(Default)]
struct Phases {
    compile: Duration,
    prepare: Duration,
    execute: Duration,
    decode: Duration,
    map: Duration,
}

fn per_op(total: Duration, ops: u32) -> f64 {
    total.as_secs_f64() * 1e6 / f64::from(ops)
}

pub async fn run(
    settings: &Settings,
    setup: &tokio_postgres::Client,
    schema: &Schema,
) -> BenchResult<()> {
    let db = Db::new(NativeDriver::connect(&settings.url).await?, schema.clone());
    let client = crate::tokio_postgres_client(&settings.url).await?;
    let statement = client.prepare(SQL).await?;
    let ops: u32 = if settings.quick { 50 } else { 300 };
    eprintln!(
        "phases of the trivial query, µs per query (mean of {ops} runs after {ops} warm-up runs)"
    );
    eprintln!("{:>7} | keel: compile  prepare  exec+copy  decode  map  total | tokio-postgres: prepare* exec  map  total", "N");
    for n in [1usize, 100, 10_000] {
        setup
            .batch_execute(&format!(
                "TRUNCATE users, posts, comments RESTART IDENTITY; \
                 INSERT INTO users (name, hair_color) SELECT 'User ' || (i - 1), NULL FROM generate_series(1, {n}) AS i"
            ))
            .await?;
        // What `db.find::<User>()` builds.
        let query: Query = User::select().into();
        let mut keel = Phases::default();
        let mut peer = Phases::default();
        for round in 0..2 {
            let timed = round == 1;
            for _ in 0..ops {
                let t0 = Instant::now();
                let compiled = db.compile(&query)?;
                let t1 = Instant::now();
                // What the driver does before executing, on its own: one
                // Parse/Describe round trip (keel-native prepares per call).
                client.prepare(&compiled.sql).await?;
                let t2 = Instant::now();
                let raw = db.driver().query(&compiled).await?;
                let t3 = Instant::now();
                let rows = Rows::decode(&compiled.columns, &raw)?;
                let t4 = Instant::now();
                let users = rows
                    .rows
                    .iter()
                    .map(|values| {
                        User::from_row(&Row {
                            columns: &rows.columns,
                            values,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|source| keel_native::orm::OrmError::Row {
                        model: "users",
                        source,
                    })?;
                let t5 = Instant::now();
                std::hint::black_box(users);

                let p0 = Instant::now();
                let found = client.query(&statement, &[]).await?;
                let p1 = Instant::now();
                let users = found
                    .iter()
                    .map(|row| {
                        Ok(User {
                            id: row.try_get(0)?,
                            name: row.try_get(1)?,
                            hair_color: row.try_get(2)?,
                        })
                    })
                    .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
                let p2 = Instant::now();
                std::hint::black_box(users);
                if timed {
                    keel.compile += t1 - t0;
                    keel.prepare += t2 - t1;
                    keel.execute += t3 - t2;
                    keel.decode += t4 - t3;
                    keel.map += t5 - t4;
                    peer.execute += p1 - p0;
                    peer.map += p2 - p1;
                }
            }
        }
        let peer_prepare = {
            let t = Instant::now();
            for _ in 0..ops {
                client.prepare(SQL).await?;
            }
            t.elapsed()
        };
        let keel_total = keel.compile + keel.execute + keel.decode + keel.map;
        eprintln!(
            "{n:>7} | {:>13.1} {:>8.1} {:>10.1} {:>7.1} {:>4.1} {:>6.1} | {:>24.1} {:>4.1} {:>4.1} {:>6.1}",
            per_op(keel.compile, ops),
            per_op(keel.prepare, ops),
            per_op(keel.execute, ops),
            per_op(keel.decode, ops),
            per_op(keel.map, ops),
            per_op(keel_total, ops),
            per_op(peer_prepare, ops),
            per_op(peer.execute, ops),
            per_op(peer.map, ops),
            per_op(peer.execute + peer.map, ops),
        );
    }
    eprintln!("keel's exec+copy includes its own prepare; the prepare column is the same round trip timed alone, for scale. tokio-postgres's prepare* runs once per connection, not per query.");
    Ok(())
}
