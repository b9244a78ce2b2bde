//! The example server as separate processes (`target/.../examples/server`), driven over
//! loopback with a real HTTP client and the `fwtoken` command: restarts with SIGKILL on a
//! SQLite file, revocation from the command line while the server runs, secrets rotated by
//! SIGHUP under load, single-use login tokens, the raw `+` of FotoWare's PHP generator,
//! the start-up banner, and two instances on one PostgreSQL database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fwtoken::time::OffsetDateTime;
use fwtoken::{ApiTokenInfo, ApiTokenRequest, DeviceToken, KeyRing, KeySlot, LoginToken, Secret};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE};
use support::{Launch, Server, fwtoken, http, session_cookie, write_secrets};

const SECRET: &str = "4f1c9a0e7d2b6c3a8e5f0d1b2c3a4e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3";
const NEXT_SECRET: &str = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d";
const API_KEY: &str = "the site's full API key for the process tests";

fn ring(secret: &str) -> KeyRing {
    KeyRing::new(Secret::from_text(secret).unwrap())
}

/// A login token no other call returns: FotoWeb's format is deterministic and login tokens
/// are single-use, so each gets a validity one second longer than the last.
fn login_token(secret: &str, user: &str) -> String {
    static ISSUED: AtomicU64 = AtomicU64::new(0);
    let n = ISSUED.fetch_add(1, Ordering::Relaxed);
    LoginToken::builder(user)
        .valid_for(Duration::from_secs(600 + n))
        .issue(&ring(secret), OffsetDateTime::now_utc())
        .unwrap()
}

/// `GET /fotoweb/?lt=TOKEN`, percent-encoded as `login_url` writes it.
async fn login(server: &Server, token: &str) -> reqwest::Response {
    let url = fwtoken::login_url(&server.url("/fotoweb/"), token);
    http().get(url).send().await.unwrap()
}

