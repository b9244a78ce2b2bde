//! API tokens: the `FWAPIToken` header flow.
//!
//! A server-to-server integration holds the site's full API key ([`ApiKey`]) and sends it
//! as `FWAPIToken: <key>`; such requests act as the built-in administrator. With the full
//! key, a back end asks for a token that acts for one user ([`ApiTokenRequest`], answered
//! by [`ApiTokenInfo`]) and then sends `FWAPIToken: <user token>`.
//!
//! A user token is envelope v1 with purpose `api`. The envelope header carries the issue
//! time and the expiry (never 0); the encrypted plaintext is:
//!
//! ```text
//! version 0x02 | token id (16 bytes) | len(user) (u8) | user (UTF-8) | len(app) (u8) | app (UTF-8)
//! ```
//!
//! with no trailing bytes. The token id ([`ApiTokenId`]) is random; it is what a server
//! records and revokes. Version 0x01 tokens (no id) are refused: they could not be revoked. The user name follows [`validate_user_name`](crate::validate_user_name);
//! the application name is 1 to 255 bytes without control characters.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroize;

use crate::bounded::BoundedStr;
use crate::ct;
use crate::duration::{format_duration, parse_duration};
use crate::envelope::{self, IvMode, Times};
use crate::error::{Error, Result};
use crate::id::random_id;
use crate::identity::{self, Denied, MAX_USER_LEN};
use crate::keyring::{KeyRing, Purpose, Verified};
use crate::payload::{Reader, Writer, utf8};
use crate::secret::Secret;
use crate::timeutil::{self, MAX_UNIX};

/// The request header that carries the full API key or a user's API token.
pub const API_TOKEN_HEADER: &str = "FWAPIToken";

/// Media type of an [`ApiTokenRequest`] body.
pub const API_TOKEN_REQUEST_MEDIA_TYPE: &str = "application/vnd.fotoware.api-token-request+json";

/// Media type of an [`ApiTokenInfo`] body.
pub const API_TOKEN_INFO_MEDIA_TYPE: &str = "application/vnd.fotoware.api-token-info+json";

/// Longest application name accepted, in bytes.
pub const MAX_APP_NAME_LEN: usize = 255;

/// Version byte of the plaintext layout (0x02: with the token id).
const PAYLOAD_VERSION: u8 = 0x02;
/// version, token id, two length bytes, the longest user and application names.
const MAX_PAYLOAD: usize = 1 + 16 + 1 + MAX_USER_LEN + 1 + MAX_APP_NAME_LEN;

random_id!(
    /// An API token's random 128-bit id, sealed inside the token; shown as 32 lowercase
    /// hex characters. A server records it when it issues the token
    /// ([`ApiToken::issue_with_record`]) and revokes the token by it.
    ///
    /// ```
    /// use fwtoken::ApiTokenId;
    /// let id: ApiTokenId = "00112233445566778899aabbccddeeff".parse()?;
    /// assert_eq!(id.to_string(), "00112233445566778899aabbccddeeff");
    /// # Ok::<(), fwtoken::Error>(())
    /// ```
    ApiTokenId,
    "token id"
);

/// What a server stores about an API token it issued (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiTokenRecord {
    /// The token's id.
    pub id: ApiTokenId,
    /// The user it acts for, as requested.
    pub user: String,
    /// The application it was issued to.
    pub app: String,
    /// When it was issued (second precision).
    pub issued_at: OffsetDateTime,
    /// When it expires (second precision).
    pub expires: OffsetDateTime,
}

/// The site's full API key: requests that present it act as the built-in administrator.
///
/// It wraps a [`Secret`], so it is zeroized on drop and its `Debug` shows only the
/// fingerprint.
///
/// ```
/// use fwtoken::ApiKey;
/// let key = ApiKey::from_text("the site's full API key, from its admin page")?;
/// assert!(key.verify_header("the site's full API key, from its admin page"));
/// assert!(!key.verify_header("the site's full API key"));
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone)]
pub struct ApiKey {
    secret: Secret,
    /// SHA-256 of the key, computed once (zeroized on drop).
    digest: zeroize::Zeroizing<[u8; 32]>,
}

