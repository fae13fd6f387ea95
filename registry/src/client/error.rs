//! What the registry client can run into.

use http::StatusCode;

/// A registry call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The client was given something it cannot send (bad base URL, token,
    /// service name or instance id).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The registry could not be reached, or did not answer in time.
    #[error("registry unreachable")]
    Unreachable,
    /// The token was refused (401).
    #[error("registry token refused")]
    Unauthorized,
    /// The instance is not registered (404): register again.
    #[error("instance not registered")]
    NotRegistered,
    /// The registry answered with another problem.
    #[error("registry refused the request: {status} {kind}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The problem kind (`invalid-registration`, `registry-full`, ...).
        kind: String,
        /// The registry's explanation, if any.
        detail: Option<String>,
    },
    /// The answer was not what the API sends.
    #[error("malformed registry answer")]
    Malformed,
}

impl ClientError {
    /// The error for a non-success answer with a problem+json body.
    pub(crate) fn from_problem(status: StatusCode, body: &[u8]) -> Self {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let kind = v["type"]
            .as_str()
            .and_then(|t| t.strip_prefix("urn:gateway:problem:"))
            .unwrap_or("")
            .to_owned();
        match (status.as_u16(), kind.as_str()) {
            (401, _) => Self::Unauthorized,
            (404, "instance-not-registered") => Self::NotRegistered,
            _ => Self::Refused {
                status: status.as_u16(),
                detail: v["detail"].as_str().map(str::to_owned),
                kind,
            },
        }
    }

    /// Whether trying again later may succeed (registry unreachable,
    /// busy, or failing on its side).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable | Self::Malformed => true,
            Self::Refused { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}
