//! Login tokens: the FotoWeb `lt=` format (byte-compatible with FotoWeb servers) and a
//! sealed variant for when both ends are yours.
//!
//! FotoWeb format, as the public generator builds it:
//!
//! ```text
//! P   = "s=" START ";e=" END ";w=" true|false ";u=" USER ";"     (times: YYYY-MM-DD HH:MM:SS, UTC)
//! MAC = base64(md5(P + "es=" + secret text))                     (standard alphabet, padded: 24 chars)
//! T   = P + "m=" + MAC + ";"
//! lt  = base64(T)                                                (standard alphabet, padded)
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::time::Duration;

use md5::{Digest, Md5};
use rand_core::CryptoRng;
use time::OffsetDateTime;

use crate::b64;
use crate::ct;
use crate::envelope::{self, IvMode, Times};
use crate::error::{Error, Result};
use crate::identity::{self, Denied, MAX_USER_LEN};
use crate::keyring::{KeyRing, KeySlot, Purpose, Verified};
use crate::timeutil::{self, StackStr};

/// Longest FotoWeb login token accepted, in base64 characters once what a URL does to it
/// is undone (see [`LoginToken::verify_fotoweb`]); checked before decoding, as is the
/// received text (at most three times this, every character percent-encoded).
pub const MAX_FOTOWEB_TOKEN_CHARS: usize = 1024;
/// Longest token text `T` (decoded FotoWeb token).
const MAX_T: usize = MAX_FOTOWEB_TOKEN_CHARS / 4 * 3;
/// Length of `"m=" + MAC + ";"`.
const MAC_FIELD_LEN: usize = 2 + 24 + 1;

/// Which login-token format a token was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoginFormat {
    /// FotoWeb's `lt=` format (MD5 over the message and the secret).
    FotoWeb,
    /// Envelope v1 with purpose `login`.
    Sealed,
}

impl LoginFormat {
    /// `"fotoweb"` or `"sealed"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LoginFormat::FotoWeb => "fotoweb",
            LoginFormat::Sealed => "sealed",
        }
    }
}

/// What a verified login token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginClaims {
    /// The user to log in, as written in the token.
    pub user: String,
    /// Start of the validity window.
    pub not_before: OffsetDateTime,
    /// End of the validity window.
    pub expires: OffsetDateTime,
    /// The token is meant for embedded widgets.
    pub widgets: bool,
    /// The format the token was in.
    pub format: LoginFormat,
}

/// What a server accepts.
#[derive(Clone, Debug)]
pub struct LoginPolicy {
    leeway: Duration,
    max_lifetime: Duration,
    denied_users: Vec<Denied>,
    legacy_utf8: bool,
}

impl Default for LoginPolicy {
    /// Leeway 60 s, maximum lifetime 24 h, no denied users.
    fn default() -> Self {
        Self {
            leeway: Duration::from_secs(60),
            max_lifetime: Duration::from_secs(24 * 3600),
            denied_users: Vec::new(),
            legacy_utf8: false,
        }
    }
}

impl LoginPolicy {
    /// The default policy (leeway 60 s, maximum lifetime 24 h).
    pub fn new() -> Self {
        Self::default()
    }

