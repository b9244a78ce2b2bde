//! Edgecast tokens in front of a path prefix ([`EdgeGuardLayer`]): evaluated against the
//! configured public host (never `Host`) and the path decoded once, refusing every
//! spelling of a dot segment that an origin server treats as one.

use std::convert::Infallible;
use std::future::Ready;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use fwtoken::time::OffsetDateTime;
use fwtoken::{EdgeProto, EdgeRequest};
use http::header;
use http::request::Parts;
use tower::{Layer, Service};

use crate::auth::FwAuth;
use crate::client::{client_ip, forwarded_https};
use crate::refusal::{Event, Note, Refusal, error_kind, kind};

/// The query parameter that carries the token: `/edge/video.mp4?token=…`.
const TOKEN_PARAM: &str = "token";

/// The layer of [`FwAuth::edge_guard`]: requests whose path starts with the prefix need
/// an Edgecast token (`?token=…`) that allows them; the others pass untouched.
///
/// A request is refused with 403 (and the kind: `no-token`, the decryption error, the
/// path's defect, or the rule, `ec_url_allow`, `ec_clientip`, …) when the token is
/// missing, forged, made with a retired key, or when its rules refuse the request as
/// evaluated against the site's public host, the client's address, the protocol (from a
/// trusted proxy's `X-Forwarded-Proto`), the `Referer`, and the path decoded once
/// ([`edge_path`]). The handler behind it finds that path with [`EdgePath`].
///
/// Put it inside [`FwAuth::layer`] so refusals are reported and rendered.
#[derive(Clone)]
pub struct EdgeGuardLayer {
    auth: FwAuth,
    prefix: Arc<str>,
}

impl std::fmt::Debug for EdgeGuardLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeGuardLayer")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl FwAuth {
    /// A layer that guards every path starting with `prefix` (`/edge/`, say) with the
    /// Edgecast keys of [`FwAuthBuilder::edge`](crate::FwAuthBuilder::edge); without keys
    /// every guarded request is a 500.
    pub fn edge_guard(&self, prefix: &str) -> EdgeGuardLayer {
        EdgeGuardLayer {
            auth: self.clone(),
            prefix: prefix.into(),
        }
    }
}

impl<S> Layer<S> for EdgeGuardLayer {
    type Service = EdgeGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EdgeGuard {
            auth: self.auth.clone(),
            prefix: Arc::clone(&self.prefix),
            inner,
        }
    }
}

/// The service [`EdgeGuardLayer`] wraps around a route.
#[derive(Clone)]
pub struct EdgeGuard<S> {
    auth: FwAuth,
    prefix: Arc<str>,
    inner: S,
}

impl<S> std::fmt::Debug for EdgeGuard<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeGuard")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl<S> Service<Request> for EdgeGuard<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        if !request.uri().path().starts_with(&*self.prefix) {
            return Either::Right(self.inner.call(request));
        }
        match guard(&self.auth, &request) {
            Ok(path) => {
                request.extensions_mut().insert(EdgePath(path));
                Either::Right(self.inner.call(request))
            }
            Err(refusal) => Either::Left(std::future::ready(Ok(refusal.into_response()))),
        }
    }
}

/// The decision for one guarded request: the decoded path, or the refusal.
fn guard(auth: &FwAuth, request: &Request) -> Result<String, Refusal> {
    let token = request.uri().query().and_then(|q| {
        let mut tokens = form_urlencoded::parse(q.as_bytes()).filter(|(n, _)| n == TOKEN_PARAM);
        match (tokens.next(), tokens.next()) {
            (Some((_, t)), None) => Some(t),
            _ => None,
        }
    });
    let token = token.ok_or(Refusal::forbidden("no-token"))?;
    let Some(edge) = auth.edge() else {
        return Err(Refusal::internal("edge-not-configured"));
    };
    let ip = client_ip(auth, request.extensions(), request.headers()).map_err(|k| match k {
        kind::MISSING_CONNECT_INFO => Refusal::internal(k),
        k => Refusal::forbidden(k),
    })?;
    let params = edge
        .ring
        .decrypt_params(&token)
        .map_err(|e| Refusal::forbidden(error_kind(&e)))?;
    if params.needs_reissue() {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("-", MatchedPath::as_str);
        auth.emit(&Event::Note {
            route,
            note: Note::EdgeTokenBackupKey,
        });
    }
    let protocol = if forwarded_https(auth, request.headers()) {
        EdgeProto::Https
    } else {
        EdgeProto::Http
    };
    let path = edge_path(request.uri().path()).map_err(Refusal::forbidden)?;
    let now = OffsetDateTime::now_utc();
    let mut edge_request = EdgeRequest::new(now, ip, protocol, &edge.public_host, &path);
    if let Some(referrer) = request
        .headers()
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
    {
        edge_request = edge_request.referrer(referrer);
    }
    params
        .evaluate(&edge_request, Duration::ZERO)
        .map_err(|refusal| Refusal::forbidden(refusal.param()))?;
    Ok(path)
}

