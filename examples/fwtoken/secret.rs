//! `fwtoken secret generate|fingerprint`.

use crate::common::{Args, CliResult, ring_from_env, usage};

pub fn run(args: &[String]) -> CliResult {
    let (cmd, rest) = crate::common::subcommand(args);
    let a = Args::parse(rest, &[], &[])?;
    a.no_positional()?;
    match cmd {
        "generate" => {
            let secret = fwtoken::Secret::generate(&mut fwtoken::os_rng());
            println!("{}", secret.expose_text());
            Ok(())
        }
        "fingerprint" => {
            let ring = ring_from_env()?;
            println!("{}", ring.primary().fingerprint());
            Ok(())
        }
        other => usage(format!(
            "unknown command `secret {other}` (generate, fingerprint)"
        )),
    }
}
