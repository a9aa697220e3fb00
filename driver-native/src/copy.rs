//! Bulk load with `COPY ... FROM STDIN (FORMAT binary)`.
//!
//! The core already encodes every value in PostgreSQL's binary send format,
//! which is exactly what a binary COPY row holds, so rows go out without a
//! text round trip. Each value must be of its column's exact type (an
//! `Int4` for an `int4` column); the server rejects a mismatch and nothing
//! is loaded.

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt;
use keel_core::Value;

use crate::connection::PooledConnection;
use crate::driver::map_error;
use crate::error::{NativeError, NativeResult};
use crate::transaction::Transaction;

/// Rows are flushed to the server in chunks of about this many bytes.
const CHUNK: usize = 64 * 1024;

const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0";

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn encode_row(buf: &mut BytesMut, row: &[Value]) -> NativeResult<()> {
    let fields = i16::try_from(row.len())
        .map_err(|_| NativeError::Config(format!("a COPY row of {} fields", row.len())))?;
    buf.put_i16(fields);
    for value in row {
        match value.encode_binary().map_err(keel_core::Error::from)? {
            None => buf.put_i32(-1),
            Some(bytes) => {
                let len = i32::try_from(bytes.len()).map_err(|_| {
                    NativeError::Config("a COPY value larger than 2 GiB".to_owned())
                })?;
                buf.put_i32(len);
                buf.put_slice(&bytes);
            }
        }
    }
    Ok(())
}

impl PooledConnection {
    /// Loads `rows` into `table` (`columns` in row order) and returns the
    /// number of rows the server stored. `progress` is called with the rows
    /// sent so far after each chunk. Cancelling it part-way aborts the COPY
    /// (tokio-postgres sends CopyFail) and loads nothing.
    pub async fn copy_in<I>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: I,
        mut progress: impl FnMut(u64) + Send,
    ) -> NativeResult<u64>
    where
        I: IntoIterator<Item = Vec<Value>>,
        I::IntoIter: Send,
    {
        self.flush_pending().await?;
        let sql = format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            table
                .split('.')
                .map(quote_identifier)
                .collect::<Vec<_>>()
                .join("."),
            columns
                .iter()
                .map(|c| quote_identifier(c))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.state.interrupted = true;
        let result = async {
            let sink = self
                .raw_client()?
                .copy_in::<_, Bytes>(sql.as_str())
                .await
                .map_err(map_error)?;
            futures_util::pin_mut!(sink);
            let mut buf = BytesMut::with_capacity(CHUNK + 1024);
            buf.put_slice(HEADER);
            buf.put_i32(0);
            buf.put_i32(0);
            let mut sent = 0u64;
            for row in rows {
                encode_row(&mut buf, &row)?;
                sent += 1;
                if buf.len() >= CHUNK {
                    sink.send(buf.split().freeze()).await.map_err(map_error)?;
                    progress(sent);
                }
            }
            buf.put_i16(-1);
            sink.send(buf.split().freeze()).await.map_err(map_error)?;
            let stored = sink.finish().await.map_err(map_error)?;
            progress(sent);
            Ok::<_, NativeError>(stored)
        }
        .await;
        if result.is_ok() {
            self.state.interrupted = false;
        } else {
            self.note_failure();
        }
        result
    }
}

impl Transaction<'_> {
    /// [`PooledConnection::copy_in`] inside this transaction.
    pub async fn copy_in<I>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: I,
        progress: impl FnMut(u64) + Send,
    ) -> NativeResult<u64>
    where
        I: IntoIterator<Item = Vec<Value>>,
        I::IntoIter: Send,
    {
        self.connection()
            .copy_in(table, columns, rows, progress)
            .await
    }
}
