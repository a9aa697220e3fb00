//! A generic async runner: one [`Connection`] over one [`Transport`].

use std::collections::VecDeque;
use std::fmt;

use futures_util::lock::Mutex;
#[cfg(not(target_arch = "wasm32"))]
use tracing::Instrument;

use super::config::StartupConfig;
use super::connection::{Connection, Event};
use super::transport::Transport;
use super::ProtocolError;
use crate::compile::Statement;
use crate::driver::Driver;
use crate::error::{Error, Result};
use crate::rows::RawRows;

/// A NOTIFY received on a channel this session LISTENs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub process_id: i32,
    pub channel: String,
    pub payload: String,
}

/// Notifications kept for a session nobody reads them from; older ones are
/// dropped (and logged) beyond this, so an idle listener cannot grow memory
/// without bound.
const MAX_QUEUED_NOTIFICATIONS: usize = 10_000;

/// One statement of a [`Client::pipeline`]: SQL, parameter type OIDs and
/// parameters in binary format (`None` is NULL).
#[derive(Debug, Clone, Copy)]
pub struct PipelineStatement<'a> {
    pub sql: &'a str,
    pub param_oids: &'a [u32],
    pub params: &'a [Option<Vec<u8>>],
}

/// A PostgreSQL session over any [`Transport`], usable as a [`Driver`].
///
/// Statements run one at a time: the session is behind an async mutex,
/// because a PostgreSQL connection is a single ordered stream. A pool puts
/// several `Client`s side by side for concurrency.
pub struct Client<T> {
    inner: Mutex<Inner<T>>,
    /// Kept outside the mutex: a cancel is needed exactly while a query
    /// holds the session.
    cancel_request: Option<Vec<u8>>,
}

struct Inner<T> {
    connection: Connection,
    transport: T,
    /// NOTIFY messages received while doing anything else, oldest first,
    /// until [`Client::next_notification`] takes them.
    notifications: VecDeque<Notification>,
    /// Why the byte stream can no longer be trusted: the transport failed,
    /// reached end of stream, or a write was cancelled halfway.
    unusable: Option<String>,
}

