//! The diesel benchmark workloads: one connection per contender, the same
//! tables, the same rows, each library used the way its users write it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel::{BelongingToDsl, ExpressionMethods, GroupedBy, QueryDsl};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use keel_native::orm::{FromRow, Loaded, OrmError};
use keel_native::query::expr::Expr;
use keel_native::query::select::{Include, JoinKind};
use keel_native::query::typed::Model;
use keel_native::types::column_types;
use keel_native::{Db, NativeDriver, Query, Schema};
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectOptions, Database, DatabaseConnection, EntityTrait,
    LoaderTrait, QueryFilter,
};
use sqlx::{Connection, PgConnection, Postgres, QueryBuilder};
use tokio_postgres::types::ToSql;

use crate::checksum::Checksum;
use crate::error::{BenchError, BenchResult};
use crate::models::{self, sea, Comment, NewUser, Post, User, UserPostRow};
use crate::report::{median, Better, Target, Workload};
use crate::Settings;

pub type Tree = Vec<(User, Vec<(Post, Vec<Comment>)>)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Trivial,
    Medium,
    Insert(usize),
    Associations,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::Trivial => "trivial query",
            Op::Medium => "medium complex query",
            Op::Insert(_) => "insert",
            Op::Associations => "loading associations",
        }
    }
}

const TRIVIAL_SQL: &str = "SELECT id, name, hair_color FROM users";
const MEDIUM_SQL: &str = "SELECT u.id, u.name, u.hair_color, p.id AS post_id, \
    p.user_id AS post_user_id, p.title AS post_title, p.body AS post_body \
    FROM users u LEFT JOIN posts p ON u.id = p.user_id WHERE u.hair_color = $1";
const POSTS_SQL: &str = "SELECT id, user_id, title, body FROM posts WHERE user_id = ANY($1)";
const COMMENTS_SQL: &str = "SELECT id, post_id, text FROM comments WHERE post_id = ANY($1)";

/// tokio-postgres by hand: every statement prepared once per connection.
pub struct HandWritten {
    client: tokio_postgres::Client,
    trivial: tokio_postgres::Statement,
    medium: tokio_postgres::Statement,
    posts: tokio_postgres::Statement,
    comments: tokio_postgres::Statement,
    inserts: HashMap<usize, tokio_postgres::Statement>,
}

pub enum Conn {
    Keel(Db<NativeDriver>),
    TokioPostgres(Box<HandWritten>),
    Sqlx(PgConnection),
    SeaOrm(DatabaseConnection),
    Diesel(Box<AsyncPgConnection>),
}

pub struct Contender {
    pub name: &'static str,
    conn: Conn,
}

pub const CONTENDERS: [&str; 5] = ["keel", "tokio-postgres", "sqlx", "sea-orm", "diesel-async"];

pub async fn connect(name: &'static str, url: &str, schema: &Schema) -> BenchResult<Contender> {
    let conn = match name {
        "keel" => Conn::Keel(Db::new(NativeDriver::connect(url).await?, schema.clone())),
        "tokio-postgres" => {
            let client = crate::tokio_postgres_client(url).await?;
            Conn::TokioPostgres(Box::new(HandWritten {
                trivial: client.prepare(TRIVIAL_SQL).await?,
                medium: client.prepare(MEDIUM_SQL).await?,
                posts: client.prepare(POSTS_SQL).await?,
                comments: client.prepare(COMMENTS_SQL).await?,
                inserts: HashMap::new(),
                client,
            }))
        }
        "sqlx" => Conn::Sqlx(PgConnection::connect(url).await?),
        "sea-orm" => {
            // sea-orm always runs on a pool; one connection makes it a
            // single-connection contender like the others.
            let mut options = ConnectOptions::new(url.to_owned());
            options
                .max_connections(1)
                .min_connections(1)
                .sqlx_logging(false);
            Conn::SeaOrm(Database::connect(options).await?)
        }
        "diesel-async" => Conn::Diesel(Box::new(AsyncPgConnection::establish(url).await?)),
        other => return Err(BenchError::Setup(format!("unknown contender {other}"))),
    };
    Ok(Contender { name, conn })
}

fn users_checksum(users: &[User]) -> Checksum {
    let mut sum = Checksum::default();
    for u in users {
        sum.add(u.id, &[Some(&u.name), u.hair_color.as_deref()]);
    }
    sum
}

