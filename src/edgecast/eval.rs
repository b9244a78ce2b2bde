//! Checking a request against the parameters of an Edgecast token, as the edge does.
//!
//! Sources: the CDN's token-auth pages under
//! <https://docs.edgecast.com/cdn/Content/Token-Based_Authentication/> ("Restricting
//! Access by Country", "by Referrer", "by Protocol", "by URL", "by Host", "by IP Address")
//! and <https://learn.microsoft.com/en-us/azure/cdn/cdn-token-auth>. What they leave open
//! and fwtoken decides is listed in `docs/FORMAT.md`.

use alloc::string::String;
use core::fmt;
use core::net::IpAddr;
use core::time::Duration;

use time::OffsetDateTime;

use super::params::{CountryCode, EdgeParams, EdgeProto, MISSING};

/// What an edge service knows about one request.
///
/// `host` is the request's host name (a `:port` suffix and a trailing dot are ignored);
/// `path` is everything after the host, starting with `/`, as the edge normalised it
/// (a query string may follow; `ec_url_allow` ignores it).
///
/// ```
/// use fwtoken::{CountryCode, EdgeProto, EdgeRequest};
/// use fwtoken::time::macros::datetime;
/// let req = EdgeRequest::new(
///     datetime!(2026-11-24 10:00 UTC),
///     "203.0.113.7".parse().unwrap(),
///     EdgeProto::Https,
///     "cdn.example.com",
///     "/videos/intro.mp4",
/// )
/// .country(CountryCode::new("NO")?)
/// .referrer("https://www.example.com/watch");
/// # let _ = req;
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct EdgeRequest<'a> {
    now: OffsetDateTime,
    client_ip: IpAddr,
    protocol: EdgeProto,
    host: &'a str,
    path: &'a str,
    country: Option<CountryCode>,
    referrer: Option<&'a str>,
    ignore_url_case: bool,
}

impl<'a> EdgeRequest<'a> {
    /// A request at `now` from `client_ip`, without a known country and without a referrer.
    pub fn new(
        now: OffsetDateTime,
        client_ip: IpAddr,
        protocol: EdgeProto,
        host: &'a str,
        path: &'a str,
    ) -> Self {
        Self {
            now,
            client_ip,
            protocol,
            host,
            path,
            country: None,
            referrer: None,
            ignore_url_case: false,
        }
    }

    /// The client's country, when the edge knows it.
    #[must_use]
    pub fn country(mut self, country: CountryCode) -> Self {
        self.country = Some(country);
        self
    }

    /// The `Referer` header (a URL). An empty value counts as no referrer.
    #[must_use]
    pub fn referrer(mut self, referrer: &'a str) -> Self {
        self.referrer = Some(referrer);
        self
    }

    /// Compares `ec_url_allow`, `ec_ref_allow` and `ec_ref_deny` ignoring ASCII case, as
    /// the CDN does where its "Token Auth Ignore URL Case" feature is on for the request's
    /// location. Off by default: those comparisons are case-sensitive, referrer hosts
    /// included.
    ///
    /// Source: the feature's entry in the CDN's rules-engine reference (Microsoft's
    /// `cdn-rules-engine-reference-features`, "Token Auth Ignore URL Case": "The parameters
    /// affected by this feature are: ec_url_allow, ec_ref_allow, ec_ref_deny"; "The default
    /// behavior is for URL comparisons for Token Authentication to be case-sensitive").
    #[must_use]
    pub fn ignore_url_case(mut self, ignore: bool) -> Self {
        self.ignore_url_case = ignore;
        self
    }
}