impl ApiKey {
    /// Wraps a secret as the site's full API key.
    pub fn new(secret: Secret) -> Self {
        let digest = zeroize::Zeroizing::new(Sha256::digest(secret.bytes()).into());
        Self { secret, digest }
    }

    /// The key from its text, with the rules of [`Secret::from_text`].
    pub fn from_text(text: &str) -> Result<Self> {
        Secret::from_text(text).map(Self::new)
    }

    /// The wrapped secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// True when `presented` (the value of an `FWAPIToken` header, as received) is the
    /// full key.
    ///
    /// The comparison is constant-time whatever the presented length: it compares the
    /// SHA-256 digests of both values, which have a fixed size, so neither the key's
    /// length nor the length of a matching prefix leaks through timing.
    pub fn verify_header(&self, presented: &str) -> bool {
        let mut a: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let eq = ct::eq(&a, &self.digest);
        a.zeroize();
        eq
    }
}

impl PartialEq for ApiKey {
    /// Constant time (compares the secrets, see [`Secret`]'s `PartialEq`).
    fn eq(&self, other: &Self) -> bool {
        self.secret == other.secret
    }
}

impl Eq for ApiKey {}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("fingerprint", &self.secret.fingerprint())
            .finish_non_exhaustive()
    }
}

/// Finds the `FWAPIToken` value among a request's headers, given as (name, value) pairs.
///
/// The name matches case-insensitively (HTTP header names are case-insensitive);
/// surrounding spaces and tabs are trimmed from the value. `Ok(None)` when there is no
/// such header; an error when it is empty or given more than once (the two values
/// could disagree). Only headers are read: a key or token in the query string
/// (`?FWAPIToken=...`) is unsupported and never looked at, even if a caller passes a
/// pseudo-header such as `:path` that contains one.
///
/// ```
/// let headers = [("Accept", "application/json"), ("fwapitoken", " abc ")];
/// assert_eq!(fwtoken::api_token_from_headers(headers)?, Some("abc"));
/// assert_eq!(fwtoken::api_token_from_headers([("Accept", "*/*")])?, None);
/// # Ok::<(), fwtoken::Error>(())
/// ```
pub fn api_token_from_headers<'a, I>(headers: I) -> Result<Option<&'a str>>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut found = None;
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case(API_TOKEN_HEADER) {
            continue;
        }
        let value = value.trim_matches([' ', '\t']);
        if value.is_empty() {
            return Err(Error::Malformed("empty FWAPIToken header"));
        }
        if found.is_some() {
            return Err(Error::Malformed("more than one FWAPIToken header"));
        }
        found = Some(value);
    }
    Ok(found)
}

/// A back end's request for a token that acts for one user (media type
/// [`API_TOKEN_REQUEST_MEDIA_TYPE`]).
///
/// With the `serde` feature it reads and writes FotoWeb's JSON exactly:
/// `{"un": "alice", "app": "CMS", "duration": "PT60S"}`; unknown fields are refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct ApiTokenRequest {
    /// The user the token acts for.
    pub un: String,
    /// The name of the application that asks.
    pub app: String,
    /// How long the token lives, as an ISO 8601 duration (`PT60S`, `P5D`); see
    /// [`parse_duration`](crate::parse_duration).
    pub duration: String,
}

impl ApiTokenRequest {
    /// A request with the duration written the canonical way (see
    /// [`format_duration`](crate::format_duration)).
    pub fn new(user: &str, app: &str, duration: Duration) -> Self {
        Self {
            un: user.into(),
            app: app.into(),
            duration: format_duration(duration),
        }
    }
}

