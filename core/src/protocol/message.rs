//! Framing of backend messages and translation between postgres-protocol's
//! codecs and keel's types.
//!
//! postgres-protocol's `Message::parse` is used for the bodies, but the header
//! is checked here first: `parse` trusts the declared length (it reserves that
//! much memory, and `len + 1` can overflow `usize` on wasm32), and its errors
//! do not say which message was bad.

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::{self, ErrorFields, Message};

use super::ProtocolError;
use crate::error::ServerError;
use crate::rows::{ColumnDesc, RawRows};

/// The backend builds every message in a buffer capped at 1 GiB (MaxAllocSize).
pub(crate) const MAX_MESSAGE_LEN: usize = 0x4000_0000;

/// Tags this engine can parse; anything else is rejected before parsing.
const KNOWN_TAGS: &[u8] = b"123AcCdDEGHIKnNRsStTZ";

/// Authentication request codes postgres-protocol parses (0 = Ok).
const KNOWN_AUTH_CODES: &[i32] = &[0, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12];

pub(crate) fn message_name(tag: u8) -> &'static str {
    match tag {
        b'1' => "ParseComplete",
        b'2' => "BindComplete",
        b'3' => "CloseComplete",
        b'A' => "NotificationResponse",
        b'c' => "CopyDone",
        b'C' => "CommandComplete",
        b'd' => "CopyData",
        b'D' => "DataRow",
        b'E' => "ErrorResponse",
        b'G' => "CopyInResponse",
        b'H' => "CopyOutResponse",
        b'I' => "EmptyQueryResponse",
        b'K' => "BackendKeyData",
        b'n' => "NoData",
        b'N' => "NoticeResponse",
        b'R' => "Authentication",
        b's' => "PortalSuspended",
        b'S' => "ParameterStatus",
        b't' => "ParameterDescription",
        b'T' => "RowDescription",
        b'v' => "NegotiateProtocolVersion",
        b'W' => "CopyBothResponse",
        b'Z' => "ReadyForQuery",
        _ => "unknown",
    }
}

pub(crate) fn malformed(tag: u8, reason: impl ToString) -> ProtocolError {
    ProtocolError::Malformed {
        tag,
        message: message_name(tag),
        reason: reason.to_string(),
    }
}

/// Bytes received but not yet parsed; messages may arrive split anywhere.
#[derive(Default)]
pub(crate) struct MessageReader {
    buffer: BytesMut,
}

impl MessageReader {
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    pub(crate) fn clear(&mut self) {
        self.buffer = BytesMut::new();
    }

    /// The body of the next message if it is a complete `DataRow`.
    pub(crate) fn peek_data_row(&self) -> Option<&[u8]> {
        let Some(&[b'D', l0, l1, l2, l3]) = self.buffer.get(..5) else {
            return None;
        };
        // Anything unusual about the length goes the general way, which
        // reports it.
        let len = usize::try_from(i32::from_be_bytes([l0, l1, l2, l3]))
            .ok()
            .filter(|len| (4..=MAX_MESSAGE_LEN).contains(len))?;
        self.buffer.get(5..=len)
    }

    /// Drops a message of body length `body_len` read with `peek_data_row`.
    pub(crate) fn consume(&mut self, body_len: usize) {
        bytes::Buf::advance(&mut self.buffer, body_len + 5);
    }

    /// The next complete message and its tag, or `None` until more bytes arrive.
    pub(crate) fn next_message(&mut self) -> Result<Option<(u8, Message)>, ProtocolError> {
        let Some(&[tag, l0, l1, l2, l3]) = self.buffer.get(..5) else {
            return Ok(None);
        };
        if !KNOWN_TAGS.contains(&tag) {
            return Err(ProtocolError::UnknownMessage { tag });
        }
        let declared = i32::from_be_bytes([l0, l1, l2, l3]);
        let len = usize::try_from(declared)
            .ok()
            .filter(|len| *len >= 4)
            .ok_or_else(|| malformed(tag, format!("declared length {declared} is below 4")))?;
        if len > MAX_MESSAGE_LEN {
            return Err(ProtocolError::TooLarge {
                tag,
                message: message_name(tag),
                len,
                max: MAX_MESSAGE_LEN,
            });
        }
        if self.buffer.len() <= len {
            return Ok(None);
        }
        if tag == b'R' {
            check_auth_code(self.buffer.get(5..=len).unwrap_or_default())?;
        }
        match Message::parse(&mut self.buffer) {
            Ok(Some(message)) => Ok(Some((tag, message))),
            Ok(None) => Err(malformed(tag, "incomplete after its full length arrived")),
            Err(error) => Err(malformed(tag, error)),
        }
    }
}

