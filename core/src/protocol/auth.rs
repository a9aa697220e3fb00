//! The authentication exchange between StartupMessage and AuthenticationOk.

use bytes::BytesMut;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::message::frontend;

use super::message::{self, message_name, ServerMessage};
use super::scram::{self, ScramClient, ScramError, ServerSignature};
use super::ProtocolError;
use crate::error::Error;

/// Credentials live here, not in the connection, so they are dropped as
/// soon as the server accepts the login.
pub(crate) struct Authenticator {
    user: String,
    password: Option<String>,
    nonce_seed: Vec<u8>,
    step: Step,
}

enum Step {
    /// Nothing sent since the StartupMessage.
    AwaitingRequest,
    /// Cleartext or MD5 password sent; only AuthenticationOk may follow.
    PasswordSent,
    ScramFirstSent(ScramClient),
    ScramFinalSent(ServerSignature),
    /// The server proved it knows the password; only AuthenticationOk may follow.
    ScramVerified,
}

pub(crate) enum AuthProgress {
    Continue,
    Authenticated,
}

impl Authenticator {
    pub(crate) fn new(user: String, password: Option<String>, nonce_seed: Vec<u8>) -> Self {
        Authenticator {
            user,
            password,
            nonce_seed,
            step: Step::AwaitingRequest,
        }
    }

    pub(crate) fn state_name(&self) -> &'static str {
        match self.step {
            Step::AwaitingRequest => "awaiting an authentication request",
            Step::PasswordSent => "awaiting the verdict on the password",
            Step::ScramFirstSent(_) => "awaiting SCRAM server-first-message",
            Step::ScramFinalSent(_) => "awaiting SCRAM server-final-message",
            Step::ScramVerified => "awaiting AuthenticationOk after SCRAM",
        }
    }

    /// Handles one Authentication (`R`) message, queueing any reply in `out`.
    pub(crate) fn handle(
        &mut self,
        message: ServerMessage,
        out: &mut BytesMut,
    ) -> Result<AuthProgress, Error> {
        let step = std::mem::replace(&mut self.step, Step::AwaitingRequest);
        let (next, progress) = match (step, message) {
            (
                Step::AwaitingRequest | Step::PasswordSent | Step::ScramVerified,
                ServerMessage::AuthenticationOk,
            ) => (Step::AwaitingRequest, AuthProgress::Authenticated),
            (
                Step::ScramFirstSent(_) | Step::ScramFinalSent(_),
                ServerMessage::AuthenticationOk,
            ) => {
                return Err(ProtocolError::from(ScramError::Incomplete).into());
            }
            (Step::AwaitingRequest, ServerMessage::AuthenticationCleartextPassword) => {
                let password = self.password_for("cleartext password")?;
                frontend::password_message(password.as_bytes(), out).map_err(encode_error)?;
                (Step::PasswordSent, AuthProgress::Continue)
            }
            (Step::AwaitingRequest, ServerMessage::AuthenticationMd5Password(salt)) => {
                let password = self.password_for("MD5")?;
                let hash = md5_hash(self.user.as_bytes(), password.as_bytes(), salt);
                frontend::password_message(hash.as_bytes(), out).map_err(encode_error)?;
                (Step::PasswordSent, AuthProgress::Continue)
            }
            (Step::AwaitingRequest, ServerMessage::AuthenticationSasl(body)) => {
                let mechanisms = message::sasl_mechanisms(body)?;
                if !mechanisms.contains(&scram::MECHANISM) {
                    return Err(ProtocolError::UnsupportedAuth {
                        method: format!("SASL with mechanisms [{}]", mechanisms.join(", ")),
                    }
                    .into());
                }
                let password = self.password_for("SCRAM-SHA-256")?;
                let nonce =
                    scram::nonce_from_seed(&self.nonce_seed).map_err(ProtocolError::from)?;
                let client = ScramClient::new("", password, nonce);
                frontend::sasl_initial_response(
                    scram::MECHANISM,
                    client.client_first().as_bytes(),
                    out,
                )
                .map_err(encode_error)?;
                (Step::ScramFirstSent(client), AuthProgress::Continue)
            }
            (Step::ScramFirstSent(client), ServerMessage::AuthenticationSaslContinue(data)) => {
                let (signature, client_final) = client
                    .handle_server_first(data)
                    .map_err(ProtocolError::from)?;
                frontend::sasl_response(client_final.as_bytes(), out).map_err(encode_error)?;
                (Step::ScramFinalSent(signature), AuthProgress::Continue)
            }
            (Step::ScramFinalSent(signature), ServerMessage::AuthenticationSaslFinal(data)) => {
                signature.verify(data).map_err(ProtocolError::from)?;
                (Step::ScramVerified, AuthProgress::Continue)
            }
            (_, ServerMessage::AuthenticationUnsupported) => {
                return Err(ProtocolError::UnsupportedAuth {
                    method: "Kerberos, GSSAPI, SSPI or SCM credentials".into(),
                }
                .into());
            }
            (step, _) => {
                self.step = step;
                return Err(ProtocolError::UnexpectedMessage {
                    tag: b'R',
                    message: message_name(b'R'),
                    state: self.state_name(),
                }
                .into());
            }
        };
        self.step = next;
        Ok(progress)
    }

    fn password_for(&self, method: &str) -> Result<&str, Error> {
        self.password.as_deref().ok_or_else(|| Error::Auth {
            message: format!(
                "the server requires {method} authentication for user \"{}\" but no password was configured",
                self.user
            ),
            code: None,
        })
    }
}

/// Only a password containing a NUL byte can fail to encode.
fn encode_error(error: std::io::Error) -> Error {
    ProtocolError::Encode {
        message: "PasswordMessage",
        reason: error.to_string(),
    }
    .into()
}