/// The answer to an [`ApiTokenRequest`] (media type [`API_TOKEN_INFO_MEDIA_TYPE`]).
///
/// With the `serde` feature it reads and writes FotoWeb's JSON exactly:
/// `{"token": "...", "expires": "2016-03-31T16:12:00Z"}`. `Debug` does not show the
/// token, which is a bearer credential.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ApiTokenInfo {
    /// The token to send as `FWAPIToken: <token>`.
    pub token: String,
    /// When the token expires: RFC 3339, UTC, second precision, with `Z` (exactly 20
    /// characters, stored inline so that issuing allocates only the token).
    pub expires: BoundedStr<20>,
}

impl ApiTokenInfo {
    /// [`expires`](Self::expires) as a time; an error when it is not in the exact form
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn expires_at(&self) -> Result<OffsetDateTime> {
        timeutil::parse_rfc3339_utc(&self.expires)
            .ok_or(Error::InvalidTime("expires is not RFC 3339 UTC"))
    }
}

impl fmt::Debug for ApiTokenInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiTokenInfo")
            .field("token", &format_args!("<{} characters>", self.token.len()))
            .field("expires", &self.expires)
            .finish()
    }
}

/// What a server issues API tokens for.
///
/// Defaults: a maximum duration of 7 days (a longer request is refused), no site owner,
/// every application allowed.
#[derive(Clone, Debug)]
pub struct ApiPolicy {
    max_duration: Duration,
    cap: bool,
    site_owner: Option<Denied>,
    denied_users: Vec<Denied>,
    applications: Vec<String>,
}

impl Default for ApiPolicy {
    /// Maximum duration 7 days, longer requests refused, no site owner, any application.
    fn default() -> Self {
        Self {
            max_duration: Duration::from_secs(7 * 86_400),
            cap: false,
            site_owner: None,
            denied_users: Vec::new(),
            applications: Vec::new(),
        }
    }
}

impl ApiPolicy {
    /// The default policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// The longest duration a token may have.
    #[must_use]
    pub fn max_duration(mut self, max: Duration) -> Self {
        self.max_duration = max;
        self
    }

    /// What happens to a request longer than the maximum: `false` (the default) refuses
    /// it with [`Error::LifetimeTooLong`]; `true` issues a token with the maximum duration.
    #[must_use]
    pub fn cap_long_requests(mut self, cap: bool) -> Self {
        self.cap = cap;
        self
    }

    /// The site owner, who can never be impersonated with an API token: requests and
    /// tokens for any name whose account part has the owner's skeleton are refused
    /// ([`same_account`](crate::same_account): other cases and widths, `ſ`/`ı` spellings,
    /// invisible characters, `user@any.domain`, `DOMAIN\user`). Setting it again
    /// replaces the owner.
    #[must_use]
    pub fn site_owner(mut self, user: &str) -> Self {
        self.site_owner = Some(Denied::new(user));
        self
    }

    /// Refuses API tokens for this user too, with the same matching as the site owner.
    #[must_use]
    pub fn deny_user(mut self, user: &str) -> Self {
        self.denied_users.push(Denied::new(user));
        self
    }

    /// [`Error::DeniedUser`] when `user` is the site owner or a denied user.
    fn check_user(&self, user: &str) -> Result<()> {
        if self.site_owner.as_ref().is_some_and(|o| o.matches(user))
            || identity::any_denies(&self.denied_users, user)
        {
            Err(Error::DeniedUser)
        } else {
            Ok(())
        }
    }

    /// Allows an application name (exact, case-sensitive match). Once one is allowed,
    /// requests from any other application are refused with [`Error::DeniedApplication`].
    #[must_use]
    pub fn allow_application(mut self, app: &str) -> Self {
        self.applications.push(app.into());
        self
    }

    /// The lifetime to issue for `requested`, or the refusal.
    fn lifetime(&self, requested: Duration) -> Result<Duration> {
        if requested <= self.max_duration {
            Ok(requested)
        } else if self.cap {
            Ok(self.max_duration)
        } else {
            Err(Error::LifetimeTooLong {
                max_secs: self.max_duration.as_secs(),
            })
        }
    }
}

