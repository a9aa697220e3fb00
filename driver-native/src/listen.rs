//! LISTEN/NOTIFY as a [`Stream`] that survives connection loss.
//!
//! Notifications need a dedicated connection (a pooled one is shared and
//! may be recycled). A background task owns it: it issues `LISTEN` for each
//! channel, forwards notifications, and when the connection dies it
//! reconnects with capped exponential backoff and listens again. PostgreSQL
//! does not queue notifications for a disconnected listener, so after a
//! reconnect the stream yields [`ListenEvent::Reconnected`]: the caller's
//! cue to re-read whatever state the notifications were announcing.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::driver::map_error;
use crate::endpoint::{login_error, Endpoint};
use crate::error::NativeResult;
use crate::tls::TlsSettings;

/// One `NOTIFY` as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub channel: String,
    pub payload: String,
    /// Server process id of the notifying session.
    pub process_id: i32,
}

/// An item of a [`Listener`] stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenEvent {
    Notification(Notification),
    /// The connection was lost and re-established, and every channel is
    /// listened to again; notifications sent in between were missed.
    Reconnected,
}

/// Stream of notifications on one or more channels. Dropping it closes
/// its connection.
pub struct Listener {
    events: mpsc::Receiver<ListenEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stream for Listener {
    type Item = ListenEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ListenEvent>> {
        self.events.poll_recv(cx)
    }
}

/// Maximum delay between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Listener {
    /// Connects and listens on `channels`. The first connection must
    /// succeed (a wrong URL fails here); later losses are retried forever.
    /// TLS follows the URL's `sslmode`/`sslrootcert` (default `prefer`).
    pub async fn listen(url: &str, channels: &[&str]) -> NativeResult<Listener> {
        Listener::listen_with(url, channels, &TlsSettings::default()).await
    }

    /// [`listen`](Self::listen) with TLS settings, as a pool takes them.
    pub async fn listen_with(
        url: &str,
        channels: &[&str],
        tls: &TlsSettings,
    ) -> NativeResult<Listener> {
        let endpoint = Endpoint::new(url, tls)?;
        let sql: String = channels
            .iter()
            .map(|c| format!("LISTEN {};", quote_identifier(c)))
            .collect();
        let (events, receiver) = mpsc::channel(1024);
        let first = session(&endpoint, &sql, events.clone()).await?;
        let task = tokio::spawn(async move {
            let mut running = first;
            loop {
                // Ends when the server closes the connection or the stream
                // is dropped (then sending fails and the session stops).
                let _ = running.await;
                if events.is_closed() {
                    return;
                }
                let mut backoff = Duration::from_millis(50);
                running = loop {
                    match session(&endpoint, &sql, events.clone()).await {
                        Ok(next) => break next,
                        Err(error) => {
                            tracing::debug!(%error, ?backoff, "LISTEN reconnect failed");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                        }
                    }
                };
                if events.send(ListenEvent::Reconnected).await.is_err() {
                    return;
                }
            }
        });
        Ok(Listener {
            events: receiver,
            task,
        })
    }
}

/// Connects, listens, and returns the task that forwards notifications
/// until the connection ends.
async fn session(
    endpoint: &Endpoint,
    listen_sql: &str,
    events: mpsc::Sender<ListenEvent>,
) -> NativeResult<tokio::task::JoinHandle<()>> {
    let (client, forward) = match &endpoint.tls {
        Some(tls) => {
            let (client, connection) = endpoint
                .config
                .connect(tls.clone())
                .await
                .map_err(login_error)?;
            (client, forward(connection, events))
        }
        None => {
            let (client, connection) = endpoint.config.connect(NoTls).await.map_err(login_error)?;
            (client, forward(connection, events))
        }
    };
    if let Err(error) = client.batch_execute(listen_sql).await {
        forward.abort();
        return Err(map_error(error).into());
    }
    // Keep the client until the forwarding task ends: dropping it would
    // close the connection.
    Ok(tokio::spawn(async move {
        let _client = client;
        let _ = forward.await;
    }))
}

/// Drives `connection`, sending its notifications to `events` until either
/// side goes away.
fn forward<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    events: mpsc::Sender<ListenEvent>,
) -> tokio::task::JoinHandle<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let message = futures_util::future::poll_fn(|cx| connection.poll_message(cx)).await;
            match message {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    let event = ListenEvent::Notification(Notification {
                        channel: n.channel().to_owned(),
                        payload: n.payload().to_owned(),
                        process_id: n.process_id(),
                    });
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::debug!(%error, "LISTEN connection ended");
                    return;
                }
                None => return,
            }
        }
    })
}

/// `"name"` with embedded quotes doubled: a channel name is an identifier,
/// and `LISTEN` takes no bind parameters.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::quote_identifier;

    #[test]
    fn channel_names_are_quoted_identifiers() {
        assert_eq!(quote_identifier("jobs"), "\"jobs\"");
        assert_eq!(quote_identifier("a\"b; DROP"), "\"a\"\"b; DROP\"");
    }
}
