//! The connection state machine: bytes in, bytes and events out.

use std::collections::VecDeque;
use std::fmt;

use bytes::BytesMut;
use postgres_protocol::message::frontend;

use super::auth::{AuthProgress, Authenticator};
use super::config::StartupConfig;
use super::message::{self, malformed, message_name, MessageReader, ServerMessage};
use super::request;
use super::ProtocolError;
use crate::error::{Error, ServerError};
use crate::rows::{ColumnDesc, RawRows};

/// Identifies a request queued with [`Connection::send_query`]; its
/// [`Event::QueryComplete`] or [`Event::QueryFailed`] carries the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// The transaction state the server reported in its last ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionStatus {
    #[default]
    Idle,
    InTransaction,
    /// Inside a transaction block that failed; statements are rejected until it ends.
    Failed,
}

/// What a second connection needs to cancel this connection's running statement.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BackendKey {
    pub process_id: i32,
    pub secret_key: i32,
}

impl fmt::Debug for BackendKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendKey")
            .field("process_id", &self.process_id)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// The result of one statement of a simple-query script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementResult {
    /// In text format, as the simple query protocol always returns rows.
    pub rows: RawRows,
    pub tag: String,
}

/// Something the caller should know about, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Authentication succeeded and the server is ready for queries.
    Connected,
    /// `tag` is the CommandComplete tag (`SELECT 1`, `INSERT 0 3`, `COPY 5`,
    /// ...), empty for an empty query string or a closed portal. For a
    /// portal, `rows` holds only the last batch and the tag counts only it.
    QueryComplete {
        id: RequestId,
        rows: RawRows,
        tag: String,
    },
    /// The server rejected the statement; the connection is still usable.
    QueryFailed {
        id: RequestId,
        error: ServerError,
    },
    /// A batch of at most `max_rows` rows from a portal opened with
    /// [`Connection::send_portal`]; more follow only after
    /// [`Connection::fetch_more`], or [`Connection::close_portal`] ends it.
    RowBatch {
        id: RequestId,
        rows: RawRows,
    },
    /// Every statement of a [`Connection::send_simple`] script succeeded.
    SimpleQueryComplete {
        id: RequestId,
        results: Vec<StatementResult>,
    },
    /// The server waits for COPY data: call [`Connection::copy_data`] any
    /// number of times, then [`Connection::copy_done`] or [`Connection::copy_fail`].
    CopyInReady {
        id: RequestId,
        binary: bool,
        columns: usize,
    },
    /// One chunk of `COPY ... TO STDOUT` output (a row, in text format).
    CopyData {
        id: RequestId,
        data: Vec<u8>,
    },
    Notice(ServerError),
    /// A NOTIFY on a channel this session LISTENs on.
    Notification {
        process_id: i32,
        channel: String,
        payload: String,
    },
    /// A server setting changed (or was reported at startup).
    ParameterStatus {
        name: String,
        value: String,
    },
}

enum Phase {
    Authenticating(Authenticator),
    /// Authenticated; the server is still sending BackendKeyData and settings.
    Starting,
    Ready,
    Terminated,
    Broken {
        reason: String,
    },
}

/// A request as the caller described it. It is encoded only when it is
/// transmitted, so a prepared statement sees the statement cache as it is
/// at that moment (an earlier request may have just prepared it).
enum Spec {
    /// An unnamed statement: run whole when `max_rows` is 0, otherwise
    /// through a portal returning batches of `max_rows`.
    Unnamed {
        sql: String,
        param_oids: Vec<u32>,
        params: Vec<Option<Vec<u8>>>,
        max_rows: i32,
    },
    Prepared {
        sql: String,
        param_oids: Vec<u32>,
        params: Vec<Option<Vec<u8>>>,
        retried: bool,
    },
    Simple {
        sql: String,
        copy_in: bool,
    },
    /// Closes an evicted or invalidated cached statement; emits no event.
    Close {
        name: String,
    },
}

impl Spec {
    /// Simple queries (and COPY) run alone: the server could enter COPY
    /// mode, where any pipelined message would break the copy.
    fn is_exclusive(&self) -> bool {
        matches!(self, Spec::Simple { .. })
    }
}

struct Queued {
    id: RequestId,
    spec: Spec,
}

/// A statement being described before its first execution.
struct Describing {
    key: CacheKey,
    name: String,
    params: Vec<Option<Vec<u8>>>,
    cache: bool,
    /// False for a prefetch (see [`Connection::prefetch`]): the statement
    /// is only described and cached; its execution waits in the queue.
    execute: bool,
}

struct Pending {
    id: RequestId,
    progress: Progress,
    /// Until the request's Sync is out, nothing may be sent after it: the
    /// server treats everything up to the next Sync as one unit.
    sync_sent: bool,
    exclusive: bool,
    /// Internal requests (closing cached statements) emit no events.
    internal: bool,
    describing: Option<Describing>,
    /// For a prefetch: the statement it prepares, which executions wait on.
    prefetch: Option<CacheKey>,
    /// For an execution of a cached statement: its statement and parameters,
    /// to prepare it afresh if the server lost it or its result type changed.
    retry: Option<(CacheKey, Vec<Option<Vec<u8>>>)>,
    retry_now: bool,
    portal_rows: i32,
}

enum Progress {
    AwaitingParse {
        describe_next: bool,
    },
    AwaitingParameterDescription,
    AwaitingStatementDescription,
    /// `Some` when the columns are already known (prepared statements), so
    /// no portal Describe was sent.
    AwaitingBind(Option<Vec<ColumnDesc>>),
    AwaitingPortalDescription,
    Rows(RawRows),
    CopyOut(RawRows),
    Suspended(Vec<ColumnDesc>),
    Complete {
        rows: RawRows,
        tag: String,
    },
    /// The server skips everything up to Sync after an error, so nothing
    /// but ReadyForQuery (and asynchronous messages) should follow.
    Failed(ServerError),
    Simple(SimpleState),
    AwaitingClose,
}

