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
//! - Answers are cached in-process; every write that makes something inactive bumps a
//!   one-row version counter in the same transaction (PostgreSQL also `NOTIFY`s it), and
//!   each store drops cached "active" answers as soon as it sees a newer version (by
//!   `LISTEN`, and by polling every `T_poll` whatever happens). Cached "active" answers
//!   stop counting when the version could not be confirmed for
//!   [`StoreConfig::max_stale`].
//! - Housekeeping purges expired API tokens and login-token digests by itself, in
//!   batches; several purgers at once are safe.
#![forbid(unsafe_code)]
#![deny(clippy::mem_forget)]

mod backend;
mod cache;
mod config;
mod error;
mod memory;
mod model;
mod postgres;
mod secrets;
mod sqlite;
mod store;

pub use config::{ConfigError, PostgresTarget, StoreUrl, env_var};
pub use error::{Cause, StoreError};
pub use model::{ApiTokenEntry, CapPolicy, DeviceEntry, DeviceLimit, Registered};
pub use postgres::{LISTEN_APPLICATION_NAME, NOTIFY_CHANNEL, PostgresConfig};
pub use secrets::{
    MAX_SECRETS_FILE_LEN, MIN_API_KEY_CHARS, RECOMMENDED_API_KEY_CHARS, SecretsFile,
    api_key_from_text, check_api_key,
};
pub use store::{BlockingStore, LAST_SEEN_INTERVAL_SECS, Store, StoreConfig};
