//! The serving helper on a real socket (`127.0.0.1:0`): slow-header, silent, slow-body and
//! idle clients are closed within the configured timeouts while legitimate requests are
//! answered; the connection limit holds; shutdown lets requests in flight finish.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fwtoken_axum::ServeConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::Site;

const HEADER: Duration = Duration::from_millis(400);
const BODY: Duration = Duration::from_millis(500);
const IDLE: Duration = Duration::from_millis(700);
/// Scheduling slack on a busy 2-core machine.
const SLACK: Duration = Duration::from_millis(600);

fn config() -> ServeConfig {
    ServeConfig::new()
        .header_timeout(HEADER)
        .body_timeout(BODY)
        .idle_timeout(IDLE)
}

async fn start(config: ServeConfig) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let site = Site::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        site.auth
            .serve_with(listener, site.app.clone(), config)
            .await
            .unwrap();
    });
    (addr, task)
}

/// Reads until the server closes the connection; how long that took from `since`.
async fn closed_after(stream: &mut TcpStream, since: Instant, limit: Duration) -> Duration {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return since.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("still open after {limit:?}"),
        }
    }
}

/// One whole request on a new connection; the status line, and how long it took.
async fn request(addr: SocketAddr) -> (String, Duration) {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /fotoweb/me HTTP/1.1\r\nHost: site\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    (
        answer.lines().next().unwrap_or("").to_string(),
        start.elapsed(),
    )
}

fn within(took: Duration, limit: Duration) {
    assert!(
        took + Duration::from_millis(50) >= limit,
        "closed too early: {took:?} < {limit:?}"
    );
    assert!(
        took <= limit + SLACK,
        "closed too late: {took:?} > {limit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_closed_in_time_while_others_are_served() {
    let (addr, server) = start(config()).await;

    // A slow-header client: a byte every 100 ms, never finishing its head.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let since = Instant::now();
    slow.write_all(b"GET /fotoweb/me HTTP/1.1\r\nHost: site\r\n")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            if slow.write_all(b"X").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        slow
    });
    // A client that connects and says nothing.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let silent_since = Instant::now();
    // A slow-body client: a complete head, then one body byte every 100 ms.
    let mut body = TcpStream::connect(addr).await.unwrap();
    body.write_all(
        b"POST /fotoweb/me/logout HTTP/1.1\r\nHost: site\r\nContent-Length: 100\r\n\r\nx",
    )
    .await
    .unwrap();
    let body_since = Instant::now();
    let body_trickle = tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if body.write_all(b"x").await.is_err() {
                break;
            }
        }
        body
    });

    // Meanwhile a legitimate client is answered at once.
    let (status, took) = request(addr).await;
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    assert!(took < Duration::from_millis(300), "{took:?}");

    let took = closed_after(&mut silent, silent_since, HEADER + SLACK * 2).await;
    println!("a silent connection was closed after {took:?} (header timeout {HEADER:?})");
    within(took, HEADER);
    let mut slow = trickle.await.unwrap();
    let took = closed_after(&mut slow, since, HEADER + SLACK * 2).await;
    println!("a slow-header connection was closed after {took:?} (header timeout {HEADER:?})");
    within(took, HEADER);
    let mut body = body_trickle.await.unwrap();
    let took = closed_after(&mut body, body_since, BODY + SLACK * 2).await;
    println!("a slow-body connection was closed after {took:?} (body timeout {BODY:?})");
    within(took, BODY);

    // An idle keep-alive connection: one request answered, then nothing.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /fotoweb/me HTTP/1.1\r\nHost: site\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    let idle_since = Instant::now();
    assert!(buf[..n].starts_with(b"HTTP/1.1 401"));
    // A second request on it within the idle timeout is served (keep-alive works).
    tokio::time::sleep(IDLE / 2).await;
    idle.write_all(b"GET /fotoweb/me HTTP/1.1\r\nHost: site\r\n\r\n")
        .await
        .unwrap();
    let n = idle.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 401"));
    let idle_since2 = Instant::now();
    let took = closed_after(&mut idle, idle_since2, IDLE + SLACK * 2).await;
    println!("an idle keep-alive connection was closed after {took:?} (idle timeout {IDLE:?})");
    within(took, IDLE);
    assert!(idle_since.elapsed() > IDLE);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_holds_and_timeouts_free_the_slots() {
    let (addr, server) = start(config().max_connections(2)).await;
    // Two connections that say nothing hold both slots.
    let _a = TcpStream::connect(addr).await.unwrap();
    let _b = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A third is accepted by the kernel but served only once the header timeout closed
    // one of them.
    let (status, took) = request(addr).await;
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    println!("with both slots held by silent clients, a request was answered after {took:?}");
    assert!(took + Duration::from_millis(100) >= HEADER, "{took:?}");
    assert!(took <= HEADER + SLACK * 2, "{took:?}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_closes_idle_connections() {
    let site = Site::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = site.app.clone();
    let server = tokio::spawn(async move {
        config()
            .idle_timeout(Duration::from_secs(30))
            .serve_until(listener, app, async {
                let _ = stopped.await;
            })
            .await
    });
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /fotoweb/me HTTP/1.1\r\nHost: site\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 401"));
    let since = Instant::now();
    stop.send(()).unwrap();
    let took = closed_after(&mut idle, since, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}
