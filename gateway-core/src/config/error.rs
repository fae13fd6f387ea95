//! Config errors: every problem names the file, the field path and why.

use std::fmt;

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Field path, e.g. `routes[2].upstream`; empty for the whole document.
    pub path: String,
    /// Why the value is wrong.
    pub message: String,
}

impl ConfigProblem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A config file was rejected; all problems found are listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file (or source name) that was loaded.
    pub file: String,
    /// What is wrong, in document order where possible.
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            if p.path.is_empty() {
                write!(f, "{}: {}", self.file, p.message)?;
            } else {
                write!(f, "{}: {}: {}", self.file, p.path, p.message)?;
            }
        }
        Ok(())
    }
}

/// Collects problems while validating, with the current field path.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    list: Vec<ConfigProblem>,
}

impl Problems {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.list.push(ConfigProblem::new(path, message));
    }

    pub(crate) fn extend(&mut self, other: Vec<ConfigProblem>) {
        self.list.extend(other);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(crate) fn into_error(self, file: &str) -> ConfigError {
        ConfigError {
            file: file.to_owned(),
            problems: self.list,
        }
    }
}

impl Problems {
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }
}
