//! Cache links: determinism, bucket rounding, rotation, client binding, tamper resistance,
//! purpose separation, paths and the size bound.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fwtoken::time::{OffsetDateTime, macros::datetime};
use fwtoken::{
    ApiPolicy, ApiToken, ApiTokenRequest, BoundedStr, CacheLink, CacheLinkSigner, Error, IpNetwork,
    KeyRing, KeySlot, MAX_CACHE_TOKEN_CHARS, Secret,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const DAY: Duration = Duration::from_secs(86_400);

fn ring_of(text: &str) -> KeyRing {
    KeyRing::new(Secret::from_text(text).unwrap())
}

fn site() -> KeyRing {
    ring_of("the site encryption secret, before rotation")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A 60-byte asset path.
const PATH_60: &str = "/archives/5000-photos/2026/11/harbour-at-dawn-0042-final.tif";

/// The typical link of the size bound: a 60-byte path, width, height, format, quality, expiry.
fn typical(now: OffsetDateTime) -> CacheLink {
    CacheLink::new(PATH_60)
        .width(1600)
        .height(1200)
        .format("jpg")
        .quality(85)
        .expires_in(now, DAY)
        .unwrap()
}

#[test]
fn the_typical_path_is_60_bytes() {
    assert_eq!(PATH_60.len(), 60);
}

#[test]
fn equal_links_give_equal_tokens_and_any_change_gives_another() {
    let ring = site();
    let signer = CacheLinkSigner::new(&ring);
    let now = datetime!(2026-11-24 10:17:00 UTC);
    let base = typical(now)
        .client("192.0.2.0/24".parse().unwrap())
        .tag("page-7");
    let token = signer.sign(&base, now).unwrap();
    assert_eq!(signer.sign(&base.clone(), now).unwrap(), token);

    let variants = [
        {
            let mut l = base.clone();
            l.path = format!("{PATH_60}x");
            l
        },
        {
            let mut l = base.clone();
            l.width = Some(1601);
            l
        },
        {
            let mut l = base.clone();
            l.width = None;
            l
        },
        {
            let mut l = base.clone();
            l.height = Some(1199);
            l
        },
        {
            let mut l = base.clone();
            l.height = None;
            l
        },
        {
            let mut l = base.clone();
            l.format = Some(BoundedStr::new("png").unwrap());
            l
        },
        {
            let mut l = base.clone();
            l.format = None;
            l
        },
        {
            let mut l = base.clone();
            l.quality = Some(86);
            l
        },
        {
            let mut l = base.clone();
            l.quality = None;
            l
        },
        {
            let mut l = base.clone();
            l.expires = Some(base.expires.unwrap() + Duration::from_secs(3600));
            l
        },
        {
            let mut l = base.clone();
            l.expires = None;
            l
        },
        {
            let mut l = base.clone();
            l.client = Some("192.0.3.0/24".parse().unwrap());
            l
        },
        {
            let mut l = base.clone();
            l.client = Some("192.0.2.0/25".parse().unwrap());
            l
        },
        {
            let mut l = base.clone();
            l.client = None;
            l
        },
        {
            let mut l = base.clone();
            l.tag = Some(BoundedStr::new("page-8").unwrap());
            l
        },
        {
            let mut l = base.clone();
            l.tag = None;
            l
        },
    ];
    let mut tokens = vec![token.clone()];
    for v in &variants {
        assert_ne!(v, &base);
        let t = signer.sign(v, now).unwrap();
        assert_eq!(signer.sign(v, now).unwrap(), t, "deterministic for {v:?}");
        tokens.push(t);
    }
    let distinct: std::collections::BTreeSet<_> = tokens.iter().collect();
    assert_eq!(
        distinct.len(),
        tokens.len(),
        "every change gives a token of its own"
    );

    // Another secret gives another token for the same link.
    let other = ring_of("another site's encryption secret");
    assert_ne!(
        CacheLinkSigner::new(&other).sign(&base, now).unwrap(),
        token
    );
    // Borrowed, owned and shared rings sign alike.
    assert_eq!(
        CacheLinkSigner::new(ring.clone()).sign(&base, now).unwrap(),
        token
    );
    assert_eq!(
        CacheLinkSigner::new(Arc::new(ring.clone()))
            .sign(&base, now)
            .unwrap(),
        token
    );
}

#[test]
fn expiry_is_rounded_up_to_the_end_of_its_bucket() {
    let ring = site();
    let signer = CacheLinkSigner::new(&ring);
    assert_eq!(signer.bucket_size(), Duration::from_secs(3600));
    let sign_at = |now: OffsetDateTime| signer.sign(&typical(now), now).unwrap();

    // Buckets are (10:00, 11:00], (11:00, 12:00], ...: a one-day link signed at any time
    // of one bucket gives one token ...
    let first = sign_at(datetime!(2026-11-24 10:00:01 UTC));
    assert_eq!(sign_at(datetime!(2026-11-24 10:31:07 UTC)), first);
    assert_eq!(sign_at(datetime!(2026-11-24 10:59:59.999 UTC)), first);
    assert_eq!(sign_at(datetime!(2026-11-24 11:00:00 UTC)), first);
    // ... the next bucket gives another, and so does the previous one.
    let next = sign_at(datetime!(2026-11-24 11:00:01 UTC));
    assert_ne!(next, first);
    assert_ne!(sign_at(datetime!(2026-11-24 10:00:00 UTC)), first);

    // The rounded time is what the token claims.
    let now = datetime!(2026-11-24 10:59:00 UTC);
    let opened = signer.open(&first, now, None).unwrap();
    assert_eq!(opened.expires, Some(datetime!(2026-11-25 11:00:00 UTC)));
    assert_eq!(
        signer.open(&next, now, None).unwrap().expires,
        Some(datetime!(2026-11-25 12:00:00 UTC))
    );
    // Rounding is idempotent: an expiry on a boundary stays; a fraction of a second rounds up.
    let round = |t: OffsetDateTime| signer.round_expiry(t).unwrap();
    assert_eq!(
        round(datetime!(2026-11-25 10:00:00 UTC)),
        datetime!(2026-11-25 10:00:00 UTC)
    );
    assert_eq!(
        round(datetime!(2026-11-25 10:00:00.001 UTC)),
        datetime!(2026-11-25 11:00:00 UTC)
    );
    assert_eq!(
        round(datetime!(2026-11-25 10:59:59 UTC)),
        datetime!(2026-11-25 11:00:00 UTC)
    );
    // So re-signing an opened link gives the same token.
    assert_eq!(signer.sign(&opened.into_inner(), now).unwrap(), first);

    // A link without expiry does not depend on the signing time at all.
    let forever = CacheLink::new(PATH_60).format("webp");
    let a = signer
        .sign(&forever, datetime!(2026-11-24 10:00:00 UTC))
        .unwrap();
    assert_eq!(
        signer
            .sign(&forever, datetime!(2031-02-03 04:05:06 UTC))
            .unwrap(),
        a
    );
    assert_eq!(
        signer
            .open(&a, datetime!(2040-01-01 00:00:00 UTC), None)
            .unwrap()
            .expires,
        None
    );

    // A settable bucket.
    let quarter = CacheLinkSigner::new(&ring)
        .bucket(Duration::from_secs(900))
        .unwrap();
    let t1 = datetime!(2026-11-24 10:15:01 UTC);
    let t2 = datetime!(2026-11-24 10:30:00 UTC);
    let t3 = datetime!(2026-11-24 10:30:01 UTC);
    let q1 = quarter.sign(&typical(t1), t1).unwrap();
    assert_eq!(quarter.sign(&typical(t2), t2).unwrap(), q1);
    assert_ne!(quarter.sign(&typical(t3), t3).unwrap(), q1);
    assert_eq!(
        quarter.open(&q1, t2, None).unwrap().expires,
        Some(datetime!(2026-11-25 10:30:00 UTC))
    );

    for bad in [
        Duration::ZERO,
        Duration::from_millis(1500),
        Duration::from_secs(367 * 86_400),
    ] {
        assert!(
            matches!(
                CacheLinkSigner::new(&ring).bucket(bad),
                Err(Error::InvalidDuration(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn expired_links_are_refused_after_the_leeway() {
    let ring = site();
    let signer = CacheLinkSigner::new(&ring);
    assert_eq!(signer.leeway_duration(), Duration::from_secs(60));
    let now = datetime!(2026-11-24 10:17:00 UTC);
    let link = CacheLink::new("/a.tif").expires(datetime!(2026-11-24 10:30:00 UTC));
    let token = signer.sign(&link, now).unwrap();
    let end = datetime!(2026-11-24 11:00:00 UTC);
    assert!(signer.open(&token, end, None).is_ok());
    assert!(
        signer
            .open(&token, end + Duration::from_secs(60), None)
            .is_ok()
    );
    let late = end + Duration::from_secs(61);
    assert_eq!(
        signer.open(&token, late, None).unwrap_err(),
        Error::Expired { expired_at: end }
    );
    let strict = CacheLinkSigner::new(&ring).leeway(Duration::ZERO);
    assert_eq!(
        strict
            .open(&token, end + Duration::from_secs(1), None)
            .unwrap_err(),
        Error::Expired { expired_at: end }
    );

    // Signing a link that has already expired is refused.
    assert_eq!(
        signer.sign(&link, datetime!(2026-11-24 10:30:00 UTC)),
        Err(Error::InvalidTime("expiry is not after now"))
    );
    // So is an expiry past year 9999 once rounded, and a time before 1970.
    let far = CacheLink::new("/a.tif").expires(datetime!(9999-12-31 23:30:00 UTC));
    assert_eq!(
        signer.sign(&far, now),
        Err(Error::InvalidTime("timestamp out of range"))
    );
    assert!(matches!(
        signer.sign(&link, datetime!(1969-12-31 23:59:59 UTC)),
        Err(Error::InvalidTime(_))
    ));
}

#[test]
fn rotation_end_to_end() {
    let now = datetime!(2026-11-24 10:17:00 UTC);
    let link = typical(now);
    let before = site();
    let old_token = CacheLinkSigner::new(&before).sign(&link, now).unwrap();
    let opened = CacheLinkSigner::new(&before)
        .open(&old_token, now, None)
        .unwrap();
    assert_eq!(opened.slot(), KeySlot::Primary);
    assert!(!opened.needs_reissue());

    // Rotate: the old link still opens, through the backup, and asks to be re-issued.
    let rotated = before
        .rotate(Secret::from_text("the new site encryption secret").unwrap())
        .unwrap();
    let signer = CacheLinkSigner::new(&rotated);
    let opened = signer.open(&old_token, now, None).unwrap();
    assert_eq!(opened.slot(), KeySlot::Backup);
    assert!(opened.needs_reissue());
    assert_eq!(opened.path, PATH_60);
    assert_eq!(
        (opened.width, opened.height, opened.quality),
        (Some(1600), Some(1200), Some(85))
    );
    assert_eq!(opened.format.as_deref(), Some("jpg"));

    // Re-issuing gives a new URL under the primary.
    let new_token = signer.sign(&opened.into_inner(), now).unwrap();
    assert_ne!(new_token, old_token);
    let reopened = signer.open(&new_token, now, None).unwrap();
    assert_eq!(reopened.slot(), KeySlot::Primary);
    assert!(!reopened.needs_reissue());

    // Retire the backup: the old link is refused, the new one still opens.
    let retired = rotated.retire_backup();
    let signer = CacheLinkSigner::new(&retired);
    assert_eq!(
        signer.open(&old_token, now, None).unwrap_err(),
        Error::InvalidSignature
    );
    assert_eq!(
        signer.open(&new_token, now, None).unwrap().slot(),
        KeySlot::Primary
    );
}

#[test]
fn client_binding_ipv4_ipv6_and_networks() {
    let ring = site();
    let signer = CacheLinkSigner::new(&ring);
    let now = datetime!(2026-11-24 10:17:00 UTC);
    let bound = |net: &str| {
        signer
            .sign(&CacheLink::new("/a.tif").client(net.parse().unwrap()), now)
            .unwrap()
    };
    let open = |token: &str, client: Option<&str>| signer.open(token, now, client.map(ip));

    // One IPv4 address.
    let v4 = bound("198.51.100.7");
    let opened = open(&v4, Some("198.51.100.7")).unwrap();
    assert_eq!(opened.client, Some(IpNetwork::host(ip("198.51.100.7"))));
    assert!(
        open(&v4, Some("::ffff:198.51.100.7")).is_ok(),
        "IPv4-mapped IPv6 is the IPv4 client"
    );
    assert_eq!(
        open(&v4, Some("198.51.100.8")).unwrap_err(),
        Error::ClientNotAllowed
    );
    assert_eq!(
        open(&v4, Some("::198.51.100.7")).unwrap_err(),
        Error::ClientNotAllowed
    );
    assert_eq!(open(&v4, None).unwrap_err(), Error::ClientNotAllowed);

    // One IPv6 address.
    let v6 = bound("2001:db8:85a3::8a2e:370:7334");
    assert!(open(&v6, Some("2001:db8:85a3::8a2e:370:7334")).is_ok());
    assert_eq!(
        open(&v6, Some("2001:db8:85a3::8a2e:370:7335")).unwrap_err(),
        Error::ClientNotAllowed
    );
    assert_eq!(
        open(&v6, Some("198.51.100.7")).unwrap_err(),
        Error::ClientNotAllowed
    );
    assert_eq!(open(&v6, None).unwrap_err(), Error::ClientNotAllowed);

    // Networks.
    let net4 = bound("203.0.113.0/24");
    for inside in [
        "203.0.113.0",
        "203.0.113.1",
        "203.0.113.255",
        "::ffff:203.0.113.9",
    ] {
        assert!(open(&net4, Some(inside)).is_ok(), "{inside}");
    }
    for outside in ["203.0.112.255", "203.0.114.0", "2001:db8::1"] {
        assert_eq!(
            open(&net4, Some(outside)).unwrap_err(),
            Error::ClientNotAllowed,
            "{outside}"
        );
    }
    let net6 = bound("2001:db8:1234::/48");
    assert!(open(&net6, Some("2001:db8:1234:ffff:ffff:ffff:ffff:ffff")).is_ok());
    assert!(open(&net6, Some("2001:db8:1234::1")).is_ok());
    assert_eq!(
        open(&net6, Some("2001:db8:1235::1")).unwrap_err(),
        Error::ClientNotAllowed
    );
    let any4 = bound("0.0.0.0/0");
    assert!(open(&any4, Some("8.8.8.8")).is_ok());
    assert_eq!(
        open(&any4, Some("2001:db8::1")).unwrap_err(),
        Error::ClientNotAllowed
    );
    // An IPv4-mapped IPv6 network is stored as the IPv4 network: same token.
    assert_eq!(bound("::ffff:203.0.113.0/120"), net4);

    // A link that is not bound ignores the client address.
    let free = signer.sign(&CacheLink::new("/a.tif"), now).unwrap();
    assert!(open(&free, None).is_ok());
    assert!(open(&free, Some("2001:db8::1")).is_ok());
}

#[test]
fn ip_networks_are_strict() {
    let net: IpNetwork = "10.20.0.0/16".parse().unwrap();
    assert_eq!((net.addr(), net.prefix_len()), (ip("10.20.0.0"), 16));
    assert_eq!(net.to_string(), "10.20.0.0/16");
    assert_eq!(
        "2001:db8::/32".parse::<IpNetwork>().unwrap().to_string(),
        "2001:db8::/32"
    );
    assert_eq!(
        "::ffff:10.0.0.0/104"
            .parse::<IpNetwork>()
            .unwrap()
            .to_string(),
        "10.0.0.0/8"
    );
    assert_eq!(
        "::ffff:10.0.0.1".parse::<IpNetwork>().unwrap().to_string(),
        "10.0.0.1/32"
    );
    assert_eq!(IpNetwork::new(ip("::"), 0).unwrap().to_string(), "::/0");
    for bad in [
        "",
        "10.20.0.1/16",
        "10.0.0.0/33",
        "::/129",
        "::1/64",
        "10.0.0.0/",
        "10.0.0.0/08",
        "10.0.0.0/+8",
        "10.0.0.0/ 8",
        "10.0.0.0/8/8",
        "10.0.0",
        "fe80::1%eth0",
        "localhost",
        "10.0.0.0/1000",
    ] {
        assert!(bad.parse::<IpNetwork>().is_err(), "{bad:?}");
    }
    assert_eq!(
        IpNetwork::new(ip("10.0.0.1"), 8),
        Err(Error::InvalidArgument(
            "network address has bits set past the prefix length"
        ))
    );
    assert_eq!(
        IpNetwork::new(ip("::"), 129),
        Err(Error::InvalidArgument("IPv6 prefix length above 128"))
    );
    assert_eq!(
        IpNetwork::new(ip("::ffff:0.0.0.0"), 129),
        Err(Error::InvalidArgument("IPv6 prefix length above 128"))
    );
    assert!(matches!(
        "1".repeat(65).parse::<IpNetwork>(),
        Err(Error::TooLong { max: 64 })
    ));
}

#[test]
fn every_single_byte_change_is_refused() {
    let ring = site();
    let signer = CacheLinkSigner::new(&ring);
    let now = datetime!(2026-11-24 10:17:00 UTC);
    let link = typical(now)
        .client("192.0.2.0/24".parse().unwrap())
        .tag("t");
    let token = signer.sign(&link, now).unwrap();
    let client = Some(ip("192.0.2.1"));
    assert!(signer.open(&token, now, client).is_ok());
    let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
    for i in 0..raw.len() {
        for delta in 1..=255u8 {
            let mut m = raw.clone();
            m[i] ^= delta;
            let err = signer
                .open(&URL_SAFE_NO_PAD.encode(&m), now, client)
                .unwrap_err();
            let expected = match i {
                0 => Error::Malformed("unsupported version"),
                1 => Error::WrongPurpose,
                _ => Error::InvalidSignature,
            };
            assert_eq!(err, expected, "byte {i} ^ {delta:#04x}");
        }
    }
    // Text edits too: every character replaced by every other base64url character.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for i in 0..token.len() {
        for &c in alphabet.iter().filter(|&&c| c != token.as_bytes()[i]) {
            let mut m = token.clone().into_bytes();
            m[i] = c;
            assert!(
                signer
                    .open(std::str::from_utf8(&m).unwrap(), now, client)
                    .is_err(),
                "char {i}"
            );
        }
    }
    // Dropping or adding a character is refused too.
    assert!(signer.open(&token[..token.len() - 1], now, client).is_err());
    assert!(signer.open(&format!("{token}A"), now, client).is_err());
}

fn arb_link() -> impl Strategy<Value = CacheLink> {
    (
        "[^\\p{Cc}]{1,80}",
        proptest::option::of(1u16..=16384),
        proptest::option::of(1u16..=16384),
        proptest::option::of("[a-z0-9]{1,8}"),
        proptest::option::of(1u8..=100),
        proptest::option::of(1u64..=10 * 365 * 86_400),
        proptest::option::of((any::<[u8; 4]>(), 0u8..=32)),
        proptest::option::of(".{1,16}"),
    )
        .prop_map(|(path, width, height, format, quality, ttl, client, tag)| {
            let mut l = CacheLink::new(path);
            l.width = width;
            l.height = height;
            l.format = format.map(|f: String| BoundedStr::new(&f).unwrap());
            l.quality = quality;
            l.expires = ttl.map(|s| datetime!(2026-11-24 10:17:00 UTC) + Duration::from_secs(s));
            l.client = client.map(|(a, len)| {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                IpNetwork::new(
                    IpAddr::from((u32::from_be_bytes(a) & mask).to_be_bytes()),
                    len,
                )
                .unwrap()
            });
            l.tag = tag
                .filter(|t| t.len() <= 64)
                .map(|t: String| BoundedStr::new(&t).unwrap());
            l
        })
}

proptest! {
    #[test]
    fn random_links_round_trip_and_refuse_any_byte_change(link in arb_link(), pos in any::<prop::sample::Index>(), delta in 1u8..=255) {
        let ring = site();
        let signer = CacheLinkSigner::new(&ring);
        let now = datetime!(2026-11-24 10:17:00 UTC);
        let client = link.client.map(|n| n.addr());
        let token = signer.sign(&link, now).unwrap();
        prop_assert!(token.len() <= MAX_CACHE_TOKEN_CHARS);
        let opened = signer.open(&token, now, client).unwrap().into_inner();
        let mut expected = link.clone();
        expected.expires = link.expires.map(|e| signer.round_expiry(e).unwrap());
        prop_assert_eq!(&opened, &expected);
        // Re-signing the opened link gives the same token.
        prop_assert_eq!(signer.sign(&opened, now).unwrap(), token.clone());

        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let i = pos.index(raw.len());
        raw[i] ^= delta;
        prop_assert!(signer.open(&URL_SAFE_NO_PAD.encode(&raw), now, client).is_err());
    }
}

#[test]
fn cache_and_api_tokens_do_not_cross() {
    let ring = site();
    let signer = CacheLinkSigner::new(&ring);
    let now = datetime!(2026-11-24 10:17:00 UTC);
    let cache_token = signer.sign(&typical(now), now).unwrap();
    assert_eq!(
        ApiToken::verify(&ring, &cache_token, now, Duration::from_secs(60)).unwrap_err(),
        Error::WrongPurpose
    );

    let request = ApiTokenRequest::new("alice", "CMS", Duration::from_secs(600));
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let api = ApiToken::issue(&ring, &request, now, &ApiPolicy::new(), &mut rng).unwrap();
    assert!(ApiToken::verify(&ring, &api.token, now, Duration::from_secs(60)).is_ok());
    assert_eq!(
        signer.open(&api.token, now, None).unwrap_err(),
        Error::WrongPurpose
    );
    let api_path = format!("/cache/v1/{}.bin", api.token);
    assert_eq!(
        signer.parse_path(&api_path, now, None).unwrap_err(),
        Error::WrongPurpose
    );

    // A sealed login token is no cache link either.
    let login = fwtoken::LoginToken::builder("alice")
        .issue_sealed(&ring, now, &mut rng)
        .unwrap();
    assert_eq!(
        signer.open(&login, now, None).unwrap_err(),
        Error::WrongPurpose
    );
}

#[test]
fn the_typical_link_fits_in_200_characters() {
    let ring = site();
    let signer = CacheLinkSigner::new(&ring);
    let now = datetime!(2026-11-24 10:17:00 UTC);
    for format in ["jpg", "png", "webp"] {
        let link = {
            let mut l = typical(now);
            l.format = Some(BoundedStr::new(format).unwrap());
            l
        };
        let token = signer.sign(&link, now).unwrap();
        // 19 bytes of fields + 60-byte path = 79-80 bytes of plaintext, one 80-byte
        // ciphertext, 150 bytes in all: 200 characters (the figure in docs/FORMAT.md).
        assert_eq!(token.len(), 200, "{format}");
        let path = signer.path(&link, now).unwrap();
        assert_eq!(path.len(), "/cache/v1/".len() + 200 + 1 + format.len());
    }
}

#[test]
fn paths_round_trip_and_anything_else_is_refused() {
    let ring = site();
    let now = datetime!(2026-11-24 10:17:00 UTC);
    let signer = CacheLinkSigner::new(&ring)
        .prefix("/fotoweb/media")
        .unwrap();
    assert_eq!(signer.path_prefix(), "/fotoweb/media");
    let link = typical(now);
    let token = signer.sign(&link, now).unwrap();
    let path = signer.path(&link, now).unwrap();
    assert_eq!(path, format!("/fotoweb/media/cache/v1/{token}.jpg"));
    let opened = signer.parse_path(&path, now, None).unwrap();
    assert_eq!(
        opened.into_inner(),
        signer.open(&token, now, None).unwrap().into_inner()
    );

    // No format: the `.bin` extension.
    let plain = CacheLink::new(PATH_60);
    let plain_path = signer.path(&plain, now).unwrap();
    assert!(plain_path.ends_with(".bin"));
    assert_eq!(
        signer.parse_path(&plain_path, now, None).unwrap().format,
        None
    );
    // No prefix.
    let bare = CacheLinkSigner::new(&ring);
    assert_eq!(
        bare.path(&link, now).unwrap(),
        format!("/cache/v1/{token}.jpg")
    );
    assert!(
        bare.parse_path(&format!("/cache/v1/{token}.jpg"), now, None)
            .is_ok()
    );

    let not_a_path = Error::Malformed("not a cache-link path");
    let bad_ext = Error::Malformed("not a cache-link extension");
    let cases = [
        (format!("/cache/v1/{token}.jpg"), not_a_path.clone()),
        (format!("/fotoweb/cache/v1/{token}.jpg"), not_a_path.clone()),
        (
            format!("/fotoweb/mediax/cache/v1/{token}.jpg"),
            not_a_path.clone(),
        ),
        (
            format!("fotoweb/media/cache/v1/{token}.jpg"),
            not_a_path.clone(),
        ),
        (
            format!("/fotoweb/media/cache/v2/{token}.jpg"),
            not_a_path.clone(),
        ),
        (
            format!("/fotoweb/media/cache/v1/x/{token}.jpg"),
            not_a_path.clone(),
        ),
        (
            format!("/fotoweb/media/cache/v1//{token}.jpg"),
            not_a_path.clone(),
        ),
        (
            format!("/fotoweb/media/cache/v1/{token}"),
            not_a_path.clone(),
        ),
        (
            format!("/fotoweb/media/cache/v1/{token}/.jpg"),
            not_a_path.clone(),
        ),
        (
            format!("/fotoweb/media/cache/v1/{}%41.jpg", &token[1..]),
            not_a_path.clone(),
        ),
        (
            "/fotoweb/media/cache/v1/.jpg".to_string(),
            not_a_path.clone(),
        ),
        (
            format!("/fotoweb/media/cache/v1/{token}.jpg/x"),
            bad_ext.clone(),
        ),
        (
            format!("/fotoweb/media/cache/v1/{token}.jpg?w=10"),
            bad_ext.clone(),
        ),
        (
            format!("/fotoweb/media/cache/v1/{token}.jpg#x"),
            bad_ext.clone(),
        ),
        (
            format!("/fotoweb/media/cache/v1/{token}.JPG"),
            bad_ext.clone(),
        ),
        (
            format!("/fotoweb/media/cache/v1/{token}.jpg.jpg"),
            bad_ext.clone(),
        ),
        (format!("/fotoweb/media/cache/v1/{token}."), bad_ext.clone()),
        (
            format!("/fotoweb/media/cache/v1/{token}.abcdefghi"),
            bad_ext.clone(),
        ),
        (
            format!("/fotoweb/media/cache/v1/{token}.png"),
            Error::Malformed("extension does not match the link's format"),
        ),
        (
            format!("/fotoweb/media/cache/v1/{token}.bin"),
            Error::Malformed("extension does not match the link's format"),
        ),
    ];
    for (p, err) in cases {
        assert_eq!(signer.parse_path(&p, now, None).unwrap_err(), err, "{p}");
    }
    // A format-less link only opens with `.bin`.
    let wrong = plain_path.replace(".bin", ".jpg");
    assert_eq!(
        signer.parse_path(&wrong, now, None).unwrap_err(),
        Error::Malformed("extension does not match the link's format")
    );
    // The length cap comes before anything else.
    let long = format!(
        "/fotoweb/media/cache/v1/{}.jpg",
        "A".repeat(MAX_CACHE_TOKEN_CHARS + 1)
    );
    assert!(matches!(
        signer.parse_path(&long, now, None),
        Err(Error::TooLong { .. })
    ));
    // Client binding and expiry apply to paths as to tokens.
    let bound = signer
        .path(
            &CacheLink::new("/a.tif").client(IpNetwork::host(ip("192.0.2.1"))),
            now,
        )
        .unwrap();
    assert_eq!(
        signer
            .parse_path(&bound, now, Some(ip("192.0.2.2")))
            .unwrap_err(),
        Error::ClientNotAllowed
    );
    assert!(
        signer
            .parse_path(&bound, now, Some(ip("192.0.2.1")))
            .is_ok()
    );
    assert!(matches!(
        signer.parse_path(&path, now + DAY * 2, None),
        Err(Error::Expired { .. })
    ));
}

#[test]
fn prefixes_are_checked() {
    let ring = site();
    for good in ["", "/a", "/fotoweb/media", "/a-b_c.d~e/x1"] {
        assert_eq!(
            CacheLinkSigner::new(&ring)
                .prefix(good)
                .unwrap()
                .path_prefix(),
            good
        );
    }
    for bad in [
        "a", "/", "/a/", "//a", "/a//b", "/a/./b", "/..", "/a b", "/a?b", "/a%20", "/é",
    ] {
        assert!(
            matches!(
                CacheLinkSigner::new(&ring).prefix(bad),
                Err(Error::InvalidArgument(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        CacheLinkSigner::new(&ring).prefix(&format!("/{}", "a".repeat(256))),
        Err(Error::TooLong { max: 256 })
    ));
}

#[test]
fn invalid_links_are_not_signed() {
    let ring = site();
    let signer = CacheLinkSigner::new(&ring);
    let now = datetime!(2026-11-24 10:17:00 UTC);
    let ok = CacheLink::new("/a.tif");
    let cases = [
        (CacheLink::new(""), "asset path is empty"),
        (
            CacheLink::new("a".repeat(1025)),
            "asset path longer than 1024 bytes",
        ),
        (
            CacheLink::new("/a\nb"),
            "asset path contains a control character",
        ),
        (ok.clone().width(0), "width and height must be 1 to 16384"),
        (
            ok.clone().width(16385),
            "width and height must be 1 to 16384",
        ),
        (ok.clone().height(0), "width and height must be 1 to 16384"),
        (
            ok.clone().height(u16::MAX),
            "width and height must be 1 to 16384",
        ),
        (ok.clone().format(""), "format must be 1 to 8 characters"),
        (
            ok.clone().format("abcdefghi"),
            "format must be 1 to 8 characters",
        ),
        (
            ok.clone().format("JPG"),
            "format must be ASCII lowercase letters and digits",
        ),
        (
            ok.clone().format("j.g"),
            "format must be ASCII lowercase letters and digits",
        ),
        (ok.clone().quality(0), "quality must be 1 to 100"),
        (ok.clone().quality(101), "quality must be 1 to 100"),
        (ok.clone().tag(""), "tag must be 1 to 64 bytes"),
        (ok.clone().tag(&"x".repeat(65)), "tag must be 1 to 64 bytes"),
    ];
    for (link, reason) in cases {
        assert_eq!(
            signer.sign(&link, now),
            Err(Error::InvalidArgument(reason)),
            "{reason}"
        );
    }
    // The limits themselves are fine.
    let max = CacheLink::new("é".repeat(512))
        .width(16384)
        .height(1)
        .format("abcdefgh")
        .quality(100)
        .tag(&"x".repeat(64));
    let token = signer.sign(&max, now).unwrap();
    assert_eq!(signer.open(&token, now, None).unwrap().into_inner(), max);
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    let ring = site();
    let signer = CacheLinkSigner::new(&ring);
    let now = datetime!(2026-11-24 10:17:00 UTC);
    let max_a = "A".repeat(MAX_CACHE_TOKEN_CHARS);
    for token in ["", "A", "====", "not base64!", "é", max_a.as_str()] {
        assert!(signer.open(token, now, None).is_err(), "{token:?}");
    }
    assert!(
        signer
            .open(&"A".repeat(MAX_CACHE_TOKEN_CHARS + 1), now, None)
            .is_err()
    );
    let token = signer.sign(&typical(now), now).unwrap();
    assert!(matches!(
        signer.open(&token, datetime!(1960-01-01 00:00:00 UTC), None),
        Err(Error::InvalidTime(_))
    ));
    // A huge leeway does not overflow.
    assert!(
        CacheLinkSigner::new(&ring)
            .leeway(Duration::MAX)
            .open(&token, datetime!(9999-12-31 23:59:59 UTC), None)
            .is_ok()
    );
}

#[derive(serde::Deserialize)]
struct VectorFile {
    secret: String,
    bucket_secs: u64,
    prefix: String,
    vectors: Vec<Vector>,
}

#[derive(serde::Deserialize)]
struct Vector {
    link: VectorLink,
    expires_at: i64,
    plaintext_hex: String,
    token: String,
    path: String,
}

#[derive(serde::Deserialize)]
struct VectorLink {
    path: String,
    width: Option<u16>,
    height: Option<u16>,
    format: Option<String>,
    quality: Option<u8>,
    expires: Option<i64>,
    client: Option<String>,
    tag: Option<String>,
}

#[test]
fn known_answer_vectors() {
    let file: VectorFile = serde_json::from_str(include_str!("vectors/cachelink-v1.json")).unwrap();
    let ring = ring_of(&file.secret);
    let signer = CacheLinkSigner::new(&ring)
        .bucket(Duration::from_secs(file.bucket_secs))
        .unwrap()
        .prefix(&file.prefix)
        .unwrap();
    let now = datetime!(2026-11-24 10:17:00 UTC);
    assert!(!file.vectors.is_empty());
    for v in &file.vectors {
        let t = |s: i64| OffsetDateTime::from_unix_timestamp(s).unwrap();
        let mut link = CacheLink::new(v.link.path.clone());
        link.width = v.link.width;
        link.height = v.link.height;
        link.format = v
            .link
            .format
            .as_deref()
            .map(|f| BoundedStr::new(f).unwrap());
        link.quality = v.link.quality;
        link.expires = v.link.expires.map(t);
        link.client = v.link.client.as_deref().map(|c| c.parse().unwrap());
        link.tag = v.link.tag.as_deref().map(|t| BoundedStr::new(t).unwrap());
        assert_eq!(signer.sign(&link, now).unwrap(), v.token, "{}", v.link.path);
        assert_eq!(signer.path(&link, now).unwrap(), v.path);
        // The token's length is the envelope's for this plaintext (the plaintext bytes
        // themselves are checked by the unit test `plaintexts_match_the_vectors`).
        let pt_len = v.plaintext_hex.len() / 2;
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&v.token).unwrap().len(),
            70 + (pt_len / 16 + 1) * 16
        );
        let client = link.client.map(|n| n.addr());
        let opened = signer.parse_path(&v.path, now, client).unwrap();
        assert_eq!(opened.slot(), KeySlot::Primary);
        let expected_expiry = (v.expires_at != 0).then(|| t(v.expires_at));
        assert_eq!(opened.into_inner(), {
            let mut l = link;
            l.expires = expected_expiry;
            l
        });
    }
}
