//! `fwtoken edge encrypt|decrypt|check`: Edgecast token v3.
//!
//! Keys come from `FWTOKEN_EDGE_KEY` (primary) and `FWTOKEN_EDGE_BACKUP_KEY` (optional);
//! `--legacy-key` accepts keys that break the CDN's letters-and-digits rule.

use std::net::IpAddr;
use std::time::Duration;

use clap::{Args, Subcommand};
use fwtoken::{CountryCode, EdgeKey, EdgeKeyRing, EdgeParams, EdgeProto, EdgeRequest};
use serde_json::json;

use crate::common::{CliError, CliResult, env, now, parse_duration, usage};

/// `fwtoken edge ...`
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Encrypt parameters into a token (raw --params, or the typed options).
    Encrypt(Encrypt),
    /// Decrypt a token; prints {"params":...,"key":"primary"|"backup"}.
    Decrypt(Decrypt),
    /// Decrypt a token and evaluate it against a request, as the CDN would.
    Check(Check),
}

#[derive(Args, Debug)]
pub struct Encrypt {
    /// The parameters exactly as they are encrypted ('ec_expire=...&ec_url_allow=/a').
    #[arg(long, value_name = "TEXT")]
    params: Option<String>,
    /// ec_expire this long after now.
    #[arg(long, value_name = "D", value_parser = parse_duration, conflicts_with = "expires_at")]
    expires_in: Option<Duration>,
    /// ec_expire at this RFC 3339 UTC time.
    #[arg(long, value_name = "T")]
    expires_at: Option<String>,
    /// ec_clientip.
    #[arg(long, value_name = "IP[/LEN]")]
    client_ip: Option<String>,
    /// ec_country_allow (repeatable).
    #[arg(long, value_name = "CC")]
    country_allow: Vec<String>,
    /// ec_country_deny (repeatable).
    #[arg(long, value_name = "CC")]
    country_deny: Vec<String>,
    /// ec_url_allow (repeatable).
    #[arg(long, value_name = "PATH")]
    url_allow: Vec<String>,
    /// ec_host_allow (repeatable).
    #[arg(long, value_name = "H")]
    host_allow: Vec<String>,
    /// ec_host_deny (repeatable).
    #[arg(long, value_name = "H")]
    host_deny: Vec<String>,
    /// ec_ref_allow (repeatable).
    #[arg(long, value_name = "R")]
    ref_allow: Vec<String>,
    /// ec_ref_deny (repeatable).
    #[arg(long, value_name = "R")]
    ref_deny: Vec<String>,
    /// ec_proto_allow (repeatable).
    #[arg(long, value_name = "P")]
    proto_allow: Vec<String>,
    /// ec_proto_deny (repeatable).
    #[arg(long, value_name = "P")]
    proto_deny: Vec<String>,
    /// Any other parameter (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    param: Vec<String>,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
    /// Accept keys from before the CDN's letters-and-digits rule.
    #[arg(long)]
    legacy_key: bool,
}

#[derive(Args, Debug)]
pub struct Decrypt {
    /// The Edgecast token.
    #[arg(allow_hyphen_values = true)]
    token: String,
    /// Accept keys from before the CDN's letters-and-digits rule.
    #[arg(long)]
    legacy_key: bool,
}

#[derive(Args, Debug)]
pub struct Check {
    /// The Edgecast token.
    #[arg(allow_hyphen_values = true)]
    token: String,
    /// The client's address.
    #[arg(long, value_name = "IP")]
    client_ip: IpAddr,
    /// The request's protocol.
    #[arg(long, value_name = "P", default_value = "https")]
    proto: String,
    /// The request's host.
    #[arg(long, value_name = "H")]
    host: String,
    /// The request's path.
    #[arg(long, value_name = "P")]
    path: String,
    /// The client's country.
    #[arg(long, value_name = "CC")]
    country: Option<String>,
    /// The request's referrer.
    #[arg(long, value_name = "URL")]
    referrer: Option<String>,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
    /// Clock leeway.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    leeway: Option<Duration>,
    /// Accept keys from before the CDN's letters-and-digits rule.
    #[arg(long)]
    legacy_key: bool,
}

pub fn run(cmd: Cmd) -> CliResult {
    match cmd {
        Cmd::Encrypt(a) => encrypt(a),
        Cmd::Decrypt(a) => decrypt(a),
        Cmd::Check(a) => check(a),
    }
}

fn key_from_env(var: &str, legacy: bool) -> CliResult<Option<EdgeKey>> {
    match env(var)? {
        None => Ok(None),
        Some(text) => {
            let key = if legacy {
                EdgeKey::new_legacy(&text)
            } else {
                EdgeKey::new(&text)
            };
            let hint = if legacy {
                ""
            } else {
                " (--legacy-key accepts keys from before the CDN's rule)"
            };
            key.map(Some)
                .map_err(|e| CliError::Usage(format!("{var}: {e}{hint}")))
        }
    }
}

