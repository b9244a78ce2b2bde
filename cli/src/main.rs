//! `fwtoken`: issue, verify and revoke fwtoken tokens from the command line.
//!
//! Secrets come from the environment or a secrets file, never the command line:
//! `FWTOKEN_SECRET` (primary) and `FWTOKEN_BACKUP_SECRET` (optional), or `--secrets-file
//! PATH` / `FWTOKEN_SECRETS_FILE`. An empty environment variable is the same as an unset
//! one. Exit codes (one contract for every command, tested in `cli/tests/exit_codes.rs`):
//! 0 success; 1 refused (a token refused, a policy refusal, nothing to revoke), with one
//! line on stderr; 2 usage, input or configuration error, and storage unavailable.
//!
//! ```text
//! cargo install --path cli
//! fwtoken secret generate
//! FWTOKEN_SECRET=... fwtoken login issue --user alice --url https://dam.example.com/fotoweb/
//! FWTOKEN_SECRET=... fwtoken login verify <TOKEN> --deny-user owner
//! ```

mod api;
mod cache;
mod common;
mod device;
mod edge;
mod fernet;
mod login;
mod secret;
mod store;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use common::{CliError, CliResult, SecretSource};
use fwtoken_store::StoreUrl;

const AFTER_HELP: &str = "\
Secrets: FWTOKEN_SECRET, FWTOKEN_BACKUP_SECRET (environment), or --secrets-file PATH (a
regular file of yours, mode 600).
State: --store sqlite:PATH | postgres://... (or FWTOKEN_STORE); without it nothing is
recorded and the store commands (list, revoke, user, store) are unavailable. A SQLite
file must exist: only `fwtoken store migrate` creates one. Passwords are never printed.
Edgecast keys: FWTOKEN_EDGE_KEY, FWTOKEN_EDGE_BACKUP_KEY. Fernet keys: FWTOKEN_FERNET_KEY,
FWTOKEN_FERNET_BACKUP_KEY (environment only).
Durations: ISO 8601 (PT30M) or short forms (30m, 1h, 45s, 2d, 1w). Times: RFC 3339.
An empty environment variable counts as unset.
Exit codes: 0 ok; 1 refused (a token, a policy, nothing to revoke); 2 usage, input or
configuration error, or the store unavailable.";

/// Issue, verify and revoke FotoWeb-style tokens: login, API, device and cache-link tokens,
/// Edgecast CDN tokens and Fernet.
#[derive(Parser, Debug)]
#[command(name = "fwtoken", version, after_help = AFTER_HELP, arg_required_else_help = true)]
struct Cli {
    /// A secrets file (`primary = ...`, `backup = ...`; mode 600, owned by you) instead of
    /// FWTOKEN_SECRET / FWTOKEN_BACKUP_SECRET [env: FWTOKEN_SECRETS_FILE].
    #[arg(long, global = true, value_name = "PATH")]
    secrets_file: Option<PathBuf>,

    /// The durable store (`sqlite:PATH`, `postgres://...` or PostgreSQL key=value pairs):
    /// issue registers, verify checks revocation, and the list/revoke commands work. A
    /// SQLite file must exist (`fwtoken store migrate` creates it) [env: FWTOKEN_STORE].
    /// (Parsed here, not by clap, whose error would repeat the value and its password.)
    #[arg(long, global = true, value_name = "URL")]
    store: Option<String>,

    #[command(subcommand)]
    group: Group,
}

#[derive(Subcommand, Debug)]
enum Group {
    /// Generate a secret, or print the fingerprint of the one configured.
    #[command(subcommand)]
    Secret(secret::Cmd),
    /// FotoWeb login tokens (`lt=`).
    #[command(subcommand)]
    Login(login::Cmd),
    /// API tokens (`FWAPIToken`).
    #[command(subcommand)]
    Api(api::Cmd),
    /// Device tokens (the `FWSession` cookie).
    #[command(subcommand)]
    Device(device::Cmd),
    /// Encrypted cache links.
    #[command(subcommand)]
    Cache(cache::Cmd),
    /// Edgecast token v3 (CDN tokens).
    #[command(subcommand)]
    Edge(edge::Cmd),
    /// Fernet tokens.
    #[command(subcommand)]
    Fernet(fernet::Cmd),
    /// A user's devices and API tokens, all at once (needs --store).
    #[command(subcommand)]
    User(user::Cmd),
    /// The store itself: migrate, purge (needs --store).
    #[command(subcommand)]
    Store(store::Cmd),
    /// Print a shell completion script to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// What every command may need besides its own arguments.
#[derive(Debug)]
pub struct Ctx {
    /// Where the site's secrets come from.
    pub secrets: SecretSource,
    /// The store, when one was named.
    pub store: Option<StoreUrl>,
}

impl Ctx {
    /// The store, opened, when `--store` was given. A SQLite file must exist.
    pub fn store(&self) -> CliResult<Option<fwtoken_store::BlockingStore>> {
        self.store
            .as_ref()
            .map(|url| common::open_store(url, false))
            .transpose()
    }

    /// The store, which this command cannot do without. A SQLite file must exist.
    pub fn require_store(&self) -> CliResult<fwtoken_store::BlockingStore> {
        self.store()?.ok_or_else(no_store)
    }

    /// The store, created when it is a SQLite file that does not exist yet (`store
    /// migrate` only).
    pub fn create_store(&self) -> CliResult<fwtoken_store::BlockingStore> {
        let url = self.store.as_ref().ok_or_else(no_store)?;
        common::open_store(url, true)
    }
}

fn no_store() -> CliError {
    CliError::Usage("this command needs a store: --store URL or FWTOKEN_STORE".into())
}

fn run(cli: Cli) -> CliResult {
    // An option given on the command line must have a value; an empty environment
    // variable is the same as an unset one.
    let store = match cli.store {
        Some(text) => Some((text, "--store")),
        None => common::env("FWTOKEN_STORE")?.map(|t| (t, "FWTOKEN_STORE")),
    };
    let secrets_file = match cli.secrets_file {
        Some(path) => Some(path),
        None => common::env("FWTOKEN_SECRETS_FILE")?.map(PathBuf::from),
    };
    let ctx = Ctx {
        secrets: SecretSource { file: secrets_file },
        store: store
            .map(|(text, from)| {
                StoreUrl::parse(&text).map_err(|e| CliError::Usage(format!("{from}: {e}")))
            })
            .transpose()?,
    };
    match cli.group {
        Group::Secret(c) => secret::run(c, &ctx),
        Group::Login(c) => login::run(c, &ctx),
        Group::Api(c) => api::run(c, &ctx),
        Group::Device(c) => device::run(c, &ctx),
        Group::Cache(c) => cache::run(c, &ctx),
        Group::Edge(c) => edge::run(c),
        Group::Fernet(c) => fernet::run(c),
        Group::User(c) => user::run(c, &ctx),
        Group::Store(c) => store::run(c, &ctx),
        Group::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "fwtoken", &mut std::io::stdout());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    // clap prints help and the version to stdout with exit 0, and usage errors to stderr
    // with exit 2.
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Refused(msg)) => {
            eprintln!("refused: {msg}");
            ExitCode::from(1)
        }
        Err(CliError::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
