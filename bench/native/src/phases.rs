//! Where the time goes: keel's trivial query split into the phases
//! `db.find::<User>().all()` runs (compile the query, run the cached
//! statement and copy the raw cells, decode the cells into structs), next to
//! hand-written tokio-postgres (execute, map); then the associations load
//! split into fetching the plan, decoding the root models, and assembling
//! the tree. Printed, not written to the results file: it explains the
//! diesel numbers rather than being one.

use std::time::{Duration, Instant};

use keel_native::orm::{FromRow, OrmError};
use keel_native::query::typed::Model;
use keel_native::types::column_types;
use keel_native::{Db, NativeDriver, Query, Schema};

use keel_native::query::select::Include;

use crate::error::BenchResult;
use crate::models::{Comment, Post, User};
use crate::orm::{keel_tree, nest, prepare_data, Op};
use crate::Settings;

const SQL: &str = "SELECT id, name, hair_color FROM users";

#[derive(Default)]
struct Phases {
    compile: Duration,
    execute: Duration,
    decode: Duration,
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
    let ops: u32 = if settings.quick { 50 } else { 500 };
    eprintln!("trivial query by phase, µs per query (mean of {ops} runs after {ops} warm-up runs, the two interleaved)");
    eprintln!(
        "{:>6} | keel: compile exec+copy decode+map  total | tokio-postgres: exec  map  total",
        "N"
    );
    for n in [1usize, 100, 1_000, 10_000] {
        setup
            .batch_execute(&format!(
                "TRUNCATE users, posts, comments RESTART IDENTITY; \
                 INSERT INTO users (name, hair_color) \
                 SELECT 'User ' || (i - 1), NULL FROM generate_series(1, {n}) AS i"
            ))
            .await?;
        // What `db.find::<User>()` builds.
        let query: Query = User::select().into();
        let mut keel = Phases::default();
        let mut peer = Phases::default();
        for timed in [false, true] {
            for _ in 0..ops {
                let t0 = Instant::now();
                let compiled = db.compile(&query)?;
                let t1 = Instant::now();
                let raw = db.fetch_raw(&compiled).await?;
                let t2 = Instant::now();
                let types = column_types(&raw).map_err(keel_native::Error::from)?;
                let users = User::from_raw(&raw, &types).map_err(|source| OrmError::Row {
                    model: User::TABLE,
                    source,
                })?;
                let t3 = Instant::now();
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
                    keel.execute += t2 - t1;
                    keel.decode += t3 - t2;
                    peer.execute += p1 - p0;
                    peer.decode += p2 - p1;
                }
            }
        }
        eprintln!(
            "{n:>6} | {:>13.1} {:>9.1} {:>10.1} {:>6.1} | {:>20.1} {:>4.1} {:>6.1}",
            per_op(keel.compile, ops),
            per_op(keel.execute, ops),
            per_op(keel.decode, ops),
            per_op(keel.compile + keel.execute + keel.decode, ops),
            per_op(peer.execute, ops),
            per_op(peer.decode, ops),
            per_op(peer.execute + peer.decode, ops),
        );
    }
    associations(settings, setup, &db, &client).await
}

/// The associations workload by phase, keel next to tokio-postgres.
async fn associations(
    settings: &Settings,
    setup: &tokio_postgres::Client,
    db: &Db<NativeDriver>,
    client: &tokio_postgres::Client,
) -> BenchResult<()> {
    prepare_data(setup, Op::Associations, 100).await?;
    let ops: u32 = if settings.quick { 20 } else { 200 };
    let find = || {
        db.find::<User>()
            .with(Include::relation("posts").with(Include::relation("comments")))
    };
    let users_sql = client.prepare(SQL).await?;
    let posts_sql = client
        .prepare("SELECT id, user_id, title, body FROM posts WHERE user_id = ANY($1)")
        .await?;
    let comments_sql = client
        .prepare("SELECT id, post_id, text FROM comments WHERE post_id = ANY($1)")
        .await?;
    let (mut plan, mut loaded, mut tree) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut fetch, mut group) = (Duration::ZERO, Duration::ZERO);
    for timed in [false, true] {
        for _ in 0..ops {
            let query: Query = find().into_select().into();
            let t0 = Instant::now();
            let rows = db.fetch_plan(&query).await?;
            let t1 = Instant::now();
            std::hint::black_box(rows);
            let all = find().all_loaded().await?;
            let t2 = Instant::now();
            let built = keel_tree(all)?;
            let t3 = Instant::now();
            std::hint::black_box(built);

            let p0 = Instant::now();
            let users = client
                .query(&users_sql, &[])
                .await?
                .iter()
                .map(|r| {
                    Ok(User {
                        id: r.try_get(0)?,
                        name: r.try_get(1)?,
                        hair_color: r.try_get(2)?,
                    })
                })
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
            let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
            let posts = client
                .query(&posts_sql, &[&ids])
                .await?
                .iter()
                .map(|r| {
                    Ok(Post {
                        id: r.try_get(0)?,
                        user_id: r.try_get(1)?,
                        title: r.try_get(2)?,
                        body: r.try_get(3)?,
                    })
                })
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
            let ids: Vec<i32> = posts.iter().map(|p| p.id).collect();
            let comments = client
                .query(&comments_sql, &[&ids])
                .await?
                .iter()
                .map(|r| {
                    Ok(Comment {
                        id: r.try_get(0)?,
                        post_id: r.try_get(1)?,
                        text: r.try_get(2)?,
                    })
                })
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
            let p1 = Instant::now();
            let built = nest(users, posts, comments);
            let p2 = Instant::now();
            std::hint::black_box(built);
            if timed {
                plan += t1 - t0;
                // all_loaded fetches the same plan again, then decodes the root.
                loaded += (t2 - t1).saturating_sub(t1 - t0);
                tree += t3 - t2;
                fetch += p1 - p0;
                group += p2 - p1;
            }
        }
    }
    eprintln!("loading associations (100 x 10 x 10) by phase, µs per load (mean of {ops})");
    eprintln!(
        "keel: fetch_plan (3 statements, rows decoded to Values) {:.1}, root models (all_loaded - fetch_plan) {:.1}, Loaded::children tree {:.1}, total {:.1}",
        per_op(plan, ops),
        per_op(loaded, ops),
        per_op(tree, ops),
        per_op(plan + loaded + tree, ops)
    );
    eprintln!(
        "tokio-postgres: 3 statements + map to structs {:.1}, grouping {:.1}, total {:.1}",
        per_op(fetch, ops),
        per_op(group, ops),
        per_op(fetch + group, ops)
    );
    Ok(())
}