/// The rule of an Edgecast token that refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EdgeRefusal {
    /// `ec_expire` has passed (leeway included).
    Expired,
    /// The client address is not the `ec_clientip` address or not in its network.
    ClientIp,
    /// The client's country is in `ec_country_deny` and not in `ec_country_allow`.
    CountryDenied,
    /// `ec_country_allow` is set and the client's country is not in it (or unknown).
    CountryNotAllowed,
    /// The path (without its query string) starts with none of the `ec_url_allow`
    /// prefixes, or has `.`/`..` segments.
    UrlNotAllowed,
    /// The host matches `ec_host_deny`.
    HostDenied,
    /// `ec_host_allow` is set and the host matches none of it.
    HostNotAllowed,
    /// The referrer (or its absence, for `missing` or a blank item) matches `ec_ref_deny`
    /// and not `ec_ref_allow`.
    ReferrerDenied,
    /// `ec_ref_allow` is set and the referrer (or its absence) matches none of it.
    ReferrerNotAllowed,
    /// The protocol is in `ec_proto_deny` and not in `ec_proto_allow`.
    ProtocolDenied,
    /// `ec_proto_allow` is set and the protocol is not in it.
    ProtocolNotAllowed,
}

impl EdgeRefusal {
    /// The parameter whose rule refused the request (`"ec_country_deny"`, say).
    pub const fn param(self) -> &'static str {
        match self {
            EdgeRefusal::Expired => "ec_expire",
            EdgeRefusal::ClientIp => "ec_clientip",
            EdgeRefusal::CountryDenied => "ec_country_deny",
            EdgeRefusal::CountryNotAllowed => "ec_country_allow",
            EdgeRefusal::UrlNotAllowed => "ec_url_allow",
            EdgeRefusal::HostDenied => "ec_host_deny",
            EdgeRefusal::HostNotAllowed => "ec_host_allow",
            EdgeRefusal::ReferrerDenied => "ec_ref_deny",
            EdgeRefusal::ReferrerNotAllowed => "ec_ref_allow",
            EdgeRefusal::ProtocolDenied => "ec_proto_deny",
            EdgeRefusal::ProtocolNotAllowed => "ec_proto_allow",
        }
    }
}

impl fmt::Display for EdgeRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused by {}", self.param())
    }
}

impl core::error::Error for EdgeRefusal {}

