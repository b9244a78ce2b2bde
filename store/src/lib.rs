//! Durable, shared token state for [`fwtoken`]: device registrations (with the per-user
//! cap), API-token revocation and single-use login tokens, on memory, SQLite (embedded,
//! several processes on one file) or PostgreSQL (several servers).
//!
//! - [`Store`] is the async face (tokio), [`BlockingStore`] the sync one (a CLI).
//! - Registration is insert-only: the same record twice succeeds without a second slot,
//!   another record with the same id is [`StoreError::Conflict`].
//! - Revocation is permanent: a revoked row stays (a tombstone) and every write is
//!   conditional, so a late write never brings it back.
//! - Checks fail closed: an unknown id is not active, and a storage failure is
//!   [`StoreError::Unavailable`] (answer 503), never "active".
//! - Users are grouped by [`fwtoken::identity_key`], computed in Rust and stored in its
//!   own column.
//! - Answers are cached in-process, in a bounded cache ([`StoreConfig::cache_capacity`]).
//!   Every write that makes something inactive bumps a one-row version counter and logs
//!   each id it made inactive, in the same transaction (PostgreSQL also `NOTIFY`s it);
//!   each store reads the log above the version it knows (on `LISTEN`, and by polling
//!   every `T_poll` whatever happens) and evicts exactly those ids. When the log can't say
//!   what changed (rows purged, a version that went backwards after a restored backup) it
//!   drops every cached answer. Cached "active" answers stop counting when the version
//!   could not be confirmed for [`StoreConfig::max_stale`]. [`Store::stats`] counts it
//!   all.
//! - Housekeeping purges expired API tokens and login-token digests by itself, in
//!   batches; several purgers at once are safe.
#![forbid(unsafe_code)]
#![deny(clippy::mem_forget)]

mod backend;
mod blocking;
mod cache;
mod config;
mod error;
mod memory;
mod migrate;
mod model;
mod options;
mod postgres;
mod secrets;
mod sqlite;
mod sqlite_file;
mod stats;
mod store;
mod sync;
#[cfg(feature = "test-util")]
pub mod testing;

pub use blocking::BlockingStore;
pub use config::{ConfigError, PostgresTarget, StoreUrl, env_var};
pub use error::{Cause, StoreError};
pub use model::{
    ApiTokenEntry, CapPolicy, DeviceEntry, DeviceLimit, ImportRefusal, Imported, Registered,
};
pub use options::DEFAULT_CACHE_CAPACITY;
pub use postgres::{LISTEN_APPLICATION_NAME, NOTIFY_CHANNEL, PostgresConfig};
pub use secrets::{
    MAX_SECRETS_FILE_LEN, MIN_API_KEY_CHARS, RECOMMENDED_API_KEY_CHARS, SecretsFile,
    api_key_from_text, check_api_key,
};
pub use stats::StoreStats;
pub use store::{IMPORT_BATCH, LAST_SEEN_INTERVAL_SECS, Store, StoreConfig};
