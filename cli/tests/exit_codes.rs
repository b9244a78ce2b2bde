//! One exit-code contract for every command (issue 21), through the real binary:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | refused: a token refused, a policy refusal (the site owner, the device cap, a lifetime over the cap), nothing to revoke |
//! | 2 | usage, input or configuration error (an invalid user name to issue for, a missing or unreadable secret, a missing SQLite store), and storage unavailable |
//!
//! Also: an empty environment variable is the same as an unset one; a SQLite store that
//! does not exist is an error that creates nothing, for every command but `store migrate`;
//! standard input is read with a bound.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_fwtoken");
const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const EDGE_KEY: &str = "Edge2026Key0123";
const FERNET_KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
const NOW: &str = "2026-11-24T10:00:00Z";

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FWTOKEN_") {
            c.env_remove(k);
        }
    }
    c.envs(env.iter().copied()).stdin(Stdio::null());
    c.output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn json(o: &Output) -> serde_json::Value {
    assert_eq!(code(o), 0, "{}", err(o));
    serde_json::from_str(&out(o)).unwrap()
}

/// Runs, checks the exit code (and for 1 and 2 that stderr is one line saying so).
#[track_caller]
fn expect(want: i32, args: &[&str], env: &[(&str, &str)]) -> Output {
    let o = run(args, env);
    assert_eq!(code(&o), want, "fwtoken {args:?}: stderr {}", err(&o));
    match want {
        1 => assert!(err(&o).starts_with("refused: "), "{args:?}: {}", err(&o)),
        2 => assert!(!err(&o).is_empty(), "{args:?}: nothing on stderr"),
        _ => {}
    }
    o
}

const KEYS: &[(&str, &str)] = &[
    ("FWTOKEN_SECRET", SECRET),
    ("FWTOKEN_EDGE_KEY", EDGE_KEY),
    ("FWTOKEN_FERNET_KEY", FERNET_KEY),
];