impl EdgeParams {
    /// Says whether the token's parameters allow `request`, or which rule refused it.
    ///
    /// Rules are checked in this order:
    ///
    /// - `ec_expire`: refused once `now` is past it by more than `leeway`.
    /// - `ec_clientip`: the client address is in the network (host bits of the token's
    ///   network were cleared when parsing: `11.22.33.0/22` allows 11.22.32.1 to
    ///   11.22.35.254, as "Restricting Access by IP Address" says).
    /// - `ec_country_*`, `ec_ref_*`, `ec_proto_*`: **allow wins over deny**. "If a
    ///   country/region code is present in both ... the `ec_country_allow` parameter takes
    ///   precedence", and the same for referrers and protocols (Azure CDN token-auth page;
    ///   "Restricting Access by Protocol"). A value in the allow list passes; otherwise a
    ///   value in the deny list is refused by the deny rule, and a non-empty allow list
    ///   refuses everything else. An unknown country passes a deny list and fails an allow
    ///   list.
    /// - `ec_url_allow`: a prefix of the path, the query string ignored ("Query strings are
    ///   ignored by this parameter", "Restricting Access by URL"), case-sensitive unless
    ///   [`EdgeRequest::ignore_url_case`]; a path with `.` or `..` segments fails it.
    /// - `ec_host_*` (case-insensitive; `*.example.com` matches any subdomain, not
    ///   `example.com` itself, as the "Restricting Access by Host" table shows): deny
    ///   before allow, since the docs give hosts no precedence rule.
    /// - Referrers: `missing` (any case) and a blank item match a request without a
    ///   referrer or with a blank one ("Handling Missing or Blank Referrers"); items
    ///   preceded by a space are ignored. `[*.]host` matches the referrer URL's host;
    ///   `[*.]host/path` matches when the referrer without its scheme (`https://`) starts
    ///   with it ("This header value must start with a value defined by this parameter",
    ///   Edgio's Token Auth guide, whose example is `www1.example.com/obj1`). Both compare
    ///   case-sensitively, hosts included, unless [`EdgeRequest::ignore_url_case`].
    ///
    /// Unknown parameters do not take part.
    ///
    /// ```
    /// use fwtoken::{EdgeParams, EdgeProto, EdgeRefusal, EdgeRequest};
    /// use fwtoken::time::macros::datetime;
    /// use std::time::Duration;
    /// let p = EdgeParams::parse("ec_expire=1764000000&ec_url_allow=/videos/&ec_proto_deny=http")?;
    /// let ip = "203.0.113.7".parse().unwrap();
    /// let now = datetime!(2025-11-24 12:00 UTC);
    /// let ok = EdgeRequest::new(now, ip, EdgeProto::Https, "cdn.example.com", "/videos/a.mp4?x=1");
    /// assert_eq!(p.evaluate(&ok, Duration::ZERO), Ok(()));
    /// let plain = EdgeRequest::new(now, ip, EdgeProto::Http, "cdn.example.com", "/videos/a.mp4");
    /// assert_eq!(p.evaluate(&plain, Duration::ZERO), Err(EdgeRefusal::ProtocolDenied));
    /// # Ok::<(), fwtoken::Error>(())
    /// ```
    pub fn evaluate(&self, request: &EdgeRequest<'_>, leeway: Duration) -> Result<(), EdgeRefusal> {
        if let Some(expire) = self.expires_unix() {
            let last = i128::from(expire) + i128::from(leeway.as_secs());
            if i128::from(request.now.unix_timestamp()) > last {
                return Err(EdgeRefusal::Expired);
            }
        }
        if let Some(net) = self.client_ip()
            && !net.contains(request.client_ip)
        {
            return Err(EdgeRefusal::ClientIp);
        }
        allow_wins(
            |c: &CountryCode| request.country == Some(*c),
            self.country_allow(),
            self.country_deny(),
            EdgeRefusal::CountryNotAllowed,
            EdgeRefusal::CountryDenied,
        )?;
        let case = if request.ignore_url_case {
            Case::Ignore
        } else {
            Case::Exact
        };
        if !self.url_allow().is_empty() {
            let path = path_only(request.path);
            let starts = |p: &String| case.starts_with(path, p);
            if has_dot_segment(path) || !self.url_allow().iter().any(starts) {
                return Err(EdgeRefusal::UrlNotAllowed);
            }
        }
        let host = host_only(request.host);
        let host_rule = |h: &String| host_matches(h, host, Case::Ignore);
        if self.host_deny().iter().any(host_rule) {
            return Err(EdgeRefusal::HostDenied);
        }
        if !self.host_allow().is_empty() && !self.host_allow().iter().any(host_rule) {
            return Err(EdgeRefusal::HostNotAllowed);
        }
        let referrer = request.referrer.filter(|r| !r.trim().is_empty());
        allow_wins(
            |rule: &String| referrer_matches(rule, referrer, case),
            self.ref_allow(),
            self.ref_deny(),
            EdgeRefusal::ReferrerNotAllowed,
            EdgeRefusal::ReferrerDenied,
        )?;
        allow_wins(
            |p: &EdgeProto| *p == request.protocol,
            self.proto_allow(),
            self.proto_deny(),
            EdgeRefusal::ProtocolNotAllowed,
            EdgeRefusal::ProtocolDenied,
        )
    }
}

/// One allow/deny pair where allow takes precedence: a match in `allow` passes; else a
/// match in `deny` is `denied`; else a non-empty `allow` is `not_allowed`.
fn allow_wins<T>(
    matches: impl Fn(&T) -> bool,
    allow: &[T],
    deny: &[T],
    not_allowed: EdgeRefusal,
    denied: EdgeRefusal,
) -> Result<(), EdgeRefusal> {
    if allow.iter().any(&matches) {
        Ok(())
    } else if deny.iter().any(&matches) {
        Err(denied)
    } else if allow.is_empty() {
        Ok(())
    } else {
        Err(not_allowed)
    }
}

