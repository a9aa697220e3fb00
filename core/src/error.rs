//! The error type every keel operation returns.

use crate::compile::CompileError;
use crate::protocol::ProtocolError;
use crate::types::{DecodeError, EncodeError};

/// An error reported by the PostgreSQL server (ErrorResponse or NoticeResponse).
///
/// Every field the server sent is kept, so callers can branch on the SQLSTATE
/// and show the constraint or column that was violated.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerError {
    pub severity: String,
    /// SQLSTATE, for example `23505` for a unique violation.
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub position: Option<u32>,
    pub schema: Option<String>,
    pub table: Option<String>,
    pub column: Option<String>,
    pub constraint: Option<String>,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.severity, self.code, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, " (detail: {detail})")?;
        }
        if let Some(constraint) = &self.constraint {
            write!(f, " (constraint: {constraint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {}

impl ServerError {
    /// SQLSTATE class 28: invalid authorization specification (wrong password, unknown role).
    pub fn is_auth_failure(&self) -> bool {
        self.code.starts_with("28")
    }

    /// The error for a failure during login: class 28 is an authentication
    /// failure, anything else (say, a missing database) stays a server error.
    /// After login a class-28 error (e.g. from `SET ROLE`) is an ordinary
    /// statement error, which is why this is not the `From` conversion.
    pub fn into_login_error(self) -> Error {
        if self.is_auth_failure() {
            Error::Auth {
                message: self.to_string(),
                code: Some(self.code),
            }
        } else {
            Error::from(self)
        }
    }
}

/// Any failure of a keel operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query definition is invalid; raised before any I/O.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// The server rejected the login: wrong password, unknown user, or an
    /// authentication method keel does not support.
    #[error("authentication failed: {message}")]
    Auth {
        message: String,
        /// SQLSTATE when the server reported the failure (28P01 for a wrong password).
        code: Option<String>,
    },
    /// The server answered a statement with an error.
    #[error("server error: {0}")]
    Server(Box<ServerError>),
    /// The bytes from the server broke the protocol; the connection is unusable.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// A parameter value could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A value in a result could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The transport (socket, WebSocket, PGlite) failed.
    #[error("transport error: {0}")]
    Transport(String),
    /// A pooled driver had no free connection within its acquire timeout.
    /// Back-pressure, not a fault: retry later or shed load.
    #[error("no pooled connection became free within {} (pool of at most {max_size})", duration_text(*waited))]
    PoolTimeout {
        waited: std::time::Duration,
        max_size: usize,
    },
    /// The connection was closed, by either side, before the operation finished.
    #[error("connection closed{}", match .0 { Some(why) => format!(": {why}"), None => String::new() })]
    Closed(Option<String>),
}

impl From<ServerError> for Error {
    fn from(error: ServerError) -> Self {
        Error::Server(Box::new(error))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What `{:?}` prints for a `Duration` (`50ms`, `1.5s`, `250µs`); core's
/// `Debug` for it is sizeable and this message is its only use.
fn duration_text(d: std::time::Duration) -> String {
    let nanos = d.subsec_nanos();
    let (whole, fraction, digits, unit) = match d.as_secs() {
        0 if nanos >= 1_000_000 => (u64::from(nanos / 1_000_000), nanos % 1_000_000, 6, "ms"),
        0 if nanos >= 1_000 => (u64::from(nanos / 1_000), nanos % 1_000, 3, "µs"),
        0 => (u64::from(nanos), 0, 0, "ns"),
        secs => (secs, nanos, 9, "s"),
    };
    let mut out = whole.to_string();
    if fraction > 0 {
        let fraction = format!("{fraction:0digits$}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push_str(unit);
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations_read_as_their_debug_form() {
        let mut x = 0x853c_49e6_748f_ea9bu64;
        let mut cases = vec![
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_micros(1),
            Duration::from_millis(50),
            Duration::from_millis(1500),
            Duration::new(1, 1),
            Duration::MAX,
        ];
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(Duration::from_nanos(x >> (x % 64)));
        }
        for d in cases {
            assert_eq!(super::duration_text(d), format!("{d:?}"));
        }
        let timeout = super::Error::PoolTimeout {
            waited: Duration::from_millis(50),
            max_size: 1,
        };
        assert_eq!(
            timeout.to_string(),
            "no pooled connection became free within 50ms (pool of at most 1)"
        );
    }
}
