//! Crash tests with real processes: this binary re-executes itself as a child that hammers
//! one SQLite file (and one PostgreSQL schema) with registrations and revocations, printing
//! each acknowledged write before going on; the parent kills it with SIGKILL at a random
//! moment, 20 times, and checks after each kill that no user exceeds the cap, that every
//! acknowledged revocation holds and that every acknowledged registration is there, and
//! that the change log agrees with the devices: one row per revoked device, every version
//! from 1 to the current one logged (a revocation and its log row commit together or not
//! at all).
//!
//! `harness = false`: `main` is either the parent (the test) or the child.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fwtoken::time::OffsetDateTime;
use fwtoken::{DeviceId, DeviceRecord};
use fwtoken_store::{BlockingStore, DeviceLimit, PostgresConfig, StoreConfig, StoreError};

const CHILD_ENV: &str = "FWTOKEN_STORE_CRASH_CHILD";
const USERS: [&str; 4] = ["ann", "ben", "cid", "dora"];
const CAP: usize = 3;
const ROUNDS: usize = 20;

/// xorshift64*: test randomness only.
struct Rand(u64);
impl Rand {
    fn new() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Self(t ^ (u64::from(std::process::id()) << 32) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn config() -> StoreConfig {
    StoreConfig::new().cache(false).purge_every(None)
}

fn open(spec: &str) -> Result<BlockingStore, StoreError> {
    if let Some(path) = spec.strip_prefix("sqlite:") {
        BlockingStore::sqlite(path, config())
    } else if let Some(rest) = spec.strip_prefix("postgres:") {
        let (schema, url) = rest.split_once(':').unwrap();
        BlockingStore::postgres(
            PostgresConfig::new(url)?.pool_size(2).schema(schema)?,
            config(),
        )
    } else {
        panic!("bad spec {spec}")
    }
}

/// The child: hammers until killed.
fn child(spec: &str) -> ! {
    let store = open(spec).unwrap();
    let mut rng = Rand::new();
    let mut active: Vec<DeviceId> = Vec::new();
    for u in USERS {
        for d in store.devices_of(u).unwrap() {
            if d.is_active() {
                active.push(d.device_id);
            }
        }
    }
    let out = std::io::stdout();
    loop {
        let now = OffsetDateTime::now_utc();
        if active.is_empty() || rng.below(10) < 6 {
            let user = USERS[rng.below(USERS.len() as u64) as usize];
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&rng.next().to_le_bytes());
            b[8..].copy_from_slice(&rng.next().to_le_bytes());
            let rec = DeviceRecord {
                device_id: DeviceId::from_bytes(b),
                user: user.into(),
                issued_at: now,
            };
            match store.register_device(&rec, DeviceLimit::refuse(CAP), now) {
                Ok(_) => {
                    let mut o = out.lock();
                    writeln!(o, "REG {} {user}", rec.device_id).unwrap();
                    o.flush().unwrap();
                    active.push(rec.device_id);
                }
                Err(StoreError::DeviceLimit { .. }) => {}
                Err(e) => panic!("child: {e}"),
            }
        } else {
            let i = rng.below(active.len() as u64) as usize;
            let id = active.swap_remove(i);
            store.revoke_device(&id, now).unwrap();
            let mut o = out.lock();
            writeln!(o, "REV {id}").unwrap();
            o.flush().unwrap();
        }
    }
}

/// Parent: 20 kills at random moments, checking after each.
fn run(spec: &str) -> Result<(usize, usize), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut rng = Rand::new();
    let mut regs: HashMap<DeviceId, String> = HashMap::new();
    let mut revs: HashSet<DeviceId> = HashSet::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            // Only complete lines count: a line cut by the kill was not acknowledged.
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if line.ends_with('\n') {
                    lines.push(line.trim_end().to_owned());
                }
                line.clear();
            }
            lines
        });
        // Let it start, then kill it at a random moment of its work.
        std::thread::sleep(Duration::from_millis(150 + rng.below(350)));
        child.kill().map_err(|e| e.to_string())?; // SIGKILL
        let status = child.wait().map_err(|e| e.to_string())?;
        if status.code().is_some() {
            return Err(format!(
                "round {round}: the child exited by itself: {status}"
            ));
        }
        let lines = reader.join().map_err(|_| "reader thread")?;
        for l in &lines {
            let mut w = l.split(' ');
            match (w.next(), w.next(), w.next()) {
                (Some("REG"), Some(id), Some(user)) => {
                    regs.insert(id.parse().map_err(|_| "bad id")?, user.to_owned());
                }
                (Some("REV"), Some(id), None) => {
                    revs.insert(id.parse().map_err(|_| "bad id")?);
                }
                _ => return Err(format!("unexpected child line {l:?}")),
            }
        }
        check(spec, &regs, &revs).map_err(|e| format!("round {round}: {e}"))?;
    }
    Ok((regs.len(), revs.len()))
}

