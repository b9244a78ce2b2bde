//! How fwtoken-store's checks scale with the number of devices and with revocations.
//!
//! ```text
//! cargo run --release -p fwtoken-store --example scale -- --backend sqlite|postgres \
//!     --devices N --checks C --revoke-every R [--working-set W] [--capacity K] \
//!     [--reference-devices M] [--fill-cache] [--min-hit-ratio 0.9] [--min-rate-ratio 0.7]
//! ```
//!
//! Registers N devices (through `import_devices`, one transaction per 1000), measures
//! uncached checks (a store without cache; with `--reference-devices M` against a second
//! database of M devices too, in interleaved rounds, so the ratio comes from one run),
//! then runs C uniformly random checks over the first W devices twice, each time through a
//! fresh `Store` with a cold cache: once without revocations (the baseline), once while
//! another `Store` on the same database revokes one random device every R checks (a
//! bounded channel keeps it in step: one revocation per R checks, never behind). Prints
//! checks/s, the cache hit rate and the store's counters for both, their ratios, the
//! uncached p50/p99 and the database size; `--fill-cache` also checks every device once
//! through one store and prints the memory its cache holds. With `--min-hit-ratio` /
//! `--min-rate-ratio` it exits 1 when a ratio is below the bound.
//!
//! PostgreSQL: `--postgres-url` or `FWTOKEN_TEST_POSTGRES_URL`; the example works in a
//! schema of its own, dropped at the end. SQLite: a file in the temporary directory,
//! removed at the end.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use fwtoken::time::OffsetDateTime;
use fwtoken::{DeviceId, DeviceRecord};
use fwtoken_store::{DeviceLimit, PostgresConfig, Store, StoreConfig, StoreStats};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Checks per second, hit rate and uncached latency of fwtoken-store at a given size.
#[derive(Parser, Debug)]
struct Args {
    /// Which database.
    #[arg(long, value_enum)]
    backend: Backend,
    /// Devices registered (N).
    #[arg(long, default_value_t = 200_000)]
    devices: usize,
    /// Checks per phase (C).
    #[arg(long, default_value_t = 1_000_000)]
    checks: usize,
    /// One revocation every R checks in the second phase (0: none).
    #[arg(long, default_value_t = 1000)]
    revoke_every: usize,
    /// Checks go to the first W devices only (default: all N).
    #[arg(long)]
    working_set: Option<usize>,
    /// The checking store's cache capacity, in answers.
    #[arg(long, default_value_t = fwtoken_store::DEFAULT_CACHE_CAPACITY)]
    capacity: usize,
    /// Also measure uncached checks on a second database of M devices, interleaved.
    #[arg(long)]
    reference_devices: Option<usize>,
    /// Baseline and revocation phases run alternately this many times each (a busy
    /// machine is noisy); the ratios are of the sums.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Uncached checks measured (per database).
    #[arg(long, default_value_t = 10_000)]
    uncached_samples: usize,
    /// Devices per user.
    #[arg(long, default_value_t = 4)]
    per_user: usize,
    /// Also check every device once through one store and report its cache's memory.
    #[arg(long)]
    fill_cache: bool,
    /// Exit 1 when hit rate with revocations / without is below this.
    #[arg(long)]
    min_hit_ratio: Option<f64>,
    /// Exit 1 when checks/s with revocations / without is below this.
    #[arg(long)]
    min_rate_ratio: Option<f64>,
    /// PostgreSQL connection URL.
    #[arg(long, env = "FWTOKEN_TEST_POSTGRES_URL", hide_env_values = true)]
    postgres_url: Option<String>,
}

/// xorshift64*: sampling only.
struct Rand(u64);

impl Rand {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One database the example made, removed when dropped.
enum Db {
    Sqlite(PathBuf),
    Postgres { url: String, schema: String },
}

impl Db {
    fn new(args: &Args, name: &str) -> Self {
        let tag = format!("{name}_{}", std::process::id());
        match args.backend {
            Backend::Sqlite => {
                Db::Sqlite(std::env::temp_dir().join(format!("fwtoken-scale-{tag}.sqlite3")))
            }
            Backend::Postgres => Db::Postgres {
                url: args
                    .postgres_url
                    .clone()
                    .expect("--postgres-url or FWTOKEN_TEST_POSTGRES_URL"),
                schema: format!("fwtoken_scale_{tag}"),
            },
        }
    }

