//! The Edgecast guard: every spelling of a dot segment that an origin treats as `.` or
//! `..` is refused under an allowed prefix (before the fix `/edge/videos/..;/secret`,
//! `..%3B`, `..%20`, `...` and `.%20` were served), the public host decides host rules
//! (never `Host`), and rotation works.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use axum::body::Body;
use fwtoken::{EdgeKey, EdgeParams, EdgeParamsBuilder};
use fwtoken_axum::edge_path;
use http::{Request, StatusCode};

use common::{PUBLIC_HOST, Site, now};

fn token(site: &Site, b: EdgeParamsBuilder) -> String {
    let params = b
        .expires_at(now() + Duration::from_secs(3600))
        .build()
        .unwrap();
    site.auth
        .edge_ring()
        .unwrap()
        .encrypt_params(&params, &mut fwtoken::os_rng())
        .unwrap()
}

/// Every spelling, raw, and with its characters percent-encoded (once, upper and lower
/// case, and twice).
const TRAVERSALS: &[&str] = &[
    "..;",
    "..;x",
    "..%3B",
    "..%3b",
    "..%20",
    "...",
    "....",
    ".%20",
    ".%20%20",
    "..%20;",
    ".",
    "..",
    "%2e%2e",
    "%2E%2E",
    "%2e%2e%3b",
    "%2E%2E%3B",
    "%2e%2e%20",
    "%2e%2e%2e",
    "%2e%20",
    ".%2e",
    "%252e%252e",
    "%252e%252e%253b",
    "%252E%20",
];

#[tokio::test]
async fn every_dot_segment_spelling_is_refused_under_an_allowed_prefix() {
    let site = Site::new().await;
    let t = token(&site, EdgeParams::builder().url_allow("/edge/videos/"));
    let ok = site
        .get(&format!("/edge/videos/intro.mp4?token={t}"), &[])
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    for seg in TRAVERSALS {
        for path in [
            format!("/edge/videos/{seg}/secret.pdf"),
            format!("/edge/videos/{seg}"),
            format!("/edge/videos/a/{seg}/{seg}/private/x"),
        ] {
            // The path goes to the router exactly as written (no client normalizes it).
            let answer = site
                .send(
                    Request::get(format!("{path}?token={t}"))
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
            assert!(answer.body.is_empty());
        }
    }
    assert!(site.refused("/edge/{*path}", "dot-segment"));
    // Names that merely start or end with dots are names.
    for name in [".hidden", "a.", "..a", "a..b", "v1.2", ".a.", "x%20."] {
        let answer = site
            .get(&format!("/edge/videos/{name}?token={t}"), &[])
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{name}");
    }
}

#[test]
fn edge_path_decodes_once_and_names_the_defect() {
    assert_eq!(
        edge_path("/edge/demo/intro%20clip.mp4"),
        Ok("/edge/demo/intro clip.mp4".into())
    );
    for seg in TRAVERSALS {
        assert_eq!(
            edge_path(&format!("/edge/v/{seg}/x")),
            Err("dot-segment"),
            "{seg}"
        );
    }
    for (path, kind) in [
        ("/edge/demo/..%2Fprivate/x", "encoded-separator"),
        ("/edge/demo/..%2fprivate/x", "encoded-separator"),
        ("/edge/demo/..%5Cprivate/x", "encoded-separator"),
        ("/edge/demo/%252Fprivate/x", "encoded-separator"),
        ("/edge/demo/..\\private/x", "backslash"),
        ("/edge/demo/%zz", "bad-percent-encoding"),
        ("/edge/demo/%2", "bad-percent-encoding"),
        ("/edge/demo/%ff", "not-utf8"),
        ("/edge/demo/a%00b", "control-character"),
        ("/edge/demo/a%0Ab", "control-character"),
    ] {
        assert_eq!(edge_path(path), Err(kind), "{path}");
    }
    // Decoded once: a literal `%` stays (an encoded `%25` followed by a name).
    assert_eq!(edge_path("/edge/100%25.txt"), Ok("/edge/100%.txt".into()));
}

#[tokio::test]
async fn host_rules_see_the_public_host_never_the_host_header() {
    let site = Site::new().await;
    let public = token(&site, EdgeParams::builder().host_allow(PUBLIC_HOST));
    let spoofed = token(&site, EdgeParams::builder().host_allow("evil.example"));
    let denied = token(&site, EdgeParams::builder().host_deny(PUBLIC_HOST));
    let host = [("host", "evil.example")];
    assert_eq!(
        site.get(&format!("/edge/a.mp4?token={public}"), &host)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        site.get(&format!("/edge/a.mp4?token={spoofed}"), &host)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        site.get(&format!("/edge/a.mp4?token={denied}"), &host)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert!(site.refused("/edge/{*path}", "ec_host_allow"));
    assert!(site.refused("/edge/{*path}", "ec_host_deny"));
    // The client address is the connection's; a forged X-Forwarded-For does not count.
    let mine = token(
        &site,
        EdgeParams::builder().client_ip(common::CLIENT.into()),
    );
    let theirs = token(
        &site,
        EdgeParams::builder().client_ip([198, 51, 100, 1].into()),
    );
    assert_eq!(
        site.get(&format!("/edge/a.mp4?token={mine}"), &[])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        site.get(
            &format!("/edge/a.mp4?token={theirs}"),
            &[("x-forwarded-for", "198.51.100.1")]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert!(site.refused("/edge/{*path}", "ec_clientip"));
}

#[tokio::test]
async fn edge_keys_rotate_and_retire() {
    let site = Site::new().await;
    let t = token(&site, EdgeParams::builder());
    let url = format!("/edge/videos/intro.mp4?token={t}");
    site.auth
        .rotate_edge(EdgeKey::new("EdgeNextKey2027").unwrap())
        .unwrap();
    assert_eq!(site.get(&url, &[]).await.status, StatusCode::OK);
    assert!(
        site.events()
            .iter()
            .any(|l| l.contains("decrypted with the backup key"))
    );
    site.auth.retire_edge_backup();
    assert_eq!(site.get(&url, &[]).await.status, StatusCode::FORBIDDEN);
    // Paths outside the prefix are not guarded.
    assert_ne!(
        site.get("/fotoweb/me", &[]).await.status,
        StatusCode::FORBIDDEN
    );
}
