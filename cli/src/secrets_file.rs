//! The secrets file: the site's primary and backup encryption secret and its full API key,
//! in one file only its owner can read.
//!
//! ```text
//! # /etc/fwtoken/secrets (chmod 600)
//! primary = 3f9a...            # required: what everything new is made with
//! backup = 77c1...             # optional: the previous secret, still accepted
//! api_key = ...                # optional: the site's full API key (the server uses it)
//! ```
//!
//! One `name = value` per line; blank lines and lines starting with `#` are ignored; each
//! name at most once. The file is refused when its group or others have any permission
//! (as `ssh` refuses a private key others can read), when it is not a regular file, or
//! when it is larger than [`MAX_LEN`]. Errors name the line number, never its text.
//!
//! This file is shared by the `fwtoken` command and the example server
//! (`examples/server`, through `#[path]`), so both read the same format.

use std::fmt;
use std::path::Path;

use fwtoken::{ApiKey, KeyRing, Secret};

/// Largest secrets file read (a few secrets need well under a kilobyte).
pub const MAX_LEN: u64 = 64 * 1024;

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
    pub fn read(path: &Path) -> Result<Self, String> {
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
        if meta.len() > MAX_LEN {
            return Err(format!("{shown}: larger than {MAX_LEN} bytes"));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        Self::parse(&text).map_err(|e| format!("{shown}: {e}"))
    }

    /// Parses the text of a secrets file (no permission check).
    pub fn parse(text: &str) -> Result<Self, String> {
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
    pub fn ring(&self) -> Result<KeyRing, String> {
        let ring = KeyRing::new(self.primary.clone());
        match &self.backup {
            Some(b) => ring
                .with_backup(b.clone())
                .map_err(|e| format!("backup: {e}")),
            None => Ok(ring),
        }
    }
}
