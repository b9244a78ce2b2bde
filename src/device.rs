//! Device tokens: the `FWSession` cookie flow, device registries and client-bound ids.
//!
//! After a login the server answers `Set-Cookie: FWSession=<device token>` and the client
//! sends `Cookie: FWSession=<device token>` from then on. A device token has no expiry:
//! it stays valid until an administrator revokes its device id in the server's
//! [`DeviceRegistry`] (or, if the server sets one, until a [`DevicePolicy`] maximum age).
//!
//! A device token is envelope v1 with purpose `device`, `expires_at` = 0 and the issue
//! time in the header; the encrypted plaintext is:
//!
//! ```text
//! version 0x01 | device id (16 bytes) | len(user) (u8) | user (UTF-8)
//! ```
//!
//! A client-bound id ([`ClientBoundId`]) is envelope v1 with purpose `image-id`,
//! `expires_at` = 0, the 16 device-id bytes as the bound context (authenticated, not
//! transmitted), and the plaintext `version 0x01 | id (UTF-8)`.

use alloc::string::String;
use core::fmt::Write as _;
use core::time::Duration;

use rand_core::CryptoRng;
use time::OffsetDateTime;
use zeroize::Zeroize;

use crate::envelope::{self, IvMode, Times};
use crate::error::{Error, Result};
use crate::id::random_id;
use crate::identity::{self, MAX_USER_LEN};
use crate::keyring::{KeyRing, Purpose, Verified};
use crate::payload::{Reader, Writer, utf8};
use crate::timeutil::{self, MAX_UNIX};

/// The name of the session cookie that carries a device token.
pub const SESSION_COOKIE_NAME: &str = "FWSession";

/// Longest id a [`ClientBoundId`] seals, in bytes: what fits in the envelope's largest
/// token (4096 characters) after the payload's version byte.
pub const MAX_CLIENT_ID_LEN: usize = envelope::MAX_PLAINTEXT - 1;

/// Version byte of both plaintext layouts.
const PAYLOAD_VERSION: u8 = 0x01;
/// version, device id, length byte, the longest user name.
const MAX_PAYLOAD: usize = 1 + 16 + 1 + MAX_USER_LEN;

random_id!(
    /// A device's random 128-bit identifier; shown as 32 lowercase hex characters.
    ///
    /// It is not a secret (the device token is), so `Debug` and `Display` show it.
    ///
    /// ```
    /// use fwtoken::DeviceId;
    /// let id: DeviceId = "00112233445566778899aabbccddeeff".parse()?;
    /// assert_eq!(id.to_string(), "00112233445566778899aabbccddeeff");
    /// assert!("00112233445566778899AABBCCDDEEFF".parse::<DeviceId>().is_err());
    /// # Ok::<(), fwtoken::Error>(())
    /// ```
    DeviceId,
    "device id"
);

/// What a verified device token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceClaims {
    /// The device's identifier: check it against the server's [`DeviceRegistry`].
    pub device_id: DeviceId,
    /// The user the device is logged in as.
    pub user: String,
    /// When the token was issued (second precision).
    pub issued_at: OffsetDateTime,
}

/// What a server stores about a device token it issued (the token itself is not needed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device's identifier.
    pub device_id: DeviceId,
    /// The user the device is logged in as.
    pub user: String,
    /// When the token was issued (second precision).
    pub issued_at: OffsetDateTime,
}

/// Devices one user may hold at once by default: FotoWeb's number. [`DevicePolicy`], the
/// `fwtoken` command, `fwtoken-axum` and the example server use it.
pub const DEFAULT_MAX_DEVICES: usize = 10;

/// What a server accepts and allows for device tokens.
///
/// Defaults: no maximum age (a device token lives until revoked), a clock leeway of 60 s
/// (for a token that claims to be issued in the future), and 10 devices per user.
#[derive(Clone, Debug)]
pub struct DevicePolicy {
    max_age: Option<Duration>,
    leeway: Duration,
    max_devices: usize,
}

impl Default for DevicePolicy {
    /// No maximum age, leeway 60 s, 10 devices per user.
    fn default() -> Self {
        Self {
            max_age: None,
            leeway: Duration::from_secs(60),
            max_devices: DEFAULT_MAX_DEVICES,
        }
    }
}

