//! Cache links: encrypted, deterministic preview and rendition URLs that survive a key
//! rotation.
//!
//! A [`CacheLink`] says what a link grants (an asset path, an optional rendition, an
//! optional expiry, an optional client network, an optional tag). [`CacheLinkSigner`]
//! seals it into envelope v1 (purpose `cache`) with a synthetic IV, so equal links give
//! equal tokens and caches keep hitting; expiries are rounded up to the end of a bucket
//! so the token stays stable for the whole bucket.
//!
//! Plaintext (all integers big-endian), version 1:
//!
//! ```text
//! version 0x01 | flags (1)
//! | path length (u16, 1..=1024) | path (UTF-8, no control character)
//! [flags & 0x01] width (u16, 1..=16384)
//! [flags & 0x02] height (u16, 1..=16384)
//! [flags & 0x04] format length (u8, 1..=8) | format (ASCII a-z 0-9)
//! [flags & 0x08] quality (u8, 1..=100)
//! [flags & 0x10] IPv4 network: address (4) | prefix length (u8, 0..=32)
//! [flags & 0x20] IPv6 network: address (16) | prefix length (u8, 0..=128)
//! [flags & 0x40] tag length (u8, 1..=64) | tag (UTF-8)
//! ```
//!
//! The expiry is not in the plaintext: it is the envelope's `expires_at` (0 = none), and
//! the envelope's `issued_at` is always 0. The full specification is in `docs/FORMAT.md`.

use alloc::string::String;
use core::borrow::Borrow;
use core::convert::Infallible;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::str::FromStr;
use core::time::Duration;

use time::OffsetDateTime;

use crate::b64;
use crate::bounded::BoundedStr;
use crate::envelope::{self, IvMode, Times};
use crate::error::{Error, Result};
use crate::keyring::{KeyRing, Purpose, Verified};
use crate::payload::{Reader, Writer, utf8};
use crate::timeutil::{self, MAX_UNIX};

/// Longest asset path, in bytes.
pub const MAX_ASSET_PATH_LEN: usize = 1024;
/// Largest width or height of a rendition, in pixels.
pub const MAX_DIMENSION: u16 = 16384;
/// Longest rendition format (file extension), in bytes.
pub const MAX_FORMAT_LEN: usize = 8;
/// Longest tag, in bytes.
pub const MAX_TAG_LEN: usize = 64;
/// The extension [`CacheLinkSigner::path`] uses for a link without a format.
pub const NO_FORMAT_EXTENSION: &str = "bin";

/// Version byte of the cache-link plaintext.
const VERSION: u8 = 0x01;
const F_WIDTH: u8 = 0x01;
const F_HEIGHT: u8 = 0x02;
const F_FORMAT: u8 = 0x04;
const F_QUALITY: u8 = 0x08;
const F_CLIENT_V4: u8 = 0x10;
const F_CLIENT_V6: u8 = 0x20;
const F_TAG: u8 = 0x40;
const F_KNOWN: u8 = F_WIDTH | F_HEIGHT | F_FORMAT | F_QUALITY | F_CLIENT_V4 | F_CLIENT_V6 | F_TAG;

/// Largest plaintext: every field present at its maximum size.
const MAX_PLAINTEXT: usize =
    2 + 2 + MAX_ASSET_PATH_LEN + 2 + 2 + 1 + MAX_FORMAT_LEN + 1 + (16 + 1) + 1 + MAX_TAG_LEN;
/// Envelope v1 bytes around the ciphertext: header, IV, tag.
const ENVELOPE_OVERHEAD: usize = envelope::HEADER_LEN + 16 + 32;
/// Longest cache-link token, in characters; checked before decoding.
pub const MAX_CACHE_TOKEN_CHARS: usize =
    b64::encoded_len(ENVELOPE_OVERHEAD + (MAX_PLAINTEXT / 16 + 1) * 16, false);

/// Path segment between the caller's prefix and the token.
const PATH_INFIX: &str = "/cache/v1/";
/// Longest path prefix, in bytes.
pub const MAX_PREFIX_LEN: usize = 256;
/// Longest IP network text accepted by [`IpNetwork::from_str`].
const MAX_NETWORK_TEXT: usize = 64;

const DEFAULT_BUCKET_SECS: u64 = 3600;
const MAX_BUCKET_SECS: u64 = 366 * 86_400;
const DEFAULT_LEEWAY_SECS: u64 = 60;

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
        const BAD: Error = Error::InvalidArgument("not an IP address or ADDRESS/LEN network");
        if s.len() > MAX_NETWORK_TEXT {
            return Err(Error::TooLong {
                max: MAX_NETWORK_TEXT,
            });
        }
        match s.split_once('/') {
            None => IpAddr::from_str(s).map(Self::host).map_err(|_| BAD),
            Some((addr, len)) => {
                let addr = IpAddr::from_str(addr).map_err(|_| BAD)?;
                let canonical =
                    len == "0" || (!len.starts_with('0') && (1..=3).contains(&len.len()));
                if !canonical || !len.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(BAD);
                }
                let len = u8::from_str(len).map_err(|_| BAD)?;
                Self::new(addr, len)
            }
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
fn check_network(addr: IpAddr, prefix_len: u8) -> core::result::Result<IpNetwork, &'static str> {
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

