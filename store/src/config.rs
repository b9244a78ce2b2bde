//! Configuration shared by every program on the store (the `fwtoken` command and servers
//! such as `examples/server`), so they read the same formats:
//!
//! - [`StoreUrl`]: `--store URL` / `FWTOKEN_STORE`, and how to name a store in a message
//!   without its password; [`Store::open`] and [`BlockingStore::open`] open one.
//!   `sqlite:PATH` (`sqlite://PATH` too) is a SQLite file, created and migrated if needed;
//!   `postgres://…` or `postgresql://…` a PostgreSQL database (the URL as `tokio-postgres`
//!   reads it); `memory` the process's memory only.
//! - [`SecretsFile`]: the site's primary and backup encryption secret and its full API key,
//!   in one file only its owner can read:
//!
//! ```text
//! # /etc/fwtoken/secrets (chmod 600)
//! primary = 3f9a...            # required: what everything new is made with
//! backup = 77c1...             # optional: the previous secret, still accepted
//! api_key = ...                # optional: the site's full API key (a server uses it)
//! ```
//!
//! One `name = value` per line; blank lines and lines starting with `#` are ignored; each
//! name at most once. The file is refused when its group or others have any permission
//! (as `ssh` refuses a private key others can read), when it is not a regular file, or
//! when it is larger than [`MAX_SECRETS_FILE_LEN`]. Errors name the line number, never its
//! text, and never repeat a store URL (it may hold a password).

use std::fmt;
use std::path::{Path, PathBuf};

use fwtoken::{ApiKey, KeyRing, Secret};

use crate::{BlockingStore, PostgresConfig, Store, StoreConfig, StoreError};

/// A configuration that can't be used: the message names the rule or the line, never a
/// secret or a password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// A parsed `--store` value.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// In memory.
    Memory,
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (may hold a password: print [`StoreUrl::describe`]).
    Postgres(String),
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl StoreUrl {
    /// Parses `sqlite:PATH`, `postgres://…`, `postgresql://…` or `memory`. The error
    /// never repeats the value (it may hold a password).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::parse_text(text).map_err(ConfigError)
    }

    fn parse_text(text: &str) -> Result<Self, String> {
        if text == "memory" {
            return Ok(Self::Memory);
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_string()));
        }
        if let Some(path) = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err("sqlite: needs a file path (sqlite:PATH)".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        Err("not a store URL (expected sqlite:PATH, postgres://... or memory)".into())
    }

    /// The store for a message or a log line: the kind and where, never a password.
    pub fn describe(&self) -> String {
        match self {
            Self::Memory => "memory (forgotten when the process ends)".into(),
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(url) => redact_postgres(url),
        }
    }
}

/// A PostgreSQL URL with the password and any `password=` query parameter replaced by
/// `***`.
pub fn redact_postgres(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "postgres://***".into();
    };
    // Userinfo ends at the last `@` before the query (a password may hold `/`).
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = match before_query.rsplit_once('@') {
        Some((userinfo, hostpath)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{hostpath}"),
            None => format!("{userinfo}@{hostpath}"),
        },
        None => before_query.to_string(),
    };
    let tail = match query {
        Some(query) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("?{}", query.join("&"))
        }
        None => String::new(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Largest secrets file read (a few secrets need well under a kilobyte).
pub const MAX_SECRETS_FILE_LEN: u64 = 64 * 1024;

/// What a secrets file holds. Its `Debug` shows fingerprints only.
pub struct SecretsFile {
    /// The primary secret.
    pub primary: Secret,
    /// The backup secret, if any.
    pub backup: Option<Secret>,
    /// The site's full API key, if any.
    pub api_key: Option<ApiKey>,
}

impl fmt::Debug for SecretsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsFile")
            .field("primary", &self.primary.fingerprint())
            .field("backup", &self.backup.as_ref().map(Secret::fingerprint))
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl SecretsFile {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        Self::read_text(path).map_err(ConfigError)
    }

    fn read_text(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{shown}: not a regular file"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "{shown}: permissions {mode:03o} are too open (group or others have access); \
                     run `chmod 600 {shown}`"
                ));
            }
        }
        if meta.len() > MAX_SECRETS_FILE_LEN {
            return Err(format!("{shown}: larger than {MAX_SECRETS_FILE_LEN} bytes"));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        Self::parse_text(&text).map_err(|e| format!("{shown}: {e}"))
    }

    /// Parses the text of a secrets file (no permission check).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::parse_text(text).map_err(ConfigError)
    }

    fn parse_text(text: &str) -> Result<Self, String> {
        let mut primary = None;
        let mut backup = None;
        let mut api_key = None;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(format!("line {n}: expected `name = value`"));
            };
            let value = value.trim();
            let slot_name = name.trim();
            match slot_name {
                "primary" | "backup" => {
                    let s = Secret::from_text(value)
                        .map_err(|e| format!("line {n} ({slot_name}): {e}"))?;
                    let slot = if slot_name == "primary" {
                        &mut primary
                    } else {
                        &mut backup
                    };
                    if slot.replace(s).is_some() {
                        return Err(format!("line {n}: `{slot_name}` given twice"));
                    }
                }
                "api_key" => {
                    let k =
                        ApiKey::from_text(value).map_err(|e| format!("line {n} (api_key): {e}"))?;
                    if api_key.replace(k).is_some() {
                        return Err(format!("line {n}: `api_key` given twice"));
                    }
                }
                _ => {
                    return Err(format!(
                        "line {n}: unknown name (expected primary, backup or api_key)"
                    ));
                }
            }
        }
        let primary = primary.ok_or("no `primary = ...` line")?;
        Ok(Self {
            primary,
            backup,
            api_key,
        })
    }

    /// The key ring: the primary, and the backup when there is one.
    pub fn ring(&self) -> Result<KeyRing, ConfigError> {
        let ring = KeyRing::new(self.primary.clone());
        match &self.backup {
            Some(b) => ring
                .with_backup(b.clone())
                .map_err(|e| ConfigError(format!("backup: {e}"))),
            None => Ok(ring),
        }
    }
}