impl DevicePolicy {
    /// The default policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses tokens issued longer ago than `max_age` (plus the leeway) with
    /// [`Error::Expired`]; `None` (the default) lets them live until revoked.
    #[must_use]
    pub fn max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
    }

    /// Clock leeway, applied to the issue time and to the maximum age.
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How many active devices a user may hold; pass [`device_cap`](Self::device_cap) to
    /// [`DeviceRegistry::register`].
    #[must_use]
    pub fn max_devices_per_user(mut self, max: usize) -> Self {
        self.max_devices = max;
        self
    }

    /// The per-user device cap.
    pub fn device_cap(&self) -> usize {
        self.max_devices
    }
}

/// Issuing and verifying device tokens (the value of the `FWSession` cookie).
///
/// ```
/// use fwtoken::{DeviceRegistry, DeviceToken, KeyRing, MemoryRegistry, Secret, SessionCookie};
/// use time::macros::datetime;
///
/// let ring = KeyRing::new(Secret::from_text("site encryption secret from FotoWeb")?);
/// let registry = MemoryRegistry::new();
/// let now = datetime!(2026-11-24 10:00:00 UTC);
///
/// // After a successful login:
/// let (token, record) = DeviceToken::issue(&ring, "alice", now, &mut fwtoken::os_rng())?;
/// registry.register(&record, 10)?;
/// let set_cookie = SessionCookie::new().set_cookie(&token)?;
/// assert!(set_cookie.starts_with("FWSession="));
///
/// // On each request:
/// let header = format!("theme=dark; FWSession={token}");
/// let presented = SessionCookie::find(&header).expect("cookie");
/// let claims = DeviceToken::verify(&ring, presented)?;
/// assert!(registry.is_active(&claims.device_id)?);
/// assert_eq!(claims.user, "alice");
///
/// // An administrator revokes the device: the token stops working.
/// registry.revoke(&claims.device_id)?;
/// assert!(!registry.is_active(&claims.device_id)?);
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct DeviceToken;

impl DeviceToken {
    /// Issues a device token for `user` with a new random device id, sealed under the
    /// ring's primary secret. Returns the token (the `FWSession` value) and the record the
    /// server stores in its [`DeviceRegistry`].
    pub fn issue(
        ring: &KeyRing,
        user: &str,
        now: OffsetDateTime,
        rng: &mut impl CryptoRng,
    ) -> Result<(String, DeviceRecord)> {
        identity::validate_new_user_name(user)?;
        let issued_at = timeutil::unix(now)?;
        let device_id = DeviceId::generate(rng);
        let token = seal_device(ring, device_id, user, issued_at, rng)?;
        let record = DeviceRecord {
            device_id,
            user: user.into(),
            issued_at: timeutil::from_unix(issued_at)?,
        };
        Ok((token, record))
    }

    /// Re-seals a verified device token under the ring's **primary** secret, keeping its
    /// device id, user and issue time, so the registry record stays valid. Use it when
    /// [`Verified::needs_reissue`] says the token opened with the backup secret: send the
    /// result as a fresh `Set-Cookie` and the session survives the retirement of the backup.
    ///
    /// ```
    /// use fwtoken::{DeviceToken, KeyRing, Secret};
    /// use time::macros::datetime;
    /// let now = datetime!(2026-11-24 10:00:00 UTC);
    /// let ring = KeyRing::new(Secret::from_text("old site secret, long enough")?);
    /// let (old, record) = DeviceToken::issue(&ring, "alice", now, &mut fwtoken::os_rng())?;
    /// let ring = ring.rotate(Secret::from_text("new site secret, long enough")?)?;
    /// let claims = DeviceToken::verify(&ring, &old)?;
    /// assert!(claims.needs_reissue());
    /// let fresh = DeviceToken::reissue(&ring, &claims, &mut fwtoken::os_rng())?;
    /// let ring = ring.retire_backup();
    /// let again = DeviceToken::verify(&ring, &fresh)?;
    /// assert_eq!((again.device_id, again.user.as_str()), (record.device_id, "alice"));
    /// # Ok::<(), fwtoken::Error>(())
    /// ```
    pub fn reissue(
        ring: &KeyRing,
        claims: &DeviceClaims,
        rng: &mut impl CryptoRng,
    ) -> Result<String> {
        identity::validate_user_name(&claims.user)?;
        let issued_at = timeutil::unix(claims.issued_at)?;
        seal_device(ring, claims.device_id, &claims.user, issued_at, rng)
    }

