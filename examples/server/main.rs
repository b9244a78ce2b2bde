//! `server`: a FotoWeb-style web server on `fwtoken-axum` and `fwtoken-store`. What is
//! here is the example's own: flags and environment (secrets never on the command line;
//! see `--help` and the README), the demo password table, PNG previews, the banner.
//!
//! An empty variable is unset. The store is printed without its password; a missing
//! SQLite store is created (mode 600) and the server says so.
#![allow(clippy::unwrap_used, missing_docs)]

#[allow(dead_code)] // what tests/server_flow.rs drives and this binary does not call
mod app;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use app::{AppState, Config, Log, UserTable};
use fwtoken::time::OffsetDateTime;
use fwtoken::{ApiKey, CacheLink, EdgeKey, EdgeKeyRing, EdgeParams, KeyRing, LoginToken, Secret};
use fwtoken_axum::ServeConfig;
use fwtoken_store::{SecretsFile, Store, StoreConfig, StoreUrl, api_key_from_text};

/// The store when neither `--store` nor `FWTOKEN_STORE` names one: a SQLite file in the
/// current directory, so sessions survive a restart with no configuration.
const DEFAULT_STORE: &str = "sqlite:fwtoken-server.sqlite";

/// PBKDF2 rounds for the demo user: low so a debug build logs in quickly (see UserTable).
const DEMO_PASSWORD_ITERATIONS: u32 = 20_000;

const HELP: &str = "\
usage: server [--listen ADDR] [--trust-proxy] [--public-host HOST] [--secrets-file PATH]
              [--store URL] [--allow-login-token-reuse] [--legacy-utf8-encode]

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
  --legacy-utf8-encode  read login-token user names that FotoWare's 2017 PHP generator
                        encoded twice (zoÃ« as zoë); see SECURITY.md for the risk

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
    legacy_utf8_encode: bool,
}

fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut listen: SocketAddr = "127.0.0.1:8080".parse().map_err(|_| "default address")?;
    let mut trust_proxy = false;
    let mut public_host = None;
    let mut secrets_file = env("FWTOKEN_SECRETS_FILE")?.map(PathBuf::from);
    let mut store = env("FWTOKEN_STORE")?;
    let (mut allow_login_token_reuse, mut legacy_utf8_encode) = (false, false);
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
            "--legacy-utf8-encode" => legacy_utf8_encode = true,
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
        legacy_utf8_encode,
    }))
}

/// An environment variable; `None` when unset or empty (the `fwtoken` command's rule,
/// `fwtoken_store::env_var`). The value is never echoed in errors.
fn env(var: &str) -> Result<Option<String>, String> {
    fwtoken_store::env_var(var).map_err(|e| e.to_string())
}

/// A variable parsed by `parse`; the error names the variable, never the value.
fn parsed<T, E: std::fmt::Display>(
    var: &str,
    parse: fn(&str) -> Result<T, E>,
) -> Result<Option<T>, String> {
    env(var)?
        .map(|t| parse(&t).map_err(|e| format!("{var}: {e}")))
        .transpose()
}

