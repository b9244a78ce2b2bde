//! The Edgecast parameter string: `name=v1,v2&name2=v3`, typed.
//!
//! Sources for the rules below: the CDN's token-auth pages ("Restricting Access by
//! Country / Referrer / Protocol / URL / Host / IP Address", "Token-Based Authentication
//! Quick Reference", under <https://docs.edgecast.com/cdn/Content/Token-Based_Authentication/>)
//! and Microsoft's "Securing Azure CDN assets with token authentication"
//! (<https://learn.microsoft.com/en-us/azure/cdn/cdn-token-auth>; Azure CDN Premium is the
//! same platform). Where they say nothing and fwtoken refuses or decides anyway, the
//! choice is listed in `docs/FORMAT.md`, "Where fwtoken is stricter than the CDN".

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;
use core::str::FromStr;

use time::OffsetDateTime;

use super::MAX_EDGE_PLAINTEXT;
use crate::error::{Error, Result};
use crate::net::IpNetwork;
use crate::timeutil::{self, MAX_UNIX};

const EXPIRE: &str = "ec_expire";
const CLIENT_IP: &str = "ec_clientip";
const COUNTRY_ALLOW: &str = "ec_country_allow";
const COUNTRY_DENY: &str = "ec_country_deny";
const URL_ALLOW: &str = "ec_url_allow";
const HOST_ALLOW: &str = "ec_host_allow";
const HOST_DENY: &str = "ec_host_deny";
const REF_ALLOW: &str = "ec_ref_allow";
const REF_DENY: &str = "ec_ref_deny";
const PROTO_ALLOW: &str = "ec_proto_allow";
const PROTO_DENY: &str = "ec_proto_deny";

/// The parameters fwtoken knows, in the order they are written.
const KNOWN: [&str; 11] = [
    EXPIRE,
    CLIENT_IP,
    COUNTRY_ALLOW,
    COUNTRY_DENY,
    URL_ALLOW,
    HOST_ALLOW,
    HOST_DENY,
    REF_ALLOW,
    REF_DENY,
    PROTO_ALLOW,
    PROTO_DENY,
];

/// The referrer value that stands for "no referrer" (`Missing` in the docs; any case).
pub(super) const MISSING: &str = "missing";

/// A request protocol, as `ec_proto_allow` / `ec_proto_deny` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EdgeProto {
    /// `http`
    Http,
    /// `https`
    Https,
}

impl EdgeProto {
    /// `"http"` or `"https"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EdgeProto::Http => "http",
            EdgeProto::Https => "https",
        }
    }

    /// `http` or `https`, exactly: "The only valid values for these parameters are
    /// `http` and `https`", and they "are case-sensitive" ("Restricting Access by
    /// Protocol"). `HTTPS` is refused rather than folded.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "http" => Ok(EdgeProto::Http),
            "https" => Ok(EdgeProto::Https),
            _ => Err(Error::InvalidArgument(
                "protocol must be http or https, in lower case",
            )),
        }
    }
}

