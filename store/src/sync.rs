//! Keeping a node's cache in step with the database: read the change log above the
//! node's version, evict exactly the ids it names, or drop everything when the log can't
//! say what changed.
//!
//! A sync runs when the `LISTEN` connection hears of a new version, when a check reads a
//! version above the node's, after the node's own writes, and every `T_poll` whatever
//! happens. One sync at a time per store.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

use crate::backend::{Backend, ChangeRow, ChangeSnapshot, Kind};
use crate::cache::{Cache, ClearReason, Head};
use crate::error::StoreError;

/// The most change-log rows one sync reads; a node further behind drops its cache (it is
/// cheaper to re-read answers as they are asked than to read and apply more).
pub(crate) const MAX_CHANGES: usize = 100_000;

/// What to do with a snapshot of the change log.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan<'a> {
    /// The first sync: follow the database from here.
    Start(Head),
    /// Nothing changed since the node's version.
    Confirm,
    /// Evict these ids and move to the head.
    Apply(&'a [ChangeRow], Head),
    /// Drop every cached answer and move to the head.
    Clear(ClearReason, Head),
}

/// Decides what `snap` (read with `after = node.version`) means for a node at `node`.
pub(crate) fn plan(node: Option<Head>, snap: &ChangeSnapshot, limit: usize) -> Plan<'_> {
    let head = Head {
        version: snap.version,
        stamp: snap.stamp,
    };
    let Some(node) = node else {
        return Plan::Start(head);
    };
    let k = node.version;
    if snap.version < k {
        return Plan::Clear(ClearReason::Backwards, head);
    }
    if snap.version == k {
        return if snap.stamp == node.stamp {
            Plan::Confirm
        } else {
            Plan::Clear(ClearReason::Diverged, head)
        };
    }
    // Above the node: the rows of (k, version] must all be there, and version k must be
    // the one the node followed.
    if k < snap.purged_to {
        return Plan::Clear(ClearReason::Purged, head);
    }
    let rows = snap.rows.as_slice();
    let (at_k, above) = match rows.first() {
        Some(r) if r.version == k => (Some(r), rows.get(1..).unwrap_or_default()),
        _ => (None, rows),
    };
    let same_history = if k == snap.purged_to {
        snap.purged_stamp == node.stamp
    } else {
        at_k.is_some_and(|r| r.stamp == node.stamp)
    };
    if !same_history {
        let reason = if k > snap.purged_to && at_k.is_none() {
            ClearReason::Gap
        } else {
            ClearReason::Diverged
        };
        return Plan::Clear(reason, head);
    }
    if above.len() > limit {
        return Plan::Clear(ClearReason::TooMany, head);
    }
    // Every version in (k, version] has rows (one stamp each), in order, up to the head.
    let mut current: Option<(u64, i64)> = None;
    for r in above {
        let expected = match current {
            None => k.checked_add(1),
            Some((v, stamp)) if r.version == v => {
                if r.stamp != stamp {
                    return Plan::Clear(ClearReason::Diverged, head);
                }
                continue;
            }
            Some((v, _)) => v.checked_add(1),
        };
        if Some(r.version) != expected {
            return Plan::Clear(ClearReason::Gap, head);
        }
        current = Some((r.version, r.stamp));
    }
    match current {
        Some((v, stamp)) if v == snap.version && stamp == snap.stamp => Plan::Apply(above, head),
        Some((v, _)) if v == snap.version => Plan::Clear(ClearReason::Diverged, head),
        _ => Plan::Clear(ClearReason::Gap, head),
    }
}

/// One store's syncing: the backend, the cache, one sync at a time, and a wake-up for the
/// background task.
pub(crate) struct Syncer {
    backend: Arc<dyn Backend>,
    cache: Arc<Cache>,
    running: Mutex<()>,
    wake: Notify,
}

impl Syncer {
    pub(crate) fn new(backend: Arc<dyn Backend>, cache: Arc<Cache>) -> Self {
        Self {
            backend,
            cache,
            running: Mutex::new(()),
            wake: Notify::new(),
        }
    }

    /// Reads the version and the change log above the node's version, and applies them.
    pub(crate) async fn sync(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.running.lock().await;
        let node = self.cache.head();
        let snap = self
            .backend
            .changes_since(node.map(|h| h.version), MAX_CHANGES)
            .await?;
        match plan(node, &snap, MAX_CHANGES) {
            Plan::Start(head) => self.cache.start(head),
            Plan::Confirm => self.cache.confirmed_at_head(),
            Plan::Apply(rows, head) => self.cache.apply(rows.iter().map(|r| (r.kind, r.id)), head),
            Plan::Clear(reason, head) => self.cache.clear(reason, head),
        }
        Ok(())
    }

    /// Asks the background task for a sync now (it coalesces requests).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// A version number heard of (a notification, a check's read): sync if it is new.
    pub(crate) fn heard(&self, version: u64) {
        if version != self.cache.known_version() {
            self.wake();
        }
    }

