//! The typed errors of compilation, each naming the model (and column) at fault.

use std::fmt::Arguments;

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
}

/// Boxed inside the compiler: a pointer instead of the enum (up to four
/// `String`s) makes every `Result` it passes up smaller, and so every move
/// and check of one. The public functions unbox it.
pub(crate) type Error = Box<CompileError>;
pub(crate) type R<T> = Result<T, Error>;

/// Unboxes at the public functions' `?`.
impl From<Box<CompileError>> for CompileError {
    fn from(error: Box<CompileError>) -> Self {
        *error
    }
}

// The constructors are cold and out of line so each raising site is a call
// with borrowed arguments rather than inlined `String` building.
impl CompileError {
    #[cold]
    #[inline(never)]
    pub(crate) fn unsupported_version(found: u32) -> Error {
        Box::new(CompileError::UnsupportedVersion {
            found,
            supported: crate::query::FORMAT_VERSION,
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn unknown_model(model: &str) -> Error {
        Box::new(CompileError::UnknownModel {
            model: model.to_owned(),
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn unknown_column(model: &str, column: &str) -> Error {
        Box::new(CompileError::UnknownColumn {
            model: model.to_owned(),
            column: column.to_owned(),
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn unknown_relation(model: &str, relation: &str) -> Error {
        Box::new(CompileError::UnknownRelation {
            model: model.to_owned(),
            relation: relation.to_owned(),
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn type_mismatch(
        model: &str,
        column: &str,
        expected: &PgType,
        found: String,
    ) -> Error {
        Box::new(CompileError::TypeMismatch {
            model: model.to_owned(),
            column: column.to_owned(),
            expected: expected.clone(),
            found,
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn null_not_allowed(model: &str, column: &str) -> Error {
        Box::new(CompileError::NullNotAllowed {
            model: model.to_owned(),
            column: column.to_owned(),
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn unknown_function(model: &str, column: &str, function: &str) -> Error {
        Box::new(CompileError::UnknownFunction {
            model: model.to_owned(),
            column: column.to_owned(),
            function: function.to_owned(),
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn wrong_arity(
        model: &str,
        column: &str,
        function: &str,
        expected: Arguments<'_>,
        found: usize,
    ) -> Error {
        Box::new(CompileError::WrongArity {
            model: model.to_owned(),
            column: column.to_owned(),
            function: function.to_owned(),
            expected: expected.to_string(),
            found,
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn aggregate_without_group_by(model: &str, column: &str) -> Error {
        Box::new(CompileError::AggregateWithoutGroupBy {
            model: model.to_owned(),
            column: column.to_owned(),
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn aggregate_not_allowed(model: &str, column: &str, clause: &'static str) -> Error {
        Box::new(CompileError::AggregateNotAllowed {
            model: model.to_owned(),
            column: column.to_owned(),
            clause,
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn no_columns(model: &str) -> Error {
        Box::new(CompileError::NoColumns {
            model: model.to_owned(),
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn duplicate_column(model: &str, column: &str) -> Error {
        Box::new(CompileError::DuplicateColumn {
            model: model.to_owned(),
            column: column.to_owned(),
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn limit_out_of_range(model: &str, limit: u64) -> Error {
        Box::new(CompileError::LimitOutOfRange {
            model: model.to_owned(),
            limit,
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn unfiltered_mutation(model: &str, statement: &'static str) -> Error {
        Box::new(CompileError::UnfilteredMutation {
            model: model.to_owned(),
            statement,
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn invalid(model: &str, problem: Arguments<'_>) -> Error {
        Box::new(CompileError::Invalid {
            model: model.to_owned(),
            problem: problem.to_string(),
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn invalid_column(model: &str, column: &str, problem: Arguments<'_>) -> Error {
        Box::new(CompileError::InvalidColumn {
            model: model.to_owned(),
            column: column.to_owned(),
            problem: problem.to_string(),
        })
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