/// What a cache link grants.
///
/// Every field but the asset path is optional. The rules, checked when signing and again
/// (as [`Error::Malformed`]) when opening: the path is 1 to 1024 bytes without control
/// characters; width and height are 1 to 16384; the format is 1 to 8 ASCII lowercase
/// letters or digits (`jpg`, `png`, `webp`); quality is 1 to 100; the tag is 1 to 64 bytes.
///
/// An opened link carries the expiry the token claims: the signed expiry rounded up to the
/// end of its bucket (see [`CacheLinkSigner::round_expiry`]).
///
/// ```
/// use core::time::Duration;
/// use fwtoken::CacheLink;
/// use time::macros::datetime;
///
/// let now = datetime!(2026-11-24 10:17:00 UTC);
/// let link = CacheLink::new("/archives/photos/harbour.tif")
///     .width(800)
///     .height(600)
///     .format("jpg")
///     .quality(80)
///     .expires_in(now, Duration::from_secs(86_400))?;
/// assert_eq!(link.expires, Some(datetime!(2026-11-25 10:17:00 UTC)));
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheLink {
    /// The asset path (UTF-8, 1 to 1024 bytes, no control characters).
    pub path: String,
    /// Rendition width in pixels (1 to 16384).
    pub width: Option<u16>,
    /// Rendition height in pixels (1 to 16384).
    pub height: Option<u16>,
    /// Rendition format as a short extension (`jpg`, `png`, `webp`).
    pub format: Option<BoundedStr<MAX_FORMAT_LEN>>,
    /// Rendition quality (1 to 100).
    pub quality: Option<u8>,
    /// When the link stops working; rounded up to the end of its bucket when signed.
    pub expires: Option<OffsetDateTime>,
    /// The client network the link is bound to.
    pub client: Option<IpNetwork>,
    /// A short free-form tag for the caller's own use (1 to 64 bytes).
    pub tag: Option<BoundedStr<MAX_TAG_LEN>>,
    /// A field the builder could not store (too long); `sign` reports it.
    invalid: Option<&'static str>,
}

impl CacheLink {
    /// A link to `path` with no rendition, expiry, binding or tag.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            width: None,
            height: None,
            format: None,
            quality: None,
            expires: None,
            client: None,
            tag: None,
            invalid: None,
        }
    }

    /// Sets the width.
    #[must_use]
    pub fn width(mut self, width: u16) -> Self {
        self.width = Some(width);
        self
    }

    /// Sets the height.
    #[must_use]
    pub fn height(mut self, height: u16) -> Self {
        self.height = Some(height);
        self
    }

    /// Sets the format (a short extension such as `jpg`).
    #[must_use]
    ///
    /// A format longer than [`MAX_FORMAT_LEN`] is reported by [`CacheLinkSigner::sign`].
    pub fn format(mut self, format: &str) -> Self {
        match BoundedStr::new(format) {
            Ok(f) => self.format = Some(f),
            Err(_) => self.invalid = Some("format must be 1 to 8 characters"),
        }
        self
    }

    /// Sets the quality.
    #[must_use]
    pub fn quality(mut self, quality: u8) -> Self {
        self.quality = Some(quality);
        self
    }

    /// Sets an absolute expiry.
    #[must_use]
    pub fn expires(mut self, expires: OffsetDateTime) -> Self {
        self.expires = Some(expires);
        self
    }

    /// Sets the expiry to `now + ttl` (checked).
    pub fn expires_in(mut self, now: OffsetDateTime, ttl: Duration) -> Result<Self> {
        self.expires = Some(timeutil::add(now, ttl)?);
        Ok(self)
    }

    /// Binds the link to a client network (use [`IpNetwork::host`] for one address).
    #[must_use]
    pub fn client(mut self, network: IpNetwork) -> Self {
        self.client = Some(network);
        self
    }

    /// Sets the tag.
    #[must_use]
    ///
    /// A tag longer than [`MAX_TAG_LEN`] is reported by [`CacheLinkSigner::sign`].
    pub fn tag(mut self, tag: &str) -> Self {
        match BoundedStr::new(tag) {
            Ok(t) => self.tag = Some(t),
            Err(_) => self.invalid = Some("tag must be 1 to 64 bytes"),
        }
        self
    }
}

