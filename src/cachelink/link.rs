//! [`CacheLink`]: what a cache link grants, and its plaintext (version 1).

use alloc::string::String;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;

use time::OffsetDateTime;

use super::{
    F_CLIENT_V4, F_CLIENT_V6, F_FORMAT, F_HEIGHT, F_KNOWN, F_QUALITY, F_TAG, F_WIDTH,
    MAX_ASSET_PATH_LEN, MAX_DIMENSION, MAX_FORMAT_LEN, MAX_TAG_LEN, VERSION,
};
use crate::bounded::BoundedStr;
use crate::error::{Error, Result};
use crate::net::{IpNetwork, check_network};
use crate::payload::{Reader, Writer, utf8};
use crate::timeutil;

/// What a cache link grants.
///
/// Every field but the asset path is optional. The rules, checked when signing and again
/// (as [`Error::Malformed`]) when opening: the path is 1 to 1024 bytes without control
/// characters; width and height are 1 to 16384; the format is 1 to 8 ASCII lowercase
/// letters or digits (`jpg`, `png`, `webp`); quality is 1 to 100; the tag is 1 to 64 bytes.
///
/// An opened link carries the expiry the token claims: the signed expiry rounded up to the
/// end of its bucket (see [`CacheLinkSigner::round_expiry`](super::CacheLinkSigner::round_expiry)).
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
    pub(super) invalid: Option<&'static str>,
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
    /// A format longer than [`MAX_FORMAT_LEN`] is reported by [`CacheLinkSigner::sign`](super::CacheLinkSigner::sign).
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
    /// A tag longer than [`MAX_TAG_LEN`] is reported by [`CacheLinkSigner::sign`](super::CacheLinkSigner::sign).
    pub fn tag(mut self, tag: &str) -> Self {
        match BoundedStr::new(tag) {
            Ok(t) => self.tag = Some(t),
            Err(_) => self.invalid = Some("tag must be 1 to 64 bytes"),
        }
        self
    }
}

pub(super) fn check_path(path: &str) -> core::result::Result<(), &'static str> {
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

pub(super) fn check_format(f: &[u8]) -> core::result::Result<(), &'static str> {
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
pub(super) fn encode(link: &CacheLink, out: &mut Writer<'_>) -> Result<()> {
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
        Some(net) => Some(check_network(net.addr(), net.prefix_len()).map_err(arg)?),
        None => None,
    };
    match client.map(|n| n.addr()) {
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
        match net.addr() {
            IpAddr::V4(a) => out.put(&a.octets())?,
            IpAddr::V6(a) => out.put(&a.octets())?,
        }
        out.put(&[net.prefix_len()])?;
    }
    if let Some(t) = &link.tag {
        out.put(&[u8::try_from(t.len()).map_err(|_| arg("tag must be 1 to 64 bytes"))?])?;
        out.put(t.as_bytes())?;
    }
    Ok(())
}

/// A decoded plaintext, borrowing its text from the opened envelope.
pub(super) struct RawLink<'a> {
    pub(super) path: &'a str,
    pub(super) width: Option<u16>,
    pub(super) height: Option<u16>,
    pub(super) format: Option<&'a str>,
    pub(super) quality: Option<u8>,
    pub(super) client: Option<IpNetwork>,
    pub(super) tag: Option<&'a str>,
}

const TRUNCATED: Error = Error::Malformed("truncated cache link");

/// Strict decoding: known version and flags only, every value in range, canonical
/// network, no trailing byte.
pub(super) fn decode(pt: &[u8]) -> Result<RawLink<'_>> {
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
        if !net.addr().is_ipv6() {
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
