//! [`FwAuth`]: the handle for one site (its secrets, its store, its settings), and its
//! builder.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use fwtoken::time::OffsetDateTime;
use fwtoken::{
    ApiKey, ApiPolicy, CacheLink, CacheLinkSigner, DevicePolicy, DeviceToken, EdgeKey, EdgeKeyRing,
    Error, KeyRing, LoginPolicy, Secret, SessionCookie,
};
use fwtoken_store::{ConfigError, DeviceLimit, SecretsFile, Store};
use http::{HeaderValue, StatusCode, header};

use crate::layer::FwAuthLayer;
use crate::refusal::{Event, EventHook, Refusal, RenderHook, bare, error_kind, kind};

/// Devices one user may hold at once: FotoWeb's number ([`fwtoken::DEFAULT_MAX_DEVICES`],
/// [`DevicePolicy`]'s default).
pub const DEFAULT_MAX_DEVICES: usize = fwtoken::DEFAULT_MAX_DEVICES;

/// Clock leeway for login, API and device tokens.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// Longest `Cache-Control: max-age` of a cache link, also for a link without an expiry:
/// a shared cache stops serving a link at most a day after its secret was retired.
pub const DEFAULT_CACHE_MAX_AGE: Duration = Duration::from_secs(86_400);

/// FotoWeb's URL prefix: the routes live under it, and cache links under
/// `/fotoweb/cache/v1/`.
pub const PREFIX: &str = "/fotoweb";

/// Where the client's address comes from (cache links bound to a client, Edgecast's
/// `ec_clientip`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientAddress {
    /// The connection's peer (the default).
    #[default]
    Connection,
    /// The last `X-Forwarded-For` entry (the one a trusted proxy appended; earlier ones
    /// are the client's word) and `X-Forwarded-Proto`; the connection's peer when there is
    /// no such header. Only behind a proxy that sets them.
    LastForwardedFor,
}

/// The secrets that are swapped together (a secrets file holds both).
pub(crate) struct Secrets {
    pub(crate) ring: Arc<KeyRing>,
    pub(crate) api_key: Option<Arc<ApiKey>>,
}

/// The Edgecast side: the key ring and the host rules are evaluated against.
pub(crate) struct Edge {
    pub(crate) ring: Arc<EdgeKeyRing>,
    pub(crate) public_host: Arc<str>,
}

pub(crate) struct Shared {
    secrets: RwLock<Arc<Secrets>>,
    edge: RwLock<Option<Arc<Edge>>>,
    pub(crate) store: Store,
    pub(crate) login_policy: LoginPolicy,
    pub(crate) api_policy: ApiPolicy,
    pub(crate) device_policy: DevicePolicy,
    pub(crate) limit: DeviceLimit,
    pub(crate) leeway: Duration,
    pub(crate) single_use_login: bool,
    pub(crate) cookie: SessionCookie,
    pub(crate) cookie_removal: HeaderValue,
    pub(crate) after_login: HeaderValue,
    pub(crate) client_address: ClientAddress,
    pub(crate) cache_prefix: String,
    pub(crate) cache_max_age: Duration,
    render: RenderHook,
    events: EventHook,
}

/// The handle for one site: its key ring and full API key, its store, and its settings.
/// Cheap to clone (one shared state); build it with [`FwAuth::builder`].
///
/// Requests take a snapshot of the ring (an `Arc` clone) and verify without holding a
/// lock, so [`rotate`](Self::rotate), [`retire_backup`](Self::retire_backup) and
/// [`replace_secrets`](Self::replace_secrets) take effect from the next request while
/// requests in flight finish with the ring they started with.
#[derive(Clone)]
pub struct FwAuth(pub(crate) Arc<Shared>);

impl fmt::Debug for FwAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets = self.secrets();
        f.debug_struct("FwAuth")
            .field("primary", &secrets.ring.primary().fingerprint())
            .field("backup", &secrets.ring.backup().map(Secret::fingerprint))
            .field("api_key", &secrets.api_key.as_ref().map(|_| "<set>"))
            .field("limit", &self.0.limit)
            .field("single_use_login", &self.0.single_use_login)
            .field("client_address", &self.0.client_address)
            .finish_non_exhaustive()
    }
}