    /// Verifies a device token: envelope v1 with purpose `device` (any other purpose is
    /// [`Error::WrongPurpose`]), made by the ring's primary or backup secret. Device tokens
    /// do not expire, so no time is needed; the caller then checks the device id with its
    /// [`DeviceRegistry`].
    pub fn verify(ring: &KeyRing, token: &str) -> Result<Verified<DeviceClaims>> {
        // With no expiry and no maximum age, only "not yet valid" could depend on the
        // time; the latest representable time never is.
        envelope::open(ring, Purpose::Device, token, MAX_UNIX, 0, &[], |o| {
            parse_device(o.issued_at, o.expires_at, o.plaintext)
        })
    }

    /// Like [`verify`](Self::verify), then applies `policy` at `now`: a token issued
    /// after `now` plus the leeway is [`Error::NotYetValid`]; with a maximum age, one
    /// issued longer ago than that plus the leeway is [`Error::Expired`].
    pub fn verify_with_policy(
        ring: &KeyRing,
        token: &str,
        now: OffsetDateTime,
        policy: &DevicePolicy,
    ) -> Result<Verified<DeviceClaims>> {
        let now = timeutil::unix(now)?;
        let leeway = policy.leeway.as_secs();
        envelope::open(ring, Purpose::Device, token, now, leeway, &[], |o| {
            // An end beyond u64 is beyond any `now`: it never binds.
            let end = policy
                .max_age
                .and_then(|m| o.issued_at.checked_add(m.as_secs()));
            if let Some(end) = end.filter(|e| now > e.saturating_add(leeway)) {
                return Err(Error::Expired {
                    expired_at: timeutil::from_unix(end)?,
                });
            }
            parse_device(o.issued_at, o.expires_at, o.plaintext)
        })
    }
}

/// Seals a device payload under the ring's primary secret (no expiry).
fn seal_device(
    ring: &KeyRing,
    device_id: DeviceId,
    user: &str,
    issued_at: u64,
    rng: &mut impl CryptoRng,
) -> Result<String> {
    let mut buf = [0u8; MAX_PAYLOAD];
    let n = encode(&mut buf, device_id, user)?;
    let times = Times {
        issued_at,
        expires_at: 0,
    };
    let token = envelope::seal(
        ring,
        Purpose::Device,
        times,
        buf.get(..n).unwrap_or_default(),
        &[],
        IvMode::Random(rng),
    );
    buf.zeroize();
    token
}

/// The plaintext: version, the 16-byte device id, the user name prefixed with its length.
fn encode(buf: &mut [u8; MAX_PAYLOAD], device_id: DeviceId, user: &str) -> Result<usize> {
    let too_long = Error::InvalidUserName("longer than 255 bytes");
    let mut w = Writer::new(buf, too_long.clone());
    w.put(&[PAYLOAD_VERSION])?;
    w.put(&device_id.0)?;
    w.put_short(user.as_bytes(), too_long)?;
    Ok(w.bytes().len())
}

/// Reads the plaintext strictly and builds the claims (the one allocation).
fn parse_device(issued_at: u64, expires_at: u64, p: &[u8]) -> Result<DeviceClaims> {
    if expires_at != 0 {
        return Err(Error::Malformed("device token with an expiry"));
    }
    let mut r = Reader::new(p, Error::Malformed("truncated payload"));
    let version = r.u8().map_err(|_| Error::Malformed("empty payload"))?;
    if version != PAYLOAD_VERSION {
        return Err(Error::Malformed("unsupported payload version"));
    }
    let id = r.array::<16>()?;
    let user = r
        .short()
        .map_err(|_| Error::Malformed("wrong user name length"))?;
    r.finish(Error::Malformed("wrong user name length"))?;
    let user = utf8(user, "user name is not UTF-8")?;
    identity::validate_user_name(user)?;
    Ok(DeviceClaims {
        device_id: DeviceId(id),
        user: user.into(),
        issued_at: timeutil::from_unix(issued_at)?,
    })
}

/// Where a server keeps the device ids it issued, and which are still active.
///
/// Implement it over your own store, or use `fwtoken-store` (SQLite or PostgreSQL, shared
/// by several servers, surviving restarts); [`MemoryRegistry`] is an in-memory
/// implementation for tests and demos. The rules every implementation keeps:
///
/// - users are grouped by [`identity_key`](crate::identity_key) (one cap and one
///   `revoke_user` for every spelling of an account);
/// - a device id that was never registered is not active, so a lost registry fails closed;
/// - a revoked device id stays revoked (a tombstone): it is never registered or active
///   again;
/// - registering the same record twice (a retry) succeeds without taking a second slot.
pub trait DeviceRegistry {
    /// The error type; reaching the cap should be reported as [`Error::DeviceLimit`].
    type Error: From<Error>;

