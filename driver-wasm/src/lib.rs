//! keel in WebAssembly: the core's sans-I/O protocol engine driven over a
//! transport written in JavaScript (WebSocket, PGlite, or the caller's own).
//!
//! Rust never touches a socket here. JS hands in an object with `write` and
//! `read`; Rust encodes, compiles and decodes exactly as the native driver
//! does, so both return the same rows for the same definition.
//!
//! Everything here is wasm32-only; on other targets the crate is empty, so
//! `cargo test --workspace` can still build it.
//!
//! The exported items are documented with `//` and `skip_jsdoc`: wasm-bindgen
//! copies doc comments and JSDoc into the generated glue, which ships in the
//! npm package, and only js/src calls these (its API carries the docs).
#![cfg(target_arch = "wasm32")]

mod batch;
mod convert;
mod transport;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use js_sys::Promise;
use keel_core::compile::compile_plan;
use keel_core::protocol::PipelineStatement;
use keel_core::query::QueryBody;
use keel_core::{Db, Query};
use wasm_bindgen::prelude::*;

use convert::{to_js_error, ValueOptions};
use transport::{JsTransport, JsTransportAdapter};

/// talc instead of std's dlmalloc: about 2 KB gzipped smaller, and as fast on
/// the row-decoding benchmarks. Its wasm allocator assumes one thread, which
/// holds without the `atomics` feature.
#[cfg(not(target_feature = "atomics"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

type Engine = keel_core::protocol::Client<JsTransportAdapter>;

// A schema, parsed once and shared by every query that names it.
#[wasm_bindgen]
pub struct Schema {
    inner: Arc<keel_core::Schema>,
}

#[wasm_bindgen]
impl Schema {
    // Parses a schema from its JSON text; throws a KeelCompileError if it is invalid.
    #[wasm_bindgen(constructor, skip_jsdoc)]
    pub fn new(json: &str) -> Result<Schema, JsValue> {
        let inner = keel_core::Schema::from_json(json).map_err(|e| {
            convert::plain_error(
                "KeelCompileError",
                "compile",
                &format!("invalid schema: {e}"),
            )
        })?;
        Ok(Schema {
            inner: Arc::new(inner),
        })
    }
}

/// Every method's future runs through one instance of wasm-bindgen-futures'
/// promise machinery instead of one per future type.
fn promise(future: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let future: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(future);
    wasm_bindgen_futures::future_to_promise(future)
}

/// SCRAM's SASLprep normalises passwords to NFKC; the JS engine has the
/// Unicode tables already, so the module does not carry its own.
fn nfkc(s: &str) -> String {
    js_sys::JsString::from(s).normalize("NFKC").into()
}

fn parse_query(json: &str) -> Result<Query, JsValue> {
    Query::from_json(json).map_err(|e| {
        convert::plain_error(
            "KeelCompileError",
            "compile",
            &format!("invalid query definition: {e}"),
        )
    })
}

// Compiles a query definition without running it: `{ sql, params }`.
#[wasm_bindgen(skip_jsdoc)]
pub fn compile(schema: &Schema, query_json: &str) -> Result<JsValue, JsValue> {
    let query = parse_query(query_json)?;
    let statement = keel_core::compile(&query, &schema.inner)
        .map_err(|e| to_js_error(&keel_core::Error::from(e)))?;
    convert::statement_to_js(&statement)
}

// One connection to PostgreSQL through a JS transport.
#[wasm_bindgen]
pub struct Client {
    db: Rc<Db<Engine>>,
    options: ValueOptions,
}

