//! Errors of the model-level API.

/// A failure of a model-level operation; `Db` wraps every lower failure.
#[derive(Debug, thiserror::Error)]
pub enum OrmError {
    /// `one`/`get` found no row.
    #[error("{model}: no row matched")]
    NotFound { model: &'static str },
    /// `one`/`get` found more than one row.
    #[error("{model}: more than one row matched")]
    MultipleRows { model: &'static str },
    /// A relation was read that the query did not load with `with(..)`.
    #[error("{model}: relation {relation} was not loaded; add it with `with(..)`")]
    NotLoaded {
        model: &'static str,
        relation: String,
    },
    /// A result row did not fit the struct.
    #[error("{model}: {source}")]
    Row {
        model: &'static str,
        #[source]
        source: super::RowError,
    },
    /// The model cannot be used this way (no primary key, empty patch, ...).
    #[error("{model}: {problem}")]
    Usage {
        model: &'static str,
        problem: String,
    },
    #[error(transparent)]
    Db(#[from] crate::Error),
}

impl From<crate::compile::CompileError> for OrmError {
    fn from(error: crate::compile::CompileError) -> Self {
        OrmError::Db(error.into())
    }
}

impl OrmError {
    /// The SQLSTATE when the server rejected the statement.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            OrmError::Db(crate::Error::Server(e)) => Some(&e.code),
            _ => None,
        }
    }
}
