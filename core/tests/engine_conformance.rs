//! Conformance of the sans-I/O engine over a plain TCP stream against the
//! throwaway PostgreSQL: every authentication method, a 100-statement
//! pipeline, a million rows streamed through a portal in bounded memory,
//! COPY both ways in text and binary, the statement cache's recovery, and
//! user-defined types read through text or their base type.
//!
//! LISTEN/NOTIFY and cancelling `pg_sleep` are in `engine_tcp.rs`.

mod engine_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use engine_support::{config, Session};
use keel_core::protocol::{Event, RequestId, Transport};
use keel_core::types::{PgType, Rows, Value};
use keel_core::RawRows;

/// Counts live heap bytes per thread so the streaming test can report its
/// peak. Per thread, because the other tests of this binary run in parallel
/// on their own threads and would otherwise count towards it; the streaming
/// test runs its engine on its own (current-thread) runtime.
struct CountingAlloc;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // try_with: allocations can happen while a thread's locals are torn down.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const TIMEOUT: Duration = Duration::from_secs(120);

impl Session {
    async fn result(&mut self, id: RequestId) -> Result<RawRows, keel_core::ServerError> {
        loop {
            match self.next_event().await {
                Event::QueryComplete { id: done, rows, .. } if done == id => return Ok(rows),
                Event::QueryFailed { id: failed, error } if failed == id => return Err(error),
                Event::QueryComplete { .. } | Event::QueryFailed { .. } => {
                    panic!("a response arrived out of order")
                }
                _ => {}
            }
        }
    }

    async fn run(&mut self, sql: &str) -> RawRows {
        let id = self.conn.send_prepared(sql, &[], &[]).unwrap();
        self.result(id)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn simple(&mut self, sql: &str) {
        self.conn.send_simple(sql).unwrap();
        loop {
            match self.next_event().await {
                Event::SimpleQueryComplete { .. } => return,
                Event::QueryFailed { error, .. } => panic!("{sql}: {error}"),
                _ => {}
            }
        }
    }
}

fn decode(rows: &RawRows) -> Vec<Vec<Value>> {
    let names: Vec<String> = rows.columns().iter().map(|c| c.name.clone()).collect();
    Rows::decode(&names, rows).unwrap().rows
}

/// The first authentication request the server sent, from the raw bytes
/// of the login: 0 is trust, 3 cleartext, 5 md5, 10 SASL.
async fn login_method(url: &keel_testkit::PgUrl, user: &str, password: Option<&str>) -> i32 {
    use keel_core::protocol::Connection;
    let mut cfg = config(url);
    cfg.user = user.to_owned();
    cfg.password = password.map(str::to_owned);
    let mut conn = Connection::new(cfg, &engine_support::nonce_seed());
    let mut tcp = engine_support::Tcp::connect(url).await;
    let mut first = None;
    loop {
        while let Some(bytes) = conn.poll_transmit() {
            tcp.write(bytes).await.unwrap();
        }
        if let Some(event) = conn.poll_event() {
            if event == Event::Connected {
                break;
            }
            continue;
        }
        let bytes = tcp
            .read()
            .await
            .unwrap()
            .expect("server closed the connection");
        if first.is_none() && bytes.first() == Some(&b'R') && bytes.len() >= 9 {
            first = Some(i32::from_be_bytes(bytes[5..9].try_into().unwrap()));
        }
        conn.handle_input(&bytes)
            .unwrap_or_else(|e| panic!("login as {user}: {e}"));
    }
    let id = conn
        .send_query("SELECT current_user::text", &[], &[])
        .unwrap();
    loop {
        while let Some(bytes) = conn.poll_transmit() {
            tcp.write(bytes).await.unwrap();
        }
        match conn.poll_event() {
            Some(Event::QueryComplete { id: done, rows, .. }) if done == id => {
                assert_eq!(rows.row(0).unwrap().get(0), Some(user.as_bytes()));
                break;
            }
            Some(Event::QueryFailed { error, .. }) => panic!("{error}"),
            Some(_) => {}
            None => {
                let bytes = tcp.read().await.unwrap().expect("closed");
                conn.handle_input(&bytes).unwrap();
            }
        }
    }
    first.expect("the server sent an authentication request")
}

#[tokio::test]
async fn every_authentication_method() {
    let Some(url) = engine_support::database() else {
        return;
    };
    let var = |name: &str| match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var("KEEL_REQUIRE_DB").as_deref() == Ok("1") => {
            panic!("{name} is not set: start the server with scripts/pg (it creates one user per method)")
        }
        _ => None,
    };
    let (Some(trust), Some(cleartext), Some(md5), Some(password)) = (
        var("KEEL_PG_TRUST_USER"),
        var("KEEL_PG_CLEARTEXT_USER"),
        var("KEEL_PG_MD5_USER"),
        var("KEEL_PG_METHOD_PASSWORD"),
    ) else {
        println!("skipping: no per-method users (start the server with scripts/pg)");
        return;
    };
    let scram = url.password.clone();
    let cases = [
        (trust.as_str(), None, 0, "trust"),
        (cleartext.as_str(), Some(password.as_str()), 3, "cleartext"),
        (md5.as_str(), Some(password.as_str()), 5, "md5"),
        (url.user.as_str(), Some(scram.as_str()), 10, "SCRAM-SHA-256"),
    ];
    for (user, password, code, method) in cases {
        let got = tokio::time::timeout(TIMEOUT, login_method(&url, user, password))
            .await
            .expect("login finishes");
        assert_eq!(got, code, "{user} should log in with {method}");
    }
}

