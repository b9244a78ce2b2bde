//! `server`: a FotoWeb-style web server (axum + tokio) built on fwtoken.
//!
//! It shows a server author the whole wiring: login tokens, password logins with salted
//! hashes, device tokens in the `FWSession` cookie registered in a store (`fwtoken-store`:
//! SQLite, PostgreSQL or memory), single-use login tokens, the full API key
//! and user API tokens in the `FWAPIToken` header, cache links, Edgecast tokens, and key
//! rotation on a running server. The routes are listed in `app.rs`.
//!
//! Configuration comes from the environment, like the `fwtoken` tool (secrets are never on
//! the command line):
//!
//! | variable | meaning |
//! |----------|---------|
//! | `FWTOKEN_SECRET` | the site's encryption secret (unset: a throwaway ring is generated) |
//! | `FWTOKEN_BACKUP_SECRET` | the previous secret, still accepted during a rotation |
//! | `FWTOKEN_API_KEY` | the site's full API key (unset: administrator routes answer 401) |
//! | `FWTOKEN_OWNER` | the site owner, never logged in by token nor impersonated by an API token |
//! | `FWTOKEN_EDGE_KEY`, `FWTOKEN_EDGE_BACKUP_KEY` | Edgecast keys for `/edge/` (unset: generated) |
//! | `FWTOKEN_DEMO_PASSWORD` | password of the demo user `alice` (unset: no password logins) |
//! | `FWTOKEN_SECRETS_FILE` | as `--secrets-file` |
//! | `FWTOKEN_STORE` | as `--store`: `sqlite:PATH` (default `sqlite:fwtoken-server.sqlite`), `postgres://...`, `memory` |
//!
//! An empty variable is the same as an unset one (as in the `fwtoken` command). A full API
//! key under 16 characters is refused, under 32 accepted with a warning.
//!
//! Or the secrets come from a file (`--secrets-file PATH`: `primary = ...`, `backup =
//! ...`, `api_key = ...`; a regular file owned by the user the server runs as, readable by
//! that user only), re-read on `SIGHUP`: the key ring and the API key are swapped
//! atomically while requests continue.
//!
//! The store is printed without its password (`store: postgres://fw:***@db:5432/fw`); a
//! SQLite store that does not exist yet is created (mode 600) and the server says so.
//!
//! ```text
//! cargo run --example server --all-features                  # listens on 127.0.0.1:8080
//! cargo run --example server --all-features -- --listen 127.0.0.1:9000 [--trust-proxy]
//! ```
//!
//! With no configuration it prints a login URL (only for a throwaway secret), a cache link
//! and an Edgecast URL to try.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

// The rotation hooks (`AppState::rotate`, `retire_backup`, ...) and the capturing log are
// what tests/server_flow.rs drives; this binary does not call them itself.
#[allow(dead_code)]
mod app;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fwtoken::time::OffsetDateTime;
use fwtoken::{ApiKey, CacheLink, EdgeKey, EdgeKeyRing, EdgeParams, KeyRing, LoginToken, Secret};

use app::{AppState, Config, Log, UserTable};
use fwtoken_store::{SecretsFile, Store, StoreConfig, StoreUrl, api_key_from_text};

/// The store when neither `--store` nor `FWTOKEN_STORE` names one: a SQLite file in the
/// current directory, so sessions survive a restart with no configuration.
const DEFAULT_STORE: &str = "sqlite:fwtoken-server.sqlite";

/// PBKDF2 rounds for the demo user: low so a debug build starts and logs in quickly.
/// A production server should use 600 000 (OWASP's advice for PBKDF2-HMAC-SHA256) or
/// Argon2id.
const DEMO_PASSWORD_ITERATIONS: u32 = 20_000;

