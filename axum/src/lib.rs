//! FotoWeb-style sign-in for [axum](https://docs.rs/axum) servers, on [`fwtoken`] and
//! [`fwtoken_store`]: what a custom server needs to verify FotoWeb's tokens in a few lines
//! instead of copying an example.
//!
//! - [`FwAuth`]: one cheap-to-clone handle for a site (key ring, store and settings),
//!   whose ring rotates live ([`FwAuth::rotate`], [`FwAuth::retire_backup`],
//!   [`FwAuth::reload_secrets_file`], `SIGHUP` with the `sighup` feature) without a lock
//!   held during verification.
//! - [`FwAuthLayer`] ([`FwAuth::layer`]): a tower layer that makes the handle available to
//!   handlers, appends the re-sealed `FWSession` cookie when a session opened with the
//!   backup secret, and renders and logs every [`Refusal`] through hooks the integrator
//!   may replace ([`FwAuthBuilder::render`], [`FwAuthBuilder::on_event`]).
//! - Extractors: [`Caller`] (and `Option<Caller>`), [`Admin`], [`Session`], [`ClientIp`],
//!   [`CacheLinkRequest`], [`EdgePath`]; the caller is computed once per request.
//! - [`routes`]: `GET /fotoweb/?lt=`, `POST /fotoweb/me/tokens/`, `POST /fotoweb/me/logout`
//!   and the full-key [`admin_routes`]; [`FwAuth::start_session`] for a user the server
//!   authenticated itself, and [`password_login`] for FotoWeb's login form with the
//!   server's own password check.
//! - [`EventLog`]: refusals and notes as log lines, to stderr or kept for a test.
//! - [`EdgeGuardLayer`] ([`FwAuth::edge_guard`]): Edgecast tokens in front of a path
//!   prefix, against the configured public host and the path decoded once.
//! - [`ServeConfig`] and [`FwAuth::serve`]: serving with header, body and idle timeouts
//!   and a connection limit, after checking that the store can be written.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use fwtoken::{KeyRing, Secret};
//! use fwtoken_axum::{Caller, FwAuth};
//! use fwtoken_store::{Store, StoreConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let ring = KeyRing::new(Secret::from_text("the site's encryption secret")?);
//! let store = Store::sqlite("state.sqlite3", StoreConfig::new()).await?;
//! let auth = FwAuth::builder(ring, store).site_owner("siteowner").build()?;
//! async fn me(caller: Caller) -> String {
//!     format!("{caller:?}")
//! }
//! let app = Router::new()
//!     .route("/fotoweb/me", get(me))
//!     .merge(fwtoken_axum::routes())
//!     .layer(auth.layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! auth.serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! # Status codes
//!
//! | status | when |
//! |--------|------|
//! | 401 | no credential where one is required; a bad signature; expired; revoked or unknown (device, API token); ambiguous sessions (two `FWSession` cookies that open to different devices); a login token used before |
//! | 403 | a user on an administrator route; the device cap; the site owner or a denied user; a name no session may be issued for (RFC 8265: a login token of another generator may carry one) |
//! | 400 | a credential (`FWAPIToken`, `FWSession`) in the query string |
//! | 404 | a bad or expired cache link (no oracle: every reason looks the same) |
//! | 403 | an Edgecast token refused (missing, forged, expired, a rule, a dot segment) |
//! | 503 | the store unavailable ([`fwtoken_store::StoreError::Unavailable`]): never "active", never a logout |
//! | 500 | any other store error; a route without [`FwAuthLayer`] (the body names the layer) |
//!
//! Every refusal is a [`Refusal`]: a status and a short kind (`expired`, `revoked-device`,
//! `ambiguous-session`, `store-unavailable`, …), never token material. The default body is
//! empty; [`FwAuthBuilder::render`] replaces it (RFC 9457 problem details, an HTML page)
//! and [`FwAuthBuilder::on_event`] logs it with the route.
//!
//! # Serving defaults
//!
//! [`ServeConfig::default`]: request headers within 10 s of the connection or of the
//! request's first byte, a request body within 30 s, an idle keep-alive connection closed
//! after 60 s, at most 1024 connections at once (the next waits in the kernel's backlog),
//! request heads of at most 64 KiB. HTTP/1.1; put TLS and HTTP/2 in a proxy in front.
#![forbid(unsafe_code)]
#![deny(clippy::mem_forget)]

mod admin;
mod auth;
mod cache;
mod caller;
mod client;
mod conn;
mod edge;
mod layer;
mod log;
mod refusal;
#[cfg(all(unix, feature = "sighup"))]
mod reload;
mod routes;
mod serve;
mod stats;

pub use admin::admin_routes;
pub use auth::{
    ClientAddress, DEFAULT_CACHE_MAX_AGE, DEFAULT_LEEWAY, DEFAULT_MAX_DEVICES, FwAuth,
    FwAuthBuilder, PREFIX,
};
pub use cache::{CLIENT_BOUND_CACHE_CONTROL, CacheLinkRequest};
pub use caller::{Admin, Caller, Session, User, Via};
pub use client::ClientIp;
pub use edge::{EdgeGuard, EdgeGuardLayer, EdgePath, edge_path};
pub use layer::{FwAuthLayer, FwAuthService, ResponseFuture};
pub use log::EventLog;
pub use refusal::{Event, Note, Refusal, error_kind, kind};
pub use routes::{login_token_key, password_login, routes};
pub use serve::{ServeConfig, ServeError};
pub use stats::stats_json;

/// The store crate, re-exported so an integrator names one version of it.
pub use fwtoken_store;
