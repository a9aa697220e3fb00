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
    #[error("no pooled connection became free within {waited:?} (pool of at most {max_size})")]
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
