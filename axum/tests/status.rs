//! Every row of the status table, through the router and the layer with `oneshot`: the
//! caller extractors, the crate's routes, the hooks, and the store failing on command.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::get;
use fwtoken::{
    API_TOKEN_INFO_MEDIA_TYPE, API_TOKEN_REQUEST_MEDIA_TYPE, ApiPolicy, ApiToken, ApiTokenInfo,
    ApiTokenRequest, CacheLink, DeviceToken, IpNetwork, KeyRing, LoginToken, Secret,
};
use fwtoken_axum::{Caller, FwAuth, Refusal};
use fwtoken_store::testing::{Fault, Op};
use fwtoken_store::{DeviceLimit, Store, StoreConfig};
use http::{Request, StatusCode, header};
use tower::ServiceExt;

use common::{API_KEY, DENIED, OWNER, SECRET, Site, assert_bare, now, ring};

/// An API token issued through the route (so it is registered); its text.
async fn api_token(site: &Site, user: &str) -> String {
    let request = ApiTokenRequest::new(user, "CMS", Duration::from_secs(600));
    let answer = site
        .send(
            Request::post("/fotoweb/me/tokens/")
                .header("FWAPIToken", API_KEY)
                .header(header::CONTENT_TYPE, API_TOKEN_REQUEST_MEDIA_TYPE)
                .body(Body::from(serde_json::to_vec(&request).unwrap()))
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let info: ApiTokenInfo = serde_json::from_slice(&answer.body).unwrap();
    info.token
}

/// Nothing the test handed out appears in any event.
fn assert_events_clean(site: &Site, secrets: &[&str]) {
    for line in site.events() {
        for s in secrets.iter().chain([&SECRET, &API_KEY]) {
            assert!(!line.contains(s), "{line}");
        }
    }
}

#[tokio::test]
async fn row_401_no_credential_where_one_is_required() {
    let site = Site::new().await;
    for path in ["/fotoweb/me", "/everything", "/session"] {
        assert_bare(&site.get(path, &[]).await, StatusCode::UNAUTHORIZED);
    }
    assert_bare(
        &site.post("/fotoweb/me/logout", &[]).await,
        StatusCode::UNAUTHORIZED,
    );
    assert_bare(
        &site.get("/fotoweb/admin/users/alice/devices", &[]).await,
        StatusCode::UNAUTHORIZED,
    );
    // Other cookies are not a credential.
    assert_bare(
        &site.me("theme=dark; lang=nb").await,
        StatusCode::UNAUTHORIZED,
    );
    assert!(site.refused("/fotoweb/me", "no-credentials"));
}

#[tokio::test]
async fn row_401_bad_signature() {
    let site = Site::new().await;
    let foreign = KeyRing::new(Secret::from_text("somebody else's site secret").unwrap());
    let (token, _) = DeviceToken::issue(&foreign, "alice", now(), &mut fwtoken::os_rng()).unwrap();
    assert_bare(
        &site.me(&format!("FWSession={token}")).await,
        StatusCode::UNAUTHORIZED,
    );
    let request = ApiTokenRequest::new("alice", "CMS", Duration::from_secs(600));
    let info = ApiToken::issue(
        &foreign,
        &request,
        now(),
        &ApiPolicy::new(),
        &mut fwtoken::os_rng(),
    )
    .unwrap();
    assert_bare(
        &site
            .get("/fotoweb/me", &[("FWAPIToken", &info.token)])
            .await,
        StatusCode::UNAUTHORIZED,
    );
    let forged = LoginToken::builder("alice").issue(&foreign, now()).unwrap();
    let answer = site
        .get(&fwtoken::login_url("/fotoweb/", &forged), &[])
        .await;
    assert_bare(&answer, StatusCode::UNAUTHORIZED);
    assert!(answer.set_cookies().is_empty());
    // A wrong full key is a bad API token.
    assert_bare(
        &site
            .get("/fotoweb/me", &[("FWAPIToken", "not the key")])
            .await,
        StatusCode::UNAUTHORIZED,
    );
    assert!(site.refused("/fotoweb/me", "invalid-signature"));
    assert!(site.refused("/fotoweb/", "invalid-signature"));
    assert_events_clean(&site, &[&token, &info.token, &forged]);
}

#[tokio::test]
async fn row_401_expired() {
    let site = Site::new().await;
    let t = now();
    let expired = LoginToken::builder("alice")
        .start(t - Duration::from_secs(3600))
        .end(t - Duration::from_secs(120))
        .issue(&ring(), t)
        .unwrap();
    let answer = site
        .get(&fwtoken::login_url("/fotoweb/", &expired), &[])
        .await;
    assert_bare(&answer, StatusCode::UNAUTHORIZED);
    // Within the 60 s leeway it still logs in.
    let late = LoginToken::builder("alice")
        .start(t - Duration::from_secs(3600))
        .end(t - Duration::from_secs(20))
        .issue(&ring(), t)
        .unwrap();
    let answer = site.get(&fwtoken::login_url("/fotoweb/", &late), &[]).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    // An API token past its expiry (and the leeway).
    let request = ApiTokenRequest::new("alice", "CMS", Duration::from_secs(60));
    let old = ApiToken::issue(
        &ring(),
        &request,
        t - Duration::from_secs(3600),
        &ApiPolicy::new(),
        &mut fwtoken::os_rng(),
    )
    .unwrap();
    assert_bare(
        &site.get("/fotoweb/me", &[("FWAPIToken", &old.token)]).await,
        StatusCode::UNAUTHORIZED,
    );
    assert!(site.refused("/fotoweb/", "expired"));
    assert!(site.refused("/fotoweb/me", "expired"));
}

#[tokio::test]
async fn row_401_revoked_or_unknown() {
    let site = Site::new().await;
    let laptop = site.session("alice").await;
    let phone = site.session("alice").await;
    let device = site.me(&laptop).await.json()["device"]
        .as_str()
        .unwrap()
        .to_string();
    let revoke = format!("/fotoweb/admin/devices/{device}/revoke");
    assert_eq!(
        site.post(&revoke, &[("FWAPIToken", API_KEY)]).await.status,
        StatusCode::NO_CONTENT
    );
    assert_bare(&site.me(&laptop).await, StatusCode::UNAUTHORIZED);
    assert_eq!(site.me(&phone).await.status, StatusCode::OK);
    assert!(site.refused("/fotoweb/me", "revoked-device"));
    // A device token the store never registered (made by a tool without the store).
    let (unregistered, _) =
        DeviceToken::issue(&ring(), "alice", now(), &mut fwtoken::os_rng()).unwrap();
    assert_bare(
        &site.me(&format!("FWSession={unregistered}")).await,
        StatusCode::UNAUTHORIZED,
    );
    // API tokens: revoked by id, and never registered.
    let token = api_token(&site, "bob").await;
    assert_eq!(
        site.get("/fotoweb/me", &[("FWAPIToken", &token)])
            .await
            .status,
        StatusCode::OK
    );
    let id = ApiToken::verify(&ring(), &token, now(), Duration::ZERO)
        .unwrap()
        .token_id;
    let revoke = format!("/fotoweb/admin/tokens/{id}/revoke");
    assert_eq!(
        site.post(&revoke, &[("FWAPIToken", API_KEY)]).await.status,
        StatusCode::NO_CONTENT
    );
    assert_bare(
        &site.get("/fotoweb/me", &[("FWAPIToken", &token)]).await,
        StatusCode::UNAUTHORIZED,
    );
    assert_eq!(
        site.post(&revoke, &[("FWAPIToken", API_KEY)]).await.status,
        StatusCode::NOT_FOUND
    );
    let request = ApiTokenRequest::new("bob", "CMS", Duration::from_secs(600));
    let never = ApiToken::issue(
        &ring(),
        &request,
        now(),
        &ApiPolicy::new(),
        &mut fwtoken::os_rng(),
    )
    .unwrap();
    assert_bare(
        &site
            .get("/fotoweb/me", &[("FWAPIToken", &never.token)])
            .await,
        StatusCode::UNAUTHORIZED,
    );
    assert!(site.refused("/fotoweb/me", "revoked-api-token"));
}

/// `n` cookies, one of them alice's and one another device's, the rest junk, in every
/// rotation of their order: always 401; with only alice's among the junk, 200.
async fn ambiguity(n: usize) {
    let site = Site::new().await;
    let alice = site.session("alice").await;
    let planted = site.session("eve").await;
    let junk = |i: usize| format!("FWSession=junk{i}AAAA");
    let mut cookies: Vec<String> = (0..n - 2).map(junk).collect();
    cookies.push(alice.clone());
    cookies.push(planted);
    for shift in 0..n {
        cookies.rotate_left(1);
        let header = cookies.join("; ");
        assert_bare(&site.me(&header).await, StatusCode::UNAUTHORIZED);
        // The same cookies in separate `Cookie` headers.
        let mut request = Request::get("/fotoweb/me");
        for c in &cookies {
            request = request.header(header::COOKIE, c);
        }
        let answer = site.send(request.body(Body::empty()).unwrap()).await;
        assert_bare(&answer, StatusCode::UNAUTHORIZED);
        let _ = shift;
    }
    assert!(site.refused("/fotoweb/me", "ambiguous-session"));
    // Alice's cookie among junk (and twice): alice.
    let mut honest: Vec<String> = (0..n - 1).map(junk).collect();
    honest.push(alice.clone());
    for _ in 0..n {
        honest.rotate_left(1);
        let answer = site.me(&format!("{}; {alice}", honest.join("; "))).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.json()["user"], "alice");
    }
}

