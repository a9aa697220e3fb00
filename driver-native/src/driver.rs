//! [`Driver`] on `tokio-postgres`.

use std::error::Error as _;

use keel_core::compile::Statement;
use keel_core::error::{Error, Result, ServerError};
use keel_core::rows::{ColumnDesc, RawRows};
use keel_core::Driver;
use postgres_types::{FromSql, IsNull, ToSql, Type};
use tokio_postgres::NoTls;
use tracing::Instrument;

/// One tokio-postgres connection. Statements from concurrent callers are
/// pipelined by tokio-postgres itself.
pub struct NativeDriver {
    client: tokio_postgres::Client,
}

impl NativeDriver {
    /// Connects with a libpq-style URL or key/value string and spawns the
    /// connection task on the current tokio runtime.
    pub async fn connect(config: &str) -> Result<NativeDriver> {
        let (client, connection) =
            tokio_postgres::connect(config, NoTls)
                .await
                .map_err(|e| match server_error(&e) {
                    Some(error) => error.into_login_error(),
                    None => map_error(e),
                })?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "keel-native connection ended with an error");
            }
        });
        Ok(NativeDriver { client })
    }
}

#[async_trait::async_trait]
impl Driver for NativeDriver {
    async fn query(&self, statement: &Statement) -> Result<RawRows> {
        let span = tracing::debug_span!("keel.query", sql = %statement.sql);
        self.run(statement).instrument(span).await
    }
}

impl NativeDriver {
    async fn run(&self, statement: &Statement) -> Result<RawRows> {
        let types: Vec<Type> = statement
            .param_oids()
            .into_iter()
            .map(|oid| Type::from_oid(oid).unwrap_or(Type::UNKNOWN))
            .collect();
        let prepared = self
            .client
            .prepare_typed(&statement.sql, &types)
            .await
            .map_err(map_error)?;
        let encoded = statement.encode_params()?;
        let params: Vec<RawParam<'_>> = encoded.iter().map(|p| RawParam(p.as_deref())).collect();
        let rows = self
            .client
            .query(
                &prepared,
                &params
                    .iter()
                    .map(|p| p as &(dyn ToSql + Sync))
                    .collect::<Vec<_>>(),
            )
            .await
            .map_err(map_error)?;

        let columns = prepared
            .columns()
            .iter()
            .map(|c| ColumnDesc {
                name: c.name().to_owned(),
                type_oid: c.type_().oid(),
                format: 1,
            })
            .collect::<Vec<_>>();
        let width = columns.len();
        let mut raw = RawRows::new(columns);
        for row in &rows {
            let mut cells = Vec::with_capacity(width);
            for index in 0..width {
                let cell: RawCell<'_> = row.try_get(index).map_err(map_error)?;
                cells.push(cell.0);
            }
            raw.push_row(cells)
                .map_err(|e| Error::Transport(format!("malformed row from tokio-postgres: {e}")))?;
        }
        Ok(raw)
    }
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
fn map_error(error: tokio_postgres::Error) -> Error {
    if let Some(server) = server_error(&error) {
        return Error::from(server);
    }
    if error.is_closed() {
        return Error::Closed(error.source().map(|s| s.to_string()));
    }
    Error::Transport(error.to_string())
}

fn server_error(error: &tokio_postgres::Error) -> Option<ServerError> {
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