    /// Clock leeway applied to both ends of the window.
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Tokens claiming a longer window than this are refused.
    #[must_use]
    pub fn max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = max;
        self
    }

    /// Refuses tokens for this user: any name whose account part, read every way an account
    /// store might read it, has the same skeleton ([`same_account`](crate::same_account)),
    /// so also `user@any.domain`, `DOMAIN\user`, `user@domain\x`, other cases and widths,
    /// canonically equivalent spellings, `ſ`/`ı`/`İ` spellings and names with invisible
    /// characters. A FotoWeb server names its site owner here. FotoWeb-format tokens may
    /// carry any name their generator sends; this check applies the skeleton to all of them.
    #[must_use]
    pub fn deny_user(mut self, user: &str) -> Self {
        self.denied_users.push(Denied::new(user));
        self
    }

    /// Reads the names of FotoWeb-format tokens made by FotoWare's 2017 PHP login-token
    /// generator as the CMS meant them (off by default).
    ///
    /// That generator called PHP's `utf8_encode` on the token and on the MAC input (the
    /// copies in szeidler/fotoweb-php-sdk up to commit 8ef7d70 and in the Drupal module
    /// media_fotoweb, `includes/FotowebAPI/FotowebLoginTokenGenerator.inc`; removed by
    /// fotoweb-php-sdk commit 82fb3e7, 2024-05-15), so a UTF-8 name arrives encoded twice:
    /// `zoë` as `zoÃ«`, `Øyvind` as `Ã` + U+0098 (a C1 control, refused without this
    /// option). With it on, a name that is valid doubly-encoded UTF-8 (every character at
    /// most U+00FF, at least one not ASCII, and their Latin-1 bytes valid UTF-8) is
    /// returned as the name it encodes. The MAC still covers the bytes as sent, and the
    /// deny checks refuse when either the name as sent or the repaired name matches.
    ///
    /// The risk: a CMS user literally named `zoÃ«` would be read as `zoë`. Turn it on only
    /// for a site whose CMS runs that generator. Sealed tokens are never repaired.
    #[must_use]
    pub fn legacy_utf8_encode(mut self, on: bool) -> Self {
        self.legacy_utf8 = on;
        self
    }

    /// The leeway.
    pub fn leeway_duration(&self) -> Duration {
        self.leeway
    }

    fn check(&self, not_before: u64, expires: u64, user: &str) -> Result<()> {
        if expires < not_before {
            return Err(Error::InvalidTime("end before start"));
        }
        if expires - not_before > self.max_lifetime.as_secs() {
            return Err(Error::LifetimeTooLong {
                max_secs: self.max_lifetime.as_secs(),
            });
        }
        if identity::any_denies(&self.denied_users, user) {
            return Err(Error::DeniedUser);
        }
        Ok(())
    }
}

/// Issuing and verifying login tokens.
///
/// ```
/// use fwtoken::{KeyRing, LoginPolicy, LoginToken, Secret};
/// use time::macros::datetime;
///
/// let ring = KeyRing::new(Secret::from_text("site encryption secret from FotoWeb")?);
/// let now = datetime!(2026-11-24 10:00:00 UTC);
/// let token = LoginToken::builder("alice").issue(&ring, now)?;
/// let url = fwtoken::login_url("https://dam.example.com/fotoweb/", &token);
/// assert!(url.starts_with("https://dam.example.com/fotoweb/?lt="));
///
/// let policy = LoginPolicy::new().deny_user("owner");
/// let claims = LoginToken::verify(&ring, &token, now, &policy)?;
/// assert_eq!(claims.user, "alice");
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LoginToken;

impl LoginToken {
    /// Starts a token for `user` (validated when issuing).
    pub fn builder(user: &str) -> LoginTokenBuilder {
        LoginTokenBuilder {
            user: user.into(),
            widgets: false,
            start: None,
            end: None,
            valid_for: Duration::from_secs(30 * 60),
            start_offset: Duration::from_secs(60),
        }
    }

    /// Verifies a login token in either format (FotoWeb tokens are recognised by their
    /// `s=` prefix, base64 `cz0`), applying `policy`.
    pub fn verify(
        ring: &KeyRing,
        token: &str,
        now: OffsetDateTime,
        policy: &LoginPolicy,
    ) -> Result<Verified<LoginClaims>> {
        if token.starts_with("cz0") {
            Self::verify_fotoweb(ring, token, now, policy)
        } else {
            Self::verify_sealed(ring, token, now, policy)
        }
    }