#[tokio::test]
async fn row_401_ambiguous_with_2_cookies() {
    ambiguity(2).await;
}

#[tokio::test]
async fn row_401_ambiguous_with_5_cookies() {
    ambiguity(5).await;
}

#[tokio::test]
async fn row_401_ambiguous_with_20_cookies() {
    ambiguity(20).await;
}

#[tokio::test]
async fn two_devices_of_one_user_are_ambiguous_too() {
    let site = Site::new().await;
    let a = site.session("alice").await;
    let b = site.session("alice").await;
    assert_bare(
        &site.me(&format!("{a}; {b}")).await,
        StatusCode::UNAUTHORIZED,
    );
    assert_eq!(site.me(&format!("{a}; {a}")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn row_401_login_token_used_before() {
    let site = Site::new().await;
    let token = site.login_token("carol");
    let url = fwtoken::login_url("/fotoweb/", &token);
    assert_eq!(site.get(&url, &[]).await.status, StatusCode::FOUND);
    assert_bare(&site.get(&url, &[]).await, StatusCode::UNAUTHORIZED);
    // Another spelling of the same token (`%2B` left encoded) is the same token.
    let respelled = format!("/fotoweb/?lt={}", token.replace('+', "%252B"));
    assert_bare(&site.get(&respelled, &[]).await, StatusCode::UNAUTHORIZED);
    assert!(site.refused("/fotoweb/", "login-token-used"));
    // Without single use, a resent token logs in again.
    let reuse = Site::with(StoreConfig::new(), |b| b.single_use_login(false)).await;
    let token = reuse.login_token("carol");
    let url = fwtoken::login_url("/fotoweb/", &token);
    assert_eq!(reuse.get(&url, &[]).await.status, StatusCode::FOUND);
    assert_eq!(reuse.get(&url, &[]).await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn row_403_a_user_on_an_admin_route() {
    let site = Site::new().await;
    let cookie = site.session("bob").await;
    let token = api_token(&site, "bob").await;
    for (name, value) in [("cookie", cookie.as_str()), ("FWAPIToken", token.as_str())] {
        for path in [
            "/fotoweb/admin/users/alice/devices",
            "/fotoweb/admin/users/alice/tokens",
            "/everything",
        ] {
            assert_bare(
                &site.get(path, &[(name, value)]).await,
                StatusCode::FORBIDDEN,
            );
        }
        assert_bare(
            &site
                .post("/fotoweb/admin/users/alice/revoke", &[(name, value)])
                .await,
            StatusCode::FORBIDDEN,
        );
    }
    assert!(site.refused("/fotoweb/admin/users/{user}/tokens", "not-administrator"));
    // The administrator passes.
    assert_eq!(
        site.get("/everything", &[("FWAPIToken", API_KEY)])
            .await
            .text(),
        "admin"
    );
}

#[tokio::test]
async fn row_403_the_device_cap_is_ten_by_default() {
    let site = Site::new().await;
    assert_eq!(site.auth.device_limit(), DeviceLimit::refuse(10));
    let mut cookies = Vec::new();
    for _ in 0..10 {
        cookies.push(site.session("carol").await);
    }
    let eleventh = site.login("Carol").await;
    assert_bare(&eleventh, StatusCode::FORBIDDEN);
    assert!(eleventh.set_cookies().is_empty());
    assert!(site.refused("/fotoweb/", "device-limit"));
    for c in &cookies {
        assert_eq!(site.me(c).await.status, StatusCode::OK);
    }
    // Another user is not affected; with eviction the oldest device makes room.
    assert_eq!(site.login("dave").await.status, StatusCode::FOUND);
    let evicting = Site::with(StoreConfig::new(), |b| {
        b.device_limit(DeviceLimit::evict(2))
    })
    .await;
    let first = evicting.session("erin").await;
    let second = evicting.session("erin").await;
    let third = evicting.session("erin").await;
    assert_bare(&evicting.me(&first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(evicting.me(&second).await.status, StatusCode::OK);
    assert_eq!(evicting.me(&third).await.status, StatusCode::OK);
}

#[tokio::test]
async fn row_403_the_owner_or_a_denied_user() {
    let site = Site::new().await;
    for user in [
        OWNER,
        "CORP\\SiteOwner",
        "siteowner@elsewhere.example",
        DENIED,
    ] {
        let answer = site.login(user).await;
        assert_bare(&answer, StatusCode::FORBIDDEN);
        assert!(answer.set_cookies().is_empty());
    }
    assert!(site.refused("/fotoweb/", "denied-user"));
    // An API token for the owner, minted before the owner was configured: refused on
    // every request.
    let request = ApiTokenRequest::new("SiteOwner", "CMS", Duration::from_secs(600));
    let info = ApiToken::issue(
        &ring(),
        &request,
        now(),
        &ApiPolicy::new(),
        &mut fwtoken::os_rng(),
    )
    .unwrap();
    assert_bare(
        &site
            .get("/fotoweb/me", &[("FWAPIToken", &info.token)])
            .await,
        StatusCode::FORBIDDEN,
    );
    // Asking for one: refused.
    let answer = site
        .send(
            Request::post("/fotoweb/me/tokens/")
                .header("FWAPIToken", API_KEY)
                .header(header::CONTENT_TYPE, API_TOKEN_REQUEST_MEDIA_TYPE)
                .body(Body::from(serde_json::to_vec(&request).unwrap()))
                .unwrap(),
        )
        .await;
    assert_bare(&answer, StatusCode::FORBIDDEN);
    assert!(site.refused("/fotoweb/me/tokens/", "denied-user"));
}

#[tokio::test]
async fn row_400_a_credential_in_the_query_string() {
    let site = Site::new().await;
    let cookie = site.session("alice").await;
    let token = cookie.strip_prefix("FWSession=").unwrap();
    for query in [
        format!("FWAPIToken={API_KEY}").replace(' ', "%20"),
        "fwapitoken=x&a=1".to_string(),
        format!("FWSession={token}"),
        format!("fwsession={token}"),
        // The name percent-encoded.
        format!("FW%53ession={token}"),
    ] {
        for path in ["/fotoweb/me", "/optional", "/session"] {
            let answer = site
                .get(&format!("{path}?{query}"), &[("cookie", &cookie)])
                .await;
            assert_bare(&answer, StatusCode::BAD_REQUEST);
        }
    }
    assert!(site.refused("/fotoweb/me", "credentials-in-query"));
    // An ordinary query string is fine.
    assert_eq!(
        site.get("/fotoweb/me?lang=nb", &[("cookie", &cookie)])
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn row_404_a_bad_or_expired_cache_link() {
    let site = Site::new().await;
    let t = now();
    let link = CacheLink::new("/archives/harbour.tif")
        .width(64)
        .format("png")
        .expires_in(t, Duration::from_secs(3600))
        .unwrap();
    let path = site.auth.cache_link_path(&link, t).unwrap();
    let ok = site.get(&path, &[]).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.text(), "rendition of /archives/harbour.tif");
    let age: u64 = ok.headers["cache-control"]
        .to_str()
        .unwrap()
        .strip_prefix("public, max-age=")
        .unwrap()
        .parse()
        .unwrap();
    assert!(age > 3500 && age <= 7200, "{age}");
    let signer = site.auth.cache_signer().unwrap();
    let then = t - Duration::from_secs(3 * 3600);
    let expired = signer
        .path(
            &CacheLink::new("/a.tif")
                .expires_in(then, Duration::from_secs(3600))
                .unwrap(),
            then,
        )
        .unwrap();
    let elsewhere = signer
        .path(
            &CacheLink::new("/a.tif").client("198.51.100.0/24".parse().unwrap()),
            t,
        )
        .unwrap();
    let (head, tail) = path.split_at(path.len() - 8);
    let flipped = format!(
        "{head}{}{}",
        if tail.starts_with('A') { 'B' } else { 'A' },
        &tail[1..]
    );
    for bad in [expired, elsewhere, flipped, format!("{path}?w=9999")] {
        assert_bare(&site.get(&bad, &[]).await, StatusCode::NOT_FOUND);
    }
    assert!(site.refused("/fotoweb/cache/v1/{file}", "expired"));
    assert!(site.refused("/fotoweb/cache/v1/{file}", "client-not-allowed"));
    // A link bound to this client: private.
    let mine = signer
        .path(
            &CacheLink::new("/b.tif").client(IpNetwork::host(common::CLIENT.into())),
            t,
        )
        .unwrap();
    let answer = site.get(&mine, &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["cache-control"], "private, no-store");
    // No expiry: at most the cap (a day).
    let forever = signer.path(&CacheLink::new("/c.tif"), t).unwrap();
    assert_eq!(
        site.get(&forever, &[]).await.headers["cache-control"],
        "public, max-age=86400"
    );
}

#[tokio::test]
async fn row_403_an_edgecast_token_refused() {
    let site = Site::new().await;
    let ring = site.auth.edge_ring().unwrap();
    let t = now();
    let params = fwtoken::EdgeParams::builder()
        .expires_at(t + Duration::from_secs(3600))
        .url_allow("/edge/videos/")
        .build()
        .unwrap();
    let token = ring
        .encrypt_params(&params, &mut fwtoken::os_rng())
        .unwrap();
    let ok = site
        .get(&format!("/edge/videos/intro.mp4?token={token}"), &[])
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.text(), "edge content for /edge/videos/intro.mp4\n");
    for path in [
        format!("/edge/private/a.pdf?token={token}"),
        "/edge/videos/intro.mp4".to_string(),
        format!("/edge/videos/intro.mp4?token={token}&token={token}"),
        "/edge/videos/intro.mp4?token=AAAA".to_string(),
    ] {
        assert_bare(&site.get(&path, &[]).await, StatusCode::FORBIDDEN);
    }
    assert!(site.refused("/edge/{*path}", "ec_url_allow"));
    assert!(site.refused("/edge/{*path}", "no-token"));
}

#[tokio::test]
async fn row_503_the_store_unavailable() {
    let site = Site::uncached().await;
    let cookie = site.session("alice").await;
    let token = api_token(&site, "bob").await;
    site.faults.fail(Fault::Unavailable);
    assert_bare(&site.me(&cookie).await, StatusCode::SERVICE_UNAVAILABLE);
    assert_bare(
        &site.get("/fotoweb/me", &[("FWAPIToken", &token)]).await,
        StatusCode::SERVICE_UNAVAILABLE,
    );
    // Not "no credential" either: an outage must not look like a logout.
    let optional = site.get("/optional", &[("cookie", &cookie)]).await;
    assert_bare(&optional, StatusCode::SERVICE_UNAVAILABLE);
    assert_bare(&site.login("carol").await, StatusCode::SERVICE_UNAVAILABLE);
    assert_bare(
        &site
            .get(
                "/fotoweb/admin/users/alice/devices",
                &[("FWAPIToken", API_KEY)],
            )
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
    );
    assert_bare(
        &site
            .post(
                "/fotoweb/admin/users/alice/revoke",
                &[("FWAPIToken", API_KEY)],
            )
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
    );
    // Writes only failing (a database gone read-only): a login is refused, a check works.
    site.faults.heal();
    site.faults.fail_writes(Fault::Unavailable);
    assert_bare(&site.login("carol").await, StatusCode::SERVICE_UNAVAILABLE);
    assert_bare(
        &site
            .post("/fotoweb/me/logout", &[("cookie", &cookie)])
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
    );
    assert!(site.refused("/fotoweb/me", "store-unavailable"));
    assert!(site.refused("/fotoweb/", "store-unavailable"));
    site.faults.heal();
    assert_eq!(site.me(&cookie).await.status, StatusCode::OK);
}

#[tokio::test]
async fn row_500_any_other_store_error() {
    let site = Site::uncached().await;
    let cookie = site.session("alice").await;
    site.faults.fail(Fault::Corrupt);
    assert_bare(&site.me(&cookie).await, StatusCode::INTERNAL_SERVER_ERROR);
    assert_bare(
        &site.login("carol").await,
        StatusCode::INTERNAL_SERVER_ERROR,
    );
    assert!(site.refused("/fotoweb/me", "store-error"));
}

#[tokio::test]
async fn a_handler_without_the_layer_is_a_500_that_names_it() {
    let store = Store::memory(StoreConfig::new()).await.unwrap();
    let _auth = FwAuth::builder(ring(), store).build().unwrap();
    async fn me(caller: Caller) -> String {
        format!("{caller:?}")
    }
    async fn maybe(caller: Option<Caller>) -> String {
        format!("{caller:?}")
    }
    let app = axum::Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .merge(fwtoken_axum::routes());
    for path in ["/me", "/maybe", "/fotoweb/?lt=x"] {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("FwAuthLayer"), "{body}");
    }
}

#[tokio::test]
async fn option_is_none_only_without_any_credential() {
    let site = Site::new().await;
    assert_eq!(site.get("/optional", &[]).await.text(), "none");
    assert_eq!(
        site.get("/optional", &[("cookie", "theme=dark")])
            .await
            .text(),
        "none"
    );
    let cookie = site.session("alice").await;
    let some = site.get("/optional", &[("cookie", &cookie)]).await;
    assert!(some.text().starts_with("some "), "{}", some.text());
    // A credential that does not verify is still refused, whatever it looks like.
    for bad in [
        "FWSession=not-a-token",
        "FWSession=",
        "FWSession=\"unbalanced",
        "a=1; FWSession",
    ] {
        assert_bare(
            &site.get("/optional", &[("cookie", bad)]).await,
            StatusCode::UNAUTHORIZED,
        );
    }
    assert_bare(
        &site.get("/optional", &[("FWAPIToken", "nonsense")]).await,
        StatusCode::UNAUTHORIZED,
    );
    assert_bare(
        &site
            .get(
                "/optional",
                &[("FWAPIToken", API_KEY), ("FWAPIToken", API_KEY)],
            )
            .await,
        StatusCode::UNAUTHORIZED,
    );
    // A bad API token header is not rescued by a valid cookie.
    assert_bare(
        &site
            .get(
                "/optional",
                &[("FWAPIToken", "nonsense"), ("cookie", &cookie)],
            )
            .await,
        StatusCode::UNAUTHORIZED,
    );
}

#[tokio::test]
async fn one_store_lookup_per_request() {
    let site = Site::uncached().await;
    let cookie = site.session("alice").await;
    // The first request records `last_seen` (a write, once a minute): warm it up.
    assert_eq!(site.me(&cookie).await.status, StatusCode::OK);
    site.faults.reset_calls();
    assert_eq!(site.me(&cookie).await.status, StatusCode::OK);
    assert_eq!(site.faults.calls(Op::DeviceStatus), 1);
    assert_eq!(site.faults.request_calls(), 1);
    // Three extractors that all need the caller: still one lookup.
    let token = api_token(&site, "bob").await;
    site.faults.reset_calls();
    assert_bare(
        &site.get("/everything", &[("FWAPIToken", &token)]).await,
        StatusCode::FORBIDDEN,
    );
    assert_eq!(site.faults.calls(Op::ApiTokenStatus), 1);
    assert_eq!(site.faults.request_calls(), 1);
    site.faults.reset_calls();
    assert_bare(
        &site.get("/everything", &[("cookie", &cookie)]).await,
        StatusCode::FORBIDDEN,
    );
    assert_eq!(site.faults.request_calls(), 1);
    // The full key needs no lookup at all.
    site.faults.reset_calls();
    assert_eq!(
        site.get("/everything", &[("FWAPIToken", API_KEY)])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(site.faults.request_calls(), 0);
}

#[tokio::test]
async fn a_session_from_the_backup_secret_is_reissued_after_a_rotation() {
    let site = Site::new().await;
    let cookie = site.session("alice").await;
    let device = site.me(&cookie).await.json()["device"].clone();
    site.auth
        .rotate(Secret::from_text(common::NEXT_SECRET).unwrap())
        .unwrap();
    let answer = site.me(&cookie).await;
    assert_eq!(answer.status, StatusCode::OK);
    let fresh = answer.session_cookie();
    assert_ne!(fresh, cookie);
    assert!(site.events().iter().any(|l| l.contains("re-issued")));
    // Same device, sealed under the new primary.
    let only_new = KeyRing::new(Secret::from_text(common::NEXT_SECRET).unwrap());
    let claims = DeviceToken::verify(&only_new, fresh.strip_prefix("FWSession=").unwrap()).unwrap();
    assert_eq!(claims.device_id.to_string(), device.as_str().unwrap());
    // Retired: the old cookie is refused, the new one works and is not re-issued.
    site.auth.retire_backup();
    assert_bare(&site.me(&cookie).await, StatusCode::UNAUTHORIZED);
    let again = site.me(&fresh).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.set_cookies().is_empty());
    assert_eq!(again.json()["device"], device);
}

#[tokio::test]
async fn logout_revokes_the_device_and_clears_the_cookie() {
    let site = Site::new().await;
    let cookie = site.session("alice").await;
    let other = site.session("alice").await;
    let answer = site
        .post("/fotoweb/me/logout", &[("cookie", &cookie)])
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let cleared = answer.set_cookies();
    assert_eq!(cleared.len(), 1, "{cleared:?}");
    assert!(cleared[0].starts_with("FWSession=;"), "{cleared:?}");
    assert!(cleared[0].contains("Max-Age=0"), "{cleared:?}");
    assert_bare(&site.me(&cookie).await, StatusCode::UNAUTHORIZED);
    assert_eq!(site.me(&other).await.status, StatusCode::OK);
    // Session only: an API token or the full key cannot log out.
    assert_bare(
        &site
            .post("/fotoweb/me/logout", &[("FWAPIToken", API_KEY)])
            .await,
        StatusCode::UNAUTHORIZED,
    );
    assert!(site.refused("/fotoweb/me/logout", "no-session"));
    // A session from the backup secret logging out gets the clearing cookie only.
    site.auth
        .rotate(Secret::from_text(common::NEXT_SECRET).unwrap())
        .unwrap();
    let answer = site.post("/fotoweb/me/logout", &[("cookie", &other)]).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let set = answer.set_cookies();
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(set[0].contains("Max-Age=0"));
}

#[tokio::test]
async fn the_login_route_redirects_to_the_configured_path_with_the_cookie() {
    let site = Site::new().await;
    let answer = site.login("alice").await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(answer.headers["location"], "/fotoweb/me");
    assert_eq!(answer.headers["cache-control"], "no-store");
    let set = answer.set_cookies();
    assert!(
        set[0].ends_with("; Path=/; HttpOnly; Secure; SameSite=Lax"),
        "{set:?}"
    );
    // No token, the parameter twice: 400.
    assert_bare(&site.get("/fotoweb/", &[]).await, StatusCode::BAD_REQUEST);
    let token = site.login_token("alice");
    let twice = format!(
        "/fotoweb/?lt={0}&lt={0}",
        token
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    assert_bare(&site.get(&twice, &[]).await, StatusCode::BAD_REQUEST);
    // The after-login path is fixed at build time, never taken from the request.
    for bad in [
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "/a b",
    ] {
        let store = Store::memory(StoreConfig::new()).await.unwrap();
        assert!(
            FwAuth::builder(ring(), store)
                .after_login(bad)
                .build()
                .is_err(),
            "{bad}"
        );
    }
    let answer = site
        .get(
            &format!(
                "{}&next=//evil.example/",
                fwtoken::login_url("/fotoweb/", &site.login_token("alice"))
            ),
            &[],
        )
        .await;
    assert_eq!(answer.headers["location"], "/fotoweb/me");
}

#[tokio::test]
async fn start_session_for_a_user_the_server_authenticated() {
    let site = Site::new().await;
    let response = site.auth.start_session("zoe").await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let set = response.headers()["set-cookie"].to_str().unwrap();
    let cookie = set.split(';').next().unwrap();
    let me = site.me(cookie).await;
    assert_eq!(me.json()["user"], "zoe");
    assert_eq!(me.json()["via"], "session");
    // A name no session may be issued for (RFC 8265): 403 with the kind that says why;
    // the owner is a login-token rule only.
    for name in [" zoe", "zoe\u{2800}", "zo\u{00AB}e", "a  b"] {
        let refusal = site.auth.start_session(name).await.unwrap_err();
        assert_eq!(refusal.status(), StatusCode::FORBIDDEN, "{name:?}");
        assert_eq!(refusal.kind(), "invalid-user-name", "{name:?}");
    }
}

#[tokio::test]
async fn the_api_token_route_speaks_fotowebs_media_types() {
    let site = Site::new().await;
    let request = ApiTokenRequest::new("bob", "CMS", Duration::from_secs(600));
    let post = |content_type: &'static str, body: Vec<u8>, key: &'static str| {
        Request::post("/fotoweb/me/tokens/")
            .header("FWAPIToken", key)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let ok = site
        .send(post(
            API_TOKEN_REQUEST_MEDIA_TYPE,
            serde_json::to_vec(&request).unwrap(),
            API_KEY,
        ))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers[header::CONTENT_TYPE], API_TOKEN_INFO_MEDIA_TYPE);
    let info: ApiTokenInfo = serde_json::from_slice(&ok.body).unwrap();
    let me = site
        .get("/fotoweb/me", &[("FWAPIToken", &info.token)])
        .await;
    assert_eq!(me.json()["app"], "CMS");
    assert_eq!(me.json()["via"], "api-token");
    let answer = site
        .send(post(
            "application/json",
            serde_json::to_vec(&request).unwrap(),
            API_KEY,
        ))
        .await;
    assert_bare(&answer, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let extra = br#"{"un":"bob","app":"CMS","duration":"PT60S","admin":true}"#.to_vec();
    assert_bare(
        &site
            .send(post(API_TOKEN_REQUEST_MEDIA_TYPE, extra, API_KEY))
            .await,
        StatusCode::BAD_REQUEST,
    );
    let long = ApiTokenRequest::new("bob", "CMS", Duration::from_secs(30 * 86_400));
    assert_bare(
        &site
            .send(post(
                API_TOKEN_REQUEST_MEDIA_TYPE,
                serde_json::to_vec(&long).unwrap(),
                API_KEY,
            ))
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert!(site.refused("/fotoweb/me/tokens/", "lifetime-too-long"));
    assert_bare(
        &site
            .send(post(
                API_TOKEN_REQUEST_MEDIA_TYPE,
                serde_json::to_vec(&request).unwrap(),
                "not the key",
            ))
            .await,
        StatusCode::UNAUTHORIZED,
    );
}

#[tokio::test]
async fn admin_routes_list_and_revoke_everything_of_a_user() {
    let site = Site::new().await;
    let phone = site.session("alice").await;
    let laptop = site.session("ALICE").await;
    let bob = site.session("bob").await;
    let token = api_token(&site, "Alice").await;
    let admin = [("FWAPIToken", API_KEY)];
    let devices = site.get("/fotoweb/admin/users/alice/devices", &admin).await;
    assert_eq!(devices.json().as_array().unwrap().len(), 2);
    let tokens = site.get("/fotoweb/admin/users/alice/tokens", &admin).await;
    let tokens = tokens.json();
    assert_eq!(tokens.as_array().unwrap().len(), 1);
    assert!(tokens[0].get("token").is_none());
    let counts = site.post("/fotoweb/admin/users/alice/revoke", &admin).await;
    assert_eq!(
        counts.json(),
        serde_json::json!({"devices": 2, "api_tokens": 1})
    );
    for c in [&phone, &laptop] {
        assert_bare(&site.me(c).await, StatusCode::UNAUTHORIZED);
    }
    assert_bare(
        &site.get("/fotoweb/me", &[("FWAPIToken", &token)]).await,
        StatusCode::UNAUTHORIZED,
    );
    assert_eq!(site.me(&bob).await.status, StatusCode::OK);
    assert_bare(
        &site
            .post("/fotoweb/admin/devices/NOT-A-DEVICE/revoke", &admin)
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert_bare(
        &site.post("/fotoweb/admin/tokens/xyz/revoke", &admin).await,
        StatusCode::BAD_REQUEST,
    );
}

#[tokio::test]
async fn refusals_are_rendered_and_reported_by_the_hooks() {
    let site = Site::with(StoreConfig::new(), |b| {
        b.render(|r: &Refusal| {
            (
                r.status(),
                [(header::CONTENT_TYPE, "application/problem+json")],
                serde_json::json!({"status": r.status().as_u16(), "type": r.kind()}).to_string(),
            )
                .into_response()
        })
    })
    .await;
    let cookie = site.session("alice").await;
    let tampered = format!("{cookie}x");
    let answer = site.me(&tampered).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(answer.json()["status"], 401);
    assert!(answer.json()["type"].is_string());
    assert!(!answer.text().contains(&tampered[10..]));
    // Reported once, with the matched route (a pattern, never the path itself).
    let link = site
        .auth
        .cache_link_path(&CacheLink::new("/x.tif"), now())
        .unwrap();
    let refused = format!("{link}?q=1");
    assert_eq!(site.get(&refused, &[]).await.status, StatusCode::NOT_FOUND);
    let events = site.events();
    assert_eq!(
        events
            .iter()
            .filter(|l| l.starts_with("refused route=/fotoweb/cache/v1/{file} "))
            .count(),
        1
    );
    assert_events_clean(&site, &[&link, &cookie[10..]]);
}

#[tokio::test]
async fn the_caller_serializes_as_fotoweb_json() {
    let site = Site::new().await;
    let admin = site
        .get("/fotoweb/me", &[("FWAPIToken", API_KEY)])
        .await
        .json();
    assert_eq!(
        admin,
        serde_json::json!({"user": null, "role": "administrator", "via": "api-key"})
    );
    let cookie = site.session("alice").await;
    let me = site.me(&cookie).await.json();
    assert_eq!(me["user"], "alice");
    assert_eq!(me["role"], "user");
    assert_eq!(me["device"].as_str().unwrap().len(), 32);
    assert_eq!(
        site.get("/session", &[("cookie", &cookie)]).await.text(),
        "alice"
    );
}

#[tokio::test]
async fn the_layer_also_works_around_the_whole_router() {
    let site = Site::new().await;
    let cookie = site.session("alice").await;
    // Before routing: one wrap for the router instead of one per route.
    let router = axum::Router::new()
        .route(
            "/fotoweb/me",
            get(|c: Caller| async move { format!("{c:?}") }),
        )
        .merge(fwtoken_axum::routes());
    let app = tower::Layer::layer(&site.auth.layer(), router);
    let send = |cookie: &str| {
        let request = Request::get("/fotoweb/me")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap();
        app.clone().oneshot(request)
    };
    assert_eq!(send(&cookie).await.unwrap().status(), StatusCode::OK);
    let refused = send("FWSession=junk").await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // Reported once, with the route the router matched.
    let reported: Vec<String> = site
        .events()
        .into_iter()
        .filter(|l| l.starts_with("refused "))
        .collect();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(reported[0].starts_with("refused route=/fotoweb/me status=401 kind="));
    site.auth
        .rotate(Secret::from_text(common::NEXT_SECRET).unwrap())
        .unwrap();
    let reissued = send(&cookie).await.unwrap();
    assert_eq!(reissued.status(), StatusCode::OK);
    assert!(reissued.headers().get(header::SET_COOKIE).is_some());
}
