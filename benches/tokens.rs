//! Criterion benchmarks of every hot path, with peer crates measured in the same groups so
//! each ratio comes from one run. Group and function names are fixed: results are compared
//! across runs by name.
//!
//! ```text
//! cargo bench --bench tokens
//! ```
//!
//! Keys and rings are built once, outside the timed closures (a server builds its ring
//! once). Sealing uses a ChaCha20 generator seeded once: calling the OS generator per token
//! is a system call (about 250 ns) that a server does not need to make.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, InnerIvInit};
use base64::Engine as _;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fwtoken::time::OffsetDateTime;
use fwtoken::{
    ApiPolicy, ApiToken, ApiTokenRequest, CacheLink, CacheLinkSigner, ClientBoundId, DeviceId,
    DeviceToken, EdgeKey, EdgeKeyRing, FernetKey, FernetRing, KeyRing, LoginPolicy, LoginToken,
    Secret,
};
use hmac::{Hmac, KeyInit, Mac};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

const PAYLOAD_64: [u8; 64] = *b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
const EDGE_94: &str = "ec_expire=1700000000&ec_clientip=203.0.113.7&ec_url_allow=/fotoweb/cache/&ec_proto_allow=https";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_764_000_600).unwrap()
}

/// The generator a server would use: ChaCha20 seeded once from the operating system.
/// (Sealing takes the caller's generator; asking the OS for every IV would add a system
/// call, about 250 ns, to every token.)
fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_rng(&mut fwtoken::os_rng())
}

fn secret(t: &str) -> Secret {
    Secret::from_text(t).unwrap()
}

/// A ring of primary plus backup, and a ring holding only the (old) backup.
fn rings() -> (KeyRing, KeyRing) {
    let old = secret("benchmark backup secret, 32 bytes!");
    let ring = KeyRing::new(old.clone())
        .rotate(secret("benchmark primary secret, 32 bytes"))
        .unwrap();
    (ring, KeyRing::new(old))
}

/// The sealed 64-byte payload: a client-bound id (payload = 1 version byte + the id).
fn sealed_id(len: usize) -> String {
    String::from_utf8(PAYLOAD_64.iter().cycle().take(len - 1).copied().collect()).unwrap()
}

const DEVICE: DeviceId = DeviceId::from_bytes([7; 16]);

/// The floor for `sealed_open_64B`: the bare primitives with all set-up done once
/// (base64's run-time selected SIMD engine, as fwtoken uses with `std`).
struct SealedFloor {
    mac: Hmac<Sha256>,
    aes: aes::Aes256,
    b64: base64::engine::Simd,
}

impl SealedFloor {
    fn new(secret_text: &str) -> Self {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"fwtoken/v1"), secret_text.as_bytes());
        let mut okm = [0u8; 96];
        hk.expand(b"fwtoken/v1/image-id", &mut okm).unwrap();
        Self {
            mac: <Hmac<Sha256> as KeyInit>::new_from_slice(&okm[32..64]).unwrap(),
            aes: aes::Aes256::new_from_slice(&okm[..32]).unwrap(),
            b64: base64::engine::Simd::url_safe(base64::engine::general_purpose::NO_PAD),
        }
    }

    /// Decode into a stack buffer, clone the keyed HMAC, compare the tag in constant time,
    /// CBC-decrypt in place.
    fn open(&self, token: &str, context: &[u8]) -> usize {
        let mut buf = [0u8; 384];
        let n = self.b64.decode_slice(token, &mut buf).unwrap();
        let (signed, tag) = buf[..n].split_at_mut(n - 32);
        let mut m = self.mac.clone();
        m.update(signed);
        m.update(context);
        m.update(&(context.len() as u64).to_be_bytes());
        let t: [u8; 32] = m.finalize().into_bytes().into();
        assert!(bool::from(t.ct_eq(&*tag)));
        let (iv, ct) = signed[22..].split_at_mut(16);
        let iv: [u8; 16] = (&*iv).try_into().unwrap();
        cbc::Decryptor::<&aes::Aes256>::inner_iv_init(&self.aes, &iv.into())
            .decrypt_padded::<Pkcs7>(ct)
            .unwrap()
            .len()
    }
}

/// The floor for `fernet_decrypt_64B`.
struct FernetFloor {
    mac: Hmac<Sha256>,
    aes: aes::Aes128,
    b64: base64::engine::Simd,
}