    async fn open(&self, config: StoreConfig) -> Store {
        let config = config.purge_every(None);
        match self {
            Db::Sqlite(path) => Store::sqlite(path, config).await.unwrap(),
            Db::Postgres { url, schema } => {
                let pg = PostgresConfig::new(url).unwrap().schema(schema).unwrap();
                Store::postgres(pg, config).await.unwrap()
            }
        }
    }

    /// Bytes on disk (SQLite: the file and its WAL) or in tables and indexes (PostgreSQL).
    async fn size(&self) -> u64 {
        match self {
            Db::Sqlite(path) => ["", "-wal"]
                .iter()
                .map(|s| {
                    let mut p = path.clone().into_os_string();
                    p.push(s);
                    std::fs::metadata(p).map_or(0, |m| m.len())
                })
                .sum(),
            Db::Postgres { url, schema } => {
                let client = pg_client(url).await;
                let n: i64 = client
                    .query_one(
                        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
                         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = $1 AND c.relkind = 'r'",
                        &[schema],
                    )
                    .await
                    .unwrap()
                    .get(0);
                n.unsigned_abs()
            }
        }
    }

    async fn remove(&self) {
        match self {
            Db::Sqlite(path) => {
                for s in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(s);
                    let _ = std::fs::remove_file(p);
                }
            }
            Db::Postgres { url, schema } => {
                let client = pg_client(url).await;
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
                    .unwrap();
            }
        }
    }
}

async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// N devices of `per_user` each, registered through `import_devices`; their ids.
async fn fill(db: &Db, n: usize, per_user: usize, rng: &mut Rand) -> (Vec<DeviceId>, Duration) {
    let store = db.open(StoreConfig::new().cache(false)).await;
    let now = OffsetDateTime::now_utc();
    let mut ids = Vec::with_capacity(n);
    let started = Instant::now();
    let chunk = 20_000;
    for start in (0..n).step_by(chunk) {
        let records: Vec<DeviceRecord> = (start..(start + chunk).min(n))
            .map(|i| {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&rng.next().to_le_bytes());
                b[8..].copy_from_slice(&rng.next().to_le_bytes());
                DeviceRecord {
                    device_id: DeviceId::from_bytes(b),
                    user: format!("user{}", i / per_user.max(1)),
                    issued_at: now,
                }
            })
            .collect();
        let done = store
            .import_devices(&records, DeviceLimit::refuse(per_user.max(1)), now)
            .await
            .unwrap();
        assert_eq!(done.new, records.len(), "{done:?}");
        ids.extend(records.iter().map(|r| r.device_id));
    }
    (ids, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len().saturating_sub(1)) as f64 * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Times `samples` uncached checks on each database, in interleaved rounds.
async fn uncached(
    dbs: &[(&Db, &[DeviceId])],
    samples: usize,
    rng: &mut Rand,
) -> Vec<Vec<Duration>> {
    let mut stores = Vec::new();
    for (db, _) in dbs {
        stores.push(db.open(StoreConfig::new().cache(false)).await);
    }
    let mut times = vec![Vec::with_capacity(samples); dbs.len()];
    let rounds = 10;
    for _ in 0..rounds {
        for (k, ((_, ids), store)) in dbs.iter().zip(&stores).enumerate() {
            for _ in 0..samples / rounds {
                let id = ids[rng.below(ids.len())];
                let t = Instant::now();
                assert!(store.is_device_active(&id).await.unwrap());
                times[k].push(t.elapsed());
            }
        }
    }
    for t in &mut times {
        t.sort();
    }
    times
}

struct Phase {
    elapsed: Duration,
    stats: StoreStats,
    revocations: usize,
    /// How long the checks waited for the revoker (one revocation queued at most).
    waited: Duration,
    /// Each revocation's time (a durable commit).
    revoke_times: Vec<Duration>,
    /// The time of each check the cache did not answer, and the total of the others.
    miss_times: Vec<Duration>,
    hit_total: Duration,
}

impl Phase {
    fn rate(&self, checks: usize) -> f64 {
        checks as f64 / self.elapsed.as_secs_f64()
    }
}

