//! A PostgreSQL password is never printed (issue 21), checked on the real processes: for
//! random passwords made of URL-special characters in every position, passed in every way
//! (the URL's user info raw and percent-encoded, `password=` raw and percent-encoded, a
//! percent-encoded parameter name, the key=value form; as `--store` and as
//! `FWTOKEN_STORE`), no output of `fwtoken store migrate` or of the example server's
//! start-up contains the password or its percent-encoding, whether the store opens (on the
//! test cluster, whose `trust` authentication takes any password) or not (a closed port).
//!
//! The same property on `StoreUrl` alone, with thousands of cases, is
//! `store/tests/redaction.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

use std::io::Write;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use support::{Launch, fwtoken};

/// Characters with a meaning in a URL or a key=value string, and a few more.
const SPECIAL: &[char] = &[
    '@', ':', '/', '?', '#', '&', '=', '%', '+', ';', ',', '[', ']', '\'', '"', '\\', ' ', '!',
    '$', '(', ')', '~', '^', '|', '{', '}', '<', '>', '`',
];

fn below(rng: &mut ChaCha20Rng, n: usize) -> usize {
    rng.next_u32() as usize % n
}

/// 10 to 20 characters: special ones first and last, an upper-case letter somewhere (no
/// printed store has one), the rest mixed.
fn password(rng: &mut ChaCha20Rng) -> String {
    const OTHER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let n = 8 + below(rng, 11);
    let mut chars: Vec<char> = (0..n)
        .map(|_| {
            if below(rng, 2) == 0 {
                SPECIAL[below(rng, SPECIAL.len())]
            } else {
                char::from(OTHER[below(rng, OTHER.len())])
            }
        })
        .collect();
    let at = below(rng, chars.len() + 1);
    chars.insert(at, char::from(b'Q' + below(rng, 10) as u8));
    let mut p = String::new();
    p.push(SPECIAL[below(rng, SPECIAL.len())]);
    p.extend(chars);
    p.push(SPECIAL[below(rng, SPECIAL.len())]);
    p
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn kv_quote(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Where the test cluster is: `host:port`, the user and the database, and a schema of
/// this test's own (`search_path`), created with fwtoken-store.
struct Cluster {
    host: String,
    port: String,
    user: String,
    db: String,
    schema: String,
}

fn cluster() -> Option<Cluster> {
    let url = match std::env::var("FWTOKEN_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED store_url_redaction (successful opens): FWTOKEN_TEST_POSTGRES_URL is not set (postgres)"
            );
            return None;
        }
    };
    // postgresql://USER@HOST:PORT/DB, as .ci/run and the README write it.
    let rest = url.split_once("://").unwrap().1;
    let (user, rest) = rest.split_once('@').unwrap();
    let (host_port, db) = rest.split_once('/').unwrap();
    let (host, port) = host_port.split_once(':').unwrap();
    let schema = format!("redaction_{}", std::process::id());
    let pg = fwtoken_store::PostgresConfig::new(&url)
        .unwrap()
        .schema(&schema)
        .unwrap();
    drop(fwtoken_store::BlockingStore::postgres(pg, fwtoken_store::StoreConfig::new()).unwrap());
    Some(Cluster {
        host: host.into(),
        port: port.into(),
        user: user.into(),
        db: db.split('?').next().unwrap().into(),
        schema,
    })
}

/// Every way of passing `p` to the cluster at `host:port`: (connection string, written
/// correctly).
fn ways(p: &str, c: &Cluster, port: &str) -> Vec<(String, bool)> {
    let (h, u, d, s) = (&c.host, &c.user, &c.db, &c.schema);
    let opts = format!("options=-c%20search_path%3D{s}");
    vec![
        (format!("postgres://{u}:{p}@{h}:{port}/{d}?{opts}"), false),
        (
            format!("postgres://{u}:{}@{h}:{port}/{d}?{opts}", pct(p)),
            true,
        ),
        (
            format!("postgresql://{u}@{h}:{port}/{d}?{opts}&password={p}"),
            false,
        ),
        (
            format!("postgresql://{u}@{h}:{port}/{d}?password={}&{opts}", pct(p)),
            true,
        ),
        (
            format!("postgres://{u}@{h}:{port}/{d}?{opts}&pass%77ord={}", pct(p)),
            true,
        ),
        (
            format!(
                "postgres://{u}@{h}:{port}/{d}?%70%61%73%73%77%6F%72%64={}&{opts}",
                pct(p)
            ),
            true,
        ),
        (
            format!(
                "host={h} port={port} user={u} password={} dbname={d} options='-c search_path={s}'",
                kv_quote(p)
            ),
            true,
        ), // No user part before the host: a raw `@` in the query would end the "user info".
        (
            format!("postgres://{h}:{port}/{d}?{opts}&password={p}&user={u}"),
            false,
        ),
        (
            format!(
                "postgres://{h}:{port}/{d}?user={u}&{opts}&password={}",
                pct(p)
            ),
            true,
        ),
    ]
}

