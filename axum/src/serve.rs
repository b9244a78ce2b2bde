//! Serving safely: HTTP/1.1 with header, body and idle timeouts and a connection limit
//! ([`ServeConfig`]), and [`FwAuth::serve`], which first checks that the store can be
//! written.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use fwtoken_store::StoreError;
use http_body::Body as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use crate::auth::FwAuth;
use crate::conn::{Clock, RequestBody, ResponseBody, Timeouts, WatchedIo};

/// The smallest head limit hyper accepts.
const MIN_HEAD_BYTES: usize = 8192;

/// How to serve: timeouts, the connection limit and the largest request head.
///
/// The defaults ([`ServeConfig::default`]): a request head within 10 s (of the
/// connection, or of the first byte after an idle spell), a request body within 30 s of
/// its head, an idle keep-alive connection closed after 60 s, 1024 connections at once,
/// heads of at most 64 KiB. A connection that misses a deadline is closed; handlers are
/// never cut short. These bound what slow clients can hold: with `axum::serve` alone a
/// connection that sends a partial head, or sends nothing, stays open for good, so a few
/// hundred such sockets starve everyone else.
///
/// HTTP/1.1 only; TLS and HTTP/2 belong to a proxy in front.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeConfig {
    header_timeout: Duration,
    body_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    max_head_bytes: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_head_bytes: 64 * 1024,
        }
    }
}

impl ServeConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a request head may take to arrive, from the connection's start or from
    /// the first byte of the request (default 10 s).
    #[must_use]
    pub fn header_timeout(mut self, limit: Duration) -> Self {
        self.header_timeout = limit;
        self
    }

    /// How long a request body may take to arrive, from the end of its head (default
    /// 30 s).
    #[must_use]
    pub fn body_timeout(mut self, limit: Duration) -> Self {
        self.body_timeout = limit;
        self
    }

    /// How long a keep-alive connection may stay idle between requests (default 60 s).
    #[must_use]
    pub fn idle_timeout(mut self, limit: Duration) -> Self {
        self.idle_timeout = limit;
        self
    }

    /// How many connections are served at once (default 1024, at least 1); the next
    /// waits in the kernel's backlog until one closes.
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.clamp(1, u32::MAX as usize);
        self
    }

    /// The largest request head (request line and headers) in bytes (default 64 KiB, at
    /// least 8 KiB); a larger one is answered 431. Every `FWSession` cookie in it is
    /// examined, so it also bounds that work.
    #[must_use]
    pub fn max_head_bytes(mut self, n: usize) -> Self {
        self.max_head_bytes = n.max(MIN_HEAD_BYTES);
        self
    }

    /// Serves `app` on `listener` until an accept fails for good.
    pub async fn serve(self, listener: TcpListener, app: Router) -> io::Result<()> {
        self.serve_until(listener, app, std::future::pending())
            .await
    }

    /// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets
    /// the requests in flight finish (idle connections close at once) and returns.
    pub async fn serve_until(
        self,
        listener: TcpListener,
        app: Router,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let permits = Arc::new(Semaphore::new(self.max_connections));
        let (closing, close) = watch::channel(());
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => permit.map_err(io::Error::other)?,
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) if is_connection_error(&e) => continue,
                    Err(_) => {
                        // Out of file descriptors, say: wait for connections to close.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(connection(
                stream,
                peer,
                app.clone(),
                self,
                permit,
                close.clone(),
            ));
        }
        drop(close);
        let _ = closing.send(());
        let all = u32::try_from(self.max_connections).unwrap_or(u32::MAX);
        let _ = permits.acquire_many(all).await;
        Ok(())
    }
}

/// Errors that end one connection attempt, not the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it ends, a phase outlives its timeout, or shutdown.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    config: ServeConfig,
    _permit: OwnedSemaphorePermit,
    mut close: watch::Receiver<()>,
) {
    let clock = Clock::new(Timeouts {
        header: config.header_timeout,
        body: config.body_timeout,
        idle: config.idle_timeout,
    });
    let io = TokioIo::new(WatchedIo::new(stream, Arc::clone(&clock)));
    let service_clock = Arc::clone(&clock);
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let clock = Arc::clone(&service_clock);
        let app = app.clone();
        async move {
            clock.request_started(!request.body().is_end_stream());
            let mut request =
                request.map(|body| Body::new(RequestBody::new(body, Arc::clone(&clock))));
            request.extensions_mut().insert(ConnectInfo(peer));
            let Ok(response) = app.oneshot(request).await;
            Ok::<_, Infallible>(response.map(|body| ResponseBody::new(body, clock)))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.max_buf_size(config.max_head_bytes);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    // A missed deadline fails the connection's read, which ends `conn`.
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = close.changed() => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

/// Why [`FwAuth::serve`] stopped or did not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// The store failed the start-up check (it cannot be written): the server did not
    /// start.
    Store(StoreError),
    /// Accepting connections failed.
    Io(io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Store(e) => write!(f, "the store cannot be written: {e}"),
            ServeError::Io(e) => write!(f, "serving failed: {e}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Store(e) => Some(e),
            ServeError::Io(e) => Some(e),
        }
    }
}

impl FwAuth {
    /// Checks that the store can be written (a real write, rolled back:
    /// [`fwtoken_store::Store::check_writable`]) and serves `app` with
    /// [`ServeConfig::default`]. A store that cannot be written is
    /// [`ServeError::Store`] before anything is accepted: a server on a read-only
    /// database would answer session checks while refusing every login.
    pub async fn serve(&self, listener: TcpListener, app: Router) -> Result<(), ServeError> {
        self.serve_with(listener, app, ServeConfig::default()).await
    }

    /// [`serve`](Self::serve) with other timeouts or limits.
    pub async fn serve_with(
        &self,
        listener: TcpListener,
        app: Router,
        config: ServeConfig,
    ) -> Result<(), ServeError> {
        self.store()
            .check_writable()
            .await
            .map_err(ServeError::Store)?;
        config.serve(listener, app).await.map_err(ServeError::Io)
    }
}