impl fmt::Display for EdgeProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A two-letter ISO 3166-1 country code (or a two-letter region code the CDN knows, such
/// as `EU`), stored in upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Two ASCII letters, any case (`us` and `US` are the same code).
    pub fn new(code: &str) -> Result<Self> {
        match *code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => Err(Error::InvalidArgument(
                "a country code is two ASCII letters",
            )),
        }
    }

    /// A code as a token carries it: two upper-case ASCII letters. The docs write ISO
    /// 3166 codes (`US`, `CA`), and the CDN's country matching is case-sensitive, so a
    /// lower-case code in a token is refused rather than folded.
    fn from_token(code: &str) -> Result<Self> {
        match *code.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(Self([a, b])),
            _ => Err(Error::InvalidArgument(
                "a country code in a token is two upper-case ASCII letters",
            )),
        }
    }

    /// The code in upper case.
    pub fn as_str(&self) -> &str {
        // Always two ASCII letters.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CountryCode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

/// `ec_clientip` text: the address alone for one host (`203.0.113.7`), `ADDRESS/LEN` for
/// a wider network (`203.0.113.0/24`).
struct ClientIpText(IpNetwork);

impl fmt::Display for ClientIpText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = if self.0.addr().is_ipv4() { 32 } else { 128 };
        if self.0.prefix_len() == full {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// The parameters of an Edgecast token, typed.
///
/// Every value obeys one rule, in the builder and the parser alike: a list item is not
/// empty and contains no `&`, `,`, `=`, whitespace or control character, so the
/// parameter string has one reading. The referrer lists are the exception the docs make:
/// a blank item (`ec_ref_allow=www.example.com,`) stands for a missing or blank referrer,
/// and an item preceded by a space is ignored ("Restricting Access by Referrer"); the
/// parser keeps both as written, so the string writes back identically. Unknown
/// parameters (`ec_secure=1`, say) are kept, in order, and written after the known ones.
///
/// ```
/// use fwtoken::{EdgeParams, EdgeProto};
/// let p = EdgeParams::parse("ec_expire=1700000000&ec_proto_allow=https&ec_secure=1")?;
/// assert_eq!(p.expires_unix(), Some(1_700_000_000));
/// assert_eq!(p.proto_allow(), [EdgeProto::Https]);
/// assert_eq!(p.extra_params()[0], ("ec_secure".into(), "1".into()));
/// assert_eq!(p.to_string(), "ec_expire=1700000000&ec_proto_allow=https&ec_secure=1");
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EdgeParams {
    expire: Option<u64>,
    client_ip: Option<IpNetwork>,
    country_allow: Vec<CountryCode>,
    country_deny: Vec<CountryCode>,
    url_allow: Vec<String>,
    host_allow: Vec<String>,
    host_deny: Vec<String>,
    ref_allow: Vec<String>,
    ref_deny: Vec<String>,
    proto_allow: Vec<EdgeProto>,
    proto_deny: Vec<EdgeProto>,
    extra: Vec<(String, String)>,
}

impl EdgeParams {
    /// Starts an empty set of parameters.
    pub fn builder() -> EdgeParamsBuilder {
        EdgeParamsBuilder::default()
    }

    /// Parses a parameter string strictly: `name=value` pairs joined by `&`, list items
    /// by `,`; each parameter at most once; known names exactly in lower case; every value
    /// valid for its parameter. Refuses more than [`MAX_EDGE_PLAINTEXT`] bytes first.
    ///
    /// As the CDN documents: `ec_clientip` may have host bits set past its prefix
    /// (`11.22.33.0/22`, read as `11.22.32.0/22`); referrer lists may hold blank items and
    /// items preceded by a space. The refusals the docs do not ask for are listed in
    /// `docs/FORMAT.md`.
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() > MAX_EDGE_PLAINTEXT {
            return Err(Error::TooLong {
                max: MAX_EDGE_PLAINTEXT,
            });
        }
        if text.is_empty() {
            return Err(Error::Malformed("empty parameter string"));
        }
        let mut p = EdgeParams::default();
        let mut seen = [false; KNOWN.len()];
        for pair in text.split('&') {
            let (name, value) = pair
                .split_once('=')
                .ok_or(Error::Malformed("parameter without '='"))?;
            check_name(name).map_err(|_| Error::Malformed("invalid parameter name"))?;
            let list_ok = if name == REF_ALLOW || name == REF_DENY {
                check_ref_list(value)
            } else {
                check_list(value)
            };
            list_ok.map_err(|_| Error::Malformed("invalid parameter value"))?;
            match KNOWN.iter().position(|k| *k == name) {
                Some(i) => {
                    let first = seen
                        .get_mut(i)
                        .map(|s| !core::mem::replace(s, true))
                        .unwrap_or(false);
                    if !first {
                        return Err(Error::Malformed("parameter given twice"));
                    }
                    p.set_known(name, value).map_err(|e| match e {
                        Error::InvalidArgument(why) => Error::Malformed(why),
                        other => other,
                    })?;
                }
                None => {
                    if KNOWN.iter().any(|k| k.eq_ignore_ascii_case(name)) {
                        return Err(Error::Malformed("known parameter name in the wrong case"));
                    }
                    if p.extra.iter().any(|(n, _)| n == name) {
                        return Err(Error::Malformed("parameter given twice"));
                    }
                    p.extra.push((name.into(), value.into()));
                }
            }
        }
        Ok(p)
    }

    /// Sets a known parameter from its (already list-checked) text.
    fn set_known(&mut self, name: &str, value: &str) -> Result<()> {
        let items = || value.split(',');
        match name {
            EXPIRE => self.expire = Some(parse_unix(value)?),
            CLIENT_IP => self.client_ip = Some(IpNetwork::parse_masked(value)?),
            COUNTRY_ALLOW => {
                self.country_allow = items()
                    .map(CountryCode::from_token)
                    .collect::<Result<_>>()?
            }
            COUNTRY_DENY => {
                self.country_deny = items()
                    .map(CountryCode::from_token)
                    .collect::<Result<_>>()?
            }
            URL_ALLOW => {
                self.url_allow = items()
                    .map(|v| check_url(v).map(|()| v.into()))
                    .collect::<Result<_>>()?
            }
            HOST_ALLOW => {
                self.host_allow = items()
                    .map(|v| check_host(v).map(|()| v.into()))
                    .collect::<Result<_>>()?
            }
            HOST_DENY => {
                self.host_deny = items()
                    .map(|v| check_host(v).map(|()| v.into()))
                    .collect::<Result<_>>()?
            }
            REF_ALLOW => self.ref_allow = items().map(String::from).collect(),
            REF_DENY => self.ref_deny = items().map(String::from).collect(),
            PROTO_ALLOW => {
                self.proto_allow = items().map(EdgeProto::parse).collect::<Result<_>>()?
            }
            PROTO_DENY => self.proto_deny = items().map(EdgeProto::parse).collect::<Result<_>>()?,
            _ => return Err(Error::InvalidArgument("unknown parameter")),
        }
        Ok(())
    }

    /// `ec_expire`: the last valid second, as Unix seconds.
    pub fn expires_unix(&self) -> Option<u64> {
        self.expire
    }

    /// `ec_clientip`: the client address or network the token is bound to (host bits past
    /// the prefix cleared).
    pub fn client_ip(&self) -> Option<IpNetwork> {
        self.client_ip
    }

    /// `ec_country_allow`: only requests from these countries.
    pub fn country_allow(&self) -> &[CountryCode] {
        &self.country_allow
    }

    /// `ec_country_deny`: no requests from these countries.
    pub fn country_deny(&self) -> &[CountryCode] {
        &self.country_deny
    }

    /// `ec_url_allow`: path prefixes the request path must start with (one of them).
    pub fn url_allow(&self) -> &[String] {
        &self.url_allow
    }

    /// `ec_host_allow`: host names (a leading `*.` matches any subdomain).
    pub fn host_allow(&self) -> &[String] {
        &self.host_allow
    }

    /// `ec_host_deny`: host names refused (a leading `*.` matches any subdomain).
    pub fn host_deny(&self) -> &[String] {
        &self.host_deny
    }

    /// `ec_ref_allow`: referrers as written: `[*.]host[/path-prefix]`, `missing` (any
    /// case) or a blank item for none, or an item preceded by a space (ignored).
    pub fn ref_allow(&self) -> &[String] {
        &self.ref_allow
    }

    /// `ec_ref_deny`: referrers refused, as written (the same forms as
    /// [`ref_allow`](Self::ref_allow)).
    pub fn ref_deny(&self) -> &[String] {
        &self.ref_deny
    }

    /// `ec_proto_allow`: the protocols allowed.
    pub fn proto_allow(&self) -> &[EdgeProto] {
        &self.proto_allow
    }

    /// `ec_proto_deny`: the protocols refused.
    pub fn proto_deny(&self) -> &[EdgeProto] {
        &self.proto_deny
    }

    /// Parameters fwtoken does not know, as `(name, value)` in their original order.
    pub fn extra_params(&self) -> &[(String, String)] {
        &self.extra
    }
}

impl fmt::Display for EdgeParams {
    /// The parameter string: known parameters in a fixed order, then the unknown ones.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = PairWriter { f, first: true };
        if let Some(e) = self.expire {
            w.pair(EXPIRE, core::iter::once(e))?;
        }
        if let Some(ip) = self.client_ip {
            w.pair(CLIENT_IP, core::iter::once(ClientIpText(ip)))?;
        }
        w.pair(COUNTRY_ALLOW, self.country_allow.iter())?;
        w.pair(COUNTRY_DENY, self.country_deny.iter())?;
        w.pair(URL_ALLOW, self.url_allow.iter())?;
        w.pair(HOST_ALLOW, self.host_allow.iter())?;
        w.pair(HOST_DENY, self.host_deny.iter())?;
        w.pair(REF_ALLOW, self.ref_allow.iter())?;
        w.pair(REF_DENY, self.ref_deny.iter())?;
        w.pair(PROTO_ALLOW, self.proto_allow.iter())?;
        w.pair(PROTO_DENY, self.proto_deny.iter())?;
        for (name, value) in &self.extra {
            w.pair(name, core::iter::once(value))?;
        }
        Ok(())
    }
}

