//! `fwtoken api issue|verify`.

use std::time::Duration;

use fwtoken::{ApiPolicy, ApiToken, ApiTokenRequest};
use serde_json::json;

use crate::common::{Args, CliResult, rfc3339, ring_from_env, usage};

pub fn run(args: &[String]) -> CliResult {
    let (cmd, rest) = crate::common::subcommand(args);
    match cmd {
        "issue" => issue(rest),
        "verify" => verify(rest),
        other => usage(format!("unknown command `api {other}` (issue, verify)")),
    }
}

/// Prints the `ApiTokenInfo` JSON (`{"token": ..., "expires": ...}`).
fn issue(args: &[String]) -> CliResult {
    let a = Args::parse(
        args,
        &["cap"],
        &["user", "app", "duration", "now", "owner", "max-duration"],
    )?;
    a.no_positional()?;
    let ring = ring_from_env()?;
    let now = a.now()?;
    // ISO 8601 text goes to the library as a FotoWeb request would carry it; a short
    // form (`30m`) is converted first.
    let duration = a.required("duration")?;
    let duration = if duration.starts_with('P') {
        duration.to_string()
    } else {
        let d = a.duration("duration")?.unwrap_or(Duration::ZERO);
        fwtoken::format_duration(d)
    };
    let request = ApiTokenRequest {
        un: a.required("user")?.into(),
        app: a.required("app")?.into(),
        duration,
    };
    let mut policy = ApiPolicy::new().cap_long_requests(a.switch("cap"));
    if let Some(owner) = a.value("owner")? {
        policy = policy.site_owner(owner);
    }
    if let Some(max) = a.duration("max-duration")? {
        policy = policy.max_duration(max);
    }
    let info = ApiToken::issue(&ring, &request, now, &policy, &mut fwtoken::os_rng())?;
    println!(
        "{}",
        json!({"token": info.token, "expires": info.expires.as_str()})
    );
    Ok(())
}

/// Prints the claims; exit 1 when the token is invalid or expired.
fn verify(args: &[String]) -> CliResult {
    let a = Args::parse(args, &[], &["now", "leeway"])?;
    let token = a.one_positional("TOKEN")?;
    let ring = ring_from_env()?;
    let now = a.now()?;
    let leeway = a.duration("leeway")?.unwrap_or(Duration::from_secs(60));
    let v = ApiToken::verify(&ring, token, now, leeway)?;
    let out = json!({
        "user": v.user,
        "app": v.app.as_str(),
        "issued_at": rfc3339(v.issued_at),
        "expires": rfc3339(v.expires),
        "key": v.slot().as_str(),
    });
    println!("{out}");
    Ok(())
}
