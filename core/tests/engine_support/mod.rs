//! Shared by the server-backed engine and type tests: a TCP [`Transport`],
//! login from the harness URL, and a hand-driven [`Connection`] session.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use keel_core::protocol::{Client, Connection, Event, StartupConfig, Transport};
use keel_core::Error;
use keel_testkit::PgUrl;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The harness database, or `None` after the skip line (a panic under
/// `KEEL_REQUIRE_DB=1`).
pub fn database() -> Option<PgUrl> {
    let url = keel_testkit::database_url()?;
    Some(PgUrl::parse(&url).unwrap_or_else(|| panic!("cannot parse {url:?}")))
}

pub fn config(url: &PgUrl) -> StartupConfig {
    StartupConfig {
        user: url.user.clone(),
        password: Some(url.password.clone()),
        database: Some(url.database.clone()),
        application_name: Some("keel-core-tests".into()),
        options: None,
    }
}

/// Fresh per call: a SCRAM nonce must never repeat.
pub fn nonce_seed() -> Vec<u8> {
    (0..3)
        .flat_map(|_| RandomState::new().build_hasher().finish().to_le_bytes())
        .collect()
}

pub struct Tcp(pub TcpStream);

impl Tcp {
    pub async fn connect(url: &PgUrl) -> Tcp {
        let stream = TcpStream::connect((url.host.as_str(), url.port))
            .await
            .unwrap_or_else(|e| panic!("cannot reach {}:{}: {e}", url.host, url.port));
        stream.set_nodelay(true).unwrap();
        Tcp(stream)
    }
}

#[async_trait::async_trait]
impl Transport for Tcp {
    async fn write(&mut self, bytes: Vec<u8>) -> keel_core::Result<()> {
        self.0
            .write_all(&bytes)
            .await
            .map_err(|e| Error::Transport(e.to_string()))
    }

    async fn read(&mut self) -> keel_core::Result<Option<Vec<u8>>> {
        let mut buf = vec![0; 64 * 1024];
        let n = self
            .0
            .read(&mut buf)
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        buf.truncate(n);
        Ok((n > 0).then_some(buf))
    }
}

pub async fn client(url: &PgUrl, config: StartupConfig) -> Client<Tcp> {
    Client::connect(Tcp::connect(url).await, config, &nonce_seed())
        .await
        .expect("login with the test credentials")
}

/// The engine driven by hand, for what `Client` does not expose.
pub struct Session {
    pub conn: Connection,
    pub tcp: Tcp,
}

impl Session {
    pub async fn open(url: &PgUrl, config: StartupConfig) -> Session {
        let mut session = Session {
            conn: Connection::new(config, &nonce_seed()),
            tcp: Tcp::connect(url).await,
        };
        loop {
            if let Event::Connected = session.next_event().await {
                return session;
            }
        }
    }

    pub async fn flush(&mut self) {
        while let Some(bytes) = self.conn.poll_transmit() {
            self.tcp.write(bytes).await.unwrap();
        }
    }

    /// Skips asynchronous events until the next request finishes.
    pub async fn next_result(&mut self) -> Event {
        loop {
            match self.next_event().await {
                event @ (Event::QueryComplete { .. } | Event::QueryFailed { .. }) => return event,
                _ => continue,
            }
        }
    }

    pub async fn next_event(&mut self) -> Event {
        loop {
            self.flush().await;
            if let Some(event) = self.conn.poll_event() {
                return event;
            }
            let bytes = self
                .tcp
                .read()
                .await
                .unwrap()
                .expect("server closed the connection");
            self.conn.handle_input(&bytes).unwrap();
        }
    }
}
