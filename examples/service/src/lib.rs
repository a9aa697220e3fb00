//! A small HTTP service on keel: a pooled driver, and queries loaded from
//! the same JSON definitions the JavaScript side uses (examples/music).
//!
//! `GET /queries/{name}` runs `{name}.json` and answers its rows as JSON;
//! `GET /health` reports the pool. The definitions are compiled against the
//! schema at start-up, so a broken file stops the service from starting
//! instead of failing a request.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use keel_native::{NativeError, Pool, Query, Schema};

/// What every request shares.
pub struct App {
    pub pool: Pool,
    pub schema: Schema,
    pub queries: BTreeMap<String, Query>,
}

/// A start-up failure, naming the file at fault.
#[derive(Debug)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// Reads `schema.json` and every `queries/*.json` under `dir`, checking
/// that each definition compiles against the schema.
pub fn load(dir: &Path) -> Result<(Schema, BTreeMap<String, Query>), LoadError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| LoadError(format!("{}: {e}", path.display())))
    };
    let schema_path = dir.join("schema.json");
    let schema = Schema::from_json(&read(&schema_path)?)
        .map_err(|e| LoadError(format!("{}: {e}", schema_path.display())))?;
    let mut queries = BTreeMap::new();
    let entries = std::fs::read_dir(dir.join("queries"))
        .map_err(|e| LoadError(format!("{}/queries: {e}", dir.display())))?;
    for entry in entries {
        let path = entry
            .map_err(|e| LoadError(format!("{}/queries: {e}", dir.display())))?
            .path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        let query = Query::from_json(&read(&path)?)
            .map_err(|e| LoadError(format!("{}: {e}", path.display())))?;
        keel_native::compile(&query, &schema)
            .map_err(|e| LoadError(format!("{}: {e}", path.display())))?;
        queries.insert(name, query);
    }
    Ok((schema, queries))
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/queries", get(list))
        .route("/queries/{name}", get(run))
        .with_state(app)
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, serde_json::json!({ "error": message }).to_string())
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let status = app.pool.status();
    json(
        StatusCode::OK,
        serde_json::json!({
            "pool": {
                "max_size": status.max_size,
                "size": status.size,
                "available": status.available,
                "waiting": status.waiting,
            }
        })
        .to_string(),
    )
}

async fn list(State(app): State<Arc<App>>) -> Response {
    let names: Vec<&String> = app.queries.keys().collect();
    json(StatusCode::OK, serde_json::json!(names).to_string())
}

async fn run(State(app): State<Arc<App>>, UrlPath(name): UrlPath<String>) -> Response {
    let Some(query) = app.queries.get(&name) else {
        return error(StatusCode::NOT_FOUND, &format!("no query named {name}"));
    };
    match app.pool.fetch(&app.schema, query).await {
        Ok(rows) => json(StatusCode::OK, rows.to_json_string()),
        // Saturation is the client's cue to back off, not a server fault.
        Err(e @ NativeError::PoolTimeout { .. }) => {
            error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
        }
        Err(e) => {
            tracing::warn!(query = %name, error = %e, "query failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
    }
}
