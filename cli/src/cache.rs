//! `fwtoken cache sign|open`.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Subcommand};
use fwtoken::{CacheLink, CacheLinkSigner, IpNetwork};
use serde_json::json;

use crate::Ctx;
use crate::common::{CliError, CliResult, now, parse_duration, rfc3339};

/// `fwtoken cache ...`
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Sign a cache link; prints the token.
    Sign(Sign),
    /// Open a cache link; prints what it names as JSON.
    Open(Open),
}

#[derive(Args, Debug)]
pub struct Sign {
    /// The asset's path.
    #[arg(long, value_name = "P")]
    path: String,
    /// Width in pixels.
    #[arg(long, value_name = "N")]
    width: Option<u16>,
    /// Height in pixels.
    #[arg(long, value_name = "N")]
    height: Option<u16>,
    /// Output format (jpg, png...).
    #[arg(long, value_name = "F")]
    format: Option<String>,
    /// Quality (0-255).
    #[arg(long, value_name = "Q")]
    quality: Option<u8>,
    /// The link expires this long after now.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    expires_in: Option<Duration>,
    /// Bind the link to a client address or network.
    #[arg(long, value_name = "IP[/LEN]")]
    client_ip: Option<String>,
    /// A free-form tag.
    #[arg(long, value_name = "TEXT")]
    tag: Option<String>,
    /// Round expiry times to this bucket (stable, cacheable URLs).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    bucket: Option<Duration>,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
}

#[derive(Args, Debug)]
pub struct Open {
    /// The cache-link token.
    #[arg(allow_hyphen_values = true)]
    token: String,
    /// The current time (RFC 3339) instead of the clock.
    #[arg(long, value_name = "T")]
    now: Option<String>,
    /// The client's address (required for client-bound links).
    #[arg(long, value_name = "IP")]
    client_ip: Option<String>,
    /// Clock leeway.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    leeway: Option<Duration>,
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> CliResult {
    match cmd {
        Cmd::Sign(a) => sign(a, ctx),
        Cmd::Open(a) => open(a, ctx),
    }
}

fn sign(a: Sign, ctx: &Ctx) -> CliResult {
    let ring = ctx.secrets.ring()?;
    let now = now(a.now.as_deref())?;
    let mut signer = CacheLinkSigner::new(&ring);
    if let Some(b) = a.bucket {
        signer = signer
            .bucket(b)
            .map_err(|e| CliError::Usage(format!("--bucket: {e}")))?;
    }
    let mut link = CacheLink::new(&a.path);
    link.width = a.width;
    link.height = a.height;
    link.quality = a.quality;
    if let Some(f) = &a.format {
        link = link.format(f);
    }
    if let Some(t) = &a.tag {
        link = link.tag(t);
    }
    if let Some(ttl) = a.expires_in {
        link = link
            .expires_in(now, ttl)
            .map_err(|e| CliError::Usage(format!("--expires-in: {e}")))?;
    }
    if let Some(net) = &a.client_ip {
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

fn open(a: Open, ctx: &Ctx) -> CliResult {
    let ring = ctx.secrets.ring()?;
    let now = now(a.now.as_deref())?;
    let client = a
        .client_ip
        .as_deref()
        .map(|ip| {
            IpAddr::from_str(ip)
                .map_err(|_| CliError::Usage(format!("--client-ip: not an IP address: {ip}")))
        })
        .transpose()?;
    let mut signer = CacheLinkSigner::new(&ring);
    if let Some(d) = a.leeway {
        signer = signer.leeway(d);
    }
    let v = signer.open(&a.token, now, client)?;
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
