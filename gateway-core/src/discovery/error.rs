//! What can go wrong reading or writing the service directory, and the
//! answer each gives.

use http::{HeaderValue, StatusCode, header};

use crate::error::{GatewayError, Rejection, UpstreamError};
use crate::store::StorageError;

/// A directory operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The registration is malformed or out of bounds; the message says
    /// which field and why (written by the gateway, safe to show).
    #[error("invalid registration: {0}")]
    Invalid(String),
    /// The instance is not registered (or its registration lapsed).
    #[error("instance not registered")]
    NotRegistered,
    /// A size limit of the registry is reached (instances per service,
    /// services); the message says which.
    #[error("registry full: {0}")]
    Full(String),
    /// Concurrent writers kept winning the compare-and-swap; try again.
    #[error("registry busy")]
    Contended,
    /// The state store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A DNS lookup failed (not: found no records).
    #[error("name lookup failed")]
    Lookup,
}

impl From<DirectoryError> for GatewayError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Invalid(why) => Rejection::new(
                StatusCode::BAD_REQUEST,
                "invalid-registration",
                "Invalid registration",
            )
            .with_detail(why)
            .into(),
            DirectoryError::NotRegistered => Rejection::new(
                StatusCode::NOT_FOUND,
                "instance-not-registered",
                "Instance not registered",
            )
            .with_detail("Register the instance again.")
            .into(),
            DirectoryError::Full(why) => {
                Rejection::new(StatusCode::CONFLICT, "registry-full", "Registry full")
                    .with_detail(why)
                    .into()
            }
            DirectoryError::Contended => Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "registry-busy",
                "Registry busy",
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
            .into(),
            DirectoryError::Storage(e) => e.into(),
            DirectoryError::Lookup => UpstreamError::Unavailable.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let status = |e: DirectoryError| GatewayError::from(e).status().as_u16();
        assert_eq!(status(DirectoryError::Invalid("port".into())), 400);
        assert_eq!(status(DirectoryError::NotRegistered), 404);
        assert_eq!(status(DirectoryError::Full("x".into())), 409);
        assert_eq!(status(DirectoryError::Contended), 503);
        assert_eq!(status(DirectoryError::Lookup), 503);
        assert_eq!(
            status(DirectoryError::Storage(StorageError::Unavailable(
                "down".into()
            ))),
            503
        );
    }
}
