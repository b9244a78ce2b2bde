//! Refusals and the events a site reports: a refusal is a status and a fixed kind, never
//! token material; the layer renders it through a hook and reports it to another.

use std::fmt;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use fwtoken::{Error, Fingerprint};
use fwtoken_store::StoreError;
use http::{HeaderValue, StatusCode, header};

/// The kinds of refusal this crate produces (what is logged; [`error_kind`] adds those of
/// token verification, and the Edgecast guard the name of the rule that refused).
pub mod kind {
    /// No `FWAPIToken` header and no `FWSession` cookie on a route that needs one.
    pub const NO_CREDENTIALS: &str = "no-credentials";
    /// `FWAPIToken` or `FWSession` in the query string (URLs end up in logs).
    pub const CREDENTIALS_IN_QUERY: &str = "credentials-in-query";
    /// Two `FWSession` cookies that open to different devices (a sibling subdomain can
    /// plant one beside the user's).
    pub const AMBIGUOUS_SESSION: &str = "ambiguous-session";
    /// The device is revoked or unknown to the store.
    pub const REVOKED_DEVICE: &str = "revoked-device";
    /// The API token is revoked, expired in the store, or was never registered.
    pub const REVOKED_API_TOKEN: &str = "revoked-api-token";
    /// The login token was used before (single use).
    pub const LOGIN_TOKEN_USED: &str = "login-token-used";
    /// A user (not the full API key) on an administrator route.
    pub const NOT_ADMINISTRATOR: &str = "not-administrator";
    /// A route for session cookies only, reached another way.
    pub const NO_SESSION: &str = "no-session";
    /// The user holds the maximum number of devices.
    pub const DEVICE_LIMIT: &str = "device-limit";
    /// The store could not be reached: 503, never "active".
    pub const STORE_UNAVAILABLE: &str = "store-unavailable";
    /// Any other store failure: 500.
    pub const STORE_ERROR: &str = "store-error";
    /// A query string that is not what the route takes.
    pub const BAD_QUERY: &str = "bad-query";
    /// `X-Forwarded-For` behind a trusted proxy is not an address.
    pub const BAD_FORWARDED_FOR: &str = "bad-forwarded-for";
    /// The handler runs without [`FwAuthLayer`](crate::FwAuthLayer): a server bug (500).
    pub const MISSING_LAYER: &str = "missing-layer";
    /// The server was not served with the connection's address (`ConnectInfo`): 500.
    pub const MISSING_CONNECT_INFO: &str = "missing-connect-info";
    /// The server answered with something it could not build (a header): 500.
    pub const INTERNAL: &str = "internal";
}

/// Why a request is not served: a status and a fixed kind (see [`kind`]).
///
/// It is what every extractor and route of this crate rejects with. As a response it is
/// the bare status and carries itself in the response's extensions, where
/// [`FwAuthLayer`](crate::FwAuthLayer) finds it, reports it
/// ([`FwAuthBuilder::on_event`](crate::FwAuthBuilder::on_event)) and renders it
/// ([`FwAuthBuilder::render`](crate::FwAuthBuilder::render)); an integrator's handler can
/// return one too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Refusal {
    status: StatusCode,
    kind: &'static str,
}

impl Refusal {
    /// A refusal with this status and kind.
    pub const fn new(status: StatusCode, kind: &'static str) -> Self {
        Self { status, kind }
    }