/// What a verified API token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiClaims {
    /// The token's id: check it against the server's revocations.
    pub token_id: ApiTokenId,
    /// The user the token acts for.
    pub user: String,
    /// The application it was issued to (stored inline: verifying allocates only the user name).
    pub app: BoundedStr<MAX_APP_NAME_LEN>,
    /// When it was issued (second precision).
    pub issued_at: OffsetDateTime,
    /// When it expires (second precision).
    pub expires: OffsetDateTime,
}

/// Issuing and verifying API tokens that act for one user.
///
/// ```
/// use core::time::Duration;
/// use fwtoken::{ApiPolicy, ApiToken, ApiTokenRequest, KeyRing, Secret};
/// use time::macros::datetime;
///
/// let ring = KeyRing::new(Secret::from_text("site encryption secret from FotoWeb")?);
/// let now = datetime!(2016-03-31 16:11:00 UTC);
/// let request = ApiTokenRequest { un: "alice".into(), app: "CMS".into(), duration: "PT60S".into() };
/// let policy = ApiPolicy::new().site_owner("admin");
/// let info = ApiToken::issue(&ring, &request, now, &policy, &mut fwtoken::os_rng())?;
/// assert_eq!(info.expires, "2016-03-31T16:12:00Z");
///
/// let claims = ApiToken::verify(&ring, &info.token, now, Duration::from_secs(60))?;
/// assert_eq!((claims.user.as_str(), claims.app.as_str()), ("alice", "CMS"));
///
/// let owner = ApiTokenRequest { un: "CORP\\Admin".into(), ..request };
/// assert_eq!(ApiToken::issue(&ring, &owner, now, &policy, &mut fwtoken::os_rng()), Err(fwtoken::Error::DeniedUser));
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ApiToken;

impl ApiToken {
    /// Issues a token for `request.un`, sealed under the ring's primary secret.
    ///
    /// Checks, in order: the user name, the application name, the site owner, the
    /// allowed applications, then the duration (parsed strictly, then checked against
    /// the maximum). The token is issued at `now` (truncated to the second) and expires
    /// the duration later, rounded up to a whole second.
    pub fn issue(
        ring: &KeyRing,
        request: &ApiTokenRequest,
        now: OffsetDateTime,
        policy: &ApiPolicy,
        rng: &mut impl CryptoRng,
    ) -> Result<ApiTokenInfo> {
        Self::seal(ring, request, now, policy, rng).map(|(info, ..)| info)
    }

    /// Like [`issue`](Self::issue), and also returns the record a server stores to be
    /// able to list and revoke the token (its id, user, application and times).
    pub fn issue_with_record(
        ring: &KeyRing,
        request: &ApiTokenRequest,
        now: OffsetDateTime,
        policy: &ApiPolicy,
        rng: &mut impl CryptoRng,
    ) -> Result<(ApiTokenInfo, ApiTokenRecord)> {
        let (info, id, issued_at, expires_at) = Self::seal(ring, request, now, policy, rng)?;
        let record = ApiTokenRecord {
            id,
            user: request.un.clone(),
            app: request.app.clone(),
            issued_at: timeutil::from_unix(issued_at)?,
            expires: timeutil::from_unix(expires_at)?,
        };
        Ok((info, record))
    }

    /// The token, its id, and its issue and expiry times in Unix seconds.
    fn seal(
        ring: &KeyRing,
        request: &ApiTokenRequest,
        now: OffsetDateTime,
        policy: &ApiPolicy,
        rng: &mut impl CryptoRng,
    ) -> Result<(ApiTokenInfo, ApiTokenId, u64, u64)> {
        identity::validate_new_user_name(&request.un)?;
        validate_app(&request.app)?;
        policy.check_user(&request.un)?;
        if !policy.applications.is_empty() && !policy.applications.contains(&request.app) {
            return Err(Error::DeniedApplication);
        }
        let lifetime = policy.lifetime(parse_duration(&request.duration)?)?;
        let secs = lifetime
            .as_secs()
            .checked_add(u64::from(lifetime.subsec_nanos() > 0))
            .ok_or(Error::InvalidDuration("overflow"))?;
        if secs == 0 {
            return Err(Error::InvalidDuration("zero"));
        }
        let issued_at = timeutil::unix(now)?;
        let expires_at = issued_at
            .checked_add(secs)
            .filter(|e| *e <= MAX_UNIX)
            .ok_or(Error::InvalidTime("expiry out of range"))?;

        let id = ApiTokenId::generate(rng);
        let mut buf = [0u8; MAX_PAYLOAD];
        let n = encode(&mut buf, id, &request.un, &request.app)?;
        let times = Times {
            issued_at,
            expires_at,
        };
        let token = envelope::seal(
            ring,
            Purpose::Api,
            times,
            buf.get(..n).unwrap_or_default(),
            &[],
            IvMode::Random(rng),
        );
        buf.zeroize();
        let info = ApiTokenInfo {
            token: token?,
            expires: expires_text(expires_at)?,
        };
        Ok((info, id, issued_at, expires_at))
    }

