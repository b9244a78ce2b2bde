//! Configuration shared by every program on the store (the `fwtoken` command and servers
//! such as `examples/server`), so they read the same formats and say the same things:
//!
//! - [`StoreUrl`]: `--store URL` / `FWTOKEN_STORE`, and how to name a store in a message
//!   without its password; [`Store::open`] and [`BlockingStore::open`] open one.
//!   `sqlite:PATH` (`sqlite://PATH` too) is a SQLite file; `postgres://…`,
//!   `postgresql://…` or `key=value` pairs a PostgreSQL database, read by the driver's own
//!   parser (`tokio_postgres::Config`); `memory` the process's memory only.
//! - [`env_var`]: an environment variable, where empty means unset.
//! - [`SecretsFile`](crate::SecretsFile) and the full API key's length rule
//!   ([`check_api_key`](crate::check_api_key)) are in the `secrets` module.
//!
//! A PostgreSQL store is printed only from the parts the driver parsed, with the password
//! replaced ([`StoreUrl::describe`]: `postgres://fw:***@db.example:5432/fw`); the text it
//! was given is not kept, so no message, log line or `Debug` can repeat it.

use std::fmt;
use std::path::PathBuf;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio_postgres::config::Host;

use crate::{BlockingStore, PostgresConfig, Store, StoreConfig, StoreError};

/// A configuration that can't be used: the message names the rule or the line, never a
/// secret or a password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub(crate) String);

/// An environment variable as a program's configuration reads it: `None` when it is unset
/// **or empty** (`FWTOKEN_STORE=` is the same as no `FWTOKEN_STORE`), an error when it is
/// not UTF-8. The error names the variable, never its value.
pub fn env_var(name: &str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(ConfigError(format!("{name} is not valid UTF-8")))
        }
    }
}

/// A parsed `--store` value.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// In memory.
    Memory,
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, as the driver parsed its connection string (print
    /// [`StoreUrl::describe`]; the string itself is not kept).
    Postgres(PostgresTarget),
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl StoreUrl {
    /// Parses `sqlite:PATH`, `memory`, or a PostgreSQL connection string: a URL
    /// (`postgres://…`, `postgresql://…`) or `key=value` pairs, with
    /// `tokio_postgres::Config`'s parser (so what is printed is what will be used). The
    /// error never repeats the value (it may hold a password).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::parse_text(text).map_err(ConfigError)
    }

    fn parse_text(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("empty (expected sqlite:PATH, postgres://... or memory)".into());
        }
        if text == "memory" {
            return Ok(Self::Memory);
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
        let url = text.starts_with("postgres://") || text.starts_with("postgresql://");
        if !url && !text.contains('=') {
            return Err(
                "not a store URL (expected sqlite:PATH, postgres://..., key=value PostgreSQL parameters, or memory)"
                    .into(),
            );
        }
        parse_postgres(text).map(|c| Self::Postgres(PostgresTarget(Box::new(c))))
    }

    /// True for a SQLite store whose file does not exist (yet): a server that creates it
    /// on open ([`StoreConfig::create_missing`], the default) should say so.
    pub fn is_missing_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(path) if !path.exists())
    }

    /// The store for a message or a log line: the kind and where, never a password.
    pub fn describe(&self) -> String {
        match self {
            Self::Memory => "memory (forgotten when the process ends)".into(),
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(target) => target.describe(),
        }
    }
}

