//! The store's counters for an operator: `GET /fotoweb/admin/stats` (full key) and a log
//! line at a fixed interval.

use std::time::Duration;

use axum::response::Response;
use fwtoken_store::StoreStats;
use http::StatusCode;
use tokio::task::JoinHandle;

use crate::auth::FwAuth;
use crate::caller::Admin;
use crate::refusal::Event;
use crate::routes::json;

/// The counters as the JSON object `GET /fotoweb/admin/stats` answers: every field of
/// [`StoreStats`] under its own name, and `hit_rate`.
pub fn stats_json(s: &StoreStats) -> serde_json::Value {
    serde_json::json!({
        "cache": s.cache,
        "hits": s.hits,
        "misses": s.misses,
        "hit_rate": s.hit_rate(),
        "entries": s.entries,
        "capacity": s.capacity,
        "memory_bytes": s.memory_bytes,
        "evictions": s.evictions,
        "invalidated": s.invalidated,
        "changes_read": s.changes_read,
        "full_clears": s.full_clears,
        "sync_failures": s.sync_failures,
        "known_version": s.known_version,
        "fresh": s.fresh,
    })
}

/// `GET /fotoweb/admin/stats`: this server's store counters ([`stats_json`]).
pub(crate) async fn stats(_: Admin, auth: FwAuth) -> Response {
    let body = stats_json(&auth.store().stats()).to_string().into_bytes();
    json(StatusCode::OK, "application/json", body)
}

impl FwAuth {
    /// Reports the store's counters ([`Event::Stats`]: one `stats hits=… misses=…` log
    /// line with [`EventLog`](crate::EventLog)) every `every` (a server uses a minute),
    /// the first one after `every`. Must be called inside a tokio runtime; the task runs
    /// until it is aborted.
    pub fn report_stats_every(&self, every: Duration) -> JoinHandle<()> {
        let auth = self.clone();
        let every = every.max(Duration::from_millis(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                auth.emit(&Event::Stats {
                    stats: auth.store().stats(),
                });
            }
        })
    }
}
