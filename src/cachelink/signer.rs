//! [`CacheLinkSigner`]: sealing and opening cache links, as tokens or URL paths.

use alloc::string::String;
use core::borrow::Borrow;
use core::convert::Infallible;
use core::net::IpAddr;
use core::time::Duration;

use time::OffsetDateTime;

use super::link::{CacheLink, check_format, decode, encode};
use super::{
    DEFAULT_BUCKET_SECS, DEFAULT_LEEWAY_SECS, MAX_BUCKET_SECS, MAX_CACHE_TOKEN_CHARS,
    MAX_FORMAT_LEN, MAX_PLAINTEXT, MAX_PREFIX_LEN, NO_FORMAT_EXTENSION, PATH_INFIX,
};
use crate::bounded::BoundedStr;
use crate::envelope::{self, IvMode, Times};
use crate::error::{Error, Result};
use crate::keyring::{KeyRing, Purpose, Verified};
use crate::net::IpNetwork;
use crate::payload::Writer;
use crate::timeutil::{self, MAX_UNIX};

/// Stands in for a random generator where none is used: deterministic sealing.
pub(super) enum NoRng {}

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

pub(super) fn check_prefix(prefix: &str) -> Result<()> {
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