#[wasm_bindgen]
impl Client {
    // Logs in over `transport` (startup, then trust, cleartext, md5 or
    // SCRAM-SHA-256 as the server asks) and resolves to a ready Client.
    //
    // `options`: `{ user, password?, database?, applicationName?,
    // int8?: "bigint" | "string", timestamptz?: "date" | "string" }`.
    #[wasm_bindgen(skip_jsdoc)]
    pub fn connect(transport: JsTransport, schema: &Schema, options: JsValue) -> Promise {
        let schema = Arc::clone(&schema.inner);
        keel_core::protocol::set_nfkc(nfkc);
        promise(async move {
            let (config, value_options) = convert::connect_options(&options)?;
            // The SCRAM nonce seed, then the tag of this client's statement names.
            let mut random = [0u8; 40];
            getrandom::fill(&mut random).map_err(|e| {
                convert::plain_error(
                    "KeelTransportError",
                    "transport",
                    &format!("no random source: {e}"),
                )
            })?;
            let (seed, tag) = random.split_at(32);
            let engine = Engine::connect(JsTransportAdapter::new(transport), config, seed)
                .await
                .map_err(|e| to_js_error(&e))?;
            // An in-process PGlite serves every client on one backend session,
            // so each client names its prepared statements uniquely.
            let tag = tag
                .iter()
                .fold(0u64, |tag, byte| tag << 8 | u64::from(*byte));
            engine
                .set_statement_prefix(&format!("keel_{tag:016x}"))
                .await;
            Ok(Client {
                db: Rc::new(Db::new(engine, schema)),
                options: value_options,
            }
            .into())
        })
    }

    // Runs a query definition (JSON text) and resolves to an array of row objects.
    #[wasm_bindgen(skip_jsdoc)]
    pub fn query(&self, query_json: &str) -> Promise {
        self.run(query_json, false)
    }

    // Like `query`, but resolves to `{ sql, params, rows }`: the statement
    // that actually ran alongside its rows.
    #[wasm_bindgen(js_name = queryDetailed, skip_jsdoc)]
    pub fn query_detailed(&self, query_json: &str) -> Promise {
        self.run(query_json, true)
    }

    // The bytes of a CancelRequest for this connection, to write on a second
    // connection to the same server; `undefined` when the server gave no
    // cancel key (PGlite).
    #[wasm_bindgen(js_name = cancelRequest, skip_jsdoc)]
    pub fn cancel_request(&self) -> Option<js_sys::Uint8Array> {
        self.db
            .driver()
            .cancel_request()
            .map(js_sys::Uint8Array::from)
    }

    // Waits for the next NOTIFY on a channel this connection LISTENs on and
    // resolves to `[processId, channel, payload]`. Holds the connection
    // while waiting: use a connection dedicated to listening.
    #[wasm_bindgen(js_name = nextNotification, skip_jsdoc)]
    pub fn next_notification(&self) -> Promise {
        let db = Rc::clone(&self.db);
        promise(async move {
            let notification = db
                .driver()
                .next_notification()
                .await
                .map_err(|e| to_js_error(&e))?;
            Ok(js_sys::Array::of3(
                &JsValue::from_f64(f64::from(notification.process_id)),
                &notification.channel.into(),
                &notification.payload.into(),
            )
            .into())
        })
    }

    // Runs several definitions (a JSON array) together, sending the
    // statements this connection has prepared before in one write. Resolves
    // to one entry per definition, in order: its array of rows, or the
    // error it failed with; every definition is compiled before anything
    // is sent.
    #[wasm_bindgen(skip_jsdoc)]
    pub fn pipeline(&self, queries_json: &str) -> Promise {
        let prepared = Query::list_from_json(queries_json)
            .map_err(|e| {
                convert::plain_error(
                    "KeelCompileError",
                    "compile",
                    &format!("invalid query definitions: {e}"),
                )
            })
            .and_then(|queries| {
                let mut prepared = Vec::with_capacity(queries.len());
                for query in &queries {
                    let statement = self.db.compile(query).map_err(|e| to_js_error(&e))?;
                    let params = statement.encode_params().map_err(|e| to_js_error(&e))?;
                    prepared.push((statement, params, query.row_shape));
                }
                Ok(prepared)
            });
        let db = Rc::clone(&self.db);
        let options = self.options;
        promise(async move {
            let prepared = prepared?;
            let mut oids = Vec::with_capacity(prepared.len());
            for (statement, _, _) in &prepared {
                oids.push(statement.param_oids());
            }
            let mut batch = Vec::with_capacity(prepared.len());
            for ((statement, params, _), oids) in prepared.iter().zip(&oids) {
                batch.push(PipelineStatement {
                    sql: &statement.sql,
                    param_oids: oids,
                    params,
                });
            }
            let results = db
                .driver()
                .pipeline(&batch)
                .await
                .map_err(|e| to_js_error(&e))?;
            let out = js_sys::Array::new();
            for ((statement, _, shape), result) in prepared.iter().zip(results) {
                let built = result.and_then(|raw| {
                    convert::shaped_raw_to_js(&statement.columns, &raw, *shape, options)
                });
                out.push(&built.map_or_else(|error| to_js_error(&error), JsValue::from));
            }
            Ok(out.into())
        })
    }