    /// 401.
    pub const fn unauthorized(kind: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, kind)
    }

    /// 403.
    pub const fn forbidden(kind: &'static str) -> Self {
        Self::new(StatusCode::FORBIDDEN, kind)
    }

    /// 400.
    pub const fn bad_request(kind: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind)
    }

    /// 404.
    pub const fn not_found(kind: &'static str) -> Self {
        Self::new(StatusCode::NOT_FOUND, kind)
    }

    /// 500.
    pub const fn internal(kind: &'static str) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, kind)
    }

    /// The status code.
    pub const fn status(&self) -> StatusCode {
        self.status
    }

    /// The kind: a fixed word for logs (`expired`, `ambiguous-session`, …).
    pub const fn kind(&self) -> &'static str {
        self.kind
    }

    /// The answer to a store error: 503 when the store is unavailable (never "active"),
    /// 403 at the device cap, 500 for anything else.
    pub fn from_store(e: &StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, kind::STORE_UNAVAILABLE)
            }
            StoreError::DeviceLimit { .. } => Self::forbidden(kind::DEVICE_LIMIT),
            _ => Self::internal(kind::STORE_ERROR),
        }
    }

    /// The answer to a credential that did not verify: 403 for the site owner or a denied
    /// user or application (the credential is genuine, the user may not use it), 401
    /// otherwise.
    pub fn from_credential(e: &Error) -> Self {
        match e {
            Error::DeniedUser | Error::DeniedApplication => Self::forbidden(error_kind(e)),
            _ => Self::unauthorized(error_kind(e)),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused: {} ({})", self.status.as_u16(), self.kind)
    }
}

impl std::error::Error for Refusal {}

impl IntoResponse for Refusal {
    /// The bare status, with the refusal in the response's extensions. Without the layer
    /// nobody renders it, so the two server bugs say what is missing.
    fn into_response(self) -> Response {
        let body = match self.kind {
            kind::MISSING_LAYER => {
                "fwtoken-axum: FwAuthLayer is missing on this route: add `.layer(auth.layer())` \
                 to the router (fwtoken_axum::FwAuth::layer)\n"
            }
            kind::MISSING_CONNECT_INFO => {
                "fwtoken-axum: the client address is missing: serve with FwAuth::serve, or with \
                 axum::serve and into_make_service_with_connect_info::<SocketAddr>()\n"
            }
            _ => "",
        };
        let mut response = (self.status, body).into_response();
        if body.is_empty() {
            response.headers_mut().remove(header::CONTENT_TYPE);
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// A short, fixed name for a verification error: what gets logged. It never holds the
/// token, a secret, or any part of an unverified payload.
pub fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::Malformed(_) => "malformed",
        Error::TooLong { .. } => "too-long",
        Error::InvalidSignature => "invalid-signature",
        Error::WrongPurpose => "wrong-purpose",
        Error::Expired { .. } => "expired",
        Error::NotYetValid { .. } => "not-yet-valid",
        Error::LifetimeTooLong { .. } => "lifetime-too-long",
        Error::DeniedUser => "denied-user",
        Error::DeniedApplication => "denied-application",
        Error::InvalidSecret(_) => "invalid-secret",
        Error::DuplicateKey => "duplicate-key",
        Error::InvalidUserName(_) | Error::DisallowedCodePoint { .. } => "invalid-user-name",
        Error::InvalidTime(_) => "invalid-time",
        Error::InvalidDuration(_) => "invalid-duration",
        Error::InvalidArgument(_) => "invalid-argument",
        Error::ClientNotAllowed => "client-not-allowed",
        Error::DeviceLimit { .. } => "device-limit",
        _ => "other",
    }
}

/// Something worth noting that is not a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Note {
    /// A login token verified with the backup secret (its issuer should move on).
    LoginTokenBackupKey,
    /// A session cookie opened with the backup secret: a re-sealed one was handed out.
    SessionReissued,
    /// An API token verified with the backup secret.
    ApiTokenBackupKey,
    /// A cache link opened with the backup secret (answered with `X-Reissue: 1`).
    CacheLinkBackupKey,
    /// An Edgecast token decrypted with the backup key.
    EdgeTokenBackupKey,
    /// A device's last use could not be recorded (the request was served).
    LastSeenNotRecorded,
    /// `SIGHUP` arrived and there is no secrets file to read.
    NothingToReload,
}

