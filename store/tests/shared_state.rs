//! Several store instances on one database: single-use login tokens, cross-instance
//! freshness (with the `LISTEN` connection killed too), no resurrection over 10^5
//! operations checked against the memory backend, and failing closed while PostgreSQL is
//! unreachable. PostgreSQL cases have `postgres` in their names and print SKIPPED without
//! `FWTOKEN_TEST_POSTGRES_URL`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Db, visible};
use fwtoken::time::OffsetDateTime;
use fwtoken::{DeviceId, DeviceRecord};
use fwtoken_store::{DeviceLimit, PostgresConfig, Store, StoreConfig, StoreError};

fn config() -> StoreConfig {
    StoreConfig::new().purge_every(None)
}

fn dev_id() -> DeviceId {
    DeviceId::generate(&mut fwtoken::os_rng())
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

// ---------------------------------------------------------------------------------------
// Single use: 8 concurrent attempts over two instances, exactly one wins; purged after.

async fn single_use(db: &Db) {
    let stores = [db.open(config()).await, db.open(config()).await];
    for round in 0..20 {
        let token = common::unique(&format!("login-{round}"));
        let t0 = now();
        let expires = t0 + Duration::from_secs(31 * 60);
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (s, token, b) = (stores[i % 2].clone(), token.clone(), Arc::clone(&barrier));
            tasks.push(tokio::spawn(async move {
                b.wait().await;
                s.use_login_token(&token, expires, t0).await.unwrap()
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1, "round {round}: accepted {wins} times");
    }
    // After expiry (and the purge grace), housekeeping deletes the rows: 20 of them.
    let later = now() + Duration::from_secs(31 * 60 + 301);
    assert_eq!(stores[0].purge_expired(later).await.unwrap(), 20);
    assert_eq!(stores[1].purge_expired(later).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_use_memory() {
    single_use(&Db::memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_use_sqlite() {
    single_use(&Db::sqlite("single_use")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_use_postgres() {
    let Some(db) = Db::postgres("single_use_postgres") else {
        return;
    };
    single_use(&db).await;
    db.cleanup().await;
}

// ---------------------------------------------------------------------------------------
// Freshness: revocations through one instance, refused by the others.

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Until `store` refuses `id`, polling its cached check; the time it took.
async fn until_refused(store: &Store, id: DeviceId, since: Instant, limit: Duration) -> Duration {
    loop {
        match store.is_device_active(&id).await {
            Ok(false) => return since.elapsed(),
            Ok(true) => {}
            Err(e) => panic!("check failed: {e}"),
        }
        assert!(since.elapsed() < limit, "still active after {limit:?}");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// 100 revocations through `stores[0]`; the others' times to refuse, sorted.
async fn freshness(stores: &[Store], name: &str) -> Vec<Duration> {
    let t = now();
    let mut ids = Vec::new();
    for i in 0..100 {
        let r = DeviceRecord {
            device_id: dev_id(),
            user: format!("fresh{i}"),
            issued_at: t,
        };
        stores[0]
            .register_device(&r, DeviceLimit::refuse(5), t)
            .await
            .unwrap();
        ids.push(r.device_id);
    }
    for s in stores {
        for id in &ids {
            assert!(s.is_device_active(id).await.unwrap());
        }
    }
    let mut lat = Vec::new();
    for id in ids {
        stores[0].revoke_device(&id, now()).await.unwrap();
        let since = Instant::now();
        let mut waits = Vec::new();
        for s in &stores[1..] {
            let s = s.clone();
            waits.push(tokio::spawn(async move {
                until_refused(&s, id, since, Duration::from_secs(5)).await
            }));
        }
        for w in waits {
            lat.push(w.await.unwrap());
        }
    }
    lat.sort();
    visible(&format!(
        "FIGURE {name}: {} refusals after revocation: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    ));
    lat
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freshness_sqlite_two_instances() {
    let db = Db::sqlite("freshness");
    let stores = [db.open(config()).await, db.open(config()).await];
    let lat = freshness(&stores, "freshness_sqlite_two_instances").await;
    assert!(percentile(&lat, 0.99) <= Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freshness_postgres_three_instances() {
    let Some(db) = Db::postgres("freshness_postgres_three_instances") else {
        return;
    };
    let stores = [
        db.open(config()).await,
        db.open(config()).await,
        db.open(config()).await,
    ];
    let lat = freshness(&stores, "freshness_postgres_three_instances").await;
    assert!(percentile(&lat, 0.99) <= Duration::from_millis(100));
    db.cleanup().await;
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freshness_postgres_listen_connection_killed() {
    let Some(db) = Db::postgres("freshness_postgres_listen_connection_killed") else {
        return;
    };
    let Db::Postgres { url, schema } = &db else {
        unreachable!()
    };
    let t_poll = Duration::from_secs(1);
    let cfg = config().poll_interval(t_poll);
    let (a, b) = (db.open(cfg.clone()).await, db.open(cfg).await);
    let admin = admin(url).await;
    let app = format!("{} {schema}", fwtoken_store::LISTEN_APPLICATION_NAME);
    let mut lat = Vec::new();
    for i in 0..10 {
        let t = now();
        let r = DeviceRecord {
            device_id: dev_id(),
            user: format!("killed{i}"),
            issued_at: t,
        };
        a.register_device(&r, DeviceLimit::refuse(5), t)
            .await
            .unwrap();
        assert!(b.is_device_active(&r.device_id).await.unwrap());
        // Both listeners are (back) up...
        let waiting = Instant::now();
        loop {
            let n: i64 = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                    &[&app],
                )
                .await
                .unwrap()
                .get(0);
            if n == 2 {
                break;
            }
            assert!(
                waiting.elapsed() < Duration::from_secs(5),
                "listeners not back"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // ...kill them, then revoke before they are back: the notification goes nowhere.
        let killed = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE application_name = $1",
                &[&app],
            )
            .await
            .unwrap()
            .get::<_, i64>(0);
        if killed != 2 {
            let names: Vec<String> = admin
                .query(
                    "SELECT coalesce(application_name, '') FROM pg_stat_activity",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            panic!(
                "{killed} LISTEN connections killed (want one per instance): {names:?}, {app:?}"
            );
        }
        a.revoke_device(&r.device_id, now()).await.unwrap();
        let since = Instant::now();
        lat.push(until_refused(&b, r.device_id, since, Duration::from_secs(5)).await);
    }
    lat.sort();
    visible(&format!(
        "FIGURE freshness_postgres_listen_connection_killed: 10 refusals, p50 {:.1} ms, max {:.1} ms (T_poll {} ms)",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        t_poll.as_millis()
    ));
    // Within T_poll (and the scheduling of one poll tick).
    assert!(
        lat.iter()
            .all(|l| *l <= t_poll + Duration::from_millis(150))
    );
    // The listener came back: a revocation now arrives by notification again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = now();
    let r = DeviceRecord {
        device_id: dev_id(),
        user: "relisten".into(),
        issued_at: t,
    };
    a.register_device(&r, DeviceLimit::refuse(5), t)
        .await
        .unwrap();
    assert!(b.is_device_active(&r.device_id).await.unwrap());
    a.revoke_device(&r.device_id, now()).await.unwrap();
    let l = until_refused(&b, r.device_id, Instant::now(), Duration::from_secs(5)).await;
    assert!(l < Duration::from_millis(200), "after re-LISTEN: {l:?}");
    db.cleanup().await;
}

// ---------------------------------------------------------------------------------------
// No resurrection: 10^5 operations from several tasks; each id belongs to one task, so
// its own history is deterministic and the memory backend, run with the same histories,
// is the model every answer is compared with.

const OPS: usize = 100_000;
const TASKS: usize = 8;

#[derive(Clone, Copy, Debug)]
enum Op {
    Register,
    Revoke,
    Check,
}

/// The script of one task: (id index, op) pairs, from a fixed seed.
fn script(task: usize) -> Vec<(usize, Op)> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (task as u64 + 1);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let ids = 1500;
    (0..OPS / TASKS)
        .map(|_| {
            let id = (next() % ids) as usize;
            let op = match next() % 10 {
                0..=3 => Op::Register,
                4..=5 => Op::Revoke,
                _ => Op::Check,
            };
            (id, op)
        })
        .collect()
}

type Answer = Result<String, String>;

/// Runs every task's script on `store`; the answers, per task, in script order.
async fn run_scripts(store: &Store, ids: &[Vec<DeviceRecord>]) -> Vec<Vec<Answer>> {
    let mut tasks = Vec::new();
    for (task, recs) in ids.iter().enumerate() {
        let (s, recs) = (store.clone(), recs.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(OPS / TASKS);
            let mut registered = vec![false; recs.len()];
            let mut revoked = vec![false; recs.len()];
            for (i, op) in script(task) {
                let r = &recs[i];
                let t = r.issued_at;
                let a: Answer = match op {
                    Op::Register => {
                        let x = s
                            .register_device(r, DeviceLimit::refuse(usize::MAX), t)
                            .await;
                        registered[i] |= x.is_ok();
                        x.map(|x| format!("{x:?}")).map_err(|e| format!("{e:?}"))
                    }
                    Op::Revoke => {
                        let x = s.revoke_device(&r.device_id, t).await;
                        // Only a revocation of a registered id leaves a tombstone.
                        revoked[i] |= x.is_ok() && registered[i];
                        x.map(|x| format!("{x}")).map_err(|e| format!("{e:?}"))
                    }
                    Op::Check => {
                        let x = s.is_device_active(&r.device_id).await;
                        if revoked[i] {
                            assert_eq!(
                                x.as_ref().ok(),
                                Some(&false),
                                "{} resurrected",
                                r.device_id
                            );
                        }
                        x.map(|x| format!("{x}")).map_err(|e| format!("{e:?}"))
                    }
                };
                out.push(a);
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await.unwrap());
    }
    all
}

async fn no_resurrection(db: &Db) {
    let t = now();
    let ids: Vec<Vec<DeviceRecord>> = (0..TASKS)
        .map(|task| {
            (0..1500)
                .map(|_| DeviceRecord {
                    device_id: dev_id(),
                    user: format!("res{task}"),
                    issued_at: t,
                })
                .collect()
        })
        .collect();
    let model = Store::memory(config().cache(false)).await.unwrap();
    let expected = run_scripts(&model, &ids).await;
    let store = match db {
        // Durability is the crash test's subject: no commit waits for its WAL flush here.
        Db::Postgres { url, schema } => {
            let mut pg: tokio_postgres::Config = url.parse().unwrap();
            pg.options("-c synchronous_commit=off");
            let pg = PostgresConfig::from_config(pg)
                .pool_size(8)
                .schema(schema)
                .unwrap();
            Store::postgres(pg, config()).await.unwrap()
        }
        _ => db.open(config()).await,
    };
    let started = Instant::now();
    let got = run_scripts(&store, &ids).await;
    let elapsed = started.elapsed();
    for (task, (e, g)) in expected.iter().zip(&got).enumerate() {
        for (n, (e, g)) in e.iter().zip(g).enumerate() {
            assert_eq!(e, g, "task {task}, op {n}: model {e:?}, backend {g:?}");
        }
    }
    // Final state equals the model's, id by id.
    let mut diff = 0;
    for recs in &ids {
        for r in recs {
            let m = model.is_device_active(&r.device_id).await.unwrap();
            let b = store.is_device_active(&r.device_id).await.unwrap();
            diff += usize::from(m != b);
        }
    }
    assert_eq!(diff, 0);
    let mut hist: HashMap<&str, usize> = HashMap::new();
    for a in got.iter().flatten() {
        let k = match a {
            Ok(s) if s.starts_with("New") => "registered",
            Ok(s) if s == "AlreadyRegistered" => "retry accepted",
            Ok(s) if s == "true" => "true",
            Ok(_) => "false",
            Err(e) if e == "Revoked" => "refused: revoked",
            Err(_) => "other error",
        };
        *hist.entry(k).or_default() += 1;
    }
    visible(&format!(
        "FIGURE no_resurrection: {OPS} operations from {TASKS} tasks in {:.1} s, answers {hist:?}",
        elapsed.as_secs_f64()
    ));
    assert_eq!(hist.get("other error"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_resurrection_memory() {
    no_resurrection(&Db::memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_resurrection_sqlite() {
    // Durability is the crash test's subject; here a RAM-backed directory when there is
    // one keeps 10^5 operations (some 25 000 commits, each an fsync) quick.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    no_resurrection(&Db::Sqlite(common::TempDb::new_in(&dir, "resurrection"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_resurrection_postgres() {
    let Some(db) = Db::postgres("no_resurrection_postgres") else {
        return;
    };
    no_resurrection(&db).await;
    db.cleanup().await;
}

// ---------------------------------------------------------------------------------------
// Fail closed: PostgreSQL made unreachable mid-test (a loopback TCP proxy in front of it
// drops every connection and refuses new ones), then reachable again.

struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (up2, cut2) = (Arc::clone(&up), cut.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut_rx = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_postgres_unreachable_then_back() {
    let Some(db) = Db::postgres("fail_closed_postgres_unreachable_then_back") else {
        return;
    };
    let Db::Postgres { url, schema } = &db else {
        unreachable!()
    };
    let pg: tokio_postgres::Config = url.parse().unwrap();
    let host = match &pg.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("the test database must be on TCP, not {other:?}"),
    };
    let target = tokio::net::lookup_host((host.as_str(), pg.get_ports()[0]))
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(target).await;
    let mut conn = format!(
        "host=127.0.0.1 port={} user={} dbname={} connect_timeout=2",
        proxy.addr.port(),
        pg.get_user().unwrap_or("postgres"),
        pg.get_dbname().unwrap_or("postgres"),
    );
    if let Some(pw) = pg.get_password() {
        conn.push_str(&format!(" password={}", String::from_utf8_lossy(pw)));
    }
    let max_stale = Duration::from_secs(1);
    let cfg = config()
        .poll_interval(Duration::from_millis(100))
        .max_stale(max_stale);
    let store = Store::postgres(
        PostgresConfig::new(&conn)
            .unwrap()
            .pool_size(4)
            .schema(schema)
            .unwrap(),
        cfg,
    )
    .await
    .unwrap();
    let t = now();
    let active = DeviceRecord {
        device_id: dev_id(),
        user: "fc".into(),
        issued_at: t,
    };
    let revoked = DeviceRecord {
        device_id: dev_id(),
        user: "fc".into(),
        issued_at: t,
    };
    for r in [&active, &revoked] {
        store
            .register_device(r, DeviceLimit::refuse(5), t)
            .await
            .unwrap();
    }
    store.revoke_device(&revoked.device_id, t).await.unwrap();
    let never_seen = dev_id();
    assert!(store.is_device_active(&active.device_id).await.unwrap());

    proxy.down();
    let down_at = Instant::now();
    // An id not in the cache: the storage error at once, never an answer.
    let e = store.is_device_active(&never_seen).await;
    assert!(matches!(e, Err(StoreError::Unavailable(_))), "{e:?}");
    // Writes fail with the storage error too.
    let w = store.revoke_device(&active.device_id, now()).await;
    assert!(matches!(w, Err(StoreError::Unavailable(_))), "{w:?}");
    // The cached "active" counts at most max_stale (+ one poll); then the storage error.
    let stale_after = loop {
        match store.is_device_active(&active.device_id).await {
            Ok(true) => {}
            Err(StoreError::Unavailable(_)) => break down_at.elapsed(),
            other => panic!("while unreachable: {other:?}"),
        }
        assert!(down_at.elapsed() < max_stale + Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // From then on only errors for ids not known revoked (checked for a second).
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        for id in [&active.device_id, &never_seen] {
            let r = store.is_device_active(id).await;
            assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
        }
        // A revocation this node knows of is final: refusing it stays right.
        assert!(!store.is_device_active(&revoked.device_id).await.unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    proxy.restore();
    let back_at = Instant::now();
    let recovered = loop {
        if let Ok(true) = store.is_device_active(&active.device_id).await {
            break back_at.elapsed();
        }
        assert!(back_at.elapsed() < Duration::from_secs(10), "no recovery");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!store.is_device_active(&never_seen).await.unwrap());
    visible(&format!(
        "FIGURE fail_closed_postgres: cached active trusted {:.0} ms after the outage began (bound {} ms + one poll), recovered {:.0} ms after PostgreSQL was reachable again",
        stale_after.as_secs_f64() * 1e3,
        max_stale.as_millis(),
        recovered.as_secs_f64() * 1e3
    ));
    db.cleanup().await;
}

// ---------------------------------------------------------------------------------------
// The sync face: BlockingStore, also through the core's DeviceRegistry trait.

#[test]
fn blocking_store_through_the_core_registry_trait() {
    use fwtoken::DeviceRegistry;
    let db = common::TempDb::new("blocking");
    let site = fwtoken::SiteDomains::new().with("CORP");
    let store =
        fwtoken_store::BlockingStore::sqlite(&db.path, config().domains(site.clone())).unwrap();
    let r = DeviceRecord {
        device_id: dev_id(),
        user: "CORP\\bo".into(),
        issued_at: now(),
    };
    store.register(&r, 1).unwrap();
    store.register(&r, 1).unwrap(); // a retry: no second slot
    let other = DeviceRecord {
        device_id: dev_id(),
        user: "bo".into(),
        issued_at: now(),
    };
    assert!(matches!(
        store.register(&other, 1),
        Err(StoreError::DeviceLimit { max: 1 })
    ));
    assert!(store.is_active(&r.device_id).unwrap());
    assert_eq!(store.revoke_user("BO").unwrap(), 1);
    assert!(!store.is_active(&r.device_id).unwrap());
    assert!(!store.revoke(&r.device_id).unwrap());
    assert!(matches!(store.register(&r, 1), Err(StoreError::Revoked)));
    // A second process's view of the file agrees.
    let again = fwtoken_store::BlockingStore::sqlite(&db.path, config().domains(site)).unwrap();
    assert!(!again.is_active(&r.device_id).unwrap());
}

#[tokio::test]
async fn blocking_store_refuses_to_run_inside_a_runtime() {
    let r = fwtoken_store::BlockingStore::memory(config());
    assert!(matches!(r, Err(StoreError::InvalidArgument(_))));
}

#[test]
fn postgres_config_debug_shows_no_password() {
    let cfg = PostgresConfig::new("postgresql://fw:hunter2-secret@db.example:5433/fotoweb")
        .unwrap()
        .schema("tenant_a")
        .unwrap();
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("db.example") && shown.contains("tenant_a"),
        "{shown}"
    );
    assert!(
        PostgresConfig::new("postgresql://x@h/db")
            .unwrap()
            .schema("a;drop")
            .is_err()
    );
    // A connection error names no password either.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(Store::postgres(
            PostgresConfig::new("postgresql://fw:hunter2-secret@127.0.0.1:1/x").unwrap(),
            config(),
        ))
        .unwrap_err();
    assert!(err.is_unavailable());
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

// ---------------------------------------------------------------------------------------
// Several purgers at once: every expired row deleted exactly once, live rows kept.

async fn concurrent_purgers(db: &Db) {
    let cfg = config().purge_batch(7);
    let stores = [
        db.open(cfg.clone()).await,
        db.open(cfg.clone()).await,
        db.open(cfg).await,
    ];
    let t0 = now() - Duration::from_secs(7200);
    for i in 0..60 {
        let id = fwtoken::ApiTokenId::from_bytes(dev_id().to_bytes());
        let rec = fwtoken::ApiTokenRecord {
            id,
            user: format!("purge{i}"),
            app: "sync".into(),
            issued_at: t0,
            expires: t0 + Duration::from_secs(60),
        };
        stores[0].register_api_token(&rec, t0).await.unwrap();
        stores[1]
            .use_login_token(
                &format!("purge-login-{i}"),
                t0 + Duration::from_secs(60),
                t0,
            )
            .await
            .unwrap();
    }
    let live = fwtoken::ApiTokenRecord {
        id: fwtoken::ApiTokenId::from_bytes(dev_id().to_bytes()),
        user: "keeper".into(),
        app: "sync".into(),
        issued_at: now(),
        expires: now() + Duration::from_secs(3600),
    };
    stores[2].register_api_token(&live, now()).await.unwrap();
    let mut tasks = Vec::new();
    for s in &stores {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.purge_expired(now()).await.unwrap()
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 120, "each expired row deleted exactly once");
    assert_eq!(stores[0].purge_expired(now()).await.unwrap(), 0);
    assert!(
        stores[1]
            .is_api_token_active(&live.id, now())
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_purgers_sqlite() {
    concurrent_purgers(&Db::sqlite("purgers")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_purgers_postgres() {
    let Some(db) = Db::postgres("concurrent_purgers_postgres") else {
        return;
    };
    concurrent_purgers(&db).await;
    db.cleanup().await;
}
