//! TLS with rustls, by libpq's `sslmode`.
//!
//! - `disable`: plain TCP.
//! - `prefer`: TLS when the server offers it, plain otherwise; the
//!   certificate is not checked (libpq's behaviour: it only resists passive
//!   eavesdropping).
//! - `require`: TLS or fail; the certificate is not checked.
//! - `verify-full`: TLS, the chain must lead to one of the configured root
//!   certificates and name the host connected to.
//!
//! tokio-postgres knows the first three only, so keel reads `sslmode` from
//! the URL itself and maps `verify-full` onto tokio-postgres' `require` with
//! a verifying rustls configuration. The crypto provider is *ring*, chosen
//! explicitly rather than via a process-wide default.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{NativeError, NativeResult};

/// libpq's `sslmode`, the values keel supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyFull,
}

impl SslMode {
    pub fn parse(value: &str) -> NativeResult<SslMode> {
        match value {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(NativeError::Config(format!(
                "sslmode {other:?} is not supported (disable, prefer, require, verify-full)"
            ))),
        }
    }
}

/// TLS settings of a pool. `root_certificates` (DER) are the only trust
/// anchors for `verify-full`; keel ships no bundle of public CAs, since a
/// database's certificate is usually issued by a private CA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// Used when the URL has no `sslmode`.
    pub mode: SslMode,
    pub root_certificates: Vec<Vec<u8>>,
}

/// Removes `sslmode` from a URL's query string, returning the rest and the mode.
pub(crate) fn take_sslmode(url: &str) -> NativeResult<(String, Option<SslMode>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut mode = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("sslmode", value)) => mode = Some(SslMode::parse(value)?),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, mode))
}

/// The tokio-postgres mode and, unless TLS is disabled, the connector.
pub(crate) fn connector(
    mode: SslMode,
    roots: &[Vec<u8>],
) -> NativeResult<(tokio_postgres::config::SslMode, Option<MakeRustlsConnect>)> {
    use tokio_postgres::config::SslMode as Pg;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| NativeError::Config(format!("TLS: {e}")))?;
    let unverified = || {
        builder
            .clone()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider.clone())))
            .with_no_client_auth()
    };
    Ok(match mode {
        SslMode::Disable => (Pg::Disable, None),
        SslMode::Prefer => (Pg::Prefer, Some(MakeRustlsConnect::new(unverified()))),
        SslMode::Require => (Pg::Require, Some(MakeRustlsConnect::new(unverified()))),
        SslMode::VerifyFull => {
            if roots.is_empty() {
                return Err(NativeError::Config(
                    "sslmode verify-full needs at least one root certificate".into(),
                ));
            }
            let mut store = RootCertStore::empty();
            for der in roots {
                store
                    .add(CertificateDer::from(der.clone()))
                    .map_err(|e| NativeError::Config(format!("TLS root certificate: {e}")))?;
            }
            let config = builder
                .clone()
                .with_root_certificates(store)
                .with_no_client_auth();
            (Pg::Require, Some(MakeRustlsConnect::new(config)))
        }
    })
}

/// `prefer`/`require`: any certificate is accepted, but the handshake
/// signatures are still checked, so the session key is bound to the
/// certificate the server presented.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_taken_from_the_url() {
        let (url, mode) =
            take_sslmode("postgres://u:p@h:1/db?application_name=x&sslmode=verify-full").unwrap();
        assert_eq!(url, "postgres://u:p@h:1/db?application_name=x");
        assert_eq!(mode, Some(SslMode::VerifyFull));
        let (url, mode) = take_sslmode("postgres://u:p@h:1/db?sslmode=disable").unwrap();
        assert_eq!(
            (url.as_str(), mode),
            ("postgres://u:p@h:1/db", Some(SslMode::Disable))
        );
        assert_eq!(take_sslmode("postgres://h/db").unwrap().1, None);
        assert!(take_sslmode("postgres://h/db?sslmode=verify-ca").is_err());
    }
}
