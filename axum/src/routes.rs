//! The FotoWeb routes an integrator mounts with one call ([`routes`]): login by token,
//! API tokens for the full key, logout.

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fwtoken::time::OffsetDateTime;
use fwtoken::{
    API_TOKEN_INFO_MEDIA_TYPE, API_TOKEN_REQUEST_MEDIA_TYPE, ApiToken, ApiTokenRequest,
    LoginClaims, LoginFormat, LoginToken,
};
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};

use crate::admin::admin_routes;
use crate::auth::FwAuth;
use crate::caller::{Admin, Session};
use crate::layer::RequestCtx;
use crate::refusal::{Note, Refusal, error_kind, kind};

/// Largest request body the routes accept (login forms and API-token requests are tiny).
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// The routes of a FotoWeb site, for a router under [`FwAuth::layer`]:
///
/// | route | answer |
/// |-------|--------|
/// | `GET /fotoweb/?lt=TOKEN` | the login token verified (owner and denied users refused, single use, the raw `+` of FotoWare's generator accepted), a device registered under the cap: `302` to the after-login path with `Set-Cookie: FWSession=…` |
/// | `POST /fotoweb/me/tokens/` | full key only: an `ApiTokenRequest` in FotoWeb's media type, the token registered in the store, an `ApiTokenInfo` out in FotoWeb's media type; 415 for another media type, 400 for a bad body or a too-long lifetime, 403 for the owner |
/// | `POST /fotoweb/me/logout` | session only: the device revoked, `204` with the cookie cleared (`Max-Age=0`) |
///
/// and the full-key [`admin_routes`]. Request bodies are limited to 16 KiB.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/fotoweb/", get(login_with_token))
        .route("/fotoweb/me/tokens/", post(issue_api_token))
        .route("/fotoweb/me/logout", post(logout))
        .merge(admin_routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// What the used-token record keys a login token by. The text is no key: one token
/// arrives in several spellings (a raw `+` becomes a space, `%2B`, `%2F`, `%3D` may stay
/// encoded) that the verifier accepts as the same bytes. A FotoWeb-format token is a
/// function of its claims and the secret, so its verified claims identify it whatever the
/// spelling; a sealed token (random IV, one strict spelling) is keyed by its text.
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

/// `GET /fotoweb/?lt=TOKEN`
async fn login_with_token(ctx: RequestCtx, uri: Uri) -> Result<Response, Refusal> {
    let auth = ctx.auth();
    let query = uri.query().unwrap_or_default();
    let mut lts = form_urlencoded::parse(query.as_bytes()).filter(|(n, _)| n == "lt");
    let lt = match (lts.next(), lts.next()) {
        (Some((_, lt)), None) => lt,
        _ => return Err(Refusal::bad_request(kind::BAD_QUERY)),
    };
    let s = &auth.0;
    let now = OffsetDateTime::now_utc();
    let claims = LoginToken::verify(&auth.ring(), &lt, now, &s.login_policy)
        .map_err(|e| Refusal::from_credential(&e))?;
    // Single use: the first request with this token (on any server sharing the store)
    // logs in, every later one is refused; kept as long as the token verifies (its end
    // plus the leeway).
    if s.single_use_login {
        let key = login_token_key(&lt, &claims);
        match s
            .store
            .use_login_token(&key, claims.expires + s.leeway, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(Refusal::unauthorized(kind::LOGIN_TOKEN_USED)),
            Err(e) => return Err(Refusal::from_store(&e)),
        }
    }
    if claims.needs_reissue() {
        ctx.note(Note::LoginTokenBackupKey);
    }
    auth.start_session(&claims.user).await
}

/// The media type of a `Content-Type` header, without parameters, in lower case.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next()?.trim().to_ascii_lowercase())
}