fn pairs_checksum(pairs: &[(User, Option<Post>)]) -> Checksum {
    let mut sum = Checksum::default();
    for (u, p) in pairs {
        sum.add(u.id, &[Some(&u.name), u.hair_color.as_deref()]);
        if let Some(p) = p {
            sum.add(p.id, &[Some(&p.title), p.body.as_deref()]);
        }
    }
    sum
}

fn tree_checksum(tree: &Tree) -> Checksum {
    let mut sum = Checksum::default();
    for (u, posts) in tree {
        sum.add(u.id, &[Some(&u.name), u.hair_color.as_deref()]);
        sum.group(u.id, posts.len());
        for (p, comments) in posts {
            sum.add(p.user_id, &[Some(&p.title), p.body.as_deref()]);
            sum.group(p.id, comments.len());
            for c in comments {
                sum.add(c.post_id, &[Some(&c.text)]);
            }
        }
    }
    sum
}

fn sea_user(u: sea::users::Model) -> User {
    User {
        id: u.id,
        name: u.name,
        hair_color: u.hair_color,
    }
}

fn sea_post(p: sea::posts::Model) -> Post {
    Post {
        id: p.id,
        user_id: p.user_id,
        title: p.title,
        body: p.body,
    }
}

fn sea_comment(c: sea::comments::Model) -> Comment {
    Comment {
        id: c.id,
        post_id: c.post_id,
        text: c.text,
    }
}

/// Keeps a result alive until it is fully built, and fingerprints it only
/// when asked, so the timed loop pays for loading and nothing else.
fn finish<T>(value: T, check: bool, fingerprint: impl FnOnce(&T) -> Checksum) -> Checksum {
    let value = std::hint::black_box(value);
    if check {
        fingerprint(&value)
    } else {
        Checksum::default()
    }
}

fn new_users(n: usize) -> Vec<NewUser> {
    (0..n)
        .map(|i| NewUser::numbered(i, Some("hair_color")))
        .collect()
}

impl Contender {
    /// Runs `op` once. With `check`, returns a checksum of the loaded data
    /// (converted to the shared structs where the library has its own).
    pub async fn run(&mut self, op: Op, check: bool) -> BenchResult<Checksum> {
        match &mut self.conn {
            Conn::Keel(db) => keel_op(db, op, check).await,
            Conn::TokioPostgres(hand) => tokio_postgres_op(hand, op, check).await,
            Conn::Sqlx(conn) => sqlx_op(conn, op, check).await,
            Conn::SeaOrm(db) => sea_orm_op(db, op, check).await,
            Conn::Diesel(conn) => diesel_op(conn, op, check).await,
        }
    }
}

/// The medium query in keel's builder: `users` LEFT JOIN its `posts`
/// relation, the post columns renamed so one flat struct holds the row.
fn keel_medium_query() -> Query {
    User::select()
        .join("posts", JoinKind::Left)
        .columns([User::id.name(), User::name.name(), User::hair_color.name()])
        .expr(Expr::column("posts.id"), "post_id")
        .expr(Expr::column("posts.user_id"), "post_user_id")
        .expr(Expr::column("posts.title"), "post_title")
        .expr(Expr::column("posts.body"), "post_body")
        .filter(User::hair_color.via("users").eq("black"))
        .into()
}

async fn keel_op(db: &Db<NativeDriver>, op: Op, check: bool) -> BenchResult<Checksum> {
    Ok(match op {
        Op::Trivial => {
            let users = db.find::<User>().all().await?;
            finish(users, check, |u| users_checksum(u))
        }
        Op::Medium => {
            let statement = db.compile(&keel_medium_query())?;
            let raw = db.fetch_raw(&statement).await?;
            let types = column_types(&raw).map_err(keel_native::Error::from)?;
            let pairs: Vec<_> = UserPostRow::from_raw(&raw, &types)
                .map_err(|source| OrmError::Row {
                    model: User::TABLE,
                    source,
                })?
                .into_iter()
                .map(UserPostRow::split)
                .collect();
            finish(pairs, check, |p| pairs_checksum(p))
        }
        Op::Insert(n) => {
            let keys = db.insert_many(&new_users(n)).await?;
            finish(keys, false, |_| Checksum::default())
        }
        Op::Associations => {
            let loaded = db
                .find::<User>()
                .with(Include::relation("posts").with(Include::relation("comments")))
                .all_loaded()
                .await?;
            let tree = keel_tree(loaded)?;
            finish(tree, check, tree_checksum)
        }
    })
}

