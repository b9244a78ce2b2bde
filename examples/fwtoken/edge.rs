//! `fwtoken edge encrypt|decrypt|check`: Edgecast token v3.
//!
//! Keys come from `FWTOKEN_EDGE_KEY` (primary) and `FWTOKEN_EDGE_BACKUP_KEY` (optional);
//! `--legacy-key` accepts keys that break the CDN's letters-and-digits rule.

use std::net::IpAddr;

use fwtoken::{CountryCode, EdgeKey, EdgeKeyRing, EdgeParams, EdgeProto, EdgeRequest};
use serde_json::json;

use crate::common::{Args, CliError, CliResult, usage};

pub fn run(args: &[String]) -> CliResult {
    let (cmd, rest) = crate::common::subcommand(args);
    match cmd {
        "encrypt" => encrypt(rest),
        "decrypt" => decrypt(rest),
        "check" => check(rest),
        other => usage(format!(
            "unknown command `edge {other}` (encrypt, decrypt, check)"
        )),
    }
}

fn key_from_env(var: &str, legacy: bool) -> CliResult<Option<EdgeKey>> {
    match std::env::var(var) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => usage(format!("{var} is not valid UTF-8")),
        Ok(text) => {
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

const TYPED: [&str; 13] = [
    "expires-in",
    "expires-at",
    "client-ip",
    "country-allow",
    "country-deny",
    "url-allow",
    "host-allow",
    "host-deny",
    "ref-allow",
    "ref-deny",
    "proto-allow",
    "proto-deny",
    "param",
];

fn proto(name: &str, text: &str) -> CliResult<EdgeProto> {
    EdgeProto::parse(text).map_err(|e| CliError::Usage(format!("--{name}: {e}")))
}

fn encrypt(args: &[String]) -> CliResult {
    let mut valued = vec!["params", "now"];
    valued.extend(TYPED);
    let a = Args::parse(args, &["legacy-key"], &valued)?;
    a.no_positional()?;
    let ring = ring_from_env(a.switch("legacy-key"))?;
    let typed_given = TYPED.iter().any(|n| !a.values(n).is_empty());
    let text = match a.value("params")? {
        Some(_) if typed_given => {
            return usage("--params cannot be combined with typed parameter options");
        }
        // Checked, then encrypted exactly as written.
        Some(text) => {
            EdgeParams::parse(text).map_err(|e| match e {
                fwtoken::Error::Malformed(why) => CliError::Usage(format!("--params: {why}")),
                other => CliError::Usage(format!("--params: {other}")),
            })?;
            text.to_string()
        }
        None => typed_params(&a)?.to_string(),
    };
    let token = ring
        .encrypt(&text, &mut fwtoken::os_rng())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    println!("{token}");
    Ok(())
}

fn typed_params(a: &Args) -> CliResult<EdgeParams> {
    let mut b = EdgeParams::builder();
    if a.value("expires-in")?.is_some() && a.value("expires-at")?.is_some() {
        return usage("give --expires-in or --expires-at, not both");
    }
    if let Some(d) = a.duration("expires-in")? {
        let at = a
            .now()?
            .checked_add(
                fwtoken::time::Duration::try_from(d)
                    .map_err(|_| CliError::Usage("--expires-in: too long".into()))?,
            )
            .ok_or_else(|| CliError::Usage("--expires-in: too long".into()))?;
        b = b.expires_at(at);
    }
    if let Some(t) = a.value("expires-at")? {
        let at = fwtoken::parse_rfc3339_utc(t).ok_or_else(|| {
            CliError::Usage(format!("--expires-at: not an RFC 3339 UTC time: {t}"))
        })?;
        b = b.expires_at(at);
    }
    if let Some(ip) = a.value("client-ip")? {
        b = b.client_ip_text(ip);
    }
    for c in a.values("country-allow") {
        b = b.country_allow(c);
    }
    for c in a.values("country-deny") {
        b = b.country_deny(c);
    }
    for u in a.values("url-allow") {
        b = b.url_allow(u);
    }
    for h in a.values("host-allow") {
        b = b.host_allow(h);
    }
    for h in a.values("host-deny") {
        b = b.host_deny(h);
    }
    for r in a.values("ref-allow") {
        b = b.referrer_allow(r);
    }
    for r in a.values("ref-deny") {
        b = b.referrer_deny(r);
    }
    for p in a.values("proto-allow") {
        b = b.proto_allow(proto("proto-allow", p)?);
    }
    for p in a.values("proto-deny") {
        b = b.proto_deny(proto("proto-deny", p)?);
    }
    for kv in a.values("param") {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--param: expected NAME=VALUE: {kv}")))?;
        b = b.param(k, v);
    }
    b.build().map_err(|e| CliError::Usage(e.to_string()))
}

fn decrypt(args: &[String]) -> CliResult {
    let a = Args::parse(args, &["legacy-key"], &[])?;
    let token = a.one_positional("TOKEN")?;
    let ring = ring_from_env(a.switch("legacy-key"))?;
    let v = ring.decrypt(token)?;
    // Written by hand to keep the documented key order.
    let params = serde_json::to_string(v.value()).map_err(|e| CliError::Usage(e.to_string()))?;
    println!("{{\"params\":{params},\"key\":\"{}\"}}", v.slot().as_str());
    Ok(())
}

/// Decrypts a token and evaluates it against a request, as an edge server would.
fn check(args: &[String]) -> CliResult {
    let a = Args::parse(
        args,
        &["legacy-key"],
        &[
            "client-ip",
            "proto",
            "host",
            "path",
            "country",
            "referrer",
            "now",
            "leeway",
        ],
    )?;
    let token = a.one_positional("TOKEN")?;
    let ring = ring_from_env(a.switch("legacy-key"))?;
    let now = a.now()?;
    let ip: IpAddr = a
        .required("client-ip")?
        .parse()
        .map_err(|_| CliError::Usage("--client-ip: not an IP address".into()))?;
    let proto = proto("proto", a.value("proto")?.unwrap_or("https"))?;
    let mut req = EdgeRequest::new(now, ip, proto, a.required("host")?, a.required("path")?);
    if let Some(c) = a.value("country")? {
        req = req
            .country(CountryCode::new(c).map_err(|e| CliError::Usage(format!("--country: {e}")))?);
    }
    if let Some(r) = a.value("referrer")? {
        req = req.referrer(r);
    }
    let params = ring.decrypt_params(token)?;
    params
        .evaluate(&req, a.duration("leeway")?.unwrap_or_default())
        .map_err(|refusal| CliError::Refused(refusal.to_string()))?;
    println!(
        "{}",
        json!({ "allowed": true, "key": params.slot().as_str() })
    );
    Ok(())
}
