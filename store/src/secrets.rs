//! The site's secrets as an operator configures them: the secrets file, and the full API
//! key's length rule. The `fwtoken` command and servers read them with these functions, so
//! they accept and refuse the same things.
//!
//! ```text
//! # /etc/fwtoken/secrets (chmod 600, owned by the user the program runs as)
//! primary = 3f9a...            # required: what everything new is made with
//! backup = 77c1...             # optional: the previous secret, still accepted
//! api_key = ...                # optional: the site's full API key (a server uses it)
//! ```
//!
//! One `name = value` per line; blank lines and lines starting with `#` are ignored; each
//! name at most once. The file is refused (as `ssh` refuses a private key) unless it is a
//! regular file (not a symbolic link, FIFO, socket, device or directory), owned by the user
//! reading it (root reads only root's), with no permission for its group or others, and at
//! most [`MAX_SECRETS_FILE_LEN`] bytes. Errors name the line number, never its text.

use std::fmt;
use std::io::Read;
use std::path::Path;
use zeroize::Zeroizing;

use fwtoken::{ApiKey, KeyRing, Secret};

use crate::config::ConfigError;

/// Largest secrets file read (a few secrets need well under a kilobyte).
pub const MAX_SECRETS_FILE_LEN: u64 = 64 * 1024;

/// The fewest characters a full API key may have: shorter keys are refused. A full API
/// key opens every administrator route, and a short one can be guessed.
pub const MIN_API_KEY_CHARS: usize = 16;

/// Under this many characters a full API key is accepted with a warning (a key from
/// `fwtoken secret generate` has 64).
pub const RECOMMENDED_API_KEY_CHARS: usize = 32;

/// The full API key's length rule: an error under [`MIN_API_KEY_CHARS`] characters, a
/// warning to print under [`RECOMMENDED_API_KEY_CHARS`], else nothing. `source` names where
/// the key came from (`FWTOKEN_API_KEY`, say) in the messages; the key is never shown.
/// Its characters are counted without a branch on them (`Secret::char_count`).
pub fn check_api_key(key: &ApiKey, source: &str) -> Result<Option<String>, ConfigError> {
    let n = key.secret().char_count();
    if n < MIN_API_KEY_CHARS {
        return Err(ConfigError(format!(
            "{source}: a full API key has at least {MIN_API_KEY_CHARS} characters (this one has {n}); \
             use a long random string such as `fwtoken secret generate` prints"
        )));
    }
    if n < RECOMMENDED_API_KEY_CHARS {
        return Ok(Some(format!(
            "warning: {source} is short ({n} characters): a full API key should be a random string of at least {RECOMMENDED_API_KEY_CHARS} characters (`fwtoken secret generate`)"
        )));
    }
    Ok(None)
}

/// The full API key from its text (an environment variable's value, say): the rules of
/// [`ApiKey::from_text`], then [`check_api_key`]. Returns the key and the warning to print,
/// if any; `source` names the variable in the messages, which never show the key.
pub fn api_key_from_text(
    text: &str,
    source: &str,
) -> Result<(ApiKey, Option<String>), ConfigError> {
    let key = ApiKey::from_text(text).map_err(|e| ConfigError(format!("{source}: {e}")))?;
    let warning = check_api_key(&key, source)?;
    Ok((key, warning))
}

/// What a secrets file holds. Its `Debug` shows fingerprints only.
pub struct SecretsFile {
    /// The primary secret.
    pub primary: Secret,
    /// The backup secret, if any.
    pub backup: Option<Secret>,
    /// The site's full API key, if any (at least [`MIN_API_KEY_CHARS`] characters).
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
    /// Reads and checks the file at `path` (see the module's rules).
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display();
        let text = read_private(path).map_err(|e| ConfigError(format!("{shown}: {e}")))?;
        Self::parse_text(&text).map_err(|e| ConfigError(format!("{shown}: {e}")))
    }

    /// Parses the text of a secrets file (no file checks).
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
                    check_api_key(&k, &format!("line {n} (api_key)")).map_err(|e| e.0)?;
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

    /// What a program should print when it loads this file: a weak primary or backup
    /// secret, a short full API key. Each line starts with `warning: `.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.primary.is_weak() {
            out.push(
                "warning: the primary secret in the secrets file is weak (under 16 bytes or one repeated character); use `fwtoken secret generate`"
                    .to_string(),
            );
        }
        if self.backup.as_ref().is_some_and(Secret::is_weak) {
            out.push("warning: the backup secret in the secrets file is weak".to_string());
        }
        if let Some(k) = &self.api_key
            && let Ok(Some(w)) = check_api_key(k, "api_key in the secrets file")
        {
            out.push(w);
        }
        out
    }
}

