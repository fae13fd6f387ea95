//! Request bodies across attempts: only a buffered body can be sent again.

use bytes::Bytes;
use http::{header, request};

use super::config::Plan;
use crate::body::{Body, BodyError};

/// The request body for each attempt.
#[derive(Debug)]
pub(crate) enum ReplayBody {
    /// In memory: every attempt gets a copy (cheap: `Bytes` is shared).
    Buffered(Bytes),
    /// Streaming: the first attempt takes it, later ones cannot be made.
    Once(Option<Body>),
}

impl ReplayBody {
    /// Keeps a streaming body streaming unless the request may be retried
    /// and its declared length is at most `max_buffered_body`; then, and
    /// for a body a policy already buffered, it is held in memory.
    pub(crate) async fn prepare(
        body: Body,
        parts: &request::Parts,
        plan: &Plan<'_>,
    ) -> Result<Self, BodyError> {
        if !plan.may_retry(&parts.method) {
            return Ok(Self::Once(Some(body)));
        }
        if body.is_buffered() {
            return Ok(Self::Buffered(body.collect(u64::MAX).await?));
        }
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        match declared {
            Some(n) if n <= plan.max_buffered_body => Ok(Self::Buffered(body.collect(n).await?)),
            _ => Ok(Self::Once(Some(body))),
        }
    }

    /// The body for the next attempt; `None` once a stream was taken.
    pub(crate) fn next(&mut self) -> Option<Body> {
        match self {
            Self::Buffered(b) => Some(Body::full(b.clone())),
            Self::Once(b) => b.take(),
        }
    }

    /// Whether another attempt can be given the body.
    pub(crate) fn replayable(&self) -> bool {
        match self {
            Self::Buffered(_) => true,
            Self::Once(b) => b.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use http::{Method, Request};

    use super::*;
    use crate::resilience::config::{RetrySettings, RouteResilience, Timeouts};

    fn stream(text: &'static str) -> Body {
        Body::from_stream(futures_util::stream::iter(vec![Ok(Bytes::from_static(
            text.as_bytes(),
        ))]))
    }

    fn prepare(method: Method, len: Option<&str>, body: Body) -> ReplayBody {
        let route = RouteResilience {
            retry: RetrySettings {
                given: true,
                max_buffered_body: Some(8),
                ..RetrySettings::default()
            },
            ..RouteResilience::default()
        };
        let (ut, ur) = (Timeouts::default(), RetrySettings::default());
        let plan = Plan::new((&ut, &ur), &route);
        let mut b = Request::builder().method(method);
        if let Some(len) = len {
            b = b.header("content-length", len);
        }
        let (parts, ()) = b.body(()).expect("request").into_parts();
        block_on(ReplayBody::prepare(body, &parts, &plan)).expect("prepared")
    }

    fn text(b: Option<Body>) -> String {
        let bytes = block_on(b.expect("a body").collect(1 << 20)).expect("read");
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn small_declared_bodies_are_buffered_and_replayed() {
        let mut r = prepare(Method::PUT, Some("5"), stream("hello"));
        assert!(r.replayable());
        assert_eq!(text(r.next()), "hello");
        assert_eq!(text(r.next()), "hello");
        assert!(r.replayable());
    }

    #[test]
    fn large_or_unsized_streams_are_sent_once() {
        for (len, body) in [(Some("9"), "123456789"), (None, "abc")] {
            let mut r = prepare(Method::PUT, len, stream(body));
            assert!(r.replayable());
            assert_eq!(text(r.next()), body);
            assert!(!r.replayable());
            assert!(r.next().is_none());
        }
    }

    #[test]
    fn buffered_bodies_replay_whatever_their_size() {
        let mut r = prepare(Method::PUT, None, Body::full("already in memory"));
        assert_eq!(text(r.next()), "already in memory");
        assert!(r.replayable());
    }

    #[test]
    fn methods_not_retried_keep_their_stream() {
        let mut r = prepare(Method::POST, Some("2"), stream("hi"));
        assert!(matches!(r, ReplayBody::Once(Some(_))));
        assert_eq!(text(r.next()), "hi");
        assert!(!r.replayable());
    }
}
