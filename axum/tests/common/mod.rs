//! A site for the tests: a handle on a store (memory, SQLite, with injected faults), a
//! router with a handler per extractor, and requests sent with `oneshot`.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fwtoken::time::OffsetDateTime;
use fwtoken::{ApiKey, EdgeKey, EdgeKeyRing, KeyRing, LoginToken, Secret};
use fwtoken_axum::{
    Admin, CacheLinkRequest, Caller, EdgePath, Event, FwAuth, FwAuthBuilder, Session,
};
use fwtoken_store::testing::FaultInjector;
use fwtoken_store::{Store, StoreConfig};
use http::{HeaderMap, Request, StatusCode, header};
use tower::ServiceExt;

pub const SECRET: &str = "the site's encryption secret for the fwtoken-axum tests";
pub const NEXT_SECRET: &str = "the site's next encryption secret for the fwtoken-axum tests";
pub const API_KEY: &str = "the site's full API key for the fwtoken-axum tests";
pub const OWNER: &str = "siteowner";
pub const DENIED: &str = "mallory";
pub const PUBLIC_HOST: &str = "media.example.com";
pub const EDGE_KEY: &str = "EdgePrimaryKey2026";
/// The client address every request comes from.
pub const CLIENT: [u8; 4] = [192, 0, 2, 10];

pub fn ring() -> KeyRing {
    KeyRing::new(Secret::from_text(SECRET).unwrap())
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A site under test: its handle, its app, what it reported, its faults.
#[derive(Clone)]
pub struct Site {
    pub auth: FwAuth,
    pub app: Router,
    pub events: Arc<Mutex<Vec<String>>>,
    pub faults: FaultInjector,
}

/// The handlers, one per extractor.
async fn me(caller: Caller) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&caller).unwrap(),
    )
        .into_response()
}

async fn maybe(caller: Option<Caller>) -> String {
    match caller {
        Some(c) => format!("some {}", serde_json::to_string(&c).unwrap()),
        None => "none".into(),
    }
}

/// Several extractors that all need the caller: it is computed once.
async fn everything(caller: Caller, again: Option<Caller>, _: Admin) -> String {
    assert_eq!(Some(&caller), again.as_ref());
    "admin".into()
}

async fn session(s: Session) -> String {
    s.user
}

async fn cache(request: CacheLinkRequest) -> Response {
    let body = format!("rendition of {}", request.link().path);
    request.respond(body)
}

async fn edge(EdgePath(path): EdgePath) -> String {
    format!("edge content for {path}\n")
}

/// The app the tests drive: the crate's routes plus a handler per extractor.
pub fn app(auth: &FwAuth) -> Router {
    Router::new()
        .route("/fotoweb/me", get(me))
        .route("/optional", get(maybe))
        .route("/everything", get(everything))
        .route("/session", get(session))
        .route("/fotoweb/cache/v1/{file}", get(cache))
        .route("/edge/{*path}", get(edge))
        .merge(fwtoken_axum::routes())
        .layer(auth.edge_guard("/edge/"))
        .layer(auth.layer())
}

/// The usual settings: the full key, an owner, a denied user, Edgecast keys, a fixed
/// after-login path, every event recorded.
pub fn builder(store: Store, events: &Arc<Mutex<Vec<String>>>) -> FwAuthBuilder {
    let sink = Arc::clone(events);
    FwAuth::builder(ring(), store)
        .api_key(ApiKey::from_text(API_KEY).unwrap())
        .site_owner(OWNER)
        .deny_user(DENIED)
        .after_login("/fotoweb/me")
        .edge(
            EdgeKeyRing::new(EdgeKey::new(EDGE_KEY).unwrap()),
            PUBLIC_HOST,
        )
        .on_event(move |e| sink.lock().unwrap().push(describe(e)))
}

