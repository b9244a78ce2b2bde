//! `fwtoken store migrate|purge` (needs `--store`).

use clap::Subcommand;
use serde_json::json;

use crate::Ctx;
use crate::common::{CliResult, now, store_error};

/// `fwtoken store ...`
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create the tables or bring them up to date (opening a store does it; this only
    /// opens it and says so).
    Migrate,
    /// Delete expired API-token rows and used login-token digests; prints how many.
    Purge {
        /// The current time (RFC 3339) instead of the clock.
        #[arg(long, value_name = "T")]
        now: Option<String>,
    },
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> CliResult {
    let store = ctx.require_store()?;
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
