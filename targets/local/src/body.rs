//! hyper bodies → core bodies, with an optional idle timeout between chunks.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use gateway_core::{Body, BodyError};
use http_body::Body as _;
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

/// The data frames of an incoming body; trailers are dropped.
struct IncomingStream {
    body: Incoming,
    idle: Option<(Duration, Pin<Box<Sleep>>)>,
    done: bool,
}

impl Stream for IncomingStream {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(_))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(BodyError::Transport)));
                }
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some((d, timer)) = &mut this.idle {
                        timer.as_mut().reset(Instant::now() + *d);
                    }
                    match frame.into_data() {
                        Ok(data) if !data.is_empty() => return Poll::Ready(Some(Ok(data))),
                        _ => continue,
                    }
                }
                Poll::Pending => {
                    if let Some((_, timer)) = &mut this.idle
                        && timer.as_mut().poll(cx).is_ready()
                    {
                        this.done = true;
                        return Poll::Ready(Some(Err(BodyError::Idle)));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// Wraps an incoming body; a pause longer than `idle` fails it with
/// [`BodyError::Idle`] (the gateway answers 408).
pub fn from_incoming(body: Incoming, idle: Option<Duration>) -> Body {
    if body.is_end_stream() {
        return Body::empty();
    }
    let idle = idle.map(|d| (d, Box::pin(tokio::time::sleep(d))));
    Body::from_stream(IncomingStream {
        body,
        idle,
        done: false,
    })
}