/// One line per event, as a server's log would have it.
pub fn describe(e: &Event<'_>) -> String {
    match e {
        Event::Refused { route, refusal } => format!(
            "refused route={route} status={} kind={}",
            refusal.status().as_u16(),
            refusal.kind()
        ),
        Event::Note { route, note } => format!("note route={route} {note}"),
        Event::SecretsReloaded { primary, .. } => format!("secrets reloaded: primary {primary}"),
        Event::SecretsNotReloaded { error } => format!("secrets not reloaded: {error}"),
        // As the server's log has them.
        Event::Stats { .. } | Event::SecretsWarning { .. } => e.to_string(),
        _ => "other".into(),
    }
}

impl Site {
    /// A site on a store with this configuration (faults injectable).
    pub async fn with(
        config: StoreConfig,
        tweak: impl FnOnce(FwAuthBuilder) -> FwAuthBuilder,
    ) -> Self {
        let faults = FaultInjector::new();
        let store = Store::memory(config.faults(&faults)).await.unwrap();
        Self::on(store, faults, tweak)
    }

    /// A site on `store`.
    pub fn on(
        store: Store,
        faults: FaultInjector,
        tweak: impl FnOnce(FwAuthBuilder) -> FwAuthBuilder,
    ) -> Self {
        let events = Arc::new(Mutex::new(Vec::new()));
        let auth = tweak(builder(store, &events)).build().unwrap();
        Self {
            app: app(&auth),
            auth,
            events,
            faults,
        }
    }

    /// The default site: a memory store with its cache.
    pub async fn new() -> Self {
        Self::with(StoreConfig::new().purge_every(None), |b| b).await
    }

    /// A memory store without a cache: every check reaches the backend.
    pub async fn uncached() -> Self {
        Self::with(StoreConfig::new().purge_every(None).cache(false), |b| b).await
    }

    pub fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    /// A refusal on `route` with `kind` was reported.
    pub fn refused(&self, route: &str, kind: &str) -> bool {
        let tail = format!("kind={kind}");
        self.events()
            .iter()
            .any(|l| l.starts_with(&format!("refused route={route} ")) && l.ends_with(&tail))
    }

    /// Sends a request through the app with `oneshot`.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let mut request = request;
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((CLIENT, 40_000))));
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: body.to_vec(),
        }
    }

    /// `GET path` with these headers.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut b = Request::get(path);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    /// `POST path` with these headers and an empty body.
    pub async fn post(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut b = Request::post(path);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    /// A fresh login token for `user` under the ring in force (each one a second longer
    /// than the last: FotoWeb's format is deterministic and login tokens single-use).
    pub fn login_token(&self, user: &str) -> String {
        login_token(&self.auth.ring(), user)
    }

    /// `GET /fotoweb/?lt=…` for `user`.
    pub async fn login(&self, user: &str) -> Answer {
        let url = fwtoken::login_url("/fotoweb/", &self.login_token(user));
        self.get(&url, &[]).await
    }

    /// Logs `user` in; the `FWSession=…` pair to send back.
    pub async fn session(&self, user: &str) -> String {
        let answer = self.login(user).await;
        assert_eq!(answer.status, StatusCode::FOUND, "{user}");
        answer.session_cookie()
    }

    /// `GET /fotoweb/me` with this `Cookie` header.
    pub async fn me(&self, cookie: &str) -> Answer {
        self.get("/fotoweb/me", &[("cookie", cookie)]).await
    }
}

/// A fresh login token (see [`Site::login_token`]).
pub fn login_token(ring: &KeyRing, user: &str) -> String {
    static ISSUED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = ISSUED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    LoginToken::builder(user)
        .valid_for(Duration::from_secs(600 + n))
        .issue(ring, now())
        .unwrap()
}

/// A response, read.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    /// The `FWSession=…` pair of the (last) `Set-Cookie` that sets it.
    pub fn session_cookie(&self) -> String {
        let set = self.set_cookies();
        let last = set
            .iter()
            .rev()
            .find(|c| c.starts_with("FWSession="))
            .unwrap_or_else(|| panic!("no FWSession cookie in {:?}", self.headers));
        last.split(';').next().unwrap().to_string()
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }
}

/// A refusal: this status and an empty body (the default rendering says nothing).
pub fn assert_bare(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert!(answer.body.is_empty(), "a refusal says nothing: {answer:?}");
}