/// C checks over the working set through a fresh store; one revocation every
/// `revoke_every` checks through another store (0: none).
async fn phase(
    args: &Args,
    db: &Db,
    set: &[DeviceId],
    all: &[DeviceId],
    revoke_every: usize,
    rng: &mut Rand,
) -> Phase {
    let checker = db
        .open(StoreConfig::new().cache_capacity(args.capacity))
        .await;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<DeviceId>(1);
    let revoker = if revoke_every > 0 {
        let store = db.open(StoreConfig::new()).await;
        Some(tokio::spawn(async move {
            let mut times = Vec::new();
            while let Some(id) = rx.recv().await {
                let t = Instant::now();
                store
                    .revoke_device(&id, OffsetDateTime::now_utc())
                    .await
                    .unwrap();
                times.push(t.elapsed());
            }
            times.sort();
            times
        }))
    } else {
        None
    };
    let started = Instant::now();
    let mut waited = Duration::ZERO;
    let (mut miss_times, mut hit_total) = (Vec::new(), Duration::ZERO);
    for i in 0..args.checks {
        let id = set[rng.below(set.len())];
        // A peek (not counted) says whether the check will be a miss.
        let miss = checker.cached_device(&id).is_none();
        let t = Instant::now();
        checker.is_device_active(&id).await.unwrap();
        let took = t.elapsed();
        if miss {
            miss_times.push(took);
        } else {
            hit_total += took;
        }
        if revoke_every > 0 && (i + 1) % revoke_every == 0 {
            let id = all[rng.below(all.len())];
            if let Err(tokio::sync::mpsc::error::TrySendError::Full(id)) = tx.try_send(id) {
                let t = Instant::now();
                tx.send(id).await.unwrap();
                waited += t.elapsed();
            }
        }
    }
    let elapsed = started.elapsed();
    drop(tx);
    let revoke_times = match revoker {
        Some(r) => r.await.unwrap(),
        None => Vec::new(),
    };
    miss_times.sort();
    Phase {
        elapsed,
        stats: checker.stats(),
        revocations: revoke_times.len(),
        waited,
        revoke_times,
        miss_times,
        hit_total,
    }
}

fn vm_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn mb(b: u64) -> f64 {
    b as f64 / 1e6
}

