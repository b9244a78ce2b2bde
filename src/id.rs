//! Random 128-bit identifiers shown as 32 lowercase hex characters: device ids and API
//! token ids. They are not secrets (the tokens that carry them are), so `Debug` and
//! `Display` show them.

/// Defines a 16-byte id type with generation, hex `Display`/`FromStr` and a `Debug` that
/// names the type.
macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// 16 random bytes from `rng`.
            pub fn generate(rng: &mut impl rand_core::CryptoRng) -> Self {
                let mut b = [0u8; 16];
                rng.fill_bytes(&mut b);
                Self(b)
            }

            /// From its 16 bytes.
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// Its 16 bytes.
            pub const fn to_bytes(self) -> [u8; 16] {
                self.0
            }

            /// Parses exactly 32 lowercase hex characters (the `Display` form).
            pub fn parse(text: &str) -> $crate::error::Result<Self> {
                $crate::id::parse_hex(text)
                    .map(Self)
                    .ok_or($crate::error::Error::InvalidArgument(concat!(
                        "a ", $what, " is 32 lowercase hex characters"
                    )))
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl core::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                Self::parse(s)
            }
        }
    };
}
pub(crate) use random_id;

/// 32 lowercase hex characters as 16 bytes.
pub(crate) fn parse_hex(text: &str) -> Option<[u8; 16]> {
    let b: &[u8; 32] = text.as_bytes().try_into().ok()?;
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *o = (hex_value(*hi)? << 4) | hex_value(*lo)?;
    }
    Some(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}