/// `Vec<(User, Vec<(Post, Vec<Comment>)>)>` from the eager-loading result,
/// one typed level at a time.
pub fn keel_tree(loaded: Loaded<User>) -> BenchResult<Tree> {
    let posts = loaded.children::<Post>("posts")?;
    let mut tree = Vec::with_capacity(posts.len());
    for (user, posts) in loaded.models.into_iter().zip(posts) {
        let comments = posts.children::<Comment>("comments")?;
        let posts = posts
            .models
            .into_iter()
            .zip(comments.into_iter().map(|c| c.models))
            .collect();
        tree.push((user, posts));
    }
    Ok(tree)
}

fn tp_user(row: &tokio_postgres::Row) -> Result<User, tokio_postgres::Error> {
    Ok(User {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        hair_color: row.try_get(2)?,
    })
}

fn tp_post(row: &tokio_postgres::Row) -> Result<Post, tokio_postgres::Error> {
    Ok(Post {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        title: row.try_get(2)?,
        body: row.try_get(3)?,
    })
}

fn tp_comment(row: &tokio_postgres::Row) -> Result<Comment, tokio_postgres::Error> {
    Ok(Comment {
        id: row.try_get(0)?,
        post_id: row.try_get(1)?,
        text: row.try_get(2)?,
    })
}

pub fn insert_sql(table: &str, n: usize) -> String {
    let mut sql = format!("INSERT INTO {table} (name, hair_color) VALUES ");
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2));
    }
    sql
}

/// Groups `children` under `parents` by key, keeping both orders.
fn group_by_key<P, C>(
    parents: Vec<P>,
    children: Vec<C>,
    parent_key: impl Fn(&P) -> i32,
    child_key: impl Fn(&C) -> i32,
) -> Vec<(P, Vec<C>)> {
    let mut by_key: HashMap<i32, Vec<C>> = HashMap::with_capacity(parents.len());
    for child in children {
        by_key.entry(child_key(&child)).or_default().push(child);
    }
    parents
        .into_iter()
        .map(|p| {
            let of_p = by_key.remove(&parent_key(&p)).unwrap_or_default();
            (p, of_p)
        })
        .collect()
}

async fn tokio_postgres_op(hand: &mut HandWritten, op: Op, check: bool) -> BenchResult<Checksum> {
    Ok(match op {
        Op::Trivial => {
            let rows = hand.client.query(&hand.trivial, &[]).await?;
            let users = rows.iter().map(tp_user).collect::<Result<Vec<_>, _>>()?;
            finish(users, check, |u| users_checksum(u))
        }
        Op::Medium => {
            let rows = hand.client.query(&hand.medium, &[&"black"]).await?;
            let pairs = rows
                .iter()
                .map(|row| {
                    let user = tp_user(row)?;
                    let post = match row.try_get::<_, Option<i32>>(3)? {
                        Some(id) => Some(Post {
                            id,
                            user_id: row.try_get(4)?,
                            title: row.try_get(5)?,
                            body: row.try_get(6)?,
                        }),
                        None => None,
                    };
                    Ok((user, post))
                })
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
            finish(pairs, check, |p| pairs_checksum(p))
        }
        Op::Insert(n) => {
            let statement = match hand.inserts.get(&n) {
                Some(statement) => statement.clone(),
                None => {
                    let statement = hand.client.prepare(&insert_sql("users", n)).await?;
                    hand.inserts.insert(n, statement.clone());
                    statement
                }
            };
            let users = new_users(n);
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(2 * n);
            for user in &users {
                params.push(&user.name);
                params.push(&user.hair_color);
            }
            // Named in full: diesel-async's RunQueryDsl also has an `execute`.
            let inserted =
                tokio_postgres::Client::execute(&hand.client, &statement, &params).await?;
            finish(inserted, false, |_| Checksum::default())
        }
        Op::Associations => {
            let users = hand
                .client
                .query(&hand.trivial, &[])
                .await?
                .iter()
                .map(tp_user)
                .collect::<Result<Vec<_>, _>>()?;
            let user_ids: Vec<i32> = users.iter().map(|u| u.id).collect();
            let posts = hand
                .client
                .query(&hand.posts, &[&user_ids])
                .await?
                .iter()
                .map(tp_post)
                .collect::<Result<Vec<_>, _>>()?;
            let post_ids: Vec<i32> = posts.iter().map(|p| p.id).collect();
            let comments = hand
                .client
                .query(&hand.comments, &[&post_ids])
                .await?
                .iter()
                .map(tp_comment)
                .collect::<Result<Vec<_>, _>>()?;
            let tree = nest(users, posts, comments);
            finish(tree, check, tree_checksum)
        }
    })
}

