//! `fwtoken api issue|verify`.

use std::time::Duration;

use clap::{Args, Subcommand};
use fwtoken::{ApiPolicy, ApiToken, ApiTokenRequest};
use serde_json::json;

use crate::Ctx;
use crate::common::{CliError, CliResult, now, parse_duration, rfc3339};

/// `fwtoken api ...`
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Issue an API token; prints FotoWeb's `{"token":..,"expires":..}`.
    Issue(Issue),
    /// Verify an API token; prints its claims as JSON.
    Verify(Verify),
}

#[derive(Args, Debug)]
pub struct Issue {
    /// The user the token acts as.
    #[arg(long, value_name = "NAME")]
    user: String,
    /// The application asking for it.
    #[arg(long, value_name = "APP")]
    app: String,
    /// How long the token lives (ISO 8601 as FotoWeb sends it, or 30m, 1h...).
    #[arg(long, value_name = "D")]
    duration: String,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
    /// The site owner: refused.
    #[arg(long, value_name = "NAME")]
    owner: Option<String>,
    /// The longest duration issued.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    max_duration: Option<Duration>,
    /// Cap a longer request at --max-duration instead of refusing it.
    #[arg(long)]
    cap: bool,
}

#[derive(Args, Debug)]
pub struct Verify {
    /// The API token.
    #[arg(allow_hyphen_values = true)]
    token: String,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
    /// Clock leeway (default 60s).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    leeway: Option<Duration>,
    /// The site owner: a token acting as this user is refused.
    #[arg(long, value_name = "NAME")]
    owner: Option<String>,
    /// Refuse tokens acting as this user (repeatable).
    #[arg(long, value_name = "NAME")]
    deny_user: Vec<String>,
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> CliResult {
    match cmd {
        Cmd::Issue(a) => issue(a, ctx),
        Cmd::Verify(a) => verify(a, ctx),
    }
}

/// Prints the `ApiTokenInfo` JSON (`{"token": ..., "expires": ...}`).
fn issue(a: Issue, ctx: &Ctx) -> CliResult {
    let ring = ctx.secrets.ring()?;
    let now = now(a.now.as_deref())?;
    // ISO 8601 text goes to the library as a FotoWeb request would carry it; a short
    // form (`30m`) is converted first.
    let duration = if a.duration.starts_with('P') {
        a.duration.clone()
    } else {
        let d =
            parse_duration(&a.duration).map_err(|e| CliError::Usage(format!("--duration: {e}")))?;
        fwtoken::format_duration(d)
    };
    let request = ApiTokenRequest {
        un: a.user,
        app: a.app,
        duration,
    };
    let mut policy = ApiPolicy::new().cap_long_requests(a.cap);
    if let Some(owner) = &a.owner {
        policy = policy.site_owner(owner);
    }
    if let Some(max) = a.max_duration {
        policy = policy.max_duration(max);
    }
    let info = ApiToken::issue(&ring, &request, now, &policy, &mut fwtoken::os_rng())?;
    println!(
        "{}",
        json!({"token": info.token, "expires": info.expires.as_str()})
    );
    Ok(())
}

/// Prints the claims; exit 1 when the token is invalid, expired, or acts as a refused user.
fn verify(a: Verify, ctx: &Ctx) -> CliResult {
    let ring = ctx.secrets.ring()?;
    let now = now(a.now.as_deref())?;
    let leeway = a.leeway.unwrap_or(Duration::from_secs(60));
    let mut policy = ApiPolicy::new();
    if let Some(owner) = &a.owner {
        policy = policy.site_owner(owner);
    }
    for u in &a.deny_user {
        policy = policy.deny_user(u);
    }
    let v = ApiToken::verify_with_policy(&ring, &a.token, now, leeway, &policy)?;
    let out = json!({
        "user": v.user,
        "app": v.app.as_str(),
        "id": v.token_id.to_string(),
        "issued_at": rfc3339(v.issued_at),
        "expires": rfc3339(v.expires),
        "key": v.slot().as_str(),
    });
    println!("{out}");
    Ok(())
}
