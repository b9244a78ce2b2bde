//! `BoundedStr<N>`: a short string stored inline (no heap), for the small text fields of
//! verified tokens, so that opening a token allocates once at most.

use core::borrow::Borrow;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;
use core::str::FromStr;

use crate::error::{Error, Result};

/// A string of at most `N` bytes (`N` ≤ 255), stored inline.
///
/// It dereferences to `str` and compares with `str`, `&str` and `String`, so it reads like
/// a string; it exists so that a verified token's short fields (an API token's application
/// name, a cache link's format and tag) need no heap allocation.
///
/// ```
/// use fwtoken::BoundedStr;
/// let app: BoundedStr<16> = BoundedStr::new("CMS")?;
/// assert_eq!(app, "CMS");
/// assert_eq!(app.len(), 3);
/// assert!(BoundedStr::<2>::new("CMS").is_err());
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct BoundedStr<const N: usize> {
    len: u8,
    buf: [u8; N],
}

impl<const N: usize> BoundedStr<N> {
    /// Copies `s`; fails with [`Error::TooLong`] when it is longer than `N` bytes.
    pub fn new(s: &str) -> Result<Self> {
        const { assert!(N <= 255, "BoundedStr holds at most 255 bytes") };
        let mut buf = [0u8; N];
        let len = u8::try_from(s.len()).map_err(|_| Error::TooLong { max: N })?;
        buf.get_mut(..s.len())
            .ok_or(Error::TooLong { max: N })?
            .copy_from_slice(s.as_bytes());
        Ok(Self { len, buf })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        let bytes = self.buf.get(..usize::from(self.len)).unwrap_or_default();
        // Always valid: the bytes were copied from a `str` in `new`.
        core::str::from_utf8(bytes).unwrap_or_default()
    }
}

impl<const N: usize> Deref for BoundedStr<N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> AsRef<str> for BoundedStr<N> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> Borrow<str> for BoundedStr<N> {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> fmt::Debug for BoundedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for BoundedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> PartialEq for BoundedStr<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<const N: usize> Eq for BoundedStr<N> {}

impl<const N: usize> PartialOrd for BoundedStr<N> {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<const N: usize> Ord for BoundedStr<N> {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl<const N: usize> Hash for BoundedStr<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl<const N: usize> PartialEq<str> for BoundedStr<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for BoundedStr<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<const N: usize> PartialEq<alloc::string::String> for BoundedStr<N> {
    fn eq(&self, other: &alloc::string::String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<const N: usize> PartialEq<BoundedStr<N>> for &str {
    fn eq(&self, other: &BoundedStr<N>) -> bool {
        *self == other.as_str()
    }
}

impl<const N: usize> TryFrom<&str> for BoundedStr<N> {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl<const N: usize> FromStr for BoundedStr<N> {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

#[cfg(feature = "serde")]
impl<const N: usize> serde::Serialize for BoundedStr<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de, const N: usize> serde::Deserialize<'de> for BoundedStr<N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct Visitor<const M: usize>;
        impl<const M: usize> serde::de::Visitor<'_> for Visitor<M> {
            type Value = BoundedStr<M>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a string of at most {M} bytes")
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> core::result::Result<BoundedStr<M>, E> {
                BoundedStr::new(v).map_err(|_| E::invalid_length(v.len(), &self))
            }
        }
        d.deserialize_str(Visitor::<N>)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bounds_and_comparisons() {
        let s = BoundedStr::<8>::new("jpg").unwrap();
        assert_eq!(s, "jpg");
        assert_eq!("jpg", s);
        assert_eq!(&*s, "jpg");
        assert_eq!(format!("{s} {s:?}"), "jpg \"jpg\"");
        assert!(BoundedStr::<8>::new("12345678").is_ok());
        assert_eq!(
            BoundedStr::<8>::new("123456789").unwrap_err(),
            Error::TooLong { max: 8 }
        );
        assert_eq!(
            BoundedStr::<255>::new(&"ø".repeat(128)).unwrap_err(),
            Error::TooLong { max: 255 }
        );
        assert_eq!(BoundedStr::<4>::new("").unwrap().as_str(), "");
    }
}