impl Store {
    /// Opens (and migrates) the store `url` names. `memory` is allowed here; a program that
    /// exits at once should refuse it (it would forget everything).
    pub async fn open(url: &StoreUrl, config: StoreConfig) -> Result<Self, StoreError> {
        match url {
            StoreUrl::Memory => Self::memory(config).await,
            StoreUrl::Sqlite(path) => Self::sqlite(path, config).await,
            StoreUrl::Postgres(text) => Self::postgres(PostgresConfig::new(text)?, config).await,
        }
    }
}

impl BlockingStore {
    /// [`Store::open`], for sync programs.
    pub fn open(url: &StoreUrl, config: StoreConfig) -> Result<Self, StoreError> {
        match url {
            StoreUrl::Memory => Self::memory(config),
            StoreUrl::Sqlite(path) => Self::sqlite(path, config),
            StoreUrl::Postgres(text) => Self::postgres(PostgresConfig::new(text)?, config),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_file_lines_and_rules() {
        let f = SecretsFile::parse(
            "# site\nprimary = first secret of the site\n\nbackup=old secret of the site\n",
        )
        .unwrap();
        assert!(f.backup.is_some() && f.api_key.is_none());
        assert!(f.ring().is_ok());
        for (text, says) in [
            ("backup = x secret", "no `primary"),
            ("primary = a secret\nprimary = b secret", "line 2"),
            ("primary a secret", "line 1"),
            ("primary = a secret\ncolour = blue", "line 2"),
            ("primary =  ", "line 1"),
        ] {
            let e = SecretsFile::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
            assert!(!e.contains("secret\n") && !e.contains("a secret"), "{e}");
        }
        let same =
            SecretsFile::parse("primary = same secret text\nbackup = same secret text").unwrap();
        assert!(same.ring().is_err());
        assert!(!format!("{same:?}").contains("same secret text"));
    }

    #[cfg(unix)]
    #[test]
    fn a_secrets_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("fwtoken-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secrets");
        std::fs::write(&path, "primary = the primary secret text\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = SecretsFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("too open"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(SecretsFile::read(&path).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn urls_parse_and_passwords_never_show() {
        assert_eq!(
            StoreUrl::parse("sqlite:/var/lib/fwtoken.sqlite"),
            Ok(StoreUrl::Sqlite("/var/lib/fwtoken.sqlite".into()))
        );
        assert_eq!(
            StoreUrl::parse("sqlite://rel.sqlite"),
            Ok(StoreUrl::Sqlite("rel.sqlite".into()))
        );
        assert_eq!(StoreUrl::parse("memory"), Ok(StoreUrl::Memory));
        assert!(StoreUrl::parse("sqlite:").is_err());
        assert!(StoreUrl::parse("mysql://u:hunter2@h/db").is_err());
        assert!(
            !StoreUrl::parse("mysql://u:hunter2@h/db")
                .unwrap_err()
                .to_string()
                .contains("hunter2")
        );
        let pg =
            StoreUrl::parse("postgres://fw:hunter2@db.example:5432/fw?password=x2&sslmode=disable")
                .unwrap();
        let shown = pg.describe();
        assert_eq!(
            shown,
            "postgres://fw:***@db.example:5432/fw?password=***&sslmode=disable"
        );
        assert!(!format!("{pg:?}").contains("hunter2"));
        assert_eq!(
            redact_postgres("postgresql://localhost/fw"),
            "postgresql://localhost/fw"
        );
        assert_eq!(
            redact_postgres("postgresql://a:b:c@h"),
            "postgresql://a:***@h"
        );
        assert_eq!(
            redact_postgres("postgres://u:pa/ss@h/db"),
            "postgres://u:***@h/db"
        );
    }
}
