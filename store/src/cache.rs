//! The in-process cache of answers and the node's knowledge of the database version.
//!
//! "Revoked" is cached forever. "Active" is cached with the version it was read at and
//! counts only while (a) no newer version is known and (b) the version was confirmed with
//! the database within `max_stale` (the poller clears `fresh` otherwise: fail closed).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::backend::Status;

/// At most this many answers per kind; past it the map is emptied (answers are re-read).
const MAX_ENTRIES: usize = 100_000;

#[derive(Clone, Copy, Debug)]
enum Answer {
    Active { expires: i64, version: u64 },
    Revoked,
}

#[derive(Debug)]
pub(crate) struct Cache {
    version: AtomicU64,
    fresh: AtomicBool,
    confirmed: Mutex<Instant>,
    max_stale: Duration,
    devices: RwLock<HashMap<[u8; 16], Answer>>,
    api: RwLock<HashMap<[u8; 16], Answer>>,
}

/// Which map.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Device,
    Api,
}

impl Cache {
    pub(crate) fn new(max_stale: Duration) -> Self {
        Self {
            version: AtomicU64::new(0),
            fresh: AtomicBool::new(false),
            confirmed: Mutex::new(Instant::now()),
            max_stale,
            devices: RwLock::new(HashMap::new()),
            api: RwLock::new(HashMap::new()),
        }
    }

    fn map(&self, kind: Kind) -> &RwLock<HashMap<[u8; 16], Answer>> {
        match kind {
            Kind::Device => &self.devices,
            Kind::Api => &self.api,
        }
    }

    /// The database is at version `v` or later, as of now.
    pub(crate) fn observe(&self, v: u64) {
        self.version.fetch_max(v, Ordering::AcqRel);
        *self
            .confirmed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.fresh.store(true, Ordering::Release);
    }

    /// A poll failed: stop trusting cached "active" answers once the last confirmation is
    /// older than `max_stale`.
    pub(crate) fn poll_failed(&self) {
        let confirmed = *self
            .confirmed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if confirmed.elapsed() > self.max_stale {
            self.fresh.store(false, Ordering::Release);
        }
    }

    /// The highest version this node knows of.
    pub(crate) fn known_version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// A cached answer: `Some(active)` when it can be trusted, `None` to ask the database.
    pub(crate) fn get(&self, kind: Kind, id: &[u8; 16], now: i64) -> Option<bool> {
        let answer = *self
            .map(kind)
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)?;
        match answer {
            Answer::Revoked => Some(false),
            Answer::Active { expires, version } => {
                if !self.fresh.load(Ordering::Acquire)
                    || version < self.version.load(Ordering::Acquire)
                {
                    None
                } else {
                    Some(now < expires)
                }
            }
        }
    }

    /// Remembers what the database said at `version`.
    pub(crate) fn put(&self, kind: Kind, id: [u8; 16], status: Status, version: u64) {
        let answer = match status {
            Status::Unknown => return,
            Status::Revoked => Answer::Revoked,
            Status::Active { expires } => Answer::Active { expires, version },
        };
        let mut m = self
            .map(kind)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if m.len() >= MAX_ENTRIES {
            m.clear();
        }
        match (m.get(&id), answer) {
            // Revoked is final; never replace it with an older "active".
            (Some(Answer::Revoked), _) => {}
            _ => {
                m.insert(id, answer);
            }
        }
    }

    /// This node revoked `id` itself.
    pub(crate) fn revoked(&self, kind: Kind, id: [u8; 16]) {
        self.put(kind, id, Status::Revoked, 0);
    }
}
