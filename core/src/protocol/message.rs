//! Framing and parsing of backend messages.
//!
//! Messages are read straight from the receive buffer: the engine needs few
//! of their fields, and borrowing them avoids a copy per message. The
//! `reason` texts of malformed messages are the ones postgres-protocol's
//! parser gave, so errors read the same as they always did.

use bytes::BytesMut;

use super::connection::BackendKey;
use super::ProtocolError;
use crate::error::ServerError;
use crate::rows::{ColumnDesc, RawRows};

/// The backend builds every message in a buffer capped at 1 GiB (MaxAllocSize).
pub(crate) const MAX_MESSAGE_LEN: usize = 0x4000_0000;

/// A fixed-size field runs past the end of the body.
const SHORT: &str = "failed to fill whole buffer";
/// A string field has no NUL terminator.
const UNTERMINATED: &str = "unexpected EOF";

pub(crate) fn message_name(tag: u8) -> &'static str {
    known_name(tag).unwrap_or("unknown")
}

/// The messages this engine can parse: the ones a PostgreSQL 3.0 backend
/// sends to a client using the extended query protocol. A table rather
/// than a `match`, which compiles to more code; DataRow, by far the most
/// frequent, comes first.
const MESSAGES: &[(u8, &str)] = &[
    (b'D', "DataRow"),
    (b'1', "ParseComplete"),
    (b'2', "BindComplete"),
    (b'3', "CloseComplete"),
    (b'A', "NotificationResponse"),
    (b'c', "CopyDone"),
    (b'C', "CommandComplete"),
    (b'd', "CopyData"),
    (b'E', "ErrorResponse"),
    (b'G', "CopyInResponse"),
    (b'H', "CopyOutResponse"),
    (b'I', "EmptyQueryResponse"),
    (b'K', "BackendKeyData"),
    (b'n', "NoData"),
    (b'N', "NoticeResponse"),
    (b'R', "Authentication"),
    (b's', "PortalSuspended"),
    (b'S', "ParameterStatus"),
    (b't', "ParameterDescription"),
    (b'T', "RowDescription"),
    (b'Z', "ReadyForQuery"),
];

fn known_name(tag: u8) -> Option<&'static str> {
    MESSAGES
        .iter()
        .find(|(t, _)| *t == tag)
        .map(|(_, name)| *name)
}

#[cold]
#[inline(never)]
pub(crate) fn malformed(tag: u8, reason: &dyn std::fmt::Display) -> ProtocolError {
    ProtocolError::Malformed {
        tag,
        message: message_name(tag),
        reason: reason.to_string(),
    }
}

