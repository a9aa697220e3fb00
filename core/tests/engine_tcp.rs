//! The sans-I/O engine over a plain TCP stream against a real PostgreSQL, so
//! protocol bugs show up in `cargo test` without any wasm toolchain.
//!
//! Needs `KEEL_TEST_DATABASE_URL=postgres://user:password@127.0.0.1:port/db`
//! (scripts/test starts a server and sets it). Without it the tests skip,
//! unless `KEEL_REQUIRE_DB=1`, in which case they fail.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use keel_core::compile::Statement;
use keel_core::protocol::{Client, Connection, Event, StartupConfig, Transport};
use keel_core::schema::PgType;
use keel_core::types::Value;
use keel_core::{Driver, Error, RawRows};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct DbUrl {
    user: String,
    password: Option<String>,
    host: String,
    port: u16,
    database: Option<String>,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("URL component is not UTF-8")
}

/// `postgres://user[:password]@host[:port][/database]`; enough for the test harness.
fn parse_url(url: &str) -> DbUrl {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .unwrap_or_else(|| {
            panic!("KEEL_TEST_DATABASE_URL must start with postgres://, got {url:?}")
        });
    let rest = rest.split('?').next().unwrap_or_default();
    let (userinfo, hostpart) = rest
        .rsplit_once('@')
        .expect("KEEL_TEST_DATABASE_URL must name a user (postgres://user:password@host:port/db)");
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(percent_decode(password))),
        None => (userinfo, None),
    };
    let (hostport, database) = match hostpart.split_once('/') {
        Some((hostport, db)) if !db.is_empty() => (hostport, Some(percent_decode(db))),
        Some((hostport, _)) => (hostport, None),
        None => (hostpart, None),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().expect("port is not a number")),
        None => (hostport, 5432),
    };
    DbUrl {
        user: percent_decode(user),
        password,
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
        database,
    }
}

fn database() -> Option<DbUrl> {
    match std::env::var("KEEL_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(parse_url(&url)),
        _ if std::env::var("KEEL_REQUIRE_DB").as_deref() == Ok("1") => {
            panic!("KEEL_REQUIRE_DB=1 but KEEL_TEST_DATABASE_URL is not set (run scripts/test)")
        }
        _ => {
            println!("skipping: KEEL_TEST_DATABASE_URL is not set (run scripts/test)");
            None
        }
    }
}

impl DbUrl {
    fn config(&self) -> StartupConfig {
        StartupConfig {
            user: self.user.clone(),
            password: self.password.clone(),
            database: self.database.clone(),
            application_name: Some("keel-engine-tcp-test".into()),
            options: None,
        }
    }

    async fn tcp(&self) -> Tcp {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .unwrap_or_else(|e| panic!("cannot reach {}:{}: {e}", self.host, self.port));
        stream.set_nodelay(true).unwrap();
        Tcp(stream)
    }

    async fn client(&self) -> Client<Tcp> {
        Client::connect(self.tcp().await, self.config(), &nonce_seed())
            .await
            .expect("login with the test credentials")
    }
}

/// Fresh per call: a SCRAM nonce must never repeat.
fn nonce_seed() -> Vec<u8> {
    (0..3)
        .flat_map(|_| RandomState::new().build_hasher().finish().to_le_bytes())
        .collect()
}

struct Tcp(TcpStream);

#[async_trait::async_trait]
impl Transport for Tcp {
    async fn write(&mut self, bytes: Vec<u8>) -> keel_core::Result<()> {
        self.0
            .write_all(&bytes)
            .await
            .map_err(|e| Error::Transport(e.to_string()))
    }

    async fn read(&mut self) -> keel_core::Result<Option<Vec<u8>>> {
        let mut buf = vec![0; 8192];
        let n = self
            .0
            .read(&mut buf)
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        buf.truncate(n);
        Ok((n > 0).then_some(buf))
    }
}

/// The engine driven by hand, for what `Client` does not expose:
/// pipelining, cancellation, events.
struct Session {
    conn: Connection,
    tcp: Tcp,
}

impl Session {
    async fn open(db: &DbUrl) -> Session {
        let mut session = Session {
            conn: Connection::new(db.config(), &nonce_seed()),
            tcp: db.tcp().await,
        };
        loop {
            match session.next_event().await {
                Event::Connected => return session,
                _ => continue,
            }
        }
    }

    async fn next_event(&mut self) -> Event {
        loop {
            while let Some(bytes) = self.conn.poll_transmit() {
                self.tcp.write(bytes).await.unwrap();
            }
            if let Some(event) = self.conn.poll_event() {
                return event;
            }
            let bytes = self
                .tcp
                .read()
                .await
                .unwrap()
                .expect("server closed the connection");
            self.conn.handle_input(&bytes).unwrap();
        }
    }

    /// Skips asynchronous events until the next request finishes.
    async fn next_result(&mut self) -> Event {
        loop {
            match self.next_event().await {
                event @ (Event::QueryComplete { .. } | Event::QueryFailed { .. }) => return event,
                _ => continue,
            }
        }
    }
}

fn cell(rows: &RawRows, row: usize, column: usize) -> Option<Vec<u8>> {
    rows.row(row).unwrap().get(column).map(<[u8]>::to_vec)
}

#[tokio::test]
async fn scram_login_and_binary_select() {
    let Some(db) = database() else { return };
    let client = db.client().await;
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
    let client = db.client().await;
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
    let mut config = db.config();
    config.password = Some(format!("{}-wrong", config.password.unwrap_or_default()));
    let seed = nonce_seed();
    let attempt = Client::connect(db.tcp().await, config, &seed);
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
    let client = db.client().await;
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
    let mut session = Session::open(&db).await;
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
    let mut session = Session::open(&db).await;
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
    let mut session = Session::open(&db).await;
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
    let observer = db.client().await;
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
    let mut canceller = db.tcp().await;
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
    let victim = db.client().await;
    let rows = victim
        .query_raw("SELECT pg_backend_pid()", &[], &[])
        .await
        .unwrap();
    let pid = cell(&rows, 0, 0).unwrap();
    let killer = db.client().await;
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

#[test]
fn parses_test_urls() {
    let url = parse_url("postgres://keel:p%40ss@127.0.0.1:54329/keel_test");
    assert_eq!(
        (
            url.user.as_str(),
            url.password.as_deref(),
            url.host.as_str(),
            url.port,
            url.database.as_deref()
        ),
        ("keel", Some("p@ss"), "127.0.0.1", 54329, Some("keel_test"))
    );
    let url = parse_url("postgresql://u@localhost");
    assert_eq!((url.password, url.port, url.database), (None, 5432, None));
}
