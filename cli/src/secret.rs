//! `fwtoken secret generate|fingerprint`.

use clap::Subcommand;

use crate::Ctx;
use crate::common::CliResult;

/// `fwtoken secret ...`
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Print a new secret (64 lowercase hex characters).
    Generate,
    /// Print the fingerprint of the primary secret (never the secret).
    Fingerprint,
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> CliResult {
    match cmd {
        Cmd::Generate => {
            let secret = fwtoken::Secret::generate(&mut fwtoken::os_rng());
            println!("{}", secret.expose_text());
        }
        Cmd::Fingerprint => {
            let ring = ctx.secrets.ring()?;
            println!("{}", ring.primary().fingerprint());
        }
    }
    Ok(())
}