fn check_path(path: &str) -> core::result::Result<(), &'static str> {
    if path.is_empty() {
        return Err("asset path is empty");
    }
    if path.len() > MAX_ASSET_PATH_LEN {
        return Err("asset path longer than 1024 bytes");
    }
    if path.chars().any(char::is_control) {
        return Err("asset path contains a control character");
    }
    Ok(())
}

fn check_dimension(d: u16) -> core::result::Result<(), &'static str> {
    if d == 0 || d > MAX_DIMENSION {
        Err("width and height must be 1 to 16384")
    } else {
        Ok(())
    }
}

fn check_format(f: &[u8]) -> core::result::Result<(), &'static str> {
    if f.is_empty() || f.len() > MAX_FORMAT_LEN {
        return Err("format must be 1 to 8 characters");
    }
    if !f
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err("format must be ASCII lowercase letters and digits");
    }
    Ok(())
}

fn check_quality(q: u8) -> core::result::Result<(), &'static str> {
    if q == 0 || q > 100 {
        Err("quality must be 1 to 100")
    } else {
        Ok(())
    }
}

fn check_tag(tag: &str) -> core::result::Result<(), &'static str> {
    if tag.is_empty() || tag.len() > MAX_TAG_LEN {
        Err("tag must be 1 to 64 bytes")
    } else {
        Ok(())
    }
}

/// Checks `link` and writes its plaintext.
fn encode(link: &CacheLink, out: &mut Writer<'_>) -> Result<()> {
    let arg = Error::InvalidArgument;
    if let Some(reason) = link.invalid {
        return Err(arg(reason));
    }
    check_path(&link.path).map_err(arg)?;
    let mut flags = 0u8;
    if let Some(w) = link.width {
        check_dimension(w).map_err(arg)?;
        flags |= F_WIDTH;
    }
    if let Some(h) = link.height {
        check_dimension(h).map_err(arg)?;
        flags |= F_HEIGHT;
    }
    if let Some(f) = &link.format {
        check_format(f.as_bytes()).map_err(arg)?;
        flags |= F_FORMAT;
    }
    if let Some(q) = link.quality {
        check_quality(q).map_err(arg)?;
        flags |= F_QUALITY;
    }
    let client = match link.client {
        // Re-checked: the fields are private, but a value could predate a rule change.
        Some(net) => Some(check_network(net.addr, net.prefix_len).map_err(arg)?),
        None => None,
    };
    match client.map(|n| n.addr) {
        Some(IpAddr::V4(_)) => flags |= F_CLIENT_V4,
        Some(IpAddr::V6(_)) => flags |= F_CLIENT_V6,
        None => {}
    }
    if let Some(t) = &link.tag {
        check_tag(t).map_err(arg)?;
        flags |= F_TAG;
    }
    let path_len =
        u16::try_from(link.path.len()).map_err(|_| arg("asset path longer than 1024 bytes"))?;
    out.put(&[VERSION, flags])?;
    out.put(&path_len.to_be_bytes())?;
    out.put(link.path.as_bytes())?;
    if let Some(w) = link.width {
        out.put(&w.to_be_bytes())?;
    }
    if let Some(h) = link.height {
        out.put(&h.to_be_bytes())?;
    }
    if let Some(f) = &link.format {
        out.put(&[u8::try_from(f.len()).map_err(|_| arg("format must be 1 to 8 characters"))?])?;
        out.put(f.as_bytes())?;
    }
    if let Some(q) = link.quality {
        out.put(&[q])?;
    }
    if let Some(net) = client {
        match net.addr {
            IpAddr::V4(a) => out.put(&a.octets())?,
            IpAddr::V6(a) => out.put(&a.octets())?,
        }
        out.put(&[net.prefix_len])?;
    }
    if let Some(t) = &link.tag {
        out.put(&[u8::try_from(t.len()).map_err(|_| arg("tag must be 1 to 64 bytes"))?])?;
        out.put(t.as_bytes())?;
    }
    Ok(())
}

/// A decoded plaintext, borrowing its text from the opened envelope.
struct RawLink<'a> {
    path: &'a str,
    width: Option<u16>,
    height: Option<u16>,
    format: Option<&'a str>,
    quality: Option<u8>,
    client: Option<IpNetwork>,
    tag: Option<&'a str>,
}

const TRUNCATED: Error = Error::Malformed("truncated cache link");

