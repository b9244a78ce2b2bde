//! `fwtoken store migrate` on a store file others can read (an older release made them
//! 0644): a warning naming the file and its mode; the mode is left as it is.
#![cfg(unix)]
#![allow(clippy::unwrap_used, missing_docs)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn migrate(store: &str) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fwtoken"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FWTOKEN_") {
            c.env_remove(k);
        }
    }
    c.args(["--store", store, "store", "migrate"])
        .output()
        .unwrap()
}

#[test]
fn store_migrate_warns_about_a_store_file_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.sqlite");
    let store = format!("sqlite:{}", db.display());
    // Created by migrate: 0600, no warning.
    let o = migrate(&store);
    assert_eq!(o.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"));
    // As an older release left it.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = migrate(&store);
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning:") && err.contains("mode 644"),
        "{err}"
    );
    assert!(err.contains("fw.sqlite"), "{err}");
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "the mode is the operator's to change");
}
