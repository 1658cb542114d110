//! Errors of the library, typed with `thiserror`.

use std::fmt;

/// One problem in a scenario: where (a JSON path such as `app_servers[1].workers`), what was
/// found there, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// JSON path of the bad value.
    pub path: String,
    /// The value found (as written, or a description).
    pub found: String,
    /// What was expected instead.
    pub expected: String,
}

impl ScenarioError {
    /// A problem at `path`.
    pub fn new(
        path: impl Into<String>,
        found: impl fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        ScenarioError {
            path: path.into(),
            found: found.to_string(),
            expected: expected.into(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: found {}; expected {}",
            self.path, self.found, self.expected
        )
    }
}

impl std::error::Error for ScenarioError {}

/// Every error the library returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The scenario file could not be read. Fatal for that file.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a well-formed scenario (JSON syntax, unknown key, wrong type).
    #[error("{path}: {message} (line {line}, column {column})")]
    Parse {
        /// JSON path where parsing stopped (`.` for the document itself).
        path: String,
        /// serde's description, naming the value and what was expected.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The scenario parsed but is inconsistent; every problem found is listed.
    #[error("{} problem(s) in the scenario:\n{}", .0.len(), .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ScenarioError>),
    /// An SLO or `--check` expression does not parse.
    #[error("bad check expression {expr:?}: {reason}")]
    BadCheck {
        /// The expression.
        expr: String,
        /// Why.
        reason: String,
    },
    /// A parameter to a library call is out of range (e.g. zero replications).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Partial results (shards) that do not belong together, or do not make a whole.
    #[error("cannot merge: {0}")]
    Merge(String),
}
