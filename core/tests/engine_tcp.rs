//! The sans-I/O engine over a plain TCP stream against a real PostgreSQL, so
//! protocol bugs show up in `cargo test` without any wasm toolchain.
//!
//! Needs `KEEL_TEST_DATABASE_URL=postgres://user:password@127.0.0.1:port/db`
//! (scripts/test starts a server and sets it). Without it the tests skip,
//! unless `KEEL_REQUIRE_DB=1`, in which case they fail.

mod engine_support;

use std::time::Duration;

use engine_support::{client, config, database, nonce_seed, Session, Tcp};
use keel_core::compile::Statement;
use keel_core::protocol::{Client, Event, Transport};
use keel_core::schema::PgType;
use keel_core::types::Value;
use keel_core::{Driver, Error, RawRows};

fn cell(rows: &RawRows, row: usize, column: usize) -> Option<Vec<u8>> {
    rows.row(row).unwrap().get(column).map(<[u8]>::to_vec)
}

#[tokio::test]
async fn scram_login_and_binary_select() {
    let Some(db) = database() else { return };
    let client = client(&db, config(&db)).await;
    let rows = client
        .query_raw(
            "SELECT 1::int4 AS a, 'x'::text AS b, NULL::int8 AS c",
            &[],
            &[],
        )
        .await
        .unwrap();
    let columns: Vec<(&str, u32, i16)> = rows
        .columns()
        .iter()
        .map(|c| (c.name.as_str(), c.type_oid, c.format))
        .collect();
    assert_eq!(columns, [("a", 23, 1), ("b", 25, 1), ("c", 20, 1)]);
    assert_eq!(rows.len(), 1);
    assert_eq!(cell(&rows, 0, 0), Some(vec![0, 0, 0, 1]));
    assert_eq!(cell(&rows, 0, 1), Some(b"x".to_vec()));
    assert_eq!(cell(&rows, 0, 2), None);
    client.close().await.unwrap();
}

#[tokio::test]
async fn driver_binds_binary_parameters() {
    let Some(db) = database() else { return };
    let client = client(&db, config(&db)).await;
    let statement = Statement {
        sql: "SELECT $1::int4 + 1 AS n, $2::text || '!' AS t, $3::int8 IS NULL AS z".into(),
        params: vec![Value::Int4(41), Value::Text("hé".into()), Value::Null],
        param_types: vec![PgType::Int4, PgType::Text, PgType::Int8],
        columns: vec!["n".into(), "t".into(), "z".into()],
    };
    let rows = client.query(&statement).await.unwrap();
    assert_eq!(cell(&rows, 0, 0), Some(42i32.to_be_bytes().to_vec()));
    assert_eq!(cell(&rows, 0, 1), Some("hé!".as_bytes().to_vec()));
    assert_eq!(cell(&rows, 0, 2), Some(vec![1]));
}

#[tokio::test]
async fn wrong_password_is_an_auth_error_within_a_second() {
    let Some(db) = database() else { return };
    let mut config = config(&db);
    config.password = Some(format!("{}-wrong", config.password.unwrap_or_default()));
    let seed = nonce_seed();
    let attempt = Client::connect(Tcp::connect(&db).await, config, &seed);
    let result = tokio::time::timeout(Duration::from_secs(1), attempt)
        .await
        .expect("a rejected login must not hang");
    match result {
        Err(Error::Auth { code, message }) => {
            assert_eq!(code.as_deref(), Some("28P01"), "{message}");
        }
        Err(other) => panic!("expected Error::Auth, got {other:?}"),
        Ok(_) => panic!("a wrong password was accepted; is the server using trust auth?"),
    }
}

