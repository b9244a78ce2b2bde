//! Who is calling: [`Caller`] (and `Option<Caller>`), [`Admin`] and [`Session`], computed
//! once per request from the `FWAPIToken` header or the `FWSession` cookies.

use std::borrow::Cow;

use axum::extract::{FromRequestParts, MatchedPath, OptionalFromRequestParts};
use fwtoken::time::OffsetDateTime;
use fwtoken::{
    API_TOKEN_HEADER, ApiToken, ApiTokenId, DeviceClaims, DeviceId, DeviceToken,
    SESSION_COOKIE_NAME, SessionCookie, Verified, api_token_from_headers,
};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::auth::FwAuth;
use crate::layer::RequestCtx;
use crate::refusal::{Note, Refusal, error_kind, kind};

/// Who is calling: the administrator (the site's full API key) or a user.
///
/// As an extractor it refuses a request without a credential (401), with a credential
/// that does not verify (401; 403 for the site owner or a denied user), revoked or
/// unknown to the store (401), with two `FWSession` cookies that open to different
/// devices (401), with more than one `FWAPIToken` header (401), with a credential in the
/// query string (400), and answers 503 when the store is unavailable. A bad
/// `FWAPIToken` header is not rescued by a valid cookie.
///
/// `Option<Caller>` is `None` only when no credential was presented at all (no
/// `FWAPIToken` header, no `FWSession` cookie, none in the query string); a bad
/// credential is still refused.
///
/// It serializes as FotoWeb-style JSON: `{"user": null, "role": "administrator", "via":
/// "api-key"}`, `{"user": "alice", "role": "user", "via": "session", "device": "…"}` or
/// `{"user": "alice", "role": "user", "via": "api-token", "app": "CMS"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Caller {
    /// The site's full API key: the built-in administrator.
    Admin,
    /// A user.
    User(User),
}

/// A user and how they proved who they are.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// The user name, as the token carries it (compare users with
    /// [`FwAuth::user_key`], never by this spelling).
    pub name: String,
    /// The credential.
    pub via: Via,
}

/// The credential a user presented.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Via {
    /// An `FWSession` cookie of a registered device.
    Session {
        /// The device.
        device_id: DeviceId,
    },
    /// An `FWAPIToken` header with a user API token.
    ApiToken {
        /// The token's id (what revokes it).
        token_id: ApiTokenId,
        /// The application it was issued to.
        app: String,
    },
}

impl Caller {
    /// The user, unless this is the administrator.
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::Admin => None,
            Caller::User(u) => Some(u),
        }
    }

    /// True for the administrator.
    pub fn is_admin(&self) -> bool {
        matches!(self, Caller::Admin)
    }
}

impl Serialize for Caller {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match self {
            Caller::Admin => {
                map.serialize_entry("user", &None::<&str>)?;
                map.serialize_entry("role", "administrator")?;
                map.serialize_entry("via", "api-key")?;
            }
            Caller::User(User { name, via }) => {
                map.serialize_entry("user", name)?;
                map.serialize_entry("role", "user")?;
                match via {
                    Via::Session { device_id } => {
                        map.serialize_entry("via", "session")?;
                        map.serialize_entry("device", &device_id.to_string())?;
                    }
                    Via::ApiToken { app, .. } => {
                        map.serialize_entry("via", "api-token")?;
                        map.serialize_entry("app", app)?;
                    }
                }
            }
        }
        map.end()
    }
}

/// The administrator only: the site's full API key. A user is refused with 403, a
/// request without a credential with 401.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admin;

/// A user signed in with an `FWSession` cookie (a browser session); a request with an
/// API token or the full key instead is refused with 401.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Session {
    /// The user name.
    pub user: String,
    /// The device the cookie belongs to.
    pub device_id: DeviceId,
}

/// The outcome of authenticating one request, kept with its context.
#[derive(Clone)]
pub(crate) struct Outcome {
    /// A credential was presented (a header, a cookie or a query parameter).
    presented: bool,
    result: Result<Caller, Refusal>,
}

/// The handle's per-request context, or the 500 that names the missing layer.
pub(crate) fn context(parts: &Parts) -> Result<RequestCtx, Refusal> {
    RequestCtx::current(parts.extensions.get::<MatchedPath>())
}