    /// Verifies a FotoWeb-format token: strict parse, MAC with the primary then the
    /// backup (constant-time), then the window with leeway, the lifetime and the denied users.
    ///
    /// The token may arrive as FotoWare's PHP generator sends it, appended to the URL
    /// without percent-encoding (`?lt=` then standard base64), so that a server decoding
    /// the query form-style turns each `+` into a space; or percent-encoded, as
    /// [`login_url`] writes it. Before the strict decoding, a space is read as `+` and
    /// `%2B`, `%2F`, `%3D` (either case) as `+`, `/`, `=`; all three spellings decode to
    /// the same bytes and the MAC decides. Any other `%`, and anything base64 refuses,
    /// is still refused.
    pub fn verify_fotoweb(
        ring: &KeyRing,
        token: &str,
        now: OffsetDateTime,
        policy: &LoginPolicy,
    ) -> Result<Verified<LoginClaims>> {
        if token.len() > 3 * MAX_FOTOWEB_TOKEN_CHARS {
            return Err(Error::TooLong {
                max: MAX_FOTOWEB_TOKEN_CHARS,
            });
        }
        let now = timeutil::unix(now)?;
        let raw = token.as_bytes();
        if raw.len() <= MAX_FOTOWEB_TOKEN_CHARS && !raw.iter().any(|&c| c == b' ' || c == b'%') {
            // Nothing to restore (the usual case): decode the text as it is, with no copy.
            return b64::with_decoded::<MAX_T, _>(b64::Dialect::StdPadded, raw, |t| {
                Self::verify_fotoweb_text(ring, t, now, policy)
            });
        }
        let mut text = [0u8; MAX_FOTOWEB_TOKEN_CHARS];
        let n = b64::restore_url_transport(raw, &mut text)?;
        let text = text.get(..n).unwrap_or_default();
        b64::with_decoded::<MAX_T, _>(b64::Dialect::StdPadded, text, |t| {
            Self::verify_fotoweb_text(ring, t, now, policy)
        })
    }

    fn verify_fotoweb_text(
        ring: &KeyRing,
        t: &[u8],
        now: u64,
        policy: &LoginPolicy,
    ) -> Result<Verified<LoginClaims>> {
        let parsed = parse_fotoweb(t)?;
        let slot = fotoweb_mac_slot(ring, parsed.message, &parsed.mac)?;
        let not_before = timeutil::unix(parsed.start)?;
        let expires = timeutil::unix(parsed.end)?;
        timeutil::check_window(now, not_before, Some(expires), policy.leeway.as_secs())?;
        // The name as sent, or (legacy option) the name a 2017 PHP generator meant.
        let repaired = if policy.legacy_utf8 {
            identity::undo_utf8_encode(parsed.user)
        } else {
            None
        };
        // Checked before anything is allocated for the claims (a refusal allocates nothing
        // unless the legacy option had to repair the name).
        let user = match repaired {
            Some(meant) => {
                identity::validate_user_name(&meant)?;
                policy.check(not_before, expires, parsed.user)?;
                // The repaired name is refused like the name as sent.
                if identity::any_denies(&policy.denied_users, &meant) {
                    return Err(Error::DeniedUser);
                }
                meant
            }
            None => {
                identity::validate_user_name(parsed.user)?;
                policy.check(not_before, expires, parsed.user)?;
                String::from(parsed.user)
            }
        };
        let claims = LoginClaims {
            user,
            not_before: parsed.start,
            expires: parsed.end,
            widgets: parsed.widgets,
            format: LoginFormat::FotoWeb,
        };
        Ok(Verified::new(claims, slot))
    }

    /// Verifies a sealed login token (envelope v1, purpose `login`), applying `policy`.
    pub fn verify_sealed(
        ring: &KeyRing,
        token: &str,
        now: OffsetDateTime,
        policy: &LoginPolicy,
    ) -> Result<Verified<LoginClaims>> {
        let now = timeutil::unix(now)?;
        envelope::open(
            ring,
            Purpose::Login,
            token,
            now,
            policy.leeway.as_secs(),
            &[],
            |o| {
                let (&flags, user) = o
                    .plaintext
                    .split_first()
                    .ok_or(Error::Malformed("empty payload"))?;
                let widgets = match flags {
                    0 => false,
                    1 => true,
                    _ => return Err(Error::Malformed("unknown flags")),
                };
                let user = core::str::from_utf8(user)
                    .map_err(|_| Error::Malformed("user name is not UTF-8"))?;
                identity::validate_user_name(user)?;
                policy.check(o.issued_at, o.expires_at, user)?;
                Ok(LoginClaims {
                    user: user.into(),
                    not_before: timeutil::from_unix(o.issued_at)?,
                    expires: timeutil::from_unix(o.expires_at)?,
                    widgets,
                    format: LoginFormat::Sealed,
                })
            },
        )
    }
}

/// Builds a login token. Defaults: starts one minute before `now`, ends 30 minutes after.
#[derive(Debug, Clone)]
#[must_use]
pub struct LoginTokenBuilder {
    user: String,
    widgets: bool,
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
    valid_for: Duration,
    start_offset: Duration,
}