#[tokio::test]
async fn failing_statement_then_good_one_on_the_same_connection() {
    let Some(db) = database() else { return };
    let client = client(&db, config(&db)).await;
    match client.query_raw("SELECT 1/0", &[], &[]).await {
        Err(Error::Server(error)) => assert_eq!(error.code, "22012"),
        other => panic!("expected a division-by-zero error, got {other:?}"),
    }
    match client.query_raw("SELEC 1", &[], &[]).await {
        Err(Error::Server(error)) => {
            assert_eq!(error.code, "42601");
            assert_eq!(error.position, Some(1));
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let rows = client.query_raw("SELECT 2::int4", &[], &[]).await.unwrap();
    assert_eq!(cell(&rows, 0, 0), Some(vec![0, 0, 0, 2]));

    client.query_raw("BEGIN", &[], &[]).await.unwrap();
    assert!(client.query_raw("SELECT 1/0", &[], &[]).await.is_err());
    match client.query_raw("SELECT 1", &[], &[]).await {
        Err(Error::Server(error)) => assert_eq!(error.code, "25P02"),
        other => panic!("expected in-failed-transaction, got {other:?}"),
    }
    client.query_raw("ROLLBACK", &[], &[]).await.unwrap();
    let rows = client.query_raw("SELECT 3::int4", &[], &[]).await.unwrap();
    assert_eq!(cell(&rows, 0, 0), Some(vec![0, 0, 0, 3]));
}

#[tokio::test]
async fn pipeline_with_an_error_in_the_middle() {
    let Some(db) = database() else { return };
    let mut session = Session::open(&db, config(&db)).await;
    let ids = [
        session.conn.send_query("SELECT 1::int4", &[], &[]).unwrap(),
        session
            .conn
            .send_query("SELECT * FROM no_such_table", &[], &[])
            .unwrap(),
        session.conn.send_query("", &[], &[]).unwrap(),
        session
            .conn
            .send_query(
                "SELECT $1::int8 * 2",
                &[20],
                &[Some(21i64.to_be_bytes().to_vec())],
            )
            .unwrap(),
    ];
    match session.next_result().await {
        Event::QueryComplete { id, rows, tag } => {
            assert_eq!((id, tag.as_str()), (ids[0], "SELECT 1"));
            assert_eq!(cell(&rows, 0, 0), Some(vec![0, 0, 0, 1]));
        }
        other => panic!("{other:?}"),
    }
    match session.next_result().await {
        Event::QueryFailed { id, error } => {
            assert_eq!((id, error.code.as_str()), (ids[1], "42P01"))
        }
        other => panic!("{other:?}"),
    }
    match session.next_result().await {
        Event::QueryComplete { id, rows, tag } => {
            assert_eq!((id, tag.as_str(), rows.columns().len()), (ids[2], "", 0));
        }
        other => panic!("{other:?}"),
    }
    match session.next_result().await {
        Event::QueryComplete { id, rows, .. } => {
            assert_eq!(id, ids[3]);
            assert_eq!(cell(&rows, 0, 0), Some(42i64.to_be_bytes().to_vec()));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn notices_parameter_changes_and_notifications() {
    let Some(db) = database() else { return };
    let mut session = Session::open(&db, config(&db)).await;
    assert!(session.conn.parameter("server_version").is_some());
    assert!(session.conn.backend_key().is_some());
    for sql in [
        "LISTEN keel_test",
        "SET application_name = 'renamed'",
        "DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$",
        "SELECT pg_notify('keel_test', 'payload')",
    ] {
        session.conn.send_query(sql, &[], &[]).unwrap();
    }
    let mut seen = Vec::new();
    let mut completed = 0;
    while completed < 4 || seen.len() < 3 {
        match session.next_event().await {
            Event::QueryComplete { .. } => completed += 1,
            Event::QueryFailed { error, .. } => panic!("{error}"),
            Event::ParameterStatus { name, value } => seen.push(format!("{name}={value}")),
            Event::Notice(notice) => seen.push(notice.message),
            Event::Notification {
                channel, payload, ..
            } => seen.push(format!("{channel}:{payload}")),
            Event::Connected => panic!("connected twice"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            "application_name=renamed",
            "hello from plpgsql",
            "keel_test:payload"
        ]
    );
    assert_eq!(session.conn.parameter("application_name"), Some("renamed"));
}

#[tokio::test]
async fn cancel_request_interrupts_a_running_statement() {
    let Some(db) = database() else { return };
    let mut session = Session::open(&db, config(&db)).await;
    let id = session
        .conn
        .send_query("SELECT pg_sleep(30)", &[], &[])
        .unwrap();
    while let Some(bytes) = session.conn.poll_transmit() {
        session.tcp.write(bytes).await.unwrap();
    }
    // Cancel only once the backend is inside pg_sleep, so the test does not
    // depend on timing: poll its state from a second session.
    let pid = session.conn.backend_key().unwrap().process_id;
    let observer = client(&db, config(&db)).await;
    loop {
        let rows = observer
            .query_raw(
                "SELECT count(*)::int4 FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'PgSleep'",
                &[23],
                &[Some(pid.to_be_bytes().to_vec())],
            )
            .await
            .unwrap();
        if cell(&rows, 0, 0) == Some(1i32.to_be_bytes().to_vec()) {
            break;
        }
    }
    let mut canceller = Tcp::connect(&db).await;
    canceller
        .write(session.conn.cancel_request().unwrap())
        .await
        .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), session.next_result())
        .await
        .expect("the cancel request must stop pg_sleep");
    match result {
        Event::QueryFailed { id: failed, error } => {
            assert_eq!((failed, error.code.as_str()), (id, "57014"))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn terminated_backend_surfaces_as_an_error() {
    let Some(db) = database() else { return };
    let victim = client(&db, config(&db)).await;
    let rows = victim
        .query_raw("SELECT pg_backend_pid()", &[], &[])
        .await
        .unwrap();
    let pid = cell(&rows, 0, 0).unwrap();
    let killer = client(&db, config(&db)).await;
    killer
        .query_raw("SELECT pg_terminate_backend($1, 5000)", &[23], &[Some(pid)])
        .await
        .unwrap();
    let error = victim.query_raw("SELECT 1", &[], &[]).await.unwrap_err();
    assert!(
        matches!(&error, Error::Server(e) if e.code == "57P01")
            || matches!(&error, Error::Closed(_) | Error::Transport(_)),
        "{error:?}"
    );
    assert!(victim.query_raw("SELECT 1", &[], &[]).await.is_err());
}
