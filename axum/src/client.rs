//! The client's address: the connection's peer, or behind a trusted proxy the last
//! `X-Forwarded-For` entry.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use http::{Extensions, HeaderMap};

use crate::auth::{ClientAddress, FwAuth};
use crate::caller::context;
use crate::refusal::{Refusal, kind};

/// The client's address, as the site is configured to take it
/// ([`FwAuthBuilder::client_address`](crate::FwAuthBuilder::client_address)): the
/// connection's peer, or the last `X-Forwarded-For` entry (the one a trusted proxy
/// appended). An `X-Forwarded-For` that is not an address is refused (400).
///
/// It needs the connection's address in the request (`ConnectInfo<SocketAddr>`, which
/// [`FwAuth::serve`] provides); without it the answer is 500 naming it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Refusal> {
        let ctx = context(parts)?;
        client_ip(ctx.auth(), &parts.extensions, &parts.headers)
            .map(ClientIp)
            .map_err(|kind| match kind {
                kind::MISSING_CONNECT_INFO => Refusal::internal(kind),
                kind => Refusal::bad_request(kind),
            })
    }
}

/// The client's address for a request; `Err` holds the kind.
pub(crate) fn client_ip(
    auth: &FwAuth,
    extensions: &Extensions,
    headers: &HeaderMap,
) -> Result<IpAddr, &'static str> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .ok_or(kind::MISSING_CONNECT_INFO)?;
    match auth.0.client_address {
        ClientAddress::Connection => Ok(peer),
        ClientAddress::LastForwardedFor => forwarded_for(headers).unwrap_or(Ok(peer)),
    }
}

/// The last entry of the last `X-Forwarded-For` header, when there is one.
fn forwarded_for(headers: &HeaderMap) -> Option<Result<IpAddr, &'static str>> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    Some(
        last.to_str()
            .ok()
            .and_then(|text| text.rsplit(',').next())
            .map(str::trim)
            .and_then(|a| a.parse().ok())
            .ok_or(kind::BAD_FORWARDED_FOR),
    )
}

/// True behind a trusted proxy that says the client used HTTPS.
pub(crate) fn forwarded_https(auth: &FwAuth, headers: &HeaderMap) -> bool {
    auth.0.client_address == ClientAddress::LastForwardedFor
        && headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}
