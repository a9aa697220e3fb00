//! A connection pool on `deadpool-postgres`.
//!
//! deadpool gives the fair FIFO wait queue, the acquire/connect timeouts and
//! the status counters; keel adds what it lacks: idle timeout and maximum
//! lifetime (checked on every hand-out and by a maintenance task), a minimum
//! of idle connections, and [`PooledConnection`]'s rule that a possibly
//! dirty connection is cleaned or discarded before anyone else sees it.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Pool as Deadpool, PoolError, RecyclingMethod, Runtime, Timeouts,
};
use keel_core::compile::Statement;
use keel_core::rows::RawRows;
use keel_core::types::Rows;
use keel_core::{Driver, Query, Schema};
use tokio_postgres::NoTls;

use crate::connection::PooledConnection;
use crate::driver::map_error;
use crate::driver::StatementCache;
use crate::endpoint::Endpoint;
use crate::error::{NativeError, NativeResult};
use crate::tls::TlsSettings;
use crate::transaction::{Transaction, TransactionOptions};

/// Pool settings. `None` disables a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// At most this many connections exist at once.
    pub max_size: usize,
    /// Connections opened at start and re-opened by the maintenance task, so
    /// a burst after a quiet period does not pay for connection setup.
    pub min_idle: usize,
    /// How long a caller waits for a free connection before
    /// [`NativeError::PoolTimeout`].
    pub acquire_timeout: Option<Duration>,
    /// How long opening one connection (TCP + authentication) may take.
    pub connect_timeout: Option<Duration>,
    /// A connection unused for this long is closed instead of handed out.
    pub idle_timeout: Option<Duration>,
    /// A connection older than this is closed instead of handed out, so
    /// server-side memory growth and DNS/failover changes are picked up.
    pub max_lifetime: Option<Duration>,
    /// How long the rollback that cleans a returned dirty connection may
    /// take before the connection is discarded instead.
    pub cleanup_timeout: Duration,
    /// Client-side deadline per statement: on expiry a cancel request is
    /// sent, the caller gets [`NativeError::StatementTimeout`] at once, and
    /// the connection is retired (the cancel could hit a later statement).
    pub statement_timeout: Option<Duration>,
    /// The server's own `statement_timeout`, set on every connection: the
    /// server aborts the statement (SQLSTATE 57014) and the connection stays
    /// usable. Prefer it; the client deadline also covers a stalled network.
    pub server_statement_timeout: Option<Duration>,
    /// How often expired connections are closed and `min_idle` restored.
    pub maintenance_interval: Duration,
    /// TLS; an `sslmode` in the URL overrides `tls.mode`.
    pub tls: TlsSettings,
    /// Prepared statements kept per connection.
    pub statement_cache: StatementCache,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_size: 10,
            min_idle: 0,
            acquire_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
            cleanup_timeout: Duration::from_secs(5),
            statement_timeout: None,
            server_statement_timeout: None,
            maintenance_interval: Duration::from_secs(30),
            tls: TlsSettings::default(),
            statement_cache: StatementCache::default(),
        }
    }
}

/// A snapshot of the pool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    pub max_size: usize,
    /// Connections that exist, idle or checked out (including ones being cleaned).
    pub size: usize,
    /// Idle connections ready to be handed out.
    pub available: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

/// A cheaply clonable handle to a connection pool.
///
/// As a [`Driver`] (`Db<Pool>`), every statement checks a connection out
/// and returns it as soon as the rows are in, so a connection is never held
/// across the caller's unrelated awaits. Use [`Pool::begin`] when statements
/// must share a connection.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    pool: Deadpool,
    settings: PoolSettings,
    maintenance: tokio::task::AbortHandle,
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        self.maintenance.abort();
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("settings", &self.inner.settings)
            .field("status", &self.status())
            .finish()
    }
}