impl FromStr for EdgeParams {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

struct PairWriter<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    first: bool,
}

impl PairWriter<'_, '_> {
    /// Writes `&name=v1,v2` (no `&` the first time); nothing for an empty list.
    fn pair<T: fmt::Display>(
        &mut self,
        name: &str,
        values: impl Iterator<Item = T>,
    ) -> fmt::Result {
        let mut values = values.peekable();
        if values.peek().is_none() {
            return Ok(());
        }
        if !core::mem::replace(&mut self.first, false) {
            self.f.write_str("&")?;
        }
        write!(self.f, "{name}=")?;
        for (i, v) in values.enumerate() {
            if i > 0 {
                self.f.write_str(",")?;
            }
            write!(self.f, "{v}")?;
        }
        Ok(())
    }
}

/// Builds [`EdgeParams`], checking each value as it is added; [`build`](Self::build)
/// reports the first value that broke a rule.
///
/// ```
/// use fwtoken::{EdgeParams, EdgeProto};
/// use fwtoken::time::macros::datetime;
/// let p = EdgeParams::builder()
///     .expires_at(datetime!(2026-01-01 0:00 UTC))
///     .client_ip_text("203.0.113.0/24")
///     .country_allow("US")
///     .country_allow("CA")
///     .host_allow("*.example.com")
///     .referrer_allow("missing")
///     .proto_allow(EdgeProto::Https)
///     .build()?;
/// assert_eq!(
///     p.to_string(),
///     "ec_expire=1767225600&ec_clientip=203.0.113.0/24&ec_country_allow=US,CA\
///      &ec_host_allow=*.example.com&ec_ref_allow=missing&ec_proto_allow=https"
/// );
/// assert!(EdgeParams::builder().url_allow("/a&b").build().is_err());
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct EdgeParamsBuilder {
    params: EdgeParams,
    error: Option<Error>,
}