/// Strict decoding: known version and flags only, every value in range, canonical
/// network, no trailing byte.
fn decode(pt: &[u8]) -> Result<RawLink<'_>> {
    let bad = Error::Malformed;
    let mut r = Reader::new(pt, TRUNCATED);
    if r.u8()? != VERSION {
        return Err(bad("unsupported cache-link version"));
    }
    let flags = r.u8()?;
    if flags & !F_KNOWN != 0 {
        return Err(bad("unknown cache-link flags"));
    }
    if flags & F_CLIENT_V4 != 0 && flags & F_CLIENT_V6 != 0 {
        return Err(bad("two client networks"));
    }
    let path_len = usize::from(r.u16()?);
    if path_len > MAX_ASSET_PATH_LEN {
        return Err(bad("asset path longer than 1024 bytes"));
    }
    let path = utf8(r.take(path_len)?, "asset path is not UTF-8")?;
    check_path(path).map_err(bad)?;
    let width = if flags & F_WIDTH != 0 {
        Some(r.u16()?)
    } else {
        None
    };
    if let Some(w) = width {
        check_dimension(w).map_err(bad)?;
    }
    let height = if flags & F_HEIGHT != 0 {
        Some(r.u16()?)
    } else {
        None
    };
    if let Some(h) = height {
        check_dimension(h).map_err(bad)?;
    }
    let format = if flags & F_FORMAT != 0 {
        let n = usize::from(r.u8()?);
        let f = r.take(n)?;
        check_format(f).map_err(bad)?;
        Some(utf8(f, "format is not ASCII")?)
    } else {
        None
    };
    let quality = if flags & F_QUALITY != 0 {
        Some(r.u8()?)
    } else {
        None
    };
    if let Some(q) = quality {
        check_quality(q).map_err(bad)?;
    }
    let client = if flags & F_CLIENT_V4 != 0 {
        let a = Ipv4Addr::from(r.array::<4>()?);
        Some(check_network(IpAddr::V4(a), r.u8()?).map_err(bad)?)
    } else if flags & F_CLIENT_V6 != 0 {
        let a = Ipv6Addr::from(r.array::<16>()?);
        let net = check_network(IpAddr::V6(a), r.u8()?).map_err(bad)?;
        if !net.addr.is_ipv6() {
            return Err(bad("IPv4-mapped network encoded as IPv6"));
        }
        Some(net)
    } else {
        None
    };
    let tag = if flags & F_TAG != 0 {
        let n = usize::from(r.u8()?);
        let t = utf8(r.take(n)?, "tag is not UTF-8")?;
        check_tag(t).map_err(bad)?;
        Some(t)
    } else {
        None
    };
    r.finish(bad("trailing bytes after cache link"))?;
    Ok(RawLink {
        path,
        width,
        height,
        format,
        quality,
        client,
        tag,
    })
}

/// Stands in for a random generator where none is used: deterministic sealing.
enum NoRng {}

impl rand_core::TryRng for NoRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> core::result::Result<u32, Infallible> {
        match *self {}
    }
    fn try_next_u64(&mut self) -> core::result::Result<u64, Infallible> {
        match *self {}
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> core::result::Result<(), Infallible> {
        match *self {}
    }
}

impl rand_core::TryCryptoRng for NoRng {}

/// Signs and opens cache links, as tokens or as URL paths.
///
/// Tokens are deterministic: equal links (after rounding the expiry up to the end of its
/// bucket) give equal tokens, so CDN and browser caches keep hitting. They are sealed
/// with the ring's primary secret and open with the primary or the backup;
/// [`Verified::needs_reissue`] tells a link made before a rotation.
///
/// `K` is anything that borrows a [`KeyRing`]: `&KeyRing`, `KeyRing`, `Arc<KeyRing>`.
/// Defaults: one-hour buckets, 60 s leeway, no path prefix.
///
/// ```
/// use core::time::Duration;
/// use fwtoken::{CacheLink, CacheLinkSigner, KeyRing, Secret};
/// use time::macros::datetime;
///
/// let ring = KeyRing::new(Secret::from_text("site encryption secret from FotoWeb")?);
/// let signer = CacheLinkSigner::new(&ring).prefix("/fotoweb")?;
/// let now = datetime!(2026-11-24 10:17:00 UTC);
/// let link = CacheLink::new("/archives/photos/harbour.tif")
///     .width(800)
///     .format("jpg")
///     .expires_in(now, Duration::from_secs(86_400))?;
///
/// let path = signer.path(&link, now)?;
/// assert!(path.starts_with("/fotoweb/cache/v1/") && path.ends_with(".jpg"));
/// // Ten minutes later, the same link gives the same URL.
/// let later = datetime!(2026-11-24 10:27:00 UTC);
/// let again = link.clone().expires(later + Duration::from_secs(86_400));
/// assert_eq!(signer.path(&again, later)?, path);
///
/// let opened = signer.parse_path(&path, later, None)?;
/// assert_eq!(opened.width, Some(800));
/// assert_eq!(opened.expires, Some(datetime!(2026-11-25 11:00:00 UTC)));
/// assert!(!opened.needs_reissue());
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct CacheLinkSigner<K = KeyRing> {
    ring: K,
    bucket: u64,
    leeway: u64,
    prefix: String,
}

