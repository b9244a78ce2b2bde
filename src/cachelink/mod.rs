//! Cache links: encrypted, deterministic preview and rendition URLs that survive a key
//! rotation.
//!
//! A [`CacheLink`] says what a link grants (an asset path, an optional rendition, an
//! optional expiry, an optional client network, an optional tag). [`CacheLinkSigner`]
//! seals it into envelope v1 (purpose `cache`) with a synthetic IV, so equal links give
//! equal tokens and caches keep hitting; expiries are rounded up to the end of a bucket
//! so the token stays stable for the whole bucket.
//!
//! Plaintext (all integers big-endian), version 1:
//!
//! ```text
//! version 0x01 | flags (1)
//! | path length (u16, 1..=1024) | path (UTF-8, no control character)
//! [flags & 0x01] width (u16, 1..=16384)
//! [flags & 0x02] height (u16, 1..=16384)
//! [flags & 0x04] format length (u8, 1..=8) | format (ASCII a-z 0-9)
//! [flags & 0x08] quality (u8, 1..=100)
//! [flags & 0x10] IPv4 network: address (4) | prefix length (u8, 0..=32)
//! [flags & 0x20] IPv6 network: address (16) | prefix length (u8, 0..=128)
//! [flags & 0x40] tag length (u8, 1..=64) | tag (UTF-8)
//! ```
//!
//! The expiry is not in the plaintext: it is the envelope's `expires_at` (0 = none), and
//! the envelope's `issued_at` is always 0. The full specification is in `docs/FORMAT.md`.

mod link;
mod signer;

use crate::b64;
use crate::envelope;

pub use link::CacheLink;
pub use signer::CacheLinkSigner;

/// Longest asset path, in bytes.
pub const MAX_ASSET_PATH_LEN: usize = 1024;
/// Largest width or height of a rendition, in pixels.
pub const MAX_DIMENSION: u16 = 16384;
/// Longest rendition format (file extension), in bytes.
pub const MAX_FORMAT_LEN: usize = 8;
/// Longest tag, in bytes.
pub const MAX_TAG_LEN: usize = 64;
/// The extension [`CacheLinkSigner::path`] uses for a link without a format.
pub const NO_FORMAT_EXTENSION: &str = "bin";

/// Version byte of the cache-link plaintext.
const VERSION: u8 = 0x01;
const F_WIDTH: u8 = 0x01;
const F_HEIGHT: u8 = 0x02;
const F_FORMAT: u8 = 0x04;
const F_QUALITY: u8 = 0x08;
const F_CLIENT_V4: u8 = 0x10;
const F_CLIENT_V6: u8 = 0x20;
const F_TAG: u8 = 0x40;
const F_KNOWN: u8 = F_WIDTH | F_HEIGHT | F_FORMAT | F_QUALITY | F_CLIENT_V4 | F_CLIENT_V6 | F_TAG;

/// Largest plaintext: every field present at its maximum size.
const MAX_PLAINTEXT: usize =
    2 + 2 + MAX_ASSET_PATH_LEN + 2 + 2 + 1 + MAX_FORMAT_LEN + 1 + (16 + 1) + 1 + MAX_TAG_LEN;
/// Envelope v1 bytes around the ciphertext: header, IV, tag.
const ENVELOPE_OVERHEAD: usize = envelope::HEADER_LEN + 16 + 32;
/// Longest cache-link token, in characters; checked before decoding.
pub const MAX_CACHE_TOKEN_CHARS: usize =
    b64::encoded_len(ENVELOPE_OVERHEAD + (MAX_PLAINTEXT / 16 + 1) * 16, false);

/// Path segment between the caller's prefix and the token.
const PATH_INFIX: &str = "/cache/v1/";
/// Longest path prefix, in bytes.
pub const MAX_PREFIX_LEN: usize = 256;