/// Parses a PostgreSQL connection string with `tokio_postgres::Config`'s parser, and
/// refuses what that parser would misread so that a piece of a password became a user,
/// host or database name (and would then be printed as one). In a URL: a second raw `@`
/// (`postgres://fw:p@ss@db/fw`), and a raw `/`, `?` or `#` before the `@`, which end the
/// authority in a URL (RFC 3986) while the driver reads up to the first `@` as the user
/// info: `postgres://db.example:5432/fw?password=Hunter@2PW` would be the user
/// `db.example` with the password `5432/fw?password=Hunter` at the host `2PW`. In either
/// form, a host name with a character no host name has. Such characters are written
/// percent-encoded. The error never repeats the text.
pub(crate) fn parse_postgres(text: &str) -> Result<tokio_postgres::Config, String> {
    const ENCODE: &str = "write @ / ? # & % in a user name, password or parameter percent-encoded: %40 %2F %3F %23 %26 %25";
    let url = text.starts_with("postgres://") || text.starts_with("postgresql://");
    if url {
        let rest = text.split_once("://").map_or("", |(_, r)| r);
        let creds = rest.split_once('@').map(|(creds, _)| creds);
        if rest.matches('@').count() > 1 || creds.is_some_and(|c| c.contains(['/', '?', '#'])) {
            return Err(format!(
                "a PostgreSQL URL holds a raw @, or a raw / ? # before its @, which the driver would misread ({ENCODE})"
            ));
        }
    }
    // The driver's error can quote what it could not read: a piece of a password.
    let config: tokio_postgres::Config = text.parse().map_err(|_| {
        if url {
            format!("not a PostgreSQL URL (postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?PARAM=VALUE&...]; {ENCODE})")
        } else {
            "not a PostgreSQL connection string (key=value pairs; quote a value holding a \
             space with '...')"
                .to_string()
        }
    })?;
    for host in config.get_hosts() {
        if let Host::Tcp(name) = host
            && (name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._:%".contains(&b)))
        {
            return Err(format!(
                "a PostgreSQL host name holds a character no host name has ({ENCODE})"
            ));
        }
    }
    Ok(config)
}

/// A PostgreSQL database as `tokio_postgres::Config` parsed its connection string. Its
/// `Debug` and [`describe`](Self::describe) show the user, hosts, ports and database, and
/// `***` for a password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresTarget(Box<tokio_postgres::Config>);

/// What is percent-encoded when a user, a database or a socket path is printed in a URL.
const URL_PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl PostgresTarget {
    /// The driver's configuration (to connect with).
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.0
    }

    /// `postgres://USER:***@HOST:PORT[,HOST:PORT]/DB`, from the parsed parts only: the
    /// password (from the URL's user info, a `password=` parameter or a key=value pair) is
    /// `***`, and nothing else of the connection string is shown.
    pub fn describe(&self) -> String {
        let c = &self.0;
        let mut out = String::from("postgres://");
        let user = c.get_user();
        if let Some(u) = user {
            out.extend(utf8_percent_encode(u, URL_PART));
        }
        if c.get_password().is_some() {
            out.push_str(":***");
        }
        if user.is_some() || c.get_password().is_some() {
            out.push('@');
        }
        let ports = c.get_ports();
        let hosts: Vec<String> = c
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => {
                    utf8_percent_encode(&path.to_string_lossy(), URL_PART).to_string()
                }
            })
            .collect();
        let hosts = if hosts.is_empty() {
            c.get_hostaddrs().iter().map(|a| a.to_string()).collect()
        } else {
            hosts
        };
        let with_ports: Vec<String> = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let port = if ports.len() == 1 {
                    ports.first()
                } else {
                    ports.get(i)
                };
                match port {
                    Some(p) => format!("{h}:{p}"),
                    None => h.clone(),
                }
            })
            .collect();
        out.push_str(&with_ports.join(","));
        if let Some(db) = c.get_dbname() {
            out.push('/');
            out.extend(utf8_percent_encode(db, URL_PART));
        }
        out
    }
}

impl fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Store {
    /// Opens (and migrates) the store `url` names. `memory` is allowed here; a program that
    /// exits at once should refuse it (it would forget everything).
    pub async fn open(url: &StoreUrl, config: StoreConfig) -> Result<Self, StoreError> {
        match url {
            StoreUrl::Memory => Self::memory(config).await,
            StoreUrl::Sqlite(path) => Self::sqlite(path, config).await,
            StoreUrl::Postgres(target) => {
                Self::postgres(PostgresConfig::from_config((*target.0).clone()), config).await
            }
        }
    }
}

