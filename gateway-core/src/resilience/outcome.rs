//! How one attempt ended, in the terms retries and the breaker decide on.

use http::{Response, StatusCode};

use crate::body::Body;
use crate::error::UpstreamError;

/// A transport failure of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// No connection could be made.
    Connect,
    /// The attempt ran out of time (connecting included).
    Timeout,
    /// The connection broke, or the answer was not HTTP.
    Reset,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The upstream answered with this status.
    Status(StatusCode),
    /// The upstream could not be reached or did not answer.
    Error(ErrorKind),
    /// Nothing that says anything about the upstream (the client's body
    /// failed, no instance to send to).
    Other,
}

impl Kind {
    /// Classifies an attempt's result.
    pub(crate) fn of(result: &Result<Response<Body>, UpstreamError>) -> Self {
        match result {
            Ok(resp) => Self::Status(resp.status()),
            Err(UpstreamError::Connect(_)) => Self::Error(ErrorKind::Connect),
            Err(UpstreamError::Timeout) => Self::Error(ErrorKind::Timeout),
            Err(UpstreamError::Protocol(_)) => Self::Error(ErrorKind::Reset),
            Err(_) => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::BodyError;

    #[test]
    fn classifies_results() {
        let ok = Ok(Response::builder()
            .status(503)
            .body(Body::empty())
            .expect("response"));
        assert_eq!(Kind::of(&ok), Kind::Status(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(
            Kind::of(&Err(UpstreamError::Connect(None))),
            Kind::Error(ErrorKind::Connect)
        );
        assert_eq!(
            Kind::of(&Err(UpstreamError::Timeout)),
            Kind::Error(ErrorKind::Timeout)
        );
        assert_eq!(
            Kind::of(&Err(UpstreamError::Protocol(None))),
            Kind::Error(ErrorKind::Reset)
        );
        assert_eq!(
            Kind::of(&Err(UpstreamError::RequestBody(BodyError::Idle))),
            Kind::Other
        );
    }
}
