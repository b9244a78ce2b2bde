//! The load run: 10,000 `GET /fotoweb/me` with session cookies over 16 keep-alive
//! connections against the example server as a separate process, once on the memory
//! store and once on a SQLite file (with the store's cache), three rounds each, best round
//! reported: throughput and p99 latency, no error allowed, and the budget SQLite ≥ 0.8 ×
//! memory. Bounded in requests (10,000 per round) and time (a 120 s limit per round).
//!
//! `.ci/run` runs it: `cargo test --all-features --test server_load -- --ignored --nocapture`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_precision_loss,
    missing_docs
)]

mod support;

use std::time::{Duration, Instant};

use fwtoken::time::OffsetDateTime;
use fwtoken::{KeyRing, LoginToken, Secret};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use support::{Launch, Server, session_cookie};

const SECRET: &str = "4f1c9a0e7d2b6c3a8e5f0d1b2c3a4e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3";
const REQUESTS: usize = 10_000;
const CONNECTIONS: usize = 16;
const WARM_UP_PER_CONNECTION: usize = 10;
const ROUND_LIMIT: Duration = Duration::from_secs(120);
/// Interleaved rounds per store; the best of each is compared (a busy machine is noisy).
const ROUNDS: usize = 3;

struct Round {
    throughput: f64,
    p50: Duration,
    p99: Duration,
}

/// A client with at most one connection: each worker is one keep-alive connection.
fn one_connection() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap()
}

async fn round(server: &Server) -> Round {
    let ring = KeyRing::new(Secret::from_text(SECRET).unwrap());
    // One user and one session per connection.
    let mut cookies = Vec::new();
    for i in 0..CONNECTIONS {
        let token = LoginToken::builder(&format!("load{i}"))
            .valid_for(Duration::from_secs(600 + i as u64))
            .issue(&ring, OffsetDateTime::now_utc())
            .unwrap();
        let url = fwtoken::login_url(&server.url("/fotoweb/"), &token);
        let r = one_connection().get(url).send().await.unwrap();
        cookies.push(session_cookie(&r));
    }
    let per = REQUESTS / CONNECTIONS;
    let url = server.url("/fotoweb/me");
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CONNECTIONS + 1));
    let mut workers = Vec::new();
    for cookie in cookies {
        let (url, barrier) = (url.clone(), std::sync::Arc::clone(&barrier));
        workers.push(tokio::spawn(async move {
            let client = one_connection();
            for _ in 0..WARM_UP_PER_CONNECTION {
                let r = client
                    .get(&url)
                    .header(COOKIE, &cookie)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                r.bytes().await.unwrap();
            }
            barrier.wait().await;
            let mut latencies = Vec::with_capacity(per);
            let mut errors = 0usize;
            for _ in 0..per {
                let t = Instant::now();
                let ok = match client.get(&url).header(COOKIE, &cookie).send().await {
                    Ok(r) => r.status() == StatusCode::OK && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if !ok {
                    errors += 1;
                }
                latencies.push(t.elapsed());
            }
            (latencies, errors)
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(REQUESTS);
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    assert_eq!(errors, 0, "requests failed under load");
    assert_eq!(latencies.len(), per * CONNECTIONS);
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Round {
        throughput: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

async fn run(launch: &Launch, name: &str, n: usize) -> Round {
    let server = launch.start().unwrap();
    let r = tokio::time::timeout(ROUND_LIMIT, round(&server))
        .await
        .expect("the load round took too long");
    println!(
        "{name} round {n}: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms",
        r.throughput,
        r.p50.as_secs_f64() * 1e3,
        r.p99.as_secs_f64() * 1e3
    );
    let refusals = server
        .stderr()
        .iter()
        .filter(|l| {
            l.starts_with("fwtoken-server: refused") || l.starts_with("fwtoken-server: error")
        })
        .count();
    assert_eq!(refusals, 0, "{:?}", server.stderr());
    r
}

fn better(best: Option<Round>, r: Round) -> Option<Round> {
    match best {
        Some(b) if b.throughput >= r.throughput => Some(b),
        _ => Some(r),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the load run: .ci/run runs it with --ignored"]
async fn load_run_sqlite_with_cache_against_memory() {
    let dir = tempfile::tempdir().unwrap();
    let memory = Launch::default()
        .env("FWTOKEN_SECRET", SECRET)
        .arg("--store")
        .arg("memory");
    let sqlite = Launch::default()
        .env("FWTOKEN_SECRET", SECRET)
        .arg("--store")
        .arg(format!(
            "sqlite:{}",
            dir.path().join("load.sqlite").display()
        ));
    // Interleaved rounds, so a busy machine weighs on both alike; the best of each.
    let (mut mem, mut sql) = (None, None);
    for n in 1..=ROUNDS {
        mem = better(mem, run(&memory, "memory", n).await);
        sql = better(sql, run(&sqlite, "sqlite", n).await);
    }
    let (mem, sql) = (mem.unwrap(), sql.unwrap());
    let ratio = sql.throughput / mem.throughput;
    println!(
        "load run ({REQUESTS} GET /fotoweb/me, {CONNECTIONS} connections, best of {ROUNDS} rounds): \
         memory {:.0} req/s p99 {:.2} ms; sqlite+cache {:.0} req/s p99 {:.2} ms; ratio {ratio:.2} (budget >= 0.80)",
        mem.throughput,
        mem.p99.as_secs_f64() * 1e3,
        sql.throughput,
        sql.p99.as_secs_f64() * 1e3,
    );
    assert!(ratio >= 0.8, "SQLite with cache at {ratio:.2} x memory");
}