    /// Stores a newly issued device, unless the user already holds `max_per_user` active
    /// devices: then it fails with [`Error::DeviceLimit`] (naming the cap) and stores
    /// nothing. Check and insert happen atomically.
    fn register(&self, record: &DeviceRecord, max_per_user: usize) -> Result<(), Self::Error>;

    /// Revokes one device; true when it was active, false when it was not (already
    /// revoked, or unknown: an unknown id is then remembered as revoked too).
    fn revoke(&self, device: &DeviceId) -> Result<bool, Self::Error>;

    /// Revokes every device of the account `user` names; returns how many were active.
    fn revoke_user(&self, user: &str) -> Result<usize, Self::Error>;

    /// True when the device is registered and not revoked.
    fn is_active(&self, device: &DeviceId) -> Result<bool, Self::Error>;
}

#[cfg(feature = "std")]
pub use memory::MemoryRegistry;

#[cfg(feature = "std")]
mod memory {
    use alloc::string::String;
    use alloc::vec::Vec;
    use std::collections::{HashMap, HashSet};
    use std::sync::{PoisonError, RwLock};

    use super::{DeviceId, DeviceRecord, DeviceRegistry};
    use crate::error::{Error, Result};
    use crate::identity::{self, SiteDomains};

    /// An in-memory [`DeviceRegistry`], safe to share between threads (`Send + Sync`;
    /// wrap it in an `Arc`). It forgets everything when the process ends: for state that
    /// survives a restart and is shared by several servers, use `fwtoken-store`.
    ///
    /// Users are grouped by [`identity_key`](crate::identity_key): `Alice`, `alice`,
    /// `ALİCE`, `ａｌｉｃｅ` and `CORP\alice@…` forms that name the same account share one
    /// cap and one `revoke_user`. With [`with_site_domains`](Self::with_site_domains),
    /// `alice@corp.example` and `CORP\alice` are also bare `alice`.
    ///
    /// A revoked device id stays revoked (a tombstone): registering it again fails and it
    /// never reads as active again.
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[derive(Debug, Default)]
    pub struct MemoryRegistry {
        inner: RwLock<Inner>,
        site: SiteDomains,
    }

    #[derive(Debug, Default)]
    struct Inner {
        devices: HashMap<DeviceId, DeviceRecord>,
        by_user: HashMap<String, Vec<DeviceId>>,
        revoked: HashSet<DeviceId>,
    }

    impl MemoryRegistry {
        /// An empty registry with no domain of the site's own.
        pub fn new() -> Self {
            Self::default()
        }

        /// An empty registry for a site whose own domains are `site`: a name in one of
        /// them is the same user as the bare account name.
        pub fn with_site_domains(site: SiteDomains) -> Self {
            Self {
                inner: RwLock::default(),
                site,
            }
        }

        fn key(&self, user: &str) -> String {
            identity::identity_key(user, &self.site)
        }

        /// The active devices of `user` (grouped by identity key), oldest registration
        /// first.
        pub fn devices_of(&self, user: &str) -> Vec<DeviceRecord> {
            let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
            inner
                .by_user
                .get(&self.key(user))
                .map(|ids| {
                    ids.iter()
                        .filter_map(|id| inner.devices.get(id).cloned())
                        .collect()
                })
                .unwrap_or_default()
        }

        /// How many devices are active, all users together.
        pub fn len(&self) -> usize {
            self.inner
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .devices
                .len()
        }

        /// True when no device is active.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }
    }

    impl DeviceRegistry for MemoryRegistry {
        type Error = Error;

        /// Registering the same record again (a retry after a lost answer) succeeds and
        /// takes no second slot; another record with a registered or revoked id fails.
        fn register(&self, record: &DeviceRecord, max_per_user: usize) -> Result<()> {
            identity::validate_user_name(&record.user)?;
            let key = self.key(&record.user);
            let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            if inner.revoked.contains(&record.device_id) {
                return Err(Error::InvalidArgument("device id was revoked"));
            }
            if let Some(existing) = inner.devices.get(&record.device_id) {
                return if existing == record {
                    Ok(())
                } else {
                    Err(Error::InvalidArgument("device id already registered"))
                };
            }
            let held = inner.by_user.get(&key).map_or(0, Vec::len);
            if held >= max_per_user {
                return Err(Error::DeviceLimit { max: max_per_user });
            }
            inner.by_user.entry(key).or_default().push(record.device_id);
            inner.devices.insert(record.device_id, record.clone());
            Ok(())
        }