    /// The background task: a sync every `poll`, and whenever woken; a sync that fails or
    /// takes longer than `max(poll, 1 s)` counts as failed (cached "active" answers stop
    /// counting once the version was not confirmed for `max_stale`).
    pub(crate) fn spawn(self: &Arc<Self>, poll: Duration) -> JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let limit = poll.max(Duration::from_secs(1));
            // The first tick is at once; the store synced as it opened.
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = me.wake.notified() => {}
                }
                match tokio::time::timeout(limit, me.sync()).await {
                    Ok(Ok(())) => {}
                    _ => me.cache.sync_failed(),
                }
            }
        })
    }

    /// The ids a write of this node made inactive: known at once, before any sync.
    pub(crate) fn revoked_here(&self, kind: Kind, ids: impl IntoIterator<Item = [u8; 16]>) {
        for id in ids {
            self.cache.revoked(kind, id);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn row(version: u64, stamp: i64, id: u8) -> ChangeRow {
        ChangeRow {
            version,
            stamp,
            kind: Kind::Device,
            id: [id; 16],
        }
    }

    fn snap(version: u64, stamp: i64, purged: (u64, i64), rows: Vec<ChangeRow>) -> ChangeSnapshot {
        ChangeSnapshot {
            version,
            stamp,
            purged_to: purged.0,
            purged_stamp: purged.1,
            rows,
        }
    }

    fn node(version: u64, stamp: i64) -> Option<Head> {
        Some(Head { version, stamp })
    }

    fn head(version: u64, stamp: i64) -> Head {
        Head { version, stamp }
    }

    #[test]
    fn first_sync_starts_at_the_database_version() {
        let s = snap(9, 90, (3, 30), vec![]);
        assert_eq!(plan(None, &s, 10), Plan::Start(head(9, 90)));
    }

    #[test]
    fn same_version_same_stamp_confirms() {
        let s = snap(5, 50, (0, 0), vec![]);
        assert_eq!(plan(node(5, 50), &s, 10), Plan::Confirm);
        assert_eq!(
            plan(node(5, 51), &s, 10),
            Plan::Clear(ClearReason::Diverged, head(5, 50))
        );
    }

    #[test]
    fn changes_above_the_node_are_applied() {
        let rows = vec![row(5, 50, 1), row(6, 60, 2), row(6, 60, 3), row(7, 70, 4)];
        let s = snap(7, 70, (2, 20), rows.clone());
        assert_eq!(
            plan(node(5, 50), &s, 10),
            Plan::Apply(&rows[1..], head(7, 70))
        );
    }

    #[test]
    fn a_node_at_the_purge_mark_checks_its_stamp() {
        let rows = vec![row(6, 60, 2)];
        let s = snap(6, 60, (5, 50), rows.clone());
        assert_eq!(
            plan(node(5, 50), &s, 10),
            Plan::Apply(&rows[..], head(6, 60))
        );
        assert_eq!(
            plan(node(5, 49), &s, 10),
            Plan::Clear(ClearReason::Diverged, head(6, 60))
        );
        // Fresh database: nothing purged, version 0 has stamp 0.
        let s = snap(1, 10, (0, 0), vec![row(1, 10, 1)]);
        assert!(matches!(plan(node(0, 0), &s, 10), Plan::Apply(..)));
    }

    #[test]
    fn a_purged_log_clears() {
        let s = snap(
            9,
            90,
            (6, 60),
            vec![row(7, 70, 1), row(8, 80, 1), row(9, 90, 1)],
        );
        assert_eq!(
            plan(node(5, 50), &s, 10),
            Plan::Clear(ClearReason::Purged, head(9, 90))
        );
    }

    #[test]
    fn a_version_that_went_backwards_clears() {
        let s = snap(4, 40, (0, 0), vec![]);
        assert_eq!(
            plan(node(5, 50), &s, 10),
            Plan::Clear(ClearReason::Backwards, head(4, 40))
        );
    }

    #[test]
    fn another_history_through_the_same_number_clears() {
        // Restored from a backup at 3, then moved on past the node's 5 with new stamps.
        let s = snap(6, 61, (0, 0), vec![row(5, 51, 1), row(6, 61, 2)]);
        assert_eq!(
            plan(node(5, 50), &s, 10),
            Plan::Clear(ClearReason::Diverged, head(6, 61))
        );
    }

    #[test]
    fn a_version_without_rows_clears() {
        // Version 6 written by something that does not log.
        let s = snap(7, 70, (0, 0), vec![row(5, 50, 1), row(7, 70, 2)]);
        assert_eq!(
            plan(node(5, 50), &s, 10),
            Plan::Clear(ClearReason::Gap, head(7, 70))
        );
        // The head itself without rows.
        let s = snap(7, 70, (0, 0), vec![row(5, 50, 1), row(6, 60, 2)]);
        assert_eq!(
            plan(node(5, 50), &s, 10),
            Plan::Clear(ClearReason::Gap, head(7, 70))
        );
        // The node's own version without rows (above the purge mark).
        let s = snap(6, 60, (0, 0), vec![row(6, 60, 2)]);
        assert_eq!(
            plan(node(5, 50), &s, 10),
            Plan::Clear(ClearReason::Gap, head(6, 60))
        );
    }

    #[test]
    fn one_version_with_two_stamps_clears() {
        let s = snap(
            6,
            60,
            (0, 0),
            vec![row(5, 50, 1), row(6, 60, 2), row(6, 61, 3)],
        );
        assert_eq!(
            plan(node(5, 50), &s, 10),
            Plan::Clear(ClearReason::Diverged, head(6, 60))
        );
    }

    #[test]
    fn more_rows_than_the_limit_clears() {
        let rows: Vec<_> = std::iter::once(row(5, 50, 0))
            .chain((0..4).map(|i| row(6, 60, i)))
            .collect();
        let s = snap(6, 60, (0, 0), rows.clone());
        assert_eq!(
            plan(node(5, 50), &s, 3),
            Plan::Clear(ClearReason::TooMany, head(6, 60))
        );
        assert_eq!(
            plan(node(5, 50), &s, 4),
            Plan::Apply(&rows[1..], head(6, 60))
        );
    }
}