/// The path without its query string (or a fragment, which a request should not carry).
fn path_only(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or_default()
}

/// True when a segment of the path (before any `?` or `#`) is `.` or `..`, also written
/// with `%2e`.
fn has_dot_segment(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split('/').any(|seg| {
        let mut rest = seg.as_bytes();
        let mut dots = 0;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix(b".") {
                rest = r;
            } else if rest.len() >= 3
                && rest
                    .get(..3)
                    .is_some_and(|p| p.eq_ignore_ascii_case(b"%2e"))
            {
                rest = rest.get(3..).unwrap_or_default();
            } else {
                return false;
            }
            dots += 1;
        }
        (1..=2).contains(&dots)
    })
}

/// The host name without a `:port` suffix or a trailing dot (`[v6]` literals keep their brackets).
fn host_only(host: &str) -> &str {
    let host = if host.starts_with('[') {
        host.find(']').and_then(|i| host.get(..=i)).unwrap_or(host)
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        }
    };
    host.strip_suffix('.').unwrap_or(host)
}

/// How text is compared: exactly, or ignoring ASCII case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    Exact,
    Ignore,
}

impl Case {
    fn eq(self, a: &str, b: &str) -> bool {
        match self {
            Case::Exact => a == b,
            Case::Ignore => a.eq_ignore_ascii_case(b),
        }
    }

    fn starts_with(self, text: &str, prefix: &str) -> bool {
        text.get(..prefix.len())
            .is_some_and(|head| self.eq(head, prefix))
    }
}

/// `pattern` is a host name or `*.suffix` (a wildcard matches one or more labels, never
/// the suffix alone).
fn host_matches(pattern: &str, host: &str, case: Case) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            let Some(cut) = host.len().checked_sub(suffix.len() + 1) else {
                return false;
            };
            cut > 0
                && host.get(cut..cut + 1) == Some(".")
                && host.get(cut + 1..).is_some_and(|s| case.eq(s, suffix))
        }
        None => case.eq(pattern, host),
    }
}

/// A referrer rule against the request's referrer (`None` when there is none or it is
/// blank). A rule preceded by a space matches nothing (the CDN ignores it); a blank rule
/// or `missing` in any case matches only a missing or blank referrer.
///
/// `[*.]host` compares with the referrer URL's host (user info, port and a trailing dot
/// removed); `[*.]host/path` is a prefix of the referrer without its scheme, where a
/// leading `*.` stands for one or more labels of a host name (letters, digits, `-`, `_`
/// and dots: never `/`, `@` or `:`, so it cannot reach past the host).
fn referrer_matches(rule: &str, referrer: Option<&str>, case: Case) -> bool {
    let missing_rule = rule.is_empty() || rule.eq_ignore_ascii_case(MISSING);
    match referrer {
        _ if rule.starts_with(' ') => false,
        None => missing_rule,
        Some(_) if missing_rule => false,
        Some(url) => {
            if !rule.contains('/') {
                return host_matches(rule, split_url(url).0, case);
            }
            let rest = without_scheme(url);
            match rule.strip_prefix("*.") {
                None => case.starts_with(rest, rule),
                // `label(.label)*.` then the rest of the rule.
                Some(tail) => {
                    let labels = rest
                        .bytes()
                        .take_while(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
                        .count();
                    (1..labels).any(|dot| {
                        rest.get(dot..dot + 1) == Some(".")
                            && rest
                                .get(dot + 1..)
                                .is_some_and(|after| case.starts_with(after, tail))
                    })
                }
            }
        }
    }
}

/// The URL without its `scheme://`, when it has one.
fn without_scheme(url: &str) -> &str {
    match url.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            rest
        }
        _ => url,
    }
}

