//! The typed errors of compilation, each naming the model (and column) at fault.

use crate::schema::PgType;

/// Why a query definition was rejected, before any I/O. `model` is the table
/// (or CTE) the problem concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("query format version {found} is not supported; this build reads version {supported}")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("unknown model {model:?}: the schema has no such table")]
    UnknownModel { model: String },
    #[error("{model}: unknown column {column:?}")]
    UnknownColumn { model: String, column: String },
    #[error("{model}: unknown relation {relation:?}")]
    UnknownRelation { model: String, relation: String },
    #[error(
        "{}: expected a value of type {expected}, got {found}",
        qualified(model, column)
    )]
    TypeMismatch {
        model: String,
        column: String,
        expected: PgType,
        found: String,
    },
    #[error("{model}.{column}: NULL is not allowed, the column is NOT NULL")]
    NullNotAllowed { model: String, column: String },
    #[error("{}: unknown function {function:?}", qualified(model, column))]
    UnknownFunction {
        model: String,
        column: String,
        function: String,
    },
    #[error(
        "{}: {function} takes {expected} argument(s), got {found}",
        qualified(model, column)
    )]
    WrongArity {
        model: String,
        column: String,
        function: String,
        expected: String,
        found: usize,
    },
    #[error("{model}.{column}: selected next to an aggregate without GROUP BY")]
    AggregateWithoutGroupBy { model: String, column: String },
    #[error("{}: aggregates are not allowed in {clause}", qualified(model, column))]
    AggregateNotAllowed {
        model: String,
        column: String,
        clause: &'static str,
    },
    #[error("{model}: a select must name at least one column")]
    NoColumns { model: String },
    #[error("{model}.{column}: selected twice; each result column needs a distinct name")]
    DuplicateColumn { model: String, column: String },
    #[error("{model}: limit {limit} is larger than PostgreSQL's bigint maximum")]
    LimitOutOfRange { model: String, limit: u64 },
    #[error("{model}: {statement} without a filter is refused; set \"all_rows\": true to affect every row")]
    UnfilteredMutation {
        model: String,
        statement: &'static str,
    },
    #[error("{model}: {problem}")]
    Invalid { model: String, problem: String },
    #[error("{}: {problem}", qualified(model, column))]
    InvalidColumn {
        model: String,
        column: String,
        problem: String,
    },
}

impl CompileError {
    /// The model and column the error concerns, where it names them.
    pub fn subject(&self) -> (Option<&str>, Option<&str>) {
        match self {
            CompileError::UnsupportedVersion { .. } => (None, None),
            CompileError::UnknownModel { model }
            | CompileError::NoColumns { model }
            | CompileError::LimitOutOfRange { model, .. }
            | CompileError::UnknownRelation { model, .. }
            | CompileError::UnfilteredMutation { model, .. }
            | CompileError::Invalid { model, .. } => (Some(model), None),
            CompileError::UnknownColumn { model, column }
            | CompileError::TypeMismatch { model, column, .. }
            | CompileError::NullNotAllowed { model, column }
            | CompileError::WrongArity { model, column, .. }
            | CompileError::UnknownFunction { model, column, .. }
            | CompileError::AggregateNotAllowed { model, column, .. }
            | CompileError::AggregateWithoutGroupBy { model, column }
            | CompileError::DuplicateColumn { model, column }
            | CompileError::InvalidColumn { model, column, .. } => {
                (Some(model), Some(column.as_str()).filter(|c| !c.is_empty()))
            }
        }
    }

    pub(crate) fn invalid(model: &str, problem: impl Into<String>) -> CompileError {
        CompileError::Invalid {
            model: model.to_owned(),
            problem: problem.into(),
        }
    }
}

/// `model.column`, or just `model` for an error about an expression that is
/// not tied to one column (a WHERE condition, a LIMIT).
fn qualified(model: &str, column: &str) -> String {
    if column.is_empty() {
        model.to_owned()
    } else {
        format!("{model}.{column}")
    }
}
