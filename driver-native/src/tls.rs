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
use rustls::pki_types::pem::PemObject;
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

/// The URL without its TLS parameters, and the settings that apply: the
/// URL's `sslmode` overrides `settings.mode`, and the PEM certificates of
/// its `sslrootcert` file are trusted in addition to
/// `settings.root_certificates`. These are libpq's parameter names, so a
/// URL that works with `psql` works here; tokio-postgres itself rejects
/// `sslrootcert` and does not know `verify-full`.
pub(crate) fn resolve(url: &str, settings: &TlsSettings) -> NativeResult<(String, TlsSettings)> {
    let mut effective = settings.clone();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), effective));
    };
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("sslmode", value)) => effective.mode = SslMode::parse(value)?,
            Some(("sslrootcert", path)) => {
                let path = percent_decode(path);
                effective
                    .root_certificates
                    .extend(read_pem_certificates(&path)?);
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, effective))
}

/// The DER certificates of a PEM file (libpq's `sslrootcert`), at least one.
pub fn read_pem_certificates(path: &str) -> NativeResult<Vec<Vec<u8>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| NativeError::Config(format!("sslrootcert {path}: {e}")))?;
    if certificates.is_empty() {
        return Err(NativeError::Config(format!(
            "sslrootcert {path}: no PEM certificate in the file"
        )));
    }
    Ok(certificates.into_iter().map(|c| c.to_vec()).collect())
}

/// `%XX` escapes of a URL query value (a path may contain spaces or `&`).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The tokio-postgres mode and, unless TLS is disabled, the connector.
pub(crate) fn connector(
    mode: SslMode,
    roots: &[Vec<u8>],
) -> NativeResult<(tokio_postgres::config::SslMode, Option<MakeRustlsConnect>)> {
    use tokio_postgres::config::SslMode as Pg;
    let pg = match mode {
        SslMode::Disable => Pg::Disable,
        SslMode::Prefer => Pg::Prefer,
        SslMode::Require | SslMode::VerifyFull => Pg::Require,
    };
    Ok((pg, client_config(mode, roots)?.map(MakeRustlsConnect::new)))
}

/// The rustls configuration for `mode`; `None` when TLS is disabled.
/// `prefer` and `require` check the handshake but not the certificate (as
/// libpq does); `verify-full` checks the chain against `roots` and the name.
pub(crate) fn client_config(
    mode: SslMode,
    roots: &[Vec<u8>],
) -> NativeResult<Option<ClientConfig>> {
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
        SslMode::Disable => None,
        SslMode::Prefer | SslMode::Require => Some(unverified()),
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
            Some(
                builder
                    .clone()
                    .with_root_certificates(store)
                    .with_no_client_auth(),
            )
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
    fn tls_parameters_are_taken_from_the_url() {
        let defaults = TlsSettings::default();
        let (url, tls) = resolve(
            "postgres://u:p@h:1/db?application_name=x&sslmode=verify-full",
            &defaults,
        )
        .unwrap();
        assert_eq!(url, "postgres://u:p@h:1/db?application_name=x");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        let (url, tls) = resolve("postgres://u:p@h:1/db?sslmode=disable", &defaults).unwrap();
        assert_eq!(
            (url.as_str(), tls.mode),
            ("postgres://u:p@h:1/db", SslMode::Disable)
        );
        assert_eq!(resolve("postgres://h/db", &defaults).unwrap().1, defaults);
        assert!(resolve("postgres://h/db?sslmode=verify-ca", &defaults).is_err());
        let missing = resolve(
            "postgres://h/db?sslrootcert=/nonexistent%20dir/ca.pem",
            &defaults,
        )
        .unwrap_err()
        .to_string();
        assert!(missing.contains("/nonexistent dir/ca.pem"), "{missing}");
    }
}
