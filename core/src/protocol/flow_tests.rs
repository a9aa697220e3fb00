//! Transcript tests for the flows beyond one-shot statements: the statement
//! cache and its recovery, unnamed mode, simple queries, portals and COPY.

use super::tests::{connected, events, server, take_transmit};
use super::*;
use crate::error::Error;
use crate::rows::RawRows;
use crate::types::{Rows, Value};

fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    server::frame(tag, body)
}

fn parameter_description(oids: &[u32]) -> Vec<u8> {
    let mut body = (oids.len() as u16).to_be_bytes().to_vec();
    for oid in oids {
        body.extend_from_slice(&oid.to_be_bytes());
    }
    frame(b't', &body)
}

fn copy_response(tag: u8, binary: bool, columns: u16) -> Vec<u8> {
    let mut body = vec![u8::from(binary)];
    body.extend_from_slice(&columns.to_be_bytes());
    for _ in 0..columns {
        body.extend_from_slice(&i16::from(binary).to_be_bytes());
    }
    frame(tag, &body)
}

fn copy_data(data: &[u8]) -> Vec<u8> {
    frame(b'd', data)
}

fn copy_done() -> Vec<u8> {
    frame(b'c', &[])
}

fn close_complete() -> Vec<u8> {
    frame(b'3', &[])
}

fn portal_suspended() -> Vec<u8> {
    frame(b's', &[])
}

/// The message tags the client sent, as a string (`"PDH"`).
fn tags(messages: &[(u8, Vec<u8>)]) -> String {
    messages.iter().map(|(t, _)| char::from(*t)).collect()
}

