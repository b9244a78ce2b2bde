//! The server itself: configuration, shared state and the axum router with its handlers.
//!
//! Everything but the process setup lives here, so `tests/server_flow.rs` can start this
//! same router in-process on `127.0.0.1:0` (with `#[path = "../examples/server/app.rs"]`)
//! and rotate the key ring of the running server through [`AppState`].
//!
//! The routes imitate FotoWeb's:
//!
//! | route | what it does |
//! |-------|--------------|
//! | `GET /fotoweb/?lt=TOKEN` | login token → device registered → `302` to `/fotoweb/me` with `Set-Cookie: FWSession=…` |
//! | `POST /fotoweb/cmdrequest/Login.fwx` | form `u=…&p=…` checked against salted PBKDF2 hashes → same answer |
//! | `GET /fotoweb/me` | the caller, from `FWAPIToken` (full key = administrator, user token = that user) or `FWSession` |
//! | `POST /fotoweb/me/tokens/` | full key only: an api-token request in, an api-token info out |
//! | `POST /fotoweb/admin/devices/{id}/revoke` | full key only: revokes a device; its cookie stops working at once |
//! | `GET /fotoweb/admin/users/{user}/devices` | full key only: the user's devices, active and revoked |
//! | `GET /fotoweb/admin/users/{user}/tokens` | full key only: the user's API tokens, active, expired and revoked |
//! | `POST /fotoweb/admin/tokens/{id}/revoke` | full key only: revokes an API token by its id |
//! | `POST /fotoweb/admin/users/{user}/revoke` | full key only: every device and API token of the user |
//! | `GET /fotoweb/cache/v1/{token}.{ext}` | opens a cache link against the client address; a generated PNG |
//! | `GET /edge/{path}?token=TOKEN` | evaluates an Edgecast token against the request: `200` or `403` |
//!
//! Every refusal is logged as one line with the route and the error kind, never the
//! token, the password or a secret; the client gets the status code and nothing more.
//!
//! State lives in a [`fwtoken_store::Store`] (memory, SQLite or PostgreSQL): device
//! registrations with the per-user cap, API-token registrations and revocations, and
//! used login tokens. A store that cannot answer is `503`, never "active".

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fwtoken::rand_core::CryptoRng;
use fwtoken::time::OffsetDateTime;
use fwtoken::{
    API_TOKEN_HEADER, API_TOKEN_INFO_MEDIA_TYPE, API_TOKEN_REQUEST_MEDIA_TYPE, ApiKey, ApiPolicy,
    ApiToken, ApiTokenId, ApiTokenRequest, CacheLink, CacheLinkSigner, DeviceClaims, DeviceId,
    DevicePolicy, DeviceToken, EdgeKey, EdgeKeyRing, EdgeProto, EdgeRequest, Error, KeyRing,
    LoginClaims, LoginFormat, LoginPolicy, LoginToken, Secret, SessionCookie, Verified,
    api_token_from_headers,
};
use fwtoken_store::{DeviceLimit, Store, StoreError};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// URL prefix of every FotoWeb-style route; cache links live under `/fotoweb/cache/v1/`.
pub const PREFIX: &str = "/fotoweb";
/// Clock leeway for login tokens, API tokens and device tokens.
pub const LEEWAY: Duration = Duration::from_secs(60);
/// Devices one user may hold at once; the next login is refused with `403`.
pub const MAX_DEVICES_PER_USER: usize = 5;
/// Largest request body accepted (login forms and api-token requests are tiny).
pub const MAX_BODY: usize = 16 * 1024;
/// Side of a generated preview when the link names neither width nor height.
pub const DEFAULT_PREVIEW_SIDE: u16 = 256;
/// Most pixels a generated preview may have (a 4096 × 4096 grey image is 16 MiB).
pub const MAX_PREVIEW_PIXELS: u32 = 4096 * 4096;
/// Longest `Cache-Control: max-age` of a cache link, also for a link without an expiry:
/// one day, so a shared cache stops serving a link at most a day after its secret was
/// retired.
pub const MAX_AGE_CAP: u64 = 86_400;
/// `Cache-Control` of a link bound to a client address or network: a shared cache (a CDN,
/// a corporate proxy) must not answer anyone else with it.
pub const CLIENT_BOUND_CACHE_CONTROL: &str = "private, no-store";
/// How many `FWSession` values of one request are tried (a client may hold several,
/// set for different paths); more is not an honest client.
const MAX_SESSION_COOKIES: usize = 4;

// ---------------------------------------------------------------------------------------
// Passwords
// ---------------------------------------------------------------------------------------

/// One stored password: PBKDF2-HMAC-SHA256 with a per-user random salt.
struct PasswordRecord {
    /// The user name as registered (the table is keyed by its lower case).
    name: String,
    salt: [u8; 16],
    hash: [u8; 32],
    iterations: u32,
}