const HELP: &str = "\
usage: server [--listen ADDR] [--trust-proxy] [--public-host HOST] [--secrets-file PATH]
              [--store URL] [--allow-login-token-reuse]

  --listen ADDR         address to listen on (default 127.0.0.1:8080)
  --trust-proxy         read the client address from X-Forwarded-For and the protocol from
                        X-Forwarded-Proto (only behind a proxy that sets them)
  --public-host HOST    the site's public host name, what /edge/ host rules are checked
                        against (default: the listen address); the Host header never is
  --secrets-file PATH   primary, backup secret and API key from a file only its owner can
                        read (also FWTOKEN_SECRETS_FILE); re-read on SIGHUP
  --store URL           sqlite:PATH, postgres://..., PostgreSQL key=value pairs or memory
                        (also FWTOKEN_STORE; default sqlite:fwtoken-server.sqlite in the
                        current directory); a missing SQLite file is created (mode 600)
  --allow-login-token-reuse
                        accept a login token more than once (default: once only, so a
                        leaked lt= URL cannot be replayed)

Environment: FWTOKEN_SECRET, FWTOKEN_BACKUP_SECRET, FWTOKEN_API_KEY, FWTOKEN_OWNER,
FWTOKEN_EDGE_KEY, FWTOKEN_EDGE_BACKUP_KEY, FWTOKEN_DEMO_PASSWORD, FWTOKEN_SECRETS_FILE,
FWTOKEN_STORE. An empty variable is the same as an unset one.";

struct Options {
    listen: SocketAddr,
    trust_proxy: bool,
    public_host: Option<String>,
    secrets_file: Option<PathBuf>,
    store: StoreUrl,
    allow_login_token_reuse: bool,
}

fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut listen: SocketAddr = "127.0.0.1:8080".parse().map_err(|_| "default address")?;
    let mut trust_proxy = false;
    let mut public_host = None;
    let mut secrets_file = env("FWTOKEN_SECRETS_FILE")?.map(PathBuf::from);
    let mut store = env("FWTOKEN_STORE")?;
    let mut allow_login_token_reuse = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--listen" => {
                let v = it.next().ok_or("--listen needs an address")?;
                listen = v
                    .parse()
                    .map_err(|_| format!("--listen: not an address: {v}"))?;
            }
            "--trust-proxy" => trust_proxy = true,
            "--public-host" => {
                let v = it.next().ok_or("--public-host needs a host name")?;
                if v.is_empty() || v.contains(['/', ' ']) {
                    return Err(format!("--public-host: not a host name: {v}"));
                }
                public_host = Some(v.clone());
            }
            "--secrets-file" => {
                let v = it.next().ok_or("--secrets-file needs a path")?;
                secrets_file = Some(PathBuf::from(v));
            }
            "--store" => {
                store = Some(it.next().ok_or("--store needs a URL")?.clone());
            }
            "--allow-login-token-reuse" => allow_login_token_reuse = true,
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}\n{HELP}")),
        }
    }
    // The URL is never repeated in an error: it may hold a password.
    let store = StoreUrl::parse(store.as_deref().unwrap_or(DEFAULT_STORE))
        .map_err(|e| format!("--store: {e}"))?;
    Ok(Some(Options {
        listen,
        trust_proxy,
        public_host,
        secrets_file,
        store,
        allow_login_token_reuse,
    }))
}

/// An environment variable; `None` when unset or empty (the `fwtoken` command's rule,
/// `fwtoken_store::env_var`). The value is never echoed in errors.
fn env(var: &str) -> Result<Option<String>, String> {
    fwtoken_store::env_var(var).map_err(|e| e.to_string())
}

fn secret(var: &str) -> Result<Option<Secret>, String> {
    env(var)?
        .map(|t| Secret::from_text(&t).map_err(|e| format!("{var}: {e}")))
        .transpose()
}

fn edge_key(var: &str) -> Result<Option<EdgeKey>, String> {
    env(var)?
        .map(|t| EdgeKey::new(&t).map_err(|e| format!("{var}: {e}")))
        .transpose()
}

