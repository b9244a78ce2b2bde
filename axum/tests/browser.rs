//! A real browser: headless Chromium driven over WebDriver (chromedriver, with the
//! `fantoccini` crate). A page on another origin links to `?lt=`; Chromium follows it,
//! keeps the `SameSite=Lax`, `Secure`, `HttpOnly` cookie on `http://localhost`, reaches
//! `/fotoweb/me`, logs out with a form, and the old cookie is refused afterwards.
//!
//! Without `chromium` and `chromedriver` it prints a `SKIPPED browser` line and passes,
//! unless `FWTOKEN_REQUIRE_BROWSER=1` (as `.ci/run` sets): then it fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use fantoccini::{Client, ClientBuilder, Locator};
use fwtoken_store::testing::FaultInjector;
use fwtoken_store::{Store, StoreConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::Site;

/// The first of `names` found on `PATH`.
fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A visible line past the test harness's capture.
fn visible(line: &str) {
    use std::io::Write;
    println!("{line}");
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// chromedriver, stopped (by its own id) when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

async fn start_driver(chromedriver: &PathBuf) -> Driver {
    let port = free_port().await;
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

async fn browser(driver: &Driver, chromium: &PathBuf, profile: &std::path::Path) -> Client {
    // This machine has no network: nothing in the background, a fresh profile; as root
    // Chromium needs --no-sandbox.
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium, "args": args },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap()
}

/// Serves `app` on 127.0.0.1 (port chosen by the OS).
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        fwtoken_axum::ServeConfig::default()
            .serve(listener, app)
            .await
            .unwrap();
    });
    addr
}

/// `GET /fotoweb/me` with this `Cookie` header, by hand; the status code.
async fn status_with_cookie(addr: SocketAddr, cookie: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /fotoweb/me HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    answer.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Polls `f` until it is true.
async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_from_another_origin_and_logs_out() {
    let required = std::env::var("FWTOKEN_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let (Some(chromium), Some(chromedriver)) = (
        which(&["chromium", "chromium-browser", "google-chrome"]),
        which(&["chromedriver"]),
    ) else {
        assert!(
            !required,
            "FWTOKEN_REQUIRE_BROWSER=1 but chromium or chromedriver is missing"
        );
        visible("SKIPPED browser: chromium and chromedriver are not installed");
        return;
    };

    // The site, on http://localhost:PORT.
    let store = Store::memory(StoreConfig::new()).await.unwrap();
    let site = Site::on(store, FaultInjector::new(), |b| b);
    let logout_page = Html(
        "<!doctype html><title>site</title>\
         <form method=post action=/fotoweb/me/logout><button id=logout>log out</button></form>",
    );
    let app = Router::new()
        .route("/page", get(move || async move { logout_page }))
        .merge(site.app.clone());
    let addr = serve(app).await;
    let base = format!("http://localhost:{}", addr.port());

    // Another origin (another site, to the browser): a CMS page linking to the login URL.
    let token = site.login_token("alice");
    let login_url = fwtoken::login_url(&format!("{base}/fotoweb/"), &token);
    let cms_page = Html(format!(
        "<!doctype html><title>cms</title><a id=go href=\"{login_url}\">open the DAM</a>"
    ));
    let cms = serve(Router::new().route("/", get(move || async move { cms_page }))).await;

    let driver = start_driver(&chromedriver).await;
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, &chromium, profile.path()).await;

    client
        .goto(&format!("http://127.0.0.1:{}/", cms.port()))
        .await
        .unwrap();
    client
        .find(Locator::Id("go"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until("the redirect to /fotoweb/me", || async {
        client
            .current_url()
            .await
            .is_ok_and(|u| u.path() == "/fotoweb/me")
    })
    .await;
    let text = client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let me: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(me["user"], "alice");
    assert_eq!(me["via"], "session");

    // The cookie as the browser keeps it.
    let cookie = client.get_named_cookie("FWSession").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(
        cookie.same_site().map(|s| s.to_string()).as_deref(),
        Some("Lax")
    );
    assert_eq!(cookie.path(), Some("/"));
    let old = format!("FWSession={}", cookie.value());
    assert_eq!(status_with_cookie(addr, &old).await, 200);

    // Log out with the site's own form: 204 and the cookie cleared (Max-Age=0).
    client.goto(&format!("{base}/page")).await.unwrap();
    client
        .find(Locator::Id("logout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until("the cookie to be cleared", || async {
        client
            .get_all_cookies()
            .await
            .is_ok_and(|all| all.iter().all(|c| c.name() != "FWSession"))
    })
    .await;
    // The browser is signed out, and the old cookie is refused (its device is revoked).
    client.goto(&format!("{base}/fotoweb/me")).await.unwrap();
    let text = client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("alice"), "{text}");
    assert_eq!(status_with_cookie(addr, &old).await, 401);
    assert!(site.refused("/fotoweb/me", "revoked-device"));
    // The login URL was single use: opening it again is refused.
    client.goto(&login_url).await.unwrap();
    assert!(
        client
            .get_all_cookies()
            .await
            .unwrap()
            .iter()
            .all(|c| c.name() != "FWSession")
    );
    assert!(site.refused("/fotoweb/", "login-token-used"));

    client.close().await.unwrap();
    visible("browser: Chromium logged in from another origin, kept the cookie, logged out");
}