fn pbkdf2_sha256(password: &str, salt: &[u8; 16], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

/// The users who log in with a password. Only salted hashes are kept, never the text.
///
/// The hash is PBKDF2-HMAC-SHA256 with a 16-byte random salt per user and the iteration
/// count stored with each record (so the cost can be raised for new records later).
/// OWASP's current advice for PBKDF2-HMAC-SHA256 is 600 000 iterations (or Argon2id);
/// the example and its test use far fewer so that a debug build logs in quickly.
pub struct UserTable {
    users: HashMap<String, PasswordRecord>,
    iterations: u32,
    /// Checked against when the user is unknown, so an unknown name costs as much time
    /// as a wrong password.
    dummy: PasswordRecord,
}

impl UserTable {
    /// An empty table whose new records use `iterations` PBKDF2 rounds (at least 1).
    pub fn new(iterations: u32, rng: &mut impl CryptoRng) -> Self {
        let iterations = iterations.max(1);
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        let dummy = PasswordRecord {
            name: String::new(),
            hash: pbkdf2_sha256("", &salt, iterations),
            salt,
            iterations,
        };
        Self {
            users: HashMap::new(),
            iterations,
            dummy,
        }
    }

    /// Adds (or replaces) a user; the password is hashed here and not kept.
    pub fn add(
        &mut self,
        name: &str,
        password: &str,
        rng: &mut impl CryptoRng,
    ) -> Result<(), Error> {
        fwtoken::validate_user_name(name)?;
        if password.is_empty() {
            return Err(Error::InvalidArgument("empty password"));
        }
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        let record = PasswordRecord {
            name: name.into(),
            hash: pbkdf2_sha256(password, &salt, self.iterations),
            salt,
            iterations: self.iterations,
        };
        self.users.insert(name.to_lowercase(), record);
        Ok(())
    }

    /// The user's registered name when `password` is theirs. User names match
    /// case-insensitively; the hashes compare in constant time.
    pub fn authenticate(&self, name: &str, password: &str) -> Option<&str> {
        let known = self.users.get(&name.to_lowercase());
        let record = known.unwrap_or(&self.dummy);
        let hash = pbkdf2_sha256(password, &record.salt, record.iterations);
        let matches = bool::from(hash.ct_eq(&record.hash));
        match known {
            Some(r) if matches => Some(r.name.as_str()),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Logging
// ---------------------------------------------------------------------------------------

/// Where the server's log lines go: stderr, or memory when capturing (the test reads them
/// back to check the refusal kinds and that no token or secret was ever logged).
#[derive(Clone, Default)]
pub struct Log {
    captured: Option<Arc<Mutex<Vec<String>>>>,
}

impl Log {
    /// Lines go to stderr only.
    pub fn stderr() -> Self {
        Self { captured: None }
    }

    /// Lines are kept in memory for [`lines`](Self::lines) instead.
    pub fn capturing() -> Self {
        Self {
            captured: Some(Arc::default()),
        }
    }

    /// The lines kept so far (empty unless capturing).
    pub fn lines(&self) -> Vec<String> {
        self.captured
            .as_ref()
            .map(|c| c.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .unwrap_or_default()
    }

    /// Writes one line. Callers pass only static words: a route name, an error kind.
    fn line(&self, route: &str, event: &str, what: &str) {
        let line = format!("fwtoken-server: {event} route={route} {what}");
        match &self.captured {
            Some(c) => c.lock().unwrap_or_else(PoisonError::into_inner).push(line),
            None => eprintln!("{line}"),
        }
    }

    /// A refusal, with its kind.
    fn refused(&self, route: &str, kind: &str) {
        self.line(route, "refused", &format!("kind={kind}"));
    }

    /// Something worth noting that is not a refusal.
    fn note(&self, route: &str, what: &str) {
        self.line(route, "note", what);
    }
}

/// A short, fixed name for an error: what gets logged. It never holds the token, a
/// secret, or any part of an unverified payload.
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
        Error::InvalidUserName(_) => "invalid-user-name",
        Error::InvalidTime(_) => "invalid-time",
        Error::InvalidDuration(_) => "invalid-duration",
        Error::InvalidArgument(_) => "invalid-argument",
        Error::ClientNotAllowed => "client-not-allowed",
        Error::DeviceLimit { .. } => "device-limit",
        _ => "other",
    }
}

// ---------------------------------------------------------------------------------------
// Configuration and state
// ---------------------------------------------------------------------------------------

/// What the server is started with.
pub struct Config {
    /// The site's key ring (primary and optional backup encryption secret).
    pub ring: KeyRing,
    /// The site's full API key; `None` turns every administrator route off.
    pub api_key: Option<ApiKey>,
    /// The site owner: never logged in by a login token, never impersonated by an API token.
    pub owner: Option<String>,
    /// The password users.
    pub users: UserTable,
    /// The Edgecast keys protecting `/edge/`.
    pub edge: EdgeKeyRing,
    /// Take the client address from the last `X-Forwarded-For` entry and the protocol
    /// from `X-Forwarded-Proto` (only behind a proxy that sets them).
    pub trust_proxy: bool,
    /// The host name `/edge/` rules (`ec_host_allow`, `ec_host_deny`) are evaluated
    /// against: the site's public name, never the request's `Host` header.
    pub public_host: String,
    /// Devices, API tokens and used login tokens.
    pub store: Store,
    /// Accept a login token more than once (for clients that resend one); by default a
    /// login token logs in once, so a leaked `lt=` URL cannot be replayed.
    pub allow_login_token_reuse: bool,
}

struct Shared {
    ring: RwLock<Arc<KeyRing>>,
    edge: RwLock<Arc<EdgeKeyRing>>,
    api_key: RwLock<Option<Arc<ApiKey>>>,
    users: UserTable,
    store: Store,
    single_use_login: bool,
    login_policy: LoginPolicy,
    api_policy: ApiPolicy,
    device_policy: DevicePolicy,
    trust_proxy: bool,
    public_host: String,
    log: Log,
}

/// The server's state, cheap to clone: the router holds one, and so can whoever needs to
/// rotate keys on the running server (an operator's signal handler, or the test).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state for `config`, logging to `log`.
    pub fn new(config: Config, log: Log) -> Self {
        let mut login_policy = LoginPolicy::new().leeway(LEEWAY);
        let mut api_policy = ApiPolicy::new();
        if let Some(owner) = config.owner.as_deref() {
            login_policy = login_policy.deny_user(owner);
            api_policy = api_policy.site_owner(owner);
        }
        Self(Arc::new(Shared {
            ring: RwLock::new(Arc::new(config.ring)),
            edge: RwLock::new(Arc::new(config.edge)),
            api_key: RwLock::new(config.api_key.map(Arc::new)),
            users: config.users,
            store: config.store,
            single_use_login: !config.allow_login_token_reuse,
            login_policy,
            api_policy,
            device_policy: DevicePolicy::new()
                .leeway(LEEWAY)
                .max_devices_per_user(MAX_DEVICES_PER_USER),
            trust_proxy: config.trust_proxy,
            public_host: config.public_host,
            log,
        }))
    }

    /// The key ring now in force. Requests take a snapshot (an `Arc` clone) and verify
    /// without holding the lock.
    pub fn ring(&self) -> Arc<KeyRing> {
        Arc::clone(&self.0.ring.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The Edgecast key ring now in force.
    pub fn edge_ring(&self) -> Arc<EdgeKeyRing> {
        Arc::clone(&self.0.edge.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Makes `new_primary` the primary secret; the old primary becomes the backup, so
    /// everything issued before keeps working (and is flagged for re-issue).
    pub fn rotate(&self, new_primary: Secret) -> Result<(), Error> {
        let mut ring = self.0.ring.write().unwrap_or_else(PoisonError::into_inner);
        *ring = Arc::new(KeyRing::clone(&ring).rotate(new_primary)?);
        Ok(())
    }

    /// Replaces the whole ring (and the full API key) at once, as read from a secrets
    /// file: what `SIGHUP` does. Requests in flight keep the snapshot they took.
    pub fn replace_secrets(&self, ring: KeyRing, api_key: Option<ApiKey>) {
        let mut r = self.0.ring.write().unwrap_or_else(PoisonError::into_inner);
        let mut k = self
            .0
            .api_key
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *r = Arc::new(ring);
        *k = api_key.map(Arc::new);
    }

    /// Drops the backup secret: everything issued under it is refused from now on.
    pub fn retire_backup(&self) {
        let mut ring = self.0.ring.write().unwrap_or_else(PoisonError::into_inner);
        *ring = Arc::new(KeyRing::clone(&ring).retire_backup());
    }

    /// Rotates the Edgecast keys the same way.
    pub fn rotate_edge(&self, new_primary: EdgeKey) -> Result<(), Error> {
        let mut edge = self.0.edge.write().unwrap_or_else(PoisonError::into_inner);
        *edge = Arc::new(EdgeKeyRing::clone(&edge).rotate(new_primary)?);
        Ok(())
    }

    /// Drops the Edgecast backup key.
    pub fn retire_edge_backup(&self) {
        let mut edge = self.0.edge.write().unwrap_or_else(PoisonError::into_inner);
        *edge = Arc::new(EdgeKeyRing::clone(&edge).retire_backup());
    }

    /// The cache-link signer over the ring now in force, with the `/fotoweb` prefix.
    pub fn cache_signer(&self) -> Result<CacheLinkSigner<Arc<KeyRing>>, Error> {
        CacheLinkSigner::new(self.ring()).prefix(PREFIX)
    }

    /// The URL path of a cache link, signed with the primary secret now in force.
    pub fn cache_link_path(&self, link: &CacheLink, now: OffsetDateTime) -> Result<String, Error> {
        self.cache_signer()?.path(link, now)
    }

    /// The log.
    pub fn log(&self) -> &Log {
        &self.0.log
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }
}

/// The router, to be served with `into_make_service_with_connect_info::<SocketAddr>()`
/// (the cache and edge routes read the client address from the connection).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/fotoweb/", get(login_with_token))
        .route("/fotoweb/cmdrequest/Login.fwx", post(login_with_password))
        .route("/fotoweb/me", get(me))
        .route("/fotoweb/me/tokens/", post(issue_api_token))
        .route("/fotoweb/admin/devices/{id}/revoke", post(revoke_device))
        .route("/fotoweb/admin/tokens/{id}/revoke", post(revoke_api_token))
        .route("/fotoweb/admin/users/{user}/devices", get(user_devices))
        .route("/fotoweb/admin/users/{user}/tokens", get(user_api_tokens))
        .route("/fotoweb/admin/users/{user}/revoke", post(revoke_user))
        .route("/fotoweb/cache/v1/{file}", get(cache_link))
        .route("/edge/{*path}", get(edge))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Logs a refusal and answers with the bare status: no detail reaches the client.
fn refuse(s: &Shared, route: &str, status: StatusCode, kind: &str) -> Response {
    s.log.refused(route, kind);
    status.into_response()
}

/// An error that is the server's own fault (a header it built is not valid, say).
fn internal(s: &Shared, route: &str, kind: &str) -> Response {
    s.log.line(route, "error", &format!("kind={kind}"));
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Who is calling.
enum Caller {
    /// The full API key: the built-in administrator.
    Admin,
    /// A user, with how they proved it.
    User { name: String, via: Via },
}

enum Via {
    /// A session cookie, and its re-sealed value when it opened with the backup secret.
    Session(DeviceId, Option<String>),
    ApiToken {
        app: String,
    },
}

/// Why a request is not served: the status, and the kind that is logged.
struct Denied(StatusCode, &'static str);

impl Denied {
    fn unauthorized(kind: &'static str) -> Self {
        Self(StatusCode::UNAUTHORIZED, kind)
    }
}

/// The answer to a store error: `503` when the storage is unavailable (never "active"),
/// `403` at the device cap, `500` for anything else.
fn store_denied(e: &StoreError) -> Denied {
    match e {
        StoreError::Unavailable(_) => Denied(StatusCode::SERVICE_UNAVAILABLE, "store-unavailable"),
        StoreError::DeviceLimit { .. } => Denied(StatusCode::FORBIDDEN, "device-limit"),
        StoreError::InvalidArgument(_) => Denied(StatusCode::BAD_REQUEST, "store-invalid-argument"),
        _ => Denied(StatusCode::INTERNAL_SERVER_ERROR, "store-error"),
    }
}

/// The caller from the `FWAPIToken` header or, when there is none, the `FWSession`
/// cookie: the signature, then the store (revoked or unknown: 401; store down: 503).
async fn authenticate(
    s: &Shared,
    route: &str,
    headers: &HeaderMap,
    now: OffsetDateTime,
) -> Result<Caller, Denied> {
    let mut values = Vec::new();
    for v in headers.get_all(API_TOKEN_HEADER) {
        values.push(v.to_str().map_err(|_| Denied::unauthorized("malformed"))?);
    }
    let presented = api_token_from_headers(values.iter().map(|v| (API_TOKEN_HEADER, *v)))
        .map_err(|e| Denied::unauthorized(error_kind(&e)))?;
    let ring = s
        .ring
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Some(token) = presented {
        let api_key = s
            .api_key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if api_key.is_some_and(|k| k.verify_header(token)) {
            return Ok(Caller::Admin);
        }
        // The owner rule on every request: a token for the owner is refused whatever it
        // says (one minted before the owner was configured, say).
        let claims = ApiToken::verify_with_policy(&ring, token, now, LEEWAY, &s.api_policy)
            .map_err(|e| Denied::unauthorized(error_kind(&e)))?;
        // Registered when issued, and not revoked since.
        match s.store.is_api_token_active(&claims.token_id, now).await {
            Ok(true) => {}
            Ok(false) => return Err(Denied::unauthorized("revoked-api-token")),
            Err(e) => return Err(store_denied(&e)),
        }
        if claims.needs_reissue() {
            s.log.note(route, "api token verified with the backup key");
        }
        let claims = claims.into_inner();
        return Ok(Caller::User {
            name: claims.user,
            via: Via::ApiToken {
                app: claims.app.to_string(),
            },
        });
    }

    // Every FWSession value is verified. Two that verify to *different* devices are
    // refused as ambiguous: a sibling subdomain can plant its own valid cookie beside the
    // user's (session fixation), and taking the first that verifies would let it win.
    let mut kind = "no-credentials";
    let mut found: Option<Verified<DeviceClaims>> = None;
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(SessionCookie::find_all)
        .take(MAX_SESSION_COOKIES);
    for token in cookies {
        match DeviceToken::verify_with_policy(&ring, token, now, &s.device_policy) {
            Ok(claims) => match &found {
                Some(first) if first.device_id != claims.device_id => {
                    return Err(Denied::unauthorized("ambiguous-session"));
                }
                Some(_) => {}
                None => found = Some(claims),
            },
            Err(e) => kind = error_kind(&e),
        }
    }
    let Some(claims) = found else {
        return Err(Denied::unauthorized(kind));
    };
    match s.store.is_device_active(&claims.device_id).await {
        Ok(true) => {}
        Ok(false) => return Err(Denied::unauthorized("revoked-device")),
        Err(e) => return Err(store_denied(&e)),
    }
    // At most one write a minute per device; a failure here does not refuse the request.
    if s.store.touch_device(&claims.device_id, now).await.is_err() {
        s.log
            .note(route, "last-seen not recorded: store unavailable");
    }
    // Opened with the backup secret: re-seal the same device under the primary so the
    // session survives the backup's retirement.
    let fresh = if claims.needs_reissue() {
        s.log.note(
            route,
            "session cookie verified with the backup key: re-issued",
        );
        DeviceToken::reissue(&ring, &claims, &mut fwtoken::os_rng()).ok()
    } else {
        None
    };
    let claims = claims.into_inner();
    Ok(Caller::User {
        name: claims.user,
        via: Via::Session(claims.device_id, fresh),
    })
}

/// Registers a new device for `user` and answers `302 /fotoweb/me` with its cookie.
async fn start_session(s: &Shared, route: &str, user: &str) -> Response {
    let ring = s
        .ring
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    // The OS generator: one system call per token, plenty for logins. A server that
    // seals many tokens per second would seed a userspace CSPRNG from it instead.
    let mut rng = fwtoken::os_rng();
    let now = now();
    let (token, record) = match DeviceToken::issue(&ring, user, now, &mut rng) {
        Ok(t) => t,
        Err(e) => return refuse(s, route, StatusCode::BAD_REQUEST, error_kind(&e)),
    };
    let limit = DeviceLimit::refuse(s.device_policy.device_cap());
    if let Err(e) = s.store.register_device(&record, limit, now).await {
        let Denied(status, kind) = store_denied(&e);
        return refuse(s, route, status, kind);
    }
    let cookie = SessionCookie::new()
        .set_cookie(&token)
        .ok()
        .and_then(|c| HeaderValue::from_str(&c).ok());
    let Some(cookie) = cookie else {
        return internal(s, route, "cookie");
    };
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, HeaderValue::from_static("/fotoweb/me")),
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

/// The client's address: the connection's peer, or behind a trusted proxy the last
/// `X-Forwarded-For` entry (the one the proxy itself appended).
fn client_ip(s: &Shared, headers: &HeaderMap, peer: SocketAddr) -> Result<IpAddr, &'static str> {
    if !s.trust_proxy {
        return Ok(peer.ip());
    }
    let Some(last) = headers.get_all("x-forwarded-for").iter().next_back() else {
        return Ok(peer.ip());
    };
    let text = last.to_str().map_err(|_| "bad-forwarded-for")?;
    text.rsplit(',')
        .next()
        .map(str::trim)
        .and_then(|a| a.parse().ok())
        .ok_or("bad-forwarded-for")
}

/// True when the query string carries a credential: `FWAPIToken` or `FWSession`, in any
/// case. Such URLs end up in logs and browser histories, so they are refused outright.
fn credentials_in_query(uri: &Uri) -> Result<bool, QueryRejection> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)?;
    Ok(pairs.iter().any(|(name, _)| {
        name.eq_ignore_ascii_case(API_TOKEN_HEADER) || name.eq_ignore_ascii_case("FWSession")
    }))
}

fn json_response(status: StatusCode, media_type: &'static str, body: Vec<u8>) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// The media type of a `Content-Type` header, without parameters, in lower case.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next()?.trim().to_ascii_lowercase())
}

/// A grey PNG of the given size (a gradient, so it is visibly an image).
fn render_png(width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut pixels = Vec::with_capacity(width as usize * height as usize);
    for y in 0..height {
        for x in 0..width {
            pixels.push(((x + y) % 256) as u8);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct LoginQuery {
    lt: String,
}

/// `GET /fotoweb/?lt=TOKEN`
async fn login_with_token(
    State(state): State<AppState>,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Response {
    const ROUTE: &str = "login-token";
    let s = &*state.0;
    let Ok(Query(q)) = query else {
        return refuse(s, ROUTE, StatusCode::BAD_REQUEST, "bad-query");
    };
    let ring = state.ring();
    let now = now();
    let claims = match LoginToken::verify(&ring, &q.lt, now, &s.login_policy) {
        Ok(c) => c,
        Err(e) => return refuse(s, ROUTE, StatusCode::UNAUTHORIZED, error_kind(&e)),
    };
    // Single use: the first request with this token (on any server sharing the store)
    // logs in; every later one is refused. It is recorded by what it says, so
    // re-encoding it (`+`, space, `%2B`) is the same token, and kept as long as the
    // token verifies (its end plus the leeway).
    if s.single_use_login {
        match s
            .store
            .use_login_token(
                &login_token_key(&q.lt, &claims),
                claims.expires + LEEWAY,
                now,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => return refuse(s, ROUTE, StatusCode::UNAUTHORIZED, "login-token-used"),
            Err(e) => {
                let Denied(status, kind) = store_denied(&e);
                return refuse(s, ROUTE, status, kind);
            }
        }
    }
    if claims.needs_reissue() {
        s.log.note(
            ROUTE,
            "login token verified with the backup key: the issuer should move to the new secret",
        );
    }
    start_session(s, ROUTE, &claims.user).await
}

/// What the used-token record keys a login token by. The text is no key: one token
/// arrives in several spellings (a raw `+` becomes a space, `%2B`, `%2F`, `%3D` may stay
/// encoded) that the verifier accepts as the same bytes (`SECURITY.md`). A FotoWeb-format
/// token is a function of its claims and the secret, so its verified claims identify it
/// whatever the spelling; a sealed token (random IV, one strict spelling) is keyed by its
/// text.
pub fn login_token_key(token: &str, claims: &LoginClaims) -> String {
    match claims.format {
        LoginFormat::FotoWeb => format!(
            "fotoweb:{}:{}:{}:{}:{}",
            claims.user.len(),
            claims.user,
            claims.not_before.unix_timestamp(),
            claims.expires.unix_timestamp(),
            claims.widgets
        ),
        LoginFormat::Sealed => format!("sealed:{token}"),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    u: String,
    p: String,
}

/// `POST /fotoweb/cmdrequest/Login.fwx` with `u=USER&p=PASSWORD`
async fn login_with_password(
    State(state): State<AppState>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    const ROUTE: &str = "login-password";
    let s = &*state.0;
    let Ok(Form(f)) = form else {
        return refuse(s, ROUTE, StatusCode::BAD_REQUEST, "bad-form");
    };
    // PBKDF2 is deliberately slow: keep it off the async worker threads.
    let checker = state.clone();
    let user = tokio::task::spawn_blocking(move || {
        checker.0.users.authenticate(&f.u, &f.p).map(String::from)
    })
    .await;
    match user {
        Ok(Some(user)) => start_session(s, ROUTE, &user).await,
        Ok(None) => refuse(s, ROUTE, StatusCode::UNAUTHORIZED, "bad-credentials"),
        Err(_) => internal(s, ROUTE, "task"),
    }
}

/// `GET /fotoweb/me`
async fn me(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    const ROUTE: &str = "me";
    let s = &*state.0;
    match credentials_in_query(&uri) {
        Ok(false) => {}
        Ok(true) => return refuse(s, ROUTE, StatusCode::BAD_REQUEST, "credentials-in-query"),
        Err(_) => return refuse(s, ROUTE, StatusCode::BAD_REQUEST, "bad-query"),
    }
    let mut fresh_cookie = None;
    let body = match authenticate(s, ROUTE, &headers, now()).await {
        Ok(Caller::Admin) => serde_json::json!({
            "user": null, "role": "administrator", "via": "api-key",
        }),
        Ok(Caller::User {
            name,
            via: Via::Session(device, fresh),
        }) => {
            fresh_cookie = fresh.and_then(|t| SessionCookie::new().set_cookie(&t).ok());
            serde_json::json!({
                "user": name, "role": "user", "via": "session", "device": device.to_string(),
            })
        }
        Ok(Caller::User {
            name,
            via: Via::ApiToken { app },
        }) => serde_json::json!({
            "user": name, "role": "user", "via": "api-token", "app": app,
        }),
        Err(Denied(status, kind)) => return refuse(s, ROUTE, status, kind),
    };
    let mut response = json_response(
        StatusCode::OK,
        "application/json",
        body.to_string().into_bytes(),
    );
    if let Some(value) = fresh_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `POST /fotoweb/me/tokens/` with the full API key
async fn issue_api_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const ROUTE: &str = "api-tokens";
    let s = &*state.0;
    let now = now();
    if let Err(r) = require_admin(s, ROUTE, &headers, now).await {
        return r;
    }
    if media_type(&headers).as_deref() != Some(API_TOKEN_REQUEST_MEDIA_TYPE) {
        return refuse(s, ROUTE, StatusCode::UNSUPPORTED_MEDIA_TYPE, "media-type");
    }
    let Ok(request) = serde_json::from_slice::<ApiTokenRequest>(&body) else {
        return refuse(s, ROUTE, StatusCode::BAD_REQUEST, "bad-body");
    };
    let ring = state.ring();
    let issued =
        ApiToken::issue_with_record(&ring, &request, now, &s.api_policy, &mut fwtoken::os_rng());
    let (info, record) = match issued {
        Ok(issued) => issued,
        Err(e @ (Error::DeniedUser | Error::DeniedApplication)) => {
            return refuse(s, ROUTE, StatusCode::FORBIDDEN, error_kind(&e));
        }
        Err(e) => return refuse(s, ROUTE, StatusCode::BAD_REQUEST, error_kind(&e)),
    };
    // Registered before it is handed out: a token the store does not know is refused.
    if let Err(e) = s.store.register_api_token(&record, now).await {
        let Denied(status, kind) = store_denied(&e);
        return refuse(s, ROUTE, status, kind);
    }
    match serde_json::to_vec(&info) {
        Ok(body) => json_response(StatusCode::OK, API_TOKEN_INFO_MEDIA_TYPE, body),
        Err(_) => internal(s, ROUTE, "json"),
    }
}

/// `POST /fotoweb/admin/devices/{id}/revoke` with the full API key
async fn revoke_device(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    const ROUTE: &str = "revoke-device";
    let s = &*state.0;
    let now = now();
    if let Err(r) = require_admin(s, ROUTE, &headers, now).await {
        return r;
    }
    let device = match DeviceId::parse(&id) {
        Ok(d) => d,
        Err(e) => return refuse(s, ROUTE, StatusCode::BAD_REQUEST, error_kind(&e)),
    };
    match s.store.revoke_device(&device, now).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => refuse(s, ROUTE, StatusCode::NOT_FOUND, "unknown-device"),
        Err(e) => {
            let Denied(status, kind) = store_denied(&e);
            refuse(s, ROUTE, status, kind)
        }
    }
}

/// `Ok` for the full API key; otherwise the response to send (401, 403, 503).
async fn require_admin(
    s: &Shared,
    route: &str,
    headers: &HeaderMap,
    now: OffsetDateTime,
) -> Result<(), Response> {
    match authenticate(s, route, headers, now).await {
        Ok(Caller::Admin) => Ok(()),
        Ok(Caller::User { .. }) => {
            Err(refuse(s, route, StatusCode::FORBIDDEN, "not-administrator"))
        }
        Err(Denied(status, kind)) => Err(refuse(s, route, status, kind)),
    }
}

/// `POST /fotoweb/admin/tokens/{id}/revoke` with the full API key: `204`, or `404` when
/// the token was not active.
async fn revoke_api_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    const ROUTE: &str = "revoke-api-token";
    let s = &*state.0;
    let now = now();
    if let Err(r) = require_admin(s, ROUTE, &headers, now).await {
        return r;
    }
    let Ok(token_id) = id.parse::<ApiTokenId>() else {
        return refuse(s, ROUTE, StatusCode::BAD_REQUEST, "malformed");
    };
    match s.store.revoke_api_token(&token_id, now).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => refuse(s, ROUTE, StatusCode::NOT_FOUND, "unknown-api-token"),
        Err(e) => {
            let Denied(status, kind) = store_denied(&e);
            refuse(s, ROUTE, status, kind)
        }
    }
}

/// `GET /fotoweb/admin/users/{user}/devices` with the full API key: a JSON array.
async fn user_devices(
    State(state): State<AppState>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Response {
    const ROUTE: &str = "user-devices";
    let s = &*state.0;
    if let Err(r) = require_admin(s, ROUTE, &headers, now()).await {
        return r;
    }
    admin_list(s, ROUTE, s.store.devices_of(&user).await, |e| {
        serde_json::json!({
            "device_id": e.device_id.to_string(),
            "user": e.user,
            "issued_at": fwtoken::rfc3339(e.issued_at),
            "last_seen": e.last_seen.map(fwtoken::rfc3339),
            "revoked_at": e.revoked_at.map(fwtoken::rfc3339),
            "active": e.is_active(),
        })
    })
}

/// An admin listing as a JSON array, or the store's refusal (503 when it is unavailable).
fn admin_list<T>(
    s: &Shared,
    route: &'static str,
    entries: Result<Vec<T>, StoreError>,
    to_json: impl Fn(&T) -> serde_json::Value,
) -> Response {
    match entries {
        Ok(entries) => json_response(
            StatusCode::OK,
            "application/json",
            serde_json::Value::Array(entries.iter().map(to_json).collect())
                .to_string()
                .into_bytes(),
        ),
        Err(e) => {
            let Denied(status, kind) = store_denied(&e);
            refuse(s, route, status, kind)
        }
    }
}

/// `GET /fotoweb/admin/users/{user}/tokens` with the full API key: a JSON array of the
/// user's registered API tokens (every spelling of the identity), oldest issue first.
async fn user_api_tokens(
    State(state): State<AppState>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Response {
    const ROUTE: &str = "user-api-tokens";
    let s = &*state.0;
    let now = now();
    if let Err(r) = require_admin(s, ROUTE, &headers, now).await {
        return r;
    }
    admin_list(s, ROUTE, s.store.api_tokens_of(&user).await, |e| {
        serde_json::json!({
            "id": e.id.to_string(),
            "user": e.user,
            "app": e.app,
            "issued_at": fwtoken::rfc3339(e.issued_at),
            "expires": fwtoken::rfc3339(e.expires),
            "revoked_at": e.revoked_at.map(fwtoken::rfc3339),
            "active": e.is_active(now),
        })
    })
}

/// `POST /fotoweb/admin/users/{user}/revoke` with the full API key: every device and API
/// token of the user; the counts as JSON.
async fn revoke_user(
    State(state): State<AppState>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Response {
    const ROUTE: &str = "revoke-user";
    let s = &*state.0;
    let now = now();
    if let Err(r) = require_admin(s, ROUTE, &headers, now).await {
        return r;
    }
    let counts = async {
        let devices = s.store.revoke_user_devices(&user, now).await?;
        let api_tokens = s.store.revoke_user_api_tokens(&user, now).await?;
        Ok::<_, StoreError>((devices, api_tokens))
    };
    match counts.await {
        Ok((devices, api_tokens)) => json_response(
            StatusCode::OK,
            "application/json",
            serde_json::json!({ "devices": devices, "api_tokens": api_tokens })
                .to_string()
                .into_bytes(),
        ),
        Err(e) => {
            let Denied(status, kind) = store_denied(&e);
            refuse(s, ROUTE, status, kind)
        }
    }
}

/// `GET /fotoweb/cache/v1/{token}.{ext}`
async fn cache_link(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    const ROUTE: &str = "cache";
    let s = &*state.0;
    if uri.query().is_some() {
        return refuse(s, ROUTE, StatusCode::NOT_FOUND, "query");
    }
    let ip = match client_ip(s, &headers, peer) {
        Ok(ip) => ip,
        Err(kind) => return refuse(s, ROUTE, StatusCode::BAD_REQUEST, kind),
    };
    let now = now();
    let signer = match state.cache_signer() {
        Ok(signer) => signer,
        Err(e) => return internal(s, ROUTE, error_kind(&e)),
    };
    let opened = match signer.parse_path(uri.path(), now, Some(ip)) {
        Ok(o) => o,
        Err(e) => return refuse(s, ROUTE, StatusCode::NOT_FOUND, error_kind(&e)),
    };
    let reissue = opened.needs_reissue();
    let link = opened.into_inner();
    if link.format.as_deref() != Some("png") {
        return refuse(s, ROUTE, StatusCode::NOT_FOUND, "unsupported-format");
    }
    let width = link.width.or(link.height).unwrap_or(DEFAULT_PREVIEW_SIDE);
    let height = link.height.or(link.width).unwrap_or(DEFAULT_PREVIEW_SIDE);
    let (width, height) = (u32::from(width), u32::from(height));
    if width * height > MAX_PREVIEW_PIXELS {
        return refuse(s, ROUTE, StatusCode::NOT_FOUND, "preview-too-large");
    }
    // A client-bound link must never be answered from a shared cache to someone else;
    // any other is cacheable up to its expiry, and at most MAX_AGE_CAP.
    let cache_control = if link.client.is_some() {
        CLIENT_BOUND_CACHE_CONTROL.to_string()
    } else {
        let max_age = match link.expires {
            Some(expires) => (expires - now).whole_seconds().max(0).unsigned_abs(),
            None => MAX_AGE_CAP,
        };
        format!("public, max-age={}", max_age.min(MAX_AGE_CAP))
    };
    let Ok(Ok(image)) = tokio::task::spawn_blocking(move || render_png(width, height)).await else {
        return internal(s, ROUTE, "png");
    };
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("image/png"))],
        image,
    )
        .into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&cache_control) {
        h.insert(header::CACHE_CONTROL, v);
    }
    if reissue {
        s.log.note(ROUTE, "cache link opened with the backup key");
        h.insert("x-reissue", HeaderValue::from_static("1"));
        // The same link under the new primary secret, for the page to switch to.
        if let Some(v) = signer
            .path(&link, now)
            .ok()
            .and_then(|p| HeaderValue::from_str(&p).ok())
        {
            h.insert("x-reissue-path", v);
        }
    }
    response
}

#[derive(Deserialize)]
struct EdgeQuery {
    token: String,
}

/// `GET /edge/{path}?token=TOKEN`
async fn edge(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<EdgeQuery>, QueryRejection>,
) -> Response {
    const ROUTE: &str = "edge";
    let s = &*state.0;
    let Ok(Query(q)) = query else {
        return refuse(s, ROUTE, StatusCode::FORBIDDEN, "no-token");
    };
    let ip = match client_ip(s, &headers, peer) {
        Ok(ip) => ip,
        Err(kind) => return refuse(s, ROUTE, StatusCode::FORBIDDEN, kind),
    };
    let params = match state.edge_ring().decrypt_params(&q.token) {
        Ok(p) => p,
        Err(e) => return refuse(s, ROUTE, StatusCode::FORBIDDEN, error_kind(&e)),
    };
    if params.needs_reissue() {
        s.log
            .note(ROUTE, "edgecast token decrypted with the backup key");
    }
    let forwarded_https = s.trust_proxy
        && headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let protocol = if forwarded_https {
        EdgeProto::Https
    } else {
        EdgeProto::Http
    };
    // The host is the configured public name (a client chooses its Host header, so it
    // must not decide ec_host_allow/ec_host_deny), and the path is normalized once.
    let path = match edge_path(uri.path()) {
        Ok(p) => p,
        Err(kind) => return refuse(s, ROUTE, StatusCode::FORBIDDEN, kind),
    };
    let mut request = EdgeRequest::new(now(), ip, protocol, &s.public_host, &path);
    if let Some(referrer) = headers.get(header::REFERER).and_then(|r| r.to_str().ok()) {
        request = request.referrer(referrer);
    }
    match params.evaluate(&request, Duration::ZERO) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
            format!("edge content for {path}\n"),
        )
            .into_response(),
        Err(refusal) => refuse(s, ROUTE, StatusCode::FORBIDDEN, refusal.param()),
    }
}

/// The path an `/edge/` request is evaluated against: percent-decoded exactly once, and
/// refused (`Err` holds the kind) when it could mean another path to a file system or an
/// origin than to the rule: an encoded `/` or `\\`, any `\\`, a `.` or `..` segment (raw or
/// encoded), a control character, bad percent-encoding or bytes that are not UTF-8.
pub fn edge_path(raw: &str) -> Result<String, &'static str> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .ok_or("bad-percent-encoding")?;
                let text = std::str::from_utf8(hex).map_err(|_| "bad-percent-encoding")?;
                let v = u8::from_str_radix(text, 16).map_err(|_| "bad-percent-encoding")?;
                if v == b'/' || v == b'\\' {
                    return Err("encoded-separator");
                }
                out.push(v);
                i += 3;
            }
            b'\\' => return Err("backslash"),
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    let path = String::from_utf8(out).map_err(|_| "not-utf8")?;
    if path.chars().any(char::is_control) {
        return Err("control-character");
    }
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err("dot-segment");
    }
    Ok(path)
}
