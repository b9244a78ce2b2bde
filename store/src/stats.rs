//! Numbers an operator can read: what one [`crate::Store`]'s cache has done since it was
//! opened.

/// A snapshot of one store's counters ([`crate::Store::stats`]); every count is since the
/// store was opened, summed over its clones.
///
/// A server can show it on an admin route or log it: the hit rate says whether the cache
/// carries the checks, `invalidated` against `full_clears` whether revocations elsewhere
/// cost one answer each (as they should) or the whole cache, `fresh` whether cached
/// "active" answers count at this moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// True when the store caches answers ([`crate::StoreConfig::cache`]); without a cache
    /// every other field but `hits`, `misses` and `known_version` stays 0.
    pub cache: bool,
    /// Checks (`is_device_active`, `is_api_token_active`) answered by the cache.
    pub hits: u64,
    /// Checks that asked the database.
    pub misses: u64,
    /// Answers the cache holds now.
    pub entries: u64,
    /// The most answers it holds ([`crate::StoreConfig::cache_capacity`], rounded down to
    /// a multiple of the cache's shard count).
    pub capacity: u64,
    /// Bytes the cache's tables take now (entries and hash table; about 60 bytes per
    /// answer).
    pub memory_bytes: u64,
    /// Answers dropped to stay within `capacity` (least useful first, S3-FIFO).
    pub evictions: u64,
    /// Cached "active" answers dropped because the change log named their id (a
    /// revocation made here or on another server).
    pub invalidated: u64,
    /// Ids read from the change log, cached or not.
    pub changes_read: u64,
    /// Times every cached answer was dropped because the change log could not say what
    /// changed: rows purged before this store read them, a database version that went
    /// backwards or another history (a restored backup), a writer that does not log, or
    /// more changes at once than one read takes.
    pub full_clears: u64,
    /// Failed reads of the version and change log (the database unreachable or slow).
    pub sync_failures: u64,
    /// The database version the cache is in step with.
    pub known_version: u64,
    /// True while cached "active" answers count: the version was confirmed within
    /// [`crate::StoreConfig::max_stale`].
    pub fresh: bool,
}

impl StoreStats {
    /// `hits / (hits + misses)`, 0 before the first check.
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits.saturating_add(self.misses);
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}
