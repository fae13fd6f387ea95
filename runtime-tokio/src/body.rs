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

/// Runs when a body has been read to its end.
pub type OnEnd = Box<dyn FnOnce() + Send>;

/// The data frames of an incoming body; trailers are dropped.
struct IncomingStream {
    body: Incoming,
    idle: Option<(Duration, Pin<Box<Sleep>>)>,
    done: bool,
    on_end: Option<OnEnd>,
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
                    if let Some(f) = this.on_end.take() {
                        f();
                    }
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
                        Ok(data) if !data.is_empty() => {
                            // A server stops reading at Content-Length: the
                            // end may never be polled for, so note it now.
                            if this.body.is_end_stream()
                                && let Some(f) = this.on_end.take()
                            {
                                f();
                            }
                            return Poll::Ready(Some(Ok(data)));
                        }
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

impl Drop for IncomingStream {
    fn drop(&mut self) {
        if self.body.is_end_stream()
            && let Some(f) = self.on_end.take()
        {
            f();
        }
    }
}

/// Wraps an incoming body; a pause longer than `idle` fails it with
/// [`BodyError::Idle`] (the gateway answers 408).
pub fn from_incoming(body: Incoming, idle: Option<Duration>) -> Body {
    wrap(body, idle, None)
}

/// Like [`from_incoming`], and runs `on_end` once the body has been read to
/// its end (at once for an empty body); not on error or early drop.
pub fn from_incoming_then(body: Incoming, idle: Option<Duration>, on_end: OnEnd) -> Body {
    wrap(body, idle, Some(on_end))
}

fn wrap(body: Incoming, idle: Option<Duration>, on_end: Option<OnEnd>) -> Body {
    if body.is_end_stream() {
        if let Some(f) = on_end {
            f();
        }
        return Body::empty();
    }
    let idle = idle.map(|d| (d, Box::pin(tokio::time::sleep(d))));
    Body::from_stream(IncomingStream {
        body,
        idle,
        done: false,
        on_end,
    })
}
