//! Real processes for the end-to-end tests: the example server (`examples/server`) and the
//! `fwtoken` command, started as an operator starts them, talked to over loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code,
    missing_docs
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// `target/debug` (or the profile this test was built in).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Builds with cargo when `path` is missing (a `cargo test --test NAME` run does not build
/// examples or other packages' binaries; a full `cargo test --all-features` already did).
fn ensure_built(path: &Path, args: &[&str]) -> PathBuf {
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "cargo {args:?} failed");
    }
    assert!(path.exists(), "{} is missing", path.display());
    path.to_path_buf()
}

/// The example server's binary.
pub fn server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        ensure_built(
            &profile_dir().join("examples").join("server"),
            &["build", "--example", "server", "--all-features"],
        )
    })
    .clone()
}

/// The `fwtoken` command's binary.
pub fn cli_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        ensure_built(
            &profile_dir().join("fwtoken"),
            &["build", "-p", "fwtoken-cli"],
        )
    })
    .clone()
}

/// A command with no `FWTOKEN_*` variable inherited from the caller.
pub fn clean(bin: &Path) -> Command {
    let mut c = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FWTOKEN_") {
            c.env_remove(k);
        }
    }
    c
}

/// Runs `fwtoken` with `env`.
pub fn fwtoken(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = clean(&cli_bin());
    c.args(args).envs(env.iter().copied());
    c.output().unwrap()
}

/// How to start a server.
#[derive(Clone, Default)]
pub struct Launch {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The working directory (where the default store file goes).
    pub dir: Option<PathBuf>,
    /// The file-creation mask the server starts with (through `/bin/sh`'s `umask`).
    pub umask: Option<u32>,
}

impl Launch {
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn dir(mut self, d: &Path) -> Self {
        self.dir = Some(d.to_path_buf());
        self
    }

    pub fn umask(mut self, mask: u32) -> Self {
        self.umask = Some(mask);
        self
    }

    /// Starts the server on a port the OS picks and waits for its banner;
    /// `Err` holds the exit code and stderr when it exits instead.
    pub fn start(&self) -> Result<Server, (Option<i32>, String)> {
        let mut c = match self.umask {
            // `exec` keeps the process id: the server is the child.
            Some(mask) => {
                let mut c = clean(Path::new("/bin/sh"));
                c.arg("-c")
                    .arg(format!("umask {mask:03o}; exec \"$0\" \"$@\""))
                    .arg(server_bin());
                c
            }
            None => clean(&server_bin()),
        };
        c.args(["--listen", "127.0.0.1:0"])
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(d) = &self.dir {
            c.current_dir(d);
        }
        let mut child = c.spawn().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::clone(&out);
        std::thread::spawn(move || {
            // The address is on the `listening on` line; the banner ends with the
            // Edgecast URL, and the server answers from then on.
            let mut base = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    base = Some(addr.to_string());
                }
                let done = line.starts_with("an Edgecast URL:");
                lines.lock().unwrap().push(line);
                if done && let Some(b) = base.take() {
                    let _ = tx.send(b);
                }
            }
        });
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::clone(&err);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(base) = rx.recv_timeout(Duration::from_millis(50)) {
                return Ok(Server {
                    child,
                    base,
                    out,
                    err,
                });
            }
            if let Some(status) = child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(100));
                return Err((status.code(), err.lock().unwrap().join("\n")));
            }
            assert!(Instant::now() < deadline, "the server did not start");
        }
    }
}

/// A running server process.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What it printed on stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    /// What it printed on stderr so far (its log).
    pub fn stderr(&self) -> Vec<String> {
        self.err.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends `SIGHUP` (with the system's `kill`).
    pub fn hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that does not follow redirects and never uses a proxy.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// The `FWSession=...` pair of a `302` login answer.
pub fn session_cookie(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_string()
}

/// Writes a secrets file with `mode`, atomically (a temporary file renamed over it), as an
/// operator's deployment tool would.
pub fn write_secrets(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