/// The configuration, and whether the ring is a throwaway one.
fn config_from_env(options: &Options, store: Store) -> Result<(Config, bool), String> {
    let mut rng = fwtoken::os_rng();
    // The full API key: refused under 16 characters, a warning under 32.
    let mut api_key: Option<ApiKey> = match env("FWTOKEN_API_KEY")? {
        Some(text) => {
            let (key, warning) =
                api_key_from_text(&text, "FWTOKEN_API_KEY").map_err(|e| e.to_string())?;
            if let Some(w) = warning {
                eprintln!("{w}");
            }
            Some(key)
        }
        None => None,
    };
    let from_file = match &options.secrets_file {
        Some(path) => {
            for var in ["FWTOKEN_SECRET", "FWTOKEN_BACKUP_SECRET", "FWTOKEN_API_KEY"] {
                if env(var)?.is_some() {
                    return Err(format!(
                        "{var} is set and a secrets file is given: use one or the other"
                    ));
                }
            }
            let file = SecretsFile::read(path).map_err(|e| e.to_string())?;
            for warning in file.warnings() {
                eprintln!("{warning}");
            }
            api_key = file.api_key.clone();
            Some(file.ring().map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let (ring, throwaway) = match (from_file, secret("FWTOKEN_SECRET")?) {
        (Some(ring), _) => (ring, false),
        (None, Some(primary)) => {
            if primary.is_weak() {
                eprintln!("warning: FWTOKEN_SECRET is weak; use `fwtoken secret generate`");
            }
            let ring = KeyRing::new(primary);
            let ring = match secret("FWTOKEN_BACKUP_SECRET")? {
                Some(b) => ring
                    .with_backup(b)
                    .map_err(|e| format!("FWTOKEN_BACKUP_SECRET: {e}"))?,
                None => ring,
            };
            (ring, false)
        }
        (None, None) if env("FWTOKEN_BACKUP_SECRET")?.is_some() => {
            return Err("FWTOKEN_BACKUP_SECRET is set but FWTOKEN_SECRET is not".into());
        }
        (None, None) => (KeyRing::new(Secret::generate(&mut rng)), true),
    };
    let owner = env("FWTOKEN_OWNER")?;
    if let Some(o) = &owner {
        fwtoken::validate_user_name(o).map_err(|e| format!("FWTOKEN_OWNER: {e}"))?;
    }
    let edge_primary = match edge_key("FWTOKEN_EDGE_KEY")? {
        Some(k) => k,
        None => EdgeKey::generate(&mut rng),
    };
    let edge = match edge_key("FWTOKEN_EDGE_BACKUP_KEY")? {
        Some(b) => EdgeKeyRing::new(edge_primary)
            .with_backup(b)
            .map_err(|e| format!("FWTOKEN_EDGE_BACKUP_KEY: {e}"))?,
        None => EdgeKeyRing::new(edge_primary),
    };
    let mut users = UserTable::new(DEMO_PASSWORD_ITERATIONS, &mut rng);
    if let Some(password) = env("FWTOKEN_DEMO_PASSWORD")? {
        users
            .add("alice", &password, &mut rng)
            .map_err(|e| format!("FWTOKEN_DEMO_PASSWORD: {e}"))?;
    }
    let config = Config {
        ring,
        api_key,
        owner,
        users,
        edge,
        trust_proxy: options.trust_proxy,
        public_host: options
            .public_host
            .clone()
            .unwrap_or_else(|| options.listen.to_string()),
        store,
        allow_login_token_reuse: options.allow_login_token_reuse,
    };
    Ok((config, throwaway))
}

/// What to try, printed once at startup. The URLs carry tokens (that is their point);
/// no secret, key or password is printed.
fn banner(state: &AppState, base: &str, throwaway: bool) -> Result<(), fwtoken::Error> {
    let now = OffsetDateTime::now_utc();
    let ring = state.ring();
    println!("listening on {base}");
    if throwaway {
        // A working login URL only for a throwaway secret: with the site's real secret it
        // would be a credential in a log file.
        println!(
            "FWTOKEN_SECRET is not set: using a throwaway secret (every token dies with the process)"
        );
        let token = LoginToken::builder("alice")
            .valid_for(Duration::from_secs(15 * 60))
            .issue(&ring, now)?;
        println!(
            "log in as alice:  {}",
            fwtoken::login_url(&format!("{base}/fotoweb/"), &token)
        );
    } else {
        println!(
            "log in:           fwtoken login issue --user NAME --url {base}/fotoweb/  (with the site's secret)"
        );
    }
    let link = CacheLink::new("/archives/demo/harbour.tif")
        .width(320)
        .height(200)
        .format("png")
        .expires_in(now, Duration::from_secs(24 * 3600))?;
    println!(
        "a cache link:     {base}{}",
        state.cache_link_path(&link, now)?
    );
    let params = EdgeParams::builder()
        .expires_at(now + Duration::from_secs(3600))
        .url_allow("/edge/demo/")
        .build()?;
    let edge_token = state
        .edge_ring()
        .encrypt_params(&params, &mut fwtoken::os_rng())?;
    println!("an Edgecast URL:  {base}/edge/demo/intro.mp4?token={edge_token}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("error: {msg}");
            return ExitCode::from(2);
        }
    };
    let created = options.store.is_missing_sqlite();
    let store = match open_store(&options.store).await {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("error: {msg}");
            return ExitCode::from(2);
        }
    };
    // From the parsed URL, with the password replaced: never the text given.
    println!("store: {}", options.store.describe());
    if created {
        eprintln!(
            "note: the store did not exist: created {} (empty, mode 600)",
            options.store.describe()
        );
    }
    let (config, throwaway) = match config_from_env(&options, store) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("error: {msg}");
            return ExitCode::from(2);
        }
    };
    if config.api_key.is_none() {
        eprintln!("note: FWTOKEN_API_KEY is not set: administrator routes answer 401");
    }
    if config.owner.is_none() {
        eprintln!("note: FWTOKEN_OWNER is not set: no user is refused as the site owner");
    }
    let state = AppState::new(config, Log::stderr());
    if let Err(e) = reload_on_sighup(state.clone(), options.secrets_file.clone()) {
        eprintln!("error: cannot handle SIGHUP: {e}");
        return ExitCode::FAILURE;
    }
    let listener = match tokio::net::TcpListener::bind(options.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", options.listen);
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().unwrap_or(options.listen);
    if let Err(e) = banner(&state, &format!("http://{local}"), throwaway) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let service = app::router(state).into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, service).await {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// On `SIGHUP`, re-reads the secrets file and swaps the key ring and the API key at once;
/// a file that does not read or parse is reported and the secrets in force are kept.
/// Without a secrets file the signal is only noted (it no longer ends the process).
#[cfg(unix)]
fn reload_on_sighup(state: AppState, path: Option<PathBuf>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some(path) = &path else {
                eprintln!("fwtoken-server: note SIGHUP without --secrets-file: nothing to reload");
                continue;
            };
            match SecretsFile::read(path).and_then(|f| Ok((f.ring()?, f.warnings(), f.api_key))) {
                Ok((ring, warnings, api_key)) => {
                    for w in warnings {
                        eprintln!("fwtoken-server: {w}");
                    }
                    let primary = ring.primary().fingerprint();
                    let backup = ring.backup().map(|b| b.fingerprint());
                    state.replace_secrets(ring, api_key);
                    match backup {
                        Some(b) => eprintln!(
                            "fwtoken-server: note secrets reloaded: primary {primary}, backup {b}"
                        ),
                        None => {
                            eprintln!("fwtoken-server: note secrets reloaded: primary {primary}")
                        }
                    }
                }
                Err(e) => {
                    eprintln!("fwtoken-server: error secrets not reloaded (kept the old ones): {e}")
                }
            }
        }
    });
    Ok(())
}

#[cfg(not(unix))]
fn reload_on_sighup(_state: AppState, _path: Option<PathBuf>) -> std::io::Result<()> {
    Ok(())
}

/// Opens (and migrates) the store, with the cache and housekeeping a server wants; a
/// SQLite file that does not exist is created (mode 600).
async fn open_store(url: &StoreUrl) -> Result<Store, String> {
    Store::open(url, StoreConfig::new())
        .await
        .map_err(|e| format!("store {}: {e}", url.describe()))
}
