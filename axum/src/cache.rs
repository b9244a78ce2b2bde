//! Cache-link requests: the link opened from the request's path against the client's
//! address, and a responder that sets `Cache-Control` and `X-Reissue`.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use fwtoken::CacheLink;
use fwtoken::time::OffsetDateTime;
use http::request::Parts;
use http::{HeaderName, HeaderValue, header};

use crate::caller::context;
use crate::client::client_ip;
use crate::refusal::{Note, Refusal, error_kind, kind};

/// `Cache-Control` of a link bound to a client address or network: a shared cache (a CDN,
/// a corporate proxy) must not answer anyone else with it.
pub const CLIENT_BOUND_CACHE_CONTROL: &str = "private, no-store";

/// `X-Reissue: 1`: the link opened with the backup secret.
const X_REISSUE: HeaderName = HeaderName::from_static("x-reissue");

/// `X-Reissue-Path`: the same link signed with the primary secret, for the page to use.
const X_REISSUE_PATH: HeaderName = HeaderName::from_static("x-reissue-path");

/// A cache-link request: the link in the request's path (under the site's cache prefix,
/// `/fotoweb/cache/v1/…`), opened against the client's address
/// ([`ClientIp`](crate::ClientIp)).
///
/// Refused with 404 and no detail (no oracle) when the link is forged, expired, made with
/// a retired secret, bound to another client, or the request has a query string; 400 for
/// an `X-Forwarded-For` that is not an address behind a trusted proxy.
///
/// Answer with [`respond`](Self::respond): `Cache-Control: private, no-store` for a link
/// bound to a client address or network, else `public, max-age` up to the link's expiry
/// and at most the site's cap; `X-Reissue: 1` and `X-Reissue-Path` when the backup secret
/// opened it.
#[derive(Clone, Debug)]
pub struct CacheLinkRequest {
    link: CacheLink,
    cache_control: HeaderValue,
    reissue: bool,
    reissue_path: Option<HeaderValue>,
}

impl CacheLinkRequest {
    /// The link.
    pub fn link(&self) -> &CacheLink {
        &self.link
    }

    /// True when the backup secret opened the link.
    pub fn needs_reissue(&self) -> bool {
        self.reissue
    }

    /// The `Cache-Control` value the answer gets.
    pub fn cache_control(&self) -> &HeaderValue {
        &self.cache_control
    }

    /// `body` (a rendition) with `Cache-Control` and, for a link the backup secret
    /// opened, `X-Reissue: 1` and `X-Reissue-Path`.
    pub fn respond(self, body: impl IntoResponse) -> Response {
        let mut response = body.into_response();
        let h = response.headers_mut();
        h.insert(header::CACHE_CONTROL, self.cache_control);
        if self.reissue {
            h.insert(X_REISSUE, HeaderValue::from_static("1"));
        }
        if let Some(path) = self.reissue_path {
            h.insert(X_REISSUE_PATH, path);
        }
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CacheLinkRequest {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Refusal> {
        let ctx = context(parts)?;
        let auth = ctx.auth();
        if parts.uri.query().is_some() {
            return Err(Refusal::not_found("query"));
        }
        let ip = client_ip(auth, &parts.extensions, &parts.headers).map_err(|kind| match kind {
            kind::MISSING_CONNECT_INFO => Refusal::internal(kind),
            kind => Refusal::bad_request(kind),
        })?;
        let now = OffsetDateTime::now_utc();
        let signer = auth
            .cache_signer()
            .map_err(|e| Refusal::internal(error_kind(&e)))?;
        let opened = signer
            .parse_path(parts.uri.path(), now, Some(ip))
            .map_err(|e| Refusal::not_found(error_kind(&e)))?;
        let reissue = opened.needs_reissue();
        let link = opened.into_inner();
        let cache_control = if link.client.is_some() {
            HeaderValue::from_static(CLIENT_BOUND_CACHE_CONTROL)
        } else {
            let cap = auth.0.cache_max_age.as_secs();
            let max_age = match link.expires {
                Some(expires) => (expires - now).whole_seconds().max(0).unsigned_abs(),
                None => cap,
            };
            HeaderValue::from_str(&format!("public, max-age={}", max_age.min(cap)))
                .map_err(|_| Refusal::internal(kind::INTERNAL))?
        };
        let reissue_path = if reissue {
            ctx.note(Note::CacheLinkBackupKey);
            // The same link under the primary secret now in force.
            signer
                .path(&link, now)
                .ok()
                .and_then(|p| HeaderValue::from_str(&p).ok())
        } else {
            None
        };
        Ok(Self {
            link,
            cache_control,
            reissue,
            reissue_path,
        })
    }
}
