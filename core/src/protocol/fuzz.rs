//! The fuzzing harness for the protocol engine.

use super::{Connection, Event, StartupConfig};

/// The fuzzing harness for the engine, shared by the cargo-fuzz target and
/// the regression-corpus replay in `cargo test`: arbitrary server bytes,
/// arbitrarily chunked, against a connection with requests of every kind in
/// flight. It must return, never panic.
pub fn fuzz_engine(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let config = StartupConfig {
        user: "fuzz".into(),
        password: Some("secret".into()),
        database: Some("db".into()),
        application_name: None,
        options: None,
    };
    let mut conn = Connection::new(config, b"0123456789abcdefghijklmnop");
    conn.set_statement_cache_capacity(usize::from(mode & 3));
    let int4 = Some(7i32.to_be_bytes().to_vec());
    let queued = [
        conn.send_query("SELECT $1::int4", &[23], std::slice::from_ref(&int4)),
        conn.send_prepared("SELECT $1::int4", &[23], std::slice::from_ref(&int4)),
        conn.send_prepared("SELECT $1::int4", &[23], std::slice::from_ref(&int4)),
        conn.send_portal("SELECT n FROM t", &[], &[], 2),
        conn.send_simple("SELECT 1; COPY t TO STDOUT"),
        conn.copy_in("COPY t FROM STDIN"),
        conn.send_prepared("SELECT 2", &[], &[]),
    ];
    if queued.iter().any(Result::is_err) {
        return;
    }
    // The chunk size is taken from the input, so the fuzzer explores splits.
    let chunk = usize::from(mode >> 2).max(1);
    for piece in rest.chunks(chunk) {
        if conn.handle_input(piece).is_err() {
            // Broken: every later call must fail cleanly, not panic.
            let _ = conn.handle_input(b"Z\0\0\0\x05I");
            let _ = conn.send_query("SELECT 1", &[], &[]);
            return;
        }
        let _ = conn.poll_transmit();
        while let Some(event) = conn.poll_event() {
            match event {
                Event::RowBatch { id, rows } => {
                    decode_all(&rows);
                    let _ = if rows.len() % 2 == 0 {
                        conn.fetch_more(id)
                    } else {
                        conn.close_portal(id)
                    };
                }
                Event::CopyInReady { id, .. } => {
                    let _ = conn.copy_data(id, b"1\n");
                    let _ = conn.copy_done(id);
                }
                Event::QueryComplete { rows, .. } => decode_all(&rows),
                Event::SimpleQueryComplete { results, .. } => {
                    results.iter().for_each(|r| decode_all(&r.rows))
                }
                _ => {}
            }
        }
    }
    let _ = conn.cancel_request();
    conn.terminate();
}

fn decode_all(rows: &crate::rows::RawRows) {
    let names: Vec<String> = rows.columns().iter().map(|c| c.name.clone()).collect();
    if let Ok(decoded) = crate::types::Rows::decode(&names, rows) {
        let _ = decoded.to_json_string();
    }
}