/// The settings of a [`FwAuth`]; every one has a default except the ring and the store.
pub struct FwAuthBuilder {
    ring: KeyRing,
    store: Store,
    api_key: Option<ApiKey>,
    owner: Option<String>,
    denied: Vec<String>,
    legacy_utf8_encode: bool,
    leeway: Duration,
    limit: DeviceLimit,
    single_use_login: bool,
    cookie: SessionCookie,
    after_login: String,
    client_address: ClientAddress,
    cache_prefix: String,
    cache_max_age: Duration,
    edge: Option<(EdgeKeyRing, String)>,
    render: RenderHook,
    events: EventHook,
}

impl fmt::Debug for FwAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FwAuthBuilder")
            .field("primary", &self.ring.primary().fingerprint())
            .field("limit", &self.limit)
            .field("after_login", &self.after_login)
            .finish_non_exhaustive()
    }
}

impl FwAuthBuilder {
    /// The site's full API key: `FWAPIToken: <key>` is the administrator. Without one
    /// (the default, or `None`), administrator routes answer 401 to everyone.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<Option<ApiKey>>) -> Self {
        self.api_key = key.into();
        self
    }

    /// The site owner: never logged in by a login token, never acting through an API
    /// token (every spelling of the account, see [`fwtoken::same_account`]); 403. `None`
    /// (the default): no owner.
    #[must_use]
    pub fn site_owner<'a>(mut self, user: impl Into<Option<&'a str>>) -> Self {
        self.owner = user.into().map(String::from);
        self
    }

    /// Another user refused the same way as the site owner.
    #[must_use]
    pub fn deny_user(mut self, user: &str) -> Self {
        self.denied.push(user.into());
        self
    }

    /// Reads the user of a FotoWeb-format login token that FotoWare's 2017 PHP generator
    /// encoded twice (`zoÃ«`) as the name the CMS meant (`zoë`); see
    /// [`LoginPolicy::legacy_utf8_encode`]. Off by default: a user literally named `zoÃ«`
    /// would be read as `zoë`. The owner and denied users are refused under either name.
    #[must_use]
    pub fn legacy_utf8_encode(mut self, on: bool) -> Self {
        self.legacy_utf8_encode = on;
        self
    }

    /// The clock leeway for login, API and device tokens (default 60 s).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The per-user device cap and what happens at it (default
    /// `DeviceLimit::refuse(10)`: FotoWeb refuses the next login with 403;
    /// `DeviceLimit::evict(n)` revokes the device seen least recently instead).
    #[must_use]
    pub fn device_limit(mut self, limit: DeviceLimit) -> Self {
        self.limit = limit;
        self
    }

    /// Whether a login token logs in once only (default `true`: a leaked `lt=` URL cannot
    /// be replayed; the first use wins on every server sharing the store).
    #[must_use]
    pub fn single_use_login(mut self, on: bool) -> Self {
        self.single_use_login = on;
        self
    }

    /// The `FWSession` cookie's attributes (default `Path=/; HttpOnly; Secure;
    /// SameSite=Lax`; browsers accept `Secure` cookies from `http://localhost`).
    #[must_use]
    pub fn session_cookie(mut self, cookie: SessionCookie) -> Self {
        self.cookie = cookie;
        self
    }

    /// Where a login sends the browser (`302 Location`): a fixed path on this site,
    /// never taken from the request (no open redirect). Default `/`.
    #[must_use]
    pub fn after_login(mut self, path: &str) -> Self {
        self.after_login = path.into();
        self
    }

    /// Where the client's address comes from (default: the connection).
    #[must_use]
    pub fn client_address(mut self, from: ClientAddress) -> Self {
        self.client_address = from;
        self
    }

    /// `true`: the server runs behind a proxy that sets `X-Forwarded-For` and
    /// `X-Forwarded-Proto` ([`ClientAddress::LastForwardedFor`]); `false`: the connection
    /// ([`ClientAddress::Connection`], the default).
    #[must_use]
    pub fn trust_proxy(self, trust: bool) -> Self {
        self.client_address(if trust {
            ClientAddress::LastForwardedFor
        } else {
            ClientAddress::Connection
        })
    }

    /// The URL prefix cache links are signed and opened under (default `/fotoweb`).
    #[must_use]
    pub fn cache_prefix(mut self, prefix: &str) -> Self {
        self.cache_prefix = prefix.into();
        self
    }

    /// The longest `Cache-Control: max-age` of a cache link (default one day).
    #[must_use]
    pub fn cache_max_age(mut self, cap: Duration) -> Self {
        self.cache_max_age = cap;
        self
    }

    /// The Edgecast keys for [`FwAuth::edge_guard`], and the site's public host name that
    /// `ec_host_allow`/`ec_host_deny` are evaluated against (a client chooses its `Host`
    /// header, so it never is).
    #[must_use]
    pub fn edge(mut self, ring: EdgeKeyRing, public_host: &str) -> Self {
        self.edge = Some((ring, public_host.into()));
        self
    }

    /// Renders every refusal (default: the bare status and an empty body). The hook sees
    /// only the status and the kind, so it cannot leak token material; use it for RFC 9457
    /// problem details or an HTML page.
    #[must_use]
    pub fn render(mut self, hook: impl Fn(&Refusal) -> Response + Send + Sync + 'static) -> Self {
        self.render = Arc::new(hook);
        self
    }

    /// Receives every refusal (with its route and kind), note and secrets reload, for the
    /// server's log (default: dropped).
    #[must_use]
    pub fn on_event(mut self, hook: impl Fn(&Event<'_>) + Send + Sync + 'static) -> Self {
        self.events = Arc::new(hook);
        self
    }

    /// The handle; fails when a setting is invalid (the after-login path, the cookie's
    /// attributes, the cache prefix, the public host).
    pub fn build(self) -> Result<FwAuth, Error> {
        let after_login = valid_site_path(&self.after_login)
            .then(|| HeaderValue::from_str(&self.after_login).ok())
            .flatten()
            .ok_or(Error::InvalidArgument(
                "after_login must be a path on this site: one leading `/`, visible ASCII",
            ))?;
        let cookie_removal = HeaderValue::from_str(&self.cookie.removal()?)
            .map_err(|_| Error::InvalidArgument("the session cookie's attributes"))?;
        CacheLinkSigner::new(&self.ring).prefix(&self.cache_prefix)?;
        let edge = match self.edge {
            Some((ring, host)) => {
                if host.is_empty()
                    || host.contains(['/', ' ', '\\'])
                    || host.chars().any(char::is_control)
                {
                    return Err(Error::InvalidArgument("the public host is not a host name"));
                }
                Some(Arc::new(Edge {
                    ring: Arc::new(ring),
                    public_host: host.into(),
                }))
            }
            None => None,
        };
        let mut login_policy = LoginPolicy::new()
            .leeway(self.leeway)
            .legacy_utf8_encode(self.legacy_utf8_encode);
        let mut api_policy = ApiPolicy::new();
        if let Some(owner) = &self.owner {
            login_policy = login_policy.deny_user(owner);
            api_policy = api_policy.site_owner(owner);
        }
        for user in &self.denied {
            login_policy = login_policy.deny_user(user);
            api_policy = api_policy.deny_user(user);
        }
        Ok(FwAuth(Arc::new(Shared {
            secrets: RwLock::new(Arc::new(Secrets {
                ring: Arc::new(self.ring),
                api_key: self.api_key.map(Arc::new),
            })),
            edge: RwLock::new(edge),
            store: self.store,
            login_policy,
            api_policy,
            device_policy: DevicePolicy::new()
                .leeway(self.leeway)
                .max_devices_per_user(self.limit.max),
            limit: self.limit,
            leeway: self.leeway,
            single_use_login: self.single_use_login,
            cookie: self.cookie,
            cookie_removal,
            after_login,
            client_address: self.client_address,
            cache_prefix: self.cache_prefix,
            cache_max_age: self.cache_max_age,
            render: self.render,
            events: self.events,
        })))
    }
}

