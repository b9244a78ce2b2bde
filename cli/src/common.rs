//! Shared plumbing: exit codes, secrets from the environment or a secrets file, `--now`,
//! durations.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fwtoken::time::OffsetDateTime;
use fwtoken::{KeyRing, Secret};

use fwtoken_store::{BlockingStore, SecretsFile, StoreConfig, StoreError, StoreUrl};

/// An environment variable: `None` when unset or empty (the same rule as the example
/// server's, `fwtoken_store::env_var`); not UTF-8 is a configuration error.
pub fn env(var: &str) -> CliResult<Option<String>> {
    fwtoken_store::env_var(var).map_err(|e| CliError::Usage(e.to_string()))
}

/// What went wrong, and so which exit code to use.
#[derive(Debug)]
pub enum CliError {
    /// Bad command line or configuration: exit 2.
    Usage(String),
    /// The token (or input) was refused: exit 1.
    Refused(String),
}

impl From<fwtoken::Error> for CliError {
    /// A token that does not verify, or a policy that refuses it: exit 1.
    fn from(e: fwtoken::Error) -> Self {
        CliError::Refused(e.to_string())
    }
}

/// What issuing (a token, a link) failed on: a policy refusal (the site owner, a denied
/// user or application, a lifetime over the cap, the device cap) exits 1; anything else is
/// the input (an invalid user name, a bad duration or time, a value too long) and exits 2.
pub fn issue_error(e: fwtoken::Error) -> CliError {
    match e {
        fwtoken::Error::DeniedUser
        | fwtoken::Error::DeniedApplication
        | fwtoken::Error::LifetimeTooLong { .. }
        | fwtoken::Error::DeviceLimit { .. } => CliError::Refused(e.to_string()),
        other => CliError::Usage(other.to_string()),
    }
}

/// The result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

/// A usage or configuration error (exit 2).
pub fn usage<T>(msg: impl Into<String>) -> CliResult<T> {
    Err(CliError::Usage(msg.into()))
}

/// Where the site's secrets come from: `--secrets-file` / `FWTOKEN_SECRETS_FILE`, or the
/// environment (`FWTOKEN_SECRET`, `FWTOKEN_BACKUP_SECRET`).
#[derive(Clone, Debug, Default)]
pub struct SecretSource {
    /// The secrets file, when one was named.
    pub file: Option<PathBuf>,
}

impl SecretSource {
    /// The key ring, from the secrets file or the environment (never both).
    pub fn ring(&self) -> CliResult<KeyRing> {
        match &self.file {
            Some(path) => ring_from_file(path),
            None => ring_from_env(),
        }
    }
}

fn ring_from_file(path: &Path) -> CliResult<KeyRing> {
    for var in ["FWTOKEN_SECRET", "FWTOKEN_BACKUP_SECRET"] {
        if env(var)?.is_some() {
            return usage(format!(
                "{var} is set and a secrets file is given: use one or the other"
            ));
        }
    }
    let file = SecretsFile::read(path).map_err(|e| CliError::Usage(e.to_string()))?;
    for warning in file.warnings() {
        eprintln!("{warning}");
    }
    file.ring().map_err(|e| CliError::Usage(e.to_string()))
}

/// A secret from an environment variable; `None` when unset or empty.
pub fn secret_from_env(var: &str) -> CliResult<Option<Secret>> {
    let Some(text) = env(var)? else {
        return Ok(None);
    };
    let s = Secret::from_text(&text).map_err(|e| CliError::Usage(format!("{var}: {e}")))?;
    if s.is_weak() {
        eprintln!(
            "warning: {var} is weak (under 16 bytes or one repeated character); use `fwtoken secret generate`"
        );
    }
    Ok(Some(s))
}

/// The ring from `FWTOKEN_SECRET` and the optional `FWTOKEN_BACKUP_SECRET`.
pub fn ring_from_env() -> CliResult<KeyRing> {
    let primary = secret_from_env("FWTOKEN_SECRET")?.ok_or_else(|| {
        CliError::Usage(
            "FWTOKEN_SECRET is not set (secrets come from the environment or --secrets-file, never the command line)"
                .into(),
        )
    })?;
    let ring = KeyRing::new(primary);
    match secret_from_env("FWTOKEN_BACKUP_SECRET")? {
        Some(b) => ring
            .with_backup(b)
            .map_err(|e| CliError::Usage(format!("FWTOKEN_BACKUP_SECRET: {e}"))),
        None => Ok(ring),
    }
}

/// `--now RFC3339`, or the system clock.
pub fn now(text: Option<&str>) -> CliResult<OffsetDateTime> {
    match text {
        None => Ok(OffsetDateTime::now_utc()),
        Some(t) => OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map_err(|_| CliError::Usage(format!("--now: not an RFC 3339 time: {t}"))),
    }
}

/// ISO 8601 (`PT30M`) or a short form (`30m`, `1h`, `45s`, `2d`, `1w`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if text.starts_with('P') {
        return fwtoken::parse_duration(text).map_err(|e| e.to_string());
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or("a duration needs a unit (s, m, h, d, w)")?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("not a duration: {text}"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("not a duration: {text}")),
    };
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| "duration overflows".to_string())
}

/// RFC 3339 UTC text (`2016-03-31T16:12:00Z`).
pub fn rfc3339(t: OffsetDateTime) -> String {
    fwtoken::rfc3339(t)
}

/// Opens the store named by `--store` / `FWTOKEN_STORE` (migrating it if needed): no
/// cache and no background housekeeping, since the command exits at once. `memory` is
/// refused: it would forget everything at exit. A SQLite file that does not exist is
/// created only when `create` (`store migrate`); otherwise it is an error and nothing is
/// created, so a mistyped path never becomes a new, empty store.
pub fn open_store(url: &StoreUrl, create: bool) -> CliResult<BlockingStore> {
    let config = StoreConfig::new()
        .cache(false)
        .purge_every(None)
        .create_missing(create);
    if *url == StoreUrl::Memory {
        return usage(
            "--store memory would forget everything when the command exits: use sqlite:PATH or postgres://...",
        );
    }
    BlockingStore::open(url, config).map_err(|e| {
        let hint = if matches!(e, StoreError::NotFound) {
            " (check the path; `fwtoken store migrate` creates a new store)"
        } else {
            ""
        };
        CliError::Usage(format!("store {}: {e}{hint}", url.describe()))
    })
}

/// Exit 1 for what the store refuses (the device cap, a revoked or conflicting id);
/// exit 2 for the storage failing or being misconfigured.
pub fn store_error(e: StoreError) -> CliError {
    match e {
        StoreError::DeviceLimit { .. } | StoreError::Revoked | StoreError::Conflict => {
            CliError::Refused(e.to_string())
        }
        other => CliError::Usage(other.to_string()),
    }
}
