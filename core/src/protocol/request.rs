//! Frontend message sequences for each kind of request.
//!
//! Every encoder writes into a scratch buffer and appends it to `out` only
//! when every message encoded, so a failure leaves the outgoing stream intact.

use bytes::{BufMut, BytesMut};
use postgres_protocol::message::frontend;
use postgres_protocol::IsNull;

use super::ProtocolError;
use crate::rows::ColumnDesc;
use crate::types::PgType;

fn encode_error(message: &'static str) -> impl Fn(std::io::Error) -> ProtocolError {
    move |error| ProtocolError::Encode {
        message,
        reason: error.to_string(),
    }
}

/// Result formats for a described statement: binary for every type keel's
/// codec knows, text for the rest, so an unknown type never fails a query.
pub(crate) fn result_formats(columns: &[ColumnDesc]) -> Vec<i16> {
    columns
        .iter()
        .map(|c| i16::from(PgType::from_oid(c.type_oid).is_some()))
        .collect()
}

pub(crate) fn parse(
    statement: &str,
    sql: &str,
    param_oids: &[u32],
    buf: &mut BytesMut,
) -> Result<(), ProtocolError> {
    frontend::parse(statement, sql, param_oids.iter().copied(), buf).map_err(encode_error("Parse"))
}

pub(crate) fn bind(
    statement: &str,
    params: &[Option<Vec<u8>>],
    result_formats: &[i16],
    buf: &mut BytesMut,
) -> Result<(), ProtocolError> {
    frontend::bind(
        "",
        statement,
        [1],
        params,
        |param, buf| match param {
            Some(bytes) => {
                buf.put_slice(bytes);
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        },
        result_formats.iter().copied(),
        buf,
    )
    .map_err(|error| ProtocolError::Encode {
        message: "Bind",
        reason: match error {
            frontend::BindError::Conversion(e) => e.to_string(),
            frontend::BindError::Serialization(e) => e.to_string(),
        },
    })
}

pub(crate) fn describe_statement(name: &str, buf: &mut BytesMut) -> Result<(), ProtocolError> {
    frontend::describe(b'S', name, buf).map_err(encode_error("Describe"))
}

pub(crate) fn describe_portal(buf: &mut BytesMut) -> Result<(), ProtocolError> {
    frontend::describe(b'P', "", buf).map_err(encode_error("Describe"))
}

pub(crate) fn execute(max_rows: i32, buf: &mut BytesMut) -> Result<(), ProtocolError> {
    frontend::execute("", max_rows, buf).map_err(encode_error("Execute"))
}

pub(crate) fn close_statement(name: &str, buf: &mut BytesMut) -> Result<(), ProtocolError> {
    frontend::close(b'S', name, buf).map_err(encode_error("Close"))
}

pub(crate) fn simple_query(sql: &str, buf: &mut BytesMut) -> Result<(), ProtocolError> {
    frontend::query(sql, buf).map_err(encode_error("Query"))
}

pub(crate) fn sync(buf: &mut BytesMut) {
    frontend::sync(buf);
}

pub(crate) fn flush(buf: &mut BytesMut) {
    frontend::flush(buf);
}

pub(crate) fn copy_data(data: &[u8], buf: &mut BytesMut) -> Result<(), ProtocolError> {
    // CopyData's length field is an i32 that counts itself.
    if data.len() > super::message::MAX_MESSAGE_LEN - 4 {
        return Err(ProtocolError::Encode {
            message: "CopyData",
            reason: format!("{} bytes exceed one message; split the data", data.len()),
        });
    }
    frontend::CopyData::new(data)
        .map_err(encode_error("CopyData"))?
        .write(buf);
    Ok(())
}

pub(crate) fn copy_done(buf: &mut BytesMut) {
    frontend::copy_done(buf);
}

pub(crate) fn copy_fail(reason: &str, buf: &mut BytesMut) -> Result<(), ProtocolError> {
    frontend::copy_fail(reason, buf).map_err(encode_error("CopyFail"))
}

/// Checks a statement can be encoded at all, so `send_*` can refuse it
/// before queueing anything.
pub(crate) fn validate(sql: &str, params: &[Option<Vec<u8>>]) -> Result<(), ProtocolError> {
    let mut scratch = BytesMut::new();
    parse("", sql, &[], &mut scratch)?;
    scratch.clear();
    if params.len() > usize::from(u16::MAX) {
        return Err(ProtocolError::Encode {
            message: "Bind",
            reason: format!("{} parameters exceed the limit of 65535", params.len()),
        });
    }
    Ok(())
}