/// Every command, with a case for each exit code it can give.
#[test]
fn every_command_exits_0_1_or_2_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.sqlite");
    let store = format!("sqlite:{}", db.display());
    // The command with `--store` on the SQLite file.
    let run_s = |want: i32, args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--store", store.as_str()]);
        expect(want, &a, KEYS)
    };

    // secret
    expect(0, &["secret", "generate"], &[]);
    expect(0, &["secret", "fingerprint"], KEYS);
    expect(2, &["secret", "fingerprint"], &[]);
    expect(2, &["secret", "bogus"], KEYS);

    // login: an invalid user name is input (2), an expired token is refused (1).
    let token = out(&expect(
        0,
        &["login", "issue", "--user", "alice", "--now", NOW],
        KEYS,
    ));
    expect(0, &["login", "verify", &token, "--now", NOW], KEYS);
    expect(
        1,
        &["login", "verify", &token, "--now", "2027-01-01T00:00:00Z"],
        KEYS,
    );
    expect(1, &["login", "verify", "garbage", "--now", NOW], KEYS);
    for bad in ["", " alice", "al\u{1}ice", "a\u{200b}b"] {
        expect(2, &["login", "issue", "--user", bad], KEYS);
        expect(
            2,
            &[
                "api",
                "issue",
                "--user",
                bad,
                "--app",
                "CMS",
                "--duration",
                "1h",
            ],
            KEYS,
        );
        expect(2, &["device", "issue", "--user", bad], KEYS);
        // The same with a store: refused before anything is registered.
        run_s(2, &["device", "issue", "--user", bad]);
    }
    expect(
        2,
        &["login", "issue", "--user", "alice", "--valid-for", "10x"],
        KEYS,
    );
    expect(2, &["login", "verify"], KEYS);

    // api: the site owner and a duration over the cap are policy refusals (1).
    let api = json(&expect(
        0,
        &[
            "api",
            "issue",
            "--user",
            "alice",
            "--app",
            "CMS",
            "--duration",
            "1h",
            "--now",
            NOW,
        ],
        KEYS,
    ));
    let api_token = api["token"].as_str().unwrap().to_string();
    expect(0, &["api", "verify", &api_token, "--now", NOW], KEYS);
    expect(
        1,
        &["api", "verify", &api_token, "--now", "2027-01-01T00:00:00Z"],
        KEYS,
    );
    expect(
        1,
        &[
            "api", "verify", &api_token, "--now", NOW, "--owner", "alice",
        ],
        KEYS,
    );
    expect(
        1,
        &[
            "api",
            "issue",
            "--user",
            "admin",
            "--app",
            "CMS",
            "--duration",
            "1h",
            "--owner",
            "admin",
        ],
        KEYS,
    );
    expect(
        1,
        &[
            "api",
            "issue",
            "--user",
            "alice",
            "--app",
            "CMS",
            "--duration",
            "P30D",
            "--max-duration",
            "1d",
        ],
        KEYS,
    );
    expect(
        2,
        &[
            "api",
            "issue",
            "--user",
            "alice",
            "--app",
            "CMS",
            "--duration",
            "soon",
        ],
        KEYS,
    );
    expect(2, &["api", "verify", &api_token, "--leeway", "x"], KEYS);

    // The store: created by `store migrate` only.
    expect(2, &["store", "migrate"], KEYS);
    let m = json(&run_s(0, &["store", "migrate"]));
    assert_eq!(m["store"], store.as_str());
    run_s(0, &["store", "purge"]);
    let d = json(&run_s(
        0,
        &["device", "issue", "--user", "bob", "--max-devices", "1"],
    ));
    let device_token = d["token"].as_str().unwrap().to_string();
    let device_id = d["device_id"].as_str().unwrap().to_string();
    // The device cap: a policy refusal.
    run_s(
        1,
        &["device", "issue", "--user", "bob", "--max-devices", "1"],
    );
    run_s(0, &["device", "verify", &device_token]);
    run_s(0, &["device", "list", "--user", "bob"]);
    expect(2, &["device", "list", "--user", "bob"], KEYS);
    run_s(0, &["device", "revoke", &device_id]);
    run_s(1, &["device", "revoke", &device_id]);
    run_s(1, &["device", "verify", &device_token]);
    run_s(2, &["device", "revoke", "not-an-id"]);
    expect(1, &["device", "verify", "garbage"], KEYS);
    let a = json(&run_s(
        0,
        &[
            "api",
            "issue",
            "--user",
            "carol",
            "--app",
            "CMS",
            "--duration",
            "1h",
        ],
    ));
    let api_id = a["id"].as_str().unwrap().to_string();
    run_s(0, &["api", "list", "--user", "carol"]);
    expect(2, &["api", "list", "--user", "carol"], KEYS);
    run_s(0, &["api", "revoke", &api_id]);
    run_s(1, &["api", "revoke", &api_id]);
    run_s(1, &["api", "verify", a["token"].as_str().unwrap()]);
    run_s(2, &["api", "revoke", "nope"]);
    run_s(2, &["api", "revoke"]);
    // carol's one API token was revoked above: nothing is left to revoke (1).
    run_s(1, &["user", "revoke", "carol"]);
    run_s(1, &["api", "revoke", "--user", "carol"]);
    expect(2, &["user", "revoke", "carol"], KEYS);

    // cache
    let link = out(&expect(
        0,
        &[
            "cache", "sign", "--path", "/a.tif", "--width", "80", "--now", NOW,
        ],
        KEYS,
    ));
    expect(0, &["cache", "open", &link, "--now", NOW], KEYS);
    expect(1, &["cache", "open", "garbage", "--now", NOW], KEYS);
    expect(
        2,
        &[
            "cache",
            "sign",
            "--path",
            "/a.tif",
            "--client-ip",
            "nowhere",
        ],
        KEYS,
    );
    expect(2, &["cache", "open", &link, "--client-ip", "nowhere"], KEYS);

    // edge
    let edge = out(&expect(
        0,
        &[
            "edge",
            "encrypt",
            "--params",
            "ec_expire=1900000000&ec_url_allow=/videos/",
        ],
        KEYS,
    ));
    expect(0, &["edge", "decrypt", &edge], KEYS);
    expect(1, &["edge", "decrypt", "garbage"], KEYS);
    let check = |path: &'static str| {
        vec![
            "edge",
            "check",
            edge.as_str(),
            "--client-ip",
            "203.0.113.7",
            "--host",
            "cdn.example.com",
            "--path",
            path,
            "--now",
            NOW,
        ]
    };
    expect(0, &check("/videos/a.mp4"), KEYS);
    expect(1, &check("/images/a.jpg"), KEYS);
    let mut bad_proto = check("/videos/a.mp4");
    bad_proto.extend(["--proto", "ftp"]);
    expect(2, &bad_proto, KEYS);
    expect(
        2,
        &["edge", "encrypt", "--params", "ec_expire=1&ec_expire=2"],
        KEYS,
    );
    expect(2, &["edge", "encrypt", "--params", "ec_expire=1"], &[]);

    // fernet
    expect(0, &["fernet", "generate-key"], &[]);
    let f = run_with_stdin(&["fernet", "encrypt"], KEYS, b"hello");
    assert_eq!(code(&f), 0, "{}", err(&f));
    expect(0, &["fernet", "decrypt", &out(&f)], KEYS);
    expect(1, &["fernet", "decrypt", "garbage"], KEYS);
    expect(2, &["fernet", "encrypt"], &[]);
    expect(2, &["fernet", "decrypt", &out(&f), "--ttl", "x"], KEYS);

    // completions, usage
    expect(0, &["completions", "bash"], &[]);
    expect(2, &["completions", "tcsh-1"], &[]);
    expect(2, &["no-such-group"], &[]);
}

