//! SCRAM with non-ASCII passwords against a real PostgreSQL. The server
//! SASLpreps a password when it stores the verifier (or keeps it raw when
//! SASLprep fails), so a client that prepares differently cannot log in.
//! The engine is checked here, and tokio-postgres (the native driver's
//! protocol stack) with the same spellings.
//!
//! Needs `KEEL_TEST_DATABASE_URL` like engine_tcp.rs; skips without it.

mod engine_support;

use engine_support::{client, config, database, nonce_seed, Tcp};
use keel_core::protocol::Client;
use keel_core::Error;
use keel_testkit::PgUrl;

/// NBSP maps to a space and the composed é equals `e` + U+0301 under NFKC.
const STORED: &str = "pa\u{00A0}ss caf\u{00E9}";
const SAME_AFTER_SASLPREP: &str = "pa ss cafe\u{0301}";
/// U+0007 is prohibited output, so SASLprep fails and the raw bytes count.
const STORED_RAW: &str = "bell\u{0007} cafe\u{0301}";
const RAW_RECOMPOSED: &str = "bell\u{0007} caf\u{00E9}";

async fn create_role(db: &PgUrl, name: &str, password: &str) {
    let admin = client(db, config(db)).await;
    let literal = password.replace('\'', "''");
    admin
        .query_raw(&format!("DROP ROLE IF EXISTS {name}"), &[], &[])
        .await
        .unwrap();
    admin
        .query_raw(
            &format!("CREATE ROLE {name} LOGIN PASSWORD '{literal}'"),
            &[],
            &[],
        )
        .await
        .unwrap();
}

async fn drop_role(db: &PgUrl, name: &str) {
    let admin = client(db, config(db)).await;
    admin
        .query_raw(&format!("DROP ROLE IF EXISTS {name}"), &[], &[])
        .await
        .unwrap();
}

async fn engine_login(db: &PgUrl, user: &str, password: &str) -> Result<(), Error> {
    let mut config = config(db);
    config.user = user.to_owned();
    config.password = Some(password.to_owned());
    let client = Client::connect(Tcp::connect(db).await, config, &nonce_seed()).await?;
    let rows = client.query_raw("SELECT current_user", &[], &[]).await?;
    assert_eq!(rows.row(0).and_then(|r| r.get(0)), Some(user.as_bytes()));
    Ok(())
}

async fn tokio_postgres_login(db: &PgUrl, user: &str, password: &str) -> bool {
    let connected = tokio_postgres::Config::new()
        .host(&db.host)
        .port(db.port)
        .user(user)
        .password(password)
        .dbname(&db.database)
        .connect(tokio_postgres::NoTls)
        .await;
    connected.is_ok()
}

fn assert_rejected(result: Result<(), Error>, what: &str) {
    match result {
        Err(Error::Auth { code, .. }) => assert_eq!(code.as_deref(), Some("28P01"), "{what}"),
        other => panic!("{what}: expected a rejected password, got {other:?}"),
    }
}

#[tokio::test]
async fn non_ascii_passwords_are_saslprepped_like_the_server_does() {
    let Some(db) = database() else { return };
    let role = format!("keel_saslprep_{}", std::process::id());
    create_role(&db, &role, STORED).await;
    engine_login(&db, &role, STORED).await.unwrap();
    engine_login(&db, &role, SAME_AFTER_SASLPREP).await.unwrap();
    assert_rejected(
        engine_login(&db, &role, "pa ss cafe").await,
        "without the accent",
    );
    assert!(tokio_postgres_login(&db, &role, STORED).await);
    assert!(tokio_postgres_login(&db, &role, SAME_AFTER_SASLPREP).await);
    drop_role(&db, &role).await;
}

#[tokio::test]
async fn a_password_saslprep_refuses_is_used_raw() {
    let Some(db) = database() else { return };
    let role = format!("keel_saslprep_raw_{}", std::process::id());
    create_role(&db, &role, STORED_RAW).await;
    engine_login(&db, &role, STORED_RAW).await.unwrap();
    assert_rejected(
        engine_login(&db, &role, RAW_RECOMPOSED).await,
        "a raw password is compared byte for byte",
    );
    assert!(tokio_postgres_login(&db, &role, STORED_RAW).await);
    assert!(!tokio_postgres_login(&db, &role, RAW_RECOMPOSED).await);
    drop_role(&db, &role).await;
}
