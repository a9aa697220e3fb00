//! What the client tells the server when it opens a session.

use std::fmt;

/// The parameters of the StartupMessage, plus the password used if the
/// server asks for one.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StartupConfig {
    pub user: String,
    pub password: Option<String>,
    /// Defaults to the user name on the server side when `None`.
    pub database: Option<String>,
    pub application_name: Option<String>,
    /// Command-line options for the backend, e.g. `-c search_path=app`.
    pub options: Option<String>,
}

impl StartupConfig {
    pub fn new(user: impl Into<String>) -> Self {
        StartupConfig {
            user: user.into(),
            ..StartupConfig::default()
        }
    }

    /// The StartupMessage parameters, in the order they are sent.
    ///
    /// `client_encoding` is pinned to UTF8 because binary `text` cells and
    /// every server string are decoded as UTF-8.
    pub(crate) fn parameters(&self) -> Vec<(&str, &str)> {
        let mut params = vec![("user", self.user.as_str())];
        if let Some(database) = &self.database {
            params.push(("database", database));
        }
        if let Some(name) = &self.application_name {
            params.push(("application_name", name));
        }
        if let Some(options) = &self.options {
            params.push(("options", options));
        }
        params.push(("client_encoding", "UTF8"));
        params
    }
}

impl fmt::Debug for StartupConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartupConfig")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .field("application_name", &self.application_name)
            .field("options", &self.options)
            .finish()
    }
}