impl EdgeParamsBuilder {
    fn record(mut self, check: Result<()>, apply: impl FnOnce(&mut EdgeParams)) -> Self {
        match check {
            Ok(()) if self.error.is_none() => apply(&mut self.params),
            Ok(()) => {}
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// `ec_expire` from a time (whole seconds; before 1970 or after 9999 is refused).
    pub fn expires_at(self, t: OffsetDateTime) -> Self {
        match timeutil::unix(t) {
            Ok(secs) => self.expires_at_unix(secs),
            Err(e) => self.record(Err(e), |_| {}),
        }
    }

    /// `ec_expire` as Unix seconds (at most 253402300799, the end of year 9999).
    pub fn expires_at_unix(self, secs: u64) -> Self {
        let check = if secs > MAX_UNIX {
            Err(Error::InvalidTime("timestamp out of range"))
        } else {
            Ok(())
        };
        self.record(check, |p| p.expire = Some(secs))
    }

    /// `ec_clientip`: one client address (replaces any previous address or network).
    pub fn client_ip(self, addr: IpAddr) -> Self {
        self.client_network(IpNetwork::host(addr))
    }

    /// `ec_clientip`: a client network (replaces any previous address or network).
    pub fn client_network(self, net: IpNetwork) -> Self {
        self.record(Ok(()), |p| p.client_ip = Some(net))
    }

    /// `ec_clientip` from text (`203.0.113.7`, `203.0.113.0/24`); host bits past the
    /// prefix are cleared, as the CDN reads them (`11.22.33.0/22` is `11.22.32.0/22`).
    pub fn client_ip_text(self, text: &str) -> Self {
        match IpNetwork::parse_masked(text) {
            Ok(net) => self.client_network(net),
            Err(e) => self.record(Err(e), |_| {}),
        }
    }

    /// Adds a country to `ec_country_allow`.
    pub fn country_allow(self, code: &str) -> Self {
        match CountryCode::new(code) {
            Ok(c) => self.record(Ok(()), |p| p.country_allow.push(c)),
            Err(e) => self.record(Err(e), |_| {}),
        }
    }

    /// Adds a country to `ec_country_deny`.
    pub fn country_deny(self, code: &str) -> Self {
        match CountryCode::new(code) {
            Ok(c) => self.record(Ok(()), |p| p.country_deny.push(c)),
            Err(e) => self.record(Err(e), |_| {}),
        }
    }

    /// Adds a path prefix to `ec_url_allow` (it must start with `/`).
    pub fn url_allow(self, prefix: &str) -> Self {
        self.record(check_url(prefix), |p| p.url_allow.push(prefix.into()))
    }

    /// Adds a host to `ec_host_allow` (`cdn.example.com`, or `*.example.com` for any subdomain).
    pub fn host_allow(self, host: &str) -> Self {
        self.record(check_host(host), |p| p.host_allow.push(host.into()))
    }

    /// Adds a host to `ec_host_deny` (`cdn.example.com`, or `*.example.com` for any subdomain).
    pub fn host_deny(self, host: &str) -> Self {
        self.record(check_host(host), |p| p.host_deny.push(host.into()))
    }

    /// Adds a referrer to `ec_ref_allow`: `[*.]host[/path-prefix]`, or `missing` (any
    /// case) to allow requests without a referrer.
    pub fn referrer_allow(self, referrer: &str) -> Self {
        self.record(check_ref(referrer), |p| p.ref_allow.push(referrer.into()))
    }

    /// Adds a referrer to `ec_ref_deny`: `[*.]host[/path-prefix]`, or `missing` (any
    /// case) to refuse requests without a referrer.
    pub fn referrer_deny(self, referrer: &str) -> Self {
        self.record(check_ref(referrer), |p| p.ref_deny.push(referrer.into()))
    }

    /// Adds a protocol to `ec_proto_allow`.
    pub fn proto_allow(self, proto: EdgeProto) -> Self {
        self.record(Ok(()), |p| p.proto_allow.push(proto))
    }

    /// Adds a protocol to `ec_proto_deny`.
    pub fn proto_deny(self, proto: EdgeProto) -> Self {
        self.record(Ok(()), |p| p.proto_deny.push(proto))
    }

    /// An unknown parameter, passed through as `name=value` (`value` may be a
    /// comma-separated list). Known names are refused: use their typed methods.
    pub fn param(self, name: &str, value: &str) -> Self {
        let check = check_name(name).and_then(|()| {
            if KNOWN.iter().any(|k| k.eq_ignore_ascii_case(name)) {
                Err(Error::InvalidArgument(
                    "a known parameter: use its typed method",
                ))
            } else {
                check_list(value)
            }
        });
        let dup = self.params.extra.iter().any(|(n, _)| n == name);
        let check = if dup {
            Err(Error::InvalidArgument("parameter given twice"))
        } else {
            check
        };
        self.record(check, |p| p.extra.push((name.into(), value.into())))
    }

    /// The parameters, or the first rule a value broke. Also refuses an empty set and one
    /// whose string exceeds [`MAX_EDGE_PLAINTEXT`] bytes.
    pub fn build(self) -> Result<EdgeParams> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut len = Counter(0);
        let _ = fmt::Write::write_fmt(&mut len, format_args!("{}", self.params));
        if len.0 == 0 {
            return Err(Error::InvalidArgument("no parameters"));
        }
        if len.0 > MAX_EDGE_PLAINTEXT {
            return Err(Error::TooLong {
                max: MAX_EDGE_PLAINTEXT,
            });
        }
        Ok(self.params)
    }
}

/// Counts the bytes written.
struct Counter(usize);

impl fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.saturating_add(s.len());
        Ok(())
    }
}

