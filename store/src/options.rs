//! How a [`crate::Store`] caches, syncs and cleans up: [`StoreConfig`].

use std::time::Duration;

use fwtoken::SiteDomains;

use crate::backend::LogRetention;

/// The answer cache's default capacity, in answers.
pub const DEFAULT_CACHE_CAPACITY: usize = 1_000_000;

/// How a [`crate::Store`] caches, polls and cleans up. [`StoreConfig::default`] is what a
/// server wants: a cache of up to a million answers (about 60 MB), the version polled
/// every second (SQLite: every 5 ms) besides PostgreSQL's notifications, cached "active"
/// answers trusted for at most 5 s without a confirmed version, a purge every minute in
/// batches of 1000, and the change log kept for an hour (at most 100,000 rows).
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub(crate) domains: SiteDomains,
    pub(crate) cache: bool,
    pub(crate) capacity: usize,
    pub(crate) listen: bool,
    pub(crate) poll: Option<Duration>,
    pub(crate) max_stale: Duration,
    pub(crate) purge_every: Option<Duration>,
    pub(crate) purge_batch: usize,
    pub(crate) log_max_age: Duration,
    pub(crate) log_max_rows: usize,
    pub(crate) create_missing: bool,
    #[cfg(feature = "test-util")]
    pub(crate) faults: Option<crate::testing::FaultInjector>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            domains: SiteDomains::new(),
            cache: true,
            capacity: DEFAULT_CACHE_CAPACITY,
            listen: true,
            poll: None,
            max_stale: Duration::from_secs(5),
            purge_every: Some(Duration::from_secs(60)),
            purge_batch: 1000,
            log_max_age: Duration::from_secs(3600),
            log_max_rows: 100_000,
            create_missing: true,
            #[cfg(feature = "test-util")]
            faults: None,
        }
    }
}

impl StoreConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a SQLite store whose file does not exist is created (the default; mode 0600,
    /// whatever the umask) or refused with [`StoreError::NotFound`](crate::StoreError::NotFound),
    /// creating nothing: a program that only reads or revokes should not turn a mistyped
    /// path into a new, empty store.
    #[must_use]
    pub fn create_missing(mut self, on: bool) -> Self {
        self.create_missing = on;
        self
    }

    /// The site's own domains, for [`fwtoken::identity_key`] (users are grouped by it).
    #[must_use]
    pub fn domains(mut self, domains: SiteDomains) -> Self {
        self.domains = domains;
        self
    }

    /// Turns the answer cache on (the default) or off.
    #[must_use]
    pub fn cache(mut self, on: bool) -> Self {
        self.cache = on;
        self
    }

    /// How many answers the cache holds at most (default [`DEFAULT_CACHE_CAPACITY`]; at
    /// least 1). Past it the least useful answers are evicted (S3-FIFO: answers asked once
    /// go before answers asked again) and re-read from the database when asked. An answer
    /// takes about 60 bytes.
    #[must_use]
    pub fn cache_capacity(mut self, answers: usize) -> Self {
        self.capacity = answers.max(1);
        self
    }

    /// Whether a PostgreSQL store holds a `LISTEN` connection to hear of revocations at
    /// once (default on). Off, revocations made elsewhere are seen by the poll alone
    /// (within [`StoreConfig::poll_interval`]): for a connection pooler that can't carry
    /// `LISTEN` (PgBouncer in transaction mode). Other backends have no notifications.
    #[must_use]
    pub fn listen(mut self, on: bool) -> Self {
        self.listen = on;
        self
    }

    /// How often the version is polled whatever happens (`T_poll`; default 1 s, SQLite
    /// 5 ms).
    #[must_use]
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll = Some(every);
        self
    }

    /// How long cached "active" answers keep counting after the last successful contact
    /// with the database (default 5 s). Past it every check goes to the database, and
    /// fails with [`crate::StoreError::Unavailable`] while it is unreachable.
    #[must_use]
    pub fn max_stale(mut self, bound: Duration) -> Self {
        self.max_stale = bound;
        self
    }

    /// How often housekeeping purges expired API tokens, login tokens and old change-log
    /// rows (default every minute; `None` turns it off, [`crate::Store::purge_expired`]
    /// still works).
    #[must_use]
    pub fn purge_every(mut self, every: Option<Duration>) -> Self {
        self.purge_every = every;
        self
    }

    /// How many rows one purge transaction deletes at most (default 1000).
    #[must_use]
    pub fn purge_batch(mut self, rows: usize) -> Self {
        self.purge_batch = rows.max(1);
        self
    }

    /// How much of the change log housekeeping keeps: rows written within `max_age`
    /// (default an hour) and at most the newest `max_rows` rows (default 100,000). A store
    /// that comes back after the rows above its version were purged drops its whole cache
    /// (counted in [`crate::StoreStats::full_clears`]) instead of evicting one answer per
    /// change.
    #[must_use]
    pub fn change_log_retention(mut self, max_age: Duration, max_rows: usize) -> Self {
        self.log_max_age = max_age;
        self.log_max_rows = max_rows;
        self
    }

    /// Tests only (feature `test-util`): the store's backend is wrapped so that `faults`
    /// can make its calls fail and counts them ([`crate::testing`]).
    #[cfg(feature = "test-util")]
    #[must_use]
    pub fn faults(mut self, faults: &crate::testing::FaultInjector) -> Self {
        self.faults = Some(faults.clone());
        self
    }

    pub(crate) fn retention(&self) -> LogRetention {
        LogRetention {
            max_age_secs: i64::try_from(self.log_max_age.as_secs()).unwrap_or(i64::MAX),
            max_rows: self.log_max_rows,
            batch: self.purge_batch,
        }
    }
}