fn cstrs(body: &[u8]) -> Vec<String> {
    body.split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// A Bind body's statement name and result format codes.
fn bind_parts(body: &[u8]) -> (String, Vec<i16>) {
    let names = cstrs(body);
    let mut at = names[0].len() + 1 + names[1].len() + 1;
    let read_i16 = |at: &mut usize| {
        let v = i16::from_be_bytes([body[*at], body[*at + 1]]);
        *at += 2;
        v
    };
    let formats = read_i16(&mut at);
    at += 2 * formats as usize;
    let params = read_i16(&mut at);
    for _ in 0..params {
        let len = i32::from_be_bytes(body[at..at + 4].try_into().unwrap());
        at += 4 + len.max(0) as usize;
    }
    let results = read_i16(&mut at);
    let result_formats = (0..results).map(|_| read_i16(&mut at)).collect();
    (names[1].clone(), result_formats)
}

const MOOD_OID: u32 = 90_001;

fn prepare_mood(conn: &mut Connection) -> RequestId {
    conn.send_prepared(
        "SELECT $1::int4 AS n, mood FROM t",
        &[23],
        &[Some(7i32.to_be_bytes().to_vec())],
    )
    .unwrap()
}

fn described_mood() -> Vec<u8> {
    [
        server::parse_complete(),
        parameter_description(&[23]),
        server::row_description(&[("n", 23), ("mood", MOOD_OID)]),
    ]
    .concat()
}

fn mood_rows() -> Vec<u8> {
    [
        server::bind_complete(),
        server::data_row(&[Some(&[0, 0, 0, 7]), Some(b"happy")]),
        server::command_complete("SELECT 1"),
        server::ready(b'I'),
    ]
    .concat()
}

fn complete_rows(event: &Event) -> &RawRows {
    match event {
        Event::QueryComplete { rows, .. } => rows,
        other => panic!("expected QueryComplete, got {other:?}"),
    }
}

#[test]
fn prepared_statement_is_described_first_then_cached() {
    let mut conn = connected();
    let id = prepare_mood(&mut conn);
    let sent = take_transmit(&mut conn);
    assert_eq!(
        tags(&sent),
        "PDH",
        "Parse, Describe statement, Flush: no Sync yet"
    );
    assert_eq!(cstrs(&sent[0].1)[0], "keel_1");
    assert_eq!(sent[1].1, b"Skeel_1\0");

    conn.handle_input(&described_mood()).unwrap();
    let sent = take_transmit(&mut conn);
    assert_eq!(tags(&sent), "BES");
    assert_eq!(
        bind_parts(&sent[0].1),
        ("keel_1".to_string(), vec![1, 0]),
        "binary for int4, text for the unknown enum"
    );
    conn.handle_input(&mood_rows()).unwrap();
    let got = events(&mut conn);
    assert!(matches!(got[0], Event::QueryComplete { id: done, .. } if done == id));
    let rows = Rows::decode(&["n".into(), "mood".into()], complete_rows(&got[0])).unwrap();
    assert_eq!(
        rows.rows,
        vec![vec![Value::Int4(7), Value::Text("happy".into())]]
    );
    assert_eq!(conn.cached_statements(), 1);

    let second = prepare_mood(&mut conn);
    let sent = take_transmit(&mut conn);
    assert_eq!(
        tags(&sent),
        "BES",
        "a cached statement is one Bind/Execute/Sync"
    );
    assert_eq!(bind_parts(&sent[0].1), ("keel_1".to_string(), vec![1, 0]));
    conn.handle_input(&mood_rows()).unwrap();
    assert!(matches!(&events(&mut conn)[..], [Event::QueryComplete { id, .. }] if *id == second));
}

#[test]
fn requests_wait_behind_a_statement_being_described() {
    let mut conn = connected();
    let first = prepare_mood(&mut conn);
    let second = conn.send_query("SELECT 1", &[], &[]).unwrap();
    assert_eq!(tags(&take_transmit(&mut conn)), "PDH");
    conn.handle_input(&described_mood()).unwrap();
    assert_eq!(
        tags(&take_transmit(&mut conn)),
        "BESPBDES",
        "the held one-shot query follows the Bind"
    );
    conn.handle_input(&mood_rows()).unwrap();
    conn.handle_input(&server::query_result(
        &[("?column?", 23)],
        &[&[Some(&[0, 0, 0, 1])]],
        "SELECT 1",
    ))
    .unwrap();
    let ids: Vec<RequestId> = events(&mut conn)
        .iter()
        .map(|e| match e {
            Event::QueryComplete { id, .. } => *id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, vec![first, second]);
}

fn prepare_count(conn: &mut Connection) -> RequestId {
    conn.send_prepared("SELECT count(*) AS c FROM t", &[], &[])
        .unwrap()
}

fn described_count() -> Vec<u8> {
    [
        server::parse_complete(),
        parameter_description(&[]),
        server::row_description(&[("c", 20)]),
    ]
    .concat()
}

fn count_rows() -> Vec<u8> {
    [
        server::bind_complete(),
        server::data_row(&[Some(&[0, 0, 0, 0, 0, 0, 0, 3])]),
        server::command_complete("SELECT 1"),
        server::ready(b'I'),
    ]
    .concat()
}

/// New statements queued together are described together, each in a unit
/// of its own, and executed together once described: two round trips for
/// the lot instead of one per statement plus one.
#[test]
fn new_statements_queued_together_are_described_together() {
    let mut conn = connected();
    conn.hold();
    let mood = prepare_mood(&mut conn);
    let count = prepare_count(&mut conn);
    let again = prepare_mood(&mut conn);
    assert!(take_transmit(&mut conn).is_empty(), "held");
    conn.release_held();
    let sent = take_transmit(&mut conn);
    assert_eq!(tags(&sent), "PDSPDS", "both described, nothing bound yet");
    assert_eq!(cstrs(&sent[0].1)[0], "keel_1");
    assert_eq!(cstrs(&sent[3].1)[0], "keel_2");

    conn.handle_input(&[described_mood(), server::ready(b'I')].concat())
        .unwrap();
    let sent = take_transmit(&mut conn);
    assert_eq!(
        tags(&sent),
        "BES",
        "the first execution goes as soon as it can"
    );
    assert_eq!(bind_parts(&sent[0].1), ("keel_1".to_string(), vec![1, 0]));
    conn.handle_input(&[described_count(), server::ready(b'I')].concat())
        .unwrap();
    let sent = take_transmit(&mut conn);
    assert_eq!(
        tags(&sent),
        "BESBES",
        "the others follow, the cached one too"
    );
    assert_eq!(bind_parts(&sent[0].1), ("keel_2".to_string(), vec![1]));
    assert_eq!(bind_parts(&sent[3].1), ("keel_1".to_string(), vec![1, 0]));

    conn.handle_input(&[mood_rows(), count_rows(), mood_rows()].concat())
        .unwrap();
    let ids: Vec<RequestId> = events(&mut conn)
        .iter()
        .map(|e| match e {
            Event::QueryComplete { id, .. } => *id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, vec![mood, count, again]);
    assert_eq!(conn.cached_statements(), 2);
}

/// A statement that fails to prepare ahead of time is prepared again by
/// its execution, which reports the server's error as its own; the other
/// statements of the batch are unaffected.
#[test]
fn a_failed_prefetch_leaves_the_error_to_its_execution() {
    let mut conn = connected();
    conn.hold();
    let bad = conn.send_prepared("SELEC 1", &[], &[]).unwrap();
    let count = prepare_count(&mut conn);
    conn.release_held();
    assert_eq!(tags(&take_transmit(&mut conn)), "PDSPDS");
    conn.handle_input(
        &[
            server::error("42601", "syntax error"),
            server::ready(b'I'),
            described_count(),
            server::ready(b'I'),
        ]
        .concat(),
    )
    .unwrap();
    assert_eq!(
        tags(&take_transmit(&mut conn)),
        "PDH",
        "the failed one is described the usual way, holding the rest"
    );
    conn.handle_input(&server::error("42601", "syntax error"))
        .unwrap();
    assert_eq!(tags(&take_transmit(&mut conn)), "SBES");
    conn.handle_input(&[server::ready(b'I'), count_rows()].concat())
        .unwrap();
    let got = events(&mut conn);
    assert!(
        matches!(&got[0], Event::QueryFailed { id, error } if *id == bad && error.code == "42601"),
        "{got:?}"
    );
    assert!(matches!(&got[1], Event::QueryComplete { id, .. } if *id == count));
    assert_eq!(conn.cached_statements(), 1);
}

/// Inside a transaction block new statements keep the one-at-a-time flow:
/// a statement that fails to parse ahead of time would abort the block
/// before the statements queued in front of it ran.
#[test]
fn inside_a_transaction_new_statements_are_described_one_at_a_time() {
    let mut conn = connected();
    conn.send_query("BEGIN", &[], &[]).unwrap();
    take_transmit(&mut conn);
    conn.handle_input(
        &[
            server::parse_complete(),
            server::bind_complete(),
            server::no_data(),
            server::command_complete("BEGIN"),
            server::ready(b'T'),
        ]
        .concat(),
    )
    .unwrap();
    assert!(matches!(
        &events(&mut conn)[..],
        [Event::QueryComplete { .. }]
    ));
    conn.hold();
    prepare_mood(&mut conn);
    prepare_count(&mut conn);
    conn.release_held();
    assert_eq!(tags(&take_transmit(&mut conn)), "PDH");
}

#[test]
fn parse_error_while_describing_sends_sync_and_releases_the_pipeline() {
    let mut conn = connected();
    let bad = conn.send_prepared("SELEC 1", &[], &[]).unwrap();
    let next = conn.send_query("SELECT 1", &[], &[]).unwrap();
    assert_eq!(tags(&take_transmit(&mut conn)), "PDH");
    conn.handle_input(&server::error("42601", "syntax error"))
        .unwrap();
    assert_eq!(tags(&take_transmit(&mut conn)), "SPBDES");
    conn.handle_input(&server::ready(b'I')).unwrap();
    conn.handle_input(&server::query_result(&[("x", 23)], &[], "SELECT 0"))
        .unwrap();
    let got = events(&mut conn);
    assert!(
        matches!(&got[0], Event::QueryFailed { id, error } if *id == bad && error.code == "42601")
    );
    assert!(matches!(&got[1], Event::QueryComplete { id, .. } if *id == next));
    assert_eq!(conn.cached_statements(), 0, "a failed Parse caches nothing");
}

#[test]
fn cache_evicts_least_recently_used_and_closes_it() {
    let mut conn = connected();
    conn.set_statement_cache_capacity(1);
    prepare_mood(&mut conn);
    take_transmit(&mut conn);
    conn.handle_input(&described_mood()).unwrap();
    take_transmit(&mut conn);
    conn.handle_input(&mood_rows()).unwrap();
    events(&mut conn);

    conn.send_prepared("SELECT 2", &[], &[]).unwrap();
    let sent = take_transmit(&mut conn);
    assert_eq!(cstrs(&sent[0].1)[0], "keel_2");
    conn.handle_input(
        &[
            server::parse_complete(),
            parameter_description(&[]),
            server::row_description(&[("?column?", 23)]),
        ]
        .concat(),
    )
    .unwrap();
    let sent = take_transmit(&mut conn);
    assert_eq!(tags(&sent), "BESCS", "the evicted statement is closed");
    assert_eq!(sent[3].1, b"Skeel_1\0");
    conn.handle_input(
        &[
            server::bind_complete(),
            server::data_row(&[Some(&[0, 0, 0, 2])]),
            server::command_complete("SELECT 1"),
            server::ready(b'I'),
            close_complete(),
            server::ready(b'I'),
        ]
        .concat(),
    )
    .unwrap();
    let got = events(&mut conn);
    assert_eq!(got.len(), 1, "closing is internal: {got:?}");
    assert_eq!(conn.cached_statements(), 1);
    assert!(!conn.is_busy());
}

fn cached_mood() -> Connection {
    let mut conn = connected();
    prepare_mood(&mut conn);
    take_transmit(&mut conn);
    conn.handle_input(&described_mood()).unwrap();
    take_transmit(&mut conn);
    conn.handle_input(&mood_rows()).unwrap();
    events(&mut conn);
    conn
}

#[test]
fn changed_result_type_invalidates_and_prepares_again_once() {
    let mut conn = cached_mood();
    let id = prepare_mood(&mut conn);
    assert_eq!(tags(&take_transmit(&mut conn)), "BES");
    conn.handle_input(
        &[
            server::error("0A000", "cached plan must not change result type"),
            server::ready(b'I'),
        ]
        .concat(),
    )
    .unwrap();
    assert!(events(&mut conn).is_empty(), "the failure is not reported");
    let sent = take_transmit(&mut conn);
    assert_eq!(
        tags(&sent),
        "CSPDH",
        "close the stale statement, prepare afresh"
    );
    assert_eq!(cstrs(&sent[2].1)[0], "keel_2");
    conn.handle_input(&[close_complete(), server::ready(b'I'), described_mood()].concat())
        .unwrap();
    assert_eq!(tags(&take_transmit(&mut conn)), "BES");
    conn.handle_input(&mood_rows()).unwrap();
    assert!(
        matches!(&events(&mut conn)[..], [Event::QueryComplete { id: done, .. }] if *done == id)
    );

    // A second failure of the fresh statement is not retried again.
    let again = prepare_mood(&mut conn);
    take_transmit(&mut conn);
    conn.handle_input(
        &[
            server::error("26000", "prepared statement \"keel_2\" does not exist"),
            server::ready(b'I'),
        ]
        .concat(),
    )
    .unwrap();
    assert_eq!(
        tags(&take_transmit(&mut conn)),
        "PDH",
        "26000: nothing to close"
    );
    conn.handle_input(&described_mood()).unwrap();
    take_transmit(&mut conn);
    conn.handle_input(
        &[
            server::error("0A000", "cached plan must not change result type"),
            server::ready(b'I'),
        ]
        .concat(),
    )
    .unwrap();
    let got = events(&mut conn);
    assert!(
        matches!(&got[..], [Event::QueryFailed { id, .. }] if *id == again),
        "{got:?}"
    );
}

#[test]
fn no_retry_inside_a_failed_transaction() {
    let mut conn = cached_mood();
    let id = prepare_mood(&mut conn);
    take_transmit(&mut conn);
    conn.handle_input(
        &[
            server::error("0A000", "cached plan must not change result type"),
            server::ready(b'E'),
        ]
        .concat(),
    )
    .unwrap();
    let got = events(&mut conn);
    assert!(
        matches!(&got[..], [Event::QueryFailed { id: failed, error }] if *failed == id && error.code == "0A000")
    );
    assert_eq!(
        conn.cached_statements(),
        0,
        "the stale entry is dropped anyway"
    );
    assert_eq!(tags(&take_transmit(&mut conn)), "CS");
}

#[test]
fn unnamed_mode_describes_every_time_within_one_sync() {
    let mut conn = connected();
    conn.set_statement_cache_capacity(0);
    for _ in 0..2 {
        prepare_mood(&mut conn);
        let sent = take_transmit(&mut conn);
        assert_eq!(tags(&sent), "PDH");
        assert_eq!(cstrs(&sent[0].1)[0], "", "unnamed statement");
        conn.handle_input(&described_mood()).unwrap();
        let sent = take_transmit(&mut conn);
        assert_eq!(tags(&sent), "BES");
        assert_eq!(bind_parts(&sent[0].1), (String::new(), vec![1, 0]));
        conn.handle_input(&mood_rows()).unwrap();
        assert_eq!(events(&mut conn).len(), 1);
    }
    assert_eq!(conn.cached_statements(), 0);
}

#[test]
fn simple_query_returns_every_statement_and_runs_alone() {
    let mut conn = connected();
    let script = conn
        .send_simple("CREATE TEMP TABLE t (a int); INSERT INTO t VALUES (1); SELECT a FROM t;;")
        .unwrap();
    let after = conn.send_query("SELECT 1", &[], &[]).unwrap();
    let sent = take_transmit(&mut conn);
    assert_eq!(tags(&sent), "Q", "the later query waits for the script");
    conn.handle_input(
        &[
            server::command_complete("CREATE TABLE"),
            server::command_complete("INSERT 0 1"),
            server::row_description(&[("a", 23)]),
            server::data_row(&[Some(b"1")]),
            server::command_complete("SELECT 1"),
            server::empty_query(),
            server::ready(b'I'),
        ]
        .concat(),
    )
    .unwrap();
    let got = events(&mut conn);
    let Event::SimpleQueryComplete { id, results } = &got[0] else {
        panic!("{got:?}");
    };
    assert_eq!(*id, script);
    let tags_seen: Vec<&str> = results.iter().map(|r| r.tag.as_str()).collect();
    assert_eq!(tags_seen, ["CREATE TABLE", "INSERT 0 1", "SELECT 1", ""]);
    assert_eq!(
        results[2].rows.iter().next().unwrap().get(0),
        Some(&b"1"[..])
    );
    assert_eq!(tags(&take_transmit(&mut conn)), "PBDES");
    conn.handle_input(&server::query_result(&[("x", 23)], &[], "SELECT 0"))
        .unwrap();
    assert!(matches!(&events(&mut conn)[..], [Event::QueryComplete { id, .. }] if *id == after));
}

#[test]
fn simple_query_error_skips_the_rest_and_keeps_the_session() {
    let mut conn = connected();
    let id = conn.send_simple("SELECT 1; SELECT nope; SELECT 3").unwrap();
    take_transmit(&mut conn);
    conn.handle_input(
        &[
            server::row_description(&[("?column?", 23)]),
            server::data_row(&[Some(b"1")]),
            server::command_complete("SELECT 1"),
            server::error("42703", "column \"nope\" does not exist"),
            server::ready(b'I'),
        ]
        .concat(),
    )
    .unwrap();
    let got = events(&mut conn);
    assert!(
        matches!(&got[..], [Event::QueryFailed { id: failed, error }] if *failed == id && error.code == "42703")
    );
    assert!(conn.is_ready() && !conn.is_busy());
}

#[test]
fn portal_streams_in_bounded_batches() {
    let mut conn = connected();
    let id = conn.send_portal("SELECT n FROM big", &[], &[], 2).unwrap();
    let sent = take_transmit(&mut conn);
    assert_eq!(tags(&sent), "PBDEH");
    assert_eq!(
        &sent[3].1[1..],
        2i32.to_be_bytes(),
        "Execute with max_rows = 2"
    );
    let row = |n: u8| server::data_row(&[Some(&[0, 0, 0, n])]);
    conn.handle_input(
        &[
            server::parse_complete(),
            server::bind_complete(),
            server::row_description(&[("n", 23)]),
            row(1),
            row(2),
            portal_suspended(),
        ]
        .concat(),
    )
    .unwrap();
    let got = events(&mut conn);
    assert!(matches!(&got[..], [Event::RowBatch { id: b, rows }] if *b == id && rows.len() == 2));
    assert!(
        take_transmit(&mut conn).is_empty(),
        "nothing until the caller asks"
    );
    conn.fetch_more(id).unwrap();
    assert_eq!(tags(&take_transmit(&mut conn)), "EH");
    conn.handle_input(&[row(3), server::command_complete("SELECT 3")].concat())
        .unwrap();
    assert_eq!(
        tags(&take_transmit(&mut conn)),
        "S",
        "Sync once the portal is done"
    );
    conn.handle_input(&server::ready(b'I')).unwrap();
    let got = events(&mut conn);
    assert!(
        matches!(&got[..], [Event::QueryComplete { rows, tag, .. }] if rows.len() == 1 && tag == "SELECT 3")
    );
    assert!(conn.fetch_more(id).is_err(), "the portal is gone");
}

#[test]
fn portal_closed_early() {
    let mut conn = connected();
    let id = conn.send_portal("SELECT n FROM big", &[], &[], 1).unwrap();
    let queued = conn.send_query("SELECT 1", &[], &[]).unwrap();
    assert_eq!(tags(&take_transmit(&mut conn)), "PBDEH");
    conn.handle_input(
        &[
            server::parse_complete(),
            server::bind_complete(),
            server::row_description(&[("n", 23)]),
            server::data_row(&[Some(&[0, 0, 0, 1])]),
            portal_suspended(),
        ]
        .concat(),
    )
    .unwrap();
    events(&mut conn);
    conn.close_portal(id).unwrap();
    assert_eq!(tags(&take_transmit(&mut conn)), "SPBDES");
    conn.handle_input(&server::ready(b'I')).unwrap();
    conn.handle_input(&server::query_result(&[("x", 23)], &[], "SELECT 0"))
        .unwrap();
    let got = events(&mut conn);
    assert!(
        matches!(&got[0], Event::QueryComplete { id: done, tag, .. } if *done == id && tag.is_empty())
    );
    assert!(matches!(&got[1], Event::QueryComplete { id: done, .. } if *done == queued));
}

#[test]
fn copy_in_sends_data_and_reports_the_row_count() {
    let mut conn = connected();
    let id = conn.copy_in("COPY t FROM STDIN").unwrap();
    assert!(conn.copy_data(id, b"1\n").is_err(), "not in COPY mode yet");
    assert_eq!(tags(&take_transmit(&mut conn)), "Q");
    conn.handle_input(&copy_response(b'G', false, 2)).unwrap();
    assert_eq!(
        events(&mut conn),
        vec![Event::CopyInReady {
            id,
            binary: false,
            columns: 2
        }]
    );
    conn.copy_data(id, b"1\ta\n2\t").unwrap();
    conn.copy_data(id, b"b\n").unwrap();
    conn.copy_done(id).unwrap();
    let sent = take_transmit(&mut conn);
    assert_eq!(tags(&sent), "ddc");
    assert_eq!(sent[0].1, b"1\ta\n2\t");
    conn.handle_input(&[server::command_complete("COPY 2"), server::ready(b'I')].concat())
        .unwrap();
    assert!(
        matches!(&events(&mut conn)[..], [Event::QueryComplete { tag, .. }] if tag == "COPY 2")
    );
}

#[test]
fn copy_fail_aborts_the_copy() {
    let mut conn = connected();
    let id = conn.copy_in("COPY t FROM STDIN (FORMAT binary)").unwrap();
    take_transmit(&mut conn);
    conn.handle_input(&copy_response(b'G', true, 1)).unwrap();
    assert!(matches!(
        &events(&mut conn)[..],
        [Event::CopyInReady { binary: true, .. }]
    ));
    conn.copy_fail(id, "client gave up").unwrap();
    let sent = take_transmit(&mut conn);
    assert_eq!(tags(&sent), "f");
    assert_eq!(sent[0].1, b"client gave up\0");
    conn.handle_input(
        &[
            server::error("57014", "COPY from stdin failed: client gave up"),
            server::ready(b'I'),
        ]
        .concat(),
    )
    .unwrap();
    assert!(
        matches!(&events(&mut conn)[..], [Event::QueryFailed { error, .. }] if error.code == "57014")
    );
}

#[test]
fn copy_in_inside_a_simple_query_is_refused_with_copy_fail() {
    let mut conn = connected();
    let id = conn.send_simple("COPY t FROM STDIN").unwrap();
    take_transmit(&mut conn);
    conn.handle_input(&copy_response(b'G', false, 1)).unwrap();
    assert_eq!(tags(&take_transmit(&mut conn)), "f");
    conn.handle_input(
        &[
            server::error("57014", "COPY from stdin failed"),
            server::ready(b'I'),
        ]
        .concat(),
    )
    .unwrap();
    assert!(matches!(&events(&mut conn)[..], [Event::QueryFailed { id: f, .. }] if *f == id));
}

fn copy_out_transcript() -> Vec<u8> {
    [
        copy_response(b'H', false, 2),
        copy_data(b"1\ta\n"),
        server::notification(9, "c", "p"),
        copy_data(b"2\tb\n"),
        copy_done(),
        server::command_complete("COPY 2"),
        server::ready(b'I'),
    ]
    .concat()
}

#[test]
fn copy_out_through_simple_and_extended_queries() {
    let mut conn = connected();
    let id = conn.send_simple("COPY t TO STDOUT").unwrap();
    take_transmit(&mut conn);
    conn.handle_input(&copy_out_transcript()).unwrap();
    let got = events(&mut conn);
    assert_eq!(
        got[0],
        Event::CopyData {
            id,
            data: b"1\ta\n".to_vec()
        }
    );
    assert!(matches!(got[1], Event::Notification { .. }));
    assert_eq!(
        got[2],
        Event::CopyData {
            id,
            data: b"2\tb\n".to_vec()
        }
    );
    assert!(
        matches!(&got[3], Event::SimpleQueryComplete { results, .. } if results[0].tag == "COPY 2")
    );

    let id = conn.send_query("COPY t TO STDOUT", &[], &[]).unwrap();
    take_transmit(&mut conn);
    conn.handle_input(
        &[
            server::parse_complete(),
            server::bind_complete(),
            server::no_data(),
            copy_out_transcript(),
        ]
        .concat(),
    )
    .unwrap();
    let got = events(&mut conn);
    assert_eq!(got.len(), 4);
    assert!(
        matches!(&got[3], Event::QueryComplete { id: done, tag, .. } if *done == id && tag == "COPY 2")
    );
}

#[test]
fn copy_in_through_an_extended_query_breaks_the_connection() {
    let mut conn = connected();
    conn.send_query("COPY t FROM STDIN", &[], &[]).unwrap();
    take_transmit(&mut conn);
    let error = conn
        .handle_input(
            &[
                server::parse_complete(),
                server::bind_complete(),
                server::no_data(),
                copy_response(b'G', false, 1),
            ]
            .concat(),
        )
        .unwrap_err();
    assert!(
        matches!(error, Error::Protocol(ProtocolError::Unsupported { .. })),
        "{error}"
    );
    assert!(conn.is_broken());
}

/// The server's side of a session mixing the flows above; the engine's
/// automatic replies (Bind after a description, Sync after an error,
/// Close after eviction) must not depend on how the bytes are chunked.
fn mixed_transcript() -> Vec<u8> {
    [
        super::tests::startup_reply(),
        described_mood(),
        mood_rows(),
        server::error("0A000", "cached plan must not change result type"),
        server::ready(b'I'),
        close_complete(),
        server::ready(b'I'),
        described_mood(),
        mood_rows(),
        copy_out_transcript(),
        server::error("42601", "syntax error"),
        server::ready(b'I'),
        server::query_result(&[("n", 23)], &[&[Some(&[0, 0, 0, 5])]], "SELECT 1"),
    ]
    .concat()
}

fn replay_mixed(chunks: &[&[u8]]) -> (Vec<Event>, Vec<u8>) {
    let mut conn = super::tests::started(None);
    prepare_mood(&mut conn);
    prepare_mood(&mut conn);
    conn.send_simple("COPY t TO STDOUT").unwrap();
    conn.send_prepared("SELEC", &[], &[]).unwrap();
    conn.send_query("SELECT 5", &[], &[]).unwrap();
    let mut sent = Vec::new();
    for chunk in chunks {
        conn.handle_input(chunk).unwrap();
        sent.extend(conn.poll_transmit().unwrap_or_default());
    }
    assert!(!conn.is_busy());
    (events(&mut conn), sent)
}

#[test]
fn mixed_flows_split_at_every_byte_boundary() {
    let transcript = mixed_transcript();
    let expected = replay_mixed(&[&transcript]);
    let kinds: Vec<&str> = expected
        .0
        .iter()
        .map(|e| match e {
            Event::Connected => "connected",
            Event::QueryComplete { .. } => "complete",
            Event::QueryFailed { .. } => "failed",
            Event::CopyData { .. } => "copy",
            Event::SimpleQueryComplete { .. } => "simple",
            Event::ParameterStatus { .. } => "parameter",
            Event::Notification { .. } => "notification",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "parameter",
            "connected",
            "complete",
            "complete",
            "copy",
            "notification",
            "copy",
            "simple",
            "failed",
            "complete"
        ]
    );
    for split in 0..=transcript.len() {
        let (head, tail) = transcript.split_at(split);
        assert_eq!(
            replay_mixed(&[head, tail]),
            expected,
            "split at byte {split}"
        );
    }
    let bytes: Vec<&[u8]> = transcript.chunks(1).collect();
    assert_eq!(replay_mixed(&bytes), expected, "one byte at a time");
}