fn print_phase(name: &str, args: &Args, p: &Phase) {
    let s = &p.stats;
    println!(
        "{name:<16} time: {:.2} s in {} misses (p50 {:.1} µs, p99 {:.1} µs), {:.2} s in {} hits ({:.2} µs each)",
        p.miss_times.iter().sum::<Duration>().as_secs_f64(),
        p.miss_times.len(),
        us(percentile(&p.miss_times, 0.5)),
        us(percentile(&p.miss_times, 0.99)),
        p.hit_total.as_secs_f64(),
        s.hits,
        us(p.hit_total) / s.hits.max(1) as f64
    );
    if p.revocations > 0 {
        println!(
            "{name:<16} revocations: p50 {:.2} ms, p99 {:.2} ms each; the checks waited {:.2} s of {:.2} s for the revoker",
            percentile(&p.revoke_times, 0.5).as_secs_f64() * 1e3,
            percentile(&p.revoke_times, 0.99).as_secs_f64() * 1e3,
            p.waited.as_secs_f64(),
            p.elapsed.as_secs_f64()
        );
    }
    println!(
        "{name:<16} {:>9.0} checks/s  hit rate {:>6.2} %  ({} hits, {} misses; {} revocations, {} invalidated, {} full clears, {} evictions, {} cached, {:.1} MB, version {})",
        p.rate(args.checks),
        s.hit_rate() * 100.0,
        s.hits,
        s.misses,
        p.revocations,
        s.invalidated,
        s.full_clears,
        s.evictions,
        s.entries,
        mb(s.memory_bytes),
        s.known_version
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut rng = Rand::new(0x5eed_u64 ^ u64::from(std::process::id()));
    let set_len = args.working_set.unwrap_or(args.devices).min(args.devices);
    println!(
        "fwtoken-store scale: {:?}, {} devices ({} per user), {} checks per phase over {} of them, one revocation every {} checks, cache capacity {}",
        args.backend,
        args.devices,
        args.per_user,
        args.checks,
        set_len,
        args.revoke_every,
        args.capacity
    );
    let db = Db::new(&args, "main");
    let (ids, took) = fill(&db, args.devices, args.per_user, &mut rng).await;
    println!(
        "import_devices: {} devices in {:.1} s ({:.0} devices/s)",
        ids.len(),
        took.as_secs_f64(),
        ids.len() as f64 / took.as_secs_f64()
    );
    let reference = match args.reference_devices {
        Some(m) => {
            let rdb = Db::new(&args, "reference");
            let (rids, _) = fill(&rdb, m, args.per_user, &mut rng).await;
            Some((rdb, rids))
        }
        None => None,
    };
    let mut dbs: Vec<(&Db, &[DeviceId])> = vec![(&db, &ids)];
    if let Some((rdb, rids)) = &reference {
        dbs.push((rdb, rids));
    }
    let times = uncached(&dbs, args.uncached_samples, &mut rng).await;
    let (p50, p99) = (percentile(&times[0], 0.5), percentile(&times[0], 0.99));
    println!(
        "uncached check at {} devices: p50 {:.1} µs, p99 {:.1} µs ({} samples)",
        ids.len(),
        us(p50),
        us(p99),
        times[0].len()
    );
    if let (Some((_, rids)), Some(rt)) = (&reference, times.get(1)) {
        let rp99 = percentile(rt, 0.99);
        println!(
            "uncached check at {} devices: p50 {:.1} µs, p99 {:.1} µs; p99 ratio {}/{}: {:.2}",
            rids.len(),
            us(percentile(rt, 0.5)),
            us(rp99),
            ids.len(),
            rids.len(),
            p99.as_secs_f64() / rp99.as_secs_f64()
        );
    }
    let set = &ids[..set_len];
    let (mut base, mut rev) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds.max(1) {
        let b = phase(&args, &db, set, &ids, 0, &mut rng).await;
        print_phase("no revocations", &args, &b);
        base.push(b);
        let r = phase(&args, &db, set, &ids, args.revoke_every, &mut rng).await;
        print_phase(&format!("1 / {} checks", args.revoke_every), &args, &r);
        rev.push(r);
    }
    let sum = |ps: &[Phase]| {
        let hits: u64 = ps.iter().map(|p| p.stats.hits).sum();
        let misses: u64 = ps.iter().map(|p| p.stats.misses).sum();
        let secs: f64 = ps.iter().map(|p| p.elapsed.as_secs_f64()).sum();
        (
            hits as f64 / (hits + misses).max(1) as f64,
            (ps.len() * args.checks) as f64 / secs,
        )
    };
    let ((base_hits, base_rate), (rev_hits, rev_rate)) = (sum(&base), sum(&rev));
    let hit_ratio = rev_hits / base_hits;
    let rate_ratio = rev_rate / base_rate;
    println!(
        "overall: no revocations {base_rate:.0} checks/s, hit rate {:.2} %; 1 / {} checks {rev_rate:.0} checks/s, hit rate {:.2} %",
        base_hits * 100.0,
        args.revoke_every,
        rev_hits * 100.0
    );
    println!(
        "ratios with / without revocations: hit rate {hit_ratio:.3}, checks/s {rate_ratio:.3}"
    );
    if args.fill_cache {
        let before = vm_rss();
        let store = db
            .open(StoreConfig::new().cache_capacity(args.capacity))
            .await;
        for id in &ids {
            store.is_device_active(id).await.unwrap();
        }
        let s = store.stats();
        let grown = vm_rss().saturating_sub(before);
        println!(
            "cache filled: {} answers, {:.1} MB by the cache's count ({:.1} bytes each), process RSS +{:.1} MB ({:.1} bytes each)",
            s.entries,
            mb(s.memory_bytes),
            s.memory_bytes as f64 / s.entries.max(1) as f64,
            mb(grown),
            grown as f64 / s.entries.max(1) as f64
        );
    }
    println!("database size: {:.1} MB", mb(db.size().await));
    db.remove().await;
    if let Some((rdb, _)) = &reference {
        rdb.remove().await;
    }
    let mut ok = true;
    if let Some(min) = args.min_hit_ratio {
        let pass = hit_ratio >= min;
        println!(
            "budget hit-rate ratio >= {min}: {}",
            if pass { "ok" } else { "FAILED" }
        );
        ok &= pass;
    }
    if let Some(min) = args.min_rate_ratio {
        let pass = rate_ratio >= min;
        println!(
            "budget checks/s ratio >= {min}: {}",
            if pass { "ok" } else { "FAILED" }
        );
        ok &= pass;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