    // Streams a query's rows in batches of at most `batch_size`: calls
    // `on_batch(rows)` for each batch and waits for the promise it returns;
    // resolving to `false` stops the stream. Resolves when the stream ends.
    #[wasm_bindgen(skip_jsdoc)]
    pub fn stream(&self, query_json: &str, batch_size: u32, on_batch: js_sys::Function) -> Promise {
        let prepared = parse_query(query_json).and_then(|query| {
            let statement = self.db.compile(&query).map_err(|e| to_js_error(&e))?;
            Ok((statement, query.row_shape))
        });
        let db = Rc::clone(&self.db);
        let options = self.options;
        promise(async move {
            let (statement, shape) = prepared?;
            let params = statement.encode_params().map_err(|e| to_js_error(&e))?;
            db.driver()
                .query_batches(
                    &statement.sql,
                    &statement.param_oids(),
                    &params,
                    batch_size,
                    |raw| {
                        let returned =
                            convert::shaped_raw_to_js(&statement.columns, &raw, shape, options)
                                .and_then(|rows| {
                                    on_batch.call1(&JsValue::NULL, &rows).map_err(|e| {
                                        transport::js_error("stream consumer failed", e)
                                    })
                                });
                        async move {
                            let more = transport::settle(returned?)
                                .await
                                .map_err(|e| transport::js_error("stream consumer failed", e))?;
                            Ok(more.as_bool().unwrap_or(true))
                        }
                    },
                )
                .await
                .map_err(|e| to_js_error(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    // Sends Terminate and closes the transport.
    #[wasm_bindgen(skip_jsdoc)]
    pub fn close(self) -> Promise {
        let db = self.db;
        promise(async move {
            match Rc::try_unwrap(db) {
                Ok(db) => db
                    .into_driver()
                    .close()
                    .await
                    .map_err(|e| to_js_error(&e))?,
                Err(_) => {
                    return Err(convert::plain_error(
                        "KeelClosedError",
                        "closed",
                        "cannot close a client while a query is still running on it",
                    ))
                }
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}

impl Client {
    fn run(&self, query_json: &str, detailed: bool) -> Promise {
        let query = match parse_query(query_json) {
            Ok(query) => query,
            Err(error) => return Promise::reject(&error),
        };
        if matches!(&query.body, QueryBody::Select(select) if !select.with.is_empty()) {
            return self.run_plan(&query, detailed);
        }
        // Compile eagerly so an invalid definition rejects without any I/O.
        let prepared = self.db.compile(&query).map_err(|e| to_js_error(&e));
        let shape = query.row_shape;
        let db = Rc::clone(&self.db);
        let options = self.options;
        promise(async move {
            let statement = prepared?;
            let raw = db
                .fetch_raw(&statement)
                .await
                .map_err(|e| to_js_error(&e))?;
            let js_rows = convert::shaped_raw_to_js(&statement.columns, &raw, shape, options)
                .map_err(|e| to_js_error(&e))?;
            if !detailed {
                return Ok(js_rows.into());
            }
            let out = convert::statement_to_js(&statement)?;
            js_sys::Reflect::set(&out, &"rows".into(), &js_rows)?;
            Ok(out)
        })
    }

    /// A select with `with`: the root, then one batched statement per
    /// relation level, assembled into nested objects.
    fn run_plan(&self, query: &Query, detailed: bool) -> Promise {
        let plan = match compile_plan(query, self.db.schema()) {
            Ok(plan) => plan,
            Err(error) => return Promise::reject(&to_js_error(&keel_core::Error::from(error))),
        };
        let db = Rc::clone(&self.db);
        let options = self.options;
        promise(async move {
            let fetched = db.run_plan(&plan).await.map_err(|e| to_js_error(&e))?;
            let rows = convert::plan_to_js(&fetched, &plan.root.columns, &plan.loads, options)?;
            if !detailed {
                return Ok(rows.into());
            }
            let out = convert::plan_statements_to_js(&plan)?;
            js_sys::Reflect::set(&out, &"rows".into(), &rows)?;
            Ok(out)
        })
    }
}
