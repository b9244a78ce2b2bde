#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(clippy::mem_forget)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod b64;
mod duration;
mod envelope;
mod error;
mod keyring;
mod login;
mod secret;
mod timeutil;
mod user;

pub use duration::{MAX_DURATION_LEN, format_duration, parse_duration};
pub use error::{Error, Result};
pub use keyring::{KeyRing, KeySlot, Verified};
pub use login::{LoginClaims, LoginFormat, LoginPolicy, LoginToken, LoginTokenBuilder, MAX_FOTOWEB_TOKEN_CHARS, login_url};
pub use secret::{Fingerprint, MAX_SECRET_LEN, Secret};
pub use timeutil::{parse_rfc3339_utc, rfc3339};
pub use user::{MAX_USER_LEN, validate_user_name};

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