fn forbidden(c: char) -> bool {
    matches!(c, '&' | ',' | '=') || c.is_whitespace() || c.is_control()
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().any(forbidden) {
        return Err(Error::InvalidArgument(
            "a parameter name is not empty and has no '&', ',', '=', space or control character",
        ));
    }
    Ok(())
}

/// A comma-separated list of non-empty items free of the forbidden characters.
fn check_list(value: &str) -> Result<()> {
    if value.split(',').all(|item| check_item(item).is_ok()) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(
            "a value is not empty and has no '&', ',', '=', space or control character",
        ))
    }
}

/// A referrer list as a token may carry it: each item blank (a missing or blank
/// referrer), preceded by a space (ignored by the CDN; only free of control characters),
/// or a referrer [`check_ref`] accepts.
fn check_ref_list(value: &str) -> Result<()> {
    let ok = value.split(',').all(|item| {
        item.is_empty()
            || (item.starts_with(' ') && !item.chars().any(|c| c == '=' || c.is_control()))
            || check_ref(item).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(
            "a referrer is blank, `missing`, [*.]host[/path], or ignored after a space",
        ))
    }
}

fn check_item(item: &str) -> Result<()> {
    if item.is_empty() || item.chars().any(forbidden) {
        return Err(Error::InvalidArgument(
            "a value is not empty and has no '&', ',', '=', space or control character",
        ));
    }
    Ok(())
}

