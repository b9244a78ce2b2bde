//! [`FwAuthLayer`]: puts the site's handle in each request, and on the way out renders
//! refusals and appends a re-sealed session cookie.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use fwtoken::SESSION_COOKIE_NAME;
use http::{HeaderValue, header};
use tower::{Layer, Service};

use crate::auth::FwAuth;
use crate::refusal::{Event, Note, Refusal};

/// What one request shares with the layer: the site's handle and the slot for a re-sealed
/// session cookie.
#[derive(Clone)]
pub(crate) struct RequestCtx(Arc<CtxInner>);

struct CtxInner {
    auth: FwAuth,
    reissued: OnceLock<HeaderValue>,
    route: Option<MatchedPath>,
    /// The caller, once an extractor computed it (see `caller.rs`).
    caller: OnceLock<crate::caller::Outcome>,
}

impl RequestCtx {
    pub(crate) fn auth(&self) -> &FwAuth {
        &self.0.auth
    }

    /// Hands a re-sealed session cookie to the response (the first one wins).
    pub(crate) fn reissue(&self, set_cookie: HeaderValue) {
        let _ = self.0.reissued.set(set_cookie);
    }

    /// The request's caller, computed once.
    pub(crate) fn caller(&self) -> &OnceLock<crate::caller::Outcome> {
        &self.0.caller
    }

    /// The matched route, for reports.
    pub(crate) fn route(&self) -> &str {
        self.0.route.as_ref().map_or("-", MatchedPath::as_str)
    }

    /// Reports a note about this request.
    pub(crate) fn note(&self, note: Note) {
        self.0.auth.emit(&Event::Note {
            route: self.route(),
            note,
        });
    }
}

/// Marks a response whose refusal was already reported and rendered (by an inner layer).
#[derive(Clone, Copy)]
struct Handled;

/// The tower layer of [`FwAuth::layer`]: every route that uses this crate's extractors or
/// routes must be under it (without it they answer 500 naming it).
///
/// Per request it puts the handle in the request's extensions; on the way out it reports
/// and renders a [`Refusal`] found in the response's extensions (the site's hooks), and
/// appends the re-sealed `FWSession` cookie when the session opened with the backup
/// secret (unless the response sets that cookie itself: a new login or a logout).
#[derive(Clone)]
pub struct FwAuthLayer {
    auth: FwAuth,
}

impl std::fmt::Debug for FwAuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FwAuthLayer").finish_non_exhaustive()
    }
}

impl FwAuthLayer {
    pub(crate) fn new(auth: FwAuth) -> Self {
        Self { auth }
    }
}

impl<S> Layer<S> for FwAuthLayer {
    type Service = FwAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FwAuthService {
            auth: self.auth.clone(),
            inner,
        }
    }
}

/// The service [`FwAuthLayer`] wraps around a route.
#[derive(Clone)]
pub struct FwAuthService<S> {
    auth: FwAuth,
    inner: S,
}

impl<S> std::fmt::Debug for FwAuthService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FwAuthService").finish_non_exhaustive()
    }
}

impl<S> Service<Request> for FwAuthService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let ctx = RequestCtx(Arc::new(CtxInner {
            auth: self.auth.clone(),
            reissued: OnceLock::new(),
            route: request.extensions().get::<MatchedPath>().cloned(),
            caller: OnceLock::new(),
        }));
        request.extensions_mut().insert(ctx.clone());
        ResponseFuture {
            inner: self.inner.call(request),
            ctx: Some(ctx),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`FwAuthService`]: the route's, then the refusal rendered and the
    /// re-sealed cookie appended.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        ctx: Option<RequestCtx>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.inner.poll(cx));
        Poll::Ready(Ok(match this.ctx.take() {
            Some(ctx) => finish(&ctx, response),
            None => response,
        }))
    }
}

/// Reports and renders a refusal, appends a re-sealed cookie.
fn finish(ctx: &RequestCtx, mut response: Response) -> Response {
    let refusal = response.extensions().get::<Refusal>().copied();
    if let Some(refusal) = refusal
        && response.extensions().get::<Handled>().is_none()
    {
        let auth = ctx.auth();
        auth.emit(&Event::Refused {
            route: ctx.route(),
            refusal,
        });
        let mut rendered = auth.render(&refusal);
        // Headers the refusing code set stay (a `Set-Cookie` clearing the session, say).
        for (name, value) in response.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                rendered.headers_mut().append(name, value.clone());
            }
        }
        rendered.extensions_mut().insert(refusal);
        rendered.extensions_mut().insert(Handled);
        response = rendered;
    }
    if let Some(cookie) = ctx.0.reissued.get()
        && !sets_session_cookie(&response)
    {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    response
}

/// True when the response sets the `FWSession` cookie itself.
fn sets_session_cookie(response: &Response) -> bool {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| {
            v.as_bytes()
                .strip_prefix(SESSION_COOKIE_NAME.as_bytes())
                .is_some_and(|rest| rest.first() == Some(&b'='))
        })
}