const DEFAULT_BUCKET_SECS: u64 = 3600;
const MAX_BUCKET_SECS: u64 = 366 * 86_400;
const DEFAULT_LEEWAY_SECS: u64 = 60;

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::link::{decode, encode};
    use super::signer::NoRng;
    use super::*;
    use crate::bounded::BoundedStr;
    use crate::envelope::{IvMode, Times};
    use crate::error::Error;
    use crate::keyring::{KeyRing, Purpose};
    use crate::net::IpNetwork;
    use crate::payload::Writer;
    use crate::secret::Secret;
    use crate::timeutil::MAX_UNIX;
    use alloc::string::String;
    use alloc::vec::Vec;
    use core::net::Ipv6Addr;
    use time::OffsetDateTime;

    fn ring() -> KeyRing {
        KeyRing::new(Secret::from_text("a secret for the cache-link unit tests").unwrap())
    }

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    /// Seals a hand-made plaintext as the signer would.
    fn seal_raw(ring: &KeyRing, pt: &[u8], issued_at: u64, expires_at: u64) -> String {
        let times = Times {
            issued_at,
            expires_at,
        };
        envelope::seal::<NoRng>(ring, Purpose::Cache, times, pt, &[], IvMode::Deterministic)
            .unwrap()
    }

    /// version, flags, path "/a".
    fn base(flags: u8) -> Vec<u8> {
        vec![VERSION, flags, 0, 2, b'/', b'a']
    }

    #[test]
    fn hand_made_plaintexts_decode_only_when_canonical() {
        let ring = ring();
        let signer = CacheLinkSigner::new(&ring);
        let now = at(1_000);
        let ok = |pt: &[u8]| {
            signer.open(
                &seal_raw(&ring, pt, 0, 0),
                now,
                Some("10.1.2.3".parse().unwrap()),
            )
        };

        // The signer's own encoding of a full link is what the hand-made one says.
        let mut full = base(F_KNOWN & !F_CLIENT_V6);
        full.extend_from_slice(&[
            0x01, 0x00, 0x00, 0x80, 3, b'j', b'p', b'g', 90, 10, 1, 0, 0, 16, 2, b'h', b'i',
        ]);
        let link = ok(&full).unwrap().into_inner();
        let expected = CacheLink::new("/a")
            .width(256)
            .height(128)
            .format("jpg")
            .quality(90)
            .client("10.1.0.0/16".parse().unwrap())
            .tag("hi");
        assert_eq!(link, expected);
        assert_eq!(
            signer.sign(&expected, now).unwrap(),
            seal_raw(&ring, &full, 0, 0)
        );

        let refused: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "truncated cache link"),
            (
                vec![2, 0, 0, 2, b'/', b'a'],
                "unsupported cache-link version",
            ),
            (base(0x80), "unknown cache-link flags"),
            (base(F_CLIENT_V4 | F_CLIENT_V6), "two client networks"),
            (
                [base(0), vec![0]].concat(),
                "trailing bytes after cache link",
            ),
            (vec![VERSION, 0, 0, 0], "asset path is empty"),
            (
                vec![VERSION, 0, 0x04, 0x01],
                "asset path longer than 1024 bytes",
            ),
            (
                vec![VERSION, 0, 0, 2, b'/', 0xff],
                "asset path is not UTF-8",
            ),
            (
                vec![VERSION, 0, 0, 2, b'/', 0x00],
                "asset path contains a control character",
            ),
            (vec![VERSION, 0, 0, 3, b'/', b'a'], "truncated cache link"),
            (
                [base(F_WIDTH), vec![0, 0]].concat(),
                "width and height must be 1 to 16384",
            ),
            (
                [base(F_WIDTH), vec![0x40, 0x01]].concat(),
                "width and height must be 1 to 16384",
            ),
            (
                [base(F_HEIGHT), vec![0xff, 0xff]].concat(),
                "width and height must be 1 to 16384",
            ),
            ([base(F_WIDTH), vec![1]].concat(), "truncated cache link"),
            (
                [base(F_FORMAT), vec![0]].concat(),
                "format must be 1 to 8 characters",
            ),
            (
                [base(F_FORMAT), vec![9], b"abcdefghi".to_vec()].concat(),
                "format must be 1 to 8 characters",
            ),
            (
                [base(F_FORMAT), vec![3], b"JPG".to_vec()].concat(),
                "format must be ASCII lowercase letters and digits",
            ),
            (
                [base(F_QUALITY), vec![0]].concat(),
                "quality must be 1 to 100",
            ),
            (
                [base(F_QUALITY), vec![101]].concat(),
                "quality must be 1 to 100",
            ),
            (
                [base(F_CLIENT_V4), vec![10, 0, 0, 0, 33]].concat(),
                "IPv4 prefix length above 32",
            ),
            (
                [base(F_CLIENT_V4), vec![10, 0, 0, 1, 24]].concat(),
                "network address has bits set past the prefix length",
            ),
            (
                [base(F_CLIENT_V6), vec![0; 16], vec![129]].concat(),
                "IPv6 prefix length above 128",
            ),
            (
                [
                    base(F_CLIENT_V6),
                    "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets().to_vec(),
                    vec![64],
                ]
                .concat(),
                "network address has bits set past the prefix length",
            ),
            (
                [
                    base(F_CLIENT_V6),
                    "::ffff:10.1.2.3"
                        .parse::<Ipv6Addr>()
                        .unwrap()
                        .octets()
                        .to_vec(),
                    vec![128],
                ]
                .concat(),
                "IPv4-mapped network encoded as IPv6",
            ),
            ([base(F_TAG), vec![0]].concat(), "tag must be 1 to 64 bytes"),
            (
                [base(F_TAG), vec![65], vec![b'x'; 65]].concat(),
                "tag must be 1 to 64 bytes",
            ),
            (
                [base(F_TAG), vec![2, 0xc3, 0x28]].concat(),
                "tag is not UTF-8",
            ),
        ];
        for (pt, reason) in refused {
            assert_eq!(ok(&pt).unwrap_err(), Error::Malformed(reason), "{pt:?}");
        }

        // A nonzero issued-at is not what the signer writes.
        let token = seal_raw(&ring, &base(0), 1, 0);
        assert_eq!(
            signer.open(&token, now, None).unwrap_err(),
            Error::Malformed("cache link with a nonzero issued-at")
        );
    }

    #[test]
    fn cache_token_is_not_an_api_token_and_login_token_is_not_a_cache_link() {
        let ring = ring();
        let signer = CacheLinkSigner::new(&ring);
        let now = at(1_000_000);
        let token = signer
            .sign(&CacheLink::new("/a/b.jpg").width(10), now)
            .unwrap();
        for p in [
            Purpose::Api,
            Purpose::Login,
            Purpose::Device,
            Purpose::ImageId,
        ] {
            let err = envelope::open(&ring, p, &token, 1_000_000, 0, &[], |_| Ok(())).unwrap_err();
            assert_eq!(err, Error::WrongPurpose);
        }
        let login = crate::login::LoginToken::builder("alice")
            .issue_sealed(&ring, now, &mut crate::envelope::FixedIv([7; 16]))
            .unwrap();
        assert_eq!(
            signer.open(&login, now, None).unwrap_err(),
            Error::WrongPurpose
        );
    }

    #[test]
    fn max_token_chars_is_the_largest_link() {
        let ring = ring();
        let signer = CacheLinkSigner::new(&ring);
        let link = CacheLink::new("é".repeat(512))
            .width(MAX_DIMENSION)
            .height(MAX_DIMENSION)
            .format("abcdefgh")
            .quality(100)
            .client(IpNetwork::host("2001:db8::1".parse().unwrap()))
            .tag(&"t".repeat(MAX_TAG_LEN))
            .expires(at(MAX_UNIX as i64 - 7200));
        let token = signer.sign(&link, at(0)).unwrap();
        assert_eq!(token.len(), MAX_CACHE_TOKEN_CHARS);
        let opened = signer
            .open(&token, at(0), Some("2001:db8::1".parse().unwrap()))
            .unwrap();
        assert_eq!(opened.path, link.path);
        assert_eq!(opened.expires, Some(at(MAX_UNIX as i64 + 1 - 7200)));
        // Longer input is refused before decoding.
        let long = "A".repeat(MAX_CACHE_TOKEN_CHARS + 1);
        assert_eq!(
            signer.open(&long, at(0), None).unwrap_err(),
            Error::TooLong {
                max: MAX_CACHE_TOKEN_CHARS
            }
        );
    }

    #[test]
    fn plaintexts_match_the_vectors() {
        #[derive(serde::Deserialize)]
        struct File {
            vectors: Vec<V>,
        }
        #[derive(serde::Deserialize)]
        struct V {
            link: L,
            plaintext_hex: String,
        }
        #[derive(serde::Deserialize)]
        struct L {
            path: String,
            width: Option<u16>,
            height: Option<u16>,
            format: Option<String>,
            quality: Option<u8>,
            client: Option<String>,
            tag: Option<String>,
        }
        let file: File =
            serde_json::from_str(include_str!("../../tests/vectors/cachelink-v1.json")).unwrap();
        assert!(!file.vectors.is_empty());
        for v in file.vectors {
            let link = CacheLink {
                path: v.link.path,
                width: v.link.width,
                height: v.link.height,
                format: v.link.format.map(|f| BoundedStr::new(&f).unwrap()),
                quality: v.link.quality,
                expires: None,
                client: v.link.client.map(|c| c.parse().unwrap()),
                tag: v.link.tag.map(|t| BoundedStr::new(&t).unwrap()),
                invalid: None,
            };
            let mut buf = [0u8; MAX_PLAINTEXT];
            let mut out = Writer::new(&mut buf, Error::InvalidArgument("cache link too large"));
            encode(&link, &mut out).unwrap();
            let hex: String = out
                .bytes()
                .iter()
                .map(|b| alloc::format!("{b:02x}"))
                .collect();
            assert_eq!(hex, v.plaintext_hex, "{}", link.path);
            let raw = decode(out.bytes()).unwrap();
            assert_eq!(
                (raw.path, raw.width, raw.client),
                (link.path.as_str(), link.width, link.client)
            );
        }
    }
}
