//! The connection state machine: bytes in, bytes and events out.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use bytes::BytesMut;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use super::auth::{AuthProgress, Authenticator};
use super::config::StartupConfig;
use super::message::{self, malformed, message_name, MessageReader};
use super::ProtocolError;
use crate::error::{Error, ServerError};
use crate::rows::RawRows;

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

/// Something the caller should know about, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Authentication succeeded and the server is ready for queries.
    Connected,
    /// `tag` is the CommandComplete tag (`SELECT 1`, `INSERT 0 3`, ...), empty
    /// for an empty query string.
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

struct Pending {
    id: RequestId,
    progress: Progress,
}

/// Where one request is in the Parse/Bind/Describe/Execute/Sync sequence.
enum Progress {
    AwaitingParse,
    AwaitingBind,
    AwaitingDescription,
    Rows(RawRows),
    Complete {
        rows: RawRows,
        tag: String,
    },
    /// The server skips everything up to Sync after an error, so nothing
    /// but ReadyForQuery (and asynchronous messages) should follow.
    Failed(ServerError),
}

impl Progress {
    fn state_name(&self) -> &'static str {
        match self {
            Progress::AwaitingParse => "awaiting ParseComplete",
            Progress::AwaitingBind => "awaiting BindComplete",
            Progress::AwaitingDescription => "awaiting RowDescription or NoData",
            Progress::Rows(_) => "receiving rows",
            Progress::Complete { .. } | Progress::Failed(_) => "awaiting ReadyForQuery",
        }
    }
}