#[track_caller]
fn assert_hidden(p: &str, what: &str, output: &str) {
    for form in [p.to_string(), pct(p)] {
        assert!(
            !output.contains(&form),
            "{what}: the password {p:?} shows in:\n{output}"
        );
    }
}

fn seed() -> u64 {
    match std::env::var("FWTOKEN_REDACTION_SEED") {
        Ok(s) => s.parse().unwrap(),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

#[test]
fn fwtoken_store_migrate_never_prints_the_password() {
    let seed = seed();
    eprintln!("store_url_redaction: FWTOKEN_REDACTION_SEED={seed}");
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let cluster = cluster();
    // Without the cluster: only the refused and unreachable cases, on loopback port 1.
    let unreachable = Cluster {
        host: "127.0.0.1".into(),
        port: "1".into(),
        user: "postgres".into(),
        db: "postgres".into(),
        schema: "nowhere".into(),
    };
    let (mut opened, mut refused, mut unavailable) = (0, 0, 0);
    for i in 0..24 {
        let p = password(&mut rng);
        for (target, up) in [(cluster.as_ref(), true), (Some(&unreachable), false)] {
            let Some(c) = target else { continue };
            for (url, well_formed) in ways(&p, c, &c.port) {
                // Alternately as the option and through the environment.
                let o = if i % 2 == 0 {
                    fwtoken(&["store", "migrate", "--store", &url], &[])
                } else {
                    fwtoken(&["store", "migrate"], &[("FWTOKEN_STORE", &url)])
                };
                let all = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                assert_hidden(&p, &url, &all);
                match o.status.code() {
                    Some(0) => {
                        opened += 1;
                        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                        assert_eq!(
                            v["store"],
                            format!("postgres://{}:***@{}:{}/{}", c.user, c.host, c.port, c.db)
                        );
                    }
                    Some(2) if well_formed => {
                        assert!(!up, "{url:?} refused: {all}");
                        assert!(all.contains("storage unavailable"), "{all}");
                        unavailable += 1;
                    }
                    Some(2) => refused += 1,
                    other => panic!("{url:?}: exit {other:?}: {all}"),
                }
            }
        }
    }
    assert!(unavailable > 0 && refused > 0);
    assert!(cluster.is_none() || opened > 0);
    eprintln!(
        "store_url_redaction: fwtoken store migrate: {opened} opened, {unavailable} unreachable, {refused} refused; no password printed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_never_prints_the_password_at_start_up() {
    let seed = seed() ^ 1;
    eprintln!("store_url_redaction (server): FWTOKEN_REDACTION_SEED={seed}");
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    // `BlockingStore` has its own runtime: on a thread outside this test's.
    let cluster = std::thread::spawn(cluster).join().unwrap();
    let unreachable = Cluster {
        host: "127.0.0.1".into(),
        port: "1".into(),
        user: "postgres".into(),
        db: "postgres".into(),
        schema: "nowhere".into(),
    };
    let mut started = 0;
    for (target, up) in [(cluster.as_ref(), true), (Some(&unreachable), false)] {
        let Some(c) = target else { continue };
        let p = password(&mut rng);
        for (i, (url, well_formed)) in ways(&p, c, &c.port).into_iter().enumerate() {
            let launch = if i % 2 == 0 {
                Launch::default().arg("--store").arg(url.clone())
            } else {
                Launch::default().env("FWTOKEN_STORE", url.clone())
            };
            match launch.start() {
                Ok(server) => {
                    let all = format!(
                        "{}\n{}",
                        server.stdout().join("\n"),
                        server.stderr().join("\n")
                    );
                    assert_hidden(&p, &url, &all);
                    assert!(
                        server.stdout().iter().any(|l| l
                            == &format!(
                                "store: postgres://{}:***@{}:{}/{}",
                                c.user, c.host, c.port, c.db
                            )),
                        "{all}"
                    );
                    started += 1;
                }
                Err((code, stderr)) => {
                    assert_hidden(&p, &url, &stderr);
                    assert_eq!(code, Some(2), "{stderr}");
                    assert!(!(up && well_formed), "{url:?} refused: {stderr}");
                }
            }
        }
    }
    assert!(cluster.is_none() || started > 0);
}