/// Runs with `input` on standard input.
fn run_with_stdin(args: &[&str], env: &[(&str, &str)], input: &[u8]) -> Output {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FWTOKEN_") {
            c.env_remove(k);
        }
    }
    let mut child = c
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// `--store sqlite:PATH` with a path that does not exist: exit 2 and nothing created, for
/// every command that uses a store except `store migrate`, which creates it (mode 600).
#[cfg(unix)]
#[test]
fn a_missing_sqlite_store_is_an_error_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fwtokn.sqlite");
    let store = format!("sqlite:{}", db.display());
    let id = "0123456789abcdef0123456789abcdef";
    let issued = json(&expect(0, &["device", "issue", "--user", "alice"], KEYS));
    let device_token = issued["token"].as_str().unwrap().to_string();
    let api = json(&expect(
        0,
        &[
            "api",
            "issue",
            "--user",
            "alice",
            "--app",
            "CMS",
            "--duration",
            "1h",
        ],
        KEYS,
    ));
    let api_token = api["token"].as_str().unwrap().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["user", "revoke", "alice"],
        vec!["device", "issue", "--user", "alice"],
        vec!["device", "verify", &device_token],
        vec!["device", "list", "--user", "alice"],
        vec!["device", "revoke", id],
        vec![
            "api",
            "issue",
            "--user",
            "alice",
            "--app",
            "CMS",
            "--duration",
            "1h",
        ],
        vec!["api", "verify", &api_token],
        vec!["api", "list", "--user", "alice"],
        vec!["api", "revoke", id],
        vec!["api", "revoke", "--user", "alice"],
        vec!["store", "purge"],
    ];
    for args in &commands {
        // As an option and through FWTOKEN_STORE.
        let mut with_flag = args.clone();
        with_flag.extend(["--store", store.as_str()]);
        let o = expect(2, &with_flag, KEYS);
        assert!(err(&o).contains("does not exist"), "{args:?}: {}", err(&o));
        let mut env = KEYS.to_vec();
        env.push(("FWTOKEN_STORE", store.as_str()));
        expect(2, args, &env);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{args:?} created a file"
        );
    }
    // `store migrate` creates it, readable by its owner only.
    let o = json(&expect(0, &["store", "migrate", "--store", &store], KEYS));
    assert_eq!(o["migrated"], true);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Then every command works on it.
    for args in &commands {
        let mut with_flag = args.clone();
        with_flag.extend(["--store", store.as_str()]);
        let o = run(&with_flag, KEYS);
        assert_ne!(code(&o), 2, "{args:?}: {}", err(&o));
    }
}

