//! The body type shared by the core and every adapter.
//!
//! A body is empty, a buffered [`Bytes`], or a stream of chunks. Streams stay
//! streams end to end unless a policy asks for the whole body; limits are
//! enforced while streaming.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http_body::Frame;

/// Why reading a body failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// More bytes than the limit allowed.
    #[error("body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// No data arrived within the idle timeout.
    #[error("body was idle for too long")]
    Idle,
    /// The connection failed while reading.
    #[error("body transfer failed")]
    Transport,
}

/// A stream of body chunks.
#[cfg(not(target_arch = "wasm32"))]
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes, BodyError>> + Send + 'static>>;
/// A stream of body chunks.
#[cfg(target_arch = "wasm32")]
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes, BodyError>> + 'static>>;

enum Inner {
    Empty,
    Full(Option<Bytes>),
    Stream(ChunkStream),
}

/// An HTTP body: empty, buffered, or streaming.
pub struct Body {
    inner: Inner,
    /// Bytes still allowed through a streaming body, when limited.
    remaining: Option<(u64, u64)>,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Empty => f.write_str("Body::Empty"),
            Inner::Full(b) => write!(f, "Body::Full({} bytes)", b.as_ref().map_or(0, Bytes::len)),
            Inner::Stream(_) => f.write_str("Body::Stream"),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Self {
            inner: Inner::Empty,
            remaining: None,
        }
    }

    /// A buffered body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Self::empty();
        }
        Self {
            inner: Inner::Full(Some(bytes)),
            remaining: None,
        }
    }

    /// A streaming body.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, BodyError>> + Send + 'static,
    {
        Self {
            inner: Inner::Stream(Box::pin(stream)),
            remaining: None,
        }
    }

    /// A streaming body.
    #[cfg(target_arch = "wasm32")]
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, BodyError>> + 'static,
    {
        Self {
            inner: Inner::Stream(Box::pin(stream)),
            remaining: None,
        }
    }

    /// The exact length when it is known without reading.
    pub fn known_len(&self) -> Option<u64> {
        match &self.inner {
            Inner::Empty => Some(0),
            Inner::Full(b) => Some(b.as_ref().map_or(0, |b| b.len() as u64)),
            Inner::Stream(_) => None,
        }
    }

    /// The bytes of a buffered body; `None` while streaming.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.inner {
            Inner::Empty => Some(&[]),
            Inner::Full(b) => Some(b.as_deref().unwrap_or_default()),
            Inner::Stream(_) => None,
        }
    }

    /// Whether the body is buffered (or empty) rather than streaming.
    pub fn is_buffered(&self) -> bool {
        !matches!(self.inner, Inner::Stream(_))
    }

    /// Fails the stream with [`BodyError::TooLarge`] once more than `limit`
    /// bytes have passed. A buffered body is checked at once.
    pub fn limited(mut self, limit: u64) -> Result<Self, BodyError> {
        match &self.inner {
            Inner::Stream(_) => {
                let remaining = match self.remaining {
                    Some((left, old)) if old <= limit => (left, old),
                    _ => (limit, limit),
                };
                self.remaining = Some(remaining);
                Ok(self)
            }
            _ if self.known_len().unwrap_or(0) > limit => Err(BodyError::TooLarge { limit }),
            _ => Ok(self),
        }
    }

    /// Reads the whole body into memory, failing past `limit` bytes.
    pub async fn collect(self, limit: u64) -> Result<Bytes, BodyError> {
        let mut body = self.limited(limit)?;
        match std::mem::replace(&mut body.inner, Inner::Empty) {
            Inner::Empty => Ok(Bytes::new()),
            Inner::Full(b) => Ok(b.unwrap_or_default()),
            Inner::Stream(stream) => {
                body.inner = Inner::Stream(stream);
                let mut buf = BytesMut::new();
                while let Some(chunk) = body.next().await {
                    buf.extend_from_slice(&chunk?);
                }
                Ok(buf.freeze())
            }
        }
    }
}

impl Stream for Body {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match &mut this.inner {
            Inner::Empty => Poll::Ready(None),
            Inner::Full(b) => Poll::Ready(b.take().map(Ok)),
            Inner::Stream(s) => match s.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Some((left, limit)) = &mut this.remaining {
                        let n = chunk.len() as u64;
                        if n > *left {
                            let limit = *limit;
                            this.inner = Inner::Empty;
                            return Poll::Ready(Some(Err(BodyError::TooLarge { limit })));
                        }
                        *left -= n;
                    }
                    Poll::Ready(Some(Ok(chunk)))
                }
                other => other,
            },
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.poll_next(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Empty => true,
            Inner::Full(b) => b.is_none(),
            Inner::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self.known_len() {
            Some(n) => http_body::SizeHint::with_exact(n),
            None => http_body::SizeHint::default(),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Self::full(b)
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Self::full(s)
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Self::full(Bytes::from_static(s.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;
    use futures_util::stream;

    fn chunks(parts: &[&'static str]) -> Body {
        let items: Vec<Result<Bytes, BodyError>> = parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p.as_bytes())))
            .collect();
        Body::from_stream(stream::iter(items))
    }

    #[test]
    fn collects_stream_within_limit() {
        let b = block_on(chunks(&["ab", "cd"]).collect(4)).expect("fits");
        assert_eq!(&b[..], b"abcd");
    }

    #[test]
    fn stream_over_limit_fails_while_streaming() {
        let err = block_on(chunks(&["ab", "cde"]).collect(4)).expect_err("too large");
        assert_eq!(err, BodyError::TooLarge { limit: 4 });
    }

    #[test]
    fn full_body_over_limit_fails_at_once() {
        assert!(Body::full("hello").limited(4).is_err());
        assert_eq!(Body::full("hell").known_len(), Some(4));
    }

    #[test]
    fn tighter_limit_wins() {
        let body = chunks(&["abc"])
            .limited(10)
            .expect("stream")
            .limited(2)
            .expect("stream");
        assert!(block_on(body.collect(100)).is_err());
    }
}
