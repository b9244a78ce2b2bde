//! [`FwAuthLayer`]: makes the site's handle available to each request's extractors, and
//! on the way out renders refusals and appends a re-sealed session cookie.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, ready};

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use fwtoken::SESSION_COOKIE_NAME;
use http::{HeaderValue, header};
use tower::{Layer, Service};

use crate::auth::FwAuth;
use crate::refusal::{Event, Note, Refusal, kind};

/// What one request shares with the layer: the site's handle, the slot for a re-sealed
/// session cookie, the matched route and the caller once computed. It lives in a tokio
/// task-local scoped around the route's future: no allocation per request, and a handler
/// outside the layer finds none (500, naming the layer).
///
/// The rarely set and the large slots are boxed: the scope travels inside the route's
/// future, which is moved (copied) several times on its way to the executor.
struct Scope {
    auth: FwAuth,
    reissued: OnceLock<Box<HeaderValue>>,
    route: OnceLock<MatchedPath>,
    caller: OnceLock<Box<crate::caller::Outcome>>,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// The layer's per-request context, as the extractors see it.
pub(crate) struct RequestCtx {
    auth: FwAuth,
}

impl RequestCtx {
    /// The context of the request being handled, or the 500 that names the missing layer.
    /// Records the matched route when the layer, placed before routing, did not see it.
    pub(crate) fn current(route: Option<&MatchedPath>) -> Result<Self, Refusal> {
        SCOPE
            .try_with(|s| {
                if let Some(route) = route
                    && s.route.get().is_none()
                {
                    let _ = s.route.set(route.clone());
                }
                Self {
                    auth: s.auth.clone(),
                }
            })
            .map_err(|_| Refusal::internal(kind::MISSING_LAYER))
    }

    pub(crate) fn auth(&self) -> &FwAuth {
        &self.auth
    }

    /// Hands a re-sealed session cookie to the response (the first one wins).
    pub(crate) fn reissue(&self, set_cookie: HeaderValue) {
        let _ = SCOPE.try_with(|s| s.reissued.set(Box::new(set_cookie)));
    }

    /// The request's caller, when an extractor computed it already.
    pub(crate) fn caller(&self) -> Option<crate::caller::Outcome> {
        SCOPE
            .try_with(|s| s.caller.get().map(|o| (**o).clone()))
            .ok()
            .flatten()
    }

    /// Keeps the request's caller for the extractors after this one.
    pub(crate) fn set_caller(&self, outcome: crate::caller::Outcome) {
        let _ = SCOPE.try_with(|s| s.caller.set(Box::new(outcome)));
    }

    /// Reports a note about this request.
    pub(crate) fn note(&self, note: Note) {
        let _ = SCOPE.try_with(|s| {
            s.auth.emit(&Event::Note {
                route: s.route.get().map_or("-", MatchedPath::as_str),
                note,
            });
        });
    }
}

/// Marks a response whose refusal was already reported and rendered (by an inner layer).
#[derive(Clone, Copy)]
struct Handled;

/// The tower layer of [`FwAuth::layer`]: every route that uses this crate's extractors or
/// routes must be under it (without it they answer 500 naming it).
///
/// Per request it makes the handle available to the extractors (a tokio task-local scoped
/// around the route's future: nothing is allocated); on the way out it reports and renders
/// a [`Refusal`] found in the response's extensions (the site's hooks), and appends the
/// re-sealed `FWSession` cookie when the session opened with the backup secret (unless the
/// response sets that cookie itself: a new login or a logout).
///
/// Add it with `Router::layer` (it then wraps every route), or around the whole router
/// (`tower::Layer::layer(&auth.layer(), router)`: one wrap, before routing); either way
/// reports name the matched route.
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

    fn call(&mut self, request: Request) -> Self::Future {
        let scope = Scope {
            auth: self.auth.clone(),
            reissued: OnceLock::new(),
            route: OnceLock::new(),
            caller: OnceLock::new(),
        };
        if let Some(route) = request.extensions().get::<MatchedPath>() {
            let _ = scope.route.set(route.clone());
        }
        ResponseFuture {
            inner: SCOPE.scope(scope, self.inner.call(request)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`FwAuthService`]: the route's, then the refusal rendered and the
    /// re-sealed cookie appended.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: tokio::task::futures::TaskLocalFuture<Scope, F>,
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
        let mut inner = self.project().inner;
        let Ok(response) = ready!(inner.as_mut().poll(cx));
        Poll::Ready(Ok(match inner.take_value() {
            Some(scope) => finish(&scope, response),
            None => response,
        }))
    }
}

/// Reports and renders a refusal, appends a re-sealed cookie.
fn finish(scope: &Scope, mut response: Response) -> Response {
    let refusal = response.extensions().get::<Refusal>().copied();
    if let Some(refusal) = refusal
        && response.extensions().get::<Handled>().is_none()
    {
        let auth = &scope.auth;
        auth.emit(&Event::Refused {
            route: scope.route.get().map_or("-", MatchedPath::as_str),
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
    if let Some(cookie) = scope.reissued.get()
        && !sets_session_cookie(&response)
    {
        response
            .headers_mut()
            .append(header::SET_COOKIE, (**cookie).clone());
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
