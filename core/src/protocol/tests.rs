//! Transcript tests: the server's bytes are built by hand and fed to the
//! engine; what it sends and the events it emits are checked exactly.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::*;
use crate::error::{Error, ServerError};

const SEED: &[u8] = b"0123456789abcdefghij";

/// Builders for backend messages.
pub(super) mod server {
    pub fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn cstr(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    pub fn auth(code: i32, data: &[u8]) -> Vec<u8> {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(data);
        frame(b'R', &body)
    }

    pub fn auth_ok() -> Vec<u8> {
        auth(0, &[])
    }

    pub fn sasl(mechanisms: &[&str]) -> Vec<u8> {
        let mut data = Vec::new();
        for m in mechanisms {
            cstr(&mut data, m);
        }
        data.push(0);
        auth(10, &data)
    }

    pub fn ready(status: u8) -> Vec<u8> {
        frame(b'Z', &[status])
    }

    pub fn parameter_status(name: &str, value: &str) -> Vec<u8> {
        let mut body = Vec::new();
        cstr(&mut body, name);
        cstr(&mut body, value);
        frame(b'S', &body)
    }

    pub fn backend_key(process_id: i32, secret_key: i32) -> Vec<u8> {
        let mut body = process_id.to_be_bytes().to_vec();
        body.extend_from_slice(&secret_key.to_be_bytes());
        frame(b'K', &body)
    }

    pub fn row_description(columns: &[(&str, u32)]) -> Vec<u8> {
        let mut body = (columns.len() as u16).to_be_bytes().to_vec();
        for (name, oid) in columns {
            cstr(&mut body, name);
            body.extend_from_slice(&0u32.to_be_bytes());
            body.extend_from_slice(&0i16.to_be_bytes());
            body.extend_from_slice(&oid.to_be_bytes());
            body.extend_from_slice(&(-1i16).to_be_bytes());
            body.extend_from_slice(&(-1i32).to_be_bytes());
            body.extend_from_slice(&1i16.to_be_bytes());
        }
        frame(b'T', &body)
    }

    pub fn data_row(cells: &[Option<&[u8]>]) -> Vec<u8> {
        let mut body = (cells.len() as u16).to_be_bytes().to_vec();
        for cell in cells {
            match cell {
                Some(bytes) => {
                    body.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                    body.extend_from_slice(bytes);
                }
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        frame(b'D', &body)
    }

    pub fn command_complete(tag: &str) -> Vec<u8> {
        let mut body = Vec::new();
        cstr(&mut body, tag);
        frame(b'C', &body)
    }

    pub fn fields(tag: u8, severity: &str, code: &str, message: &str) -> Vec<u8> {
        let mut body = Vec::new();
        for (field, value) in [
            (b'S', severity),
            (b'V', severity),
            (b'C', code),
            (b'M', message),
        ] {
            body.push(field);
            cstr(&mut body, value);
        }
        body.push(0);
        frame(tag, &body)
    }

    pub fn error(code: &str, message: &str) -> Vec<u8> {
        fields(b'E', "ERROR", code, message)
    }

    pub fn notification(process_id: i32, channel: &str, payload: &str) -> Vec<u8> {
        let mut body = process_id.to_be_bytes().to_vec();
        cstr(&mut body, channel);
        cstr(&mut body, payload);
        frame(b'A', &body)
    }

    pub fn parse_complete() -> Vec<u8> {
        frame(b'1', &[])
    }

    pub fn bind_complete() -> Vec<u8> {
        frame(b'2', &[])
    }

    pub fn no_data() -> Vec<u8> {
        frame(b'n', &[])
    }

    pub fn empty_query() -> Vec<u8> {
        frame(b'I', &[])
    }

    /// A statement described before its first execution, then run: what
    /// the server answers to `send_prepared` (and so to `Client`).
    pub fn prepared_result(
        columns: &[(&str, u32)],
        rows: &[&[Option<&[u8]>]],
        tag: &str,
    ) -> Vec<u8> {
        let mut out = [
            parse_complete(),
            frame(b't', &[0, 0]),
            row_description(columns),
            bind_complete(),
        ]
        .concat();
        for row in rows {
            out.extend(data_row(row));
        }
        out.extend(command_complete(tag));
        out.extend(ready(b'I'));
        out
    }

    /// The usual successful extended-protocol answer to one statement.
    pub fn query_result(columns: &[(&str, u32)], rows: &[&[Option<&[u8]>]], tag: &str) -> Vec<u8> {
        let mut out = [parse_complete(), bind_complete(), row_description(columns)].concat();
        for row in rows {
            out.extend(data_row(row));
        }
        out.extend(command_complete(tag));
        out.extend(ready(b'I'));
        out
    }
}

/// Splits what the client sent into `(tag, body)` pairs; the untagged
/// StartupMessage must have been taken off already.
pub(super) fn frontend_messages(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = i32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
        out.push((bytes[0], bytes[5..1 + len].to_vec()));
        bytes = &bytes[1 + len..];
    }
    out
}

pub(super) fn config(password: Option<&str>) -> StartupConfig {
    StartupConfig {
        user: "alice".into(),
        password: password.map(Into::into),
        database: Some("app".into()),
        application_name: Some("keel-test".into()),
        options: None,
    }
}

pub(super) fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

pub(super) fn take_transmit(conn: &mut Connection) -> Vec<(u8, Vec<u8>)> {
    frontend_messages(&conn.poll_transmit().unwrap_or_default())
}

/// A connection that has sent its StartupMessage, with that message consumed.
pub(super) fn started(password: Option<&str>) -> Connection {
    let mut conn = Connection::new(config(password), SEED);
    conn.poll_transmit().expect("StartupMessage");
    conn
}

pub(super) fn startup_reply() -> Vec<u8> {
    [
        server::auth_ok(),
        server::parameter_status("server_version", "15.8"),
        server::backend_key(4242, 777),
        server::ready(b'I'),
    ]
    .concat()
}

pub(super) fn connected() -> Connection {
    let mut conn = started(None);
    conn.handle_input(&startup_reply()).unwrap();
    events(&mut conn);
    conn
}

fn select(conn: &mut Connection) -> RequestId {
    conn.send_query(
        "SELECT $1::int4",
        &[23],
        &[Some(7i32.to_be_bytes().to_vec())],
    )
    .unwrap()
}

#[test]
fn startup_message_carries_parameters() {
    let mut conn = Connection::new(config(Some("secret")), SEED);
    let bytes = conn.poll_transmit().unwrap();
    assert_eq!(
        i32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
        bytes.len()
    );
    assert_eq!(&bytes[4..8], &0x0003_0000i32.to_be_bytes());
    let params: Vec<&str> = std::str::from_utf8(&bytes[8..bytes.len() - 2])
        .unwrap()
        .split('\0')
        .collect();
    assert_eq!(
        params,
        [
            "user",
            "alice",
            "database",
            "app",
            "application_name",
            "keel-test",
            "client_encoding",
            "UTF8"
        ]
    );
    assert_eq!(&bytes[bytes.len() - 2..], b"\0\0");
    assert!(conn.poll_transmit().is_none());
    assert!(!conn.is_ready());
}

#[test]
fn debug_output_hides_secrets() {
    let shown = format!("{:?}", config(Some("hunter2")));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("<redacted>"));
    let key = BackendKey {
        process_id: 1,
        secret_key: 987654,
    };
    assert!(!format!("{key:?}").contains("987654"));
}

#[test]
fn trust_login_reports_parameters_and_backend_key() {
    let mut conn = started(None);
    conn.handle_input(&startup_reply()).unwrap();
    assert_eq!(
        events(&mut conn),
        [
            Event::ParameterStatus {
                name: "server_version".into(),
                value: "15.8".into()
            },
            Event::Connected
        ]
    );
    assert!(conn.is_ready());
    assert!(conn.poll_transmit().is_none());
    assert_eq!(conn.parameter("server_version"), Some("15.8"));
    assert_eq!(conn.parameter("TimeZone"), None);
    assert_eq!(
        conn.backend_key(),
        Some(BackendKey {
            process_id: 4242,
            secret_key: 777
        })
    );
    let cancel = conn.cancel_request().unwrap();
    assert_eq!(
        cancel,
        [
            &16i32.to_be_bytes()[..],
            &80_877_102i32.to_be_bytes(),
            &4242i32.to_be_bytes(),
            &777i32.to_be_bytes()
        ]
        .concat()
    );
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

#[test]
fn cleartext_password() {
    let mut conn = started(Some("secret"));
    conn.handle_input(&server::auth(3, &[])).unwrap();
    assert_eq!(take_transmit(&mut conn), [(b'p', b"secret\0".to_vec())]);
    conn.handle_input(&startup_reply()).unwrap();
    assert!(events(&mut conn).contains(&Event::Connected));
}

#[test]
fn md5_password() {
    let mut conn = started(Some("secret"));
    conn.handle_input(&server::auth(5, &[1, 2, 3, 4])).unwrap();
    assert_eq!(
        take_transmit(&mut conn),
        [(b'p', b"md598a0412b9c31436fc53776e863350083\0".to_vec())]
    );
    conn.handle_input(&startup_reply()).unwrap();
    assert!(conn.is_ready());
}

#[test]
fn missing_password_is_an_auth_error() {
    for request in [
        server::auth(3, &[]),
        server::auth(5, &[0; 4]),
        server::sasl(&["SCRAM-SHA-256"]),
    ] {
        let mut conn = started(None);
        let error = conn.handle_input(&request).unwrap_err();
        assert!(
            matches!(&error, Error::Auth { code: None, message } if message.contains("no password")),
            "{error:?}"
        );
        assert!(conn.is_broken());
        assert!(conn.poll_transmit().is_none());
        assert!(matches!(
            conn.handle_input(&server::auth_ok()),
            Err(Error::Protocol(ProtocolError::Broken { .. }))
        ));
        assert!(matches!(
            conn.send_query("SELECT 1", &[], &[]),
            Err(Error::Protocol(ProtocolError::Broken { .. }))
        ));
    }
}

#[test]
fn wrong_password_is_an_auth_error() {
    let mut conn = started(Some("wrong"));
    conn.handle_input(&server::auth(3, &[])).unwrap();
    conn.poll_transmit();
    let reply = server::fields(
        b'E',
        "FATAL",
        "28P01",
        "password authentication failed for user \"alice\"",
    );
    match conn.handle_input(&reply) {
        Err(Error::Auth { code, message }) => {
            assert_eq!(code.as_deref(), Some("28P01"));
            assert!(message.contains("password authentication failed"));
        }
        other => panic!("expected Error::Auth, got {other:?}"),
    }
    assert!(conn.is_broken());
}

#[test]
fn startup_error_after_authentication_is_a_server_error() {
    let mut conn = started(None);
    let reply = [
        server::auth_ok(),
        server::fields(b'E', "FATAL", "3D000", "database \"app\" does not exist"),
    ]
    .concat();
    match conn.handle_input(&reply) {
        Err(Error::Server(error)) => assert_eq!(error.code, "3D000"),
        other => panic!("expected Error::Server, got {other:?}"),
    }
}

#[test]
fn unsupported_authentication_methods() {
    for request in [
        server::auth(7, &[]),
        server::auth(2, &[]),
        server::auth(99, &[]),
        server::sasl(&["SCRAM-SHA-256-PLUS"]),
    ] {
        let mut conn = started(Some("pw"));
        let error = conn.handle_input(&request).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Protocol(ProtocolError::UnsupportedAuth { .. })
            ),
            "{error:?}"
        );
    }
}