    /// Verifies a user's API token: envelope v1 with purpose `api` (any other purpose,
    /// a device token say, is [`Error::WrongPurpose`]), made by the ring's primary or
    /// backup secret, valid at `now` give or take `leeway`.
    ///
    /// It does not know the site owner: a server should call
    /// [`verify_with_policy`](Self::verify_with_policy), which also refuses a token for
    /// the owner or a denied user whatever the token says (one minted before the owner
    /// was configured, say).
    pub fn verify(
        ring: &KeyRing,
        token: &str,
        now: OffsetDateTime,
        leeway: Duration,
    ) -> Result<Verified<ApiClaims>> {
        let now = timeutil::unix(now)?;
        envelope::open(ring, Purpose::Api, token, now, leeway.as_secs(), &[], |o| {
            if o.expires_at == 0 {
                return Err(Error::Malformed("API token without expiry"));
            }
            let (token_id, user, app) = decode(o.plaintext)?;
            Ok(ApiClaims {
                token_id,
                user: user.into(),
                app: BoundedStr::new(app)?,
                issued_at: timeutil::from_unix(o.issued_at)?,
                expires: timeutil::from_unix(o.expires_at)?,
            })
        })
    }

    /// [`verify`](Self::verify), then the policy's user rule: a token whose user is the
    /// site owner or a denied user is [`Error::DeniedUser`], whatever the token says.
    ///
    /// ```
    /// use core::time::Duration;
    /// use fwtoken::{ApiPolicy, ApiToken, ApiTokenRequest, Error, KeyRing, Secret};
    /// use time::macros::datetime;
    /// let ring = KeyRing::new(Secret::from_text("site encryption secret from FotoWeb")?);
    /// let now = datetime!(2026-11-24 10:00:00 UTC);
    /// // Minted before the owner was configured:
    /// let request = ApiTokenRequest { un: "SiteOwner".into(), app: "CMS".into(), duration: "PT1H".into() };
    /// let info = ApiToken::issue(&ring, &request, now, &ApiPolicy::new(), &mut fwtoken::os_rng())?;
    /// let policy = ApiPolicy::new().site_owner("siteowner");
    /// let got = ApiToken::verify_with_policy(&ring, &info.token, now, Duration::from_secs(60), &policy);
    /// assert_eq!(got.unwrap_err(), Error::DeniedUser);
    /// # Ok::<(), fwtoken::Error>(())
    /// ```
    pub fn verify_with_policy(
        ring: &KeyRing,
        token: &str,
        now: OffsetDateTime,
        leeway: Duration,
        policy: &ApiPolicy,
    ) -> Result<Verified<ApiClaims>> {
        let claims = Self::verify(ring, token, now, leeway)?;
        policy.check_user(&claims.user)?;
        Ok(claims)
    }
}

/// `expires_at` as `YYYY-MM-DDTHH:MM:SSZ`, without allocating.
fn expires_text(expires_at: u64) -> Result<BoundedStr<20>> {
    let mut text = timeutil::StackStr::<20>::new();
    timeutil::write_rfc3339(&mut text, timeutil::from_unix(expires_at)?)
        .map_err(|_| Error::InvalidTime("expiry out of range"))?;
    let text = core::str::from_utf8(text.as_bytes())
        .map_err(|_| Error::InvalidTime("expiry out of range"))?;
    BoundedStr::new(text)
}

