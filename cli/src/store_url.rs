//! `--store URL` / `FWTOKEN_STORE`: which durable store to open, and how to name it in a
//! message without its password.
//!
//! - `sqlite:PATH` (`sqlite://PATH` too): a SQLite file, created and migrated if needed;
//! - `postgres://…` or `postgresql://…`: a PostgreSQL database (the URL as
//!   `tokio-postgres` reads it);
//! - `memory`: in the process only (the example server accepts it; the CLI refuses it,
//!   since it would forget everything at exit).
//!
//! Shared by the `fwtoken` command and the example server (through `#[path]`).

use std::path::PathBuf;

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
    pub fn parse(text: &str) -> Result<Self, String> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