impl LoginTokenBuilder {
    /// Marks the token as meant for embedded widgets (`w=true`).
    pub fn widgets(mut self, widgets: bool) -> Self {
        self.widgets = widgets;
        self
    }

    /// An explicit start (instead of `now` minus the start offset).
    pub fn start(mut self, start: OffsetDateTime) -> Self {
        self.start = Some(start);
        self
    }

    /// An explicit end (instead of `now` plus the lifetime).
    pub fn end(mut self, end: OffsetDateTime) -> Self {
        self.end = Some(end);
        self
    }

    /// Time from `now` to the end (default 30 minutes).
    pub fn valid_for(mut self, d: Duration) -> Self {
        self.valid_for = d;
        self
    }

    /// How long before `now` the token starts (default 1 minute).
    pub fn start_offset(mut self, d: Duration) -> Self {
        self.start_offset = d;
        self
    }

    fn window(&self, now: OffsetDateTime) -> Result<(OffsetDateTime, OffsetDateTime)> {
        identity::validate_new_user_name(&self.user)?;
        let now = now
            .replace_nanosecond(0)
            .map_err(|_| Error::InvalidTime("out of range"))?;
        let start = match self.start {
            Some(s) => s,
            None => timeutil::sub(now, self.start_offset)?,
        };
        let end = match self.end {
            Some(e) => e,
            None => timeutil::add(now, self.valid_for)?,
        };
        let start = timeutil::from_unix(timeutil::unix(start)?)?;
        let end = timeutil::from_unix(timeutil::unix(end)?)?;
        if end <= start {
            return Err(Error::InvalidTime("end must be after start"));
        }
        Ok((start, end))
    }

    /// The FotoWeb-format token (the value of `lt=`), MAC'd with the ring's primary secret.
    pub fn issue(&self, ring: &KeyRing, now: OffsetDateTime) -> Result<String> {
        let (start, end) = self.window(now)?;
        let mut t = StackStr::<MAX_T>::new();
        write_message(&mut t, start, end, self.widgets, &self.user)
            .map_err(|_| Error::InvalidUserName("longer than 255 bytes"))?;
        let digest = fotoweb_mac(t.as_bytes(), ring.primary().bytes());
        let mut mac = [0u8; 24];
        b64::encode_into(b64::Dialect::StdPadded, &digest, &mut mac);
        let mac = core::str::from_utf8(&mac).map_err(|_| Error::Malformed("mac"))?;
        write!(t, "m={mac};").map_err(|_| Error::InvalidUserName("longer than 255 bytes"))?;
        Ok(b64::encode(b64::Dialect::StdPadded, t.as_bytes()))
    }

    /// The sealed variant (envelope v1, purpose `login`), under the ring's primary secret.
    pub fn issue_sealed(
        &self,
        ring: &KeyRing,
        now: OffsetDateTime,
        rng: &mut impl CryptoRng,
    ) -> Result<String> {
        let (start, end) = self.window(now)?;
        let mut pt = [0u8; 1 + MAX_USER_LEN];
        let n = 1 + self.user.len();
        let [flag, rest @ ..] = &mut pt;
        *flag = u8::from(self.widgets);
        rest.get_mut(..self.user.len())
            .ok_or(Error::InvalidUserName("longer than 255 bytes"))?
            .copy_from_slice(self.user.as_bytes());
        let times = Times {
            issued_at: timeutil::unix(start)?,
            expires_at: timeutil::unix(end)?,
        };
        envelope::seal(
            ring,
            Purpose::Login,
            times,
            pt.get(..n).unwrap_or_default(),
            &[],
            IvMode::Random(rng),
        )
    }
}

fn write_message(
    out: &mut impl core::fmt::Write,
    start: OffsetDateTime,
    end: OffsetDateTime,
    widgets: bool,
    user: &str,
) -> core::fmt::Result {
    out.write_str("s=")?;
    timeutil::write_fotoweb(out, start)?;
    out.write_str(";e=")?;
    timeutil::write_fotoweb(out, end)?;
    write!(out, ";w={widgets};u={user};")
}

fn fotoweb_mac(message: &[u8], secret: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(message);
    h.update(b"es=");
    h.update(secret);
    h.finalize().into()
}