/// Canonical decimal Unix seconds (no sign, no leading zeros).
fn parse_unix(value: &str) -> Result<u64> {
    const BAD: Error = Error::InvalidArgument("ec_expire is decimal Unix seconds");
    if value.is_empty()
        || !value.bytes().all(|b| b.is_ascii_digit())
        || (value.len() > 1 && value.starts_with('0'))
    {
        return Err(BAD);
    }
    value.parse::<u64>().map_err(|_| BAD)
}

fn check_url(prefix: &str) -> Result<()> {
    check_item(prefix)?;
    if !prefix.starts_with('/') {
        return Err(Error::InvalidArgument(
            "an ec_url_allow path starts with '/'",
        ));
    }
    Ok(())
}

/// `[*.]label(.label)*` with labels of ASCII letters, digits, `-` and `_`.
pub(super) fn check_host(host: &str) -> Result<()> {
    const BAD: Error =
        Error::InvalidArgument("a host is [*.]name.name with letters, digits, '-' and '_'");
    let name = host.strip_prefix("*.").unwrap_or(host);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(BAD)
    }
}

/// `missing` (any case), or `[*.]host[/path-prefix]`.
fn check_ref(referrer: &str) -> Result<()> {
    check_item(referrer)?;
    if referrer.eq_ignore_ascii_case(MISSING) {
        return Ok(());
    }
    let host = referrer.split_once('/').map_or(referrer, |(h, _)| h);
    check_host(host)
        .map_err(|_| Error::InvalidArgument("a referrer is `missing` or [*.]host[/path]"))
}
