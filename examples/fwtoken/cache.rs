//! `fwtoken cache sign|open`.

use std::net::IpAddr;
use std::str::FromStr;

use fwtoken::{CacheLink, CacheLinkSigner, IpNetwork};
use serde_json::json;

use crate::common::{Args, CliError, CliResult, rfc3339, ring_from_env, usage};

pub fn run(args: &[String]) -> CliResult {
    let (cmd, rest) = crate::common::subcommand(args);
    match cmd {
        "sign" => sign(rest),
        "open" => open(rest),
        other => usage(format!("unknown command `cache {other}` (sign, open)")),
    }
}

/// A numeric option, or a usage error naming it.
fn number<T: FromStr>(a: &Args, name: &str) -> CliResult<Option<T>> {
    a.value(name)?
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| CliError::Usage(format!("--{name}: not a valid number: {v}")))
        })
        .transpose()
}

fn sign(args: &[String]) -> CliResult {
    let a = Args::parse(
        args,
        &[],
        &[
            "path",
            "width",
            "height",
            "format",
            "quality",
            "expires-in",
            "client-ip",
            "tag",
            "bucket",
            "now",
        ],
    )?;
    a.no_positional()?;
    let ring = ring_from_env()?;
    let now = a.now()?;
    let mut signer = CacheLinkSigner::new(&ring);
    if let Some(b) = a.duration("bucket")? {
        signer = signer
            .bucket(b)
            .map_err(|e| CliError::Usage(format!("--bucket: {e}")))?;
    }
    let mut link = CacheLink::new(a.required("path")?);
    link.width = number(&a, "width")?;
    link.height = number(&a, "height")?;
    link.quality = number(&a, "quality")?;
    if let Some(f) = a.value("format")? {
        link = link.format(f);
    }
    if let Some(t) = a.value("tag")? {
        link = link.tag(t);
    }
    if let Some(ttl) = a.duration("expires-in")? {
        link = link
            .expires_in(now, ttl)
            .map_err(|e| CliError::Usage(format!("--expires-in: {e}")))?;
    }
    if let Some(net) = a.value("client-ip")? {
        let net =
            IpNetwork::from_str(net).map_err(|e| CliError::Usage(format!("--client-ip: {e}")))?;
        link = link.client(net);
    }
    let token = signer
        .sign(&link, now)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    println!("{token}");
    Ok(())
}

fn open(args: &[String]) -> CliResult {
    let a = Args::parse(args, &[], &["now", "client-ip", "leeway"])?;
    let token = a.one_positional("TOKEN")?;
    let ring = ring_from_env()?;
    let now = a.now()?;
    let client = a
        .value("client-ip")?
        .map(|ip| {
            IpAddr::from_str(ip)
                .map_err(|_| CliError::Usage(format!("--client-ip: not an IP address: {ip}")))
        })
        .transpose()?;
    let mut signer = CacheLinkSigner::new(&ring);
    if let Some(d) = a.duration("leeway")? {
        signer = signer.leeway(d);
    }
    let v = signer.open(token, now, client)?;
    let out = json!({
        "path": v.path,
        "width": v.width,
        "height": v.height,
        "format": v.format.as_deref(),
        "quality": v.quality,
        "expires": v.expires.map(rfc3339),
        "client_ip": v.client.map(|n| n.to_string()),
        "tag": v.tag.as_deref(),
        "key": v.slot().as_str(),
    });
    println!("{out}");
    Ok(())
}
