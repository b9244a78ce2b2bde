//! `GET /fotoweb/me` with a session cookie and a cached SQLite device check, through an
//! axum router with `oneshot`: `layer` goes through `FwAuthLayer` and the `Caller`
//! extractor; `direct` is the same router and the same response, its handler calling
//! `DeviceToken::verify_with_policy` and the store's check itself. Budget: `layer` ≤ 1.2 ×
//! `direct`, both measured in one run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use fwtoken::time::OffsetDateTime;
use fwtoken::{DevicePolicy, DeviceToken, KeyRing, Secret, SessionCookie};
use fwtoken_axum::{Caller, FwAuth, Refusal};
use fwtoken_store::{Store, StoreConfig};
use http::{Request, StatusCode, header};
use tower::ServiceExt;

/// The response both routes give: the caller as JSON, not to be cached.
fn respond(caller: &Caller) -> Response {
    let body = serde_json::to_vec(caller).unwrap();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn with_layer(caller: Caller) -> Response {
    respond(&caller)
}

#[derive(Clone)]
struct Direct {
    ring: Arc<RwLock<Arc<KeyRing>>>,
    store: Store,
    policy: DevicePolicy,
}

/// The handler that does it itself: the ring in force, the cookie, the signature, the
/// store (revoked: 401, unavailable: 503), `last_seen`.
async fn direct(State(s): State<Direct>, request: Request<Body>) -> Response {
    let ring = Arc::clone(&s.ring.read().unwrap());
    let now = OffsetDateTime::now_utc();
    let cookie = request
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(SessionCookie::find);
    let Some(cookie) = cookie else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Ok(claims) = DeviceToken::verify_with_policy(&ring, cookie, now, &s.policy) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match s.store.is_device_active(&claims.device_id).await {
        Ok(true) => {}
        Ok(false) => return StatusCode::UNAUTHORIZED.into_response(),
        Err(e) => return Refusal::from_store(&e).into_response(),
    }
    let _ = s.store.touch_device(&claims.device_id, now).await;
    let claims = claims.into_inner();
    // The same fields, in the same order, as `Caller`'s JSON.
    let me = Me {
        user: &claims.user,
        role: "user",
        via: "session",
        device: claims.device_id.to_string(),
    };
    let body = serde_json::to_vec(&me).unwrap();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

#[derive(serde::Serialize)]
struct Me<'a> {
    user: &'a str,
    role: &'static str,
    via: &'static str,
    device: String,
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ring =
        KeyRing::new(Secret::from_text("the site's secret for the me_cookie bench").unwrap());
    let (auth, store) = rt.block_on(async {
        let store = Store::sqlite(dir.path().join("bench.sqlite3"), StoreConfig::new())
            .await
            .unwrap();
        let auth = FwAuth::builder(ring.clone(), store.clone())
            .build()
            .unwrap();
        (auth, store)
    });
    let login = rt.block_on(auth.start_session("alice")).unwrap();
    let set_cookie = login.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = format!("theme=dark; {}", set_cookie.split(';').next().unwrap());

    let layer = Router::new()
        .route("/fotoweb/me", get(with_layer))
        .layer(auth.layer());
    let direct_router = Router::new()
        .route("/fotoweb/me", get(direct))
        .with_state(Direct {
            ring: Arc::new(RwLock::new(Arc::new(ring))),
            store,
            policy: DevicePolicy::new().leeway(Duration::from_secs(60)),
        });
    let request = || {
        Request::get("/fotoweb/me")
            .header(header::COOKIE, cookie.as_str())
            .body(Body::empty())
            .unwrap()
    };
    // Both answer the same bytes, and the cache is warm.
    let bodies: Vec<_> = [&layer, &direct_router]
        .map(|router| {
            let r = rt.block_on(router.clone().oneshot(request())).unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            rt.block_on(axum::body::to_bytes(r.into_body(), 4096))
                .unwrap()
        })
        .into();
    assert_eq!(bodies[0], bodies[1]);

    let mut group = c.benchmark_group("me_cookie");
    group.bench_function("layer", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(layer.clone().oneshot(request()).await.unwrap()) });
    });
    // The layer around the whole router (one wrap, before routing), as a server that
    // puts every route under it may add it.
    let around = tower::Layer::layer(
        &auth.layer(),
        Router::new().route("/fotoweb/me", get(with_layer)),
    );
    group.bench_function("layer_around_router", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(around.clone().oneshot(request()).await.unwrap()) });
    });
    group.bench_function("direct", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(direct_router.clone().oneshot(request()).await.unwrap()) });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