/// The file's text, after the checks of the module's rules, read from the file that was
/// checked (one open file: what is read is what was checked).
#[cfg(unix)]
fn read_private(path: &Path) -> Result<Zeroizing<String>, String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use rustix::fs::{Mode, OFlags};

    // A symbolic link is refused by name, before anything is opened: the file it points to
    // may be anyone's, and whoever can change the link chooses the secrets.
    let link = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if link.file_type().is_symlink() {
        return Err("is a symbolic link: name the file itself".into());
    }
    // O_NOFOLLOW: a link put in its place since is refused too; O_NONBLOCK: opening a
    // FIFO does not wait for a writer (it is refused below).
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP => "is a symbolic link: name the file itself".to_string(),
        other => std::io::Error::from(other).to_string(),
    })?;
    let file = std::fs::File::from(fd);
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.file_type().is_file() {
        return Err("not a regular file (a directory, FIFO, socket or device)".into());
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "owned by uid {}, not by the user reading it (uid {me}): whoever owns it can replace the secrets; \
             run `chown {me} FILE` (or read it as its owner)",
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "permissions {mode:03o} are too open (group or others have access); run `chmod 600 FILE`"
        ));
    }
    read_bounded(file)
}

/// Elsewhere: a regular file, size-checked (no owner or mode bits to check).
#[cfg(not(unix))]
fn read_private(path: &Path) -> Result<Zeroizing<String>, String> {
    let link = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !link.file_type().is_file() {
        return Err("not a regular file".into());
    }
    read_bounded(std::fs::File::open(path).map_err(|e| e.to_string())?)
}

/// At most [`MAX_SECRETS_FILE_LEN`] bytes (one more is read to tell a larger file), in
/// one buffer allocated up front (no copy is left behind by a reallocation) and wiped
/// when dropped, as is the text made of it.
fn read_bounded(file: std::fs::File) -> Result<Zeroizing<String>, String> {
    const CAPACITY: usize = MAX_SECRETS_FILE_LEN as usize + 1;
    let mut bytes = Zeroizing::new(Vec::with_capacity(CAPACITY));
    file.take(MAX_SECRETS_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_SECRETS_FILE_LEN {
        return Err(format!("larger than {MAX_SECRETS_FILE_LEN} bytes"));
    }
    // The bytes move into the text (no copy); on an error they are wiped here.
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Err("not UTF-8 text".to_string())
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
        assert!(f.warnings().is_empty());
        for (text, says) in [
            ("backup = x secret", "no `primary"),
            ("primary = a secret\nprimary = b secret", "line 2"),
            ("primary a secret", "line 1"),
            ("primary = a secret\ncolour = blue", "line 2"),
            ("primary =  ", "line 1"),
            ("primary = a secret\napi_key = a", "line 2 (api_key)"),
            (
                "primary = a secret\napi_key = 0123456789abcde",
                "at least 16",
            ),
        ] {
            let e = SecretsFile::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
            assert!(!e.contains("secret\n") && !e.contains("a secret"), "{e}");
            assert!(!e.contains("0123456789abcde"), "{e}");
        }
        let same =
            SecretsFile::parse("primary = same secret text\nbackup = same secret text").unwrap();
        assert!(same.ring().is_err());
        assert!(!format!("{same:?}").contains("same secret text"));
    }

    #[test]
    fn the_full_api_key_is_refused_under_16_characters_and_warned_under_32() {
        let key = |t: &str| ApiKey::from_text(t).unwrap();
        assert!(check_api_key(&key("a"), "K").is_err());
        assert!(check_api_key(&key(&"é".repeat(15)), "K").is_err());
        let w = check_api_key(&key(&"é".repeat(16)), "K").unwrap().unwrap();
        assert!(w.starts_with("warning: K is short (16 characters)"), "{w}");
        assert!(check_api_key(&key(&"x".repeat(31)), "K").unwrap().is_some());
        assert_eq!(check_api_key(&key(&"x".repeat(32)), "K"), Ok(None));
        let e = check_api_key(&key("hunter2hunter2"), "K")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let f =
            SecretsFile::parse(&format!("primary = short\napi_key = {}", "k".repeat(20))).unwrap();
        let w = f.warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w.iter().all(|l| l.starts_with("warning: ")));
    }

    #[cfg(unix)]
    #[test]
    fn a_secrets_file_is_a_private_regular_file_of_the_reader() {
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
        // A symbolic link to it, a directory, a FIFO: refused.
        let link = dir.join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let e = SecretsFile::read(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        let e = SecretsFile::read(&dir).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let fifo = dir.join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        let e = SecretsFile::read(&fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        // Owned by another user (here: root's test makes it nobody's): refused, whatever
        // its mode, since its owner can replace the secrets.
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            let e = SecretsFile::read(&path).unwrap_err().to_string();
            assert!(e.contains("owned by uid 65534"), "{e}");
            std::os::unix::fs::chown(&path, Some(0), None).unwrap();
            assert!(SecretsFile::read(&path).is_ok());
        } else {
            // As another user: a file of root's.
            let e = SecretsFile::read(Path::new("/etc/passwd"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("owned by uid 0"), "{e}");
        }
        // Too large: refused after reading one byte more than the cap, at most.
        std::fs::write(&path, "#".repeat(MAX_SECRETS_FILE_LEN as usize + 10)).unwrap();
        let e = SecretsFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("larger than"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
