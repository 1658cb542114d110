//! Reading a scenario: JSON text into [`Scenario`] values, then validation. A syntax, type or
//! unknown-key error stops at the first problem, with its JSON path, line and column.

use super::{Scenario, validate};
use crate::error::Error;

/// Reads, parses and validates a scenario file.
pub fn load(path: impl AsRef<std::path::Path>) -> Result<Scenario, Error> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text)
}

/// Parses and validates a scenario from JSON text.
pub fn parse(text: &str) -> Result<Scenario, Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let scenario: Scenario = match serde_path_to_error::deserialize(&mut de) {
        Ok(s) => s,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let (line, column) = (inner.line(), inner.column());
            // serde_json appends " at line L column C"; we report those separately.
            let mut message = inner.to_string();
            if let Some(i) = message.rfind(" at line ") {
                message.truncate(i);
            }
            return Err(Error::Parse {
                path,
                message,
                line,
                column,
            });
        }
    };
    if let Err(e) = de.end() {
        return Err(Error::Parse {
            path: ".".into(),
            message: "trailing characters after the scenario".into(),
            line: e.line(),
            column: e.column(),
        });
    }
    validate(&scenario)?;
    Ok(scenario)
}