/// postgres-protocol reports an unknown authentication code as a parse
/// error; it is really a method keel does not support, so say that.
fn check_auth_code(body: &[u8]) -> Result<(), ProtocolError> {
    let Some(&[c0, c1, c2, c3]) = body.get(..4) else {
        return Err(malformed(b'R', "missing authentication code"));
    };
    let code = i32::from_be_bytes([c0, c1, c2, c3]);
    if KNOWN_AUTH_CODES.contains(&code) {
        Ok(())
    } else {
        Err(ProtocolError::UnsupportedAuth {
            method: format!("authentication request code {code}"),
        })
    }
}

/// ErrorResponse and NoticeResponse share this layout.
pub(crate) fn server_error(
    tag: u8,
    mut fields: ErrorFields<'_>,
) -> Result<ServerError, ProtocolError> {
    let mut error = ServerError::default();
    let mut localized_severity = None;
    while let Some(field) = fields.next().map_err(|e| malformed(tag, e))? {
        let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
        match field.type_() {
            b'S' => localized_severity = Some(value),
            b'V' => error.severity = value,
            b'C' => error.code = value,
            b'M' => error.message = value,
            b'D' => error.detail = Some(value),
            b'H' => error.hint = Some(value),
            b'P' => error.position = value.parse().ok(),
            b's' => error.schema = Some(value),
            b't' => error.table = Some(value),
            b'c' => error.column = Some(value),
            b'n' => error.constraint = Some(value),
            _ => {}
        }
    }
    // `V` (never localized, PostgreSQL 9.6+) is what code can branch on;
    // older servers only send the localized `S`.
    if error.severity.is_empty() {
        error.severity = localized_severity.unwrap_or_default();
    }
    Ok(error)
}

/// FATAL and PANIC errors mean the server is closing the session.
pub(crate) fn is_fatal(error: &ServerError) -> bool {
    matches!(error.severity.as_str(), "FATAL" | "PANIC")
}

pub(crate) fn columns(
    body: &backend::RowDescriptionBody,
) -> Result<Vec<ColumnDesc>, ProtocolError> {
    body.fields()
        .map(|field| {
            Ok(ColumnDesc {
                name: field.name().to_owned(),
                type_oid: field.type_oid(),
                format: field.format(),
            })
        })
        .collect()
        .map_err(|e| malformed(b'T', e))
}

/// Appends a `DataRow` body straight from the receive buffer: the engine's
/// hot path, with no per-row allocation. The body is checked whole before
/// anything is appended.
pub(crate) fn push_data_row(rows: &mut RawRows, body: &[u8]) -> Result<(), ProtocolError> {
    let Some(&[c0, c1]) = body.get(..2) else {
        return Err(malformed(b'D', "missing column count"));
    };
    let count = usize::from(u16::from_be_bytes([c0, c1]));
    let mut at = 2usize;
    for _ in 0..count {
        let len = cell_len(body, at)?;
        at += 4 + len.unwrap_or(0);
        if at > body.len() {
            return Err(malformed(b'D', "cell extends past the message"));
        }
    }
    if at != body.len() {
        return Err(malformed(b'D', "bytes left after the last cell"));
    }
    let mut at = 2usize;
    let cells = (0..count).map(|_| {
        // Validated above, so these reads cannot fail.
        let len = cell_len(body, at).ok().flatten();
        at += 4;
        let cell = len.map(|len| body.get(at..at + len).unwrap_or_default());
        at += len.unwrap_or(0);
        cell
    });
    rows.push_row(cells).map_err(|e| malformed(b'D', e))
}

/// [`push_data_row`] for a message postgres-protocol already parsed (the
/// simple-query path and rows outside the fast path's reach).
pub(crate) fn push_data_row_body(
    rows: &mut RawRows,
    body: &backend::DataRowBody,
) -> Result<(), ProtocolError> {
    let buffer = body.buffer();
    let cells: Vec<Option<&[u8]>> = body
        .ranges()
        .map(|range| match range {
            None => Ok(None),
            Some(range) => buffer
                .get(range)
                .map(Some)
                .ok_or_else(|| std::io::Error::other("cell extends past the message")),
        })
        .collect()
        .map_err(|e| malformed(b'D', e))?;
    rows.push_row(cells).map_err(|e| malformed(b'D', e))
}

/// The length of the cell whose length word starts at `at`; `None` is NULL.
fn cell_len(body: &[u8], at: usize) -> Result<Option<usize>, ProtocolError> {
    let Some(&[l0, l1, l2, l3]) = body.get(at..at + 4) else {
        return Err(malformed(b'D', "cell length extends past the message"));
    };
    let len = i32::from_be_bytes([l0, l1, l2, l3]);
    // PostgreSQL sends -1 for NULL; postgres-protocol reads any negative
    // length the same way.
    Ok(usize::try_from(len).ok())
}

pub(crate) fn text(tag: u8, value: std::io::Result<&str>) -> Result<String, ProtocolError> {
    value.map(str::to_owned).map_err(|e| malformed(tag, e))
}