/// Checks the MAC with the primary, then the backup; each comparison is constant-time
/// on the 16-byte digest.
fn fotoweb_mac_slot(ring: &KeyRing, message: &[u8], mac: &[u8; 16]) -> Result<KeySlot> {
    for (slot, key) in ring.slots() {
        let expected = fotoweb_mac(message, key.secret.bytes());
        if ct::eq(&expected, mac) {
            return Ok(slot);
        }
    }
    Err(Error::InvalidSignature)
}

struct ParsedFotoWeb<'a> {
    message: &'a [u8],
    start: OffsetDateTime,
    end: OffsetDateTime,
    widgets: bool,
    user: &'a str,
    mac: [u8; 16],
}

/// Strict parse of `T`: exact field order, each field once, the final `;`, exact time
/// format, `true`/`false`, a 24-character MAC.
fn parse_fotoweb(t: &[u8]) -> Result<ParsedFotoWeb<'_>> {
    const BAD: Error = Error::Malformed("not a FotoWeb login token");
    let split = t.len().checked_sub(MAC_FIELD_LEN).ok_or(BAD)?;
    let (message, mac_field) = t.split_at(split);
    let mac_text = mac_field
        .strip_prefix(b"m=")
        .and_then(|m| m.strip_suffix(b";"))
        .ok_or(BAD)?;
    let mut mac = [0u8; 16];
    let mut mac_buf = [0u8; 18];
    let n = b64::decode_into(b64::Dialect::StdPadded, mac_text, &mut mac_buf).map_err(|_| BAD)?;
    if n != 16 || mac_text.len() != 24 {
        return Err(BAD);
    }
    mac.copy_from_slice(mac_buf.get(..16).ok_or(BAD)?);

    let rest = message.strip_prefix(b"s=").ok_or(BAD)?;
    let (start, rest) = rest.split_at_checked(19).ok_or(BAD)?;
    let rest = rest.strip_prefix(b";e=").ok_or(BAD)?;
    let (end, rest) = rest.split_at_checked(19).ok_or(BAD)?;
    let rest = rest.strip_prefix(b";w=").ok_or(BAD)?;
    let (widgets, rest) = if let Some(r) = rest.strip_prefix(b"true") {
        (true, r)
    } else if let Some(r) = rest.strip_prefix(b"false") {
        (false, r)
    } else {
        return Err(BAD);
    };
    let user = rest
        .strip_prefix(b";u=")
        .and_then(|r| r.strip_suffix(b";"))
        .ok_or(BAD)?;
    // Checked with `validate_user_name` by the caller, once it knows which name it takes.
    let user =
        core::str::from_utf8(user).map_err(|_| Error::Malformed("user name is not UTF-8"))?;
    let start = timeutil::parse_fotoweb(start).ok_or(Error::Malformed("bad start time"))?;
    let end = timeutil::parse_fotoweb(end).ok_or(Error::Malformed("bad end time"))?;
    Ok(ParsedFotoWeb {
        message,
        start,
        end,
        widgets,
        user,
        mac,
    })
}

/// Appends `lt=<token>` to `base`, percent-encoding `+`, `/` and `=`, keeping any
/// existing query and fragment.
///
/// ```
/// assert_eq!(fwtoken::login_url("https://x/fotoweb/?a=1#top", "ab+/="), "https://x/fotoweb/?a=1&lt=ab%2B%2F%3D#top");
/// ```
pub fn login_url(base: &str, token: &str) -> String {
    let (head, fragment) = match base.split_once('#') {
        Some((h, f)) => (h, Some(f)),
        None => (base, None),
    };
    let mut url = String::with_capacity(base.len() + token.len() * 2 + 5);
    url.push_str(head);
    if !head.contains('?') {
        url.push('?');
    } else if !(head.ends_with('?') || head.ends_with('&')) {
        url.push('&');
    }
    url.push_str("lt=");
    for c in token.chars() {
        match c {
            '+' => url.push_str("%2B"),
            '/' => url.push_str("%2F"),
            '=' => url.push_str("%3D"),
            c => url.push(c),
        }
    }
    if let Some(f) = fragment {
        url.push('#');
        url.push_str(f);
    }
    url
}