/// The grouping every hand-written contender (tokio-postgres, sqlx) does
/// after its three select-in queries.
pub fn nest(users: Vec<User>, posts: Vec<Post>, comments: Vec<Comment>) -> Tree {
    let posts = group_by_key(posts, comments, |p| p.id, |c| c.post_id);
    group_by_key(users, posts, |u| u.id, |(p, _)| p.user_id)
}

async fn sqlx_op(conn: &mut PgConnection, op: Op, check: bool) -> BenchResult<Checksum> {
    Ok(match op {
        Op::Trivial => {
            let users = sqlx::query_as::<_, User>(TRIVIAL_SQL)
                .fetch_all(&mut *conn)
                .await?;
            finish(users, check, |u| users_checksum(u))
        }
        Op::Medium => {
            let rows = sqlx::query_as::<_, UserPostRow>(MEDIUM_SQL)
                .bind("black")
                .fetch_all(&mut *conn)
                .await?;
            let pairs: Vec<_> = rows.into_iter().map(UserPostRow::split).collect();
            finish(pairs, check, |p| pairs_checksum(p))
        }
        Op::Insert(n) => {
            let users = new_users(n);
            let mut builder: QueryBuilder<Postgres> =
                QueryBuilder::new("INSERT INTO users (name, hair_color) ");
            builder.push_values(&users, |mut row, user| {
                row.push_bind(&user.name).push_bind(&user.hair_color);
            });
            let done = builder.build().execute(&mut *conn).await?;
            finish(done, false, |_| Checksum::default())
        }
        Op::Associations => {
            let users = sqlx::query_as::<_, User>(TRIVIAL_SQL)
                .fetch_all(&mut *conn)
                .await?;
            let user_ids: Vec<i32> = users.iter().map(|u| u.id).collect();
            let posts = sqlx::query_as::<_, Post>(POSTS_SQL)
                .bind(&user_ids)
                .fetch_all(&mut *conn)
                .await?;
            let post_ids: Vec<i32> = posts.iter().map(|p| p.id).collect();
            let comments = sqlx::query_as::<_, Comment>(COMMENTS_SQL)
                .bind(&post_ids)
                .fetch_all(&mut *conn)
                .await?;
            let tree = nest(users, posts, comments);
            finish(tree, check, tree_checksum)
        }
    })
}

async fn sea_orm_op(db: &DatabaseConnection, op: Op, check: bool) -> BenchResult<Checksum> {
    use sea::{comments, posts, users};
    Ok(match op {
        Op::Trivial => {
            let found = users::Entity::find().all(db).await?;
            finish(found, check, |found| {
                users_checksum(&found.iter().cloned().map(sea_user).collect::<Vec<_>>())
            })
        }
        Op::Medium => {
            let found = users::Entity::find()
                .find_also_related(posts::Entity)
                .filter(users::Column::HairColor.eq("black"))
                .all(db)
                .await?;
            finish(found, check, |found| {
                let pairs: Vec<_> = found
                    .iter()
                    .cloned()
                    .map(|(u, p)| (sea_user(u), p.map(sea_post)))
                    .collect();
                pairs_checksum(&pairs)
            })
        }
        Op::Insert(n) => {
            let rows = (0..n).map(|i| users::ActiveModel {
                name: ActiveValue::Set(format!("User {i}")),
                hair_color: ActiveValue::Set(Some("hair_color".to_owned())),
                ..Default::default()
            });
            let done = users::Entity::insert_many(rows).exec(db).await?;
            finish(done, false, |_| Checksum::default())
        }
        Op::Associations => {
            let found_users = users::Entity::find().all(db).await?;
            let posts_of_users = found_users.load_many(posts::Entity, db).await?;
            let counts: Vec<usize> = posts_of_users.iter().map(Vec::len).collect();
            let all_posts: Vec<posts::Model> = posts_of_users.into_iter().flatten().collect();
            let comments_of_posts = all_posts.load_many(comments::Entity, db).await?;
            let mut posts_with_comments = all_posts.into_iter().zip(comments_of_posts);
            let tree: Vec<_> = found_users
                .into_iter()
                .zip(counts)
                .map(|(user, count)| {
                    (
                        user,
                        posts_with_comments.by_ref().take(count).collect::<Vec<_>>(),
                    )
                })
                .collect();
            finish(tree, check, |tree| {
                let tree: Tree = tree
                    .iter()
                    .cloned()
                    .map(|(u, posts)| {
                        let posts = posts
                            .into_iter()
                            .map(|(p, cs)| (sea_post(p), cs.into_iter().map(sea_comment).collect()))
                            .collect();
                        (sea_user(u), posts)
                    })
                    .collect();
                tree_checksum(&tree)
            })
        }
    })
}

