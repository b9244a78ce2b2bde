//! `fwtoken api issue|verify|list|revoke`.

use std::time::Duration;

use clap::ArgGroup;
use clap::{Args, Subcommand};
use fwtoken::{ApiPolicy, ApiToken, ApiTokenId, ApiTokenRequest};
use serde_json::json;

use crate::Ctx;
use crate::common::{CliError, CliResult, issue_error, now, parse_duration, rfc3339, store_error};

/// `fwtoken api ...`
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Issue an API token; prints FotoWeb's `{"token":..,"expires":..}`.
    Issue(Issue),
    /// Verify an API token; prints its claims as JSON (with --store: also that it is
    /// registered and not revoked).
    Verify(Verify),
    /// List a user's API tokens, active, expired and revoked, as a JSON array (needs
    /// --store).
    List {
        /// The user (every spelling of the same identity is listed).
        #[arg(long, value_name = "NAME")]
        user: String,
        /// The current time (RFC 3339) instead of the clock, for `active`.
        #[arg(long, value_name = "T")]
        now: Option<String>,
    },
    /// Revoke one API token by id, or all of a user's, or all of an application's
    /// (needs --store); prints how many.
    Revoke(Revoke),
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("which").required(true).args(["token_id", "user", "app"])))]
pub struct Revoke {
    /// The token's id (32 hex characters, printed by `api issue` and `api verify`).
    token_id: Option<String>,
    /// Every token of this user (every spelling of the same identity).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Every token issued to this application.
    #[arg(long, value_name = "APP")]
    app: Option<String>,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
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
        Cmd::List { user, now: at } => list(&user, at.as_deref(), ctx),
        Cmd::Revoke(a) => revoke(a, ctx),
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
    let Some(store) = ctx.store()? else {
        let info = ApiToken::issue(&ring, &request, now, &policy, &mut fwtoken::os_rng())
            .map_err(issue_error)?;
        println!(
            "{}",
            json!({"token": info.token, "expires": info.expires.as_str()})
        );
        return Ok(());
    };
    // With a store: registered, so it can be revoked and listed; its id is printed.
    let (info, record) =
        ApiToken::issue_with_record(&ring, &request, now, &policy, &mut fwtoken::os_rng())
            .map_err(issue_error)?;
    store
        .register_api_token(&record, now)
        .map_err(store_error)?;
    println!(
        "{}",
        json!({"token": info.token, "expires": info.expires.as_str(), "id": record.id.to_string()})
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
    if let Some(store) = ctx.store()?
        && !store
            .is_api_token_active(&v.token_id, now)
            .map_err(store_error)?
    {
        return Err(CliError::Refused(
            "the API token is revoked or not registered".into(),
        ));
    }
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

/// `api list --user NAME`: a JSON array, oldest issue first (then by id). `active` is
/// what `api verify` would say of the token's registration at `now`; rows of tokens expired
/// for a while are purged and no longer listed.
fn list(user: &str, at: Option<&str>, ctx: &Ctx) -> CliResult {
    let now = now(at)?;
    let store = ctx.require_store()?;
    let entries = store.api_tokens_of(user).map_err(store_error)?;
    let out: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            json!({
                "id": e.id.to_string(),
                "user": e.user,
                "user_key": e.user_key,
                "app": e.app,
                "issued_at": rfc3339(e.issued_at),
                "expires": rfc3339(e.expires),
                "revoked_at": e.revoked_at.map(rfc3339),
                "active": e.is_active(now),
            })
        })
        .collect();
    println!("{}", serde_json::Value::Array(out));
    Ok(())
}

/// `api revoke TOKEN_ID | --user NAME | --app APP`. By id: exit 1 when it was not active;
/// by user or application: the count is printed, and exit 1 when it is 0 (a mistyped name
/// must not read as "revoked").
fn revoke(a: Revoke, ctx: &Ctx) -> CliResult {
    let id = a
        .token_id
        .as_deref()
        .map(|t| {
            t.parse::<ApiTokenId>()
                .map_err(|e| CliError::Usage(format!("TOKEN_ID: {e}")))
        })
        .transpose()?;
    let store = ctx.require_store()?;
    let now = now(a.now.as_deref())?;
    let out = match (id, &a.user, &a.app) {
        (Some(id), _, _) => {
            if !store.revoke_api_token(&id, now).map_err(store_error)? {
                return Err(CliError::Refused(
                    "the API token is not active (unknown or already revoked)".into(),
                ));
            }
            json!({ "id": id.to_string(), "revoked": 1 })
        }
        (None, Some(user), _) => {
            let n = store
                .revoke_user_api_tokens(user, now)
                .map_err(store_error)?;
            json!({ "user": user, "revoked": n })
        }
        (None, None, Some(app)) => {
            let n = store.revoke_app_api_tokens(app, now).map_err(store_error)?;
            json!({ "app": app, "revoked": n })
        }
        (None, None, None) => {
            return Err(CliError::Usage(
                "give TOKEN_ID, --user NAME or --app APP".into(),
            ));
        }
    };
    println!("{out}");
    if out.get("revoked").and_then(serde_json::Value::as_u64) == Some(0) {
        return Err(CliError::Refused(
            "no active API token matched: nothing revoked (check the name)".into(),
        ));
    }
    Ok(())
}
