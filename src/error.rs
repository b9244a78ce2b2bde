//! The one error type of the crate.

use time::OffsetDateTime;

/// Everything that can go wrong in fwtoken.
///
/// Configuration and parse errors are detailed and carry a static reason; a failed
/// MAC is the single opaque [`Error::InvalidSignature`], which says nothing about
/// which byte or which key failed. No variant ever carries secret material or the
/// unverified payload of a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not a well-formed token of the expected kind.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The token is longer than the format allows; refused before decoding.
    #[error("input too long: more than {max} bytes")]
    TooLong {
        /// The cap that was exceeded, in bytes (characters for text tokens).
        max: usize,
    },
    /// The token was not made by a key of this ring, or was altered.
    #[error("invalid signature")]
    InvalidSignature,
    /// The token was made for another purpose (a device token presented as an API token, say).
    #[error("token was made for another purpose")]
    WrongPurpose,
    /// The token's validity ended (leeway included) at the given time.
    #[error("token expired at {}", crate::timeutil::rfc3339(*expired_at))]
    Expired {
        /// The token's own expiry (without leeway).
        expired_at: OffsetDateTime,
    },
    /// The token is not valid before the given time (leeway included).
    #[error("token not valid before {}", crate::timeutil::rfc3339(*not_before))]
    NotYetValid {
        /// The token's own start (without leeway).
        not_before: OffsetDateTime,
    },
    /// The token claims a validity window longer than the policy allows.
    #[error("token lifetime exceeds the maximum of {max_secs} s")]
    LifetimeTooLong {
        /// The policy's maximum, in seconds.
        max_secs: u64,
    },
    /// The token names a user that the policy refuses (the site owner, say).
    #[error("user is not allowed to use this kind of token")]
    DeniedUser,
    /// An application name that the policy does not allow.
    #[error("application is not allowed")]
    DeniedApplication,
    /// A secret or key text that breaks a rule (the rule is named, the secret never shown).
    #[error("invalid secret: {0}")]
    InvalidSecret(&'static str),
    /// A key ring would hold the same secret twice.
    #[error("the key ring already holds this secret")]
    DuplicateKey,
    /// A user name that cannot be put in a token.
    #[error("invalid user name: {0}")]
    InvalidUserName(&'static str),
    /// A user name to issue a token for holds a code point that RFC 8265's user names may
    /// not hold (see [`validate_new_user_name`](crate::validate_new_user_name)); the error
    /// names it: `U+2800 is a symbol, not allowed in user names`.
    #[error(
        "invalid user name: U+{:04X} is {class}, not allowed in user names",
        u32::from(*code_point)
    )]
    DisallowedCodePoint {
        /// The code point (of the width-mapped NFC form of the name).
        code_point: char,
        /// Why it is refused.
        class: crate::identity::CodePointClass,
    },
    /// A time or time range that cannot be used (end before start, out of range, before 1970).
    #[error("invalid time: {0}")]
    InvalidTime(&'static str),
    /// A duration that cannot be used (zero, negative, overflowing, calendar units).
    #[error("invalid duration: {0}")]
    InvalidDuration(&'static str),
    /// An argument that breaks a documented rule.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// A cache link bound to a client network was presented without a client address or
    /// from an address outside that network.
    #[error("client address is not allowed to use this link")]
    ClientNotAllowed,
    /// The user already holds the most device tokens a device registry allows.
    #[error("device limit reached: a user may hold at most {max} device tokens")]
    DeviceLimit {
        /// The per-user cap that was reached.
        max: usize,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;