/// A path on this site: one leading `/` (`//host` and `/\host` are other sites to a
/// browser), visible ASCII only.
fn valid_site_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.bytes().all(|b| b.is_ascii_graphic())
}

impl FwAuth {
    /// The settings for a site with this key ring and store; everything else has a
    /// default (see [`FwAuthBuilder`]).
    pub fn builder(ring: KeyRing, store: Store) -> FwAuthBuilder {
        FwAuthBuilder {
            ring,
            store,
            api_key: None,
            owner: None,
            denied: Vec::new(),
            legacy_utf8_encode: false,
            leeway: DEFAULT_LEEWAY,
            limit: DeviceLimit::refuse(DEFAULT_MAX_DEVICES),
            single_use_login: true,
            cookie: SessionCookie::new(),
            after_login: "/".into(),
            client_address: ClientAddress::Connection,
            cache_prefix: PREFIX.into(),
            cache_max_age: DEFAULT_CACHE_MAX_AGE,
            edge: None,
            render: Arc::new(bare),
            events: Arc::new(|_| {}),
        }
    }

    /// The layer that makes this handle available to the extractors and routes, appends
    /// re-sealed session cookies and renders refusals.
    pub fn layer(&self) -> FwAuthLayer {
        FwAuthLayer::new(self.clone())
    }

