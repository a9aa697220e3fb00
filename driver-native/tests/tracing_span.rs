//! Every statement runs inside a `keel.query` span carrying its SQL and duration.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::stmt;
use keel_native::{Pool, PoolSettings, Value};
use keel_testkit::database_url;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

type Spans = Arc<Mutex<HashMap<u64, (String, HashMap<String, String>)>>>;

/// The smallest subscriber that remembers span names and fields.
struct Recorder {
    spans: Spans,
    next: AtomicU64,
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.spans
            .lock()
            .unwrap()
            .insert(id, (attrs.metadata().name().to_owned(), fields));
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some((_, fields)) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn each_statement_gets_a_span_with_sql_and_duration() {
    let Some(url) = database_url() else { return };
    let spans: Spans = Arc::default();
    let recorder = Recorder {
        spans: spans.clone(),
        next: AtomicU64::new(0),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(recorder, || {
        runtime.block_on(async {
            let pool = Pool::connect(&url, PoolSettings::default()).await.unwrap();
            let statement = stmt(
                "SELECT $1::int4 AS keel_traced",
                vec![Value::Int4(7)],
                &["keel_traced"],
            );
            let rows = pool.fetch_statement(&statement).await.unwrap();
            assert_eq!(rows.rows[0][0], Value::Int4(7));
        })
    });
    let spans = spans.lock().unwrap();
    let traced: Vec<_> = spans
        .values()
        .filter(|(name, fields)| {
            name == "keel.query"
                && fields
                    .get("sql")
                    .is_some_and(|sql| sql.contains("keel_traced"))
        })
        .collect();
    assert_eq!(traced.len(), 1, "{spans:?}");
    let fields = &traced[0].1;
    assert!(fields["duration_us"].parse::<u64>().is_ok(), "{fields:?}");
    assert_eq!(fields["rows"], "1");
}