impl Pool {
    /// Builds the pool and opens `min_idle` connections, so a wrong URL or
    /// password fails here rather than on the first request (when
    /// `min_idle > 0`). Must be called inside a tokio runtime.
    pub async fn connect(url: &str, settings: PoolSettings) -> NativeResult<Pool> {
        if settings.max_size == 0 {
            return Err(NativeError::Config("max_size must be at least 1".into()));
        }
        if settings.min_idle > settings.max_size {
            return Err(NativeError::Config(format!(
                "min_idle ({}) exceeds max_size ({})",
                settings.min_idle, settings.max_size
            )));
        }
        let Endpoint {
            mut config, tls, ..
        } = Endpoint::new(url, &settings.tls)?;
        if let Some(timeout) = settings.connect_timeout {
            config.connect_timeout(timeout);
        }
        if let Some(timeout) = settings.server_statement_timeout {
            let options = config.get_options().map(str::to_owned).unwrap_or_default();
            config.options(format!(
                "{options} -c statement_timeout={}",
                timeout.as_millis().max(1)
            ));
        }
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tls {
            Some(tls) => Manager::from_config(config, tls, manager_config),
            None => Manager::from_config(config, NoTls, manager_config),
        };
        let idle_timeout = settings.idle_timeout;
        let max_lifetime = settings.max_lifetime;
        let pool = Deadpool::builder(manager)
            .max_size(settings.max_size)
            .runtime(Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: settings.acquire_timeout,
                create: settings.connect_timeout,
                recycle: Some(settings.cleanup_timeout),
            })
            .pre_recycle(deadpool_postgres::Hook::sync_fn(move |_, metrics| {
                if expired(metrics, idle_timeout, max_lifetime) {
                    Err(deadpool_postgres::HookError::message(
                        "connection passed its idle timeout or maximum lifetime",
                    ))
                } else {
                    Ok(())
                }
            }))
            .build()
            .map_err(|e| NativeError::Config(e.to_string()))?;
        let maintenance = tokio::spawn(maintain(pool.weak(), settings.clone())).abort_handle();
        let pool = Pool {
            inner: Arc::new(PoolInner {
                pool,
                settings,
                maintenance,
            }),
        };
        top_up(&pool.inner.pool, pool.inner.settings.min_idle).await?;
        Ok(pool)
    }

    pub fn settings(&self) -> &PoolSettings {
        &self.inner.settings
    }

    pub fn status(&self) -> PoolStatus {
        let status = self.inner.pool.status();
        PoolStatus {
            max_size: status.max_size,
            size: status.size,
            available: status.available,
            waiting: status.waiting,
        }
    }

    /// Checks a connection out; it returns to the pool when dropped.
    pub async fn get(&self) -> NativeResult<PooledConnection> {
        let object = self
            .inner
            .pool
            .get()
            .await
            .map_err(|e| pool_error(e, &self.inner.settings))?;
        Ok(PooledConnection::new(
            object,
            self.inner.settings.cleanup_timeout,
            self.inner.settings.statement_timeout,
            self.inner.settings.statement_cache,
        ))
    }

    /// Runs one statement on a connection held only for its duration.
    pub async fn query(&self, statement: &Statement) -> NativeResult<RawRows> {
        self.get().await?.query(statement).await
    }

    pub async fn fetch_statement(&self, statement: &Statement) -> NativeResult<Rows> {
        self.get().await?.fetch_statement(statement).await
    }

    pub async fn fetch(&self, schema: &Schema, query: &Query) -> NativeResult<Rows> {
        self.get().await?.fetch(schema, query).await
    }

    /// Runs parameterless SQL (DDL, session commands) on a connection held
    /// only for its duration.
    pub async fn execute(&self, sql: &str) -> NativeResult<()> {
        self.get().await?.execute(sql).await
    }

    /// Starts a transaction with the server's default options. The guard
    /// rolls back unless [`Transaction::commit`] completes.
    pub async fn begin(&self) -> NativeResult<Transaction<'static>> {
        self.begin_with(TransactionOptions::default()).await
    }

    pub async fn begin_with(
        &self,
        options: TransactionOptions,
    ) -> NativeResult<Transaction<'static>> {
        Transaction::begin_owned(self.get().await?, options).await
    }

    /// Runs `body` in a transaction: committed when it returns `Ok`, rolled
    /// back when it returns `Err`, panics, or its future is dropped.
    ///
    /// ```no_run
    /// # async fn demo(
    /// #     pool: keel_native::Pool,
    /// #     insert: keel_native::compile::Statement,
    /// # ) -> Result<(), keel_native::NativeError> {
    /// use keel_native::{NativeError, TransactionOptions};
    /// let rows = pool
    ///     .transaction(TransactionOptions::default(), |tx| {
    ///         Box::pin(async move {
    ///             let rows = tx.query(&insert).await?;
    ///             Ok::<_, NativeError>(rows.len())
    ///         })
    ///     })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn transaction<T, E, F>(&self, options: TransactionOptions, body: F) -> Result<T, E>
    where
        F: for<'t> FnOnce(
            &'t mut Transaction<'static>,
        ) -> futures_util::future::BoxFuture<'t, Result<T, E>>,
        E: From<NativeError>,
    {
        let tx = self.begin_with(options).await?;
        crate::transaction::run_body(tx, body).await
    }
}