    pub(crate) fn secrets(&self) -> Arc<Secrets> {
        Arc::clone(
            &self
                .0
                .secrets
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// The key ring now in force (a snapshot).
    pub fn ring(&self) -> Arc<KeyRing> {
        Arc::clone(&self.secrets().ring)
    }

    fn swap_ring(&self, f: impl FnOnce(&KeyRing) -> Result<KeyRing, Error>) -> Result<(), Error> {
        let mut guard = self
            .0
            .secrets
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let ring = f(&guard.ring)?;
        *guard = Arc::new(Secrets {
            ring: Arc::new(ring),
            api_key: guard.api_key.clone(),
        });
        Ok(())
    }

    /// Makes `new_primary` the primary secret; the old primary becomes the backup, so
    /// everything issued before keeps working (and is re-issued when it comes back).
    pub fn rotate(&self, new_primary: Secret) -> Result<(), Error> {
        self.swap_ring(|ring| KeyRing::clone(ring).rotate(new_primary))
    }

    /// Drops the backup secret: everything issued under it is refused from now on.
    pub fn retire_backup(&self) {
        let _ = self.swap_ring(|ring| Ok(KeyRing::clone(ring).retire_backup()));
    }

    /// Replaces the ring and the full API key at once (what a secrets file holds).
    pub fn replace_secrets(&self, ring: KeyRing, api_key: Option<ApiKey>) {
        *self
            .0
            .secrets
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(Secrets {
            ring: Arc::new(ring),
            api_key: api_key.map(Arc::new),
        });
    }

    /// Reads a secrets file (`primary = …`, `backup = …`, `api_key = …`, readable by its
    /// owner only; see [`SecretsFile`]) and puts it in force; a file that does not read
    /// or parse leaves the secrets in force. Reports
    /// [`Event::SecretsReloaded`] or [`Event::SecretsNotReloaded`].
    pub fn reload_secrets_file(&self, path: &Path) -> Result<(), ConfigError> {
        let read = SecretsFile::read(path).and_then(|f| Ok((f.ring()?, f.warnings(), f.api_key)));
        match read {
            Ok((ring, warnings, api_key)) => {
                for warning in &warnings {
                    self.emit(&Event::SecretsWarning { warning });
                }
                let primary = ring.primary().fingerprint();
                let backup = ring.backup().map(Secret::fingerprint);
                self.replace_secrets(ring, api_key);
                self.emit(&Event::SecretsReloaded { primary, backup });
                Ok(())
            }
            Err(e) => {
                self.emit(&Event::SecretsNotReloaded {
                    error: &e.to_string(),
                });
                Err(e)
            }
        }
    }

    pub(crate) fn edge(&self) -> Option<Arc<Edge>> {
        self.0
            .edge
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The Edgecast key ring now in force, when one was configured.
    pub fn edge_ring(&self) -> Option<Arc<EdgeKeyRing>> {
        self.edge().map(|e| Arc::clone(&e.ring))
    }

    fn swap_edge(
        &self,
        f: impl FnOnce(&EdgeKeyRing) -> Result<EdgeKeyRing, Error>,
    ) -> Result<(), Error> {
        let mut guard = self.0.edge.write().unwrap_or_else(PoisonError::into_inner);
        let Some(edge) = guard.as_ref() else {
            return Err(Error::InvalidArgument("no Edgecast keys are configured"));
        };
        let ring = f(&edge.ring)?;
        *guard = Some(Arc::new(Edge {
            ring: Arc::new(ring),
            public_host: Arc::clone(&edge.public_host),
        }));
        Ok(())
    }

    /// Rotates the Edgecast keys: `new_primary` signs from now on, the old primary is the
    /// backup. Fails when no Edgecast keys are configured.
    pub fn rotate_edge(&self, new_primary: EdgeKey) -> Result<(), Error> {
        self.swap_edge(|ring| EdgeKeyRing::clone(ring).rotate(new_primary))
    }

    /// Drops the Edgecast backup key.
    pub fn retire_edge_backup(&self) {
        let _ = self.swap_edge(|ring| Ok(EdgeKeyRing::clone(ring).retire_backup()));
    }

    /// Replaces the Edgecast keys. Fails when none were configured (the public host comes
    /// with them, from [`FwAuthBuilder::edge`]).
    pub fn replace_edge(&self, ring: EdgeKeyRing) -> Result<(), Error> {
        self.swap_edge(|_| Ok(ring))
    }

    /// The cache-link signer over the ring now in force, under the cache prefix.
    pub fn cache_signer(&self) -> Result<CacheLinkSigner<Arc<KeyRing>>, Error> {
        CacheLinkSigner::new(self.ring()).prefix(&self.0.cache_prefix)
    }

    /// The URL path of a cache link, signed with the primary secret now in force.
    pub fn cache_link_path(&self, link: &CacheLink, now: OffsetDateTime) -> Result<String, Error> {
        self.cache_signer()?.path(link, now)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The per-user device cap in force.
    pub fn device_limit(&self) -> DeviceLimit {
        self.0.limit
    }

    /// The identity key `user` is grouped under ([`fwtoken::identity_key`] with the site
    /// domains of the store, [`fwtoken_store::StoreConfig::domains`]): compare users by it,
    /// never by their spelling.
    pub fn user_key(&self, user: &str) -> String {
        self.0.store.user_key(user)
    }

    /// Reports an event to the site's hook.
    pub(crate) fn emit(&self, event: &Event<'_>) {
        (self.0.events)(event);
    }

    /// Renders a refusal with the site's hook.
    pub(crate) fn render(&self, refusal: &Refusal) -> Response {
        (self.0.render)(refusal)
    }

    /// Starts a session for `user`, whom the server authenticated itself (its own
    /// password check, say): a new device is registered under the device cap and the
    /// answer is `302` to the after-login path with the `FWSession` cookie and
    /// `Cache-Control: no-store`.
    ///
    /// Refused: the device cap (403), a name no session may be issued for (RFC 8265; 403,
    /// `invalid-user-name`), the store
    /// unavailable (503).
    pub async fn start_session(&self, user: &str) -> Result<Response, Refusal> {
        let ring = self.ring();
        let now = OffsetDateTime::now_utc();
        // The OS generator: one system call per login.
        // A name no session may be issued for (RFC 8265, `validate_new_user_name`): the
        // credential may be genuine (a FotoWeb-format token carries any name), the user
        // may not sign in under it.
        let (token, record) = DeviceToken::issue(&ring, user, now, &mut fwtoken::os_rng())
            .map_err(|e| Refusal::forbidden(error_kind(&e)))?;
        self.0
            .store
            .register_device(&record, self.0.limit, now)
            .await
            .map_err(|e| Refusal::from_store(&e))?;
        let cookie = self
            .0
            .cookie
            .set_cookie(&token)
            .ok()
            .and_then(|c| HeaderValue::from_str(&c).ok())
            .ok_or(Refusal::internal(kind::INTERNAL))?;
        Ok((
            StatusCode::FOUND,
            [
                (header::LOCATION, self.0.after_login.clone()),
                (header::SET_COOKIE, cookie),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response())
    }
}