impl BlockingStore {
    /// [`Store::open`], for sync programs.
    pub fn open(url: &StoreUrl, config: StoreConfig) -> Result<Self, StoreError> {
        match url {
            StoreUrl::Memory => Self::memory(config),
            StoreUrl::Sqlite(path) => Self::sqlite(path, config),
            StoreUrl::Postgres(target) => {
                Self::postgres(PostgresConfig::from_config((*target.0).clone()), config)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        StoreUrl::parse(text).unwrap().describe()
    }

    #[test]
    fn sqlite_and_memory() {
        assert_eq!(
            StoreUrl::parse("sqlite:/var/lib/fwtoken.sqlite"),
            Ok(StoreUrl::Sqlite("/var/lib/fwtoken.sqlite".into()))
        );
        assert_eq!(
            StoreUrl::parse("sqlite://rel.sqlite"),
            Ok(StoreUrl::Sqlite("rel.sqlite".into()))
        );
        assert_eq!(StoreUrl::parse("memory"), Ok(StoreUrl::Memory));
        for bad in ["sqlite:", "", "  ", "fw.sqlite", "/var/lib/fw.sqlite"] {
            assert!(StoreUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn postgres_is_printed_from_its_parsed_parts() {
        assert_eq!(
            shown("postgres://fw:hunter2@db.example:5432/fw?password=x2&sslmode=disable"),
            "postgres://fw:***@db.example:5432/fw"
        );
        assert_eq!(
            shown("postgresql://localhost/fw"),
            "postgres://localhost:5432/fw"
        );
        // The cases: `?` and `#` in the password (percent-encoded: raw, they are
        // refused), a percent-encoded parameter name.
        assert_eq!(
            shown("postgres://fw:Hun%3Fter%232PW@127.0.0.1:5432/fw"),
            "postgres://fw:***@127.0.0.1:5432/fw"
        );
        assert_eq!(
            shown("postgres://fw@127.0.0.1/fw?pass%77ord=Hunter2PW"),
            "postgres://fw:***@127.0.0.1:5432/fw"
        );
        assert_eq!(
            shown("postgres://u:pa%2Fss@h/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            shown("host=db.example port=6432 user=fw password='a b' dbname=fw"),
            "postgres://fw:***@db.example:6432/fw"
        );
        assert_eq!(
            shown("postgres://fw@a:1,[::1]:2/fw"),
            "postgres://fw@a:1,[::1]:2/fw"
        );
        assert_eq!(
            shown("postgres://fw%40corp@%2Frun%2Fpostgresql/fw%20db"),
            "postgres://fw%40corp@%2Frun%2Fpostgresql:5432/fw%20db"
        );
        let pg = StoreUrl::parse("postgres://fw:hunter2@db/fw").unwrap();
        assert!(!format!("{pg:?}").contains("hunter2"));
    }

    #[test]
    fn what_cannot_be_read_is_refused_without_repeating_it() {
        for text in [
            // The host forgotten: the password is read as a port.
            "postgres://fw:Hunter2PW",
            // A raw `@` in the password: the rest of it would be the host.
            "postgres://fw:Hun@ter2PW@db/fw",
            // A raw `&` in a password parameter: the rest is a parameter with no value.
            "postgres://fw@db/fw?password=Hun&ter2PW",
            // An unquoted space in a key=value password.
            "host=db password=Hun ter2PW",
            "mysql://u:Hunter2PW@h/db",
            // No user part: a raw `@` in the query would end the "user info" for the
            // driver (user `db.example/fw?password=Hun`, host `ter2PW`).
            "postgres://db.example/fw?password=Hun@ter2PW",
            "postgres://db.example?password=Hun@ter2PW",
            "postgres://db.example:5432/fw?user=fw&password=Hun@ter2PW",
            // A raw `/`, `?` or `#` in the user info (the password, `Hun?ter#2PW`).
            "postgres://fw:Hun?ter2PW@db.example:5432/fw",
            "postgres://fw:Hun#ter2PW@db.example:5432/fw",
            "postgres://fw:Hun/ter2PW@db.example:5432/fw",
            // A second raw `@`: a piece of the password would be the database.
            "postgres://fw:Hun@x/ter2PW@db/fw",
        ] {
            let e = StoreUrl::parse(text).unwrap_err().to_string();
            for piece in ["Hunter2PW", "Hun", "ter2PW"] {
                assert!(!e.contains(piece), "{text}: {e}");
            }
            if text.starts_with("postgres") {
                let e = crate::PostgresConfig::new(text).unwrap_err();
                let shown = format!("{e} {e:?}");
                for piece in ["Hunter2PW", "Hun", "ter2PW"] {
                    assert!(!shown.contains(piece), "{text}: {shown}");
                }
            }
        }
    }

    #[test]
    fn empty_environment_variables_read_as_unset() {
        // A name no test sets.
        assert_eq!(env_var("FWTOKEN_STORE_TEST_NEVER_SET"), Ok(None));
    }
}