/// The path of a request [`EdgeGuardLayer`] let through, percent-decoded once: what its
/// token's `ec_url_allow` was checked against. Without the guard the answer is 500.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgePath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for EdgePath {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Refusal> {
        parts
            .extensions
            .get::<EdgePath>()
            .cloned()
            .ok_or(Refusal::internal("missing-edge-guard"))
    }
}

/// The value of one hexadecimal digit.
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `raw` once: `Err` for a `%` not followed by two hexadecimal digits.
fn decode(raw: &[u8]) -> Result<Vec<u8>, ()> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next().copied().and_then(hex).ok_or(())?;
            let lo = bytes.next().copied().and_then(hex).ok_or(())?;
            out.push(hi << 4 | lo);
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

/// A segment an origin server treats as `.` or `..`: only dots and spaces, with at least
/// one dot, once path parameters are cut off. Tomcat and Jetty drop everything from `;`
/// in a segment (`..;x` is `..`); Windows and IIS strip trailing dots and spaces from a
/// name (`...`, `. `, `.. ` are `.` or `..`).
fn is_dot_segment(segment: &[u8]) -> bool {
    let name = segment.split(|&b| b == b';').next().unwrap_or_default();
    name.contains(&b'.') && name.iter().all(|&b| b == b'.' || b == b' ')
}

/// The path an Edgecast rule is evaluated against: percent-decoded exactly once, and
/// refused (`Err` holds the kind) when it could mean another path to a file system or an
/// origin than to the rule:
///
/// - `encoded-separator`: an encoded `/` or `\` (`..%2F`), also encoded twice (`%252F`);
/// - `backslash`: any `\`;
/// - `dot-segment`: a segment that is `.` or `..` in any spelling an origin treats as one:
///   raw or percent-encoded (`%2e%2e`), with path parameters (`..;`, `..%3B`), only dots
///   (`...`), dots followed by spaces (`..%20`, `.%20`), and the same encoded twice
///   (`%252e%252e`);
/// - `bad-percent-encoding`, `not-utf8`, `control-character`.
///
/// ```
/// use fwtoken_axum::edge_path;
/// assert_eq!(edge_path("/edge/demo/intro%20clip.mp4"), Ok("/edge/demo/intro clip.mp4".into()));
/// for path in ["/edge/videos/..;/secret", "/edge/videos/..%3B/secret", "/edge/videos/..%20/x",
///              "/edge/videos/.../x", "/edge/videos/.%20/x", "/edge/videos/%2e%2e%3b/x"] {
///     assert_eq!(edge_path(path), Err("dot-segment"), "{path}");
/// }
/// assert_eq!(edge_path("/edge/videos/..%2Fsecret"), Err("encoded-separator"));
/// ```
pub fn edge_path(raw: &str) -> Result<String, &'static str> {
    if raw.contains('\\') {
        return Err("backslash");
    }
    for segment in raw.as_bytes().split(|&b| b == b'/') {
        let once = decode(segment).map_err(|()| "bad-percent-encoding")?;
        if once.contains(&b'/') || once.contains(&b'\\') {
            return Err("encoded-separator");
        }
        if is_dot_segment(&once) {
            return Err("dot-segment");
        }
        // An origin that decodes again must not find a separator or a dot segment.
        if once.contains(&b'%')
            && let Ok(twice) = decode(&once)
        {
            if twice.contains(&b'/') || twice.contains(&b'\\') {
                return Err("encoded-separator");
            }
            if is_dot_segment(&twice) {
                return Err("dot-segment");
            }
        }
    }
    let decoded = decode(raw.as_bytes()).map_err(|()| "bad-percent-encoding")?;
    let path = String::from_utf8(decoded).map_err(|_| "not-utf8")?;
    if path.chars().any(char::is_control) {
        return Err("control-character");
    }
    Ok(path)
}