/// A SCRAM-SHA-256 server built on postgres-protocol's verifier generator,
/// so the client is checked against an independent implementation.
struct ScramServer {
    salt: String,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl ScramServer {
    fn new(password: &str) -> Self {
        let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
        let (_, rest) = verifier.split_once('$').unwrap();
        let (iterations_salt, keys) = rest.split_once('$').unwrap();
        let (iterations, salt) = iterations_salt.split_once(':').unwrap();
        let (stored_key, server_key) = keys.split_once(':').unwrap();
        ScramServer {
            salt: salt.into(),
            iterations: iterations.parse().unwrap(),
            stored_key: STANDARD.decode(stored_key).unwrap(),
            server_key: STANDARD.decode(server_key).unwrap(),
        }
    }

    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Checks the client's proof; returns the server's signature.
    fn check(
        &self,
        client_first_bare: &str,
        server_first: &str,
        client_final: &str,
    ) -> Option<Vec<u8>> {
        let (without_proof, proof) = client_final.split_once(",p=").unwrap();
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = Self::hmac(&self.stored_key, &auth_message);
        let client_key: Vec<u8> = STANDARD
            .decode(proof)
            .unwrap()
            .iter()
            .zip(&signature)
            .map(|(p, s)| p ^ s)
            .collect();
        (Sha256::digest(&client_key).to_vec() == self.stored_key)
            .then(|| Self::hmac(&self.server_key, &auth_message))
    }
}

/// Runs the SCRAM exchange up to the server's final message, whose
/// signature `tamper` may change.
fn scram_login(
    password: &str,
    tamper: impl FnOnce(&mut Vec<u8>),
) -> (Connection, Result<(), Error>) {
    let server = ScramServer::new("pencil");
    let mut conn = started(Some(password));
    conn.handle_input(&server::sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]))
        .unwrap();

    let sent = take_transmit(&mut conn);
    let [(b'p', initial)] = sent.as_slice() else {
        panic!("expected one SASLInitialResponse, got {sent:?}")
    };
    let mechanism_end = initial.iter().position(|b| *b == 0).unwrap();
    assert_eq!(&initial[..mechanism_end], b"SCRAM-SHA-256");
    let client_first = std::str::from_utf8(&initial[mechanism_end + 5..]).unwrap();
    let client_nonce = client_first.strip_prefix("n,,n=,r=").unwrap();
    assert_eq!(client_nonce, STANDARD.encode(SEED));

    let server_first = format!(
        "r={client_nonce}3rfcNHYJY1ZVvWVs7j,s={},i={}",
        server.salt, server.iterations
    );
    conn.handle_input(&server::auth(11, server_first.as_bytes()))
        .unwrap();
    let sent = take_transmit(&mut conn);
    let [(b'p', client_final)] = sent.as_slice() else {
        panic!("expected one SASLResponse, got {sent:?}")
    };
    let client_final = std::str::from_utf8(client_final).unwrap();
    assert!(client_final.starts_with(&format!("c=biws,r={client_nonce}3rfcNHYJY1ZVvWVs7j,p=")));

    let signature = server.check(&client_first[3..], &server_first, client_final);
    let final_message = match signature {
        Some(mut signature) => {
            tamper(&mut signature);
            format!("v={}", STANDARD.encode(signature)).into_bytes()
        }
        None => b"e=invalid-proof".to_vec(),
    };
    let result = conn.handle_input(&server::auth(12, &final_message));
    (conn, result)
}

