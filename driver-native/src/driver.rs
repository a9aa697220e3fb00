//! [`Driver`] on `tokio-postgres`.

use std::error::Error as _;

use deadpool_postgres::ClientWrapper;
use keel_core::compile::Statement;
use keel_core::error::{Error, Result, ServerError};
use keel_core::protocol::REPREPARE_CODES;
use keel_core::rows::{ColumnDesc, RawRows};
use keel_core::types::PgType;
use keel_core::Driver;
use postgres_types::{FromSql, IsNull, ToSql, Type};
use tracing::Instrument;

use crate::endpoint::Endpoint;
use crate::error::NativeResult;
use crate::tls::TlsSettings;

/// Statements kept prepared per connection unless configured otherwise.
pub const DEFAULT_STATEMENT_CACHE: usize = 256;

/// Settings of a single [`NativeDriver`] connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverSettings {
    /// TLS; an `sslmode` in the URL overrides `tls.mode`.
    pub tls: TlsSettings,
    /// See [`StatementCache`].
    pub statement_cache: StatementCache,
}

/// How many prepared statements a connection keeps, by SQL text and
/// parameter types. A cached statement runs in one round trip instead of
/// two (prepare, then execute), and a pipeline of cached statements in one.
///
/// When the cache is full it is emptied (its statements are closed on the
/// server), which bounds the server-side memory of a connection that sees
/// many distinct statements. `capacity: 0` prepares every statement afresh,
/// as connection poolers in transaction mode (pgbouncer) require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementCache {
    pub capacity: usize,
}

impl Default for StatementCache {
    fn default() -> Self {
        StatementCache {
            capacity: DEFAULT_STATEMENT_CACHE,
        }
    }
}

/// One tokio-postgres connection. Statements from concurrent callers are
/// pipelined by tokio-postgres itself.
pub struct NativeDriver {
    client: ClientWrapper,
    cache: StatementCache,
}

impl NativeDriver {
    /// Connects with a libpq-style URL or key/value string and spawns the
    /// connection task on the current tokio runtime.
    pub async fn connect(config: &str) -> NativeResult<NativeDriver> {
        NativeDriver::connect_with(config, &DriverSettings::default()).await
    }

    /// [`connect`](Self::connect) with TLS and statement-cache settings.
    pub async fn connect_with(url: &str, settings: &DriverSettings) -> NativeResult<NativeDriver> {
        let client = Endpoint::new(url, &settings.tls)?.connect().await?;
        Ok(NativeDriver {
            client,
            cache: settings.statement_cache,
        })
    }
}

#[async_trait::async_trait]
impl Driver for NativeDriver {
    async fn query(&self, statement: &Statement) -> Result<RawRows> {
        // Outside an explicit transaction a statement that failed because
        // its cached plan went stale can simply be sent again.
        run_on(&self.client, statement, self.cache, true).await
    }
}