/// A PostgreSQL client session as a pure state machine.
///
/// Feed it what the transport reads with [`handle_input`](Self::handle_input),
/// send what [`poll_transmit`](Self::poll_transmit) returns, and drain
/// [`poll_event`](Self::poll_event). Requests may be queued at any time, even
/// before the login completes, and any number may be in flight: the server
/// answers in order, so responses are matched to a FIFO of pending requests.
pub struct Connection {
    phase: Phase,
    reader: MessageReader,
    transmit: BytesMut,
    /// Requests queued before the first ReadyForQuery; the server would
    /// reject them during the login.
    deferred: BytesMut,
    events: VecDeque<Event>,
    pending: VecDeque<Pending>,
    next_request: u64,
    parameters: HashMap<String, String>,
    backend_key: Option<BackendKey>,
    transaction_status: TransactionStatus,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.state_name())
            .field("pending_requests", &self.pending.len())
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
            deferred: BytesMut::new(),
            events: VecDeque::new(),
            pending: VecDeque::new(),
            next_request: 0,
            parameters: HashMap::new(),
            backend_key: None,
            transaction_status: TransactionStatus::Idle,
        }
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
        self.reader.extend(bytes);
        loop {
            let (tag, message) = match self.reader.next_message() {
                Ok(Some(next)) => next,
                Ok(None) => return Ok(()),
                Err(error) => return Err(self.fail(error.into())),
            };
            if let Err(error) = self.dispatch(tag, message) {
                return Err(self.fail(error));
            }
        }
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

    /// Queues one statement through the extended protocol: Parse (unnamed,
    /// with `param_oids`; 0 or a missing OID lets the server infer the type),
    /// Bind (every parameter and result column in binary), Describe, Execute,
    /// Sync. `params` must already be in binary format; `None` is NULL.
    ///
    /// An encoding error queues nothing and leaves the connection usable.
    pub fn send_query(
        &mut self,
        sql: &str,
        param_oids: &[u32],
        params: &[Option<Vec<u8>>],
    ) -> Result<RequestId, Error> {
        let out = match &self.phase {
            Phase::Broken { reason } => return Err(broken(reason)),
            Phase::Terminated => {
                return Err(Error::Closed(Some(
                    "the connection was terminated by the client".into(),
                )))
            }
            Phase::Authenticating(_) | Phase::Starting => &mut self.deferred,
            Phase::Ready => &mut self.transmit,
        };
        message::encode_query(sql, param_oids, params, out)?;
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.pending.push_back(Pending {
            id,
            progress: Progress::AwaitingParse,
        });
        Ok(id)
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready)
    }

    pub fn is_broken(&self) -> bool {
        matches!(self.phase, Phase::Broken { .. })
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
        self.parameters.get(name).map(String::as_str)
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

    /// Queues Terminate after anything already queued. Requests still pending
    /// will never complete, and later input is ignored. Does nothing on a
    /// broken connection, whose transport should simply be dropped.
    pub fn terminate(&mut self) {
        if matches!(self.phase, Phase::Terminated | Phase::Broken { .. }) {
            return;
        }
        self.deferred.clear();
        self.pending.clear();
        frontend::terminate(&mut self.transmit);
        self.phase = Phase::Terminated;
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
        self.reader.clear();
        self.transmit.clear();
        self.deferred.clear();
        self.pending.clear();
        error
    }

    fn unexpected(&self, tag: u8) -> Error {
        ProtocolError::UnexpectedMessage {
            tag,
            message: message_name(tag),
            state: self.state_name(),
        }
        .into()
    }

    fn dispatch(&mut self, tag: u8, message: Message) -> Result<(), Error> {
        let message = match message {
            Message::ParameterStatus(body) => {
                let name = message::text(tag, body.name())?;
                let value = message::text(tag, body.value())?;
                self.parameters.insert(name.clone(), value.clone());
                self.events
                    .push_back(Event::ParameterStatus { name, value });
                return Ok(());
            }
            Message::NoticeResponse(body) => {
                let notice = message::server_error(tag, body.fields())?;
                self.events.push_back(Event::Notice(notice));
                return Ok(());
            }
            Message::NotificationResponse(body) => {
                let channel = message::text(tag, body.channel())?;
                let payload = message::text(tag, body.message())?;
                self.events.push_back(Event::Notification {
                    process_id: body.process_id(),
                    channel,
                    payload,
                });
                return Ok(());
            }
            Message::ErrorResponse(body) => {
                let error = message::server_error(tag, body.fields())?;
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
                Message::BackendKeyData(body) => {
                    self.backend_key = Some(BackendKey {
                        process_id: body.process_id(),
                        secret_key: body.secret_key(),
                    });
                    Ok(())
                }
                Message::ReadyForQuery(body) => {
                    self.transaction_status = transaction_status(body.status())?;
                    self.phase = Phase::Ready;
                    self.events.push_back(Event::Connected);
                    let deferred = std::mem::take(&mut self.deferred);
                    self.transmit.unsplit(deferred);
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
        if !matches!(front.progress, Progress::Failed(_)) {
            front.progress = Progress::Failed(error);
        }
        Ok(())
    }

    fn on_response(&mut self, tag: u8, message: Message) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Err(self.unexpected(tag));
        }
        if let Message::ReadyForQuery(body) = &message {
            let status = transaction_status(body.status())?;
            return self.finish_request(tag, status);
        }
        let unexpected = self.unexpected(tag);
        let Some(front) = self.pending.front_mut() else {
            return Err(unexpected);
        };
        let progress = std::mem::replace(&mut front.progress, Progress::AwaitingParse);
        front.progress = match (progress, message) {
            (Progress::Failed(error), _) => Progress::Failed(error),
            (Progress::AwaitingParse, Message::ParseComplete) => Progress::AwaitingBind,
            (Progress::AwaitingBind, Message::BindComplete) => Progress::AwaitingDescription,
            (Progress::AwaitingDescription, Message::RowDescription(body)) => {
                Progress::Rows(RawRows::new(message::columns(&body)?))
            }
            (Progress::AwaitingDescription, Message::NoData) => {
                Progress::Rows(RawRows::new(Vec::new()))
            }
            (Progress::Rows(mut rows), Message::DataRow(body)) => {
                message::push_data_row(&mut rows, &body)?;
                Progress::Rows(rows)
            }
            (Progress::Rows(rows), Message::CommandComplete(body)) => Progress::Complete {
                rows,
                tag: message::text(tag, body.tag())?,
            },
            (Progress::Rows(rows), Message::EmptyQueryResponse) => Progress::Complete {
                rows,
                tag: String::new(),
            },
            // The server would wait for COPY data this path never sends (or
            // stream data nobody reads); refusing is clearer than a hang.
            (_, Message::CopyInResponse(_)) => {
                return Err(ProtocolError::Unsupported {
                    what: "COPY FROM STDIN through a query",
                }
                .into())
            }
            (_, Message::CopyOutResponse(_)) => {
                return Err(ProtocolError::Unsupported {
                    what: "COPY TO STDOUT through a query",
                }
                .into())
            }
            _ => return Err(unexpected),
        };
        Ok(())
    }

    fn finish_request(&mut self, tag: u8, status: TransactionStatus) -> Result<(), Error> {
        let Some(front) = self.pending.pop_front() else {
            return Err(self.unexpected(tag));
        };
        let event = match front.progress {
            Progress::Complete { rows, tag } => Event::QueryComplete {
                id: front.id,
                rows,
                tag,
            },
            Progress::Failed(error) => Event::QueryFailed {
                id: front.id,
                error,
            },
            progress => {
                return Err(ProtocolError::UnexpectedMessage {
                    tag,
                    message: message_name(tag),
                    state: progress.state_name(),
                }
                .into())
            }
        };
        self.transaction_status = status;
        self.events.push_back(event);
        Ok(())
    }
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
            format!("unknown transaction status {:?}", char::from(other)),
        )),
    }
}