/// The configuration, and whether the ring is a throwaway one.
fn config_from_env(options: &Options, store: Store) -> Result<(Config, bool), String> {
    let mut rng = fwtoken::os_rng();
    // The full API key: refused under 16 characters, a warning under 32.
    let mut api_key: Option<ApiKey> = None;
    if let Some(text) = env("FWTOKEN_API_KEY")? {
        let (key, warning) =
            api_key_from_text(&text, "FWTOKEN_API_KEY").map_err(|e| e.to_string())?;
        warning.iter().for_each(|w| eprintln!("{w}"));
        api_key = Some(key);
    }
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
            file.warnings().iter().for_each(|w| eprintln!("{w}"));
            api_key = file.api_key.clone();
            Some(file.ring().map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let (ring, throwaway) = match (from_file, parsed("FWTOKEN_SECRET", Secret::from_text)?) {
        (Some(ring), _) => (ring, false),
        (None, Some(primary)) => {
            if primary.is_weak() {
                eprintln!("warning: FWTOKEN_SECRET is weak; use `fwtoken secret generate`");
            }
            let ring = KeyRing::new(primary);
            let ring = match parsed("FWTOKEN_BACKUP_SECRET", Secret::from_text)? {
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
    let edge = EdgeKeyRing::new(
        parsed("FWTOKEN_EDGE_KEY", EdgeKey::new)?.unwrap_or_else(|| EdgeKey::generate(&mut rng)),
    );
    let edge = match parsed("FWTOKEN_EDGE_BACKUP_KEY", EdgeKey::new)? {
        Some(b) => edge
            .with_backup(b)
            .map_err(|e| format!("FWTOKEN_EDGE_BACKUP_KEY: {e}"))?,
        None => edge,
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
        public_host: (options.public_host.clone()).unwrap_or_else(|| options.listen.to_string()),
        store,
        allow_login_token_reuse: options.allow_login_token_reuse,
        legacy_utf8_encode: options.legacy_utf8_encode,
    };
    Ok((config, throwaway))
}

/// What to try, printed once at startup. The URLs carry tokens (that is their point);
/// no secret, key or password is printed.
fn banner(state: &AppState, base: &str, throwaway: bool) -> Result<(), fwtoken::Error> {
    let now = OffsetDateTime::now_utc();
    println!("listening on {base}");
    if throwaway {
        // A working login URL only for a throwaway secret: with the site's real secret it
        // would be a credential in a log file.
        println!("FWTOKEN_SECRET is not set: a throwaway secret (tokens die with the process)");
        let token = LoginToken::builder("alice")
            .valid_for(Duration::from_secs(15 * 60))
            .issue(&state.ring(), now)?;
        let url = fwtoken::login_url(&format!("{base}/fotoweb/"), &token);
        println!("log in as alice:  {url}");
    } else {
        println!("log in:           fwtoken login issue --user NAME --url {base}/fotoweb/");
    }
    let link = CacheLink::new("/archives/demo/harbour.tif")
        .width(320)
        .height(200)
        .format("png");
    let link = link.expires_in(now, Duration::from_secs(24 * 3600))?;
    println!(
        "a cache link:     {base}{}",
        state.cache_link_path(&link, now)?
    );
    let params = EdgeParams::builder()
        .expires_at(now + Duration::from_secs(3600))
        .url_allow("/edge/demo/")
        .build()?;
    let Some(edge) = state.edge_ring() else {
        return Ok(());
    };
    let token = edge.encrypt_params(&params, &mut fwtoken::os_rng())?;
    println!("an Edgecast URL:  {base}/edge/demo/intro.mp4?token={token}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(code)
        }
    }
}

/// Starts the server; `Err` holds the exit code (2: usage or configuration) and why.
async fn run(args: &[String]) -> Result<(), (u8, String)> {
    let Some(options) = parse_args(args).map_err(|m| (2, m))? else {
        println!("{HELP}");
        return Ok(());
    };
    let created = options.store.is_missing_sqlite();
    let store = open_store(&options.store).await.map_err(|m| (2, m))?;
    // From the parsed URL, with the password replaced: never the text given.
    let name = options.store.describe();
    println!("store: {name}");
    if created {
        eprintln!("note: the store did not exist: created {name} (empty, mode 600)");
    }
    let (config, throwaway) = config_from_env(&options, store).map_err(|m| (2, m))?;
    if config.api_key.is_none() {
        eprintln!("note: FWTOKEN_API_KEY is not set: administrator routes answer 401");
    }
    if config.owner.is_none() {
        eprintln!("note: FWTOKEN_OWNER is not set: no user is refused as the site owner");
    }
    let state = AppState::new(config, Log::stderr());
    state.report_stats_every(Duration::from_secs(60)); // a `stats hits=…` line a minute
    #[cfg(unix)]
    state
        .reload_on_sighup(options.secrets_file.clone())
        .map_err(|e| (1, format!("cannot handle SIGHUP: {e}")))?;
    let listener = tokio::net::TcpListener::bind(options.listen).await;
    let listener =
        listener.map_err(|e| (1, format!("cannot listen on {}: {e}", options.listen)))?;
    let local = listener.local_addr().unwrap_or(options.listen);
    banner(&state, &format!("http://{local}"), throwaway).map_err(|e| (1, e.to_string()))?;
    // Header, body and idle timeouts and a connection limit: fwtoken-axum's defaults.
    let served = ServeConfig::default()
        .serve(listener, app::router(state))
        .await;
    served.map_err(|e| (1, e.to_string()))
}

/// Opens (and migrates; creates a missing SQLite file) the store, and refuses one it
/// cannot write (a real write, rolled back): it would answer sessions but refuse logins.
async fn open_store(url: &StoreUrl) -> Result<Store, String> {
    let store = Store::open(url, StoreConfig::new()).await;
    let store = store.map_err(|e| format!("store {}: {e}", url.describe()))?;
    match store.check_writable().await {
        Ok(()) => Ok(store),
        Err(e) => Err(format!("store {}: cannot be written: {e}", url.describe())),
    }
}