async fn me(server: &Server, cookie: &str) -> reqwest::Response {
    http()
        .get(server.url("/fotoweb/me"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

async fn json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> T {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

async fn me_status(server: &Server, cookie: &str) -> StatusCode {
    me(server, cookie).await.status()
}

/// A server with a fixed secret and API key on the SQLite file in `dir`.
fn sqlite_launch(dir: &std::path::Path) -> Launch {
    Launch::default()
        .env("FWTOKEN_SECRET", SECRET)
        .env("FWTOKEN_API_KEY", API_KEY)
        .arg("--store")
        .arg(format!("sqlite:{}", dir.join("fw.sqlite").display()))
}

/// The device id in a session cookie.
fn device_of(cookie: &str, secret: &str) -> String {
    let token = cookie.strip_prefix("FWSession=").unwrap();
    DeviceToken::verify(&ring(secret), token)
        .unwrap()
        .device_id
        .to_string()
}

/// Polls until `status` answers `want`, up to `limit`; the time it took.
async fn until_status<F, Fut>(limit: Duration, want: StatusCode, mut status: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StatusCode>,
{
    let start = Instant::now();
    loop {
        if status().await == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "still not {want} after {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_revocations_and_the_cap_survive_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let launch = sqlite_launch(dir.path());
    let store = format!("sqlite:{}", dir.path().join("fw.sqlite").display());

    let server = launch.start().unwrap();
    assert!(
        server
            .stdout()
            .iter()
            .any(|l| l == &format!("store: {store}")),
        "{:?}",
        server.stdout()
    );
    let cookie = session_cookie(&login(&server, &login_token(SECRET, "alice")).await);
    assert_eq!(me_status(&server, &cookie).await, StatusCode::OK);

    // SIGKILL and start again on the same file: the same cookie still works.
    server.kill();
    let server = launch.start().unwrap();
    assert_eq!(me_status(&server, &cookie).await, StatusCode::OK);

    // Revoked with the command line on the same file while the server runs: refused.
    let device = device_of(&cookie, SECRET);
    let o = fwtoken(&["device", "revoke", &device, "--store", &store], &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let took = until_status(Duration::from_secs(5), StatusCode::UNAUTHORIZED, || {
        me_status(&server, &cookie)
    })
    .await;
    println!("a revocation by another process on the SQLite file was seen after {took:?}");
    // Still refused after another SIGKILL and restart.
    server.kill();
    let server = launch.start().unwrap();
    assert_eq!(me_status(&server, &cookie).await, StatusCode::UNAUTHORIZED);

    // The device cap (10, FotoWeb's) counts devices registered before a restart.
    for _ in 0..10 {
        let r = login(&server, &login_token(SECRET, "bob")).await;
        assert_eq!(r.status(), StatusCode::FOUND);
    }
    server.kill();
    let server = launch.start().unwrap();
    let eleventh = login(&server, &login_token(SECRET, "bob")).await;
    assert_eq!(eleventh.status(), StatusCode::FORBIDDEN);
    let list = fwtoken(&["device", "list", "--user", "bob", "--store", &store], &[]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 10);
    assert!(
        server
            .stderr()
            .iter()
            .any(|l| l.contains("kind=device-limit"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_url_opened_twice_is_refused_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = sqlite_launch(dir.path()).start().unwrap();
    let token = login_token(SECRET, "carol");
    assert_eq!(login(&server, &token).await.status(), StatusCode::FOUND);
    assert_eq!(
        login(&server, &token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Re-spelled (a raw `+` arrives as a space, `%2B` left encoded): the same token.
    let url = format!(
        "{}?lt={}",
        server.url("/fotoweb/"),
        token.replace('+', "%252B")
    );
    assert_eq!(
        http().get(url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(
        server
            .stderr()
            .iter()
            .any(|l| l.contains("kind=login-token-used"))
    );
    // Also after a restart (the used-token record is in the file).
    server.kill();
    let server = sqlite_launch(dir.path()).start().unwrap();
    assert_eq!(
        login(&server, &token).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // With --allow-login-token-reuse a client that resends one token is served.
    server.kill();
    let server = sqlite_launch(dir.path())
        .arg("--allow-login-token-reuse")
        .start()
        .unwrap();
    let token = login_token(SECRET, "carol");
    assert_eq!(login(&server, &token).await.status(), StatusCode::FOUND);
    assert_eq!(login(&server, &token).await.status(), StatusCode::FOUND);
}

/// A FotoWeb login token whose base64 holds a `+`.
fn token_with_plus(secret: &str) -> (String, String) {
    for user in ["ab~", "x>y", "Zoë", "ab~~", "a>b>c"] {
        for extra in 0..200 {
            let token = LoginToken::builder(user)
                .valid_for(Duration::from_secs(900 + extra))
                .issue(&ring(secret), OffsetDateTime::now_utc())
                .unwrap();
            if token.contains('+') {
                return (user.to_string(), token);
            }
        }
    }
    panic!("no token with a `+`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_token_sent_raw_as_the_php_generator_sends_it_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let server = sqlite_launch(dir.path()).start().unwrap();
    let (user, token) = token_with_plus(SECRET);
    // FotoWare's PHP generator appends the standard base64 to `?lt=` without
    // percent-encoding: the `+` goes on the wire as is, and a form-style query decoder
    // reads it as a space.
    let raw = format!("{}?lt={token}", server.url("/fotoweb/"));
    assert!(raw.contains('+'));
    let response = http().get(&raw).send().await.unwrap();
    let cookie = session_cookie(&response);
    let who: serde_json::Value = json(me(&server, &cookie).await).await;
    assert_eq!(who["user"], user.as_str());
    // The percent-encoded spelling of the same token: already used.
    assert_eq!(
        login(&server, &token).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_rotate_on_sighup_while_requests_run() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    write_secrets(
        &secrets,
        &format!("primary = {SECRET}\napi_key = {API_KEY}\n"),
        0o600,
    );
    let launch = Launch::default()
        .arg("--secrets-file")
        .arg(secrets.display().to_string())
        .arg("--store")
        .arg("memory");
    let server = Arc::new(launch.start().unwrap());
    let old_cookie = session_cookie(&login(&server, &login_token(SECRET, "dana")).await);

    // Requests keep running through the rotation; none may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (server, stop, cookie) = (Arc::clone(&server), Arc::clone(&stop), old_cookie.clone());
        workers.push(tokio::spawn(async move {
            let client = http();
            let (mut ok, mut failed) = (0u32, 0u32);
            while !stop.load(Ordering::Relaxed) {
                let r = client
                    .get(server.url("/fotoweb/me"))
                    .header(COOKIE, &cookie)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == StatusCode::OK => ok += 1,
                    _ => failed += 1,
                }
            }
            (ok, failed)
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The new secret becomes the primary, the old one the backup; then SIGHUP.
    write_secrets(
        &secrets,
        &format!("primary = {NEXT_SECRET}\nbackup = {SECRET}\napi_key = {API_KEY}\n"),
        0o600,
    );
    server.hangup();
    // The old cookie is answered with a re-issued one once the new ring is in force.
    let start = Instant::now();
    let fresh = loop {
        let r = me(&server, &old_cookie).await;
        assert_eq!(r.status(), StatusCode::OK);
        if let Some(c) = r.headers().get("set-cookie") {
            break c.to_str().unwrap().split(';').next().unwrap().to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no re-issue after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    println!("SIGHUP took effect after {:?}", start.elapsed());
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut failed) = (0, 0);
    for w in workers {
        let (o, f) = w.await.unwrap();
        ok += o;
        failed += f;
    }
    println!("{ok} requests during the rotation, {failed} failed");
    assert!(ok > 0);
    assert_eq!(failed, 0);

    // The re-issued cookie and new logins are under the new secret.
    let only_new = ring(NEXT_SECRET);
    let token = fresh.strip_prefix("FWSession=").unwrap();
    assert_eq!(
        DeviceToken::verify(&only_new, token).unwrap().slot(),
        KeySlot::Primary
    );
    assert_eq!(me_status(&server, &fresh).await, StatusCode::OK);
    let new_cookie = session_cookie(&login(&server, &login_token(NEXT_SECRET, "erin")).await);
    let token = new_cookie.strip_prefix("FWSession=").unwrap();
    assert!(DeviceToken::verify(&only_new, token).is_ok());
    assert!(DeviceToken::verify(&ring(SECRET), token).is_err());
    // Login tokens from an issuer still on the old secret work during the rotation.
    assert_eq!(
        login(&server, &login_token(SECRET, "dana")).await.status(),
        StatusCode::FOUND
    );
    assert!(
        server
            .stderr()
            .iter()
            .any(|l| l.contains("secrets reloaded"))
    );
    // A broken file on the next SIGHUP keeps the secrets in force.
    write_secrets(&secrets, "primary = \n", 0o600);
    server.hangup();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(me_status(&server, &new_cookie).await, StatusCode::OK);
    assert!(
        server
            .stderr()
            .iter()
            .any(|l| l.contains("secrets not reloaded"))
    );
    // No secret in any line the server printed.
    for line in server.stdout().iter().chain(&server.stderr()) {
        for s in [SECRET, NEXT_SECRET, API_KEY] {
            assert!(!line.contains(s), "{line}");
        }
    }
}

#[test]
fn a_secrets_file_others_can_read_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    write_secrets(&secrets, &format!("primary = {SECRET}\n"), 0o644);
    let launch = Launch::default()
        .arg("--secrets-file")
        .arg(secrets.display().to_string())
        .arg("--store")
        .arg("memory");
    let (code, stderr) = launch.start().err().unwrap();
    assert_eq!(code, Some(2));
    assert!(stderr.contains("too open"), "{stderr}");
    assert!(!stderr.contains(SECRET));
    // The same file made private: accepted.
    write_secrets(&secrets, &format!("primary = {SECRET}\n"), 0o600);
    assert!(launch.start().is_ok());
}

#[test]
fn the_banner_shows_a_login_url_only_for_a_throwaway_secret() {
    let dir = tempfile::tempdir().unwrap();
    // No configuration at all: the default SQLite file in the working directory, and a
    // throwaway secret with a login URL to try.
    let throwaway = Launch::default().dir(dir.path()).start().unwrap();
    let out = throwaway.stdout().join("\n");
    assert!(out.contains("/fotoweb/?lt="), "{out}");
    assert!(out.contains("store: sqlite:fwtoken-server.sqlite"), "{out}");
    assert!(dir.path().join("fwtoken-server.sqlite").exists());
    drop(throwaway);
    // The site's real secret: no working login URL is printed (before the fix it was).
    let real = Launch::default()
        .env("FWTOKEN_SECRET", SECRET)
        .arg("--store")
        .arg("memory")
        .start()
        .unwrap();
    let out = real.stdout().join("\n");
    assert!(!out.contains("lt="), "{out}");
    assert!(out.contains("fwtoken login issue"), "{out}");
    // A store URL's password is never printed, also when the store cannot be opened.
    let (code, stderr) = Launch::default()
        .arg("--store")
        .arg("postgres://fw:hunter2@127.0.0.1:1/fw")
        .start()
        .err()
        .unwrap();
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("postgres://fw:***@127.0.0.1:1/fw"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"));
}

/// `FWTOKEN_TEST_POSTGRES_URL`, or a visible SKIPPED line.
fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("FWTOKEN_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("SKIPPED {test}: FWTOKEN_TEST_POSTGRES_URL is not set (postgres)");
            {
                use std::io::Write;
                // Straight to the stream: libtest captures eprintln! of a passing test.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {test}: FWTOKEN_TEST_POSTGRES_URL is not set (postgres)"
                );
            }
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_database() {
    let Some(url) = postgres_url("two_instances_on_one_postgres_database") else {
        return;
    };
    let launch = Launch::default()
        .env("FWTOKEN_SECRET", SECRET)
        .env("FWTOKEN_API_KEY", API_KEY)
        .arg("--store")
        .arg(url.clone());
    let a = launch.start().unwrap();
    let b = launch.start().unwrap();
    // Names no other run uses (the database is shared with other tests).
    let tag = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let user = format!("pg-user-{tag}");

    // Logged in on A, the cookie works on B.
    let cookie = session_cookie(&login(&a, &login_token(SECRET, &user)).await);
    assert_eq!(me_status(&b, &cookie).await, StatusCode::OK);
    assert_eq!(me_status(&a, &cookie).await, StatusCode::OK);

    // Revoked on A: B refuses within the store's bound (measured).
    let device = device_of(&cookie, SECRET);
    let revoke = http()
        .post(a.url(&format!("/fotoweb/admin/devices/{device}/revoke")))
        .header("FWAPIToken", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let took = until_status(Duration::from_secs(5), StatusCode::UNAUTHORIZED, || {
        me_status(&b, &cookie)
    })
    .await;
    println!("instance B refused a device revoked on A after {took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");

    // An API token issued on A and revoked through B is refused on A.
    let request = ApiTokenRequest::new(&user, "CMS", Duration::from_secs(600));
    let issued = http()
        .post(a.url("/fotoweb/me/tokens/"))
        .header("FWAPIToken", API_KEY)
        .header(CONTENT_TYPE, fwtoken::API_TOKEN_REQUEST_MEDIA_TYPE)
        .body(serde_json::to_vec(&request).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), StatusCode::OK);
    let info: ApiTokenInfo = json(issued).await;
    let with_token = |server: &Server| {
        http()
            .get(server.url("/fotoweb/me"))
            .header("FWAPIToken", info.token.clone())
            .send()
    };
    assert_eq!(with_token(&a).await.unwrap().status(), StatusCode::OK);
    let revoked = http()
        .post(b.url(&format!("/fotoweb/admin/users/{user}/revoke")))
        .header("FWAPIToken", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let counts: serde_json::Value = json(revoked).await;
    assert_eq!(counts["api_tokens"], 1);
    let took = until_status(Duration::from_secs(5), StatusCode::UNAUTHORIZED, || async {
        with_token(&a).await.unwrap().status()
    })
    .await;
    println!("instance A refused an API token revoked through B after {took:?}");

    // One login URL, opened on A and then on B: the second is refused.
    let token = login_token(SECRET, &user);
    assert_eq!(login(&a, &token).await.status(), StatusCode::FOUND);
    assert_eq!(login(&b, &token).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_the_server_cannot_write_is_refused_at_start() {
    // On the project's disk (chattr needs a file system with the flag).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let launch = sqlite_launch(dir.path());
    // Created by a first start: a valid database.
    launch.start().unwrap().kill();
    let _guard = fwtoken_store::testing::ReadOnlyFile::new(&dir.path().join("fw.sqlite")).unwrap();
    // Before the fix it started, answered the session with 200 and every login with 503.
    let (code, stderr) = launch.start().err().expect("started on a read-only store");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot be written"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_sqlite_file_is_503_never_active() {
    let dir = tempfile::tempdir().unwrap();
    let server = sqlite_launch(dir.path()).start().unwrap();
    let cookie = session_cookie(&login(&server, &login_token(SECRET, "alice")).await);
    assert_eq!(me_status(&server, &cookie).await, StatusCode::OK);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("fw.sqlite{suffix}")));
    }
    // A login writes at once: refused (before the fix it went to the unlinked file and was
    // forgotten at the next restart).
    let r = login(&server, &login_token(SECRET, "bob")).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    // A cached session counts for at most the store's max_stale (5 s), then 503.
    let took = until_status(
        Duration::from_secs(7),
        StatusCode::SERVICE_UNAVAILABLE,
        || me_status(&server, &cookie),
    )
    .await;
    println!("a deleted SQLite file: sessions answered 503 after {took:?}");
    assert!(took <= Duration::from_millis(5_500), "{took:?}");
    assert!(!dir.path().join("fw.sqlite").exists());
    assert!(
        server
            .stderr()
            .iter()
            .any(|l| l.contains("kind=store-unavailable"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_header_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let server = sqlite_launch(dir.path()).start().unwrap();
    let addr = server.base.strip_prefix("http://").unwrap().to_string();
    // Before the fix such a connection stayed open for good (over 45 s measured).
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let start = Instant::now();
    slow.write_all(b"GET /fotoweb/me HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Meanwhile other clients are served.
    let cookie = session_cookie(&login(&server, &login_token(SECRET, "alice")).await);
    assert_eq!(me_status(&server, &cookie).await, StatusCode::OK);
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            // A byte a second keeps it busy but not complete.
            match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(_) => {
                    let _ = slow.write_all(b"X").await;
                }
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "still open after 15 s");
    let took = start.elapsed();
    println!("a partial header was closed after {took:?} (header timeout 10 s)");
    assert!(took >= Duration::from_secs(9), "{took:?}");
}
