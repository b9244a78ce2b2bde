//! `fwtoken store migrate|purge` (needs `--store`).

use clap::Subcommand;
use serde_json::json;

use fwtoken_store::StoreUrl;

use crate::Ctx;
use crate::common::{CliResult, now, store_error};

/// `fwtoken store ...`
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create the store (a SQLite file is created, mode 600) or bring its tables up to
    /// date; the only command that creates a missing SQLite file.
    Migrate,
    /// Delete expired API-token rows and used login-token digests; prints how many.
    Purge {
        /// The current time (RFC 3339) instead of the clock.
        #[arg(long, value_name = "T")]
        now: Option<String>,
    },
}

/// A store file made by an older release (0644) or copied with the umask's mode: say so
/// (user names, device and token ids, login digests are in it). The mode is left as it is:
/// a deployment may give a backup group read access on purpose.
#[cfg(unix)]
fn warn_if_shared(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let db = path.as_os_str().to_owned();
    for suffix in ["", "-wal", "-shm"] {
        let mut file = db.clone();
        file.push(suffix);
        let file = std::path::PathBuf::from(file);
        if let Ok(meta) = std::fs::metadata(&file)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "warning: {} is readable or writable by group or others (mode {:03o}); it holds user names and token ids: chmod 600 it unless that is intended",
                file.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &std::path::Path) {}

pub fn run(cmd: Cmd, ctx: &Ctx) -> CliResult {
    // `migrate` creates a SQLite store that does not exist yet; `purge` needs one.
    let store = match cmd {
        Cmd::Migrate => ctx.create_store()?,
        Cmd::Purge { .. } => ctx.require_store()?,
    };
    // From the parsed URL, password replaced: never the text given.
    let shown = ctx.store.as_ref().map(|s| s.describe()).unwrap_or_default();
    match cmd {
        Cmd::Migrate => {
            if let Some(StoreUrl::Sqlite(path)) = &ctx.store {
                warn_if_shared(path);
            }
            println!("{}", json!({ "store": shown, "migrated": true }));
        }
        Cmd::Purge { now: at } => {
            let n = store
                .purge_expired(now(at.as_deref())?)
                .map_err(store_error)?;
            println!("{}", json!({ "store": shown, "purged": n }));
        }
    }
    Ok(())
}