impl<K: Borrow<KeyRing>> CacheLinkSigner<K> {
    /// A signer over `ring` (borrowed or owned) with the defaults.
    pub fn new(ring: K) -> Self {
        Self {
            ring,
            bucket: DEFAULT_BUCKET_SECS,
            leeway: DEFAULT_LEEWAY_SECS,
            prefix: String::new(),
        }
    }

    /// Sets the expiry bucket: whole seconds, from 1 second to 366 days (default one hour).
    pub fn bucket(mut self, size: Duration) -> Result<Self> {
        if size.subsec_nanos() != 0 {
            return Err(Error::InvalidDuration("bucket must be whole seconds"));
        }
        if !(1..=MAX_BUCKET_SECS).contains(&size.as_secs()) {
            return Err(Error::InvalidDuration(
                "bucket must be from 1 second to 366 days",
            ));
        }
        self.bucket = size.as_secs();
        Ok(self)
    }

    /// Sets the clock leeway allowed past a link's expiry when opening (default 60 s;
    /// fractions of a second are dropped).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.as_secs();
        self
    }

    /// Sets the URL path prefix: empty, or `/` followed by segments of unreserved URL
    /// characters (`A-Z a-z 0-9 - . _ ~`) joined by `/`, at most 256 bytes, without a
    /// trailing `/` and without `.` or `..` segments.
    pub fn prefix(mut self, prefix: &str) -> Result<Self> {
        check_prefix(prefix)?;
        self.prefix = prefix.into();
        Ok(self)
    }

    /// The key ring.
    pub fn ring(&self) -> &KeyRing {
        self.ring.borrow()
    }

    /// The expiry bucket.
    pub const fn bucket_size(&self) -> Duration {
        Duration::from_secs(self.bucket)
    }

    /// The leeway.
    pub const fn leeway_duration(&self) -> Duration {
        Duration::from_secs(self.leeway)
    }

    /// The path prefix.
    pub fn path_prefix(&self) -> &str {
        &self.prefix
    }

    /// The expiry a token claims for `expires`: the end of the bucket holding it.
    /// Buckets are `(k * size, (k + 1) * size]` in Unix seconds, so the result is the
    /// smallest multiple of the bucket size at or after `expires` (a fraction of a second
    /// rounds up). Rounding an already rounded expiry changes nothing, so re-signing an
    /// opened link gives the same token.
    pub fn round_expiry(&self, expires: OffsetDateTime) -> Result<OffsetDateTime> {
        timeutil::from_unix(self.rounded_unix(expires)?)
    }

    fn rounded_unix(&self, expires: OffsetDateTime) -> Result<u64> {
        const RANGE: Error = Error::InvalidTime("timestamp out of range");
        // A fraction of a second counts as a whole one: rounding never shortens a link.
        let secs = timeutil::unix(expires)?
            .checked_add(u64::from(expires.nanosecond() > 0))
            .ok_or(RANGE)?;
        let bucket = self.bucket.max(1);
        let rounded = secs.div_ceil(bucket).checked_mul(bucket).ok_or(RANGE)?;
        if rounded > MAX_UNIX {
            return Err(RANGE);
        }
        Ok(rounded)
    }

    /// Seals `link` into a token (base64url, at most [`MAX_CACHE_TOKEN_CHARS`]).
    ///
    /// Deterministic: the envelope's issued-at is 0 and its IV is synthetic, so equal
    /// links give equal tokens. Fails when a field breaks a rule of [`CacheLink`] or the
    /// expiry is not after `now`.
    pub fn sign(&self, link: &CacheLink, now: OffsetDateTime) -> Result<String> {
        timeutil::unix(now)?;
        let expires_at = match link.expires {
            Some(e) if e <= now => return Err(Error::InvalidTime("expiry is not after now")),
            Some(e) => self.rounded_unix(e)?,
            None => 0,
        };
        let mut buf = [0u8; MAX_PLAINTEXT];
        let mut out = Writer::new(&mut buf, Error::InvalidArgument("cache link too large"));
        encode(link, &mut out)?;
        let times = Times {
            issued_at: 0,
            expires_at,
        };
        envelope::seal::<NoRng>(
            self.ring(),
            Purpose::Cache,
            times,
            out.bytes(),
            &[],
            IvMode::Deterministic,
        )
    }

    /// Opens a token: refuses tokens that are too long or malformed, made for another
    /// purpose, not made by a key of the ring ([`Error::InvalidSignature`]), expired
    /// (leeway included), or bound to a network that `client_ip` is missing from or
    /// outside of ([`Error::ClientNotAllowed`]). A link that is not bound ignores
    /// `client_ip`.
    pub fn open(
        &self,
        token: &str,
        now: OffsetDateTime,
        client_ip: Option<IpAddr>,
    ) -> Result<Verified<CacheLink>> {
        if token.len() > MAX_CACHE_TOKEN_CHARS {
            return Err(Error::TooLong {
                max: MAX_CACHE_TOKEN_CHARS,
            });
        }
        let now = timeutil::unix(now)?;
        envelope::open(
            self.ring(),
            Purpose::Cache,
            token,
            now,
            self.leeway,
            &[],
            |o| {
                if o.issued_at != 0 {
                    return Err(Error::Malformed("cache link with a nonzero issued-at"));
                }
                let raw = decode(o.plaintext)?;
                let allowed = |net: IpNetwork| client_ip.is_some_and(|ip| net.contains(ip));
                if raw.client.is_some_and(|net| !allowed(net)) {
                    return Err(Error::ClientNotAllowed);
                }
                let expires = match o.expires_at {
                    0 => None,
                    e => Some(timeutil::from_unix(e)?),
                };
                Ok(CacheLink {
                    path: raw.path.into(),
                    width: raw.width,
                    height: raw.height,
                    format: raw.format.map(BoundedStr::new).transpose()?,
                    quality: raw.quality,
                    expires,
                    client: raw.client,
                    tag: raw.tag.map(BoundedStr::new).transpose()?,
                    invalid: None,
                })
            },
        )
    }

    /// The URL path of `link`: `<prefix>/cache/v1/<token>.<ext>`, where `ext` is the
    /// link's format, or [`NO_FORMAT_EXTENSION`] when it has none.
    pub fn path(&self, link: &CacheLink, now: OffsetDateTime) -> Result<String> {
        let token = self.sign(link, now)?;
        let ext = link.format.as_deref().unwrap_or(NO_FORMAT_EXTENSION);
        let mut p = String::with_capacity(
            self.prefix.len() + PATH_INFIX.len() + token.len() + 1 + ext.len(),
        );
        p.push_str(&self.prefix);
        p.push_str(PATH_INFIX);
        p.push_str(&token);
        p.push('.');
        p.push_str(ext);
        Ok(p)
    }

    /// Takes apart a path made by [`path`](Self::path) and opens its token as
    /// [`open`](Self::open) does.
    ///
    /// The path must be exactly this signer's prefix, `/cache/v1/`, the token and one
    /// extension (no query, fragment, percent-encoding or extra segment); after opening,
    /// the extension must equal the link's format (or [`NO_FORMAT_EXTENSION`] when it has
    /// none). Anything else is [`Error::Malformed`].
    pub fn parse_path(
        &self,
        path: &str,
        now: OffsetDateTime,
        client_ip: Option<IpAddr>,
    ) -> Result<Verified<CacheLink>> {
        const NOT_A_PATH: Error = Error::Malformed("not a cache-link path");
        let max = self.prefix.len() + PATH_INFIX.len() + MAX_CACHE_TOKEN_CHARS + 1 + MAX_FORMAT_LEN;
        if path.len() > max {
            return Err(Error::TooLong { max });
        }
        let rest = path.strip_prefix(self.prefix.as_str()).ok_or(NOT_A_PATH)?;
        let rest = rest.strip_prefix(PATH_INFIX).ok_or(NOT_A_PATH)?;
        let (token, ext) = rest.split_once('.').ok_or(NOT_A_PATH)?;
        let b64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if token.is_empty() || !token.bytes().all(b64url) {
            return Err(NOT_A_PATH);
        }
        check_format(ext.as_bytes()).map_err(|_| Error::Malformed("not a cache-link extension"))?;
        let opened = self.open(token, now, client_ip)?;
        if ext != opened.format.as_deref().unwrap_or(NO_FORMAT_EXTENSION) {
            return Err(Error::Malformed(
                "extension does not match the link's format",
            ));
        }
        Ok(opened)
    }
}