impl FernetFloor {
    fn new(key_b64: &str) -> Self {
        let key = base64::engine::general_purpose::URL_SAFE
            .decode(key_b64)
            .unwrap();
        Self {
            mac: <Hmac<Sha256> as KeyInit>::new_from_slice(&key[..16]).unwrap(),
            aes: aes::Aes128::new_from_slice(&key[16..]).unwrap(),
            b64: base64::engine::Simd::url_safe(base64::engine::general_purpose::PAD),
        }
    }

    fn open(&self, token: &str) -> usize {
        let mut buf = [0u8; 384];
        let n = self.b64.decode_slice(token, &mut buf).unwrap();
        let (signed, tag) = buf[..n].split_at_mut(n - 32);
        let mut m = self.mac.clone();
        m.update(signed);
        let t: [u8; 32] = m.finalize().into_bytes().into();
        assert!(bool::from(t.ct_eq(&*tag)));
        let (iv, ct) = signed[9..].split_at_mut(16);
        let iv: [u8; 16] = (&*iv).try_into().unwrap();
        cbc::Decryptor::<&aes::Aes128>::inner_iv_init(&self.aes, &iv.into())
            .decrypt_padded::<Pkcs7>(ct)
            .unwrap()
            .len()
    }
}

fn fernet(c: &mut Criterion) {
    let mut r = rng();
    let k1 = FernetKey::generate(&mut r);
    let k2 = FernetKey::generate(&mut r);
    let ring = FernetRing::new(k1.clone()).with_backup(k2.clone()).unwrap();
    let backup_only = FernetRing::new(k2.clone());
    let peer1 = fernet::Fernet::new(&k1.expose_base64()).unwrap();
    let peer_multi = fernet::MultiFernet::new(vec![
        fernet::Fernet::new(&k1.expose_base64()).unwrap(),
        fernet::Fernet::new(&k2.expose_base64()).unwrap(),
    ]);
    let floor = FernetFloor::new(&k1.expose_base64());
    let token = ring.encrypt(&PAYLOAD_64, now(), &mut r).unwrap();
    assert_eq!(peer1.decrypt(&token).unwrap(), PAYLOAD_64);
    let backup_token = backup_only.encrypt(&PAYLOAD_64, now(), &mut r).unwrap();

    let mut g = c.benchmark_group("fernet_decrypt_64B");
    g.bench_function("fwtoken", |b| {
        b.iter(|| ring.decrypt(black_box(&token), now(), None).unwrap())
    });
    g.bench_function("fernet-rs", |b| {
        b.iter(|| peer1.decrypt(black_box(&token)).unwrap())
    });
    g.bench_function("floor", |b| b.iter(|| floor.open(black_box(&token))));
    g.finish();

    let mut g = c.benchmark_group("fernet_decrypt_backup_64B");
    g.bench_function("fwtoken", |b| {
        b.iter(|| ring.decrypt(black_box(&backup_token), now(), None).unwrap())
    });
    g.bench_function("fernet-rs", |b| {
        b.iter(|| peer_multi.decrypt(black_box(&backup_token)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("fernet_encrypt_64B");
    g.bench_function("fwtoken", |b| {
        b.iter(|| ring.encrypt(black_box(&PAYLOAD_64), now(), &mut r).unwrap())
    });
    g.bench_function("fernet-rs", |b| {
        b.iter(|| peer1.encrypt(black_box(&PAYLOAD_64)))
    });
    g.finish();
}

fn edgecast(c: &mut Criterion) {
    let mut r = rng();
    assert_eq!(EDGE_94.len(), 94);
    let key = "EdgeBenchKey2026";
    let ring = EdgeKeyRing::new(EdgeKey::new(key).unwrap());
    let peer = ectoken::Ec3Key::new(key);
    let token = ring.encrypt(EDGE_94, &mut r).unwrap();
    assert_eq!(peer.decrypt(&token).unwrap(), EDGE_94);

    let mut g = c.benchmark_group("edgecast_decrypt_94B");
    g.bench_function("fwtoken", |b| {
        b.iter(|| ring.decrypt(black_box(&token)).unwrap())
    });
    g.bench_function("ectoken", |b| {
        b.iter(|| peer.decrypt(black_box(&token)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("edgecast_encrypt_94B");
    g.bench_function("fwtoken", |b| {
        b.iter(|| ring.encrypt(black_box(EDGE_94), &mut r).unwrap())
    });
    g.bench_function("ectoken", |b| b.iter(|| peer.encrypt(black_box(EDGE_94))));
    g.finish();
}

fn sealed(c: &mut Criterion) {
    let mut r = rng();
    let (ring, backup_only) = rings();
    let id = sealed_id(64);
    let token = ClientBoundId::seal(&ring, &DEVICE, &id, now(), &mut r).unwrap();
    let backup_token = ClientBoundId::seal(&backup_only, &DEVICE, &id, now(), &mut r).unwrap();
    let floor = SealedFloor::new("benchmark primary secret, 32 bytes");
    assert_eq!(floor.open(&token, &DEVICE.to_bytes()), 64);

    let fkey = fernet::Fernet::generate_key();
    let peer_fernet = fernet::Fernet::new(&fkey).unwrap();
    let fernet_token = peer_fernet.encrypt(&PAYLOAD_64);
    let paseto_key =
        pasetors::keys::SymmetricKey::<pasetors::version4::V4>::from(&[9u8; 32]).unwrap();
    let paseto_token =
        pasetors::version4::LocalToken::encrypt(&paseto_key, &PAYLOAD_64, None, None).unwrap();
    let paseto_open = |t: &str| {
        let untrusted =
            pasetors::token::UntrustedToken::<pasetors::Local, pasetors::version4::V4>::try_from(t)
                .unwrap();
        pasetors::version4::LocalToken::decrypt(&paseto_key, &untrusted, None, None).unwrap()
    };
    let branca_key = [5u8; 32];
    let mut branca = branca::Branca::new(&branca_key).unwrap();
    let branca_token = branca.encode(&PAYLOAD_64).unwrap();

    let mut g = c.benchmark_group("sealed_open_64B");
    g.bench_function("fwtoken-primary", |b| {
        b.iter(|| ClientBoundId::open(&ring, &DEVICE, black_box(&token)).unwrap())
    });
    g.bench_function("fwtoken-backup", |b| {
        b.iter(|| ClientBoundId::open(&ring, &DEVICE, black_box(&backup_token)).unwrap())
    });
    g.bench_function("fernet-rs", |b| {
        b.iter(|| peer_fernet.decrypt(black_box(&fernet_token)).unwrap())
    });
    g.bench_function("pasetors-v4-local", |b| {
        b.iter(|| paseto_open(black_box(&paseto_token)))
    });
    g.bench_function("branca", |b| {
        b.iter(|| branca.decode(black_box(&branca_token), 0).unwrap())
    });
    g.bench_function("floor", |b| {
        b.iter(|| floor.open(black_box(&token), &DEVICE.to_bytes()))
    });
    g.finish();

    let mut g = c.benchmark_group("sealed_seal_64B");
    g.bench_function("fwtoken-primary", |b| {
        b.iter(|| ClientBoundId::seal(&ring, &DEVICE, black_box(&id), now(), &mut r).unwrap())
    });
    g.bench_function("fernet-rs", |b| {
        b.iter(|| peer_fernet.encrypt(black_box(&PAYLOAD_64)))
    });
    g.bench_function("pasetors-v4-local", |b| {
        b.iter(|| {
            pasetors::version4::LocalToken::encrypt(&paseto_key, black_box(&PAYLOAD_64), None, None)
                .unwrap()
        })
    });
    g.bench_function("branca", |b| {
        b.iter(|| branca.encode(black_box(&PAYLOAD_64)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("sealed_open_size");
    for size in [16usize, 64, 256, 1024, fwtoken::MAX_CLIENT_ID_LEN + 1] {
        let t = ClientBoundId::seal(&ring, &DEVICE, &sealed_id(size), now(), &mut r).unwrap();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &t, |b, t| {
            b.iter(|| ClientBoundId::open(&ring, &DEVICE, black_box(t)).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sealed_open_threads");
    for threads in [1u64, 2] {
        g.throughput(Throughput::Elements(threads));
        g.bench_function(BenchmarkId::from_parameter(threads), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        s.spawn(|| {
                            for _ in 0..iters {
                                black_box(
                                    ClientBoundId::open(&ring, &DEVICE, black_box(&token)).unwrap(),
                                );
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    g.finish();
}

fn fotoweb(c: &mut Criterion) {
    let mut r = rng();
    let (ring, _) = rings();
    let policy = LoginPolicy::new().deny_user("siteowner");
    let builder = LoginToken::builder("alice@example.com");
    let fw = builder.issue(&ring, now()).unwrap();
    let sealed = builder.issue_sealed(&ring, now(), &mut r).unwrap();

    let mut g = c.benchmark_group("login_verify");
    g.bench_function("fwtoken-fotoweb", |b| {
        b.iter(|| LoginToken::verify(&ring, black_box(&fw), now(), &policy).unwrap())
    });
    // The same without a denied user: what the identity check costs on an ASCII name.
    let no_deny = LoginPolicy::new();
    g.bench_function("fwtoken-fotoweb-no-deny", |b| {
        b.iter(|| LoginToken::verify(&ring, black_box(&fw), now(), &no_deny).unwrap())
    });
    let fw_unicode = LoginToken::builder("J\u{f8}rgen \u{d8}deg\u{e5}rd@example.com")
        .issue(&ring, now())
        .unwrap();
    g.bench_function("fwtoken-fotoweb-non-ascii", |b| {
        b.iter(|| LoginToken::verify(&ring, black_box(&fw_unicode), now(), &policy).unwrap())
    });
    g.bench_function("fwtoken-sealed", |b| {
        b.iter(|| LoginToken::verify(&ring, black_box(&sealed), now(), &policy).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("login_issue");
    g.bench_function("fwtoken-fotoweb", |b| {
        b.iter(|| black_box(&builder).issue(&ring, now()).unwrap())
    });
    g.bench_function("fwtoken-sealed", |b| {
        b.iter(|| {
            black_box(&builder)
                .issue_sealed(&ring, now(), &mut r)
                .unwrap()
        })
    });
    g.finish();

    let request = ApiTokenRequest {
        un: "alice".into(),
        app: "CMS".into(),
        duration: "PT1H".into(),
    };
    let api = ApiToken::issue(&ring, &request, now(), &ApiPolicy::new(), &mut r)
        .unwrap()
        .token;
    let mut g = c.benchmark_group("api_verify");
    g.bench_function("fwtoken", |b| {
        b.iter(|| ApiToken::verify(&ring, black_box(&api), now(), Duration::from_secs(60)).unwrap())
    });
    g.finish();

    let (device, _) = DeviceToken::issue(&ring, "alice", now(), &mut r).unwrap();
    let mut g = c.benchmark_group("device_verify");
    g.bench_function("fwtoken", |b| {
        b.iter(|| DeviceToken::verify(&ring, black_box(&device)).unwrap())
    });
    g.finish();

    let signer = CacheLinkSigner::new(&ring);
    let link = CacheLink::new("/archives/photos/2026/harbour-at-dawn-0042-high-resolution.tif")
        .width(800)
        .height(600)
        .format("jpg")
        .quality(80)
        .expires(now() + Duration::from_secs(86_400));
    let cache = signer.sign(&link, now()).unwrap();
    let mut g = c.benchmark_group("cachelink_open");
    g.bench_function("fwtoken", |b| {
        b.iter(|| signer.open(black_box(&cache), now(), None).unwrap())
    });
    g.finish();
    let mut g = c.benchmark_group("cachelink_sign");
    g.bench_function("fwtoken", |b| {
        b.iter(|| signer.sign(black_box(&link), now()).unwrap())
    });
    g.finish();
}

/// The identity comparison on its own: the skeleton of a name and a refusal check.
fn identity(c: &mut Criterion) {
    let mut g = c.benchmark_group("identity");
    for (label, name) in [
        ("ascii", "Alice.Example@corp.example"),
        ("non-ascii", "J\u{f8}rgen \u{d8}deg\u{e5}rd@corp.example"),
        ("nfd", "O\u{308}mer I\u{307}nan"),
    ] {
        g.bench_function(format!("skeleton-{label}"), |b| {
            b.iter(|| fwtoken::skeleton(black_box(name)))
        });
        g.bench_function(format!("same_account-{label}"), |b| {
            b.iter(|| fwtoken::same_account(black_box(name), black_box("siteowner")))
        });
        // The RFC 8265 check a name passes when a token is issued for it.
        g.bench_function(format!("validate_new_user_name-{label}"), |b| {
            b.iter(|| fwtoken::validate_new_user_name(black_box(name)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = fernet, edgecast, sealed, fotoweb, identity
}
criterion_main!(benches);
