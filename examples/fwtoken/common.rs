//! Shared plumbing for the `fwtoken` command-line tool: argument parsing, secrets from
//! the environment, `--now`, durations, exit codes.

use std::collections::BTreeMap;
use std::time::Duration;

use fwtoken::time::OffsetDateTime;
use fwtoken::{KeyRing, Secret};

/// What went wrong, and so which exit code to use.
#[derive(Debug)]
pub enum CliError {
    /// Bad command line or configuration: exit 2.
    Usage(String),
    /// The token (or input) was refused: exit 1.
    Refused(String),
}

impl From<fwtoken::Error> for CliError {
    fn from(e: fwtoken::Error) -> Self {
        CliError::Refused(e.to_string())
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

pub fn usage<T>(msg: impl Into<String>) -> CliResult<T> {
    Err(CliError::Usage(msg.into()))
}

/// The command word and the arguments after it (`""` when there is none).
pub fn subcommand(args: &[String]) -> (&str, &[String]) {
    args.split_first()
        .map(|(c, r)| (c.as_str(), r))
        .unwrap_or(("", &[]))
}

/// Parsed arguments: positionals and `--name value` / `--flag` options.
pub struct Args {
    pub positional: Vec<String>,
    options: BTreeMap<String, Vec<String>>,
}

impl Args {
    /// Parses `args`; names in `switches` take no value, every other `--name` takes one.
    /// Unknown names (not in `switches` or `valued`) are a usage error.
    pub fn parse(args: &[String], switches: &[&str], valued: &[&str]) -> CliResult<Self> {
        let mut positional = Vec::new();
        let mut options: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let (name, inline) = match name.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (name, None),
                };
                if switches.contains(&name) {
                    if inline.is_some() {
                        return usage(format!("--{name} takes no value"));
                    }
                    options.entry(name.into()).or_default().push(String::new());
                } else if valued.contains(&name) {
                    let v = match inline {
                        Some(v) => v,
                        None => it
                            .next()
                            .cloned()
                            .ok_or_else(|| CliError::Usage(format!("--{name} needs a value")))?,
                    };
                    options.entry(name.into()).or_default().push(v);
                } else {
                    return usage(format!("unknown option --{name}"));
                }
            } else {
                positional.push(a.clone());
            }
        }
        Ok(Self {
            positional,
            options,
        })
    }

    pub fn switch(&self, name: &str) -> bool {
        self.options.contains_key(name)
    }

    pub fn value(&self, name: &str) -> CliResult<Option<&str>> {
        match self.options.get(name).map(Vec::as_slice) {
            None => Ok(None),
            Some([v]) => Ok(Some(v.as_str())),
            Some(_) => usage(format!("--{name} given more than once")),
        }
    }

    pub fn required(&self, name: &str) -> CliResult<&str> {
        self.value(name)?
            .ok_or_else(|| CliError::Usage(format!("--{name} is required")))
    }

    pub fn values(&self, name: &str) -> Vec<&str> {
        self.options
            .get(name)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Exactly one positional argument (the token).
    pub fn one_positional(&self, what: &str) -> CliResult<&str> {
        match self.positional.as_slice() {
            [t] => Ok(t.as_str()),
            _ => usage(format!("expected exactly one {what}")),
        }
    }

    pub fn no_positional(&self) -> CliResult<()> {
        if self.positional.is_empty() {
            Ok(())
        } else {
            usage(format!("unexpected argument {:?}", self.positional[0]))
        }
    }

    /// `--now RFC3339`, or the system clock.
    pub fn now(&self) -> CliResult<OffsetDateTime> {
        match self.value("now")? {
            None => Ok(OffsetDateTime::now_utc()),
            Some(t) => {
                OffsetDateTime::parse(t, &fwtoken::time::format_description::well_known::Rfc3339)
                    .map_err(|_| CliError::Usage(format!("--now: not an RFC 3339 time: {t}")))
            }
        }
    }

    /// A duration option: ISO 8601 (`PT30M`) or a short form (`30m`, `1h`, `45s`, `2d`).
    pub fn duration(&self, name: &str) -> CliResult<Option<Duration>> {
        self.value(name)?
            .map(|t| parse_duration(t).map_err(|e| CliError::Usage(format!("--{name}: {e}"))))
            .transpose()
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

/// A secret from an environment variable; `None` when unset.
pub fn secret_from_env(var: &str) -> CliResult<Option<Secret>> {
    match std::env::var(var) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => usage(format!("{var} is not valid UTF-8")),
        Ok(text) => {
            let s = Secret::from_text(&text).map_err(|e| CliError::Usage(format!("{var}: {e}")))?;
            if s.is_weak() {
                eprintln!(
                    "warning: {var} is weak (under 16 bytes or one repeated character); use `fwtoken secret generate`"
                );
            }
            Ok(Some(s))
        }
    }
}

/// The ring from `FWTOKEN_SECRET` and the optional `FWTOKEN_BACKUP_SECRET`.
pub fn ring_from_env() -> CliResult<KeyRing> {
    let primary = secret_from_env("FWTOKEN_SECRET")?.ok_or_else(|| {
        CliError::Usage(
            "FWTOKEN_SECRET is not set (secrets come from the environment, never the command line)"
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

/// RFC 3339 UTC text (`2016-03-31T16:12:00Z`).
pub fn rfc3339(t: OffsetDateTime) -> String {
    fwtoken::rfc3339(t)
}
