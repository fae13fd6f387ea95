//! Errors of the state store.

/// A state store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The store could not be reached or answered with an error.
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// The value under a key has the wrong shape (e.g. not an integer).
    #[error("state store value has the wrong type for key `{key}`")]
    WrongType {
        /// The key involved.
        key: String,
    },
    /// The store refused the operation (size or capability limits).
    #[error("state store refused the operation: {0}")]
    Refused(String),
}