/// The ring from `FWTOKEN_EDGE_KEY` and the optional `FWTOKEN_EDGE_BACKUP_KEY`.
fn ring_from_env(legacy: bool) -> CliResult<EdgeKeyRing> {
    let primary = key_from_env("FWTOKEN_EDGE_KEY", legacy)?.ok_or_else(|| {
        CliError::Usage(
            "FWTOKEN_EDGE_KEY is not set (keys come from the environment, never the command line)"
                .into(),
        )
    })?;
    let ring = EdgeKeyRing::new(primary);
    match key_from_env("FWTOKEN_EDGE_BACKUP_KEY", legacy)? {
        Some(b) => ring
            .with_backup(b)
            .map_err(|e| CliError::Usage(format!("FWTOKEN_EDGE_BACKUP_KEY: {e}"))),
        None => Ok(ring),
    }
}

fn proto(name: &str, text: &str) -> CliResult<EdgeProto> {
    EdgeProto::parse(text).map_err(|e| CliError::Usage(format!("--{name}: {e}")))
}

fn encrypt(a: Encrypt) -> CliResult {
    let ring = ring_from_env(a.legacy_key)?;
    let typed_given = a.expires_in.is_some()
        || a.expires_at.is_some()
        || a.client_ip.is_some()
        || [
            &a.country_allow,
            &a.country_deny,
            &a.url_allow,
            &a.host_allow,
            &a.host_deny,
            &a.ref_allow,
            &a.ref_deny,
            &a.proto_allow,
            &a.proto_deny,
            &a.param,
        ]
        .iter()
        .any(|v| !v.is_empty());
    let text = match &a.params {
        Some(_) if typed_given => {
            return usage("--params cannot be combined with typed parameter options");
        }
        // Checked, then encrypted exactly as written.
        Some(text) => {
            EdgeParams::parse(text).map_err(|e| match e {
                fwtoken::Error::Malformed(why) => CliError::Usage(format!("--params: {why}")),
                other => CliError::Usage(format!("--params: {other}")),
            })?;
            text.clone()
        }
        None => typed_params(&a)?.to_string(),
    };
    let token = ring
        .encrypt(&text, &mut fwtoken::os_rng())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    println!("{token}");
    Ok(())
}

fn typed_params(a: &Encrypt) -> CliResult<EdgeParams> {
    let mut b = EdgeParams::builder();
    if let Some(d) = a.expires_in {
        let at = now(a.now.as_deref())?
            .checked_add(
                fwtoken::time::Duration::try_from(d)
                    .map_err(|_| CliError::Usage("--expires-in: too long".into()))?,
            )
            .ok_or_else(|| CliError::Usage("--expires-in: too long".into()))?;
        b = b.expires_at(at);
    }
    if let Some(t) = &a.expires_at {
        let at = fwtoken::parse_rfc3339_utc(t).ok_or_else(|| {
            CliError::Usage(format!("--expires-at: not an RFC 3339 UTC time: {t}"))
        })?;
        b = b.expires_at(at);
    }
    if let Some(ip) = &a.client_ip {
        b = b.client_ip_text(ip);
    }
    for c in &a.country_allow {
        b = b.country_allow(c);
    }
    for c in &a.country_deny {
        b = b.country_deny(c);
    }
    for u in &a.url_allow {
        b = b.url_allow(u);
    }
    for h in &a.host_allow {
        b = b.host_allow(h);
    }
    for h in &a.host_deny {
        b = b.host_deny(h);
    }
    for r in &a.ref_allow {
        b = b.referrer_allow(r);
    }
    for r in &a.ref_deny {
        b = b.referrer_deny(r);
    }
    for p in &a.proto_allow {
        b = b.proto_allow(proto("proto-allow", p)?);
    }
    for p in &a.proto_deny {
        b = b.proto_deny(proto("proto-deny", p)?);
    }
    for kv in &a.param {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--param: expected NAME=VALUE: {kv}")))?;
        b = b.param(k, v);
    }
    b.build().map_err(|e| CliError::Usage(e.to_string()))
}

fn decrypt(a: Decrypt) -> CliResult {
    let ring = ring_from_env(a.legacy_key)?;
    let v = ring.decrypt(&a.token)?;
    // Written by hand to keep the documented key order.
    let params = serde_json::to_string(v.value()).map_err(|e| CliError::Usage(e.to_string()))?;
    println!("{{\"params\":{params},\"key\":\"{}\"}}", v.slot().as_str());
    Ok(())
}

/// Decrypts a token and evaluates it against a request, as an edge server would.
fn check(a: Check) -> CliResult {
    let ring = ring_from_env(a.legacy_key)?;
    let now = now(a.now.as_deref())?;
    let proto = proto("proto", &a.proto)?;
    let mut req = EdgeRequest::new(now, a.client_ip, proto, &a.host, &a.path);
    if let Some(c) = &a.country {
        req = req
            .country(CountryCode::new(c).map_err(|e| CliError::Usage(format!("--country: {e}")))?);
    }
    if let Some(r) = &a.referrer {
        req = req.referrer(r);
    }
    let params = ring.decrypt_params(&a.token)?;
    params
        .evaluate(&req, a.leeway.unwrap_or_default())
        .map_err(|refusal| CliError::Refused(refusal.to_string()))?;
    println!(
        "{}",
        json!({ "allowed": true, "key": params.slot().as_str() })
    );
    Ok(())
}