/// A store that can't be reached is exit 2, as a configuration error is.
#[test]
fn storage_unavailable_is_exit_2() {
    // A PostgreSQL URL to a port nothing listens on.
    let url = "postgres://fw:secret-pw@127.0.0.1:1/fw";
    for args in [
        vec!["store", "migrate"],
        vec!["device", "list", "--user", "alice"],
        vec!["user", "revoke", "alice"],
    ] {
        let mut a = args.clone();
        a.extend(["--store", url]);
        let o = expect(2, &a, KEYS);
        assert!(!err(&o).contains("secret-pw"), "{}", err(&o));
    }
    // A SQLite path in a directory that does not exist, even for `store migrate`.
    expect(
        2,
        &[
            "store",
            "migrate",
            "--store",
            "sqlite:/nonexistent/dir/fw.sqlite",
        ],
        KEYS,
    );
}

/// `FWTOKEN_X=` is `FWTOKEN_X` unset, for every variable the command reads.
#[test]
fn empty_environment_variables_mean_unset() {
    let token = out(&expect(
        0,
        &["login", "issue", "--user", "alice", "--now", NOW],
        KEYS,
    ));
    let verify = ["login", "verify", token.as_str(), "--now", NOW];
    // Empty backup secret, secrets file and store: as if unset; the command works.
    expect(
        0,
        &verify,
        &[
            ("FWTOKEN_SECRET", SECRET),
            ("FWTOKEN_BACKUP_SECRET", ""),
            ("FWTOKEN_SECRETS_FILE", ""),
            ("FWTOKEN_STORE", ""),
        ],
    );
    // An empty FWTOKEN_STORE is no store: the store commands say they need one.
    let o = expect(
        2,
        &["device", "list", "--user", "a"],
        &[("FWTOKEN_SECRET", SECRET), ("FWTOKEN_STORE", "")],
    );
    assert!(err(&o).contains("needs a store"), "{}", err(&o));
    // An empty FWTOKEN_SECRET is no secret.
    let o = expect(2, &verify, &[("FWTOKEN_SECRET", "")]);
    assert!(err(&o).contains("FWTOKEN_SECRET is not set"), "{}", err(&o));
    // Empty backup keys for Edgecast and Fernet: no backup.
    let env = [
        ("FWTOKEN_EDGE_KEY", EDGE_KEY),
        ("FWTOKEN_EDGE_BACKUP_KEY", ""),
        ("FWTOKEN_FERNET_KEY", FERNET_KEY),
        ("FWTOKEN_FERNET_BACKUP_KEY", ""),
    ];
    expect(
        0,
        &["edge", "encrypt", "--params", "ec_expire=1900000000"],
        &env,
    );
    let f = run_with_stdin(&["fernet", "encrypt"], &env, b"x");
    assert_eq!(code(&f), 0, "{}", err(&f));
    // On the command line, an empty value is a usage error, never "unset".
    expect(2, &["device", "list", "--user", "a", "--store", ""], KEYS);
    expect(2, &["secret", "fingerprint", "--secrets-file", ""], KEYS);
}