impl Note {
    /// The note as a sentence for a log line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Note::LoginTokenBackupKey => {
                "login token verified with the backup key: the issuer should move to the new secret"
            }
            Note::SessionReissued => "session cookie verified with the backup key: re-issued",
            Note::ApiTokenBackupKey => "api token verified with the backup key",
            Note::CacheLinkBackupKey => "cache link opened with the backup key",
            Note::EdgeTokenBackupKey => "edgecast token decrypted with the backup key",
            Note::LastSeenNotRecorded => "last-seen not recorded: store unavailable",
            Note::NothingToReload => "SIGHUP without a secrets file: nothing to reload",
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a site reports to its [`on_event`](crate::FwAuthBuilder::on_event) hook. The route
/// is the router's matched path (`/fotoweb/me`, `/edge/{*path}`: a pattern, never the
/// request's own path, which may hold a token), or `-` when there is none.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A request was refused.
    Refused {
        /// The matched route.
        route: &'a str,
        /// The refusal.
        refusal: Refusal,
    },
    /// A note about a request that was served.
    Note {
        /// The matched route.
        route: &'a str,
        /// What happened.
        note: Note,
    },
    /// The secrets file was read again and is in force.
    SecretsReloaded {
        /// The new primary secret's fingerprint.
        primary: Fingerprint,
        /// The new backup secret's fingerprint.
        backup: Option<Fingerprint>,
    },
    /// The store's counters, reported at an interval
    /// ([`FwAuth::report_stats_every`](crate::FwAuth::report_stats_every)).
    Stats {
        /// The counters.
        stats: fwtoken_store::StoreStats,
    },
    /// The secrets file read again is in force but deserves a warning (a weak secret, a
    /// short full API key); reported before [`Event::SecretsReloaded`].
    SecretsWarning {
        /// The warning, starting with `warning: ` (it never holds a secret).
        warning: &'a str,
    },
    /// The secrets file could not be read again; the secrets in force were kept.
    SecretsNotReloaded {
        /// Why (it never holds a secret).
        error: &'a str,
    },
}

impl fmt::Display for Event<'_> {
    /// One log line, safe to write anywhere (no token, no secret): `refused
    /// route=/fotoweb/me kind=expired`, `note route=/fotoweb/me session cookie verified
    /// with the backup key: re-issued`, `note secrets reloaded: primary 1a2b3c4d`, `error
    /// secrets not reloaded (kept the old ones): …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Refused { route, refusal } => {
                write!(f, "refused route={route} kind={}", refusal.kind())
            }
            Event::Note { route, note } => write!(f, "note route={route} {note}"),
            Event::SecretsReloaded { primary, backup } => {
                write!(f, "note secrets reloaded: primary {primary}")?;
                match backup {
                    Some(b) => write!(f, ", backup {b}"),
                    None => Ok(()),
                }
            }
            Event::SecretsWarning { warning } => f.write_str(warning),
            Event::Stats { stats: s } => write!(
                f,
                "stats hits={} misses={} hit_rate={:.3} entries={} evictions={} invalidated={} full_clears={} sync_failures={} known_version={} fresh={}",
                s.hits,
                s.misses,
                s.hit_rate(),
                s.entries,
                s.evictions,
                s.invalidated,
                s.full_clears,
                s.sync_failures,
                s.known_version,
                s.fresh
            ),
            Event::SecretsNotReloaded { error } => {
                write!(f, "error secrets not reloaded (kept the old ones): {error}")
            }
        }
    }
}

/// How refusals are rendered.
pub(crate) type RenderHook = Arc<dyn Fn(&Refusal) -> Response + Send + Sync>;

/// Where events go.
pub(crate) type EventHook = Arc<dyn Fn(&Event<'_>) + Send + Sync>;

/// The default rendering: the bare status, no body.
pub(crate) fn bare(refusal: &Refusal) -> Response {
    let mut response = refusal.status().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}
