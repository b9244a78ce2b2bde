//! The demo password table, the PNG previews and the router on `fwtoken-axum`;
//! `tests/server_flow.rs` runs the same router in-process and rotates keys through it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fwtoken::rand_core::CryptoRng;
use fwtoken::{ApiKey, EdgeKeyRing, Error, KeyRing};
use fwtoken_axum::{CacheLinkRequest, Caller, EdgePath, FwAuth, Refusal};
use fwtoken_store::{DeviceLimit, Store};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Devices one user may hold at once (FotoWeb's number); the next login is 403.
pub const MAX_DEVICES_PER_USER: usize = fwtoken_axum::DEFAULT_MAX_DEVICES;
/// Side of a preview when the link names neither width nor height; most pixels of one.
const DEFAULT_PREVIEW_SIDE: u16 = 256;
const MAX_PREVIEW_PIXELS: u32 = 4096 * 4096;

/// Salted PBKDF2-HMAC-SHA256 hashes of the demo users' passwords; never the text. OWASP
/// advises 600 000 iterations (or Argon2id); the example uses few so a debug build logs in
/// quickly. An unknown user costs as much as a wrong password (the `dummy` record).
pub struct UserTable {
    users: HashMap<String, (String, [u8; 16], [u8; 32])>,
    iterations: u32,
    dummy: ([u8; 16], [u8; 32]),
}

fn pbkdf2_sha256(password: &str, salt: &[u8; 16], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

impl UserTable {
    pub fn new(iterations: u32, rng: &mut impl CryptoRng) -> Self {
        let (iterations, mut salt) = (iterations.max(1), [0u8; 16]);
        rng.fill_bytes(&mut salt);
        let dummy = (salt, pbkdf2_sha256("", &salt, iterations));
        let users = HashMap::new();
        Self {
            users,
            iterations,
            dummy,
        }
    }

    /// Adds (or replaces) a user; the password is hashed here and not kept.
    pub fn add(&mut self, name: &str, pw: &str, rng: &mut impl CryptoRng) -> Result<(), Error> {
        fwtoken::validate_user_name(name)?;
        if pw.is_empty() {
            return Err(Error::InvalidArgument("empty password"));
        }
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        let hash = pbkdf2_sha256(pw, &salt, self.iterations);
        self.users
            .insert(name.to_lowercase(), (name.into(), salt, hash));
        Ok(())
    }

    /// The user's registered name when `password` is theirs (names match in any case).
    pub fn authenticate(&self, name: &str, password: &str) -> Option<&str> {
        let known = self.users.get(&name.to_lowercase());
        let (salt, hash) = known.map_or(self.dummy, |(_, s, h)| (*s, *h));
        let matches = bool::from(pbkdf2_sha256(password, &salt, self.iterations).ct_eq(&hash));
        known.filter(|_| matches).map(|(n, _, _)| n.as_str())
    }
}

/// The log: `fwtoken-axum`'s event lines (never a token or a secret), to stderr or kept
/// for the test.
pub type Log = fwtoken_axum::EventLog;

/// What the server is started with.
pub struct Config {
    pub ring: KeyRing,
    pub api_key: Option<ApiKey>,
    pub owner: Option<String>,
    pub users: UserTable,
    pub edge: EdgeKeyRing,
    /// Client address and protocol from the last `X-Forwarded-For` / `X-Forwarded-Proto`.
    pub trust_proxy: bool,
    /// What `/edge/` host rules are evaluated against (never the `Host` header).
    pub public_host: String,
    pub store: Store,
    pub allow_login_token_reuse: bool,
    pub legacy_utf8_encode: bool,
}

/// The site's handle (a [`FwAuth`]: `ring()`, `rotate()`, …), the passwords and the log.
#[derive(Clone)]
pub struct AppState {
    auth: FwAuth,
    users: Arc<UserTable>,
    log: Log,
}

impl std::ops::Deref for AppState {
    type Target = FwAuth;
    fn deref(&self) -> &FwAuth {
        &self.auth
    }
}

impl AppState {
    pub fn new(config: Config, log: Log) -> Self {
        let log = log.prefix("fwtoken-server: ");
        let auth = FwAuth::builder(config.ring, config.store)
            .api_key(config.api_key)
            .site_owner(config.owner.as_deref())
            .device_limit(DeviceLimit::refuse(MAX_DEVICES_PER_USER))
            .single_use_login(!config.allow_login_token_reuse)
            .legacy_utf8_encode(config.legacy_utf8_encode)
            .after_login("/fotoweb/me")
            .trust_proxy(config.trust_proxy)
            .edge(config.edge, &config.public_host)
            .on_event(log.hook())
            .build()
            .unwrap();
        let users = Arc::new(config.users);
        Self { auth, users, log }
    }

    pub fn log(&self) -> &Log {
        &self.log
    }
}

/// The router (it reads the client address from the connection: serve it with
/// `ConnectInfo<SocketAddr>`, as `fwtoken_axum::ServeConfig` and `FwAuth::serve` do).
pub fn router(state: AppState) -> Router {
    let users = Arc::clone(&state.users);
    let check = move |u: &str, p: &str| users.authenticate(u, p).map(String::from);
    Router::new()
        .route("/fotoweb/me", get(me))
        .route("/fotoweb/cache/v1/{file}", get(cache_link))
        .route("/edge/{*path}", get(edge))
        .merge(fwtoken_axum::password_login(check))
        .merge(fwtoken_axum::routes())
        .layer(state.edge_guard("/edge/"))
        .layer(state.layer())
}

/// `GET /fotoweb/me`: the caller as JSON.
async fn me(caller: Caller) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], Json(caller))
}

/// `GET /edge/{path}`, behind the Edgecast guard.
async fn edge(EdgePath(path): EdgePath) -> String {
    format!("edge content for {path}\n")
}

/// `GET /fotoweb/cache/v1/{token}.png`: a grey gradient of the link's size.
async fn cache_link(request: CacheLinkRequest) -> Result<Response, Refusal> {
    let link = request.link();
    if link.format.as_deref() != Some("png") {
        return Err(Refusal::not_found("unsupported-format"));
    }
    let w = u32::from(link.width.or(link.height).unwrap_or(DEFAULT_PREVIEW_SIDE));
    let h = u32::from(link.height.or(link.width).unwrap_or(DEFAULT_PREVIEW_SIDE));
    if w * h > MAX_PREVIEW_PIXELS {
        return Err(Refusal::not_found("preview-too-large"));
    }
    let Ok(Ok(png)) = tokio::task::spawn_blocking(move || render_png(w, h)).await else {
        return Err(Refusal::internal("png"));
    };
    Ok(request.respond(([(header::CONTENT_TYPE, "image/png")], png)))
}

fn render_png(width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let pixels: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).map(move |x| ((x + y) % 256) as u8))
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}
