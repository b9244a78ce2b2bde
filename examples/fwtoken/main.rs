//! `fwtoken`: issue and verify fwtoken tokens from the command line.
//!
//! Secrets come from the environment, never the command line: `FWTOKEN_SECRET` (primary)
//! and `FWTOKEN_BACKUP_SECRET` (optional). Exit codes: 0 success, 1 the token or input
//! was refused (one line on stderr), 2 usage or configuration error.
//!
//! ```text
//! cargo run --example fwtoken -- secret generate
//! FWTOKEN_SECRET=... cargo run --example fwtoken -- login issue --user alice --url https://dam.example.com/fotoweb/
//! FWTOKEN_SECRET=... cargo run --example fwtoken -- login verify <TOKEN> --deny-user owner
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod api;
mod cache;
mod common;
mod device;
#[cfg(feature = "edgecast")]
mod edge;
#[cfg(feature = "fernet")]
mod fernet;
mod login;
mod secret;

use std::process::ExitCode;

use common::{CliError, CliResult, usage};

const HELP: &str = "\
usage: fwtoken <group> <command> [options]

  secret generate                      print a new secret (64 lowercase hex characters)
  secret fingerprint                   print the fingerprint of FWTOKEN_SECRET
  login issue --user NAME [--widgets] [--valid-for D] [--start-offset D] [--now T] [--sealed] [--url BASE]
  login verify TOKEN [--now T] [--leeway D] [--max-lifetime D] [--deny-user NAME]...
  api issue --user NAME --app APP --duration D [--now T] [--owner NAME] [--max-duration D] [--cap]
  api verify TOKEN [--now T] [--leeway D]
  device issue --user NAME [--now T]
  device verify TOKEN [--now T] [--max-age D] [--leeway D]
  cache sign --path P [--width N] [--height N] [--format F] [--quality Q] [--expires-in D]
             [--client-ip IP[/LEN]] [--tag TEXT] [--bucket D] [--now T]
  cache open TOKEN [--now T] [--client-ip IP] [--leeway D]
  edge encrypt (--params 'ec_expire=...&ec_url_allow=/a' | [--expires-in D | --expires-at T]
               [--client-ip IP[/LEN]] [--country-allow CC]... [--country-deny CC]...
               [--url-allow PATH]... [--host-allow H]... [--host-deny H]... [--ref-allow R]...
               [--ref-deny R]... [--proto-allow P]... [--proto-deny P]... [--param NAME=VALUE]...)
               [--now T] [--legacy-key]
  edge decrypt TOKEN [--legacy-key]    print {\"params\":...,\"key\":\"primary\"|\"backup\"}
  edge check TOKEN --client-ip IP --host H --path P [--proto https] [--country CC]
             [--referrer URL] [--now T] [--leeway D] [--legacy-key]
  fernet generate-key                  print a new Fernet key
  fernet encrypt [--now T]             encrypt stdin
  fernet decrypt TOKEN [--ttl SECONDS] [--clock-skew SECONDS] [--now T]   plaintext to stdout

Secrets: FWTOKEN_SECRET, FWTOKEN_BACKUP_SECRET (environment only).
Edgecast keys: FWTOKEN_EDGE_KEY, FWTOKEN_EDGE_BACKUP_KEY. Fernet keys: FWTOKEN_FERNET_KEY,
FWTOKEN_FERNET_BACKUP_KEY (environment only).
Durations: ISO 8601 (PT30M) or short forms (30m, 1h, 45s). T: RFC 3339.
Exit codes: 0 ok, 1 refused, 2 usage or configuration error.";

fn run(args: &[String]) -> CliResult {
    let (group, rest) = match args {
        [g, rest @ ..] => (g.as_str(), rest),
        [] => return usage(HELP),
    };
    match group {
        "secret" => secret::run(rest),
        "login" => login::run(rest),
        "api" => api::run(rest),
        "device" => device::run(rest),
        "cache" => cache::run(rest),
        #[cfg(feature = "edgecast")]
        "edge" => edge::run(rest),
        #[cfg(feature = "fernet")]
        "fernet" => fernet::run(rest),
        "help" | "--help" | "-h" => {
            println!("{HELP}");
            Ok(())
        }
        other => usage(format!("unknown command group {other:?}\n{HELP}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
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