/// 1 to 255 bytes, no control character.
fn validate_app(app: &str) -> Result<()> {
    if app.is_empty() {
        return Err(Error::InvalidArgument("empty application name"));
    }
    if app.len() > MAX_APP_NAME_LEN {
        return Err(Error::InvalidArgument(
            "application name longer than 255 bytes",
        ));
    }
    if app.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            "application name contains a control character",
        ));
    }
    Ok(())
}

/// Writes the plaintext into `buf`, returning its length: version, then the user and the
/// application, each prefixed with its length.
fn encode(buf: &mut [u8; MAX_PAYLOAD], id: ApiTokenId, user: &str, app: &str) -> Result<usize> {
    let too_long = Error::InvalidArgument("field longer than 255 bytes");
    let mut w = Writer::new(buf, Error::InvalidArgument("payload too long"));
    w.put(&[PAYLOAD_VERSION])?;
    w.put(&id.to_bytes())?;
    w.put_short(user.as_bytes(), too_long.clone())?;
    w.put_short(app.as_bytes(), too_long)?;
    Ok(w.bytes().len())
}

/// Reads the plaintext strictly: version, token id, two length-prefixed UTF-8 fields,
/// nothing after.
fn decode(p: &[u8]) -> Result<(ApiTokenId, &str, &str)> {
    let mut r = Reader::new(p, Error::Malformed("truncated payload"));
    let version = r.u8().map_err(|_| Error::Malformed("empty payload"))?;
    if version != PAYLOAD_VERSION {
        return Err(Error::Malformed("unsupported payload version"));
    }
    let id = ApiTokenId::from_bytes(r.array::<16>()?);
    let user = r.short()?;
    let app = r.short()?;
    r.finish(Error::Malformed("trailing bytes in payload"))?;
    let user = utf8(user, "user name is not UTF-8")?;
    identity::validate_user_name(user)?;
    let app = utf8(app, "application name is not UTF-8")?;
    validate_app(app).map_err(|_| Error::Malformed("invalid application name"))?;
    Ok((id, user, app))
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
        let id = ApiTokenId::from_bytes([7; 16]);
        let mut buf = [0u8; MAX_PAYLOAD];
        let n = encode(&mut buf, id, "alice", "CMS").unwrap();
        assert_eq!(
            &buf[..n],
            b"\x02\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x05alice\x03CMS"
        );
        assert_eq!(decode(&buf[..n]).unwrap(), (id, "alice", "CMS"));
        // Longest names fit exactly.
        let long_user = "u".repeat(MAX_USER_LEN);
        let long_app = "a".repeat(MAX_APP_NAME_LEN);
        let n = encode(&mut buf, id, &long_user, &long_app).unwrap();
        assert_eq!(n, MAX_PAYLOAD);
        assert_eq!(
            decode(&buf[..n]).unwrap(),
            (id, long_user.as_str(), long_app.as_str())
        );

        let v2 = |rest: &[u8]| [&b"\x02"[..], &[7u8; 16], rest].concat();
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\x01\x05alice\x03CMS".to_vec(), // version 1: no token id
            b"\x03\x05alice\x03CMS".to_vec(),
            b"\x02\x07\x07".to_vec(), // truncated id
            v2(b"\x05alice\x03CMSx"),
            v2(b"\x05alice\x04CMS"),
            v2(b"\x06alice"),
            v2(b"\x00\x03CMS"),
            v2(b"\x05alice\x00"),
            v2(b"\x05al\xffce\x03CMS"),
            v2(b"\x05a;b=c\x03CMS"),
        ];
        for bad in &cases {
            let bad = bad.as_slice();
            assert!(
                matches!(
                    decode(bad),
                    Err(Error::Malformed(_) | Error::InvalidUserName(_))
                ),
                "{bad:?}"
            );
        }
    }
}