#[derive(Default)]
struct SimpleState {
    current: Option<RawRows>,
    results: Vec<StatementResult>,
    error: Option<ServerError>,
    copy_in_allowed: bool,
    copy_in_active: bool,
    copy_out_active: bool,
}

impl Progress {
    fn state_name(&self) -> &'static str {
        match self {
            Progress::AwaitingParse { .. } => "awaiting ParseComplete",
            Progress::AwaitingParameterDescription => "awaiting ParameterDescription",
            Progress::AwaitingStatementDescription => {
                "awaiting RowDescription or NoData for a statement"
            }
            Progress::AwaitingBind(_) => "awaiting BindComplete",
            Progress::AwaitingPortalDescription => "awaiting RowDescription or NoData",
            Progress::Rows(_) => "receiving rows",
            Progress::CopyOut(_) => "receiving COPY data",
            Progress::Suspended(_) => "holding a suspended portal",
            Progress::Complete { .. } | Progress::Failed(_) => "awaiting ReadyForQuery",
            Progress::Simple(_) => "running a simple query",
            Progress::AwaitingClose => "awaiting CloseComplete",
        }
    }
}

type CacheKey = (String, Vec<u32>);

/// Statement keys in flight. A list: it holds at most the queued
/// statements, and searching it costs less than another hash set
/// instantiation costs the wasm module.
#[derive(Default)]
struct KeySet(Vec<CacheKey>);

impl KeySet {
    fn contains(&self, key: &CacheKey) -> bool {
        self.0.contains(key)
    }

    fn insert(&mut self, key: CacheKey) {
        if !self.contains(&key) {
            self.0.push(key);
        }
    }

    fn remove(&mut self, key: &CacheKey) -> bool {
        let found = self.0.iter().position(|k| k == key);
        if let Some(at) = found {
            self.0.swap_remove(at);
        }
        found.is_some()
    }
}

/// Named prepared statements by SQL and parameter types, least recently
/// used first out. A capacity of 0 means unnamed statements only, which is
/// what pgbouncer's transaction mode needs.
///
/// A list with a fingerprint per entry rather than a hash map, which would
/// cost the wasm module another KB: a lookup hashes the SQL once and
/// compares at most `capacity` fingerprints (under a microsecond at 256).
struct StatementCache {
    capacity: usize,
    entries: Vec<CachedStatement>,
    clock: u64,
    next_name: u64,
    /// Statement names are `{prefix}_{n}`. Sessions that share one server
    /// backend (PGlite, pooled server connections) each need their own prefix.
    prefix: String,
}

struct CachedStatement {
    fingerprint: u64,
    key: CacheKey,
    name: String,
    columns: Vec<ColumnDesc>,
    last_used: u64,
}

impl StatementCache {
    fn position(&self, key: &CacheKey) -> Option<usize> {
        let fingerprint = fingerprint(key);
        self.entries
            .iter()
            .position(|e| e.fingerprint == fingerprint && e.key == *key)
    }

    fn contains(&self, key: &CacheKey) -> bool {
        self.position(key).is_some()
    }

    fn remove(&mut self, key: &CacheKey) -> Option<CachedStatement> {
        let at = self.position(key)?;
        Some(self.entries.swap_remove(at))
    }

    fn get(&mut self, key: &CacheKey) -> Option<(String, Vec<ColumnDesc>)> {
        self.clock += 1;
        let at = self.position(key)?;
        let entry = self.entries.get_mut(at)?;
        entry.last_used = self.clock;
        Some((entry.name.clone(), entry.columns.clone()))
    }

    fn new_name(&mut self) -> String {
        self.next_name += 1;
        format!("{}_{}", self.prefix, self.next_name)
    }

    /// Inserts, returning the names of statements evicted to make room.
    fn insert(&mut self, key: CacheKey, name: String, columns: Vec<ColumnDesc>) -> Vec<String> {
        self.clock += 1;
        self.remove(&key);
        self.entries.push(CachedStatement {
            fingerprint: fingerprint(&key),
            key,
            name,
            columns,
            last_used: self.clock,
        });
        self.shrink()
    }

    fn shrink(&mut self) -> Vec<String> {
        let mut evicted = Vec::new();
        while self.entries.len() > self.capacity {
            let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(at, _)| at)
            else {
                break;
            };
            evicted.push(self.entries.swap_remove(oldest).name);
        }
        evicted
    }
}

