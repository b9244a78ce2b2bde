//! The store's one error type.

use std::fmt;

/// Why a store call failed.
///
/// [`StoreError::Unavailable`] is the storage failing (a server answers 503); it never
/// means "active" nor "revoked". The other kinds are answers about the request itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The storage could not be reached or failed (I/O, lock timeout, lost connection,
    /// a cached answer too old to trust while the database is unreachable).
    #[error("storage unavailable: {0}")]
    Unavailable(Cause),
    /// The user already holds the maximum number of active devices (policy *refuse*).
    #[error("device limit reached: at most {max} active devices per user")]
    DeviceLimit {
        /// The cap.
        max: usize,
    },
    /// The id is revoked: a revoked id never becomes active again.
    #[error("the id was revoked")]
    Revoked,
    /// The id is already registered with a different record.
    #[error("the id is already registered with different details")]
    Conflict,
    /// The SQLite database file does not exist or holds no fwtoken store (an empty file,
    /// another program's database), and the store was opened with
    /// [`StoreConfig::create_missing`](crate::StoreConfig::create_missing) off: nothing was
    /// created.
    #[error("the SQLite database file does not exist, or holds no fwtoken store")]
    NotFound,
    /// An argument breaks a rule (the rule is named).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The database holds something this crate did not write (a bad id length, a schema
    /// newer than this build).
    #[error("unexpected data in the store: {0}")]
    Corrupt(&'static str),
}

impl StoreError {
    pub(crate) fn unavailable(e: impl fmt::Display) -> Self {
        Self::Unavailable(Cause(e.to_string()))
    }

    /// True for [`StoreError::Unavailable`]: retry later, answer 503.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<fwtoken::Error> for StoreError {
    fn from(e: fwtoken::Error) -> Self {
        match e {
            fwtoken::Error::DeviceLimit { max } => Self::DeviceLimit { max },
            fwtoken::Error::InvalidArgument(rule) => Self::InvalidArgument(rule),
            _ => Self::InvalidArgument("rejected by fwtoken"),
        }
    }
}

/// The text of an underlying storage error (the database driver's message; it never holds a
/// token, only digests and ids are stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause(String);

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An error's message followed by those of its sources (`a: b: c`), so a refused TLS
/// handshake says why ("invalid peer certificate: UnknownIssuer"). Driver messages name
/// hosts, ports and SQL states, never a password.
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::unavailable(with_sources(&e))
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::unavailable(with_sources(&e))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::unavailable(with_sources(&e))
    }
}
