//! A PostgreSQL cluster of a test's own (initdb and pg_ctl, as the `postgres` OS user when
//! the test runs as root), for tests that stop the server or configure it (TLS): the
//! shared test database can't be stopped or reconfigured under the other tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A PostgreSQL cluster of the test's own, in a temporary directory, removed on drop.
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Runs a PostgreSQL program; as root, as the `postgres` OS user (initdb refuses root).
fn pg(bin: &Path, program: &str, args: &str) -> bool {
    let cmd = format!("'{}' {args}", bin.join(program).display());
    let status = if is_root() {
        Command::new("su")
            .args(["postgres", "-s", "/bin/sh", "-c", &cmd])
            .status()
    } else {
        Command::new("sh").args(["-c", &cmd]).status()
    };
    status.is_ok_and(|s| s.success())
}

impl Cluster {
    /// initdb (trust authentication, user `postgres`) and start on a free loopback port;
    /// `None` without PostgreSQL's programs.
    pub fn create() -> Option<Self> {
        Self::create_with(|_| true)
    }

    /// As [`Cluster::create`], with `prepare` run on the data directory before the first
    /// start (certificates, `postgresql.conf` lines); `false` from it fails the creation.
    pub fn create_with(prepare: impl FnOnce(&Path) -> bool) -> Option<Self> {
        let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .collect();
        bins.sort();
        let bin = bins.pop()?;
        let dir = std::env::temp_dir().join(super::unique("fwtoken-pg"));
        std::fs::create_dir_all(&dir).ok()?;
        if is_root() {
            Command::new("chown")
                .args(["postgres", &dir.display().to_string()])
                .status()
                .ok()?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let cluster = Self { bin, dir, port };
        let data = cluster.dir.join("data");
        let ok = pg(
            &cluster.bin,
            "initdb",
            &format!("-D '{}' -A trust -U postgres >/dev/null", data.display()),
        );
        (ok && prepare(&data) && cluster.own_data() && cluster.start()).then_some(cluster)
    }

    /// Gives what the test wrote in the data directory to the `postgres` OS user.
    fn own_data(&self) -> bool {
        !is_root()
            || Command::new("chown")
                .args([
                    "-R",
                    "postgres",
                    &self.dir.join("data").display().to_string(),
                ])
                .status()
                .is_ok_and(|s| s.success())
    }

    /// Starts the server (again).
    pub fn start(&self) -> bool {
        pg(
            &self.bin,
            "pg_ctl",
            &format!(
                "-D '{data}' -l '{dir}/log' -w -o \"-c listen_addresses=127.0.0.1 -p {port} -k '{dir}'\" start >/dev/null",
                data = self.dir.join("data").display(),
                dir = self.dir.display(),
                port = self.port
            ),
        )
    }

    /// Stops at once, as a crash would (no shutdown checkpoint, connections cut).
    pub fn stop(&self) -> bool {
        pg(
            &self.bin,
            "pg_ctl",
            &format!(
                "-D '{}' -m immediate -w stop >/dev/null",
                self.dir.join("data").display()
            ),
        )
    }

    /// A key=value connection string on TCP to the `postgres` database.
    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=2",
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