async fn diesel_op(conn: &mut AsyncPgConnection, op: Op, check: bool) -> BenchResult<Checksum> {
    use models::{posts, users};
    Ok(match op {
        Op::Trivial => {
            let found = users::table.load::<User>(conn).await?;
            finish(found, check, |u| users_checksum(u))
        }
        Op::Medium => {
            let found = users::table
                .left_outer_join(posts::table)
                .filter(users::hair_color.eq("black"))
                .load::<(User, Option<Post>)>(conn)
                .await?;
            finish(found, check, |p| pairs_checksum(p))
        }
        Op::Insert(n) => {
            let rows = new_users(n);
            let done = diesel::insert_into(users::table)
                .values(&rows)
                .execute(conn)
                .await?;
            finish(done, false, |_| Checksum::default())
        }
        Op::Associations => {
            let found_users = users::table.load::<User>(conn).await?;
            let found_posts = Post::belonging_to(&found_users).load::<Post>(conn).await?;
            let found_comments = Comment::belonging_to(&found_posts)
                .load::<Comment>(conn)
                .await?
                .grouped_by(&found_posts);
            let posts_and_comments = found_posts
                .into_iter()
                .zip(found_comments)
                .grouped_by(&found_users);
            let tree: Tree = found_users.into_iter().zip(posts_and_comments).collect();
            finish(tree, check, tree_checksum)
        }
    })
}

/// Fills the tables for `op` through a separate connection, outside any
/// timing: N users for the queries, 100 × 10 × 10 for the associations.
pub async fn prepare_data(setup: &tokio_postgres::Client, op: Op, n: usize) -> BenchResult<()> {
    setup
        .batch_execute("TRUNCATE users, posts, comments RESTART IDENTITY")
        .await?;
    let hair = match op {
        Op::Trivial => "NULL",
        Op::Insert(_) => return Ok(()),
        Op::Medium | Op::Associations => "CASE WHEN (i - 1) % 2 = 0 THEN 'black' ELSE 'brown' END",
    };
    setup
        .batch_execute(&format!(
            "INSERT INTO users (name, hair_color) \
             SELECT 'User ' || (i - 1), {hair} FROM generate_series(1, {n}) AS i"
        ))
        .await?;
    if op == Op::Associations {
        setup
            .batch_execute(
                "INSERT INTO posts (user_id, title, body) \
                 SELECT u.id, 'Post ' || i || ' by user ' || u.id, NULL \
                 FROM users u, generate_series(0, 9) AS i ORDER BY u.id, i; \
                 INSERT INTO comments (post_id, text) \
                 SELECT p.id, 'Comment ' || i || ' on post ' || p.id \
                 FROM posts p, generate_series(0, 9) AS i ORDER BY p.id, i",
            )
            .await?;
    }
    setup
        .batch_execute("ANALYZE users, posts, comments")
        .await?;
    Ok(())
}

/// What one contender's single insert left in `users`, then empties it.
async fn inserted_and_reset(setup: &tokio_postgres::Client) -> BenchResult<Checksum> {
    let row = setup
        .query_one(
            "SELECT count(*)::int8, coalesce(sum(length(name)), 0)::int8 FROM users \
             WHERE hair_color = 'hair_color' AND name LIKE 'User %'",
            &[],
        )
        .await?;
    let count: i64 = row.try_get(0)?;
    let length: i64 = row.try_get(1)?;
    setup
        .batch_execute("TRUNCATE users RESTART IDENTITY")
        .await?;
    Ok(Checksum {
        rows: count.unsigned_abs(),
        sum: length.unsigned_abs(),
    })
}

