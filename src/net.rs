//! IP networks: the client networks that cache links and Edgecast tokens are bound to.
//!
//! [`IpNetwork`] is strict ([`IpNetwork::new`], [`FromStr`]): what fwtoken signs names its
//! network canonically. Edgecast's `ec_clientip` is read leniently instead
//! ([`IpNetwork::new_masked`], [`IpNetwork::parse_masked`]): the CDN's documentation writes
//! networks with host bits set (`11.22.33.0/22`) and matches on the masked network.

use core::fmt;
use core::net::IpAddr;
use core::str::FromStr;

use crate::error::{Error, Result};

/// Longest IP network text accepted by [`IpNetwork::from_str`].
const MAX_NETWORK_TEXT: usize = 64;

/// An IPv4 or IPv6 network (an address and a prefix length) that a cache link is bound to.
///
/// Strict: the prefix length is at most 32 (IPv4) or 128 (IPv6) and the address has no bit
/// set past the prefix. IPv4-mapped IPv6 networks (inside `::ffff:0:0/96`) are stored as
/// the IPv4 network they denote, and an IPv4-mapped client address is treated as the IPv4
/// address (dual-stack sockets report IPv4 clients that way); an IPv4 client only ever
/// matches an IPv4 network, an IPv6 client an IPv6 network.
///
/// ```
/// use fwtoken::IpNetwork;
/// let net: IpNetwork = "192.0.2.0/24".parse()?;
/// assert!(net.contains("192.0.2.77".parse().unwrap()));
/// assert!(net.contains("::ffff:192.0.2.77".parse().unwrap()));
/// assert!(!net.contains("192.0.3.1".parse().unwrap()));
/// assert!("192.0.2.1/24".parse::<IpNetwork>().is_err()); // host bits set
/// assert_eq!("2001:db8::1".parse::<IpNetwork>()?.to_string(), "2001:db8::1/128");
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix_len: u8,
}

impl IpNetwork {
    /// The network `addr/prefix_len`. Fails when the prefix is too long for the address
    /// family or the address has bits set past the prefix.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<Self> {
        check_network(addr, prefix_len).map_err(Error::InvalidArgument)
    }

    /// The network `addr/prefix_len` with the address's bits past the prefix cleared
    /// (`11.22.33.0/22` is `11.22.32.0/22`). Fails only when the prefix is too long for
    /// the address family. This is how the CDN reads `ec_clientip`: its token-auth pages
    /// (<https://docs.edgecast.com/cdn/Content/Token-Based_Authentication/Restricting_Access_by_IP_Address.htm>,
    /// <https://learn.microsoft.com/en-us/azure/cdn/cdn-token-auth>) write
    /// `11.22.33.0/22` for the requests from 11.22.32.1 to 11.22.35.254.
    pub fn new_masked(addr: IpAddr, prefix_len: u8) -> Result<Self> {
        let addr = match addr {
            IpAddr::V4(_) if prefix_len > 32 => {
                return Err(Error::InvalidArgument("IPv4 prefix length above 32"));
            }
            IpAddr::V6(_) if prefix_len > 128 => {
                return Err(Error::InvalidArgument("IPv6 prefix length above 128"));
            }
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask32(prefix_len)).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask128(prefix_len)).into()),
        };
        Self::new(addr, prefix_len)
    }

    /// Parses `ADDRESS` or `ADDRESS/LEN` as [`FromStr`] does, but clears host bits past
    /// the prefix instead of refusing them (see [`IpNetwork::new_masked`]).
    ///
    /// ```
    /// use fwtoken::IpNetwork;
    /// let net = IpNetwork::parse_masked("11.22.33.0/22")?;
    /// assert_eq!(net.to_string(), "11.22.32.0/22");
    /// assert!(net.contains("11.22.35.254".parse().unwrap()));
    /// assert!(!net.contains("11.22.36.1".parse().unwrap()));
    /// # Ok::<(), fwtoken::Error>(())
    /// ```
    pub fn parse_masked(s: &str) -> Result<Self> {
        parse_text(s, Self::new_masked)
    }

    /// The network holding exactly `addr` (`/32` or `/128`).
    pub fn host(addr: IpAddr) -> Self {
        let addr = canonical_ip(addr);
        let prefix_len = if addr.is_ipv4() { 32 } else { 128 };
        Self { addr, prefix_len }
    }

    /// The network address (IPv4 for an IPv4-mapped network).
    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// True when `ip` (IPv4-mapped IPv6 read as IPv4) is inside the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical_ip(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask32(self.prefix_len);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask128(self.prefix_len);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

impl FromStr for IpNetwork {
    type Err = Error;

    /// Parses `ADDRESS` (a host) or `ADDRESS/LEN` (`LEN` decimal, no leading zero).
    fn from_str(s: &str) -> Result<Self> {
        parse_text(s, Self::new)
    }
}

/// `ADDRESS` (a host) or `ADDRESS/LEN` (`LEN` decimal, no leading zero), the network
/// built by `network` from the address and the length.
fn parse_text(s: &str, network: fn(IpAddr, u8) -> Result<IpNetwork>) -> Result<IpNetwork> {
    const BAD: Error = Error::InvalidArgument("not an IP address or ADDRESS/LEN network");
    if s.len() > MAX_NETWORK_TEXT {
        return Err(Error::TooLong {
            max: MAX_NETWORK_TEXT,
        });
    }
    match s.split_once('/') {
        None => IpAddr::from_str(s).map(IpNetwork::host).map_err(|_| BAD),
        Some((addr, len)) => {
            let addr = IpAddr::from_str(addr).map_err(|_| BAD)?;
            let canonical = len == "0" || (!len.starts_with('0') && (1..=3).contains(&len.len()));
            if !canonical || !len.bytes().all(|b| b.is_ascii_digit()) {
                return Err(BAD);
            }
            let len = u8::from_str(len).map_err(|_| BAD)?;
            network(addr, len)
        }
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// IPv4-mapped IPv6 addresses as IPv4; everything else unchanged.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn mask32(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(prefix_len)))
        .unwrap_or(0)
}

fn mask128(prefix_len: u8) -> u128 {
    u128::MAX
        .checked_shl(128u32.saturating_sub(u32::from(prefix_len)))
        .unwrap_or(0)
}

/// The canonical network, or the rule it breaks.
pub(crate) fn check_network(
    addr: IpAddr,
    prefix_len: u8,
) -> core::result::Result<IpNetwork, &'static str> {
    let (addr, prefix_len) = match addr {
        IpAddr::V6(_) if prefix_len > 128 => return Err("IPv6 prefix length above 128"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) if prefix_len >= 96 => (IpAddr::V4(v4), prefix_len - 96),
            _ => (addr, prefix_len),
        },
        IpAddr::V4(_) => (addr, prefix_len),
    };
    match addr {
        IpAddr::V4(v4) => {
            if prefix_len > 32 {
                return Err("IPv4 prefix length above 32");
            }
            if u32::from(v4) & !mask32(prefix_len) != 0 {
                return Err("network address has bits set past the prefix length");
            }
        }
        IpAddr::V6(v6) => {
            if u128::from(v6) & !mask128(prefix_len) != 0 {
                return Err("network address has bits set past the prefix length");
            }
        }
    }
    Ok(IpNetwork { addr, prefix_len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask32(0), 0);
        assert_eq!(mask32(24), 0xffff_ff00);
        assert_eq!(mask32(32), u32::MAX);
        assert_eq!(mask128(0), 0);
        assert_eq!(mask128(1), 1 << 127);
        assert_eq!(mask128(128), u128::MAX);
    }
}
