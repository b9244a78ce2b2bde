//! The in-process cache of answers: bounded (quick_cache, S3-FIFO eviction), and in step
//! with one version of the database's change log.
//!
//! "Revoked" is cached for good (it is evicted like any entry). "Active" is cached only
//! when it was read at a version the cache has already reached (so no change between the
//! read and now can be missed), stays until the change log names its id, and counts only
//! while the version was confirmed with the database within `max_stale` (the poller
//! clears `fresh` otherwise: fail closed).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use quick_cache::sync::{Cache as Answers, EntryAction, EntryResult};
use quick_cache::{DefaultHashBuilder, Lifecycle, OptionsBuilder, UnitWeighter};

use crate::backend::{Kind, Status};
use crate::stats::StoreStats;

/// What the cache holds for one id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// Active until `expires` (Unix seconds; `i64::MAX` for a device).
    Active {
        expires: i64,
    },
    Revoked,
}

type Key = (Kind, [u8; 16]);

/// Counts the answers quick_cache evicts to stay within its capacity.
#[derive(Clone, Debug, Default)]
struct CountEvictions(Arc<AtomicU64>);

impl Lifecycle<Key, Answer> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut (), _key: Key, _val: Answer) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A version of the database and its random stamp: together they name one point of one
/// history (a restored backup reaches the same number with another stamp).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub version: u64,
    pub stamp: i64,
}

/// Why every cached answer was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClearReason {
    /// The database's version is below the node's (a restored backup).
    Backwards,
    /// The database's history is not the one the node followed (another stamp at the
    /// node's version: a restored backup that moved on).
    Diverged,
    /// The log rows above the node's version were purged.
    Purged,
    /// A version above the node's has no rows (a writer that does not log, such as an
    /// older fwtoken-store still running).
    Gap,
    /// More changes than one sync reads: cheaper to re-read answers as they are asked.
    TooMany,
}

#[derive(Debug, Default)]
struct Counters {
    invalidated: AtomicU64,
    changes_read: AtomicU64,
    full_clears: AtomicU64,
    sync_failures: AtomicU64,
}

