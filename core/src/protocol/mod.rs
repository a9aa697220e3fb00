//! The sans-I/O PostgreSQL client engine, and a small async runner over it.
//!
//! [`Connection`] is a pure state machine in the style of `quinn-proto` and
//! `rustls`: the caller feeds it the bytes its transport read
//! ([`Connection::handle_input`]), writes out whatever it asks to send
//! ([`Connection::poll_transmit`]) and reacts to what happened
//! ([`Connection::poll_event`]). It owns no socket, no clock and no random
//! number generator, so the same engine runs natively and in WebAssembly, and
//! it can be tested byte for byte against recorded server transcripts.
//!
//! [`Client`] drives a [`Connection`] over any [`Transport`] and implements the
//! crate's [`Driver`](crate::driver::Driver) trait; drivers for concrete
//! runtimes only supply the transport.

mod auth;
mod client;
mod config;
mod connection;
mod fuzz;
mod message;
mod request;
mod scram;
mod transport;

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod tests;

pub use client::{Client, Notification, PipelineStatement};
pub use config::StartupConfig;
pub use connection::{
    BackendKey, Connection, Event, RequestId, StatementResult, TransactionStatus,
    DEFAULT_STATEMENT_CACHE, REPREPARE_CODES,
};
#[doc(hidden)]
pub use fuzz::fuzz_engine;
pub use scram::{set_nfkc, ScramError};
pub use transport::{MaybeSend, Transport};

/// The server's bytes broke the protocol, or the engine was used after it
/// broke. Every variant except [`ProtocolError::Encode`] from
/// [`Connection::send_query`] leaves the connection unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A well-formed message arrived in a state where the protocol does not allow it.
    #[error("unexpected {message} ('{}') message while {state}", char::from(*.tag))]
    UnexpectedMessage {
        tag: u8,
        message: &'static str,
        state: &'static str,
    },
    /// A message's length or body does not match its type.
    #[error("malformed {message} ('{}') message: {reason}", char::from(*.tag))]
    Malformed {
        tag: u8,
        message: &'static str,
        reason: String,
    },
    /// The tag is not one a PostgreSQL 3.0 backend sends to a client using
    /// the extended query protocol.
    #[error("unknown or unsupported message tag {tag:#04x} ('{}')", char::from(*.tag).escape_default())]
    UnknownMessage { tag: u8 },
    /// The declared length is larger than any message the server can build
    /// (its buffers stop at 1 GiB), so the stream is corrupt or hostile.
    #[error("{message} ('{}') message declares {len} bytes, over the {max}-byte limit", char::from(*.tag))]
    TooLarge {
        tag: u8,
        message: &'static str,
        len: usize,
        max: usize,
    },
    /// The server asked for an authentication method keel does not implement
    /// (Kerberos, GSSAPI, SSPI, SCM credentials, or SASL without SCRAM-SHA-256).
    #[error("unsupported authentication method: {method}")]
    UnsupportedAuth { method: String },
    /// The SCRAM-SHA-256 exchange failed; the server may not know the password.
    #[error("SCRAM-SHA-256 authentication failed: {0}")]
    Scram(#[from] ScramError),
    /// The server started a sub-protocol keel does not speak on this path.
    #[error("unsupported server behaviour: {what}")]
    Unsupported { what: &'static str },
    /// A message could not be encoded: a NUL byte in the SQL or password,
    /// more than 65535 parameters. From `send_query` nothing is queued and
    /// the connection stays usable; during the login it ends the login.
    #[error("cannot encode {message} message: {reason}")]
    Encode {
        message: &'static str,
        reason: String,
    },
    /// An earlier error broke the connection; it must be discarded.
    #[error("connection is broken: {reason}")]
    Broken { reason: String },
}
