//! `fwtoken fernet generate-key|encrypt|decrypt`.
//!
//! Keys come from `FWTOKEN_FERNET_KEY` (primary) and `FWTOKEN_FERNET_BACKUP_KEY` (optional).

use std::io::{Read, Write};
use std::time::Duration;

use clap::{Args, Subcommand};
use fwtoken::{FernetKey, FernetRing, MAX_FERNET_PLAINTEXT};

use crate::common::{CliError, CliResult, env, now, parse_duration, usage};

/// `fwtoken fernet ...`
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Print a new Fernet key.
    GenerateKey,
    /// Encrypt stdin (at most 6079 bytes); prints the token.
    Encrypt(Encrypt),
    /// Decrypt a token; the plaintext goes to stdout.
    Decrypt(Decrypt),
}

#[derive(Args, Debug)]
pub struct Encrypt {
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
}

#[derive(Args, Debug)]
pub struct Decrypt {
    /// The Fernet token.
    #[arg(allow_hyphen_values = true)]
    token: String,
    /// Refuse tokens older than this (seconds, or 5m, PT5M).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    ttl: Option<Duration>,
    /// Accepted clock skew (seconds, or 1m, PT1M).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    clock_skew: Option<Duration>,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
}

pub fn run(cmd: Cmd) -> CliResult {
    match cmd {
        Cmd::GenerateKey => {
            println!(
                "{}",
                FernetKey::generate(&mut fwtoken::os_rng()).expose_base64()
            );
            Ok(())
        }
        Cmd::Encrypt(a) => encrypt(a),
        Cmd::Decrypt(a) => decrypt(a),
    }
}

fn key_from_env(var: &str) -> CliResult<Option<FernetKey>> {
    env(var)?
        .map(|text| {
            FernetKey::from_base64(&text).map_err(|e| CliError::Usage(format!("{var}: {e}")))
        })
        .transpose()
}

/// The ring from `FWTOKEN_FERNET_KEY` and the optional `FWTOKEN_FERNET_BACKUP_KEY`.
fn ring_from_env() -> CliResult<FernetRing> {
    let primary = key_from_env("FWTOKEN_FERNET_KEY")?.ok_or_else(|| {
        CliError::Usage("FWTOKEN_FERNET_KEY is not set (keys come from the environment, never the command line)".into())
    })?;
    let ring = FernetRing::new(primary);
    match key_from_env("FWTOKEN_FERNET_BACKUP_KEY")? {
        Some(b) => ring
            .with_backup(b)
            .map_err(|e| CliError::Usage(format!("FWTOKEN_FERNET_BACKUP_KEY: {e}"))),
        None => Ok(ring),
    }
}

fn encrypt(a: Encrypt) -> CliResult {
    let ring = ring_from_env()?;
    let now = now(a.now.as_deref())?;
    // At most the largest plaintext plus one byte is read: a larger input is refused
    // without being held in memory.
    let mut plaintext = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_FERNET_PLAINTEXT as u64 + 1)
        .read_to_end(&mut plaintext)
        .map_err(|e| CliError::Usage(format!("reading stdin: {e}")))?;
    if plaintext.len() > MAX_FERNET_PLAINTEXT {
        return usage(format!(
            "standard input is larger than {MAX_FERNET_PLAINTEXT} bytes, the largest Fernet plaintext"
        ));
    }
    let token = ring
        .encrypt(&plaintext, now, &mut fwtoken::os_rng())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    println!("{token}");
    Ok(())
}

/// Seconds (`300`) or a duration (`5m`, `PT5M`).
fn seconds(text: &str) -> Result<Duration, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| "too large".to_string());
    }
    parse_duration(text)
}

fn decrypt(a: Decrypt) -> CliResult {
    let mut ring = ring_from_env()?;
    if let Some(s) = a.clock_skew {
        ring = ring.with_clock_skew(s);
    }
    let now = now(a.now.as_deref())?;
    let msg = ring.decrypt(&a.token, now, a.ttl)?;
    if msg.needs_reissue() {
        eprintln!("note: decrypted with the backup key; re-encrypt under the primary");
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&msg.plaintext)
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Usage(format!("writing stdout: {e}")))?;
    Ok(())
}
