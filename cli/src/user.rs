//! `fwtoken user revoke NAME`: every device and API token of a user (needs `--store`).

use clap::Subcommand;
use serde_json::json;

use crate::Ctx;
use crate::common::{CliError, CliResult, now, store_error};

/// `fwtoken user ...`
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Revoke every device and API token of a user (every spelling of the same identity);
    /// prints the counts.
    Revoke {
        /// The user.
        name: String,
        /// The current time (RFC 3339) instead of the clock.
        #[arg(long, value_name = "T")]
        now: Option<String>,
    },
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> CliResult {
    match cmd {
        Cmd::Revoke { name, now: at } => {
            let store = ctx.require_store()?;
            let now = now(at.as_deref())?;
            let devices = store.revoke_user_devices(&name, now).map_err(store_error)?;
            let api_tokens = store
                .revoke_user_api_tokens(&name, now)
                .map_err(store_error)?;
            let out = json!({
                "user": name,
                "user_key": store.user_key(&name),
                "devices": devices,
                "api_tokens": api_tokens,
            });
            println!("{out}");
            // Nothing was active under that identity: a mistyped name must not read as
            // "logged out everywhere".
            if devices == 0 && api_tokens == 0 {
                return Err(CliError::Refused(
                    "nothing was active for this user: no device or API token revoked (check the name)".into(),
                ));
            }
            Ok(())
        }
    }
}
