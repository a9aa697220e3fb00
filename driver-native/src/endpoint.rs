//! Opening one connection outside the pool (the single-connection driver,
//! LISTEN, introspection) with the pool's TLS rules, so `sslmode` in a URL
//! means the same thing everywhere.

use deadpool_postgres::ClientWrapper;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::driver::{map_error, server_error};
use crate::error::{NativeError, NativeResult};
use crate::tls::{connector, resolve, TlsSettings};

/// Where and how to connect: the parsed URL and, unless TLS is disabled,
/// the rustls connector.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) tls: Option<MakeRustlsConnect>,
}

impl Endpoint {
    /// Parses `url`; its `sslmode` and `sslrootcert` add to `tls`.
    pub(crate) fn new(url: &str, tls: &TlsSettings) -> NativeResult<Endpoint> {
        let (url, tls) = resolve(url, tls)?;
        let (ssl_mode, tls) = connector(tls.mode, &tls.root_certificates)?;
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| NativeError::Config(e.to_string()))?;
        config.ssl_mode(ssl_mode);
        Ok(Endpoint { config, tls })
    }

    /// Connects and spawns the connection task on the current runtime. The
    /// returned client aborts that task when dropped.
    pub(crate) async fn connect(&self) -> NativeResult<ClientWrapper> {
        match &self.tls {
            Some(tls) => {
                let (client, connection) = self
                    .config
                    .connect(tls.clone())
                    .await
                    .map_err(login_error)?;
                Ok(ClientWrapper::new(client, spawn(connection)))
            }
            None => {
                let (client, connection) = self
                    .config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(login_error)?;
                Ok(ClientWrapper::new(client, spawn(connection)))
            }
        }
    }
}

fn spawn<F>(connection: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "keel-native connection ended with an error");
        }
    })
}

/// At login a class-28 server error is an [`Auth`](keel_core::Error::Auth)
/// failure, so callers can tell a wrong password from a broken server.
pub(crate) fn login_error(error: tokio_postgres::Error) -> NativeError {
    match server_error(&error) {
        Some(error) => NativeError::Db(error.into_login_error()),
        None => NativeError::Db(map_error(error)),
    }
}