/// Authenticates the request once; later extractors reuse the outcome.
async fn outcome(parts: &mut Parts) -> Outcome {
    let ctx = match context(parts) {
        Ok(ctx) => ctx,
        Err(refusal) => {
            return Outcome {
                presented: true,
                result: Err(refusal),
            };
        }
    };
    if let Some(done) = ctx.caller() {
        return done;
    }
    // Boxed: the store's futures inside it are large, and every extractor's and handler's
    // future that holds this one would otherwise be moved with all of it.
    let outcome = Box::pin(authenticate(&ctx, parts)).await;
    // Requests are handled one extractor at a time: nobody set it meanwhile.
    ctx.set_caller(outcome.clone());
    outcome
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Refusal> {
        outcome(parts).await.result
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Caller {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Refusal> {
        let outcome = outcome(parts).await;
        match outcome.result {
            Ok(caller) => Ok(Some(caller)),
            Err(_) if !outcome.presented => Ok(None),
            Err(refusal) => Err(refusal),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Refusal> {
        match outcome(parts).await.result? {
            Caller::Admin => Ok(Admin),
            Caller::User(_) => Err(Refusal::forbidden(kind::NOT_ADMINISTRATOR)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Refusal> {
        match outcome(parts).await.result? {
            Caller::User(User {
                name,
                via: Via::Session { device_id },
            }) => Ok(Session {
                user: name,
                device_id,
            }),
            _ => Err(Refusal::unauthorized(kind::NO_SESSION)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Refusal> {
        context(parts)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FwAuth {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Refusal> {
        Ok(context(parts)?.auth().clone())
    }
}

/// `FWAPIToken`, as a header name (header names are case-insensitive).
static FWAPITOKEN: HeaderName = HeaderName::from_static("fwapitoken");

/// True when the query string names a credential (`FWAPIToken`, `FWSession`, in any case):
/// such URLs end up in logs and browser histories.
pub(crate) fn credentials_in_query(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(name, _)| {
        let name = name.trim();
        name.eq_ignore_ascii_case(API_TOKEN_HEADER)
            || name.eq_ignore_ascii_case(SESSION_COOKIE_NAME)
    })
}

/// The `Cookie` headers as text (bytes that are not UTF-8 become U+FFFD, which no
/// `FWSession` value can hold).
fn cookie_headers(headers: &HeaderMap) -> impl Iterator<Item = Cow<'_, str>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .map(|v| match v.to_str() {
            // Visible ASCII, the usual case: no copy, and a faster check than UTF-8's.
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(v.as_bytes()),
        })
}

/// True when some `Cookie` header has a pair named `FWSession`, whatever its value.
fn session_cookie_presented(headers: &HeaderMap) -> bool {
    cookie_headers(headers).any(|h| {
        h.split(';').any(|pair| {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            name.trim_matches([' ', '\t']) == SESSION_COOKIE_NAME
        })
    })
}

fn refused(presented: bool, refusal: Refusal) -> Outcome {
    Outcome {
        presented,
        result: Err(refusal),
    }
}

async fn authenticate(ctx: &RequestCtx, parts: &Parts) -> Outcome {
    if parts.uri.query().is_some_and(credentials_in_query) {
        return refused(true, Refusal::bad_request(kind::CREDENTIALS_IN_QUERY));
    }
    let now = OffsetDateTime::now_utc();
    let mut api_values = Vec::new();
    for v in parts.headers.get_all(&FWAPITOKEN) {
        match v.to_str() {
            Ok(v) => api_values.push(v),
            Err(_) => return refused(true, Refusal::unauthorized("malformed")),
        }
    }
    let presented = match api_token_from_headers(api_values.iter().map(|v| (API_TOKEN_HEADER, *v)))
    {
        Ok(p) => p,
        Err(e) => return refused(true, Refusal::unauthorized(error_kind(&e))),
    };
    let result = match presented {
        Some(token) => by_api_token(ctx, token, now).await,
        None => return by_session(ctx, &parts.headers, now).await,
    };
    Outcome {
        presented: true,
        result,
    }
}

/// The full API key, or a user API token registered in the store.
async fn by_api_token(
    ctx: &RequestCtx,
    token: &str,
    now: OffsetDateTime,
) -> Result<Caller, Refusal> {
    let auth = ctx.auth();
    let secrets = auth.secrets();
    if secrets
        .api_key
        .as_ref()
        .is_some_and(|k| k.verify_header(token))
    {
        return Ok(Caller::Admin);
    }
    // The owner rule on every request: a token for the owner minted before the owner was
    // configured is refused whatever it says.
    let s = &auth.0;
    let claims = ApiToken::verify_with_policy(&secrets.ring, token, now, s.leeway, &s.api_policy)
        .map_err(|e| Refusal::from_credential(&e))?;
    match s.store.is_api_token_active(&claims.token_id, now).await {
        Ok(true) => {}
        Ok(false) => return Err(Refusal::unauthorized(kind::REVOKED_API_TOKEN)),
        Err(e) => return Err(Refusal::from_store(&e)),
    }
    if claims.needs_reissue() {
        ctx.note(Note::ApiTokenBackupKey);
    }
    let claims = claims.into_inner();
    Ok(Caller::User(User {
        name: claims.user,
        via: Via::ApiToken {
            token_id: claims.token_id,
            app: claims.app.to_string(),
        },
    }))
}

/// Every `FWSession` value in every `Cookie` header is verified (bounded by the size of
/// the request head, not by a count); two that open to different devices are refused as
/// ambiguous (a sibling subdomain can plant its own valid cookie beside the user's, in any
/// position). Then the store: revoked or unknown is 401, unavailable 503.
async fn by_session(ctx: &RequestCtx, headers: &HeaderMap, now: OffsetDateTime) -> Outcome {
    let auth = ctx.auth();
    let s = &auth.0;
    let mut found: Option<Verified<DeviceClaims>> = None;
    let mut last_error = None;
    let mut any = false;
    {
        // A snapshot of the ring in force: verification holds no lock, so a rotation
        // never waits for it.
        let secrets = auth.secrets();
        let ring = &secrets.ring;
        for header in cookie_headers(headers) {
            for value in SessionCookie::find_all(&header) {
                any = true;
                match DeviceToken::verify_with_policy(ring, value, now, &s.device_policy) {
                    Ok(claims) => match &found {
                        Some(first) if first.device_id != claims.device_id => {
                            return refused(true, Refusal::unauthorized(kind::AMBIGUOUS_SESSION));
                        }
                        Some(_) => {}
                        None => found = Some(claims),
                    },
                    Err(e) => last_error = Some(error_kind(&e)),
                }
            }
        }
    }
    let Some(claims) = found else {
        let presented = any || session_cookie_presented(headers);
        let kind = match (presented, last_error) {
            (false, _) => kind::NO_CREDENTIALS,
            (true, Some(k)) => k,
            (true, None) => "malformed",
        };
        return refused(presented, Refusal::unauthorized(kind));
    };
    match s.store.is_device_active(&claims.device_id).await {
        Ok(true) => {}
        Ok(false) => return refused(true, Refusal::unauthorized(kind::REVOKED_DEVICE)),
        Err(e) => return refused(true, Refusal::from_store(&e)),
    }
    // At most one write a minute per device; a failure here does not refuse the request.
    if s.store.touch_device(&claims.device_id, now).await.is_err() {
        ctx.note(Note::LastSeenNotRecorded);
    }
    // Opened with the backup secret: re-seal the same device under the primary, so the
    // session outlives the backup's retirement.
    if claims.needs_reissue() {
        let fresh = DeviceToken::reissue(&auth.ring(), &claims, &mut fwtoken::os_rng())
            .ok()
            .and_then(|t| s.cookie.set_cookie(&t).ok())
            .and_then(|c| HeaderValue::from_str(&c).ok());
        if let Some(cookie) = fresh {
            ctx.reissue(cookie);
            ctx.note(Note::SessionReissued);
        }
    }
    let claims = claims.into_inner();
    Outcome {
        presented: true,
        result: Ok(Caller::User(User {
            name: claims.user,
            via: Via::Session {
                device_id: claims.device_id,
            },
        })),
    }
}
