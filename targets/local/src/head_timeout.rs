//! A 408 for clients that start a request head and do not finish it in time.
//!
//! hyper's own header timeout closes the connection silently; this wrapper
//! answers `408` as problem+json instead. It arms when the first bytes of a
//! head arrive while no request is in flight, disarms when the gateway
//! starts handling a request, and re-arms after the response. An idle
//! keep-alive connection is never timed out by it. HTTP/2 connections are
//! left alone (the prior-knowledge preface disables it).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The start of the HTTP/2 connection preface (prior knowledge).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

const BODY: &str =
    r#"{"type":"urn:gateway:problem:request-timeout","title":"Request timeout","status":408}"#;

/// Counts requests in flight on one connection.
#[derive(Debug, Default, Clone)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Marks a request as started; the guard marks it finished on drop.
    pub fn start(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.0.clone())
    }

    fn busy(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }
}

/// Decrements the in-flight count when dropped.
#[derive(Debug)]
pub struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An IO stream that answers 408 to a stalled request head.
pub struct HeadTimeout<S> {
    inner: S,
    timer: Pin<Box<Sleep>>,
    armed: bool,
    disabled: bool,
    /// Bytes of the HTTP/2 preface matched so far; `None` once decided.
    preface: Option<usize>,
    timeout: Duration,
    in_flight: InFlight,
    reply: Option<usize>,
}

impl<S> HeadTimeout<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, timeout: Duration, in_flight: InFlight) -> Self {
        Self {
            inner,
            timer: Box::pin(tokio::time::sleep(timeout)),
            armed: false,
            disabled: false,
            preface: Some(0),
            timeout,
            in_flight,
            reply: None,
        }
    }
}

fn response() -> String {
    format!(
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    )
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for HeadTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(written) = this.reply {
            // Timed out: finish writing the 408, then report end of stream.
            let bytes = response().into_bytes();
            let mut off = written;
            while off < bytes.len() {
                match Pin::new(&mut this.inner).poll_write(cx, &bytes[off..]) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                    Poll::Ready(Ok(n)) => off += n,
                    Poll::Pending => {
                        this.reply = Some(off);
                        return Poll::Pending;
                    }
                }
            }
            let _ = Pin::new(&mut this.inner).poll_flush(cx);
            return Poll::Ready(Ok(()));
        }
        if this.disabled {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        if this.in_flight.busy() {
            this.armed = false;
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            let got = &buf.filled()[before..];
            if let Some(seen) = this.preface {
                // The preface may arrive split over several reads.
                let want = &H2_PREFACE[seen..];
                let n = want.len().min(got.len());
                if got[..n] != want[..n] {
                    this.preface = None;
                } else if seen + n == H2_PREFACE.len() {
                    this.disabled = true;
                    this.armed = false;
                    return res;
                } else {
                    this.preface = Some(seen + n);
                }
            }
            if !got.is_empty() && !this.armed && !this.in_flight.busy() {
                this.armed = true;
                let deadline = Instant::now() + this.timeout;
                this.timer.as_mut().reset(deadline);
            }
            return res;
        }
        if res.is_pending()
            && this.armed
            && !this.in_flight.busy()
            && this.timer.as_mut().poll(cx).is_ready()
        {
            this.reply = Some(0);
            drop(res);
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        // A response is being written: the next head starts a new clock.
        this.armed = false;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.armed = false;
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
