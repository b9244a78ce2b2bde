//! The store's counters for an operator: `GET /fotoweb/admin/stats` (full key only, JSON)
//! and the `stats …` event a server logs at an interval.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use std::time::Duration;

use common::{API_KEY, Site, assert_bare};
use http::StatusCode;

#[tokio::test]
async fn the_stats_route_answers_the_administrator_with_the_store_counters() {
    let site = Site::new().await;
    let alice = site.session("alice").await;
    for _ in 0..3 {
        assert_eq!(site.me(&alice).await.status, StatusCode::OK);
    }
    let answer = site
        .get("/fotoweb/admin/stats", &[("FWAPIToken", API_KEY)])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(answer.headers["cache-control"], "no-store");
    let stats = answer.json();
    let store = site.auth.store().stats();
    assert_eq!(stats["cache"], true);
    // Three checks of one device: the first asks the store, the others hit the cache.
    assert!(stats["hits"].as_u64().unwrap() >= 2, "{stats}");
    assert!(stats["misses"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["entries"], store.entries);
    assert_eq!(stats["capacity"], store.capacity);
    assert_eq!(stats["full_clears"], 0);
    assert_eq!(stats["fresh"], true);
    let rate = stats["hit_rate"].as_f64().unwrap();
    assert!(rate > 0.0 && rate < 1.0, "{stats}");
    for field in [
        "memory_bytes",
        "evictions",
        "invalidated",
        "changes_read",
        "sync_failures",
        "known_version",
    ] {
        assert!(stats[field].is_u64(), "{field}: {stats}");
    }
    // A revocation is counted where it was made (its id evicted from this cache).
    let revoke = "/fotoweb/admin/users/alice/revoke";
    assert_eq!(
        site.post(revoke, &[("FWAPIToken", API_KEY)]).await.status,
        StatusCode::OK
    );
    assert_bare(&site.me(&alice).await, StatusCode::UNAUTHORIZED);
    let after = site
        .get("/fotoweb/admin/stats", &[("FWAPIToken", API_KEY)])
        .await
        .json();
    assert!(
        after["known_version"].as_u64() > stats["known_version"].as_u64(),
        "{after}"
    );
}

#[tokio::test]
async fn the_stats_route_is_for_the_full_key_only() {
    let site = Site::new().await;
    assert_bare(
        &site.get("/fotoweb/admin/stats", &[]).await,
        StatusCode::UNAUTHORIZED,
    );
    let bob = site.session("bob").await;
    assert_bare(
        &site
            .get("/fotoweb/admin/stats", &[("cookie", bob.as_str())])
            .await,
        StatusCode::FORBIDDEN,
    );
    let wrong = "x".repeat(API_KEY.len());
    assert_bare(
        &site
            .get("/fotoweb/admin/stats", &[("FWAPIToken", wrong.as_str())])
            .await,
        StatusCode::UNAUTHORIZED,
    );
    assert!(site.refused("/fotoweb/admin/stats", "not-administrator"));
}

#[tokio::test]
async fn the_counters_are_reported_at_an_interval() {
    let site = Site::new().await;
    let alice = site.session("alice").await;
    assert_eq!(site.me(&alice).await.status, StatusCode::OK);
    let task = site.auth.report_stats_every(Duration::from_millis(20));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let line = loop {
        let lines: Vec<String> = site
            .events()
            .into_iter()
            .filter(|l| l.starts_with("stats "))
            .collect();
        if lines.len() >= 2 {
            break lines[0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no stats line in 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    task.abort();
    for field in [
        "hits=",
        "misses=",
        "hit_rate=",
        "entries=",
        "evictions=",
        "invalidated=",
        "full_clears=",
        "known_version=",
        "fresh=true",
    ] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    // Never a token: the line is numbers only.
    assert!(!line.contains(&alice[10..]), "{line}");
}