fn check_prefix(prefix: &str) -> Result<()> {
    const BAD: Error = Error::InvalidArgument(
        "prefix must be empty or /segment[/segment...] of unreserved URL characters, without a trailing /",
    );
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(Error::TooLong {
            max: MAX_PREFIX_LEN,
        });
    }
    if prefix.is_empty() {
        return Ok(());
    }
    let rest = prefix.strip_prefix('/').ok_or(BAD)?;
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    for segment in rest.split('/') {
        if segment.is_empty()
            || segment == "."
            || segment == ".."
            || !segment.bytes().all(unreserved)
        {
            return Err(BAD);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;
    use crate::secret::Secret;
    use alloc::vec::Vec;

    fn ring() -> KeyRing {
        KeyRing::new(Secret::from_text("a secret for the cache-link unit tests").unwrap())
    }

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    /// Seals a hand-made plaintext as the signer would.
    fn seal_raw(ring: &KeyRing, pt: &[u8], issued_at: u64, expires_at: u64) -> String {
        let times = Times {
            issued_at,
            expires_at,
        };
        envelope::seal::<NoRng>(ring, Purpose::Cache, times, pt, &[], IvMode::Deterministic)
            .unwrap()
    }

    /// version, flags, path "/a".
    fn base(flags: u8) -> Vec<u8> {
        vec![VERSION, flags, 0, 2, b'/', b'a']
    }

    #[test]
    fn hand_made_plaintexts_decode_only_when_canonical() {
        let ring = ring();
        let signer = CacheLinkSigner::new(&ring);
        let now = at(1_000);
        let ok = |pt: &[u8]| {
            signer.open(
                &seal_raw(&ring, pt, 0, 0),
                now,
                Some("10.1.2.3".parse().unwrap()),
            )
        };

        // The signer's own encoding of a full link is what the hand-made one says.
        let mut full = base(F_KNOWN & !F_CLIENT_V6);
        full.extend_from_slice(&[
            0x01, 0x00, 0x00, 0x80, 3, b'j', b'p', b'g', 90, 10, 1, 0, 0, 16, 2, b'h', b'i',
        ]);
        let link = ok(&full).unwrap().into_inner();
        let expected = CacheLink::new("/a")
            .width(256)
            .height(128)
            .format("jpg")
            .quality(90)
            .client("10.1.0.0/16".parse().unwrap())
            .tag("hi");
        assert_eq!(link, expected);
        assert_eq!(
            signer.sign(&expected, now).unwrap(),
            seal_raw(&ring, &full, 0, 0)
        );

        let refused: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "truncated cache link"),
            (
                vec![2, 0, 0, 2, b'/', b'a'],
                "unsupported cache-link version",
            ),
            (base(0x80), "unknown cache-link flags"),
            (base(F_CLIENT_V4 | F_CLIENT_V6), "two client networks"),
            (
                [base(0), vec![0]].concat(),
                "trailing bytes after cache link",
            ),
            (vec![VERSION, 0, 0, 0], "asset path is empty"),
            (
                vec![VERSION, 0, 0x04, 0x01],
                "asset path longer than 1024 bytes",
            ),
            (
                vec![VERSION, 0, 0, 2, b'/', 0xff],
                "asset path is not UTF-8",
            ),
            (
                vec![VERSION, 0, 0, 2, b'/', 0x00],
                "asset path contains a control character",
            ),
            (vec![VERSION, 0, 0, 3, b'/', b'a'], "truncated cache link"),
            (
                [base(F_WIDTH), vec![0, 0]].concat(),
                "width and height must be 1 to 16384",
            ),
            (
                [base(F_WIDTH), vec![0x40, 0x01]].concat(),
                "width and height must be 1 to 16384",
            ),
            (
                [base(F_HEIGHT), vec![0xff, 0xff]].concat(),
                "width and height must be 1 to 16384",
            ),
            ([base(F_WIDTH), vec![1]].concat(), "truncated cache link"),
            (
                [base(F_FORMAT), vec![0]].concat(),
                "format must be 1 to 8 characters",
            ),
            (
                [base(F_FORMAT), vec![9], b"abcdefghi".to_vec()].concat(),
                "format must be 1 to 8 characters",
            ),
            (
                [base(F_FORMAT), vec![3], b"JPG".to_vec()].concat(),
                "format must be ASCII lowercase letters and digits",
            ),
            (
                [base(F_QUALITY), vec![0]].concat(),
                "quality must be 1 to 100",
            ),
            (
                [base(F_QUALITY), vec![101]].concat(),
                "quality must be 1 to 100",
            ),
            (
                [base(F_CLIENT_V4), vec![10, 0, 0, 0, 33]].concat(),
                "IPv4 prefix length above 32",
            ),
            (
                [base(F_CLIENT_V4), vec![10, 0, 0, 1, 24]].concat(),
                "network address has bits set past the prefix length",
            ),
            (
                [base(F_CLIENT_V6), vec![0; 16], vec![129]].concat(),
                "IPv6 prefix length above 128",
            ),
            (
                [
                    base(F_CLIENT_V6),
                    "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets().to_vec(),
                    vec![64],
                ]
                .concat(),
                "network address has bits set past the prefix length",
            ),
            (
                [
                    base(F_CLIENT_V6),
                    "::ffff:10.1.2.3"
                        .parse::<Ipv6Addr>()
                        .unwrap()
                        .octets()
                        .to_vec(),
                    vec![128],
                ]
                .concat(),
                "IPv4-mapped network encoded as IPv6",
            ),
            ([base(F_TAG), vec![0]].concat(), "tag must be 1 to 64 bytes"),
            (
                [base(F_TAG), vec![65], vec![b'x'; 65]].concat(),
                "tag must be 1 to 64 bytes",
            ),
            (
                [base(F_TAG), vec![2, 0xc3, 0x28]].concat(),
                "tag is not UTF-8",
            ),
        ];
        for (pt, reason) in refused {
            assert_eq!(ok(&pt).unwrap_err(), Error::Malformed(reason), "{pt:?}");
        }

        // A nonzero issued-at is not what the signer writes.
        let token = seal_raw(&ring, &base(0), 1, 0);
        assert_eq!(
            signer.open(&token, now, None).unwrap_err(),
            Error::Malformed("cache link with a nonzero issued-at")
        );
    }

    #[test]
    fn cache_token_is_not_an_api_token_and_login_token_is_not_a_cache_link() {
        let ring = ring();
        let signer = CacheLinkSigner::new(&ring);
        let now = at(1_000_000);
        let token = signer
            .sign(&CacheLink::new("/a/b.jpg").width(10), now)
            .unwrap();
        for p in [
            Purpose::Api,
            Purpose::Login,
            Purpose::Device,
            Purpose::ImageId,
        ] {
            let err = envelope::open(&ring, p, &token, 1_000_000, 0, &[], |_| Ok(())).unwrap_err();
            assert_eq!(err, Error::WrongPurpose);
        }
        let login = crate::login::LoginToken::builder("alice")
            .issue_sealed(&ring, now, &mut crate::envelope::FixedIv([7; 16]))
            .unwrap();
        assert_eq!(
            signer.open(&login, now, None).unwrap_err(),
            Error::WrongPurpose
        );
    }

    #[test]
    fn max_token_chars_is_the_largest_link() {
        let ring = ring();
        let signer = CacheLinkSigner::new(&ring);
        let link = CacheLink::new("é".repeat(512))
            .width(MAX_DIMENSION)
            .height(MAX_DIMENSION)
            .format("abcdefgh")
            .quality(100)
            .client(IpNetwork::host("2001:db8::1".parse().unwrap()))
            .tag(&"t".repeat(MAX_TAG_LEN))
            .expires(at(MAX_UNIX as i64 - 7200));
        let token = signer.sign(&link, at(0)).unwrap();
        assert_eq!(token.len(), MAX_CACHE_TOKEN_CHARS);
        let opened = signer
            .open(&token, at(0), Some("2001:db8::1".parse().unwrap()))
            .unwrap();
        assert_eq!(opened.path, link.path);
        assert_eq!(opened.expires, Some(at(MAX_UNIX as i64 + 1 - 7200)));
        // Longer input is refused before decoding.
        let long = "A".repeat(MAX_CACHE_TOKEN_CHARS + 1);
        assert_eq!(
            signer.open(&long, at(0), None).unwrap_err(),
            Error::TooLong {
                max: MAX_CACHE_TOKEN_CHARS
            }
        );
    }

    #[test]
    fn plaintexts_match_the_vectors() {
        #[derive(serde::Deserialize)]
        struct File {
            vectors: Vec<V>,
        }
        #[derive(serde::Deserialize)]
        struct V {
            link: L,
            plaintext_hex: String,
        }
        #[derive(serde::Deserialize)]
        struct L {
            path: String,
            width: Option<u16>,
            height: Option<u16>,
            format: Option<String>,
            quality: Option<u8>,
            client: Option<String>,
            tag: Option<String>,
        }
        let file: File =
            serde_json::from_str(include_str!("../tests/vectors/cachelink-v1.json")).unwrap();
        assert!(!file.vectors.is_empty());
        for v in file.vectors {
            let link = CacheLink {
                path: v.link.path,
                width: v.link.width,
                height: v.link.height,
                format: v.link.format.map(|f| BoundedStr::new(&f).unwrap()),
                quality: v.link.quality,
                expires: None,
                client: v.link.client.map(|c| c.parse().unwrap()),
                tag: v.link.tag.map(|t| BoundedStr::new(&t).unwrap()),
                invalid: None,
            };
            let mut buf = [0u8; MAX_PLAINTEXT];
            let mut out = Writer::new(&mut buf, Error::InvalidArgument("cache link too large"));
            encode(&link, &mut out).unwrap();
            let hex: String = out
                .bytes()
                .iter()
                .map(|b| alloc::format!("{b:02x}"))
                .collect();
            assert_eq!(hex, v.plaintext_hex, "{}", link.path);
            let raw = decode(out.bytes()).unwrap();
            assert_eq!(
                (raw.path, raw.width, raw.client),
                (link.path.as_str(), link.width, link.client)
            );
        }
    }

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