#[test]
fn scram_sha_256_login() {
    let (mut conn, result) = scram_login("pencil", |_| {});
    result.unwrap();
    conn.handle_input(&startup_reply()).unwrap();
    assert!(events(&mut conn).contains(&Event::Connected));
}

#[test]
fn scram_rejects_wrong_server_signature() {
    let (conn, result) = scram_login("pencil", |signature| signature[31] ^= 1);
    assert!(
        matches!(
            result,
            Err(Error::Protocol(ProtocolError::Scram(
                ScramError::SignatureMismatch
            )))
        ),
        "{result:?}"
    );
    assert!(conn.is_broken());
}

#[test]
fn scram_with_wrong_password_reports_server_rejection() {
    let (_, result) = scram_login("not pencil", |_| {});
    assert!(
        matches!(
            &result,
            Err(Error::Protocol(ProtocolError::Scram(ScramError::ServerRejected(e)))) if e == "invalid-proof"
        ),
        "{result:?}"
    );
}

#[test]
fn scram_requires_server_proof_before_success() {
    let mut conn = started(Some("pencil"));
    conn.handle_input(&server::sasl(&["SCRAM-SHA-256"]))
        .unwrap();
    let result = conn.handle_input(&server::auth_ok());
    assert!(
        matches!(
            result,
            Err(Error::Protocol(ProtocolError::Scram(
                ScramError::Incomplete
            )))
        ),
        "{result:?}"
    );
}