#[async_trait::async_trait]
impl Driver for Pool {
    async fn query(&self, statement: &Statement) -> keel_core::Result<RawRows> {
        Ok(Pool::query(self, statement).await?)
    }
}

fn expired(
    metrics: &deadpool_postgres::Metrics,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
) -> bool {
    idle_timeout.is_some_and(|t| metrics.last_used() >= t)
        || max_lifetime.is_some_and(|t| metrics.age() >= t)
}

fn pool_error(error: PoolError, settings: &PoolSettings) -> NativeError {
    match error {
        PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => NativeError::PoolTimeout {
            waited: settings.acquire_timeout.unwrap_or_default(),
            max_size: settings.max_size,
        },
        PoolError::Timeout(deadpool_postgres::TimeoutType::Create) => {
            NativeError::ConnectTimeout(settings.connect_timeout.unwrap_or_default())
        }
        PoolError::Timeout(deadpool_postgres::TimeoutType::Recycle) => NativeError::Db(
            keel_core::Error::Transport("checking an idle pooled connection timed out".into()),
        ),
        PoolError::Backend(e) => connect_error(e),
        PoolError::Closed => NativeError::PoolClosed,
        PoolError::NoRuntimeSpecified => NativeError::Config("no runtime specified".into()),
        PoolError::PostCreateHook(e) => NativeError::Config(e.to_string()),
    }
}

/// A failure to open a connection. Authentication failures become
/// [`keel_core::Error::Auth`]; transport failures keep their whole cause
/// chain, since "error performing TLS handshake" alone does not say that
/// the certificate was rejected.
fn connect_error(error: tokio_postgres::Error) -> NativeError {
    use std::error::Error as _;
    if let Some(server) = crate::driver::server_error(&error) {
        return NativeError::Db(server.into_login_error());
    }
    if error.is_closed() {
        return NativeError::Db(map_error(error));
    }
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    NativeError::Db(keel_core::Error::Transport(message))
}

/// Opens connections until `min_idle` exist, by holding that many at once
/// (an idle one is reused, a missing one is created).
async fn top_up(pool: &Deadpool, min_idle: usize) -> NativeResult<()> {
    if pool.status().size >= min_idle {
        return Ok(());
    }
    let mut held = Vec::with_capacity(min_idle);
    let timeouts = Timeouts {
        wait: Some(Duration::ZERO),
        ..pool.timeouts()
    };
    for _ in 0..min_idle {
        match pool.timeout_get(&timeouts).await {
            Ok(object) => held.push(object),
            Err(PoolError::Timeout(_)) => break,
            Err(PoolError::Backend(e)) => return Err(connect_error(e)),
            Err(other) => return Err(NativeError::Config(other.to_string())),
        }
    }
    Ok(())
}

async fn maintain(pool: deadpool_postgres::WeakPool, settings: PoolSettings) {
    let mut tick = tokio::time::interval(settings.maintenance_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        pool.retain(|_, metrics| !expired(&metrics, settings.idle_timeout, settings.max_lifetime));
        if let Err(error) = top_up(&pool, settings.min_idle).await {
            tracing::warn!(%error, "keel pool could not restore its minimum idle connections");
        }
    }
}
