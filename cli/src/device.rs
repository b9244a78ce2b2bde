//! `fwtoken device issue|verify`.

use std::time::Duration;

use clap::{Args, Subcommand};
use fwtoken::{DeviceId, DevicePolicy, DeviceToken};
use fwtoken_store::DeviceLimit;
use serde_json::json;

use crate::Ctx;
use crate::common::{CliError, CliResult, issue_error, now, parse_duration, rfc3339, store_error};

/// Devices one user may hold when registering in a store: FotoWeb's number, the core's.
pub const DEFAULT_MAX_DEVICES: usize = fwtoken::DEFAULT_MAX_DEVICES;

/// `fwtoken device ...`
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Issue a device token (a new device) for a user.
    Issue(Issue),
    /// Verify a device token; prints its claims as JSON (with --store: also that the
    /// device is registered and not revoked).
    Verify(Verify),
    /// List a user's devices, active and revoked, as a JSON array (needs --store).
    List {
        /// The user (every spelling of the same identity is listed).
        #[arg(long, value_name = "NAME")]
        user: String,
    },
    /// Revoke a device for good (needs --store); exit 1 when it was not active.
    Revoke {
        /// The device id (32 hex characters).
        device_id: String,
        /// The current time (RFC 3339) instead of the clock.
        #[arg(long, value_name = "T")]
        now: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct Issue {
    /// The user.
    #[arg(long, value_name = "NAME")]
    user: String,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
    /// With --store: the most active devices one user may hold (the next is refused).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_DEVICES)]
    max_devices: usize,
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
        Cmd::List { user } => list(&user, ctx),
        Cmd::Revoke { device_id, now: at } => revoke(&device_id, at.as_deref(), ctx),
    }
}

/// Prints the token, the new device id, the user and the issue time.
fn issue(a: Issue, ctx: &Ctx) -> CliResult {
    let ring = ctx.secrets.ring()?;
    let now = now(a.now.as_deref())?;
    let store = ctx.store()?;
    let (token, record) =
        DeviceToken::issue(&ring, &a.user, now, &mut fwtoken::os_rng()).map_err(issue_error)?;
    if let Some(store) = &store {
        store
            .register_device(&record, DeviceLimit::refuse(a.max_devices), now)
            .map_err(store_error)?;
    }
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
    if let Some(store) = ctx.store()?
        && !store.is_device_active(&v.device_id).map_err(store_error)?
    {
        return Err(CliError::Refused(
            "the device is revoked or not registered".into(),
        ));
    }
    let out = json!({
        "device_id": v.device_id.to_string(),
        "user": v.user,
        "issued_at": rfc3339(v.issued_at),
        "key": v.slot().as_str(),
    });
    println!("{out}");
    Ok(())
}

/// `device list --user NAME`: a JSON array, oldest registration first.
fn list(user: &str, ctx: &Ctx) -> CliResult {
    let store = ctx.require_store()?;
    let entries = store.devices_of(user).map_err(store_error)?;
    let out: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            json!({
                "device_id": e.device_id.to_string(),
                "user": e.user,
                "user_key": e.user_key,
                "issued_at": rfc3339(e.issued_at),
                "last_seen": e.last_seen.map(rfc3339),
                "revoked_at": e.revoked_at.map(rfc3339),
                "active": e.is_active(),
            })
        })
        .collect();
    println!("{}", serde_json::Value::Array(out));
    Ok(())
}

/// `device revoke DEVICE_ID`: exit 0 when it was active, 1 when there was nothing to revoke.
fn revoke(id: &str, at: Option<&str>, ctx: &Ctx) -> CliResult {
    let device = DeviceId::parse(id).map_err(|e| CliError::Usage(format!("DEVICE_ID: {e}")))?;
    let store = ctx.require_store()?;
    let now = now(at)?;
    if store.revoke_device(&device, now).map_err(store_error)? {
        println!(
            "{}",
            json!({ "device_id": device.to_string(), "revoked": true })
        );
        Ok(())
    } else {
        Err(CliError::Refused(
            "the device is not active (unknown or already revoked)".into(),
        ))
    }
}