#[tokio::test]
async fn one_hundred_statements_in_one_pipeline() {
    let Some(url) = engine_support::database() else {
        return;
    };
    let mut session = Session::open(&url, config(&url)).await;
    let ids: Vec<RequestId> = (0..100i32)
        .map(|i| {
            let sql = if i == 50 {
                "SELECT 1 / ($1::int4 - 50)"
            } else {
                "SELECT $1::int4 * 2"
            };
            session
                .conn
                .send_query(sql, &[23], &[Some(i.to_be_bytes().to_vec())])
                .unwrap()
        })
        .collect();
    let bytes = session.conn.poll_transmit().unwrap();
    assert!(
        session.conn.poll_transmit().is_none(),
        "one write for the whole pipeline"
    );
    session.tcp.write(bytes).await.unwrap();
    for (i, id) in ids.into_iter().enumerate() {
        let result = tokio::time::timeout(TIMEOUT, session.result(id))
            .await
            .unwrap();
        if i == 50 {
            assert_eq!(
                result.unwrap_err().code,
                "22012",
                "division by zero mid-pipeline"
            );
        } else {
            assert_eq!(
                decode(&result.unwrap()),
                vec![vec![Value::Int4(i as i32 * 2)]]
            );
        }
    }
    assert!(!session.conn.is_busy());
}

#[tokio::test]
async fn a_million_rows_stream_in_bounded_memory() {
    let Some(url) = engine_support::database() else {
        return;
    };
    let mut session = Session::open(&url, config(&url)).await;
    let id = session
        .conn
        .send_portal(
            "SELECT g, 'row ' || g FROM generate_series(1, 1000000) g",
            &[],
            &[],
            10_000,
        )
        .unwrap();
    let baseline = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(baseline));
    let (mut count, mut sum, mut batches) = (0u64, 0i64, 0u32);
    let mut tally = |rows: &RawRows| {
        for row in rows.iter() {
            let bytes: [u8; 4] = row.get(0).unwrap().try_into().unwrap();
            sum += i64::from(i32::from_be_bytes(bytes));
            count += 1;
        }
    };
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let event = tokio::time::timeout_at(deadline, session.next_event())
            .await
            .unwrap();
        match event {
            Event::RowBatch { id: batch, rows } if batch == id => {
                assert!(rows.len() <= 10_000);
                tally(&rows);
                batches += 1;
                session.conn.fetch_more(id).unwrap();
            }
            Event::QueryComplete {
                id: done,
                rows,
                tag,
            } if done == id => {
                tally(&rows);
                // The tag counts the rows of the last Execute only.
                assert!(tag.starts_with("SELECT "), "{tag}");
                break;
            }
            Event::QueryFailed { error, .. } => panic!("{error}"),
            _ => {}
        }
    }
    let peak = usize::try_from(PEAK.with(Cell::get) - baseline).unwrap_or(0);
    println!(
        "streamed {count} rows in {batches} batches; peak heap growth {:.1} MiB",
        peak as f64 / 1_048_576.0
    );
    assert_eq!(count, 1_000_000);
    assert_eq!(sum, 500_000_500_000);
    // The whole result would take ~40 MiB as RawRows; one batch takes well under 1.
    assert!(
        peak < 8 * 1_048_576,
        "peak heap growth {peak} bytes is not bounded by the batch size"
    );
}

