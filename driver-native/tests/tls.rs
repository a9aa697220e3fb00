//! TLS by sslmode against the throwaway server, with certificates generated
//! here. Its own test binary: it turns `ssl` on in the server's
//! configuration for its duration.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::stmt;
use futures_util::StreamExt;
use keel_native::{
    Driver, ListenEvent, Listener, NativeDriver, NativeError, Pool, PoolSettings, TlsSettings,
    Value,
};
use keel_testkit::database_url;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

struct Authority {
    der: Vec<u8>,
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn authority(name: &str) -> Authority {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Authority {
        der: cert.der().to_vec(),
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// Writes a server certificate for 127.0.0.1/localhost into the data
/// directory, owned by the server's user, and returns (cert, key) paths.
fn install_server_certificate(data: &Path, ca: &Authority) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let owner = std::fs::metadata(data).unwrap();
    let cert_path = data.join("keel-test-server.crt");
    let key_path = data.join("keel-test-server.key");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    for path in [&cert_path, &key_path] {
        std::os::unix::fs::chown(path, Some(owner.uid()), Some(owner.gid())).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    )
}

async fn admin(url: &str, sql: &str) {
    let driver = NativeDriver::connect(url).await.unwrap();
    for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
        driver.query(&stmt(statement, vec![], &[])).await.unwrap();
    }
}

fn with_mode(url: &str, mode: &str) -> String {
    format!("{url}?sslmode={mode}")
}

async fn uses_tls(pool: &Pool) -> bool {
    let rows = pool
        .fetch_statement(&stmt(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            vec![],
            &["ssl"],
        ))
        .await
        .unwrap();
    rows.rows[0][0] == Value::Bool(true)
}

fn settings(roots: Vec<Vec<u8>>) -> PoolSettings {
    PoolSettings {
        max_size: 1,
        min_idle: 1,
        tls: TlsSettings {
            root_certificates: roots,
            ..TlsSettings::default()
        },
        ..PoolSettings::default()
    }
}

#[tokio::test]
async fn sslmodes_disable_prefer_require_and_verify_full() {
    let Some(url) = database_url() else { return };
    let Ok(dir) = std::env::var("KEEL_PG_DIR") else {
        println!(
            "skipping: KEEL_PG_DIR is not set, so TLS cannot be configured (run scripts/test)"
        );
        return;
    };
    let ca = authority("keel test CA");
    let (cert, key) = install_server_certificate(&Path::new(&dir).join("data"), &ca);
    admin(
        &url,
        &format!(
            "ALTER SYSTEM SET ssl_cert_file = '{cert}'; ALTER SYSTEM SET ssl_key_file = '{key}'; \
             ALTER SYSTEM SET ssl = on; SELECT pg_reload_conf()"
        ),
    )
    .await;
    let ca_file = Path::new(&dir).join("keel-test-ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let body = tokio::spawn(async move {
        check_modes(url.clone(), ca.der.clone()).await;
        check_single_connections(&url, &ca_file.display().to_string()).await;
    });
    let outcome = body.await;
    let url = database_url().unwrap();
    admin(
        &url,
        "ALTER SYSTEM RESET ssl; ALTER SYSTEM RESET ssl_cert_file; \
         ALTER SYSTEM RESET ssl_key_file; SELECT pg_reload_conf()",
    )
    .await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn check_modes(url: String, ca: Vec<u8>) {
    // The configuration reload is asynchronous: wait until the server
    // actually offers TLS.
    let mut attempts = 0;
    let require = loop {
        match Pool::connect(&with_mode(&url, "require"), settings(vec![])).await {
            Ok(pool) => break pool,
            Err(error) => {
                attempts += 1;
                assert!(attempts < 100, "the server never offered TLS: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    assert!(uses_tls(&require).await);

    let verified = Pool::connect(&with_mode(&url, "verify-full"), settings(vec![ca.clone()]))
        .await
        .unwrap();
    assert!(uses_tls(&verified).await);

    let prefer = Pool::connect(&with_mode(&url, "prefer"), settings(vec![]))
        .await
        .unwrap();
    assert!(uses_tls(&prefer).await);

    let plain = Pool::connect(&with_mode(&url, "disable"), settings(vec![]))
        .await
        .unwrap();
    assert!(!uses_tls(&plain).await);

    // A certificate from another CA fails verification, and says so.
    let stranger = authority("some other CA");
    let error = Pool::connect(
        &with_mode(&url, "verify-full"),
        settings(vec![stranger.der]),
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
    // Reaching the same server by a name the certificate does not hold
    // fails too (`hostaddr` keeps the address, the name is what is checked).
    let wrong_name = format!(
        "{}?hostaddr=127.0.0.1&sslmode=verify-full",
        url.replace("@127.0.0.1:", "@keel-wrong-name.invalid:")
    );
    assert_ne!(wrong_name, with_mode(&url, "verify-full"));
    let error = Pool::connect(&wrong_name, settings(vec![ca]))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not valid for name"), "{error}");
    let error = Pool::connect(&with_mode(&url, "verify-full"), settings(vec![]))
        .await
        .unwrap_err();
    assert!(matches!(error, NativeError::Config(_)), "{error}");
}

/// The single connection, the LISTEN connection and introspection take
/// TLS from the URL alone, with libpq's `sslrootcert`.
async fn check_single_connections(url: &str, ca_file: &str) {
    let verified = format!("{url}?sslmode=verify-full&sslrootcert={ca_file}");
    let driver = NativeDriver::connect(&verified).await.unwrap();
    let rows = driver
        .query(&stmt(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            vec![],
            &["ssl"],
        ))
        .await
        .unwrap();
    let decoded = keel_native::types::Rows::decode(&["ssl".to_owned()], &rows).unwrap();
    assert_eq!(decoded.rows[0][0], Value::Bool(true));

    let mut listener = Listener::listen(&verified, &["keel_tls"]).await.unwrap();
    driver
        .query(&stmt("NOTIFY keel_tls, 'over tls'", vec![], &[]))
        .await
        .unwrap();
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), listener.next())
        .await
        .unwrap();
    assert!(
        matches!(&event, Some(ListenEvent::Notification(n)) if n.payload == "over tls"),
        "{event:?}"
    );

    let schema = keel_native::introspect::introspect(&verified)
        .await
        .unwrap();
    assert!(!schema.tables.is_empty());

    check_proxy_upstream(url, ca_file).await;

    // A root file that does not hold the server's CA is refused.
    let other = format!("{ca_file}.other");
    std::fs::write(&other, authority("some other CA").pem).unwrap();
    let error = NativeDriver::connect(&format!("{url}?sslmode=verify-full&sslrootcert={other}"))
        .await
        .err()
        .unwrap();
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
}

/// keel's engine over a WebSocket to keel-proxy, as the wasm driver does.
struct Ws(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

#[async_trait::async_trait]
impl keel_native::protocol::Transport for Ws {
    async fn write(&mut self, bytes: Vec<u8>) -> keel_native::Result<()> {
        use futures_util::SinkExt;
        self.0
            .send(tokio_tungstenite::tungstenite::Message::Binary(
                bytes.into(),
            ))
            .await
            .map_err(|e| keel_native::Error::Transport(e.to_string()))
    }

    async fn read(&mut self) -> keel_native::Result<Option<Vec<u8>>> {
        loop {
            match self.0.next().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(keel_native::Error::Transport(e.to_string())),
                Some(Ok(tokio_tungstenite::tungstenite::Message::Binary(bytes))) => {
                    return Ok(Some(bytes.to_vec()))
                }
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => return Ok(None),
                Some(Ok(_)) => {}
            }
        }
    }
}

/// The proxy negotiates TLS with the server itself (verify-full against
/// the test CA), so a client that speaks plain PostgreSQL over the
/// WebSocket gets a TLS session on the server; a proxy told to verify
/// against another CA refuses to relay.
async fn check_proxy_upstream(url: &str, ca_file: &str) {
    use keel_native::protocol::{Client, StartupConfig};
    use keel_native::proxy::{Proxy, ProxyConfig};

    let parts = keel_testkit::PgUrl::parse(url).unwrap();
    let start = |roots: Vec<Vec<u8>>| {
        let target = format!("{}:{}", parts.host, parts.port);
        async move {
            let proxy = Proxy::bind(
                "127.0.0.1:0",
                ProxyConfig {
                    default_target: Some(target),
                    upstream_tls: Some(TlsSettings {
                        mode: keel_native::SslMode::VerifyFull,
                        root_certificates: roots,
                    }),
                    ..ProxyConfig::default()
                },
            )
            .await
            .unwrap();
            let address = proxy.local_addr().unwrap();
            tokio::spawn(proxy.serve());
            format!("ws://{address}")
        }
    };
    let login = |ws: String| {
        let parts = parts.clone();
        async move {
            let (stream, _) = tokio_tungstenite::connect_async(ws).await?;
            let config = StartupConfig {
                user: parts.user.clone(),
                password: Some(parts.password.clone()),
                database: Some(parts.database.clone()),
                application_name: Some("keel_proxy_tls".into()),
                options: None,
            };
            Ok::<_, tokio_tungstenite::tungstenite::Error>(
                Client::connect(Ws(stream), config, &nonce_seed()).await,
            )
        }
    };

    let trusted = keel_native::tls::read_pem_certificates(ca_file).unwrap();
    let client = login(start(trusted).await).await.unwrap().unwrap();
    let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    let rows = client.query_raw(sql, &[], &[]).await.unwrap();
    let decoded = keel_native::types::Rows::decode(&["ssl".to_owned()], &rows).unwrap();
    assert_eq!(
        decoded.rows[0][0],
        Value::Bool(true),
        "the proxy's session uses TLS"
    );
    client.close().await.unwrap();

    let stranger = authority("yet another CA");
    let refused = login(start(vec![stranger.der]).await).await;
    assert!(
        !matches!(refused, Ok(Ok(_))),
        "a proxy that cannot verify the server must not relay"
    );
}

/// Fresh per login: a SCRAM nonce must not repeat.
fn nonce_seed() -> Vec<u8> {
    use std::hash::{BuildHasher, Hasher};
    (0..3)
        .flat_map(|_| {
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
                .to_le_bytes()
        })
        .collect()
}