/// Runs one statement on `client` inside a `keel.query` span that records
/// the SQL and, once the rows are in, the duration: the span is how a slow
/// statement is found in production, so every path (single connection,
/// pool, transaction) goes through here.
///
/// `may_retry` says the connection is not inside a transaction, so a
/// statement rejected only because its cached prepared form went stale
/// (see [`is_stale_statement`]) can be prepared and sent once more.
pub(crate) async fn run_on(
    client: &ClientWrapper,
    statement: &Statement,
    cache: StatementCache,
    may_retry: bool,
) -> Result<RawRows> {
    let span = tracing::debug_span!(
        "keel.query",
        sql = %statement.sql,
        duration_us = tracing::field::Empty,
        rows = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let result = run_retrying(client, statement, cache, may_retry)
        .instrument(span.clone())
        .await;
    span.record(
        "duration_us",
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    if let Ok(rows) = &result {
        span.record("rows", rows.len());
    }
    let _entered = span.enter();
    tracing::debug!(ok = result.is_ok(), "statement finished");
    result
}

async fn run_retrying(
    client: &ClientWrapper,
    statement: &Statement,
    cache: StatementCache,
    may_retry: bool,
) -> Result<RawRows> {
    match run(client, statement, cache).await {
        Err(Failure::Stale(error)) => {
            // The server rejected a cached statement; none of its SQL ran.
            client.statement_cache.clear();
            if may_retry {
                run(client, statement, cache)
                    .await
                    .map_err(Failure::into_error)
            } else {
                Err(error)
            }
        }
        other => other.map_err(Failure::into_error),
    }
}

/// Why [`run`] failed: a stale cached statement is told apart so that it
/// can be evicted and retried.
enum Failure {
    Stale(Error),
    Other(Error),
}

impl Failure {
    fn into_error(self) -> Error {
        match self {
            Failure::Stale(error) | Failure::Other(error) => error,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::Other(error)
    }
}

/// A cached prepared statement the server no longer accepts: its result
/// type changed under it after DDL, or something ran `DEALLOCATE`/`DISCARD
/// ALL`. The codes are the core engine's, so both drivers retry alike.
fn is_stale_statement(error: &tokio_postgres::Error) -> bool {
    error
        .as_db_error()
        .is_some_and(|db| REPREPARE_CODES.contains(&db.code().code()))
}

async fn prepare(
    client: &ClientWrapper,
    sql: &str,
    types: &[Type],
    cache: StatementCache,
) -> std::result::Result<tokio_postgres::Statement, Failure> {
    let prepared = if cache.capacity == 0 {
        client.prepare_typed(sql, types).await
    } else {
        if client.statement_cache.size() >= cache.capacity {
            client.statement_cache.clear();
        }
        client.prepare_typed_cached(sql, types).await
    };
    prepared.map_err(|e| Failure::Other(map_error(e)))
}

async fn run(
    client: &ClientWrapper,
    statement: &Statement,
    cache: StatementCache,
) -> std::result::Result<RawRows, Failure> {
    let types: Vec<Type> = statement
        .param_oids()
        .into_iter()
        .map(|oid| Type::from_oid(oid).unwrap_or(Type::UNKNOWN))
        .collect();
    let prepared = prepare(client, &statement.sql, &types, cache).await?;
    let columns = result_columns(&prepared);
    let prepared = if columns.iter().any(|c| c.format == 0) {
        let wrapped = text_wrapped(&statement.sql, &columns);
        prepare(client, &wrapped, &types, cache).await?
    } else {
        prepared
    };
    let encoded = statement.encode_params()?;
    let params: Vec<RawParam<'_>> = encoded.iter().map(|p| RawParam(p.as_deref())).collect();
    let rows = client
        .query(
            &prepared,
            &params
                .iter()
                .map(|p| p as &(dyn ToSql + Sync))
                .collect::<Vec<_>>(),
        )
        .await
        .map_err(|e| {
            if cache.capacity > 0 && is_stale_statement(&e) {
                Failure::Stale(map_error(e))
            } else {
                Failure::Other(map_error(e))
            }
        })?;

    let width = columns.len();
    let mut raw = RawRows::new(columns);
    // One buffer for every row's cell slices (they borrow from `rows`).
    let mut cells: Vec<Option<&[u8]>> = Vec::with_capacity(width);
    for row in &rows {
        cells.clear();
        for index in 0..width {
            let cell: RawCell<'_> = row.try_get(index).map_err(map_error)?;
            cells.push(cell.0);
        }
        raw.push_row(cells.iter().copied())
            .map_err(|e| Error::Transport(format!("malformed row from tokio-postgres: {e}")))?;
    }
    Ok(raw)
}

/// The statement's columns, marking with text format (0) every type keel's
/// codec does not decode.
fn result_columns(prepared: &tokio_postgres::Statement) -> Vec<ColumnDesc> {
    prepared
        .columns()
        .iter()
        .map(|c| ColumnDesc {
            name: c.name().to_owned(),
            type_oid: c.type_().oid(),
            format: i16::from(PgType::from_oid(c.type_().oid()).is_some()),
        })
        .collect()
}

/// tokio-postgres requests every result column in binary, so a column of a
/// type keel does not know (an enum, `xml`, `point`, an array of enums) is
/// converted to text by the server instead: the statement becomes a
/// materialized CTE whose unknown columns are cast with `::text`, the
/// server's own output function, which is exactly what the wasm engine
/// receives when it requests text format. The CTE keeps the statement's
/// row order and works for `INSERT/UPDATE/DELETE ... RETURNING`; it cannot
/// wrap a statement whose own `WITH` modifies data, which then fails with
/// the server's error instead of returning undecodable bytes.
fn text_wrapped(sql: &str, columns: &[ColumnDesc]) -> String {
    let body = sql.trim_end().trim_end_matches(';');
    let names: Vec<String> = (0..columns.len()).map(|i| format!("keel_c{i}")).collect();
    let select: Vec<String> = columns
        .iter()
        .zip(&names)
        .map(|(column, name)| {
            if column.format == 0 {
                format!("{name}::text")
            } else {
                name.clone()
            }
        })
        .collect();
    format!(
        "WITH keel_q({}) AS MATERIALIZED ({body}\n) SELECT {} FROM keel_q",
        names.join(", "),
        select.join(", ")
    )
}

/// A parameter the core already encoded in binary; passed through untouched.
#[derive(Debug)]
struct RawParam<'a>(Option<&'a [u8]>);

impl ToSql for RawParam<'_> {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            None => Ok(IsNull::Yes),
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    postgres_types::to_sql_checked!();
}

/// A result cell's raw binary bytes, whatever the column type: decoding is the core's job.
struct RawCell<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for RawCell<'a> {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawCell(Some(raw)))
    }

    fn from_sql_null(
        _ty: &Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawCell(None))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

/// Keeps the server's error fields, so native and wasm report the same error.
pub(crate) fn map_error(error: tokio_postgres::Error) -> Error {
    if let Some(server) = server_error(&error) {
        return Error::from(server);
    }
    if error.is_closed() {
        return Error::Closed(error.source().map(|s| s.to_string()));
    }
    // tokio-postgres keeps the cause (an unknown CA, a refused connection)
    // in the source chain, out of its own message.
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    Error::Transport(message)
}

pub(crate) fn server_error(error: &tokio_postgres::Error) -> Option<ServerError> {
    error.as_db_error().map(|db| ServerError {
        severity: db.severity().to_owned(),
        code: db.code().code().to_owned(),
        message: db.message().to_owned(),
        detail: db.detail().map(str::to_owned),
        hint: db.hint().map(str::to_owned),
        position: match db.position() {
            Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p),
            _ => None,
        },
        schema: db.schema().map(str::to_owned),
        table: db.table().map(str::to_owned),
        column: db.column().map(str::to_owned),
        constraint: db.constraint().map(str::to_owned),
    })
}