fn check(
    spec: &str,
    regs: &HashMap<DeviceId, String>,
    revs: &HashSet<DeviceId>,
) -> Result<(), String> {
    let store = open(spec).map_err(|e| e.to_string())?;
    let mut listed: HashMap<DeviceId, bool> = HashMap::new();
    for u in USERS {
        let devs = store.devices_of(u).map_err(|e| e.to_string())?;
        let active = devs.iter().filter(|d| d.is_active()).count();
        if active > CAP {
            return Err(format!("{u} holds {active} active devices, cap {CAP}"));
        }
        for d in devs {
            listed.insert(d.device_id, d.is_active());
        }
    }
    for id in revs {
        if store.is_device_active(id).map_err(|e| e.to_string())? || listed.get(id) == Some(&true) {
            return Err(format!("acknowledged revocation of {id} lost"));
        }
    }
    for id in regs.keys() {
        if !listed.contains_key(id) {
            return Err(format!("acknowledged registration of {id} lost"));
        }
    }
    log_agrees(spec)
}

/// The change log against the devices table, read in one statement: (version, log rows,
/// versions logged, lowest and highest version logged, revoked devices, revoked devices
/// without a log row).
const LOG_CHECK: &str = "SELECT
    (SELECT version FROM fwtoken_version WHERE id = 1),
    (SELECT count(*) FROM fwtoken_changes),
    (SELECT count(DISTINCT version) FROM fwtoken_changes),
    (SELECT coalesce(min(version), 0) FROM fwtoken_changes),
    (SELECT coalesce(max(version), 0) FROM fwtoken_changes),
    (SELECT count(*) FROM fwtoken_devices WHERE revoked_at IS NOT NULL),
    (SELECT count(*) FROM fwtoken_devices WHERE revoked_at IS NOT NULL
       AND device_id NOT IN (SELECT id FROM fwtoken_changes WHERE kind = 1))";

fn log_agrees(spec: &str) -> Result<(), String> {
    let n: [i64; 7] = if let Some(path) = spec.strip_prefix("sqlite:") {
        let c = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
        c.query_row(LOG_CHECK, [], |r| {
            Ok([
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ])
        })
        .map_err(|e| e.to_string())?
    } else {
        let (schema, url) = spec
            .strip_prefix("postgres:")
            .and_then(|r| r.split_once(':'))
            .ok_or("bad spec")?;
        let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            client
                .batch_execute(&format!("SET search_path TO {schema}"))
                .await
                .map_err(|e| e.to_string())?;
            let r = client
                .query_one(LOG_CHECK, &[])
                .await
                .map_err(|e| e.to_string())?;
            let mut n = [0i64; 7];
            for (i, v) in n.iter_mut().enumerate() {
                *v = r.try_get(i).map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(n)
        })?
    };
    let [version, rows, versions, lowest, highest, revoked, unlogged] = n;
    let ok = rows == revoked
        && unlogged == 0
        && versions == version
        && (version == 0 || (lowest == 1 && highest == version));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "change log disagrees: version {version}, {rows} rows over {versions} versions \
             ({lowest}..={highest}), {revoked} revoked devices, {unlogged} without a row"
        ))
    }
}

fn report(name: &str, started: Instant, r: Result<(usize, usize), String>) -> bool {
    match r {
        Ok((regs, revs)) => {
            println!(
                "test {name} ... ok ({ROUNDS} SIGKILLs, {regs} acknowledged registrations, {revs} acknowledged revocations, {:.1} s)",
                started.elapsed().as_secs_f64()
            );
            true
        }
        Err(e) => {
            println!("test {name} ... FAILED: {e}");
            false
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let mut ok = true;
    let (mut passed, mut failed) = (0, 0);
    let mut tally = |r: bool| {
        if r {
            passed += 1;
        } else {
            failed += 1;
        }
        r
    };

    let name = "crash_sqlite_sigkill";
    if wanted(name) {
        let db = common::TempDb::new("crash");
        let started = Instant::now();
        ok &= tally(report(
            name,
            started,
            run(&format!("sqlite:{}", db.path.display())),
        ));
    }

    let name = "crash_postgres_sigkill";
    if wanted(name)
        && let Some(url) = common::pg_url(name)
    {
        let schema = common::unique("crash").to_lowercase();
        let started = Instant::now();
        ok &= tally(report(
            name,
            started,
            run(&format!("postgres:{schema}:{url}")),
        ));
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out\n",
        if ok { "ok" } else { "FAILED" }
    );
    if !ok {
        std::process::exit(1);
    }
}