/// FNV-1a of the SQL: statements generated from one shape share long
/// prefixes and lengths, which a plain comparison would walk through.
fn fingerprint((sql, _): &CacheKey) -> u64 {
    sql.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The default number of prepared statements kept per connection.
pub const DEFAULT_STATEMENT_CACHE: usize = 256;

/// SQLSTATEs after which a cached statement is prepared again once:
/// "cached plan must not change result type" and "prepared statement does
/// not exist" (after `DISCARD ALL`, or a pooler switching sessions).
/// Drivers that keep their own statement cache (the native one) use the
/// same list.
pub const REPREPARE_CODES: &[&str] = &["0A000", "26000"];

/// A PostgreSQL client session as a pure state machine.
///
/// Feed it what the transport reads with [`handle_input`](Self::handle_input),
/// send what [`poll_transmit`](Self::poll_transmit) returns, and drain
/// [`poll_event`](Self::poll_event). Requests may be queued at any time, even
/// before the login completes, and any number may be in flight: the server
/// answers in order, so responses are matched to a FIFO of pending requests.
/// A request that must wait for an answer before it can finish sending (a
/// statement being described, an open portal, a simple query or COPY)
/// holds back the requests queued after it until it can.
pub struct Connection {
    phase: Phase,
    reader: MessageReader,
    transmit: BytesMut,
    events: VecDeque<Event>,
    /// Requests not yet transmitted, in order.
    queue: VecDeque<Queued>,
    /// Requests transmitted and not yet finished, in order.
    pending: VecDeque<Pending>,
    next_request: u64,
    /// A few dozen at most, so a list rather than a map.
    parameters: Vec<(String, String)>,
    backend_key: Option<BackendKey>,
    transaction_status: TransactionStatus,
    cache: StatementCache,
    /// Set by [`hold`](Connection::hold): requests are queued, not sent.
    held: bool,
    /// Statements being prefetched; executions of them wait in the queue.
    preparing: KeySet,
    /// Statements whose prefetch failed: their execution prepares them the
    /// usual way, in its own unit, so that it gets the server's error.
    unpreparable: KeySet,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.state_name())
            .field("pending_requests", &self.pending.len())
            .field("queued_requests", &self.queue.len())
            .field("transaction_status", &self.transaction_status)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// `nonce_seed` is the randomness for the SCRAM client nonce (at least
    /// 18 bytes from a CSPRNG); taking it as input keeps the engine free of
    /// platform RNGs and makes its transcripts reproducible. The SCRAM
    /// exchange fails with [`ScramError::NonceSeedTooShort`](super::ScramError)
    /// if it is shorter.
    pub fn new(config: StartupConfig, nonce_seed: &[u8]) -> Connection {
        let mut transmit = BytesMut::new();
        let startup = frontend::startup_message(config.parameters(), &mut transmit);
        let phase = match startup {
            Ok(()) => Phase::Authenticating(Authenticator::new(
                config.user,
                config.password,
                nonce_seed.to_vec(),
            )),
            Err(error) => {
                transmit.clear();
                Phase::Broken {
                    reason: format!("cannot encode the StartupMessage: {error}"),
                }
            }
        };
        Connection {
            phase,
            reader: MessageReader::default(),
            transmit,
            events: VecDeque::new(),
            queue: VecDeque::new(),
            pending: VecDeque::new(),
            next_request: 0,
            parameters: Vec::new(),
            backend_key: None,
            transaction_status: TransactionStatus::Idle,
            cache: StatementCache {
                capacity: DEFAULT_STATEMENT_CACHE,
                entries: Vec::new(),
                clock: 0,
                next_name: 0,
                prefix: "keel".to_owned(),
            },
            held: false,
            preparing: KeySet::default(),
            unpreparable: KeySet::default(),
        }
    }

    /// How many named statements [`send_prepared`](Self::send_prepared)
    /// keeps. 0 switches to unnamed statements only (for pgbouncer in
    /// transaction mode); statements evicted by a smaller limit are closed.
    pub fn set_statement_cache_capacity(&mut self, capacity: usize) {
        self.cache.capacity = capacity;
        for name in self.cache.shrink() {
            self.enqueue_internal(Spec::Close { name });
        }
        self.release();
    }

    /// Names this connection's prepared statements `{prefix}_{n}` from now
    /// on. Needed where several keel sessions share one server backend (an
    /// in-process PGlite serves every client on one session), so their
    /// statement names cannot collide. `prefix` must be a plain identifier.
    pub fn set_statement_prefix(&mut self, prefix: &str) {
        self.cache.prefix = prefix.to_owned();
    }

    /// The number of statements currently prepared by the cache.
    pub fn cached_statements(&self) -> usize {
        self.cache.entries.len()
    }

    /// Processes bytes read from the transport, in any chunking. An `Err` is
    /// fatal: the connection is broken and must be dropped. During startup a
    /// rejected login surfaces here, as [`Error::Auth`] for SQLSTATE class 28.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match &self.phase {
            Phase::Broken { reason } => return Err(broken(reason)),
            Phase::Terminated => return Ok(()),
            _ => {}
        }
        // Out of `self` while its messages are handled, which borrow it.
        let mut reader = std::mem::take(&mut self.reader);
        reader.extend(bytes);
        match self.read_messages(&mut reader) {
            Ok(()) => {
                self.reader = reader;
                Ok(())
            }
            Err(error) => Err(self.fail(error)),
        }
    }

    fn read_messages(&mut self, reader: &mut MessageReader) -> Result<(), Error> {
        while let Some((tag, body)) = reader.next_message()? {
            let len = body.len();
            match self.pending.front_mut() {
                // Most of a large result: straight into the rows.
                Some(Pending {
                    progress: Progress::Rows(rows),
                    ..
                }) if tag == b'D' => message::push_data_row(rows, body, &message::FAST_ROW)?,
                _ => self.dispatch(tag, message::parse(tag, body)?)?,
            }
            reader.consume(len);
        }
        Ok(())
    }

    /// Everything queued since the last call, as one buffer so that a
    /// pipeline goes out in a single write.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.transmit.is_empty() {
            None
        } else {
            Some(Vec::from(std::mem::take(&mut self.transmit)))
        }
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Queues one statement in a single round trip: Parse (unnamed, with
    /// `param_oids`; 0 or a missing OID lets the server infer the type),
    /// Bind (every parameter and result column in binary), Describe,
    /// Execute, Sync. `params` must already be in binary format; `None` is
    /// NULL. A result column of a type keel cannot decode fails to decode;
    /// [`send_prepared`](Self::send_prepared) avoids that.
    ///
    /// An encoding error queues nothing and leaves the connection usable.
    pub fn send_query(
        &mut self,
        sql: &str,
        param_oids: &[u32],
        params: &[Option<Vec<u8>>],
    ) -> Result<RequestId, Error> {
        self.send_unnamed(sql, param_oids, params, 0)
    }

    /// Queues a statement through the statement cache. The first time a
    /// statement is seen it is parsed and described (Parse, Describe,
    /// Flush), and only then bound, so result columns of types keel does
    /// not know are requested in text format; later executions are a single
    /// Bind/Execute/Sync. With a cache capacity of 0 the statement is
    /// unnamed and described every time, within one unit up to Sync.
    pub fn send_prepared(
        &mut self,
        sql: &str,
        param_oids: &[u32],
        params: &[Option<Vec<u8>>],
    ) -> Result<RequestId, Error> {
        self.enqueue(
            sql,
            params,
            Spec::Prepared {
                sql: sql.to_owned(),
                param_oids: param_oids.to_vec(),
                params: params.to_vec(),
                retried: false,
            },
        )
    }

    /// Opens a portal that returns at most `max_rows` rows per
    /// [`Event::RowBatch`], so a large result is read in bounded batches.
    /// The last batch comes as [`Event::QueryComplete`].
    pub fn send_portal(
        &mut self,
        sql: &str,
        param_oids: &[u32],
        params: &[Option<Vec<u8>>],
        max_rows: u32,
    ) -> Result<RequestId, Error> {
        let max_rows = i32::try_from(max_rows.max(1)).unwrap_or(i32::MAX);
        self.send_unnamed(sql, param_oids, params, max_rows)
    }

    fn send_unnamed(
        &mut self,
        sql: &str,
        param_oids: &[u32],
        params: &[Option<Vec<u8>>],
        max_rows: i32,
    ) -> Result<RequestId, Error> {
        self.enqueue(
            sql,
            params,
            Spec::Unnamed {
                sql: sql.to_owned(),
                param_oids: param_oids.to_vec(),
                params: params.to_vec(),
                max_rows,
            },
        )
    }

    /// Runs a script of one or more statements with the simple query
    /// protocol (rows in text format). It runs alone: requests queued after
    /// it wait for its end. A `COPY ... FROM STDIN` inside it is refused
    /// (use [`copy_in`](Self::copy_in)); `COPY ... TO STDOUT` emits
    /// [`Event::CopyData`].
    pub fn send_simple(&mut self, sql: &str) -> Result<RequestId, Error> {
        self.enqueue(
            sql,
            &[],
            Spec::Simple {
                sql: sql.to_owned(),
                copy_in: false,
            },
        )
    }

    /// Runs `COPY ... FROM STDIN`; on [`Event::CopyInReady`] feed it with
    /// [`copy_data`](Self::copy_data) and end it with
    /// [`copy_done`](Self::copy_done) or [`copy_fail`](Self::copy_fail).
    pub fn copy_in(&mut self, sql: &str) -> Result<RequestId, Error> {
        self.enqueue(
            sql,
            &[],
            Spec::Simple {
                sql: sql.to_owned(),
                copy_in: true,
            },
        )
    }

    /// Sends one chunk of COPY data; chunks need not align with rows.
    pub fn copy_data(&mut self, id: RequestId, data: &[u8]) -> Result<(), Error> {
        self.active_copy(id)?;
        request::copy_data(data, &mut self.transmit)?;
        Ok(())
    }

    pub fn copy_done(&mut self, id: RequestId) -> Result<(), Error> {
        self.active_copy(id)?.copy_in_active = false;
        request::copy_done(&mut self.transmit);
        Ok(())
    }

    /// Aborts the COPY; the server answers with an error naming `reason`.
    pub fn copy_fail(&mut self, id: RequestId, reason: &str) -> Result<(), Error> {
        let mut buf = BytesMut::new();
        request::copy_fail(reason, &mut buf)?;
        self.active_copy(id)?.copy_in_active = false;
        self.transmit.unsplit(buf);
        Ok(())
    }

    /// Asks a suspended portal for its next batch.
    pub fn fetch_more(&mut self, id: RequestId) -> Result<(), Error> {
        let front = self.suspended(id)?;
        let Progress::Suspended(columns) =
            std::mem::replace(&mut front.progress, Progress::Rows(RawRows::default()))
        else {
            return Err(not_suspended());
        };
        let max_rows = front.portal_rows;
        front.progress = Progress::Rows(RawRows::new(columns));
        request::execute(max_rows, &mut self.transmit)?;
        request::flush(&mut self.transmit);
        Ok(())
    }

    /// Closes a suspended portal without reading the rest of its rows; its
    /// request then completes with no rows and an empty tag.
    pub fn close_portal(&mut self, id: RequestId) -> Result<(), Error> {
        let front = self.suspended(id)?;
        front.progress = Progress::Complete {
            rows: RawRows::default(),
            tag: String::new(),
        };
        front.sync_sent = true;
        request::sync(&mut self.transmit);
        self.release();
        Ok(())
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready)
    }

    pub fn is_broken(&self) -> bool {
        matches!(self.phase, Phase::Broken { .. })
    }

    /// Whether any request is queued or awaiting its answer.
    pub fn is_busy(&self) -> bool {
        !self.queue.is_empty() || self.pending.iter().any(|p| !p.internal)
    }

    /// The error that broke the connection, as text.
    pub fn broken_reason(&self) -> Option<&str> {
        match &self.phase {
            Phase::Broken { reason } => Some(reason),
            _ => None,
        }
    }

    pub fn transaction_status(&self) -> TransactionStatus {
        self.transaction_status
    }

    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn backend_key(&self) -> Option<BackendKey> {
        self.backend_key
    }

    /// A CancelRequest to send on a separate connection to the same server;
    /// `None` until the server has sent its BackendKeyData.
    pub fn cancel_request(&self) -> Option<Vec<u8>> {
        let key = self.backend_key?;
        let mut buf = BytesMut::new();
        frontend::cancel_request(key.process_id, key.secret_key, &mut buf);
        Some(buf.to_vec())
    }

    /// Queues Terminate after anything already transmitted. Requests still
    /// pending will never complete, and later input is ignored. Does nothing
    /// on a broken connection, whose transport should simply be dropped.
    pub fn terminate(&mut self) {
        if matches!(self.phase, Phase::Terminated | Phase::Broken { .. }) {
            return;
        }
        self.queue.clear();
        self.pending.clear();
        self.preparing.0.clear();
        self.unpreparable.0.clear();
        frontend::terminate(&mut self.transmit);
        self.phase = Phase::Terminated;
    }

    fn enqueue(
        &mut self,
        sql: &str,
        params: &[Option<Vec<u8>>],
        spec: Spec,
    ) -> Result<RequestId, Error> {
        match &self.phase {
            Phase::Broken { reason } => return Err(broken(reason)),
            Phase::Terminated => {
                return Err(Error::Closed(Some(
                    "the connection was terminated by the client".into(),
                )))
            }
            _ => {}
        }
        request::validate(sql, params)?;
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.queue.push_back(Queued { id, spec });
        self.release();
        Ok(id)
    }

    fn enqueue_internal(&mut self, spec: Spec) {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.queue.push_front(Queued { id, spec });
    }

    fn blocked(&self) -> bool {
        self.pending.iter().any(|p| !p.sync_sent || p.exclusive)
    }

    /// Queues the requests that follow without transmitting them, until
    /// [`release_held`](Self::release_held): a pipeline is queued whole
    /// before anything goes out, so that its new statements are described
    /// together (two round trips for the lot) instead of the first one
    /// alone holding the others back.
    pub fn hold(&mut self) {
        self.held = true;
    }

    /// Ends [`hold`](Self::hold) and transmits what it can.
    pub fn release_held(&mut self) {
        self.held = false;
        self.release();
    }

    /// Transmits queued requests for as long as nothing holds them back.
    fn release(&mut self) {
        if self.held {
            return;
        }
        while self.is_ready() && !self.blocked() {
            let Some(front) = self.queue.front() else {
                return;
            };
            if front.spec.is_exclusive() && !self.pending.is_empty() {
                return;
            }
            let waiting = self
                .uncached(&front.spec)
                .filter(|key| !self.unpreparable.remove(key));
            if let Some(key) = waiting {
                // A lone new statement is described and then bound in one
                // unit (Parse, Describe, Flush, then Bind, Execute, Sync).
                // When more new statements wait behind it, they are all
                // described at once instead, each in a unit of its own, and
                // the executions follow as the descriptions come back.
                //
                // Only outside a transaction block: inside one, a statement
                // that fails to parse would abort the block before the
                // statements ahead of it ran, and they would report the
                // abort instead of their own results.
                let others = self.transaction_status == TransactionStatus::Idle
                    && self.prefetchable().skip(1).any(|q| {
                        self.uncached(&q.spec)
                            .is_some_and(|k| k != key && !self.unpreparable.contains(&k))
                    });
                if self.preparing.contains(&key) || others {
                    self.prefetch_queued();
                    if self.preparing.contains(&key) {
                        return;
                    }
                    // Its prefetch could not even be encoded: the next turn
                    // sends it the usual way, which reports the error.
                    continue;
                }
            }
            let Some(queued) = self.queue.pop_front() else {
                return;
            };
            let id = queued.id;
            if let Err(error) = self.transmit_request(queued) {
                // Validated when queued, so this is only reachable through a
                // statement cache name or CopyFail text; fail that request alone.
                self.events.push_back(Event::QueryFailed {
                    id,
                    error: ServerError {
                        severity: "ERROR".into(),
                        code: "08P01".into(),
                        message: error.to_string(),
                        ..ServerError::default()
                    },
                });
            }
        }
    }

    /// The cache key of a cached-mode statement execution whose statement
    /// is not prepared yet; `None` for anything that can go out as it is.
    fn uncached(&self, spec: &Spec) -> Option<CacheKey> {
        match spec {
            Spec::Prepared {
                sql, param_oids, ..
            } if self.cache.capacity > 0 => {
                let key = (sql.clone(), param_oids.clone());
                (!self.cache.contains(&key)).then_some(key)
            }
            _ => None,
        }
    }

    /// The queued requests whose statements may be described ahead of
    /// time: those before the next simple query or COPY, which may change
    /// what the statements behind it mean (a `CREATE TABLE`, a `SET
    /// search_path`).
    fn prefetchable(&self) -> impl Iterator<Item = &Queued> {
        self.queue.iter().take_while(|q| !q.spec.is_exclusive())
    }

    /// Prefetches the statements of the queued executions, front first, up
    /// to half the cache's capacity at a time, so that no prefetched
    /// statement is evicted before its execution runs.
    fn prefetch_queued(&mut self) {
        let limit = (self.cache.capacity / 2).max(1);
        for index in 0..self.prefetchable().count() {
            if self.preparing.0.len() >= limit {
                return;
            }
            let key = self.queue.get(index).and_then(|q| self.uncached(&q.spec));
            if let Some(key) = key {
                if !self.preparing.contains(&key) && !self.unpreparable.contains(&key) {
                    self.prefetch(key);
                }
            }
        }
    }

    /// Describes a new statement ahead of its execution, as a unit of its
    /// own (Parse, Describe, Sync), so that N new statements queued together
    /// cost two round trips rather than N + 1. A failed prefetch caches
    /// nothing; the execution then prepares the statement itself and
    /// reports the server's error as its own.
    fn prefetch(&mut self, key: CacheKey) {
        let name = self.cache.new_name();
        let mut buf = BytesMut::new();
        let encoded = request::parse(&name, &key.0, &key.1, &mut buf)
            .and_then(|()| request::describe_statement(&name, &mut buf));
        if encoded.is_err() {
            // The execution meets the same encoding error and reports it.
            self.unpreparable.insert(key);
            return;
        }
        request::sync(&mut buf);
        self.transmit.unsplit(buf);
        self.preparing.insert(key.clone());
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.pending.push_back(Pending {
            id,
            progress: Progress::AwaitingParse {
                describe_next: true,
            },
            sync_sent: true,
            exclusive: false,
            internal: true,
            describing: Some(Describing {
                key: key.clone(),
                name,
                params: Vec::new(),
                cache: true,
                execute: false,
            }),
            prefetch: Some(key),
            retry: None,
            retry_now: false,
            portal_rows: 0,
        });
    }

    fn transmit_request(&mut self, queued: Queued) -> Result<(), ProtocolError> {
        let mut buf = BytesMut::new();
        let mut pending = Pending {
            id: queued.id,
            progress: Progress::AwaitingParse {
                describe_next: false,
            },
            sync_sent: true,
            exclusive: false,
            internal: false,
            describing: None,
            prefetch: None,
            retry: None,
            retry_now: false,
            portal_rows: 0,
        };
        match queued.spec {
            Spec::Unnamed {
                sql,
                param_oids,
                params,
                max_rows,
            } => {
                request::parse("", &sql, &param_oids, &mut buf)?;
                request::bind("", &params, &[1], &mut buf)?;
                request::describe_portal(&mut buf)?;
                request::execute(max_rows, &mut buf)?;
                if max_rows == 0 {
                    request::sync(&mut buf);
                } else {
                    request::flush(&mut buf);
                    pending.sync_sent = false;
                    pending.portal_rows = max_rows;
                }
            }
            Spec::Prepared {
                sql,
                param_oids,
                params,
                retried,
            } => {
                let key = (sql, param_oids);
                let cache = self.cache.capacity > 0;
                match self.cache.get(&key).filter(|_| cache) {
                    Some((name, columns)) => {
                        let formats: Vec<i16> = columns.iter().map(|c| c.format).collect();
                        request::bind(&name, &params, &formats, &mut buf)?;
                        request::execute(0, &mut buf)?;
                        request::sync(&mut buf);
                        pending.progress = Progress::AwaitingBind(Some(columns));
                        if !retried {
                            pending.retry = Some((key, params));
                        }
                    }
                    None => {
                        let name = if cache {
                            self.cache.new_name()
                        } else {
                            String::new()
                        };
                        request::parse(&name, &key.0, &key.1, &mut buf)?;
                        request::describe_statement(&name, &mut buf)?;
                        request::flush(&mut buf);
                        pending.progress = Progress::AwaitingParse {
                            describe_next: true,
                        };
                        pending.sync_sent = false;
                        pending.describing = Some(Describing {
                            key,
                            name,
                            params,
                            cache,
                            execute: true,
                        });
                    }
                }
            }
            Spec::Simple { sql, copy_in } => {
                request::simple_query(&sql, &mut buf)?;
                pending.exclusive = true;
                pending.progress = Progress::Simple(SimpleState {
                    copy_in_allowed: copy_in,
                    ..SimpleState::default()
                });
            }
            Spec::Close { name } => {
                request::close_statement(&name, &mut buf)?;
                request::sync(&mut buf);
                pending.internal = true;
                pending.progress = Progress::AwaitingClose;
            }
        }
        self.transmit.unsplit(buf);
        self.pending.push_back(pending);
        Ok(())
    }

    fn active_copy(&mut self, id: RequestId) -> Result<&mut SimpleState, Error> {
        match self.pending.front_mut() {
            Some(Pending {
                id: front,
                progress: Progress::Simple(state),
                ..
            }) if *front == id && state.copy_in_active => Ok(state),
            _ => Err(ProtocolError::Encode {
                message: "CopyData",
                reason: "the request is not in COPY FROM STDIN mode".into(),
            }
            .into()),
        }
    }

    fn suspended(&mut self, id: RequestId) -> Result<&mut Pending, Error> {
        match self.pending.front_mut() {
            Some(front) if front.id == id && matches!(front.progress, Progress::Suspended(_)) => {
                Ok(front)
            }
            _ => Err(not_suspended()),
        }
    }

    fn state_name(&self) -> &'static str {
        match &self.phase {
            Phase::Authenticating(auth) => auth.state_name(),
            Phase::Starting => "awaiting the first ReadyForQuery",
            Phase::Ready => match self.pending.front() {
                Some(pending) => pending.progress.state_name(),
                None => "idle with no request in flight",
            },
            Phase::Terminated => "terminated",
            Phase::Broken { .. } => "broken",
        }
    }

    fn fail(&mut self, error: Error) -> Error {
        self.phase = Phase::Broken {
            reason: error.to_string(),
        };
        self.transmit.clear();
        self.queue.clear();
        self.pending.clear();
        self.preparing.0.clear();
        self.unpreparable.0.clear();
        error
    }

    fn unexpected(&self, tag: u8) -> Error {
        unexpected_in(tag, self.state_name())
    }

    fn dispatch(&mut self, tag: u8, message: ServerMessage) -> Result<(), Error> {
        let message = match message {
            ServerMessage::ParameterStatus { name, value } => {
                let name = message::text(tag, name)?;
                let value = message::text(tag, value)?;
                match self.parameters.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, v)) => v.clone_from(&value),
                    None => self.parameters.push((name.clone(), value.clone())),
                }
                self.events
                    .push_back(Event::ParameterStatus { name, value });
                return Ok(());
            }
            ServerMessage::NoticeResponse(body) => {
                let notice = message::server_error(tag, body)?;
                self.events.push_back(Event::Notice(notice));
                return Ok(());
            }
            ServerMessage::NotificationResponse {
                process_id,
                channel,
                payload,
            } => {
                let channel = message::text(tag, channel)?;
                let payload = message::text(tag, payload)?;
                self.events.push_back(Event::Notification {
                    process_id,
                    channel,
                    payload,
                });
                return Ok(());
            }
            ServerMessage::ErrorResponse(body) => {
                let error = message::server_error(tag, body)?;
                return self.on_error_response(error);
            }
            other => other,
        };
        match &mut self.phase {
            Phase::Authenticating(auth) if tag == b'R' => {
                if let AuthProgress::Authenticated = auth.handle(message, &mut self.transmit)? {
                    self.phase = Phase::Starting;
                }
                Ok(())
            }
            Phase::Authenticating(_) => Err(self.unexpected(tag)),
            Phase::Starting => match message {
                ServerMessage::BackendKeyData(key) => {
                    self.backend_key = Some(key);
                    Ok(())
                }
                ServerMessage::ReadyForQuery(status) => {
                    self.transaction_status = transaction_status(status)?;
                    self.phase = Phase::Ready;
                    self.events.push_back(Event::Connected);
                    self.release();
                    Ok(())
                }
                _ => Err(self.unexpected(tag)),
            },
            Phase::Ready => self.on_response(tag, message),
            Phase::Terminated | Phase::Broken { .. } => Ok(()),
        }
    }

    /// Before the session is up any error ends it (a rejected login arrives
    /// this way); afterwards only FATAL and PANIC do, since the server closes
    /// the socket right after sending them and no ReadyForQuery will follow.
    fn on_error_response(&mut self, error: ServerError) -> Result<(), Error> {
        if !self.is_ready() {
            return Err(error.into_login_error());
        }
        if message::is_fatal(&error) {
            return Err(Error::from(error));
        }
        let Some(front) = self.pending.front_mut() else {
            return Err(self.unexpected(b'E'));
        };
        if let Progress::Simple(state) = &mut front.progress {
            state.copy_in_active = false;
            state.copy_out_active = false;
            state.error.get_or_insert(error);
            return Ok(());
        }
        if matches!(front.progress, Progress::Failed(_)) {
            return Ok(());
        }
        front.retry_now = front.retry.is_some() && REPREPARE_CODES.contains(&error.code.as_str());
        front.progress = Progress::Failed(error);
        if !front.sync_sent {
            front.sync_sent = true;
            request::sync(&mut self.transmit);
            self.release();
        }
        Ok(())
    }

    fn on_response(&mut self, tag: u8, message: ServerMessage) -> Result<(), Error> {
        if let ServerMessage::ReadyForQuery(status) = message {
            let status = transaction_status(status)?;
            return self.finish_request(tag, status);
        }
        let Some(front) = self.pending.front_mut() else {
            return Err(self.unexpected(tag));
        };
        // Named before the progress is taken out below.
        let state = front.progress.state_name();
        let id = front.id;
        let progress = std::mem::replace(&mut front.progress, Progress::AwaitingClose);
        let next = match (progress, message) {
            (Progress::Failed(error), _) => Progress::Failed(error),
            (Progress::Simple(mut state), message) => {
                self.on_simple(id, &mut state, tag, message)?;
                Progress::Simple(state)
            }
            (Progress::AwaitingParse { describe_next }, ServerMessage::ParseComplete) => {
                if describe_next {
                    Progress::AwaitingParameterDescription
                } else {
                    Progress::AwaitingBind(None)
                }
            }
            (Progress::AwaitingParameterDescription, ServerMessage::ParameterDescription) => {
                Progress::AwaitingStatementDescription
            }
            (
                Progress::AwaitingStatementDescription,
                ServerMessage::RowDescription { columns, fields },
            ) => {
                let columns = message::columns(columns, fields)?;
                return self.on_described(columns);
            }
            (Progress::AwaitingStatementDescription, ServerMessage::NoData) => {
                return self.on_described(Vec::new());
            }
            (Progress::AwaitingBind(columns), ServerMessage::BindComplete) => match columns {
                Some(columns) => Progress::Rows(RawRows::new(columns)),
                None => Progress::AwaitingPortalDescription,
            },
            (
                Progress::AwaitingPortalDescription,
                ServerMessage::RowDescription { columns, fields },
            ) => Progress::Rows(RawRows::new(message::columns(columns, fields)?)),
            (Progress::AwaitingPortalDescription, ServerMessage::NoData) => {
                Progress::Rows(RawRows::new(Vec::new()))
            }
            (Progress::Rows(mut rows), ServerMessage::DataRow(body)) => {
                message::push_data_row(&mut rows, body, &message::PARSED_ROW)?;
                Progress::Rows(rows)
            }
            (Progress::Rows(rows), ServerMessage::CommandComplete(command)) => {
                let tag = message::text(tag, command)?;
                self.complete_front(rows, tag)
            }
            (Progress::Rows(rows), ServerMessage::EmptyQueryResponse) => {
                self.complete_front(rows, String::new())
            }
            (Progress::Rows(rows), ServerMessage::PortalSuspended) => {
                let columns = rows.columns().to_vec();
                self.events.push_back(Event::RowBatch { id, rows });
                Progress::Suspended(columns)
            }
            (Progress::Rows(rows), ServerMessage::CopyOutResponse) => Progress::CopyOut(rows),
            (Progress::CopyOut(rows), ServerMessage::CopyData(data)) => {
                self.events.push_back(Event::CopyData {
                    id,
                    data: data.to_vec(),
                });
                Progress::CopyOut(rows)
            }
            (Progress::CopyOut(rows), ServerMessage::CopyDone) => Progress::Rows(rows),
            (Progress::AwaitingClose, ServerMessage::CloseComplete) => Progress::Complete {
                rows: RawRows::default(),
                tag: String::new(),
            },
            // Pipelined messages behind the statement would reach the server
            // while it waits for COPY data; copy_in exists for this.
            (_, ServerMessage::CopyInResponse { .. }) => {
                return Err(ProtocolError::Unsupported {
                    what: "COPY FROM STDIN through an extended query (use copy_in)",
                }
                .into())
            }
            _ => return Err(unexpected_in(tag, state)),
        };
        if let Some(front) = self.pending.front_mut() {
            front.progress = next;
        }
        Ok(())
    }

    /// A portal's Sync is sent only once its rows are done.
    fn complete_front(&mut self, rows: RawRows, tag: String) -> Progress {
        if let Some(front) = self.pending.front_mut() {
            if !front.sync_sent {
                front.sync_sent = true;
                request::sync(&mut self.transmit);
            }
        }
        self.release();
        Progress::Complete { rows, tag }
    }

    /// The statement's description arrived: cache it and send the Bind,
    /// asking for text wherever keel's codec does not know the type.
    fn on_described(&mut self, mut columns: Vec<ColumnDesc>) -> Result<(), Error> {
        let formats = request::result_formats(&columns);
        for (column, format) in columns.iter_mut().zip(&formats) {
            column.format = *format;
        }
        let Some(front) = self.pending.front_mut() else {
            return Err(self.unexpected(b'T'));
        };
        let Some(describing) = front.describing.take() else {
            return Err(self.unexpected(b'T'));
        };
        if !describing.execute {
            front.progress = Progress::Complete {
                rows: RawRows::default(),
                tag: String::new(),
            };
            for name in self.cache.insert(describing.key, describing.name, columns) {
                self.enqueue_internal(Spec::Close { name });
            }
            return Ok(());
        }
        let mut buf = BytesMut::new();
        request::bind(&describing.name, &describing.params, &formats, &mut buf)?;
        request::execute(0, &mut buf)?;
        request::sync(&mut buf);
        front.sync_sent = true;
        front.progress = Progress::AwaitingBind(Some(columns.clone()));
        self.transmit.unsplit(buf);
        if describing.cache {
            for name in self.cache.insert(describing.key, describing.name, columns) {
                self.enqueue_internal(Spec::Close { name });
            }
        }
        self.release();
        Ok(())
    }

    fn on_simple(
        &mut self,
        id: RequestId,
        state: &mut SimpleState,
        tag: u8,
        message: ServerMessage,
    ) -> Result<(), Error> {
        match message {
            ServerMessage::RowDescription { columns, fields } if !state.copy_out_active => {
                state.current = Some(RawRows::new(message::columns(columns, fields)?));
            }
            ServerMessage::DataRow(body) if !state.copy_out_active => {
                let rows = state.current.as_mut().ok_or_else(|| self.unexpected(tag))?;
                message::push_data_row(rows, body, &message::PARSED_ROW)?;
            }
            ServerMessage::CommandComplete(command) if !state.copy_out_active => {
                state.results.push(StatementResult {
                    rows: state.current.take().unwrap_or_default(),
                    tag: message::text(tag, command)?,
                });
            }
            ServerMessage::EmptyQueryResponse if !state.copy_out_active => {
                state.results.push(StatementResult {
                    rows: RawRows::default(),
                    tag: String::new(),
                });
            }
            ServerMessage::CopyOutResponse if !state.copy_out_active => {
                state.copy_out_active = true
            }
            ServerMessage::CopyData(data) if state.copy_out_active => {
                self.events.push_back(Event::CopyData {
                    id,
                    data: data.to_vec(),
                });
            }
            ServerMessage::CopyDone if state.copy_out_active => state.copy_out_active = false,
            ServerMessage::CopyInResponse {
                format,
                columns,
                formats,
            } if !state.copy_in_active && !state.copy_out_active => {
                if state.copy_in_allowed {
                    state.copy_in_active = true;
                    let columns = message::copy_columns(columns, formats)?;
                    self.events.push_back(Event::CopyInReady {
                        id,
                        binary: format == 1,
                        columns,
                    });
                } else {
                    request::copy_fail(
                        "COPY FROM STDIN needs keel's copy_in, not a simple query",
                        &mut self.transmit,
                    )?;
                }
            }
            _ => return Err(self.unexpected(tag)),
        }
        Ok(())
    }

    fn finish_request(&mut self, tag: u8, status: TransactionStatus) -> Result<(), Error> {
        let Some(front) = self.pending.pop_front() else {
            return Err(self.unexpected(tag));
        };
        self.transaction_status = status;
        if let Some(key) = front.prefetch {
            self.preparing.remove(&key);
            if matches!(front.progress, Progress::Failed(_)) {
                self.unpreparable.insert(key);
            }
        }
        let event = match front.progress {
            Progress::Complete { rows, tag } => Event::QueryComplete {
                id: front.id,
                rows,
                tag,
            },
            Progress::Failed(error) => {
                if let Some((key, params)) = front.retry {
                    // The server lost the statement or its result type
                    // changed: forget it, and prepare it afresh once, unless
                    // the failure aborted a transaction block.
                    if let Some(stale) = self.cache.remove(&key) {
                        if error.code != "26000" {
                            self.enqueue_internal(Spec::Close { name: stale.name });
                        }
                    }
                    if front.retry_now && status != TransactionStatus::Failed {
                        let (sql, param_oids) = key;
                        let retry = Queued {
                            id: front.id,
                            spec: Spec::Prepared {
                                sql,
                                param_oids,
                                params,
                                retried: true,
                            },
                        };
                        // Ahead of later requests, behind any Close just queued.
                        let at = self
                            .queue
                            .iter()
                            .take_while(|q| matches!(q.spec, Spec::Close { .. }))
                            .count();
                        self.queue.insert(at, retry);
                        self.release();
                        return Ok(());
                    }
                }
                Event::QueryFailed {
                    id: front.id,
                    error,
                }
            }
            Progress::Simple(state) => match state.error {
                Some(error) => Event::QueryFailed {
                    id: front.id,
                    error,
                },
                None if state.copy_in_allowed => {
                    let tag = state
                        .results
                        .last()
                        .map(|r| r.tag.clone())
                        .unwrap_or_default();
                    Event::QueryComplete {
                        id: front.id,
                        rows: RawRows::default(),
                        tag,
                    }
                }
                None => Event::SimpleQueryComplete {
                    id: front.id,
                    results: state.results,
                },
            },
            progress => return Err(unexpected_in(tag, progress.state_name())),
        };
        if !front.internal {
            self.events.push_back(event);
        }
        self.release();
        Ok(())
    }
}

#[cold]
#[inline(never)]
fn unexpected_in(tag: u8, state: &'static str) -> Error {
    ProtocolError::UnexpectedMessage {
        tag,
        message: message_name(tag),
        state,
    }
    .into()
}

fn not_suspended() -> Error {
    ProtocolError::Encode {
        message: "Execute",
        reason: "the request is not a suspended portal at the head of the pipeline".into(),
    }
    .into()
}

fn broken(reason: &str) -> Error {
    ProtocolError::Broken {
        reason: reason.to_owned(),
    }
    .into()
}

fn transaction_status(status: u8) -> Result<TransactionStatus, ProtocolError> {
    match status {
        b'I' => Ok(TransactionStatus::Idle),
        b'T' => Ok(TransactionStatus::InTransaction),
        b'E' => Ok(TransactionStatus::Failed),
        other => Err(malformed(
            b'Z',
            &format_args!("unknown transaction status {:?}", char::from(other)),
        )),
    }
}
