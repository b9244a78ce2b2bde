//! State that fails closed, on a real SQLite file: deleted under the running server, its
//! sessions are answered 503 within the store's `max_stale` (never "active") and logins
//! are refused; a file the server cannot write stops it from starting.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fwtoken_axum::{FwAuth, ServeError};
use fwtoken_store::testing::FaultInjector;
use fwtoken_store::{Store, StoreConfig};
use http::StatusCode;

use common::{Site, ring};

const MAX_STALE: Duration = Duration::from_millis(300);

fn config() -> StoreConfig {
    StoreConfig::new().purge_every(None).max_stale(MAX_STALE)
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_sqlite_file_is_503_within_max_stale() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.sqlite3");
    let store = Store::sqlite(&path, config()).await.unwrap();
    let site = Site::on(store, FaultInjector::new(), |b| b);
    let cookie = site.session("alice").await;
    assert_eq!(site.me(&cookie).await.status, StatusCode::OK);

    remove_db(&path);
    let start = Instant::now();
    loop {
        let status = site.me(&cookie).await.status;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(start.elapsed() < MAX_STALE + Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = start.elapsed();
    println!("a deleted SQLite file: 503 after {took:?} (max_stale {MAX_STALE:?})");
    assert!(took <= MAX_STALE + Duration::from_millis(150), "{took:?}");
    // From then on: sessions, logins, logouts and listings are 503, for good.
    for _ in 0..3 {
        assert_eq!(
            site.me(&cookie).await.status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            site.login("bob").await.status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            site.post("/fotoweb/me/logout", &[("cookie", &cookie)])
                .await
                .status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(site.refused("/fotoweb/me", "store-unavailable"));
    assert!(site.refused("/fotoweb/", "store-unavailable"));
    // Nothing was written to a file nobody will open again, and nothing recreated it.
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_the_server_cannot_write_stops_it_from_starting() {
    // On the project's disk (chattr needs a file system with the flag).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("ro.sqlite3");
    // Created on a runtime of its own, closed before the file turns read-only.
    let created = path.clone();
    std::thread::spawn(move || drop(fwtoken_store::BlockingStore::sqlite(created, config())))
        .join()
        .unwrap();
    let _guard = fwtoken_store::testing::ReadOnlyFile::new(&path).unwrap();
    let store = Store::sqlite(&path, config()).await.unwrap();
    let auth = FwAuth::builder(ring(), store).build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = common::app(&auth);
    let served = tokio::time::timeout(Duration::from_secs(10), auth.serve(listener, app))
        .await
        .expect("serve returned at once");
    let e = served.unwrap_err();
    assert!(
        matches!(e, ServeError::Store(ref s) if s.is_unavailable()),
        "{e}"
    );
    assert!(e.to_string().contains("cannot be written"), "{e}");
    // Nothing listens any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writable_store_serves() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::sqlite(dir.path().join("ok.sqlite3"), config())
        .await
        .unwrap();
    let auth = FwAuth::builder(ring(), store).build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = common::app(&auth);
    let server = tokio::spawn(async move { auth.serve(listener, app).await });
    let start = Instant::now();
    loop {
        if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            s.write_all(b"GET /fotoweb/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).await.unwrap();
            assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.abort();
}
