//! The example server's configuration as an operator meets it (issue 21), on the real
//! process: the secrets file must be a regular file of the server's user with no access
//! for others (also when re-read on `SIGHUP`); the full API key is refused under 16
//! characters and warned under 32; empty environment variables are unset; the default
//! SQLite store is created on first start, mode 600 (its WAL and shared-memory files too,
//! under a umask of 000), and the server says so.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{Launch, http, write_secrets};

const SECRET: &str = "4f1c9a0e7d2b6c3a8e5f0d1b2c3a4e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3";
const NEXT_SECRET: &str = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d";
const LONG_KEY: &str = "a full API key of forty characters 01234";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Starts with `launch` and expects exit 2; its stderr.
#[track_caller]
fn refused(launch: &Launch) -> String {
    match launch.start() {
        Ok(server) => panic!("started: {:?}", server.stderr()),
        Err((code, stderr)) => {
            assert_eq!(code, Some(2), "{stderr}");
            stderr
        }
    }
}

fn memory() -> Launch {
    Launch::default().arg("--store").arg("memory")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secrets_file_must_be_a_private_regular_file_of_the_servers_user() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets");
    write_secrets(
        &path,
        &format!("primary = {SECRET}\napi_key = {LONG_KEY}\n"),
        0o600,
    );
    let with = |p: &Path| memory().arg("--secrets-file").arg(p.to_str().unwrap());
    let server = with(&path).start().unwrap();
    drop(server);

    // Readable by others.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(refused(&with(&path)).contains("too open"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    // A symbolic link to it.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    assert!(refused(&with(&link)).contains("symbolic link"));
    // A directory; a FIFO (refused at once, not waited on).
    assert!(refused(&with(dir.path())).contains("not a regular file"));
    let fifo = dir.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let t = Instant::now();
    assert!(refused(&with(&fifo)).contains("not a regular file"));
    assert!(t.elapsed() < Duration::from_secs(30));
    // Owned by another user (the tests run as root here; as another user, a file of
    // root's): whoever owns it could replace the secrets.
    let me = std::fs::metadata(dir.path()).unwrap();
    let other = if std::os::unix::fs::MetadataExt::uid(&me) == 0 {
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        path.clone()
    } else {
        Path::new("/etc/passwd").to_path_buf()
    };
    let stderr = refused(&with(&other));
    assert!(stderr.contains("owned by uid"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
    if other == path {
        std::os::unix::fs::chown(&path, Some(0), None).unwrap();
    }

    // SIGHUP re-reads under the same rules: a file handed to another user is not
    // reloaded, and the secrets in force stay.
    if other == path {
        let server = with(&path).start().unwrap();
        write_secrets(&path, &format!("primary = {NEXT_SECRET}\n"), 0o600);
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        server.hangup();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.stderr().iter().any(|l| l.contains("not reloaded")) {
            assert!(Instant::now() < deadline, "{:?}", server.stderr());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let line = server
            .stderr()
            .into_iter()
            .find(|l| l.contains("not reloaded"))
            .unwrap();
        assert!(line.contains("owned by uid 65534"), "{line}");
        // The old API key still opens the administrator routes.
        let r = http()
            .get(server.url("/fotoweb/admin/users/alice/tokens"))
            .header("FWAPIToken", LONG_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}

#[test]
fn the_full_api_key_is_refused_under_16_characters_and_warned_under_32() {
    // From the environment.
    for short in ["a", "0123456789abcde"] {
        let stderr = refused(
            &memory()
                .env("FWTOKEN_SECRET", SECRET)
                .env("FWTOKEN_API_KEY", short),
        );
        assert!(stderr.contains("at least 16 characters"), "{stderr}");
        if short.len() > 1 {
            assert!(!stderr.contains(short), "{stderr}");
        }
    }
    let server = memory()
        .env("FWTOKEN_SECRET", SECRET)
        .env("FWTOKEN_API_KEY", "twenty characters!!!")
        .start()
        .unwrap();
    let warned = server.stderr().join("\n");
    assert!(
        warned.contains("warning: FWTOKEN_API_KEY is short (20 characters)"),
        "{warned}"
    );
    assert!(!warned.contains("twenty characters!!!"), "{warned}");
    drop(server);
    let server = memory()
        .env("FWTOKEN_SECRET", SECRET)
        .env("FWTOKEN_API_KEY", LONG_KEY)
        .start()
        .unwrap();
    assert!(
        !server.stderr().iter().any(|l| l.contains("API_KEY")),
        "{:?}",
        server.stderr()
    );
    drop(server);
    // From the secrets file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets");
    write_secrets(
        &path,
        &format!("primary = {SECRET}\napi_key = short key\n"),
        0o600,
    );
    let stderr = refused(&memory().arg("--secrets-file").arg(path.to_str().unwrap()));
    assert!(
        stderr.contains("line 2 (api_key): a full API key has at least 16"),
        "{stderr}"
    );
    assert!(!stderr.contains("short key"), "{stderr}");
    write_secrets(
        &path,
        &format!("primary = {SECRET}\napi_key = twenty characters!!!\n"),
        0o600,
    );
    let server = memory()
        .arg("--secrets-file")
        .arg(path.to_str().unwrap())
        .start()
        .unwrap();
    assert!(
        server
            .stderr()
            .iter()
            .any(|l| l.contains("is short (20 characters)")),
        "{:?}",
        server.stderr()
    );
}

#[test]
fn empty_environment_variables_are_unset() {
    let dir = tempfile::tempdir().unwrap();
    let server = Launch::default()
        .dir(dir.path())
        .env("FWTOKEN_SECRET", "")
        .env("FWTOKEN_BACKUP_SECRET", "")
        .env("FWTOKEN_SECRETS_FILE", "")
        .env("FWTOKEN_STORE", "")
        .env("FWTOKEN_API_KEY", "")
        .env("FWTOKEN_OWNER", "")
        .env("FWTOKEN_EDGE_KEY", "")
        .env("FWTOKEN_EDGE_BACKUP_KEY", "")
        .env("FWTOKEN_DEMO_PASSWORD", "")
        .start()
        .unwrap();
    let out = server.stdout().join("\n");
    let err = server.stderr().join("\n");
    // No secret: a throwaway one; no store: the default; no API key, no owner: noted.
    assert!(
        out.contains("FWTOKEN_SECRET is not set: a throwaway secret"),
        "{out}"
    );
    assert!(out.contains("store: sqlite:fwtoken-server.sqlite"), "{out}");
    assert!(err.contains("FWTOKEN_API_KEY is not set"), "{err}");
    assert!(err.contains("FWTOKEN_OWNER is not set"), "{err}");
    // On the command line an empty value is an error, never "unset".
    let stderr = refused(&Launch::default().arg("--store").arg(""));
    assert!(stderr.contains("--store"), "{stderr}");
}

#[test]
fn the_default_store_is_created_on_first_start_mode_600_and_the_server_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fwtoken-server.sqlite");
    // A umask of 000: the files are 0600 all the same.
    let server = Launch::default()
        .dir(dir.path())
        .env("FWTOKEN_SECRET", SECRET)
        .umask(0o000)
        .start()
        .unwrap();
    let err = server.stderr().join("\n");
    assert!(
        err.contains("note: the store did not exist: created sqlite:fwtoken-server.sqlite"),
        "{err}"
    );
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let file = Path::new(&name);
        assert!(file.exists(), "{}", file.display());
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    drop(server);
    // The second start opens it and says nothing about creating.
    let again = Launch::default()
        .dir(dir.path())
        .env("FWTOKEN_SECRET", SECRET)
        .start()
        .unwrap();
    assert!(
        !again.stderr().iter().any(|l| l.contains("did not exist")),
        "{:?}",
        again.stderr()
    );
}