pub(crate) struct Cache {
    answers: Answers<Key, Answer, UnitWeighter, DefaultHashBuilder, CountEvictions>,
    evictions: Arc<AtomicU64>,
    /// The version whose changes are all applied (`None` before the first sync).
    head: Mutex<Option<Head>>,
    /// `head.version`, for reads without the lock.
    version: AtomicU64,
    /// Inserting an answer read from the database holds it shared; applying changes holds
    /// it exclusively, so an answer read before a change can't be inserted after the
    /// change's eviction.
    gate: RwLock<()>,
    fresh: AtomicBool,
    confirmed: Mutex<Instant>,
    max_stale: Duration,
    counters: Counters,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("capacity", &self.answers.capacity())
            .field("version", &self.version.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Cache {
    /// A cache of at most `capacity` answers (at least one).
    pub(crate) fn new(max_stale: Duration, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        // quick_cache splits the capacity over shards (a power of two), rounding each
        // shard's share up: a multiple of the shard count keeps the total at `capacity`.
        let parallelism = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut shards = (parallelism * 4).next_power_of_two();
        while shards > 1 && capacity / shards < 32 {
            shards /= 2;
        }
        let weight = (capacity / shards * shards).max(1);
        let evictions = Arc::new(AtomicU64::new(0));
        let options = OptionsBuilder::new()
            .shards(shards)
            .estimated_items_capacity(weight)
            .weight_capacity(weight as u64)
            .build();
        let answers = match options {
            Ok(o) => Answers::with_options(
                o,
                UnitWeighter,
                DefaultHashBuilder::default(),
                CountEvictions(Arc::clone(&evictions)),
            ),
            // Not reachable with the values above; a plain cache of the same size if it were.
            Err(_) => Answers::with(
                weight,
                weight as u64,
                UnitWeighter,
                DefaultHashBuilder::default(),
                CountEvictions(Arc::clone(&evictions)),
            ),
        };
        Self {
            answers,
            evictions,
            head: Mutex::new(None),
            version: AtomicU64::new(0),
            gate: RwLock::new(()),
            fresh: AtomicBool::new(false),
            confirmed: Mutex::new(Instant::now()),
            max_stale,
            counters: Counters::default(),
        }
    }

    /// The version the cache is in step with (`None` before the first sync).
    pub(crate) fn head(&self) -> Option<Head> {
        *self.head.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The highest version whose changes this node has applied (0 before the first sync).
    pub(crate) fn known_version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The database confirmed, just now, that the cache is in step with it.
    fn confirm(&self) {
        *self
            .confirmed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.fresh.store(true, Ordering::Release);
    }

    /// A sync failed: stop trusting cached "active" answers once the last confirmation is
    /// older than `max_stale`.
    pub(crate) fn sync_failed(&self) {
        self.counters.sync_failures.fetch_add(1, Ordering::Relaxed);
        let confirmed = *self
            .confirmed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if confirmed.elapsed() > self.max_stale {
            self.fresh.store(false, Ordering::Release);
        }
    }

    /// A cached answer: `Some(active)` when it can be trusted, `None` to ask the database.
    pub(crate) fn get(&self, kind: Kind, id: &[u8; 16], now: i64) -> Option<bool> {
        match self.answers.get(&(kind, *id))? {
            Answer::Revoked => Some(false),
            Answer::Active { expires } => {
                if self.fresh.load(Ordering::Acquire) {
                    Some(now < expires)
                } else {
                    None
                }
            }
        }
    }

    /// Remembers what the database said at `version`. "Active" is kept only when read at
    /// the cache's version or later: a change between an older read and now may already
    /// have been applied, and this answer would outlive it.
    pub(crate) fn put(&self, kind: Kind, id: [u8; 16], status: Status, version: u64) {
        let _shared = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        match status {
            Status::Unknown => {}
            Status::Revoked => self.answers.insert((kind, id), Answer::Revoked),
            Status::Active { expires } => {
                if version < self.version.load(Ordering::Acquire) {
                    return;
                }
                let active = Answer::Active { expires };
                // Revoked is final: never replace it with an "active" read earlier (one
                // atomic step under the shard's lock; another insert of the same id in
                // progress wins and this answer is not kept).
                let found = self
                    .answers
                    .entry(&(kind, id), Some(Duration::ZERO), |_, a| {
                        if *a != Answer::Revoked {
                            *a = active;
                        }
                        EntryAction::Retain(())
                    });
                if let EntryResult::Vacant(slot) = found {
                    let _ = slot.insert(active);
                }
            }
        }
    }

    /// This node revoked `id` itself.
    pub(crate) fn revoked(&self, kind: Kind, id: [u8; 16]) {
        self.answers.insert((kind, id), Answer::Revoked);
    }

    /// Starts following the database at `head` (the first sync): nothing to apply.
    pub(crate) fn start(&self, head: Head) {
        let _exclusive = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        self.set_head(head);
        self.confirm();
    }

    /// The database is still at the cache's version.
    pub(crate) fn confirmed_at_head(&self) {
        self.confirm();
    }

    /// Evicts the "active" answers of `changes` (ids made inactive in the versions up to
    /// `head`) and moves to `head`.
    pub(crate) fn apply(&self, changes: impl IntoIterator<Item = (Kind, [u8; 16])>, head: Head) {
        let _exclusive = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        let (mut read, mut invalidated) = (0u64, 0u64);
        for key in changes {
            read += 1;
            // An id the node itself revoked is already "revoked": keep that answer.
            if self
                .answers
                .remove_if(&key, |a| matches!(a, Answer::Active { .. }))
                .is_some()
            {
                invalidated += 1;
            }
        }
        self.counters
            .changes_read
            .fetch_add(read, Ordering::Relaxed);
        self.counters
            .invalidated
            .fetch_add(invalidated, Ordering::Relaxed);
        self.set_head(head);
        self.confirm();
    }

    /// Drops every cached answer (fail safe) and moves to `head`.
    pub(crate) fn clear(&self, _reason: ClearReason, head: Head) {
        let _exclusive = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        self.answers.clear();
        self.counters.full_clears.fetch_add(1, Ordering::Relaxed);
        self.set_head(head);
        self.confirm();
    }

    fn set_head(&self, head: Head) {
        *self.head.lock().unwrap_or_else(PoisonError::into_inner) = Some(head);
        self.version.store(head.version, Ordering::Release);
    }

    /// Fills in the cache's part of `stats`.
    pub(crate) fn stats(&self, stats: &mut StoreStats) {
        stats.cache = true;
        stats.entries = self.answers.len() as u64;
        stats.capacity = self.answers.capacity();
        stats.memory_bytes = self.answers.memory_used().total() as u64;
        stats.evictions = self.evictions.load(Ordering::Relaxed);
        stats.invalidated = self.counters.invalidated.load(Ordering::Relaxed);
        stats.changes_read = self.counters.changes_read.load(Ordering::Relaxed);
        stats.full_clears = self.counters.full_clears.load(Ordering::Relaxed);
        stats.sync_failures = self.counters.sync_failures.load(Ordering::Relaxed);
        stats.known_version = self.known_version();
        stats.fresh = self.fresh.load(Ordering::Acquire);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn head(version: u64) -> Head {
        Head { version, stamp: 7 }
    }

    #[test]
    fn capacity_bound_holds_and_evictions_are_counted() {
        let c = Cache::new(Duration::from_secs(5), 1000);
        c.start(head(0));
        for i in 0..5000u32 {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_le_bytes());
            c.put(Kind::Device, id, Status::Active { expires: i64::MAX }, 0);
        }
        let mut s = StoreStats::default();
        c.stats(&mut s);
        assert!(s.capacity <= 1000 && s.capacity >= 900, "{s:?}");
        assert!(s.entries <= s.capacity, "{s:?}");
        assert_eq!(s.evictions, 5000 - s.entries, "{s:?}");
    }

    #[test]
    fn an_active_answer_read_before_the_cache_version_is_not_kept() {
        let c = Cache::new(Duration::from_secs(5), 100);
        c.start(head(5));
        c.put(
            Kind::Device,
            [1; 16],
            Status::Active { expires: i64::MAX },
            4,
        );
        assert_eq!(c.get(Kind::Device, &[1; 16], 0), None);
        c.put(
            Kind::Device,
            [1; 16],
            Status::Active { expires: i64::MAX },
            5,
        );
        assert_eq!(c.get(Kind::Device, &[1; 16], 0), Some(true));
        // Revoked is a fact at any version, and is never replaced by "active".
        c.put(Kind::Device, [2; 16], Status::Revoked, 1);
        c.put(
            Kind::Device,
            [2; 16],
            Status::Active { expires: i64::MAX },
            9,
        );
        assert_eq!(c.get(Kind::Device, &[2; 16], 0), Some(false));
    }

    #[test]
    fn apply_evicts_exactly_the_named_active_answers() {
        let c = Cache::new(Duration::from_secs(5), 100);
        c.start(head(1));
        for i in 0..10u8 {
            c.put(
                Kind::Device,
                [i; 16],
                Status::Active { expires: i64::MAX },
                1,
            );
        }
        c.put(Kind::Api, [3; 16], Status::Active { expires: 100 }, 1);
        c.revoked(Kind::Device, [9; 16]);
        c.apply(
            [
                (Kind::Device, [3; 16]),
                (Kind::Device, [9; 16]),
                (Kind::Device, [42; 16]),
            ],
            head(3),
        );
        assert_eq!(c.get(Kind::Device, &[3; 16], 0), None);
        assert_eq!(c.get(Kind::Device, &[9; 16], 0), Some(false));
        assert_eq!(c.get(Kind::Api, &[3; 16], 0), Some(true), "another kind");
        for i in [0u8, 1, 2, 4, 5, 6, 7, 8] {
            assert_eq!(c.get(Kind::Device, &[i; 16], 0), Some(true));
        }
        let mut s = StoreStats::default();
        c.stats(&mut s);
        assert_eq!((s.changes_read, s.invalidated, s.known_version), (3, 1, 3));
        c.clear(ClearReason::Purged, head(4));
        assert_eq!(c.get(Kind::Device, &[9; 16], 0), None);
        c.stats(&mut s);
        assert_eq!((s.full_clears, s.entries, s.known_version), (1, 0, 4));
    }

    #[test]
    fn stale_active_answers_stop_counting() {
        let c = Cache::new(Duration::from_millis(0), 100);
        c.start(head(1));
        c.put(
            Kind::Device,
            [1; 16],
            Status::Active { expires: i64::MAX },
            1,
        );
        c.revoked(Kind::Device, [2; 16]);
        std::thread::sleep(Duration::from_millis(2));
        c.sync_failed();
        assert_eq!(c.get(Kind::Device, &[1; 16], 0), None);
        assert_eq!(c.get(Kind::Device, &[2; 16], 0), Some(false));
        c.confirmed_at_head();
        assert_eq!(c.get(Kind::Device, &[1; 16], 0), Some(true));
    }
}