async fn copy_out(session: &mut Session, sql: &str) -> Vec<u8> {
    session.conn.send_simple(sql).unwrap();
    let mut data = Vec::new();
    loop {
        match session.next_event().await {
            Event::CopyData { data: chunk, .. } => data.extend(chunk),
            Event::SimpleQueryComplete { results, .. } => {
                assert!(results[0].tag.starts_with("COPY "));
                return data;
            }
            Event::QueryFailed { error, .. } => panic!("{sql}: {error}"),
            _ => {}
        }
    }
}

async fn copy_in(session: &mut Session, sql: &str, chunks: &[&[u8]]) -> String {
    let id = session.conn.copy_in(sql).unwrap();
    loop {
        match session.next_event().await {
            Event::CopyInReady { id: ready, .. } if ready == id => break,
            Event::QueryFailed { error, .. } => panic!("{sql}: {error}"),
            _ => {}
        }
    }
    for chunk in chunks {
        session.conn.copy_data(id, chunk).unwrap();
    }
    session.conn.copy_done(id).unwrap();
    loop {
        match session.next_event().await {
            Event::QueryComplete { id: done, tag, .. } if done == id => return tag,
            Event::QueryFailed { error, .. } => panic!("{sql}: {error}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn copy_in_both_directions_text_and_binary() {
    let Some(url) = engine_support::database() else {
        return;
    };
    let mut session = Session::open(&url, config(&url)).await;
    session
        .simple("CREATE TEMP TABLE c1 (n int, t text, x numeric); CREATE TEMP TABLE c2 (LIKE c1)")
        .await;
    // Rows split across chunks on purpose: COPY data is a byte stream.
    let tag = copy_in(
        &mut session,
        "COPY c1 FROM STDIN",
        &[b"1\tone\t1.50\n2\tt", b"wo\t\\N\n3\t\\\\back\t-0.001\n"],
    )
    .await;
    assert_eq!(tag, "COPY 3");
    let text = copy_out(&mut session, "COPY c1 TO STDOUT").await;
    assert_eq!(text, b"1\tone\t1.50\n2\ttwo\t\\N\n3\t\\\\back\t-0.001\n");

    let binary = copy_out(&mut session, "COPY c1 TO STDOUT (FORMAT binary)").await;
    assert!(binary.starts_with(b"PGCOPY\n\xff\r\n\0"));
    let (a, b) = binary.split_at(binary.len() / 2);
    let tag = copy_in(&mut session, "COPY c2 FROM STDIN (FORMAT binary)", &[a, b]).await;
    assert_eq!(tag, "COPY 3");
    let rows = session.run("SELECT n, t, x FROM c2 ORDER BY n").await;
    assert_eq!(
        decode(&rows),
        vec![
            vec![
                Value::Int4(1),
                Value::Text("one".into()),
                Value::Numeric("1.50".into())
            ],
            vec![Value::Int4(2), Value::Text("two".into()), Value::Null],
            vec![
                Value::Int4(3),
                Value::Text("\\back".into()),
                Value::Numeric("-0.001".into())
            ],
        ]
    );

    // A failed COPY leaves the session usable.
    let id = session.conn.copy_in("COPY c1 FROM STDIN").unwrap();
    while !matches!(session.next_event().await, Event::CopyInReady { .. }) {}
    session.conn.copy_data(id, b"not a number\n").unwrap();
    session.conn.copy_done(id).unwrap();
    assert_eq!(session.result(id).await.unwrap_err().code, "22P02");
    assert_eq!(
        decode(&session.run("SELECT count(*) FROM c1").await),
        vec![vec![Value::Int8(3)]]
    );
}

#[tokio::test]
async fn statement_cache_recovers_from_changed_and_lost_statements() {
    let Some(url) = engine_support::database() else {
        return;
    };
    let mut session = Session::open(&url, config(&url)).await;
    session
        .simple("CREATE TEMP TABLE sc (a int); INSERT INTO sc VALUES (1)")
        .await;
    assert_eq!(
        decode(&session.run("SELECT * FROM sc").await),
        vec![vec![Value::Int4(1)]]
    );
    assert_eq!(session.conn.cached_statements(), 1);
    // The cached plan's result type changes: 0A000, then a transparent re-prepare.
    session.simple("ALTER TABLE sc ALTER a TYPE int8").await;
    assert_eq!(
        decode(&session.run("SELECT * FROM sc").await),
        vec![vec![Value::Int8(1)]]
    );
    // The server forgets every statement: 26000, then a transparent re-prepare.
    session.simple("DEALLOCATE ALL").await;
    assert_eq!(
        decode(&session.run("SELECT * FROM sc").await),
        vec![vec![Value::Int8(1)]]
    );
    // Unnamed mode, as for pgbouncer: nothing stays prepared on the server.
    session.conn.set_statement_cache_capacity(0);
    session.run("SELECT 1").await;
    let named = session
        .run("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'keel_%'")
        .await;
    assert_eq!(decode(&named), vec![vec![Value::Int8(0)]]);
}

#[tokio::test]
async fn enums_and_unknown_types_come_back_as_text_and_domains_as_their_base() {
    let Some(url) = engine_support::database() else {
        return;
    };
    let mut session = Session::open(&url, config(&url)).await;
    session
        .simple(
            "SET TimeZone = 'UTC';
             CREATE TYPE pg_temp.mood AS ENUM ('sad', 'ok', 'happy with spaces');
             CREATE DOMAIN pg_temp.posint AS int4 CHECK (VALUE > 0);
             CREATE DOMAIN pg_temp.label AS text",
        )
        .await;
    let rows = session
        .run(
            "SELECT 'happy with spaces'::pg_temp.mood AS m, ARRAY['ok', 'sad']::pg_temp.mood[] AS ms, \
             5::pg_temp.posint AS d, 'x'::pg_temp.label AS l, point(1, 2) AS p, \
             '<a/>'::xml AS x, NULL::pg_temp.mood AS n",
        )
        .await;
    let formats: Vec<i16> = rows.columns().iter().map(|c| c.format).collect();
    assert_eq!(
        formats,
        [0, 0, 1, 1, 0, 0, 0],
        "binary only where keel decodes the type"
    );
    assert_eq!(
        decode(&rows),
        vec![vec![
            Value::Text("happy with spaces".into()),
            Value::Text("{ok,sad}".into()),
            Value::Int4(5),
            Value::Text("x".into()),
            Value::Text("(1,2)".into()),
            Value::Text("<a/>".into()),
            Value::Null,
        ]]
    );
    // Binding: an enum label as text with the type left for the server to
    // infer; a domain through its base type.
    let id = session
        .conn
        .send_prepared(
            "SELECT $1::pg_temp.mood = 'ok', $2::pg_temp.posint + 1",
            &[PgType::Named("mood".into()).oid(), PgType::Int4.oid()],
            &[
                Value::Text("ok".into()).encode_binary().unwrap(),
                Value::Int4(41).encode_binary().unwrap(),
            ],
        )
        .unwrap();
    let rows = session.result(id).await.unwrap();
    assert_eq!(
        decode(&rows),
        vec![vec![Value::Bool(true), Value::Int4(42)]]
    );
}

#[tokio::test]
async fn simple_query_scripts_against_the_server() {
    let Some(url) = engine_support::database() else {
        return;
    };
    let mut session = Session::open(&url, config(&url)).await;
    let id = session
        .conn
        .send_simple("SELECT 1 AS a; SELECT 'x' AS b, NULL AS c; BEGIN; SELECT 1/0; SELECT 2")
        .unwrap();
    let error = loop {
        match session.next_event().await {
            Event::QueryFailed { id: failed, error } if failed == id => break error,
            Event::SimpleQueryComplete { .. } => panic!("the script has an error"),
            _ => {}
        }
    };
    assert_eq!(error.code, "22012");
    assert_eq!(
        session.conn.transaction_status(),
        keel_core::protocol::TransactionStatus::Failed
    );
    session.conn.send_simple("ROLLBACK").unwrap();
    session
        .conn
        .send_simple("SELECT 1 AS a; SELECT 'x' AS b, NULL AS c")
        .unwrap();
    loop {
        if let Event::SimpleQueryComplete { results, .. } = session.next_event().await {
            if results.len() == 1 && results[0].tag == "ROLLBACK" {
                continue;
            }
            assert_eq!(results.len(), 2);
            assert_eq!(results[1].rows.row(0).unwrap().get(0), Some(&b"x"[..]));
            assert_eq!(results[1].rows.row(0).unwrap().get(1), None);
            break;
        }
    }
}
