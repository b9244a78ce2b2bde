//! One connection's clock: which phase it is in (waiting for a request head, reading a
//! request body, handling a request, idle between requests) and since when; and the
//! wrappers that move it along and enforce it.
//!
//! A phase's deadline counts from its start and is not extended by activity: a client
//! that sends one header byte every few seconds still has to finish the head within the
//! header timeout (the slow-header attack), and one that trickles its body still has to
//! finish it within the body timeout. The deadline is enforced where the server waits for
//! the client, in the socket's reads: a read that is still pending at the deadline fails
//! with `TimedOut`, and the connection is closed. While a handler runs nothing is read and
//! nothing times out.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// The timeouts of one connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) header: Duration,
    pub(crate) body: Duration,
    pub(crate) idle: Duration,
}

/// Waiting for a request head (from the connection's start, or from the first byte after
/// an idle spell).
const HEAD: u64 = 0;
/// A request is being served and its body is still being read.
const BODY: u64 = 1;
/// A request is being served (no deadline: handlers take the time they need).
const HANDLING: u64 = 2;
/// Between requests, nothing received yet.
const IDLE: u64 = 3;
/// The phase sits in the top two bits, the milliseconds since the connection's start
/// (when the phase began) in the others: one atomic word, read and written whole.
const PHASE_SHIFT: u32 = 62;
const SINCE_MASK: u64 = (1 << PHASE_SHIFT) - 1;

/// Where one connection is, and since when.
#[derive(Debug)]
pub(crate) struct Clock {
    started: Instant,
    state: AtomicU64,
    timeouts: Timeouts,
}

impl Clock {
    /// A new connection: its first request head is due within the header timeout.
    pub(crate) fn new(timeouts: Timeouts) -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            state: AtomicU64::new(HEAD << PHASE_SHIFT),
            timeouts,
        })
    }

    fn set(&self, phase: u64) {
        // Handling has no deadline, so no start time (no clock read).
        let ms = if phase == HANDLING {
            0
        } else {
            u64::try_from(self.started.elapsed().as_millis()).unwrap_or(SINCE_MASK)
        };
        self.state
            .store(phase << PHASE_SHIFT | ms.min(SINCE_MASK), Ordering::Release);
    }

    fn phase(&self) -> u64 {
        self.state.load(Ordering::Acquire) >> PHASE_SHIFT
    }

    /// Bytes arrived: after an idle spell, a new request head has begun.
    fn received(&self) {
        if self.phase() == IDLE {
            self.set(HEAD);
        }
    }

    /// A request head is complete and the request goes to the service.
    pub(crate) fn request_started(&self, reading_body: bool) {
        self.set(if reading_body { BODY } else { HANDLING });
    }

    /// The request body was read to its end, or dropped unread.
    fn body_done(&self) {
        if self.phase() == BODY {
            self.set(HANDLING);
        }
    }

    /// The response was handed over entirely: the connection is idle.
    fn response_done(&self) {
        self.set(IDLE);
    }

    /// When the current phase must end, if it must.
    fn deadline(&self) -> Option<Instant> {
        let state = self.state.load(Ordering::Acquire);
        let limit = match state >> PHASE_SHIFT {
            HEAD => self.timeouts.header,
            BODY => self.timeouts.body,
            IDLE => self.timeouts.idle,
            _ => return None,
        };
        let since = self
            .started
            .checked_add(Duration::from_millis(state & SINCE_MASK))?;
        since.checked_add(limit)
    }
}

/// The socket: reports received bytes to the clock, and fails a read that is still
/// pending at the current phase's deadline.
pub(crate) struct WatchedIo<T> {
    inner: T,
    clock: Arc<Clock>,
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl<T> WatchedIo<T> {
    pub(crate) fn new(inner: T, clock: Arc<Clock>) -> Self {
        // Armed for real at the first pending read.
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        Self {
            inner,
            clock,
            timer: Box::pin(tokio::time::sleep_until(far)),
            armed: None,
        }
    }

    fn timed_out() -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, "the client missed a deadline")
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.received();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some(deadline) = this.clock.deadline() else {
                    return Poll::Pending;
                };
                // The timer is only moved earlier: one armed for a later request's phase
                // fires early, finds the deadline ahead and is moved then (most requests
                // on a keep-alive connection never touch it).
                if this.armed.is_none_or(|armed| armed > deadline) {
                    this.timer.as_mut().reset(deadline.into());
                    this.armed = Some(deadline);
                }
                loop {
                    ready!(this.timer.as_mut().poll(cx));
                    if Instant::now() >= deadline {
                        return Poll::Ready(Err(Self::timed_out()));
                    }
                    this.timer.as_mut().reset(deadline.into());
                    this.armed = Some(deadline);
                }
            }
        }
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