/// Runs `op` until `budget` is spent (at least `min_iterations` times) and
/// returns the median time of one operation in µs. The median, not the
/// mean: on a machine shared with builds, a few iterations that lost the CPU
/// would otherwise decide the sample.
async fn time_op(
    contender: &mut Contender,
    op: Op,
    budget: Duration,
    min_iterations: usize,
) -> BenchResult<f64> {
    let started = Instant::now();
    let mut times = Vec::with_capacity(1024);
    while times.len() < min_iterations || started.elapsed() < budget {
        let t = Instant::now();
        contender.run(op, false).await?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    median(&times).ok_or_else(|| BenchError::Setup(format!("{}: no timings", contender.name)))
}

pub struct Plan {
    pub op: Op,
    pub params: Vec<usize>,
}

pub fn plans(quick: bool) -> Vec<Plan> {
    let queries: Vec<usize> = if quick {
        vec![1, 100, 10_000]
    } else {
        vec![1, 10, 100, 1_000, 10_000]
    };
    let inserts: Vec<usize> = if quick {
        vec![1, 100]
    } else {
        vec![1, 10, 25, 50, 100]
    };
    vec![
        Plan {
            op: Op::Trivial,
            params: queries.clone(),
        },
        Plan {
            op: Op::Medium,
            params: queries,
        },
        Plan {
            op: Op::Insert(0),
            params: inserts,
        },
        Plan {
            op: Op::Associations,
            params: vec![100],
        },
    ]
}

/// One workload at one size: data, the cross-check, then `repeats` rounds
/// of interleaved samples in rotating order.
pub async fn run_workload(
    settings: &Settings,
    setup: &tokio_postgres::Client,
    contenders: &mut [Contender],
    op: Op,
    n: usize,
) -> BenchResult<Workload> {
    let op = match op {
        Op::Insert(_) => Op::Insert(n),
        other => other,
    };
    prepare_data(setup, op, n).await?;
    let label = format!("{} N = {n}", op.label());

    // Same data from everyone, or the numbers compare different work.
    let mut reference: Option<(&'static str, Checksum)> = None;
    for contender in contenders.iter_mut() {
        let mut sum = contender.run(op, true).await?;
        if matches!(op, Op::Insert(_)) {
            sum = inserted_and_reset(setup).await?;
        }
        match reference {
            None => reference = Some((contender.name, sum)),
            Some((reference_name, expected)) if expected != sum => {
                return Err(BenchError::Mismatch {
                    workload: label,
                    contender: contender.name,
                    got: sum.to_string(),
                    reference_name,
                    expected: expected.to_string(),
                })
            }
            Some(_) => {}
        }
    }
    let rows = reference.map(|(_, s)| s.rows).unwrap_or(0);

    let param = match op {
        Op::Associations => String::new(),
        _ => format!("N = {n}"),
    };
    let mut workload = Workload::new("diesel", op.label(), param, "µs", Better::Lower)
        .against("tokio-postgres", Target::MaxRatio(1.0));
    workload.note = match op {
        Op::Trivial => format!(
            "median time of one query in a 250 ms run: SELECT id, name, hair_color FROM users ({rows} rows) loaded into structs; one connection each"
        ),
        Op::Medium => format!(
            "median time of one query in a 250 ms run: users LEFT JOIN posts WHERE hair_color = 'black' as (User, Option<Post>) ({rows} rows); keel: typed builder with a LEFT JOIN through the posts relation, run with Db::compile + Db::fetch_raw into a flat #[derive(FromRow)] struct (FromRow::from_raw), split into (User, Option<Post>)"
        ),
        Op::Insert(_) => format!(
            "median time of one statement in a 250 ms run: one multi-row INSERT of {n} users; keel uses insert_many, which also returns the new keys; table truncated after each sample"
        ),
        Op::Associations => format!(
            "median time of one load in a 250 ms run: 100 users x 10 posts x 10 comments into Vec<(User, Vec<(Post, Vec<Comment>)>)>, three select-in queries ({rows} values checked); keel: find::<User>().with(posts.with(comments)).all_loaded(), grouped with Loaded::children"
        ),
    };
    let (warmup, budget) = settings.sample_budget();
    for repeat in 0..settings.repeats {
        let count = contenders.len();
        for k in 0..count {
            let contender = &mut contenders[(k + repeat) % count];
            time_op(contender, op, warmup, 2).await?;
            if matches!(op, Op::Insert(_)) {
                setup
                    .batch_execute("TRUNCATE users RESTART IDENTITY")
                    .await?;
            }
            let per_op = time_op(contender, op, budget, 5).await?;
            if matches!(op, Op::Insert(_)) {
                setup
                    .batch_execute("TRUNCATE users RESTART IDENTITY")
                    .await?;
            }
            workload.sample(contender.name, per_op);
        }
    }
    Ok(workload.finish())
}
