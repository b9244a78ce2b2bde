#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(clippy::mem_forget)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod api;
mod b64;
mod bounded;
mod cachelink;
mod ct;
mod device;
mod duration;
#[cfg(feature = "edgecast")]
mod edgecast;
mod envelope;
mod error;
#[cfg(feature = "fernet")]
mod fernet;
mod id;
mod identity;
mod keyring;
mod keytext;
mod login;
mod net;
mod payload;
mod secret;
mod timeutil;

pub use api::{
    API_TOKEN_HEADER, API_TOKEN_INFO_MEDIA_TYPE, API_TOKEN_REQUEST_MEDIA_TYPE, ApiClaims, ApiKey,
    ApiPolicy, ApiToken, ApiTokenId, ApiTokenInfo, ApiTokenRecord, ApiTokenRequest,
    MAX_APP_NAME_LEN, api_token_from_headers,
};
pub use bounded::BoundedStr;
pub use cachelink::{
    CacheLink, CacheLinkSigner, MAX_ASSET_PATH_LEN, MAX_CACHE_TOKEN_CHARS, MAX_DIMENSION,
    MAX_FORMAT_LEN, MAX_PREFIX_LEN, MAX_TAG_LEN, NO_FORMAT_EXTENSION,
};
#[cfg(feature = "std")]
pub use device::MemoryRegistry;
pub use device::{
    ClientBoundId, DEFAULT_MAX_DEVICES, DeviceClaims, DeviceId, DevicePolicy, DeviceRecord,
    DeviceRegistry, DeviceToken, MAX_CLIENT_ID_LEN, SESSION_COOKIE_NAME, SameSite, SessionCookie,
};
pub use duration::{MAX_DURATION_LEN, format_duration, parse_duration};
#[cfg(feature = "edgecast")]
pub use edgecast::{
    CountryCode, EdgeKey, EdgeKeyRing, EdgeParams, EdgeParamsBuilder, EdgeProto, EdgeRefusal,
    EdgeRequest, MAX_EDGE_KEY_LEN, MAX_EDGE_PLAINTEXT, MAX_EDGE_TOKEN_CHARS,
};
pub use error::{Error, Result};
#[cfg(feature = "fernet")]
pub use fernet::{
    DEFAULT_FERNET_CLOCK_SKEW, FernetKey, FernetMessage, FernetRing, MAX_FERNET_PLAINTEXT,
    MAX_FERNET_TOKEN_CHARS,
};
pub use identity::{
    CodePointClass, IDENTITY_KEY_VERSION, MAX_USER_LEN, SiteDomains, identity_key, same_account,
    skeleton, validate_new_user_name, validate_user_name,
};
pub use keyring::{KeyRing, KeySlot, Verified};
pub use login::{
    LoginClaims, LoginFormat, LoginPolicy, LoginToken, LoginTokenBuilder, MAX_FOTOWEB_TOKEN_CHARS,
    login_url,
};
pub use net::IpNetwork;
pub use secret::{Fingerprint, MAX_SECRET_LEN, Secret};
pub use timeutil::{parse_rfc3339_utc, rfc3339};

/// Re-export of the `time` crate, whose `OffsetDateTime` every time argument uses.
pub use time;

/// Re-export of `rand_core`, whose `CryptoRng` every randomised call takes.
pub use rand_core;

/// An operating-system random generator (getrandom), for callers who do not bring their own.
///
/// Each call is a system call (about 250 ns); a server sealing many tokens should seed a
/// userspace generator (a ChaCha generator, say) from it once instead. It panics only if
/// the operating system cannot provide randomness at all.
#[cfg(feature = "getrandom")]
pub type OsRng = rand_core::UnwrapErr<getrandom::SysRng>;

/// The [`OsRng`] value.
#[cfg(feature = "getrandom")]
pub const fn os_rng() -> OsRng {
    rand_core::UnwrapErr(getrandom::SysRng)
}
