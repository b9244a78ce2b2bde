//! `fwtoken login issue|verify`.

use fwtoken::{LoginPolicy, LoginToken};
use serde_json::json;

use crate::common::{Args, CliResult, rfc3339, ring_from_env, usage};

pub fn run(args: &[String]) -> CliResult {
    let (cmd, rest) = crate::common::subcommand(args);
    match cmd {
        "issue" => issue(rest),
        "verify" => verify(rest),
        other => usage(format!("unknown command `login {other}` (issue, verify)")),
    }
}

fn issue(args: &[String]) -> CliResult {
    let a = Args::parse(
        args,
        &["widgets", "sealed"],
        &["user", "valid-for", "start-offset", "now", "url"],
    )?;
    a.no_positional()?;
    let ring = ring_from_env()?;
    let now = a.now()?;
    let mut b = LoginToken::builder(a.required("user")?).widgets(a.switch("widgets"));
    if let Some(d) = a.duration("valid-for")? {
        b = b.valid_for(d);
    }
    if let Some(d) = a.duration("start-offset")? {
        b = b.start_offset(d);
    }
    let token = if a.switch("sealed") {
        b.issue_sealed(&ring, now, &mut fwtoken::os_rng())
    } else {
        b.issue(&ring, now)
    }
    .map_err(|e| crate::common::CliError::Usage(e.to_string()))?;
    match a.value("url")? {
        Some(base) => println!("{}", fwtoken::login_url(base, &token)),
        None => println!("{token}"),
    }
    Ok(())
}

fn verify(args: &[String]) -> CliResult {
    let a = Args::parse(args, &[], &["now", "leeway", "max-lifetime", "deny-user"])?;
    let token = a.one_positional("TOKEN")?;
    let ring = ring_from_env()?;
    let now = a.now()?;
    let mut policy = LoginPolicy::new();
    if let Some(d) = a.duration("leeway")? {
        policy = policy.leeway(d);
    }
    if let Some(d) = a.duration("max-lifetime")? {
        policy = policy.max_lifetime(d);
    }
    for u in a.values("deny-user") {
        policy = policy.deny_user(u);
    }
    let v = LoginToken::verify(&ring, token, now, &policy)?;
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
