//! `fwtoken device issue|verify`.

use std::time::Duration;

use clap::{Args, Subcommand};
use fwtoken::{DevicePolicy, DeviceToken};
use serde_json::json;

use crate::Ctx;
use crate::common::{CliResult, now, parse_duration, rfc3339};

/// `fwtoken device ...`
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Issue a device token (a new device) for a user.
    Issue(Issue),
    /// Verify a device token; prints its claims as JSON.
    Verify(Verify),
}

#[derive(Args, Debug)]
pub struct Issue {
    /// The user.
    #[arg(long, value_name = "NAME")]
    user: String,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
}

#[derive(Args, Debug)]
pub struct Verify {
    /// The device token.
    #[arg(allow_hyphen_values = true)]
    token: String,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
    /// Refuse devices older than this.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    max_age: Option<Duration>,
    /// Clock leeway.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    leeway: Option<Duration>,
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> CliResult {
    match cmd {
        Cmd::Issue(a) => issue(a, ctx),
        Cmd::Verify(a) => verify(a, ctx),
    }
}

/// Prints the token, the new device id, the user and the issue time.
fn issue(a: Issue, ctx: &Ctx) -> CliResult {
    let ring = ctx.secrets.ring()?;
    let now = now(a.now.as_deref())?;
    let (token, record) = DeviceToken::issue(&ring, &a.user, now, &mut fwtoken::os_rng())?;
    let out = json!({
        "token": token,
        "device_id": record.device_id.to_string(),
        "user": record.user,
        "issued_at": rfc3339(record.issued_at),
    });
    println!("{out}");
    Ok(())
}

/// Prints the claims; exit 1 when the token is invalid. With `--max-age` (and optionally
/// `--now`, `--leeway`) a `DevicePolicy` is applied too.
fn verify(a: Verify, ctx: &Ctx) -> CliResult {
    let ring = ctx.secrets.ring()?;
    let with_policy = a.now.is_some() || a.max_age.is_some() || a.leeway.is_some();
    let v = if with_policy {
        let mut policy = DevicePolicy::new().max_age(a.max_age);
        if let Some(l) = a.leeway {
            policy = policy.leeway(l);
        }
        DeviceToken::verify_with_policy(&ring, &a.token, now(a.now.as_deref())?, &policy)?
    } else {
        DeviceToken::verify(&ring, &a.token)?
    };
    let out = json!({
        "device_id": v.device_id.to_string(),
        "user": v.user,
        "issued_at": rfc3339(v.issued_at),
        "key": v.slot().as_str(),
    });
    println!("{out}");
    Ok(())
}