        /// True when the device was active; revoking an unknown id leaves a tombstone too,
        /// so it can never be registered later.
        fn revoke(&self, device: &DeviceId) -> Result<bool> {
            let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            inner.revoked.insert(*device);
            let Some(record) = inner.devices.remove(device) else {
                return Ok(false);
            };
            let key = self.key(&record.user);
            if let Some(ids) = inner.by_user.get_mut(&key) {
                ids.retain(|id| id != device);
                if ids.is_empty() {
                    inner.by_user.remove(&key);
                }
            }
            Ok(true)
        }

        /// Revokes every active device whose user has the same
        /// [`identity_key`](crate::identity_key) as `user`.
        fn revoke_user(&self, user: &str) -> Result<usize> {
            let key = self.key(user);
            let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            let ids = inner.by_user.remove(&key).unwrap_or_default();
            for id in &ids {
                inner.devices.remove(id);
                inner.revoked.insert(*id);
            }
            Ok(ids.len())
        }

        fn is_active(&self, device: &DeviceId) -> Result<bool> {
            let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
            Ok(!inner.revoked.contains(device) && inner.devices.contains_key(device))
        }
    }
}

/// The `SameSite` attribute of a cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None` (browsers require `Secure` with it).
    None,
}

impl SameSite {
    /// `"Strict"`, `"Lax"` or `"None"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The `FWSession` cookie: builds `Set-Cookie` values and finds the token in `Cookie`
/// headers.
///
/// The default attributes are `Path=/; HttpOnly; Secure; SameSite=Lax`.
///
/// ```
/// use fwtoken::{SameSite, SessionCookie};
/// let token = "AQNtb2NrLXRva2Vu";
/// assert_eq!(SessionCookie::new().set_cookie(token)?, "FWSession=AQNtb2NrLXRva2Vu; Path=/; HttpOnly; Secure; SameSite=Lax");
/// let strict = SessionCookie::new().path("/fotoweb/").same_site(Some(SameSite::Strict));
/// assert_eq!(strict.set_cookie(token)?, "FWSession=AQNtb2NrLXRva2Vu; Path=/fotoweb/; HttpOnly; Secure; SameSite=Strict");
///
/// assert_eq!(SessionCookie::find(r#"a=1; FWSession="AQNtb2NrLXRva2Vu"; b=2"#), Some(token));
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCookie {
    path: Option<String>,
    domain: Option<String>,
    max_age: Option<Duration>,
    http_only: bool,
    secure: bool,
    same_site: Option<SameSite>,
}

impl Default for SessionCookie {
    /// `Path=/; HttpOnly; Secure; SameSite=Lax`, no `Domain`, no `Max-Age` (a session
    /// cookie).
    fn default() -> Self {
        Self {
            path: Some("/".into()),
            domain: None,
            max_age: None,
            http_only: true,
            secure: true,
            same_site: Some(SameSite::Lax),
        }
    }
}

impl SessionCookie {
    /// The default attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `Path` attribute (checked when building).
    #[must_use]
    pub fn path(mut self, path: &str) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Leaves the `Path` attribute out.
    #[must_use]
    pub fn no_path(mut self) -> Self {
        self.path = None;
        self
    }

    /// The `Domain` attribute (checked when building); none by default.
    #[must_use]
    pub fn domain(mut self, domain: &str) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The `Max-Age` attribute, in whole seconds; none by default (the cookie lasts for
    /// the browser session).
    #[must_use]
    pub fn max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
    }

    /// The `HttpOnly` attribute (on by default).
    #[must_use]
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }

    /// The `Secure` attribute (on by default).
    #[must_use]
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }

    /// The `SameSite` attribute (`Lax` by default); `None` leaves it out.
    #[must_use]
    pub fn same_site(mut self, same_site: Option<SameSite>) -> Self {
        self.same_site = same_site;
        self
    }

    /// The `Set-Cookie` header value that hands `token` to the client.
    ///
    /// Fails when the token is empty or has a character a cookie value cannot hold, when
    /// the path or domain has a `;` or a control character, and for `SameSite=None`
    /// without `Secure` (browsers drop such cookies).
    pub fn set_cookie(&self, token: &str) -> Result<String> {
        if token.is_empty() || !token.bytes().all(is_cookie_octet) {
            return Err(Error::InvalidArgument("token is not a valid cookie value"));
        }
        self.build(token, None)
    }

    /// The `Set-Cookie` header value that removes the cookie (empty value, `Max-Age=0`),
    /// with the same `Path` and `Domain` so the browser matches it.
    pub fn removal(&self) -> Result<String> {
        self.build("", Some(0))
    }

    fn build(&self, value: &str, max_age: Option<u64>) -> Result<String> {
        let attr_ok =
            |s: &str| !s.is_empty() && !s.contains(';') && !s.chars().any(char::is_control);
        if self.path.as_deref().is_some_and(|p| !attr_ok(p)) {
            return Err(Error::InvalidArgument(
                "cookie path is empty or has ';' or a control character",
            ));
        }
        if self.domain.as_deref().is_some_and(|d| !attr_ok(d)) {
            return Err(Error::InvalidArgument(
                "cookie domain is empty or has ';' or a control character",
            ));
        }
        if self.same_site == Some(SameSite::None) && !self.secure {
            return Err(Error::InvalidArgument("SameSite=None requires Secure"));
        }
        let mut out = String::with_capacity(SESSION_COOKIE_NAME.len() + value.len() + 64);
        out.push_str(SESSION_COOKIE_NAME);
        out.push('=');
        out.push_str(value);
        if let Some(p) = &self.path {
            out.push_str("; Path=");
            out.push_str(p);
        }
        if let Some(d) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(d);
        }
        if let Some(secs) = max_age.or(self.max_age.map(|d| d.as_secs())) {
            let _ = write!(out, "; Max-Age={secs}");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if self.secure {
            out.push_str("; Secure");
        }
        if let Some(s) = self.same_site {
            out.push_str("; SameSite=");
            out.push_str(s.as_str());
        }
        Ok(out)
    }

    /// Finds the `FWSession` value in a `Cookie` request header that may carry other
    /// cookies: pairs are split at `;`, spaces and tabs around them are ignored, the name
    /// matches exactly (cookie names are case-sensitive) and a value in double quotes is
    /// unquoted. Values that are empty, unbalanced in their quotes or hold a character a
    /// cookie value cannot hold are skipped. When the header holds several `FWSession`
    /// cookies (set for different paths), the first valid one is returned; use
    /// [`find_all`](Self::find_all) to try each.
    pub fn find(cookie_header: &str) -> Option<&str> {
        Self::find_all(cookie_header).next()
    }

    /// Every valid `FWSession` value in a `Cookie` header, in order (see [`find`](Self::find)).
    pub fn find_all(cookie_header: &str) -> impl Iterator<Item = &str> {
        cookie_header.split(';').filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            if name.trim_matches([' ', '\t']) != SESSION_COOKIE_NAME {
                return None;
            }
            let value = value.trim_matches([' ', '\t']);
            let value = match value.strip_prefix('"') {
                Some(quoted) => quoted.strip_suffix('"')?,
                None => value,
            };
            (!value.is_empty() && value.bytes().all(is_cookie_octet)).then_some(value)
        })
    }
}

/// RFC 6265 `cookie-octet`: visible ASCII except `"`, `,`, `;` and `\`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// Identifiers bound to one client: an image id (or any short string) sealed so that it
/// opens only with the device id of the client it was handed to.
///
/// ```
/// use fwtoken::{ClientBoundId, DeviceId, KeyRing, Secret};
/// use time::macros::datetime;
///
/// let ring = KeyRing::new(Secret::from_text("site encryption secret from FotoWeb")?);
/// let mine = DeviceId::from_bytes([1; 16]);
/// let theirs = DeviceId::from_bytes([2; 16]);
/// let now = datetime!(2026-11-24 10:00:00 UTC);
///
/// let sealed = ClientBoundId::seal(&ring, &mine, "archive-5000/IMG_0042.jpg", now, &mut fwtoken::os_rng())?;
/// assert_eq!(ClientBoundId::open(&ring, &mine, &sealed)?.as_str(), "archive-5000/IMG_0042.jpg");
/// assert_eq!(ClientBoundId::open(&ring, &theirs, &sealed), Err(fwtoken::Error::InvalidSignature));
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ClientBoundId;