/// A backend message, its fields borrowed from the receive buffer. Bodies
/// the engine walks through later (rows, error fields, descriptions) stay
/// raw; everything else is checked here.
pub(crate) enum ServerMessage<'a> {
    AuthenticationOk,
    AuthenticationCleartextPassword,
    AuthenticationMd5Password([u8; 4]),
    AuthenticationSasl(&'a [u8]),
    AuthenticationSaslContinue(&'a [u8]),
    AuthenticationSaslFinal(&'a [u8]),
    /// Kerberos, SCM credentials, GSSAPI or SSPI.
    AuthenticationUnsupported,
    BackendKeyData(BackendKey),
    BindComplete,
    CloseComplete,
    CommandComplete(&'a [u8]),
    CopyData(&'a [u8]),
    CopyDone,
    CopyInResponse {
        format: u8,
        columns: u16,
        formats: &'a [u8],
    },
    CopyOutResponse,
    /// The whole body, column count included.
    DataRow(&'a [u8]),
    EmptyQueryResponse,
    ErrorResponse(&'a [u8]),
    NoData,
    NoticeResponse(&'a [u8]),
    NotificationResponse {
        process_id: i32,
        channel: &'a [u8],
        payload: &'a [u8],
    },
    ParameterDescription,
    ParameterStatus {
        name: &'a [u8],
        value: &'a [u8],
    },
    ParseComplete,
    PortalSuspended,
    ReadyForQuery(u8),
    RowDescription {
        columns: u16,
        fields: &'a [u8],
    },
}

/// Reads the fields of one message body front to back.
struct Fields<'a> {
    tag: u8,
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let Some((head, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(malformed(self.tag, &SHORT));
        };
        self.rest = rest;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, ProtocolError> {
        self.take::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Result<u16, ProtocolError> {
        self.take().map(u16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, ProtocolError> {
        self.take().map(i32::from_be_bytes)
    }

    fn cstr(&mut self) -> Result<&'a [u8], ProtocolError> {
        let Some(end) = self.rest.iter().position(|&b| b == 0) else {
            return Err(malformed(self.tag, &UNTERMINATED));
        };
        let (value, rest) = self.rest.split_at(end);
        self.rest = rest.get(1..).unwrap_or_default();
        Ok(value)
    }

    fn all(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    /// Fails with `reason` if anything is left.
    fn end(&self, reason: &str) -> Result<(), ProtocolError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(malformed(self.tag, &reason))
        }
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

    /// The tag and body of the next complete message, or `None` until more
    /// bytes arrive. Drop it with [`consume`](Self::consume).
    pub(crate) fn next_message(&self) -> Result<Option<(u8, &[u8])>, ProtocolError> {
        let Some(&[tag, l0, l1, l2, l3]) = self.buffer.get(..5) else {
            return Ok(None);
        };
        if known_name(tag).is_none() {
            return Err(ProtocolError::UnknownMessage { tag });
        }
        let declared = i32::from_be_bytes([l0, l1, l2, l3]);
        let Some(len) = usize::try_from(declared).ok().filter(|len| *len >= 4) else {
            return Err(malformed(
                tag,
                &format_args!("declared length {declared} is below 4"),
            ));
        };
        if len > MAX_MESSAGE_LEN {
            return Err(ProtocolError::TooLarge {
                tag,
                message: message_name(tag),
                len,
                max: MAX_MESSAGE_LEN,
            });
        }
        Ok(self.buffer.get(5..=len).map(|body| (tag, body)))
    }

    /// Drops a message of body length `body_len` read with `next_message`.
    pub(crate) fn consume(&mut self, body_len: usize) {
        bytes::Buf::advance(&mut self.buffer, body_len + 5);
    }
}

/// Parses a message the engine does not read straight from its body.
pub(crate) fn parse(tag: u8, body: &[u8]) -> Result<ServerMessage<'_>, ProtocolError> {
    let mut fields = Fields { tag, rest: body };
    let message = match tag {
        b'1' => ServerMessage::ParseComplete,
        b'2' => ServerMessage::BindComplete,
        b'3' => ServerMessage::CloseComplete,
        b'A' => ServerMessage::NotificationResponse {
            process_id: fields.i32()?,
            channel: fields.cstr()?,
            payload: fields.cstr()?,
        },
        b'c' => ServerMessage::CopyDone,
        b'C' => ServerMessage::CommandComplete(fields.cstr()?),
        b'd' => ServerMessage::CopyData(fields.all()),
        b'D' => {
            fields.u16()?;
            fields.all();
            ServerMessage::DataRow(body)
        }
        b'E' => ServerMessage::ErrorResponse(fields.all()),
        b'G' => ServerMessage::CopyInResponse {
            format: fields.u8()?,
            columns: fields.u16()?,
            formats: fields.all(),
        },
        b'H' => {
            fields.u8()?;
            fields.u16()?;
            fields.all();
            ServerMessage::CopyOutResponse
        }
        b'I' => ServerMessage::EmptyQueryResponse,
        b'K' => ServerMessage::BackendKeyData(BackendKey {
            process_id: fields.i32()?,
            secret_key: fields.i32()?,
        }),
        b'n' => ServerMessage::NoData,
        b'N' => ServerMessage::NoticeResponse(fields.all()),
        b'R' => authentication(&mut fields)?,
        b's' => ServerMessage::PortalSuspended,
        b'S' => ServerMessage::ParameterStatus {
            name: fields.cstr()?,
            value: fields.cstr()?,
        },
        b't' => {
            fields.u16()?;
            fields.all();
            ServerMessage::ParameterDescription
        }
        b'T' => ServerMessage::RowDescription {
            columns: fields.u16()?,
            fields: fields.all(),
        },
        b'Z' => ServerMessage::ReadyForQuery(fields.u8()?),
        _ => return Err(ProtocolError::UnknownMessage { tag }),
    };
    fields.end("invalid message length: expected buffer to be empty")?;
    Ok(message)
}

/// An authentication code keel does not know is a method it does not
/// support, not a malformed message.
fn authentication<'a>(fields: &mut Fields<'a>) -> Result<ServerMessage<'a>, ProtocolError> {
    let Ok(code) = fields.i32() else {
        return Err(malformed(b'R', &"missing authentication code"));
    };
    Ok(match code {
        0 => ServerMessage::AuthenticationOk,
        3 => ServerMessage::AuthenticationCleartextPassword,
        5 => ServerMessage::AuthenticationMd5Password(fields.take()?),
        10 => ServerMessage::AuthenticationSasl(fields.all()),
        11 => ServerMessage::AuthenticationSaslContinue(fields.all()),
        12 => ServerMessage::AuthenticationSaslFinal(fields.all()),
        8 => {
            fields.all();
            ServerMessage::AuthenticationUnsupported
        }
        2 | 6 | 7 | 9 => ServerMessage::AuthenticationUnsupported,
        _ => {
            return Err(ProtocolError::UnsupportedAuth {
                method: format!("authentication request code {code}"),
            })
        }
    })
}

/// The mechanisms of an AuthenticationSASL body, a list of strings ended
/// by an empty one.
pub(crate) fn sasl_mechanisms(body: &[u8]) -> Result<Vec<&str>, ProtocolError> {
    let mut fields = Fields {
        tag: b'R',
        rest: body,
    };
    let mut mechanisms = Vec::new();
    loop {
        let name = fields.cstr()?;
        if name.is_empty() {
            fields.end("invalid message length: expected to be at end of iterator for sasl")?;
            return Ok(mechanisms);
        }
        mechanisms.push(std::str::from_utf8(name).map_err(|e| malformed(b'R', &e))?);
    }
}

/// The column count of a CopyInResponse, checked against its formats.
pub(crate) fn copy_columns(columns: u16, formats: &[u8]) -> Result<usize, ProtocolError> {
    let columns = usize::from(columns);
    match formats.len().cmp(&(columns * 2)) {
        std::cmp::Ordering::Less => Err(malformed(b'G', &SHORT)),
        std::cmp::Ordering::Greater => Err(malformed(
            b'G',
            &"invalid message length: wrong column formats",
        )),
        std::cmp::Ordering::Equal => Ok(columns),
    }
}

/// ErrorResponse and NoticeResponse share this layout.
pub(crate) fn server_error(tag: u8, body: &[u8]) -> Result<ServerError, ProtocolError> {
    let mut fields = Fields { tag, rest: body };
    let mut error = ServerError::default();
    let mut localized_severity = None;
    loop {
        let kind = fields.u8()?;
        if kind == 0 {
            fields.end("invalid message length: error fields is not drained")?;
            break;
        }
        let value = String::from_utf8_lossy(fields.cstr()?).into_owned();
        // One assignment for all the optional fields keeps this small.
        let slot = match kind {
            b'V' => {
                error.severity = value;
                continue;
            }
            b'C' => {
                error.code = value;
                continue;
            }
            b'M' => {
                error.message = value;
                continue;
            }
            b'P' => {
                error.position = value.parse().ok();
                continue;
            }
            b'S' => &mut localized_severity,
            b'D' => &mut error.detail,
            b'H' => &mut error.hint,
            b's' => &mut error.schema,
            b't' => &mut error.table,
            b'c' => &mut error.column,
            b'n' => &mut error.constraint,
            _ => continue,
        };
        *slot = Some(value);
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

/// The fields of a RowDescription.
pub(crate) fn columns(count: u16, body: &[u8]) -> Result<Vec<ColumnDesc>, ProtocolError> {
    let mut fields = Fields {
        tag: b'T',
        rest: body,
    };
    let mut columns = Vec::with_capacity(usize::from(count).min(body.len() / 19));
    for _ in 0..count {
        let name = text(b'T', fields.cstr()?)?;
        // Table OID and column number, then after the type OID its size
        // and modifier: keel needs none of them.
        let [_, _, _, _, _, _, t0, t1, t2, t3, _, _, _, _, _, _, f0, f1] = fields.take::<18>()?;
        columns.push(ColumnDesc {
            name,
            type_oid: u32::from_be_bytes([t0, t1, t2, t3]),
            format: i16::from_be_bytes([f0, f1]),
        });
    }
    fields.end("invalid message length: field is not drained")?;
    Ok(columns)
}

/// How a malformed DataRow is reported: the fast path and the general path
/// have always worded it differently.
pub(crate) struct RowErrors {
    count: &'static str,
    length: &'static str,
    cell: &'static str,
    left: &'static str,
}

/// Rows read straight from the receive buffer while a statement's rows are
/// awaited: the engine's hot path.
pub(crate) const FAST_ROW: RowErrors = RowErrors {
    count: "missing column count",
    length: "cell length extends past the message",
    cell: "cell extends past the message",
    left: "bytes left after the last cell",
};

/// Rows of a simple query, which went through the general parser.
pub(crate) const PARSED_ROW: RowErrors = RowErrors {
    count: SHORT,
    length: SHORT,
    cell: UNTERMINATED,
    left: "invalid message length: datarowrange is not empty",
};

/// Appends a `DataRow` body with no per-row allocation. The body is checked
/// whole before anything is appended.
pub(crate) fn push_data_row(
    rows: &mut RawRows,
    body: &[u8],
    errors: &RowErrors,
) -> Result<(), ProtocolError> {
    let Some(&[c0, c1]) = body.get(..2) else {
        return Err(malformed(b'D', &errors.count));
    };
    let count = usize::from(u16::from_be_bytes([c0, c1]));
    let mut at = 2usize;
    for _ in 0..count {
        let Some(len) = cell_len(body, at) else {
            return Err(malformed(b'D', &errors.length));
        };
        at += 4 + len.unwrap_or(0);
        if at > body.len() {
            return Err(malformed(b'D', &errors.cell));
        }
    }
    if at != body.len() {
        return Err(malformed(b'D', &errors.left));
    }
    let mut at = 2usize;
    let cells = (0..count).map(|_| {
        // Validated above, so these reads cannot fail.
        let len = cell_len(body, at).flatten();
        at += 4;
        let cell = len.map(|len| body.get(at..at + len).unwrap_or_default());
        at += len.unwrap_or(0);
        cell
    });
    rows.push_row(cells).map_err(|e| malformed(b'D', &e))
}

/// The length of the cell whose length word starts at `at`: `None` if the
/// word is cut off, `Some(None)` for NULL.
fn cell_len(body: &[u8], at: usize) -> Option<Option<usize>> {
    let &[l0, l1, l2, l3] = body.get(at..at + 4)? else {
        return None;
    };
    // PostgreSQL sends -1 for NULL; any negative length reads the same way.
    Some(usize::try_from(i32::from_be_bytes([l0, l1, l2, l3])).ok())
}

pub(crate) fn text(tag: u8, value: &[u8]) -> Result<String, ProtocolError> {
    std::str::from_utf8(value)
        .map(str::to_owned)
        .map_err(|e| malformed(tag, &e))
}
