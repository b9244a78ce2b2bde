//! A custom server in 30 lines (the README's): FotoWeb sign-in with fwtoken-axum.
use axum::{Router, routing::get};
use fwtoken::{ApiKey, KeyRing, Secret};
use fwtoken_axum::{Caller, FwAuth};
use fwtoken_store::{Store, StoreConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ring = KeyRing::new(Secret::from_text(&std::env::var("FWTOKEN_SECRET")?)?);
    let api_key = std::env::var("FWTOKEN_API_KEY").ok();
    let store = Store::sqlite("fwtoken.sqlite3", StoreConfig::new()).await?;
    let auth = FwAuth::builder(ring, store)
        .api_key(api_key.as_deref().map(ApiKey::from_text).transpose()?)
        .site_owner("siteowner")
        .after_login("/fotoweb/me")
        .build()?;
    let app = Router::new()
        .route("/fotoweb/me", get(me)) // your handlers: any that takes a `Caller`
        .merge(fwtoken_axum::routes()) // ?lt= login, API tokens, logout, admin routes
        .layer(auth.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    auth.serve(listener, app).await?; // store write check, timeouts, connection limit
    Ok(())
}

async fn me(caller: Caller) -> String {
    match caller.user() {
        Some(user) => format!("hello {}\n", user.name),
        None => "hello, administrator\n".into(),
    }
}
