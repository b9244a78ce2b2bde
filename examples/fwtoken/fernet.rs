//! `fwtoken fernet generate-key|encrypt|decrypt`.
//!
//! Keys come from `FWTOKEN_FERNET_KEY` (primary) and `FWTOKEN_FERNET_BACKUP_KEY` (optional).

use std::io::{Read, Write};
use std::time::Duration;

use fwtoken::{FernetKey, FernetRing};

use crate::common::{Args, CliError, CliResult, parse_duration, usage};

pub fn run(args: &[String]) -> CliResult {
    let (cmd, rest) = crate::common::subcommand(args);
    match cmd {
        "generate-key" => generate_key(rest),
        "encrypt" => encrypt(rest),
        "decrypt" => decrypt(rest),
        other => usage(format!(
            "unknown command `fernet {other}` (generate-key, encrypt, decrypt)"
        )),
    }
}

fn key_from_env(var: &str) -> CliResult<Option<FernetKey>> {
    match std::env::var(var) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => usage(format!("{var} is not valid UTF-8")),
        Ok(text) => FernetKey::from_base64(&text)
            .map(Some)
            .map_err(|e| CliError::Usage(format!("{var}: {e}"))),
    }
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

fn generate_key(args: &[String]) -> CliResult {
    Args::parse(args, &[], &[])?.no_positional()?;
    println!(
        "{}",
        FernetKey::generate(&mut fwtoken::os_rng()).expose_base64()
    );
    Ok(())
}

fn encrypt(args: &[String]) -> CliResult {
    let a = Args::parse(args, &[], &["now"])?;
    a.no_positional()?;
    let ring = ring_from_env()?;
    let now = a.now()?;
    let mut plaintext = Vec::new();
    std::io::stdin()
        .read_to_end(&mut plaintext)
        .map_err(|e| CliError::Usage(format!("reading stdin: {e}")))?;
    let token = ring
        .encrypt(&plaintext, now, &mut fwtoken::os_rng())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    println!("{token}");
    Ok(())
}

/// Seconds (`300`) or a duration (`5m`, `PT5M`).
fn seconds(name: &str, text: &str) -> CliResult<Duration> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| CliError::Usage(format!("--{name}: too large")));
    }
    parse_duration(text).map_err(|e| CliError::Usage(format!("--{name}: {e}")))
}

fn decrypt(args: &[String]) -> CliResult {
    let a = Args::parse(args, &[], &["ttl", "now", "clock-skew"])?;
    let token = a.one_positional("TOKEN")?;
    let mut ring = ring_from_env()?;
    if let Some(s) = a.value("clock-skew")? {
        ring = ring.with_clock_skew(seconds("clock-skew", s)?);
    }
    let now = a.now()?;
    let ttl = a.value("ttl")?.map(|t| seconds("ttl", t)).transpose()?;
    let msg = ring.decrypt(token, now, ttl)?;
    if msg.needs_reissue() {
        eprintln!("note: decrypted with the backup key; re-encrypt under the primary");
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&msg.plaintext)
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Usage(format!("writing stdout: {e}")))?;
    Ok(())
}