impl ClientBoundId {
    /// Seals `id` (1 to [`MAX_CLIENT_ID_LEN`] bytes) for the client whose device id is
    /// `device`, with purpose `image-id`, a random IV and no expiry.
    pub fn seal(
        ring: &KeyRing,
        device: &DeviceId,
        id: &str,
        now: OffsetDateTime,
        rng: &mut impl CryptoRng,
    ) -> Result<String> {
        if id.is_empty() {
            return Err(Error::InvalidArgument("empty id"));
        }
        if id.len() > MAX_CLIENT_ID_LEN {
            return Err(Error::TooLong {
                max: MAX_CLIENT_ID_LEN,
            });
        }
        let mut buf = [0u8; 1 + MAX_CLIENT_ID_LEN];
        let [version, rest @ ..] = &mut buf;
        *version = PAYLOAD_VERSION;
        rest.get_mut(..id.len())
            .ok_or(Error::TooLong {
                max: MAX_CLIENT_ID_LEN,
            })?
            .copy_from_slice(id.as_bytes());
        let times = Times {
            issued_at: timeutil::unix(now)?,
            expires_at: 0,
        };
        let pt = buf.get(..1 + id.len()).unwrap_or_default();
        envelope::seal(
            ring,
            Purpose::ImageId,
            times,
            pt,
            &device.0,
            IvMode::Random(rng),
        )
    }

    /// Opens an id sealed for `device`. Sealed for another device, altered, or made by
    /// another key: the one opaque [`Error::InvalidSignature`]; another purpose:
    /// [`Error::WrongPurpose`].
    pub fn open(ring: &KeyRing, device: &DeviceId, sealed: &str) -> Result<Verified<String>> {
        envelope::open(
            ring,
            Purpose::ImageId,
            sealed,
            MAX_UNIX,
            0,
            &device.0,
            |o| {
                if o.expires_at != 0 {
                    return Err(Error::Malformed("client-bound id with an expiry"));
                }
                let (&version, id) = o
                    .plaintext
                    .split_first()
                    .ok_or(Error::Malformed("empty payload"))?;
                if version != PAYLOAD_VERSION {
                    return Err(Error::Malformed("unsupported payload version"));
                }
                if id.is_empty() || id.len() > MAX_CLIENT_ID_LEN {
                    return Err(Error::Malformed("wrong id length"));
                }
                let id =
                    core::str::from_utf8(id).map_err(|_| Error::Malformed("id is not UTF-8"))?;
                Ok(id.into())
            },
        )
    }
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

    #[test]
    fn payload_round_trip_and_strictness() {
        let id = DeviceId::from_bytes([0xab; 16]);
        let mut buf = [0u8; MAX_PAYLOAD];
        let n = encode(&mut buf, id, "alice").unwrap();
        assert_eq!(n, 1 + 16 + 1 + 5);
        let claims = parse_device(7, 0, &buf[..n]).unwrap();
        assert_eq!((claims.device_id, claims.user.as_str()), (id, "alice"));
        assert_eq!(
            parse_device(7, 8, &buf[..n]).unwrap_err(),
            Error::Malformed("device token with an expiry")
        );
        let long = "u".repeat(MAX_USER_LEN);
        assert_eq!(encode(&mut buf, id, &long).unwrap(), MAX_PAYLOAD);

        let n = encode(&mut buf, id, "alice").unwrap();
        let mut wrong_version = buf[..n].to_vec();
        wrong_version[0] = 2;
        let mut trailing = buf[..n].to_vec();
        trailing.push(b'x');
        for bad in [
            &b""[..],
            &buf[..10],
            &buf[..n - 1],
            &trailing,
            &wrong_version,
        ] {
            assert!(
                matches!(parse_device(7, 0, bad), Err(Error::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn cookie_octets() {
        let allowed: Vec<u8> = (0u8..=255).filter(|b| is_cookie_octet(*b)).collect();
        assert_eq!(allowed.len(), 90);
        for b in [b' ', b'"', b',', b';', b'\\', 0x7f, 0x00, 0x80] {
            assert!(!is_cookie_octet(b));
        }
        // Every base64url character is allowed, so every envelope token is a valid value.
        assert!(b"ABCXYZabcxyz0189-_".iter().all(|b| is_cookie_octet(*b)));
    }
}