#[test]
fn scram_needs_enough_nonce_seed() {
    let mut conn = Connection::new(config(Some("pencil")), &[7; 8]);
    let result = conn.handle_input(&server::sasl(&["SCRAM-SHA-256"]));
    assert!(matches!(
        result,
        Err(Error::Protocol(ProtocolError::Scram(
            ScramError::NonceSeedTooShort { len: 8, .. }
        )))
    ));
}

#[test]
fn query_is_deferred_until_startup_completes() {
    let mut conn = started(None);
    let id = select(&mut conn);
    assert!(conn.poll_transmit().is_none());
    conn.handle_input(&startup_reply()).unwrap();

    let sent = take_transmit(&mut conn);
    let tags: Vec<u8> = sent.iter().map(|(tag, _)| *tag).collect();
    assert_eq!(tags, b"PBDES");
    assert_eq!(sent[0].1, b"\0SELECT $1::int4\0\x00\x01\x00\x00\x00\x17");
    // portal, statement, 1 format (binary), 1 param of 4 bytes, 1 result format (binary)
    assert_eq!(
        sent[1].1,
        b"\0\0\x00\x01\x00\x01\x00\x01\x00\x00\x00\x04\x00\x00\x00\x07\x00\x01\x00\x01"
    );
    assert_eq!(sent[2].1, b"P\0");
    assert_eq!(sent[3].1, b"\0\x00\x00\x00\x00");
    assert_eq!(sent[4].1, b"");

    conn.handle_input(&server::query_result(
        &[("int4", 23)],
        &[&[Some(&[0, 0, 0, 7])]],
        "SELECT 1",
    ))
    .unwrap();
    let events = events(&mut conn);
    let [Event::ParameterStatus { .. }, Event::Connected, Event::QueryComplete {
        id: done,
        rows,
        tag,
    }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(*done, id);
    assert_eq!(tag, "SELECT 1");
    assert_eq!(rows.columns()[0].type_oid, 23);
    assert_eq!(rows.columns()[0].format, 1);
    assert_eq!(rows.row(0).unwrap().get(0), Some(&[0, 0, 0, 7][..]));
}

#[test]
fn rows_with_null_cells() {
    let mut conn = connected();
    let id = conn.send_query("SELECT 1, 'x', NULL", &[], &[]).unwrap();
    assert!(conn.poll_transmit().is_some());
    conn.handle_input(&server::query_result(
        &[("a", 23), ("b", 25), ("c", 20)],
        &[
            &[Some(&[0, 0, 0, 1]), Some(b"x"), None],
            &[None, Some(b""), None],
        ],
        "SELECT 2",
    ))
    .unwrap();
    let events = events(&mut conn);
    let [Event::QueryComplete {
        id: done,
        rows,
        tag,
    }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!((*done, tag.as_str(), rows.len()), (id, "SELECT 2", 2));
    let names: Vec<&str> = rows.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let first = rows.row(0).unwrap();
    assert_eq!(
        (first.get(0), first.get(1), first.get(2)),
        (Some(&[0, 0, 0, 1][..]), Some(&b"x"[..]), None)
    );
    let second = rows.row(1).unwrap();
    assert_eq!(
        (second.get(0), second.get(1), second.get(2)),
        (None, Some(&b""[..]), None)
    );
}

#[test]
fn statements_without_rows() {
    let mut conn = connected();
    let insert = conn
        .send_query("INSERT INTO t VALUES (1)", &[], &[])
        .unwrap();
    let empty = conn.send_query("", &[], &[]).unwrap();
    let reply = [
        server::parse_complete(),
        server::bind_complete(),
        server::no_data(),
        server::command_complete("INSERT 0 1"),
        server::ready(b'I'),
        server::parse_complete(),
        server::bind_complete(),
        server::no_data(),
        server::empty_query(),
        server::ready(b'I'),
    ]
    .concat();
    conn.handle_input(&reply).unwrap();
    assert_eq!(
        events(&mut conn),
        [
            Event::QueryComplete {
                id: insert,
                rows: crate::rows::RawRows::new(Vec::new()),
                tag: "INSERT 0 1".into()
            },
            Event::QueryComplete {
                id: empty,
                rows: crate::rows::RawRows::new(Vec::new()),
                tag: String::new()
            },
        ]
    );
}

#[test]
fn query_error_then_recovery() {
    let mut conn = connected();
    let bad = conn.send_query("SELEC 1", &[], &[]).unwrap();
    let good = select(&mut conn);
    let sent = take_transmit(&mut conn);
    assert_eq!(
        sent.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        b"PBDESPBDES"
    );

    conn.handle_input(
        &[
            server::error("42601", "syntax error at or near \"SELEC\""),
            server::ready(b'I'),
        ]
        .concat(),
    )
    .unwrap();
    let events_after_error = events(&mut conn);
    let [Event::QueryFailed { id, error }] = events_after_error.as_slice() else {
        panic!("{events_after_error:?}")
    };
    assert_eq!(
        (*id, error.code.as_str(), error.severity.as_str()),
        (bad, "42601", "ERROR")
    );
    assert!(conn.is_ready());

    conn.handle_input(&server::query_result(
        &[("int4", 23)],
        &[&[Some(&[0, 0, 0, 7])]],
        "SELECT 1",
    ))
    .unwrap();
    assert!(matches!(
        events(&mut conn).as_slice(),
        [Event::QueryComplete { id, .. }] if *id == good
    ));
}

#[test]
fn error_mid_stream_discards_partial_rows() {
    let mut conn = connected();
    let id = conn
        .send_query("SELECT 1/(3-n) FROM ...", &[], &[])
        .unwrap();
    let reply = [
        server::parse_complete(),
        server::bind_complete(),
        server::row_description(&[("x", 23)]),
        server::data_row(&[Some(&[0, 0, 0, 1])]),
        server::error("22012", "division by zero"),
        server::ready(b'I'),
    ]
    .concat();
    conn.handle_input(&reply).unwrap();
    assert!(matches!(
        events(&mut conn).as_slice(),
        [Event::QueryFailed { id: failed, error }] if *failed == id && error.code == "22012"
    ));
}

#[test]
fn pipelined_queries_complete_in_order() {
    let mut conn = connected();
    let first = conn.send_query("SELECT 'a'", &[], &[]).unwrap();
    let second = conn.send_query("SELECT 'b', 'c'", &[], &[]).unwrap();
    let third = conn.send_query("BEGIN", &[], &[]).unwrap();
    assert!(first != second && second != third);
    let sent = conn.poll_transmit().unwrap();
    assert_eq!(
        frontend_messages(&sent).len(),
        15,
        "one buffer for the whole pipeline"
    );
    assert!(conn.poll_transmit().is_none());

    let reply = [
        server::query_result(&[("a", 25)], &[&[Some(b"a")]], "SELECT 1"),
        server::query_result(
            &[("b", 25), ("c", 25)],
            &[&[Some(b"b"), Some(b"c")]],
            "SELECT 1",
        ),
        server::parse_complete(),
        server::bind_complete(),
        server::no_data(),
        server::command_complete("BEGIN"),
        server::ready(b'T'),
    ]
    .concat();
    conn.handle_input(&reply).unwrap();
    let events = events(&mut conn);
    let ids: Vec<RequestId> = events
        .iter()
        .map(|event| match event {
            Event::QueryComplete { id, .. } => *id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, [first, second, third]);
    let Event::QueryComplete { rows, .. } = &events[1] else {
        unreachable!()
    };
    assert_eq!(rows.row(0).unwrap().get(1), Some(&b"c"[..]));
    assert_eq!(conn.transaction_status(), TransactionStatus::InTransaction);
}

#[test]
fn transaction_status_follows_ready_for_query() {
    let mut conn = connected();
    conn.send_query("SELECT 1/0", &[], &[]).unwrap();
    conn.handle_input(
        &[
            server::error("22012", "division by zero"),
            server::ready(b'E'),
        ]
        .concat(),
    )
    .unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Failed);
}

#[test]
fn asynchronous_messages_arrive_anywhere() {
    let mut conn = connected();
    let id = conn.send_query("SELECT 1", &[], &[]).unwrap();
    let reply = [
        server::parse_complete(),
        server::fields(b'N', "NOTICE", "00000", "first notice"),
        server::bind_complete(),
        server::row_description(&[("x", 23)]),
        server::notification(99, "jobs", "42"),
        server::data_row(&[Some(&[0, 0, 0, 1])]),
        server::parameter_status("TimeZone", "UTC"),
        server::command_complete("SELECT 1"),
        server::ready(b'I'),
        server::notification(100, "jobs", ""),
    ]
    .concat();
    conn.handle_input(&reply).unwrap();
    let events = events(&mut conn);
    assert_eq!(events.len(), 5, "{events:?}");
    assert!(
        matches!(&events[0], Event::Notice(n) if n.message == "first notice" && n.code == "00000")
    );
    assert_eq!(
        events[1],
        Event::Notification {
            process_id: 99,
            channel: "jobs".into(),
            payload: "42".into()
        }
    );
    assert_eq!(
        events[2],
        Event::ParameterStatus {
            name: "TimeZone".into(),
            value: "UTC".into()
        }
    );
    assert!(matches!(&events[3], Event::QueryComplete { id: done, .. } if *done == id));
    assert!(matches!(
        &events[4],
        Event::Notification {
            process_id: 100,
            ..
        }
    ));
    assert_eq!(conn.parameter("TimeZone"), Some("UTC"));
}

#[test]
fn error_response_keeps_every_field() {
    let mut conn = connected();
    conn.send_query("INSERT ...", &[], &[]).unwrap();
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', "ERREUR"),
        (b'V', "ERROR"),
        (b'C', "23505"),
        (b'M', "duplicate key"),
        (b'D', "Key (id)=(1) already exists."),
        (b'H', "try another"),
        (b'P', "12"),
        (b's', "public"),
        (b't', "users"),
        (b'c', "id"),
        (b'n', "users_pkey"),
        (b'F', "nbtinsert.c"),
    ] {
        body.push(field);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    conn.handle_input(&[server::frame(b'E', &body), server::ready(b'I')].concat())
        .unwrap();
    let events = events(&mut conn);
    let [Event::QueryFailed { error, .. }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        *error,
        ServerError {
            severity: "ERROR".into(),
            code: "23505".into(),
            message: "duplicate key".into(),
            detail: Some("Key (id)=(1) already exists.".into()),
            hint: Some("try another".into()),
            position: Some(12),
            schema: Some("public".into()),
            table: Some("users".into()),
            column: Some("id".into()),
            constraint: Some("users_pkey".into()),
        }
    );
}

#[test]
fn fatal_error_while_ready_breaks_the_connection() {
    let mut conn = connected();
    conn.send_query("SELECT pg_sleep(10)", &[], &[]).unwrap();
    let reply = server::fields(
        b'E',
        "FATAL",
        "57P01",
        "terminating connection due to administrator command",
    );
    match conn.handle_input(&reply) {
        Err(Error::Server(error)) => assert_eq!(error.code, "57P01"),
        other => panic!("{other:?}"),
    }
    assert!(conn.is_broken());
    assert!(!conn.is_ready());
    assert!(conn.broken_reason().unwrap().contains("57P01"));
}

#[test]
fn encoding_errors_leave_the_connection_usable() {
    let mut conn = connected();
    let error = conn.send_query("SELECT '\0'", &[], &[]).unwrap_err();
    assert!(matches!(
        error,
        Error::Protocol(ProtocolError::Encode {
            message: "Parse",
            ..
        })
    ));
    let too_many = vec![None; 70_000];
    let error = conn.send_query("SELECT 1", &[], &too_many).unwrap_err();
    assert!(matches!(
        error,
        Error::Protocol(ProtocolError::Encode {
            message: "Bind",
            ..
        })
    ));
    assert!(conn.poll_transmit().is_none());
    assert!(conn.is_ready());
    let id = select(&mut conn);
    conn.handle_input(&server::query_result(&[("int4", 23)], &[], "SELECT 0"))
        .unwrap();
    assert!(
        matches!(events(&mut conn).as_slice(), [Event::QueryComplete { id: done, .. }] if *done == id)
    );
}

#[test]
fn terminate_queues_terminate_and_closes() {
    let mut conn = connected();
    let id = select(&mut conn);
    conn.terminate();
    let sent = take_transmit(&mut conn);
    assert_eq!(sent.last(), Some(&(b'X', Vec::new())));
    assert_eq!(sent.len(), 6);
    assert!(matches!(
        conn.send_query("SELECT 1", &[], &[]),
        Err(Error::Closed(_))
    ));
    conn.handle_input(&server::query_result(&[], &[], "SELECT 0"))
        .unwrap();
    assert!(conn.poll_event().is_none(), "request {id:?} was abandoned");
    assert!(!conn.is_ready() && !conn.is_broken());
    conn.terminate();
    assert!(conn.poll_transmit().is_none());
}

/// A whole session: SCRAM-free login, a pipeline with an error, async
/// messages, a NULL cell.
fn full_transcript() -> Vec<u8> {
    [
        server::auth(5, &[9, 8, 7, 6]),
        server::auth_ok(),
        server::parameter_status("server_version", "15.8"),
        server::parameter_status("client_encoding", "UTF8"),
        server::backend_key(1, 2),
        server::fields(b'N', "WARNING", "01000", "hello"),
        server::ready(b'I'),
        server::query_result(
            &[("a", 23), ("b", 25)],
            &[&[Some(&[0, 0, 0, 1]), None]],
            "SELECT 1",
        ),
        server::error("42P01", "relation \"nope\" does not exist"),
        server::ready(b'I'),
        server::parse_complete(),
        server::bind_complete(),
        server::row_description(&[("n", 20)]),
        server::notification(5, "chan", "payload"),
        server::data_row(&[Some(&[0, 0, 0, 0, 0, 0, 0, 1])]),
        server::data_row(&[Some(&[0, 0, 0, 0, 0, 0, 0, 2])]),
        server::command_complete("SELECT 2"),
        server::ready(b'T'),
    ]
    .concat()
}

fn replay(chunks: &[&[u8]]) -> (Vec<Event>, Vec<u8>) {
    let mut conn = Connection::new(config(Some("secret")), SEED);
    let mut sent = conn.poll_transmit().unwrap();
    for sql in ["SELECT 1, NULL", "SELECT * FROM nope", "SELECT n FROM s"] {
        conn.send_query(sql, &[], &[]).unwrap();
    }
    for chunk in chunks {
        conn.handle_input(chunk).unwrap();
        sent.extend(conn.poll_transmit().unwrap_or_default());
    }
    assert!(conn.is_ready());
    assert_eq!(conn.transaction_status(), TransactionStatus::InTransaction);
    (events(&mut conn), sent)
}

#[test]
fn input_split_at_every_byte_boundary_gives_the_same_result() {
    let transcript = full_transcript();
    let expected = replay(&[&transcript]);
    assert_eq!(expected.0.len(), 8, "{:?}", expected.0);
    for split in 0..=transcript.len() {
        let (head, tail) = transcript.split_at(split);
        assert_eq!(replay(&[head, tail]), expected, "split at byte {split}");
    }
    let bytes: Vec<&[u8]> = transcript.chunks(1).collect();
    assert_eq!(replay(&bytes), expected, "one byte at a time");
    let thirds: Vec<&[u8]> = transcript.chunks(transcript.len() / 3 + 1).collect();
    assert_eq!(replay(&thirds), expected);
}

fn assert_fatal(conn: &mut Connection, input: &[u8], check: impl FnOnce(&Error) -> bool) {
    let error = conn
        .handle_input(input)
        .expect_err("input must be rejected");
    assert!(check(&error), "unexpected error kind: {error:?}");
    assert!(conn.is_broken());
    assert!(!conn.is_ready());
    assert!(conn.poll_transmit().is_none());
    assert!(conn.handle_input(&server::ready(b'I')).is_err());
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let protocol =
        |f: fn(&ProtocolError) -> bool| move |e: &Error| matches!(e, Error::Protocol(p) if f(p));
    let is_malformed = protocol(|p| matches!(p, ProtocolError::Malformed { .. }));

    assert_fatal(&mut connected(), b"Z\x00\x00\x00\x03I", is_malformed);
    assert_fatal(&mut connected(), b"Z\xff\xff\xff\xffI", is_malformed);
    assert_fatal(
        &mut connected(),
        b"D\x7f\xff\xff\xff",
        protocol(|p| matches!(p, ProtocolError::TooLarge { tag: b'D', .. })),
    );
    assert_fatal(
        &mut connected(),
        b"Q\x00\x00\x00\x04",
        protocol(|p| matches!(p, ProtocolError::UnknownMessage { tag: b'Q' })),
    );
    assert_fatal(
        &mut connected(),
        b"\0\0\0\0\0",
        protocol(|p| matches!(p, ProtocolError::UnknownMessage { .. })),
    );
    // ReadyForQuery without its status byte, and with an unknown status.
    assert_fatal(&mut connected(), &server::frame(b'Z', &[]), is_malformed);
    // Body longer than the message allows.
    assert_fatal(&mut connected(), &server::frame(b'Z', b"II"), is_malformed);
    // A NoticeResponse whose field is not terminated.
    assert_fatal(
        &mut connected(),
        &server::frame(b'N', b"Mno terminator"),
        is_malformed,
    );
    // A ParameterStatus that is not UTF-8.
    assert_fatal(
        &mut connected(),
        &server::frame(b'S', b"a\0\xff\0"),
        is_malformed,
    );

    let mut conn = connected();
    conn.send_query("SELECT 1", &[], &[]).unwrap();
    conn.handle_input(&server::ready(b'X')[..0]).unwrap();
    assert_fatal(&mut conn, &server::ready(b'X'), is_malformed);

    let in_rows = || {
        let mut conn = connected();
        conn.send_query("SELECT 1", &[], &[]).unwrap();
        conn.handle_input(
            &[
                server::parse_complete(),
                server::bind_complete(),
                server::row_description(&[("a", 23), ("b", 23)]),
            ]
            .concat(),
        )
        .unwrap();
        conn
    };
    // Wrong number of cells for the row description.
    assert_fatal(&mut in_rows(), &server::data_row(&[None]), is_malformed);
    // A cell longer than the message.
    assert_fatal(
        &mut in_rows(),
        &server::frame(b'D', b"\x00\x02\x00\x00\x00\x09abc\xff\xff\xff\xff"),
        is_malformed,
    );
    // Bytes left over after the last cell, and a cut-off length word.
    assert_fatal(
        &mut in_rows(),
        &server::frame(b'D', b"\x00\x02\xff\xff\xff\xff\xff\xff\xff\xffxy"),
        is_malformed,
    );
    assert_fatal(
        &mut in_rows(),
        &server::frame(b'D', b"\x00\x02\xff\xff\xff\xff\xff\xff"),
        is_malformed,
    );
    // A truncated row description.
    let mut conn = connected();
    conn.send_query("SELECT 1", &[], &[]).unwrap();
    conn.handle_input(&[server::parse_complete(), server::bind_complete()].concat())
        .unwrap();
    assert_fatal(
        &mut conn,
        &server::frame(b'T', b"\x00\x01a\0\0\0"),
        is_malformed,
    );
    // A truncated authentication request.
    assert_fatal(
        &mut started(Some("pw")),
        &server::frame(b'R', b"\0\0"),
        is_malformed,
    );
    assert_fatal(
        &mut started(Some("pw")),
        &server::auth(5, &[1, 2]),
        is_malformed,
    );
}

#[test]
fn messages_out_of_order_are_errors() {
    let unexpected = |state: &'static str| move |e: &Error| matches!(e, Error::Protocol(ProtocolError::UnexpectedMessage { state: s, .. }) if *s == state);
    assert_fatal(
        &mut connected(),
        &server::data_row(&[]),
        unexpected("idle with no request in flight"),
    );
    assert_fatal(
        &mut connected(),
        &server::ready(b'I'),
        unexpected("idle with no request in flight"),
    );
    assert_fatal(
        &mut connected(),
        &server::error("42000", "stray"),
        unexpected("idle with no request in flight"),
    );
    assert_fatal(
        &mut started(None),
        &server::ready(b'I'),
        unexpected("awaiting an authentication request"),
    );
    assert_fatal(
        &mut started(None),
        &server::data_row(&[]),
        unexpected("awaiting an authentication request"),
    );
    let mut conn = started(Some("pw"));
    conn.handle_input(&server::auth(3, &[])).unwrap();
    assert_fatal(
        &mut conn,
        &server::auth(3, &[]),
        unexpected("awaiting the verdict on the password"),
    );
    let mut conn = started(None);
    conn.handle_input(&server::auth_ok()).unwrap();
    assert_fatal(
        &mut conn,
        &server::auth_ok(),
        unexpected("awaiting the first ReadyForQuery"),
    );

    let mut conn = connected();
    select(&mut conn);
    assert_fatal(
        &mut conn,
        &server::bind_complete(),
        unexpected("awaiting ParseComplete"),
    );
    let mut conn = connected();
    select(&mut conn);
    assert_fatal(
        &mut conn,
        &[server::parse_complete(), server::ready(b'I')].concat(),
        unexpected("awaiting BindComplete"),
    );
    let mut conn = connected();
    select(&mut conn);
    let copy_in = server::frame(b'G', b"\x01\x00\x00");
    assert_fatal(
        &mut conn,
        &[
            server::parse_complete(),
            server::bind_complete(),
            server::no_data(),
            copy_in,
        ]
        .concat(),
        |e| matches!(e, Error::Protocol(ProtocolError::Unsupported { .. })),
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    // xorshift: deterministic, no dependency.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let valid = full_transcript();
    for round in 0..3000 {
        let mut conn = if round % 2 == 0 {
            started(Some("pw"))
        } else {
            connected()
        };
        conn.send_query("SELECT 1", &[], &[]).unwrap();
        let input: Vec<u8> = if round % 3 == 0 {
            (0..next() % 64).map(|_| next() as u8).collect()
        } else {
            let mut mutated = valid.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % mutated.len();
                mutated[at] = next() as u8;
            }
            mutated
        };
        for chunk in input.chunks(1 + (next() % 17) as usize) {
            if conn.handle_input(chunk).is_err() {
                break;
            }
        }
        events(&mut conn);
        conn.poll_transmit();
    }
}

/// `Client` over an in-memory pipe: the test plays the server.
mod client {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::sync::mpsc;

    use super::*;

    struct Pipe {
        from_server: mpsc::UnboundedReceiver<Vec<u8>>,
        to_server: Arc<Mutex<Vec<u8>>>,
    }

    #[async_trait::async_trait]
    impl Transport for Pipe {
        async fn write(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
            self.to_server.lock().unwrap().extend(bytes);
            Ok(())
        }

        async fn read(&mut self) -> crate::Result<Option<Vec<u8>>> {
            Ok(self.from_server.recv().await)
        }
    }

    /// What the client wrote, for the test to inspect.
    type Sent = Arc<Mutex<Vec<u8>>>;

    fn pipe() -> (Pipe, mpsc::UnboundedSender<Vec<u8>>, Sent) {
        let (server, from_server) = mpsc::unbounded_channel();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let pipe = Pipe {
            from_server,
            to_server: sent.clone(),
        };
        (pipe, server, sent)
    }

    #[tokio::test]
    async fn end_of_stream_during_startup_is_closed() {
        let (pipe, server, _) = pipe();
        drop(server);
        let result = Client::connect(pipe, config(None), SEED).await;
        assert!(
            matches!(&result, Err(Error::Closed(Some(why))) if why.contains("during startup")),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn rejected_login_is_an_auth_error() {
        let (pipe, server, _) = pipe();
        server
            .send(server::fields(
                b'E',
                "FATAL",
                "28000",
                "no pg_hba.conf entry",
            ))
            .unwrap();
        let result = Client::connect(pipe, config(None), SEED).await;
        assert!(
            matches!(&result, Err(Error::Auth { code: Some(code), .. }) if code == "28000"),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn abandoned_query_does_not_confuse_the_next_one() {
        let (pipe, server, sent) = pipe();
        server.send(startup_reply()).unwrap();
        let client = Client::connect(pipe, config(None), SEED).await.unwrap();

        let abandoned = client.query_raw("SELECT 'old'", &[], &[]);
        assert!(tokio::time::timeout(Duration::from_millis(20), abandoned)
            .await
            .is_err());

        server
            .send(server::prepared_result(
                &[("a", 25)],
                &[&[Some(b"old")]],
                "SELECT 1",
            ))
            .unwrap();
        server
            .send(server::prepared_result(
                &[("a", 25)],
                &[&[Some(b"new")]],
                "SELECT 1",
            ))
            .unwrap();
        let rows = client.query_raw("SELECT 'new'", &[], &[]).await.unwrap();
        assert_eq!(rows.row(0).unwrap().get(0), Some(&b"new"[..]));

        drop(server);
        let error = client.query_raw("SELECT 1", &[], &[]).await.unwrap_err();
        assert!(matches!(error, Error::Closed(_)), "{error:?}");
        let error = client.query_raw("SELECT 1", &[], &[]).await.unwrap_err();
        assert!(matches!(error, Error::Closed(_)), "{error:?}");

        let sent = sent.lock().unwrap().clone();
        let startup_len = i32::from_be_bytes(sent[..4].try_into().unwrap()) as usize;
        let tags: Vec<u8> = frontend_messages(&sent[startup_len..])
            .iter()
            .map(|(tag, _)| *tag)
            .collect();
        assert_eq!(tags, b"PDHBESPDHBESPDH", "described, then bound");
    }

    #[tokio::test]
    async fn statement_error_keeps_the_client_usable() {
        let (pipe, server, sent) = pipe();
        server.send(startup_reply()).unwrap();
        let client = Client::connect(pipe, config(None), SEED).await.unwrap();
        server
            .send([server::error("42601", "syntax error"), server::ready(b'I')].concat())
            .unwrap();
        let error = client.query_raw("SELEC 1", &[], &[]).await.unwrap_err();
        assert!(
            matches!(&error, Error::Server(e) if e.code == "42601"),
            "{error:?}"
        );
        server
            .send(server::prepared_result(&[("a", 23)], &[], "SELECT 0"))
            .unwrap();
        let rows = client
            .query_raw("SELECT 1 WHERE false", &[], &[])
            .await
            .unwrap();
        assert!(rows.is_empty());
        client.close().await.unwrap();
        assert_eq!(
            sent.lock().unwrap().last_chunk::<5>(),
            Some(&[b'X', 0, 0, 0, 4])
        );
    }
}