impl<T> fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl<T: Transport> Client<T> {
    /// Sends the StartupMessage and runs the login. A rejected login is
    /// [`Error::Auth`]; any other failure closes the transport by dropping it.
    pub async fn connect(transport: T, config: StartupConfig, nonce_seed: &[u8]) -> Result<Self> {
        let mut inner = Inner {
            connection: Connection::new(config, nonce_seed),
            transport,
            notifications: VecDeque::new(),
            unusable: None,
        };
        inner.check()?;
        inner.flush().await?;
        loop {
            match inner.next_event().await {
                Ok(Event::Connected) => {
                    return Ok(Client {
                        cancel_request: inner.connection.cancel_request(),
                        inner: Mutex::new(inner),
                    })
                }
                Ok(other) => inner.other(other),
                Err(Error::Closed(_)) => {
                    return Err(Error::Closed(Some(
                        "the server closed the connection during startup".into(),
                    )))
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// The bytes of a CancelRequest for this session's running statement, to
    /// send on a second connection to the same server (the server sends no
    /// reply). `None` when the server sent no BackendKeyData (PGlite).
    pub fn cancel_request(&self) -> Option<&[u8]> {
        self.cancel_request.as_deref()
    }

    /// Runs one statement through the connection's statement cache, so a
    /// repeated statement is one round trip and columns of types keel does
    /// not decode come back as text. `params` are in binary format (`None`
    /// is NULL); `param_oids` may be shorter than `params`, leaving the rest
    /// to the server to infer. A statement error returns `Err` but keeps
    /// the session.
    pub async fn query_raw(
        &self,
        sql: &str,
        param_oids: &[u32],
        params: &[Option<Vec<u8>>],
    ) -> Result<RawRows> {
        let statement = PipelineStatement {
            sql,
            param_oids,
            params,
        };
        let mut results = [Err(Error::Closed(None))];
        let run = self.run(std::slice::from_ref(&statement), &mut results);
        // The wasm build compiles tracing's events out; its span wrapper would
        // still cost code there.
        #[cfg(not(target_arch = "wasm32"))]
        let run = run.instrument(tracing::debug_span!("keel.query", sql = %sql));
        run.await?;
        let [result] = results;
        result
    }

    /// Sends several statements together and returns each one's result, in
    /// order. Statements the session has already prepared go out in a single
    /// write, so N of them cost one round trip; a statement seen for the
    /// first time is described first, which holds the ones after it until
    /// its description arrives. One statement failing does not fail the
    /// others (each runs in its own implicit transaction).
    pub async fn pipeline(
        &self,
        statements: &[PipelineStatement<'_>],
    ) -> Result<Vec<Result<RawRows>>> {
        let mut results: Vec<Result<RawRows>> = statements
            .iter()
            .map(|_| Err(Error::Closed(None)))
            .collect();
        self.run(statements, &mut results).await?;
        Ok(results)
    }

    /// The one loop behind [`query_raw`](Self::query_raw) and
    /// [`pipeline`](Self::pipeline): sends `statements` and stores each one's
    /// result in the slot of the same index. `Ok` means every slot was
    /// filled.
    async fn run(
        &self,
        statements: &[PipelineStatement<'_>],
        results: &mut [Result<RawRows>],
    ) -> Result<()> {
        let mut inner = self.inner.lock().await;
        inner.check()?;
        inner.connection.hold();
        let queued: Result<Vec<Option<super::RequestId>>> = statements
            .iter()
            .map(|statement| {
                inner
                    .connection
                    .send_prepared(statement.sql, statement.param_oids, statement.params)
                    .map(Some)
            })
            .collect();
        inner.connection.release_held();
        let mut waiting = queued?;
        inner.flush().await?;
        let mut remaining = waiting.len();
        while remaining > 0 {
            let (id, result) = match inner.next_event().await? {
                Event::QueryComplete { id, rows, .. } => (id, Ok(rows)),
                Event::QueryFailed { id, error } => (id, Err(Error::from(error))),
                // Responses to requests whose futures were dropped arrive
                // first and are discarded here.
                other => {
                    inner.other(other);
                    continue;
                }
            };
            if let Some(index) = waiting.iter().position(|x| *x == Some(id)) {
                waiting[index] = None;
                remaining -= 1;
                if let Some(slot) = results.get_mut(index) {
                    *slot = result;
                }
            }
        }
        Ok(())
    }

    /// Waits for the next NOTIFY on a channel this session LISTENs on
    /// (run `LISTEN channel` first). It holds the session while it waits, so
    /// it is meant for a connection dedicated to listening; notifications
    /// that arrived during other statements are returned first.
    pub async fn next_notification(&self) -> Result<Notification> {
        let mut inner = self.inner.lock().await;
        loop {
            if let Some(notification) = inner.notifications.pop_front() {
                return Ok(notification);
            }
            inner.check()?;
            let event = inner.next_event().await?;
            inner.other(event);
        }
    }

    /// Streams one statement's rows through a portal, at most `batch` rows at
    /// a time, so memory stays bounded by one batch however large the
    /// result. `on_batch` receives each batch; resolving to `false` closes
    /// the portal without reading the rest. The session is held until the
    /// stream ends, and is left ready for the next statement whether the
    /// stream finishes, is stopped, or `on_batch` fails.
    pub async fn query_batches<F, Fut>(
        &self,
        sql: &str,
        param_oids: &[u32],
        params: &[Option<Vec<u8>>],
        batch: u32,
        mut on_batch: F,
    ) -> Result<()>
    where
        F: FnMut(RawRows) -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        let mut inner = self.inner.lock().await;
        inner.check()?;
        let id = inner
            .connection
            .send_portal(sql, param_oids, params, batch)?;
        inner.flush().await?;
        // A consumer failure is reported once the portal is closed and the
        // session is back in step.
        let mut failure: Option<Error> = None;
        loop {
            match inner.next_event().await? {
                Event::RowBatch { id: got, rows } if got == id => {
                    let more = if failure.is_some() {
                        false
                    } else {
                        match on_batch(rows).await {
                            Ok(more) => more,
                            Err(error) => {
                                failure = Some(error);
                                false
                            }
                        }
                    };
                    if more {
                        inner.connection.fetch_more(id)?;
                    } else {
                        inner.connection.close_portal(id)?;
                    }
                    inner.flush().await?;
                }
                Event::QueryComplete { id: got, rows, .. } if got == id => {
                    if let Some(error) = failure {
                        return Err(error);
                    }
                    if !rows.is_empty() {
                        on_batch(rows).await?;
                    }
                    return Ok(());
                }
                Event::QueryFailed { id: got, error } if got == id => {
                    return Err(failure.unwrap_or_else(|| Error::from(error)));
                }
                other => inner.other(other),
            }
        }
    }

    /// How many prepared statements the session keeps; 0 means unnamed
    /// statements only, as pgbouncer's transaction mode needs. See
    /// [`Connection::set_statement_cache_capacity`].
    pub async fn set_statement_cache_capacity(&self, capacity: usize) {
        self.inner
            .lock()
            .await
            .connection
            .set_statement_cache_capacity(capacity);
    }

    /// Names prepared statements `{prefix}_{n}`; see
    /// [`Connection::set_statement_prefix`].
    pub async fn set_statement_prefix(&self, prefix: &str) {
        self.inner
            .lock()
            .await
            .connection
            .set_statement_prefix(prefix);
    }

    /// Sends Terminate, unless the stream is already unusable, then closes
    /// the transport. The transport is closed even if Terminate fails.
    pub async fn close(self) -> Result<()> {
        let mut inner = self.inner.into_inner();
        let terminated = if inner.unusable.is_some() || inner.connection.is_broken() {
            Ok(())
        } else {
            inner.connection.terminate();
            inner.flush().await
        };
        let closed = inner.transport.close().await;
        terminated.and(closed)
    }
}

impl<T: Transport> Inner<T> {
    /// An event no request is waiting for: notifications are kept for
    /// [`Client::next_notification`], anything else is logged.
    fn other(&mut self, event: Event) {
        match event {
            Event::Notification {
                process_id,
                channel,
                payload,
            } => {
                if self.notifications.len() >= MAX_QUEUED_NOTIFICATIONS {
                    tracing::warn!("dropping the oldest unread notification");
                    self.notifications.pop_front();
                }
                self.notifications.push_back(Notification {
                    process_id,
                    channel,
                    payload,
                });
            }
            other => trace_event(&other),
        }
    }

    fn check(&self) -> Result<()> {
        if let Some(reason) = &self.unusable {
            return Err(Error::Closed(Some(reason.clone())));
        }
        if let Some(reason) = self.connection.broken_reason() {
            return Err(ProtocolError::Broken {
                reason: reason.to_owned(),
            }
            .into());
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        while let Some(bytes) = self.connection.poll_transmit() {
            self.unusable = Some("a write to the server was cancelled midway".into());
            if let Err(error) = self.transport.write(bytes).await {
                self.unusable = Some(format!("writing to the server failed: {error}"));
                return Err(error);
            }
            self.unusable = None;
        }
        Ok(())
    }

    /// The next event, reading from the server until there is one.
    async fn next_event(&mut self) -> Result<Event> {
        loop {
            if let Some(event) = self.connection.poll_event() {
                return Ok(event);
            }
            self.receive().await?;
        }
    }

    async fn receive(&mut self) -> Result<()> {
        match self.transport.read().await {
            Ok(Some(bytes)) => {
                self.connection.handle_input(&bytes)?;
                self.flush().await
            }
            Ok(None) => {
                let reason = "the server closed the connection".to_owned();
                self.unusable = Some(reason.clone());
                Err(Error::Closed(Some(reason)))
            }
            Err(error) => {
                self.unusable = Some(format!("reading from the server failed: {error}"));
                Err(error)
            }
        }
    }
}

fn trace_event(event: &Event) {
    match event {
        Event::Notice(notice) => tracing::info!(
            severity = %notice.severity,
            code = %notice.code,
            "server notice: {}",
            notice.message
        ),
        Event::Notification { channel, .. } => {
            tracing::debug!(%channel, "notification with no listener")
        }
        Event::ParameterStatus { name, value } => {
            tracing::debug!(%name, %value, "server parameter")
        }
        // Row contents stay out of logs; they may be sensitive.
        Event::QueryComplete { id, tag, .. } => {
            tracing::debug!(?id, %tag, "abandoned query completed")
        }
        Event::QueryFailed { id, error } => tracing::debug!(?id, %error, "abandoned query failed"),
        Event::RowBatch { id, .. }
        | Event::SimpleQueryComplete { id, .. }
        | Event::CopyInReady { id, .. }
        | Event::CopyData { id, .. } => tracing::debug!(?id, "event for an abandoned request"),
        Event::Connected => {}
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<T: Transport> Driver for Client<T> {
    async fn query(&self, statement: &Statement) -> Result<RawRows> {
        let params = statement.encode_params()?;
        self.query_raw(&statement.sql, &statement.param_oids(), &params)
            .await
    }
}
