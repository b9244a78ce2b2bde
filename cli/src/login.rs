//! `fwtoken login issue|verify`.

use std::time::Duration;

use clap::{Args, Subcommand};
use fwtoken::{LoginPolicy, LoginToken};
use serde_json::json;

use crate::Ctx;
use crate::common::{CliResult, issue_error, now, parse_duration, rfc3339};

/// `fwtoken login ...`
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Issue a login token (or a login URL with --url).
    Issue(Issue),
    /// Verify a login token; prints its claims as JSON.
    Verify(Verify),
}

#[derive(Args, Debug)]
pub struct Issue {
    /// The user to log in.
    #[arg(long, value_name = "NAME")]
    user: String,
    /// Log in to the widgets only.
    #[arg(long)]
    widgets: bool,
    /// How long the token is valid.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    valid_for: Option<Duration>,
    /// How far before now the token starts being valid.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    start_offset: Option<Duration>,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
    /// Issue fwtoken's sealed (encrypted) format instead of FotoWeb's.
    #[arg(long)]
    sealed: bool,
    /// Print a login URL under this base instead of the bare token.
    #[arg(long, value_name = "BASE")]
    url: Option<String>,
}

#[derive(Args, Debug)]
pub struct Verify {
    /// The login token.
    #[arg(allow_hyphen_values = true)]
    token: String,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
    /// Clock leeway.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    leeway: Option<Duration>,
    /// Refuse tokens valid for longer than this.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    max_lifetime: Option<Duration>,
    /// Refuse this user (repeatable).
    #[arg(long, value_name = "NAME")]
    deny_user: Vec<String>,
    /// Read the user names of FotoWare's 2017 PHP generator as meant: that generator
    /// called utf8_encode, so a UTF-8 name arrives encoded twice (`zoÃ«` for `zoë`).
    /// Deny rules refuse the name as sent and as repaired.
    #[arg(long)]
    legacy_utf8_encode: bool,
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> CliResult {
    match cmd {
        Cmd::Issue(a) => issue(a, ctx),
        Cmd::Verify(a) => verify(a, ctx),
    }
}

fn issue(a: Issue, ctx: &Ctx) -> CliResult {
    let ring = ctx.secrets.ring()?;
    let now = now(a.now.as_deref())?;
    let mut b = LoginToken::builder(&a.user).widgets(a.widgets);
    if let Some(d) = a.valid_for {
        b = b.valid_for(d);
    }
    if let Some(d) = a.start_offset {
        b = b.start_offset(d);
    }
    let token = if a.sealed {
        b.issue_sealed(&ring, now, &mut fwtoken::os_rng())
    } else {
        b.issue(&ring, now)
    }
    .map_err(issue_error)?;
    match a.url {
        Some(base) => println!("{}", fwtoken::login_url(&base, &token)),
        None => println!("{token}"),
    }
    Ok(())
}

fn verify(a: Verify, ctx: &Ctx) -> CliResult {
    let ring = ctx.secrets.ring()?;
    let now = now(a.now.as_deref())?;
    let mut policy = LoginPolicy::new();
    if let Some(d) = a.leeway {
        policy = policy.leeway(d);
    }
    if let Some(d) = a.max_lifetime {
        policy = policy.max_lifetime(d);
    }
    for u in &a.deny_user {
        policy = policy.deny_user(u);
    }
    policy = policy.legacy_utf8_encode(a.legacy_utf8_encode);
    let v = LoginToken::verify(&ring, &a.token, now, &policy)?;
    let out = json!({
        "user": v.user,
        "not_before": rfc3339(v.not_before),
        "expires": rfc3339(v.expires),
        "widgets": v.widgets,
        "key": v.slot().as_str(),
        "format": v.format.as_str(),
    });
    println!("{out}");
    Ok(())
}
