//! hyper bodies → core bodies, with an idle timeout between chunks.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use gateway_core::{Body, BodyError};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// Wraps an incoming body; a pause longer than `idle` fails it with
/// [`BodyError::Idle`] (the gateway answers 408).
pub fn from_incoming(body: Incoming, idle: Option<Duration>) -> Body {
    if body.is_end_stream() {
        return Body::empty();
    }
    Body::from_stream(stream::unfold(Some(body), move |state| async move {
        let mut body = state?;
        loop {
            let next = match idle {
                Some(d) => match tokio::time::timeout(d, body.frame()).await {
                    Ok(f) => f,
                    Err(_) => return Some((Err(BodyError::Idle), None)),
                },
                None => body.frame().await,
            };
            match next {
                None => return None,
                Some(Err(_)) => return Some((Err(BodyError::Transport), None)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if data.is_empty() {
                            continue;
                        }
                        return Some((Ok::<Bytes, BodyError>(data), Some(body)));
                    }
                    // Trailers are not forwarded.
                }
            }
        }
    }))
}
