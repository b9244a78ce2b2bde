//! `fwtoken store migrate|purge` (needs `--store`).

use clap::Subcommand;
use serde_json::json;

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
