//! `fwtoken device issue|verify`.

use fwtoken::{DevicePolicy, DeviceToken};
use serde_json::json;

use crate::common::{Args, CliResult, rfc3339, ring_from_env, usage};

pub fn run(args: &[String]) -> CliResult {
    let (cmd, rest) = crate::common::subcommand(args);
    match cmd {
        "issue" => issue(rest),
        "verify" => verify(rest),
        other => usage(format!("unknown command `device {other}` (issue, verify)")),
    }
}

/// Prints the token, the new device id, the user and the issue time.
fn issue(args: &[String]) -> CliResult {
    let a = Args::parse(args, &[], &["user", "now"])?;
    a.no_positional()?;
    let ring = ring_from_env()?;
    let now = a.now()?;
    let (token, record) =
        DeviceToken::issue(&ring, a.required("user")?, now, &mut fwtoken::os_rng())?;
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
/// `--now`, `--leeway`) a `DevicePolicy` is applied too. Revocation lives in the
/// server's registry, which this tool does not have.
fn verify(args: &[String]) -> CliResult {
    let a = Args::parse(args, &[], &["now", "max-age", "leeway"])?;
    let token = a.one_positional("TOKEN")?;
    let ring = ring_from_env()?;
    let with_policy = ["now", "max-age", "leeway"]
        .iter()
        .any(|o| a.value(o).ok().flatten().is_some());
    let v = if with_policy {
        let mut policy = DevicePolicy::new().max_age(a.duration("max-age")?);
        if let Some(l) = a.duration("leeway")? {
            policy = policy.leeway(l);
        }
        DeviceToken::verify_with_policy(&ring, token, a.now()?, &policy)?
    } else {
        DeviceToken::verify(&ring, token)?
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