/// A JSON answer that no cache keeps.
pub(crate) fn json(status: StatusCode, media_type: &'static str, body: Vec<u8>) -> Response {
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

/// `POST /fotoweb/me/tokens/` with the full API key.
async fn issue_api_token(
    _: Admin,
    auth: FwAuth,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    if media_type(&headers).as_deref() != Some(API_TOKEN_REQUEST_MEDIA_TYPE) {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media-type",
        ));
    }
    let request = serde_json::from_slice::<ApiTokenRequest>(&body)
        .map_err(|_| Refusal::bad_request("bad-body"))?;
    let now = OffsetDateTime::now_utc();
    let s = &auth.0;
    let (info, record) = ApiToken::issue_with_record(
        &auth.ring(),
        &request,
        now,
        &s.api_policy,
        &mut fwtoken::os_rng(),
    )
    .map_err(|e| match e {
        fwtoken::Error::DeniedUser | fwtoken::Error::DeniedApplication => {
            Refusal::forbidden(error_kind(&e))
        }
        e => Refusal::bad_request(error_kind(&e)),
    })?;
    // Registered before it is handed out: a token the store does not know is refused.
    s.store
        .register_api_token(&record, now)
        .await
        .map_err(|e| Refusal::from_store(&e))?;
    let body = serde_json::to_vec(&info).map_err(|_| Refusal::internal(kind::INTERNAL))?;
    Ok(json(StatusCode::OK, API_TOKEN_INFO_MEDIA_TYPE, body))
}

/// FotoWeb's password login, `POST /fotoweb/cmdrequest/Login.fwx` with the form
/// `u=USER&p=PASSWORD` (`application/x-www-form-urlencoded`), for a router under
/// [`FwAuth::layer`]. `check` is the server's own password check: it gets the user name
/// and the password and returns the name to sign in, or `None`. It runs on tokio's
/// blocking pool (password hashes are slow on purpose); then the answer is
/// [`FwAuth::start_session`]'s. Refused: 400 for a body that is not such a form, 401
/// (`bad-credentials`) when `check` says no.
///
/// ```
/// use axum::Router;
/// let app: Router = fwtoken_axum::password_login(|user, password| {
///     (user == "alice" && password == "a real check, with salted slow hashes").then(|| "alice".into())
/// });
/// ```
pub fn password_login<S, F>(check: F) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    F: Fn(&str, &str) -> Option<String> + Send + Sync + 'static,
{
    let check = std::sync::Arc::new(check);
    let handler = move |auth: FwAuth, headers: HeaderMap, body: Bytes| {
        let check = std::sync::Arc::clone(&check);
        async move {
            let (user, password) =
                login_form(&headers, &body).ok_or(Refusal::bad_request("bad-form"))?;
            let user = tokio::task::spawn_blocking(move || check(&user, &password))
                .await
                .map_err(|_| Refusal::internal(kind::INTERNAL))?
                .ok_or(Refusal::unauthorized("bad-credentials"))?;
            auth.start_session(&user).await
        }
    };
    Router::new()
        .route("/fotoweb/cmdrequest/Login.fwx", post(handler))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// The `u` and `p` fields of a login form (each exactly once).
fn login_form(headers: &HeaderMap, body: &[u8]) -> Option<(String, String)> {
    if media_type(headers).as_deref() != Some("application/x-www-form-urlencoded") {
        return None;
    }
    let (mut user, mut password) = (None, None);
    for (name, value) in form_urlencoded::parse(body) {
        let slot = match &*name {
            "u" => &mut user,
            "p" => &mut password,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return None;
        }
    }
    Some((user?, password?))
}

/// `POST /fotoweb/me/logout` with a session cookie: the device is revoked (on every server
/// sharing the store) and the cookie cleared.
async fn logout(session: Session, auth: FwAuth) -> Result<Response, Refusal> {
    auth.0
        .store
        .revoke_device(&session.device_id, OffsetDateTime::now_utc())
        .await
        .map_err(|e| Refusal::from_store(&e))?;
    Ok((
        StatusCode::NO_CONTENT,
        [
            (header::SET_COOKIE, auth.0.cookie_removal.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}
