//! fwtoken-store benches, in one run so the ratios come from one machine state:
//! `is_active` on the core's `MemoryRegistry`, the memory store, SQLite, SQLite + cache,
//! PostgreSQL, PostgreSQL + cache; `register`; `revoke`; and `DeviceToken::verify` alone
//! against verify + a cached check. PostgreSQL groups need `FWTOKEN_TEST_POSTGRES_URL`
//! (they are skipped, with a line saying so, without it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use fwtoken::time::OffsetDateTime;
use fwtoken::{
    DeviceId, DeviceRecord, DeviceRegistry, DeviceToken, KeyRing, MemoryRegistry, Secret,
};
use fwtoken_store::{BlockingStore, DeviceLimit, PostgresConfig, StoreConfig};

const USERS: usize = 1000;

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A device of user `i % USERS` (the stores hold 2000 devices of 1000 users).
fn record(i: usize) -> DeviceRecord {
    fresh(i % USERS)
}

/// A device of user number `user`.
fn fresh(user: usize) -> DeviceRecord {
    DeviceRecord {
        device_id: DeviceId::generate(&mut fwtoken::os_rng()),
        user: format!("bench{user}"),
        issued_at: now(),
    }
}

fn config(cache: bool) -> StoreConfig {
    StoreConfig::new().cache(cache).purge_every(None)
}

fn temp_sqlite() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "fwtoken-store-bench-{}-{}.sqlite3",
        std::process::id(),
        now().unix_timestamp_nanos()
    ))
}

fn pg(cache: bool, schema: &str) -> Option<BlockingStore> {
    let url = std::env::var("FWTOKEN_TEST_POSTGRES_URL").ok()?;
    let cfg = PostgresConfig::new(&url)
        .unwrap()
        .pool_size(4)
        .schema(schema)
        .unwrap();
    Some(BlockingStore::postgres(cfg, config(cache)).unwrap())
}

/// Stores with 2000 active devices; returns one active id.
fn fill(store: &BlockingStore) -> DeviceId {
    let mut last = None;
    for i in 0..2000 {
        let r = record(i);
        store
            .register_device(&r, DeviceLimit::refuse(usize::MAX), r.issued_at)
            .unwrap();
        last = Some(r.device_id);
    }
    last.unwrap()
}

fn benches(c: &mut Criterion) {
    let schema = format!("bench_{}", std::process::id());
    let sqlite_path = temp_sqlite();
    let registry = MemoryRegistry::new();
    let mut reg_id = None;
    for i in 0..2000 {
        let r = record(i);
        registry.register(&r, usize::MAX).unwrap();
        reg_id = Some(r.device_id);
    }
    let reg_id = reg_id.unwrap();

    let memory = BlockingStore::memory(config(false)).unwrap();
    let memory_id = fill(&memory);
    let sqlite = BlockingStore::sqlite(&sqlite_path, config(false)).unwrap();
    let sqlite_id = fill(&sqlite);
    let sqlite_cached = BlockingStore::sqlite(&sqlite_path, config(true)).unwrap();
    let postgres = pg(false, &schema);
    let postgres_cached = pg(true, &schema);
    let postgres_id = postgres.as_ref().map(fill);
    if postgres.is_none() {
        println!("SKIPPED postgres benches: FWTOKEN_TEST_POSTGRES_URL is not set");
    }

    let mut g = c.benchmark_group("is_active");
    g.bench_function("memory_registry", |b| {
        b.iter(|| registry.is_active(black_box(&reg_id)).unwrap())
    });
    g.bench_function("memory", |b| {
        b.iter(|| memory.is_device_active(black_box(&memory_id)).unwrap())
    });
    g.bench_function("sqlite", |b| {
        b.iter(|| sqlite.is_device_active(black_box(&sqlite_id)).unwrap())
    });
    g.bench_function("sqlite_cached", |b| {
        b.iter(|| {
            sqlite_cached
                .is_device_active(black_box(&sqlite_id))
                .unwrap()
        })
    });
    if let (Some(p), Some(pc), Some(id)) = (&postgres, &postgres_cached, postgres_id) {
        g.bench_function("postgres", |b| {
            b.iter(|| p.is_device_active(black_box(&id)).unwrap())
        });
        g.bench_function("postgres_cached", |b| {
            b.iter(|| pc.is_device_active(black_box(&id)).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("register");
    // Each registration for a new user (so the cap check counts a handful of rows).
    let mut n = USERS;
    let mut next = || {
        n += 1;
        fresh(n)
    };
    g.bench_function("memory", |b| {
        b.iter_batched(
            &mut next,
            |r| {
                memory
                    .register_device(&r, DeviceLimit::refuse(5), r.issued_at)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("sqlite", |b| {
        b.iter_batched(
            &mut next,
            |r| {
                sqlite
                    .register_device(&r, DeviceLimit::refuse(5), r.issued_at)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    if let Some(p) = &postgres {
        g.bench_function("postgres", |b| {
            b.iter_batched(
                &mut next,
                |r| {
                    p.register_device(&r, DeviceLimit::refuse(5), r.issued_at)
                        .unwrap()
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("revoke");
    let stores: Vec<(&str, &BlockingStore)> =
        [("memory", Some(&memory)), ("sqlite", Some(&sqlite))]
            .into_iter()
            .chain([("postgres", postgres.as_ref())])
            .filter_map(|(name, s)| s.map(|s| (name, s)))
            .collect();
    for (name, store) in stores {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let r = next();
                    store
                        .register_device(&r, DeviceLimit::refuse(usize::MAX), r.issued_at)
                        .unwrap();
                    r.device_id
                },
                |id| assert!(store.revoke_device(&id, now()).unwrap()),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    // A request's whole device check: the token's MAC and decryption, then the registry.
    let ring = KeyRing::new(Secret::from_text("benchmark primary secret, 32 bytes").unwrap());
    let (token, rec) = DeviceToken::issue(&ring, "alice", now(), &mut fwtoken::os_rng()).unwrap();
    sqlite_cached
        .register_device(&rec, DeviceLimit::refuse(usize::MAX), rec.issued_at)
        .unwrap();
    registry.register(&rec, usize::MAX).unwrap();
    if let Some(pc) = &postgres_cached {
        pc.register_device(&rec, DeviceLimit::refuse(usize::MAX), rec.issued_at)
            .unwrap();
    }
    let mut g = c.benchmark_group("device_check");
    g.bench_function("verify", |b| {
        b.iter(|| DeviceToken::verify(&ring, black_box(&token)).unwrap())
    });
    g.bench_function("verify+memory_registry", |b| {
        b.iter(|| {
            let v = DeviceToken::verify(&ring, black_box(&token)).unwrap();
            assert!(registry.is_active(&v.into_inner().device_id).unwrap());
        })
    });
    g.bench_function("verify+sqlite_cached", |b| {
        b.iter(|| {
            let v = DeviceToken::verify(&ring, black_box(&token)).unwrap();
            assert!(
                sqlite_cached
                    .is_device_active(&v.into_inner().device_id)
                    .unwrap()
            );
        })
    });
    if let Some(pc) = &postgres_cached {
        g.bench_function("verify+postgres_cached", |b| {
            b.iter(|| {
                let v = DeviceToken::verify(&ring, black_box(&token)).unwrap();
                assert!(pc.is_device_active(&v.into_inner().device_id).unwrap());
            })
        });
    }
    g.finish();

    drop((sqlite, sqlite_cached));
    for suffix in ["", "-wal", "-shm"] {
        let mut p = sqlite_path.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

criterion_group! {
    name = store;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(store);