/// The host (without user info, port or trailing dot) and the rest (from the first `/`,
/// `?` or `#`) of a URL, with or without its `scheme://`.
fn split_url(url: &str) -> (&str, &str) {
    let rest = without_scheme(url);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at_checked(end).unwrap_or((rest, ""));
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    (host_only(authority), path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dot_segments() {
        for p in [
            "/a/../b",
            "/a/./b",
            "/..",
            "/a/%2e%2E/b",
            "/a/.%2e",
            "/a/..",
        ] {
            assert!(has_dot_segment(p), "{p}");
        }
        for p in ["/a/b", "/a/...", "/a/.hidden", "/a/b?x=/../", "/", "/a..b"] {
            assert!(!has_dot_segment(p), "{p}");
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(host_only("Example.COM:8443"), "Example.COM");
        assert_eq!(host_only("example.com."), "example.com");
        assert_eq!(host_only("[::1]:443"), "[::1]");
        let i = Case::Ignore;
        assert!(host_matches("*.example.com", "a.b.EXAMPLE.com", i));
        assert!(!host_matches("*.example.com", "example.com", i));
        assert!(!host_matches("*.example.com", "badexample.com", i));
        assert!(!host_matches("*.example.com", ".example.com", i));
        assert!(host_matches("cdn.example.com", "CDN.example.com", i));
        assert!(!host_matches(
            "cdn.example.com",
            "CDN.example.com",
            Case::Exact
        ));
        assert!(!host_matches("*.example.com", "a.EXAMPLE.com", Case::Exact));
        assert!(host_matches(
            "*.example.com",
            "a.B.example.com",
            Case::Exact
        ));
    }

    #[test]
    fn referrers_with_a_path_are_prefixes_of_the_referrer_without_its_scheme() {
        let m = |rule, url, case| referrer_matches(rule, Some(url), case);
        let (e, i) = (Case::Exact, Case::Ignore);
        // Edgio's example: `ec_ref_allow=www1.example.com/obj1,*.server2.example.com`.
        assert!(m(
            "www1.example.com/obj1",
            "https://www1.example.com/obj1",
            e
        ));
        assert!(m(
            "www1.example.com/obj1",
            "http://www1.example.com/obj1/a.html",
            e
        ));
        assert!(m("www1.example.com/obj1", "www1.example.com/obj12", e));
        assert!(!m(
            "www1.example.com/obj1",
            "https://www1.example.com/obj2",
            e
        ));
        assert!(!m(
            "www1.example.com/obj1",
            "https://www1.example.com:443/obj1",
            e
        ));
        assert!(!m(
            "www1.example.com/obj1",
            "https://u@www1.example.com/obj1",
            e
        ));
        assert!(!m(
            "www1.example.com/obj1",
            "https://www1.example.com/Obj1",
            e
        ));
        assert!(m(
            "www1.example.com/obj1",
            "https://WWW1.example.com/OBJ1",
            i
        ));
        assert!(m(
            "*.server2.example.com",
            "https://a.server2.example.com/x",
            e
        ));
        // A wildcard with a path: one or more labels, then the rest of the rule.
        let w = "*.example.com/videos";
        assert!(m(w, "https://www.example.com/videos/1", e));
        assert!(m(w, "https://a.b.example.com/videos", e));
        assert!(!m(w, "https://example.com/videos", e));
        assert!(!m(w, "https://evil.com?.example.com/videos", e));
        assert!(!m(w, "https://evil.com/.example.com/videos", e));
        assert!(!m(w, "https://u@evil.com:.example.com/videos", e));
        assert!(!m(w, "https://www.Example.com/videos", e));
        assert!(m(w, "https://www.Example.com/VIDEOS", i));
        // Hosts: case-sensitive unless ignored.
        assert!(!m("Good.Example.com", "https://good.example.com/", e));
        assert!(m("Good.Example.com", "https://good.example.com/", i));
    }

    #[test]
    fn urls() {
        assert_eq!(
            split_url("https://user@www.example.com:8080/a/b?q"),
            ("www.example.com", "/a/b?q")
        );
        assert_eq!(split_url("www.example.com"), ("www.example.com", ""));
        assert_eq!(split_url("http://example.com?x"), ("example.com", "?x"));
    }
}