/// `fernet encrypt` reads at most its limit plus one byte of standard input: a 200 MB
/// input is refused (exit 2) after the command has read a few kilobytes of it.
#[test]
fn standard_input_is_read_with_a_bound() {
    let mut c = Command::new(BIN);
    let mut child = c
        .args(["fernet", "encrypt"])
        .env("FWTOKEN_FERNET_KEY", FERNET_KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        let mut written = 0usize;
        while written < 200 * 1024 * 1024 {
            match stdin.write(&chunk) {
                Ok(n) => written += n,
                Err(_) => break, // the command closed its end
            }
        }
        written
    });
    let o = child.wait_with_output().unwrap();
    let written = writer.join().unwrap();
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(err(&o).contains("larger than 6079 bytes"), "{}", err(&o));
    // What the command did not read stayed in the pipe (64 KiB on Linux) or was never
    // written: far from 200 MB.
    assert!(
        written < 4 * 1024 * 1024,
        "{written} bytes were written before the command exited"
    );
    // At the limit exactly: accepted.
    let ok = run_with_stdin(
        &["fernet", "encrypt"],
        &[("FWTOKEN_FERNET_KEY", FERNET_KEY)],
        &[b'y'; 6079],
    );
    assert_eq!(code(&ok), 0, "{}", err(&ok));
    let over = run_with_stdin(
        &["fernet", "encrypt"],
        &[("FWTOKEN_FERNET_KEY", FERNET_KEY)],
        &[b'y'; 6080],
    );
    assert_eq!(code(&over), 2, "{}", err(&over));
}

/// The help says what the exit codes are.
#[test]
fn the_help_states_the_contract() {
    let o = expect(0, &["--help"], &[]);
    let help = out(&o);
    assert!(help.contains("Exit codes: 0 ok; 1 refused"), "{help}");
    assert!(
        help.contains("An empty environment variable counts as unset"),
        "{help}"
    );
}

/// The secrets file's rules through the command: a regular file of the reader's, private;
/// a full API key of at least 16 characters (a warning under 32). Exit 2 otherwise, and the
/// secrets are never printed.
#[cfg(unix)]
#[test]
fn the_secrets_file_must_be_a_private_regular_file_of_the_reader() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets");
    let write = |text: &str| {
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    let fingerprint = |p: &Path| {
        run(
            &[
                "secret",
                "fingerprint",
                "--secrets-file",
                p.to_str().unwrap(),
            ],
            &[],
        )
    };
    write(&format!("primary = {SECRET}\n"));
    let o = fingerprint(&path);
    assert_eq!(code(&o), 0, "{}", err(&o));

    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let o = fingerprint(&link);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("symbolic link"), "{}", err(&o));

    let o = fingerprint(dir.path());
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("not a regular file"), "{}", err(&o));

    let fifo = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let o = fingerprint(&fifo);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("not a regular file"), "{}", err(&o));

    // Another user's file: refused whatever its mode (as root: a file given to nobody;
    // as anyone else: root's /etc/passwd).
    let other = if made_by_root(dir.path()) {
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        path.clone()
    } else {
        Path::new("/etc/passwd").to_path_buf()
    };
    let o = fingerprint(&other);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("owned by uid"), "{}", err(&o));
    assert!(!err(&o).contains(SECRET));
    if other == path {
        std::os::unix::fs::chown(&path, Some(0), None).unwrap();
    }

    // The full API key.
    write(&format!("primary = {SECRET}\napi_key = abc\n"));
    let o = fingerprint(&path);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("at least 16 characters"), "{}", err(&o));
    write(&format!(
        "primary = {SECRET}\napi_key = twenty characters!!!\n"
    ));
    let o = fingerprint(&path);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        err(&o).contains("warning: api_key in the secrets file is short"),
        "{}",
        err(&o)
    );
    assert!(!err(&o).contains("twenty characters!!!"), "{}", err(&o));
}

/// True when the directory `dir` (made by this process) belongs to root: the tests run as
/// root.
#[cfg(unix)]
fn made_by_root(dir: &Path) -> bool {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(dir).unwrap()) == 0
}
