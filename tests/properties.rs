//! The same five properties for every token type, with `proptest`: a round trip gives the
//! value back; any single-bit flip is refused; truncation at every length is refused; a
//! token of one purpose never opens as another; a token from a key outside the ring is
//! refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::time::Duration;

use fwtoken::time::OffsetDateTime;
use fwtoken::{
    ApiPolicy, ApiToken, ApiTokenRequest, CacheLink, CacheLinkSigner, ClientBoundId, DeviceId,
    DeviceToken, EdgeKey, EdgeKeyRing, FernetKey, FernetRing, KeyRing, LoginPolicy, LoginToken,
    Secret,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_764_000_600).unwrap()
}

fn ring(text: &str) -> KeyRing {
    KeyRing::new(Secret::from_text(text).unwrap())
}

const DEVICE: DeviceId = DeviceId::from_bytes([9; 16]);

/// A purpose and "does this token open here".
type Opener<'a> = (&'static str, Box<dyn Fn(&str) -> bool + 'a>);

/// Every envelope-based verifier, by purpose.
fn opens(ring: &KeyRing) -> Vec<Opener<'_>> {
    vec![
        (
            "login",
            Box::new(move |t| {
                LoginToken::verify_sealed(ring, t, now(), &LoginPolicy::new()).is_ok()
            }),
        ),
        (
            "api",
            Box::new(move |t| ApiToken::verify(ring, t, now(), Duration::from_secs(60)).is_ok()),
        ),
        (
            "device",
            Box::new(move |t| DeviceToken::verify(ring, t).is_ok()),
        ),
        (
            "image-id",
            Box::new(move |t| ClientBoundId::open(ring, &DEVICE, t).is_ok()),
        ),
        (
            "cache",
            Box::new(move |t| CacheLinkSigner::new(ring).open(t, now(), None).is_ok()),
        ),
    ]
}

/// One token of each purpose for `user`/`text`, made under `ring`.
fn tokens(ring: &KeyRing, user: &str, text: &str, seed: u64) -> Vec<(&'static str, String)> {
    let mut r = ChaCha20Rng::seed_from_u64(seed);
    let req = ApiTokenRequest {
        un: user.into(),
        app: "app".into(),
        duration: "PT1H".into(),
    };
    vec![
        (
            "login",
            LoginToken::builder(user)
                .issue_sealed(ring, now(), &mut r)
                .unwrap(),
        ),
        (
            "api",
            ApiToken::issue(ring, &req, now(), &ApiPolicy::new(), &mut r)
                .unwrap()
                .token,
        ),
        (
            "device",
            DeviceToken::issue(ring, user, now(), &mut r).unwrap().0,
        ),
        (
            "image-id",
            ClientBoundId::seal(ring, &DEVICE, text, now(), &mut r).unwrap(),
        ),
        (
            "cache",
            CacheLinkSigner::new(ring)
                .sign(&CacheLink::new(text), now())
                .unwrap(),
        ),
    ]
}

fn flip(token: &str, bit: usize) -> Option<String> {
    let mut b = token.as_bytes().to_vec();
    let i = bit / 8 % b.len();
    b[i] ^= 1 << (bit % 8);
    String::from_utf8(b).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn envelope_tokens(user in "[a-zA-Z0-9@._-]{1,32}", text in "[a-zA-Z0-9/._-]{1,64}", seed: u64, bit: usize) {
        let site = ring("the property-test site secret");
        let other = ring("a secret outside the ring");
        let verifiers = opens(&site);
        for (purpose, token) in tokens(&site, &user, &text, seed) {
            for (other_purpose, verify) in &verifiers {
                // Round trip for its own purpose; never opens as another.
                prop_assert_eq!(verify(&token), *other_purpose == purpose, "{} as {}", purpose, other_purpose);
            }
            let own = &verifiers.iter().find(|(p, _)| *p == purpose).unwrap().1;
            if let Some(flipped) = flip(&token, bit) {
                prop_assert!(!own(&flipped), "{} with bit {} flipped", purpose, bit);
            }
            for n in 0..token.len() {
                prop_assert!(!own(&token[..n]), "{} truncated to {}", purpose, n);
            }
        }
        // Made under a key outside the ring: refused by every verifier.
        for (purpose, token) in tokens(&other, &user, &text, seed) {
            for (other_purpose, verify) in &verifiers {
                prop_assert!(!verify(&token), "{} from a foreign key opened as {}", purpose, other_purpose);
            }
        }
    }

    #[test]
    fn round_trips_keep_the_values(user in "[a-zA-Z0-9@._-]{1,32}", text in "[a-zA-Z0-9/._-]{1,64}", seed: u64) {
        let site = ring("the property-test site secret");
        let t = tokens(&site, &user, &text, seed);
        let get = |p: &str| t.iter().find(|(q, _)| *q == p).unwrap().1.clone();
        prop_assert_eq!(LoginToken::verify(&site, &get("login"), now(), &LoginPolicy::new()).unwrap().into_inner().user, user.clone());
        prop_assert_eq!(ApiToken::verify(&site, &get("api"), now(), Duration::ZERO).unwrap().into_inner().user, user.clone());
        prop_assert_eq!(DeviceToken::verify(&site, &get("device")).unwrap().into_inner().user, user.clone());
        prop_assert_eq!(ClientBoundId::open(&site, &DEVICE, &get("image-id")).unwrap().into_inner(), text.clone());
        prop_assert_eq!(CacheLinkSigner::new(&site).open(&get("cache"), now(), None).unwrap().into_inner().path, text);
    }

    #[test]
    fn interop_tokens(plaintext in "[a-zA-Z0-9=&_.,/-]{1,200}", seed: u64, bit: usize) {
        let mut r = ChaCha20Rng::seed_from_u64(seed);
        let edge = EdgeKeyRing::new(EdgeKey::generate(&mut r));
        let edge_other = EdgeKeyRing::new(EdgeKey::generate(&mut r));
        let fernet = FernetRing::new(FernetKey::generate(&mut r));
        let fernet_other = FernetRing::new(FernetKey::generate(&mut r));
        let e = edge.encrypt(&plaintext, &mut r).unwrap();
        let f = fernet.encrypt(plaintext.as_bytes(), now(), &mut r).unwrap();
        prop_assert_eq!(edge.decrypt(&e).unwrap().into_inner(), plaintext.clone());
        prop_assert_eq!(fernet.decrypt(&f, now(), None).unwrap().into_inner().plaintext, plaintext.as_bytes().to_vec());
        prop_assert!(edge_other.decrypt(&e).is_err());
        prop_assert!(fernet_other.decrypt(&f, now(), None).is_err());
        // Edgecast accepts both alphabets and optional padding: a flip that only changes the
        // spelling of the same bytes is not a change, so compare decoded bytes for it.
        if let Some(flipped) = flip(&e, bit) {
            let canon = |t: &str| t.trim_end_matches('=').replace('+', "-").replace('/', "_");
            if canon(&flipped) != canon(&e) {
                prop_assert!(edge.decrypt(&flipped).is_err());
            }
        }
        if let Some(flipped) = flip(&f, bit) {
            prop_assert!(fernet.decrypt(&flipped, now(), None).is_err());
        }
        for n in 0..e.len() {
            prop_assert!(edge.decrypt(&e[..n]).is_err(), "edge truncated to {}", n);
        }
        for n in 0..f.len() {
            prop_assert!(fernet.decrypt(&f[..n], now(), None).is_err(), "fernet truncated to {}", n);
        }
    }
}
