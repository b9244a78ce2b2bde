//! One connection's clock: which phase it is in (waiting for a request head, reading a
//! request body, handling a request, idle between requests) and when that phase must
//! end; and the wrappers around the socket and the bodies that move it along.
//!
//! A phase's deadline counts from its start and is not extended by activity: a client
//! that sends one header byte every few seconds still has to finish the head within the
//! header timeout (the slow-header attack), and one that trickles its body still has to
//! finish it within the body timeout.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// The timeouts of one connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) header: Duration,
    pub(crate) body: Duration,
    pub(crate) idle: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request head (from the connection's start, or from the first byte
    /// after an idle spell).
    Head,
    /// A request is being served and its body is still being read.
    Body,
    /// A request is being served (no deadline: handlers take the time they need).
    Handling,
    /// Between requests, nothing received yet.
    Idle,
}

/// Where one connection is, and since when.
#[derive(Debug)]
pub(crate) struct Clock {
    state: Mutex<(Phase, Instant)>,
    changed: Notify,
    timeouts: Timeouts,
}

impl Clock {
    /// A new connection: its first request head is due within the header timeout.
    pub(crate) fn new(timeouts: Timeouts) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new((Phase::Head, Instant::now())),
            changed: Notify::new(),
            timeouts,
        })
    }

    fn phase(&self) -> Phase {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    fn set(&self, phase: Phase) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = (phase, Instant::now());
        self.changed.notify_one();
    }

    /// Bytes arrived: after an idle spell, a new request head has begun.
    fn received(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.0 == Phase::Idle {
            *state = (Phase::Head, Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// A request head is complete and the request goes to the service.
    pub(crate) fn request_started(&self, reading_body: bool) {
        self.set(if reading_body {
            Phase::Body
        } else {
            Phase::Handling
        });
    }

    /// The request body was read to its end, or dropped unread.
    fn body_done(&self) {
        if self.phase() == Phase::Body {
            self.set(Phase::Handling);
        }
    }

    /// The response was handed over entirely: the connection is idle.
    fn response_done(&self) {
        self.set(Phase::Idle);
    }

    /// When the current phase must end, if it must.
    fn deadline(&self) -> Option<Instant> {
        let (phase, since) = *self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let limit = match phase {
            Phase::Head => self.timeouts.header,
            Phase::Body => self.timeouts.body,
            Phase::Idle => self.timeouts.idle,
            Phase::Handling => return None,
        };
        since.checked_add(limit)
    }

    /// Resolves when a phase outlives its timeout (then the connection is dropped).
    pub(crate) async fn expired(&self) {
        loop {
            // A notification sent before this point is kept (`notify_one` stores it).
            let changed = self.changed.notified();
            match self.deadline() {
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline.into()) => {
                            if self.deadline().is_some_and(|d| d <= Instant::now()) {
                                return;
                            }
                        }
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

/// The socket, reporting received bytes to the clock.
pub(crate) struct WatchedIo<T> {
    inner: T,
    clock: Arc<Clock>,
}

impl<T> WatchedIo<T> {
    pub(crate) fn new(inner: T, clock: Arc<Clock>) -> Self {
        Self { inner, clock }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.clock.received();
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
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
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A request body that tells the clock when it is read to its end (or dropped).
pub(crate) struct RequestBody<B> {
    inner: B,
    clock: Arc<Clock>,
}

impl<B> RequestBody<B> {
    pub(crate) fn new(inner: B, clock: Arc<Clock>) -> Self {
        Self { inner, clock }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for RequestBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) || self.inner.is_end_stream() {
            self.clock.body_done();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for RequestBody<B> {
    fn drop(&mut self) {
        self.clock.body_done();
    }
}

/// A response body that tells the clock when the server is done with it.
pub(crate) struct ResponseBody<B> {
    inner: B,
    clock: Arc<Clock>,
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, clock: Arc<Clock>) -> Self {
        Self { inner, clock }
    }
}

impl<B: Body + Unpin> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for ResponseBody<B> {
    fn drop(&mut self) {
        self.clock.response_done();
    }
}
