//! The administrator's routes (the site's full API key only): revoke a device or an API
//! token, list a user's devices and API tokens, revoke everything of a user.

use axum::Router;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::{get, post};
use fwtoken::time::OffsetDateTime;
use fwtoken::{ApiTokenId, DeviceId};
use fwtoken_store::StoreError;
use http::StatusCode;

use crate::auth::FwAuth;
use crate::caller::Admin;
use crate::refusal::{Refusal, error_kind};
use crate::routes::json;

/// The administrator's routes, each refused with 401 without a credential and 403 for a
/// user:
///
/// | route | answer |
/// |-------|--------|
/// | `POST /fotoweb/admin/devices/{id}/revoke` | `204`; `404` when it was not active; `400` for a malformed id |
/// | `POST /fotoweb/admin/tokens/{id}/revoke` | `204`; `404` when it was not active; `400` for a malformed id |
/// | `GET /fotoweb/admin/users/{user}/devices` | `200` JSON array of `{"device_id","user","issued_at","last_seen","revoked_at","active"}` |
/// | `GET /fotoweb/admin/users/{user}/tokens` | `200` JSON array of `{"id","user","app","issued_at","expires","revoked_at","active"}` (never the token) |
/// | `POST /fotoweb/admin/users/{user}/revoke` | every device and API token of the user (FotoWeb's "log out of all sessions"): `200 {"devices":N,"api_tokens":M}` |
/// | `GET /fotoweb/admin/stats` | `200` JSON object of this server's store counters ([`stats_json`](crate::stats_json): hits, misses, hit rate, entries, evictions, invalidated, full clears, known version, …) |
///
/// Users are matched by identity (every spelling of the account). [`routes`](crate::routes)
/// includes these. Another full-key route is a handler that takes [`Admin`] first:
///
/// ```
/// use axum::{Router, routing::get};
/// use fwtoken_axum::{Admin, FwAuth};
/// async fn limit(_: Admin, auth: FwAuth) -> String {
///     format!("{:?}", auth.device_limit())
/// }
/// let admin: Router = fwtoken_axum::admin_routes().route("/fotoweb/admin/limit", get(limit));
/// ```
pub fn admin_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/fotoweb/admin/devices/{id}/revoke", post(revoke_device))
        .route("/fotoweb/admin/tokens/{id}/revoke", post(revoke_api_token))
        .route("/fotoweb/admin/users/{user}/devices", get(user_devices))
        .route("/fotoweb/admin/users/{user}/tokens", get(user_api_tokens))
        .route("/fotoweb/admin/users/{user}/revoke", post(revoke_user))
        .route("/fotoweb/admin/stats", get(crate::stats::stats))
}

fn store(e: StoreError) -> Refusal {
    Refusal::from_store(&e)
}

/// `POST /fotoweb/admin/devices/{id}/revoke`
async fn revoke_device(
    _: Admin,
    auth: FwAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, Refusal> {
    let device = DeviceId::parse(&id).map_err(|e| Refusal::bad_request(error_kind(&e)))?;
    match auth
        .store()
        .revoke_device(&device, OffsetDateTime::now_utc())
        .await
    {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(Refusal::not_found("unknown-device")),
        Err(e) => Err(store(e)),
    }
}

/// `POST /fotoweb/admin/tokens/{id}/revoke`
async fn revoke_api_token(
    _: Admin,
    auth: FwAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, Refusal> {
    let token = id
        .parse::<ApiTokenId>()
        .map_err(|_| Refusal::bad_request("malformed"))?;
    match auth
        .store()
        .revoke_api_token(&token, OffsetDateTime::now_utc())
        .await
    {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(Refusal::not_found("unknown-api-token")),
        Err(e) => Err(store(e)),
    }
}

/// A JSON array answer.
fn list(entries: Vec<serde_json::Value>) -> Response {
    json(
        StatusCode::OK,
        "application/json",
        serde_json::Value::Array(entries).to_string().into_bytes(),
    )
}

/// `GET /fotoweb/admin/users/{user}/devices`
async fn user_devices(
    _: Admin,
    auth: FwAuth,
    Path(user): Path<String>,
) -> Result<Response, Refusal> {
    let entries = auth.store().devices_of(&user).await.map_err(store)?;
    Ok(list(
        entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "device_id": e.device_id.to_string(),
                    "user": e.user,
                    "issued_at": fwtoken::rfc3339(e.issued_at),
                    "last_seen": e.last_seen.map(fwtoken::rfc3339),
                    "revoked_at": e.revoked_at.map(fwtoken::rfc3339),
                    "active": e.is_active(),
                })
            })
            .collect(),
    ))
}

/// `GET /fotoweb/admin/users/{user}/tokens`
async fn user_api_tokens(
    _: Admin,
    auth: FwAuth,
    Path(user): Path<String>,
) -> Result<Response, Refusal> {
    let now = OffsetDateTime::now_utc();
    let entries = auth.store().api_tokens_of(&user).await.map_err(store)?;
    Ok(list(
        entries
            .iter()
            .map(|e| {
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
            .collect(),
    ))
}

/// `POST /fotoweb/admin/users/{user}/revoke`
async fn revoke_user(
    _: Admin,
    auth: FwAuth,
    Path(user): Path<String>,
) -> Result<Response, Refusal> {
    let now = OffsetDateTime::now_utc();
    let devices = auth
        .store()
        .revoke_user_devices(&user, now)
        .await
        .map_err(store)?;
    let api_tokens = auth
        .store()
        .revoke_user_api_tokens(&user, now)
        .await
        .map_err(store)?;
    Ok(json(
        StatusCode::OK,
        "application/json",
        serde_json::json!({ "devices": devices, "api_tokens": api_tokens })
            .to_string()
            .into_bytes(),
    ))
}
