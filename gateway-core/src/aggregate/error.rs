//! Why one backend of an aggregate has no answer, as an RFC 9457 problem
//! object inside the merged document.

use http::StatusCode;
use serde_json::{Value, json};

use crate::error::{GatewayError, UpstreamError};

/// A backend's failure.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The upstream call failed (connect error, protocol error, ...).
    Upstream(GatewayError),
    /// The backend's time, or the aggregate's deadline, ran out.
    Timeout,
    /// The backend answered with a status outside 2xx.
    Status(StatusCode),
    /// The answer is not JSON.
    NotJson,
    /// The answer lacks the `select`ed part, or has the wrong shape for the
    /// merge (`deep` needs objects, `concat` arrays).
    Shape,
    /// A value this backend's path takes from an earlier answer is missing
    /// or cannot be one path segment.
    Input,
    /// A backend whose answer this one needs failed; `timeout` tells
    /// whether that failure was, at its root, a timeout.
    Dependency {
        /// The root failure was a timeout.
        timeout: bool,
    },
}

impl Failure {
    /// Whether the failure is, at its root, a timeout.
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            Self::Timeout => true,
            Self::Upstream(e) => e.status() == StatusCode::GATEWAY_TIMEOUT,
            Self::Dependency { timeout } => *timeout,
            _ => false,
        }
    }

    /// The error the whole request answers with when this failure is fatal:
    /// 504 for a timeout, else 502. Nothing about the backend is disclosed.
    pub(crate) fn fatal(&self) -> GatewayError {
        if self.is_timeout() {
            UpstreamError::Timeout.into()
        } else {
            UpstreamError::Protocol(None).into()
        }
    }

    /// The problem object listed under `_errors` for backend `name`.
    pub(crate) fn problem(&self, name: &str) -> Value {
        let (status, kind, title) = match self {
            Self::Upstream(e) => {
                let (status, kind, title) = e.problem_head();
                (status.as_u16(), kind, title)
            }
            Self::Timeout => (504, "upstream-timeout", "Upstream timed out"),
            Self::Status(s) => (
                s.as_u16(),
                "backend-status",
                "Backend answered with an error status",
            ),
            Self::NotJson => (502, "backend-not-json", "Backend answer is not JSON"),
            Self::Shape => (
                502,
                "backend-unexpected-shape",
                "Backend answer does not have the expected shape",
            ),
            Self::Input => (
                502,
                "backend-input-invalid",
                "A value for the backend request is missing or invalid",
            ),
            Self::Dependency { .. } => (
                424,
                "backend-dependency-failed",
                "A backend this one depends on failed",
            ),
        };
        json!({
            "type": format!("urn:gateway:problem:{kind}"),
            "title": title,
            "status": status,
            "backend": name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_the_backend_and_never_the_cause_text() {
        let src: Box<dyn std::error::Error + Send + Sync> =
            "connect to 10.0.0.7:8080 refused".into();
        let f = Failure::Upstream(UpstreamError::Connect(Some(src)).into());
        let p = f.problem("orders");
        assert_eq!(p["backend"], "orders");
        assert_eq!(p["status"], 502);
        assert_eq!(p["type"], "urn:gateway:problem:bad-gateway");
        assert!(!p.to_string().contains("10.0.0.7"));
        assert_eq!(f.fatal().status(), 502);
        let t = Failure::Upstream(UpstreamError::Timeout.into());
        assert!(t.is_timeout());
        assert_eq!(t.fatal().status(), 504);
        assert_eq!(Failure::Timeout.problem("a")["status"], 504);
        assert_eq!(
            Failure::Status(StatusCode::NOT_FOUND).problem("a")["status"],
            404
        );
        let dep = Failure::Dependency { timeout: true };
        assert_eq!(dep.problem("a")["status"], 424);
        assert_eq!(dep.fatal().status(), 504);
        assert_eq!(Failure::NotJson.fatal().status(), 502);
    }
}
