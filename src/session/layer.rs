//! The tower layer and service: a [`Session`] in every request's extensions, committed
//! when the inner service has answered, with the cookie and headers ASP.NET sends.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{CACHE_CONTROL, EXPIRES, HeaderValue, PRAGMA, SET_COOKIE};
use http::{Request, Response};

use super::commit::{CommitError, CookieAction};
use super::config::{SameSite, SecurePolicy, SessionConfig, SessionConfigError};
use super::cookie;
use super::handle::Session;
use super::shared::Shared;
use super::stats::SessionStats;
use super::store::SessionStore;
use crate::clock::Clock;
use crate::provider::DataProtection;

/// Adds sessions to a service. Build it once; it is cheap to clone.
///
/// ```no_run
/// # async fn run(dp: data_protection::DataProtection) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use data_protection::session::{MemorySessionStore, SessionLayer};
///
/// let sessions = SessionLayer::builder(&dp, MemorySessionStore::new())
///     .idle_timeout(Duration::from_secs(20 * 60))
///     .cookie_name("myapp.session")
///     .build()?;
/// # let _ = sessions; Ok(()) }
/// ```
#[derive(Clone)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// Sessions with ASP.NET Core's defaults, whose cookie is protected by `dp` (purposes
    /// [application name, `SessionMiddleware`]) and whose data lives in `store`. `dp` may be
    /// given by value or by reference. [`builder`](Self::builder) changes the settings.
    pub fn new(dp: impl Borrow<DataProtection>, store: impl SessionStore + 'static) -> Self {
        Self::builder(dp, store)
            .build()
            .unwrap_or_else(|_| unreachable!("the default settings are valid"))
    }

    /// Starts configuring sessions on `dp` and `store`.
    pub fn builder(
        dp: impl Borrow<DataProtection>,
        store: impl SessionStore + 'static,
    ) -> SessionLayerBuilder {
        SessionLayerBuilder::with_shared_store(dp, Arc::new(store))
    }

    /// What the layer has done so far (all services made from this layer).
    pub fn stats(&self) -> SessionStats {
        self.shared.stats.snapshot()
    }
}

/// Configures a [`SessionLayer`]; every setting has ASP.NET Core's default, and
/// [`build`](Self::build) checks them all.
#[must_use = "call build() to get the layer"]
pub struct SessionLayerBuilder {
    config: SessionConfig,
    dp: DataProtection,
    store: Arc<dyn SessionStore>,
    clock: Option<Arc<dyn Clock>>,
    on_commit_error: Option<super::shared::CommitHook>,
}

impl fmt::Debug for SessionLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayerBuilder")
            .field("config", &self.config)
            .field("store", &self.store.describe())
            .finish_non_exhaustive()
    }
}

impl SessionLayerBuilder {
    /// Like [`SessionLayer::builder`] with a store shared with other code.
    pub fn with_shared_store(
        dp: impl Borrow<DataProtection>,
        store: Arc<dyn SessionStore>,
    ) -> Self {
        Self {
            config: SessionConfig::default(),
            dp: dp.borrow().clone(),
            store,
            clock: None,
            on_commit_error: None,
        }
    }

    /// Sliding expiration of a session (default 20 minutes): every request restarts it.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Maximum life of a session from its creation, however active (default none).
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.absolute_lifetime = Some(lifetime);
        self
    }

    /// Timeout of a session load and of a commit (default 1 minute). A load that times out
    /// makes the session unavailable for that request; the request still completes.
    pub fn io_timeout(mut self, timeout: Duration) -> Self {
        self.config.io_timeout = timeout;
        self
    }

    /// How many times a commit re-applies its changes after a concurrent write (default
    /// 16).
    pub fn commit_retries(mut self, retries: u32) -> Self {
        self.config.commit_retries = retries;
        self
    }

    /// Lifetime of a user's session index (see [`Session::bind_user`]); default the
    /// absolute lifetime, else 30 days.
    pub fn user_index_ttl(mut self, ttl: Duration) -> Self {
        self.config.user_index_ttl = Some(ttl);
        self
    }

    /// The cookie name (default `.AspNetCore.Session`); an HTTP token (letters, digits and
    /// ``!#$%&'*+-.^_`|~``), checked by [`build`](Self::build).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.config.cookie.name = name.into();
        self
    }

    /// The cookie path (default `/`); no control characters or `;`.
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.config.cookie.path = path.into();
        self
    }

    /// The cookie domain (default none: the request's host only); no control characters
    /// or `;`.
    pub fn cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.config.cookie.domain = Some(domain.into());
        self
    }

    /// When the cookie is marked `Secure` (default: when the request is HTTPS).
    pub fn secure(mut self, policy: SecurePolicy) -> Self {
        self.config.cookie.secure = policy;
        self
    }

    /// The cookie's `SameSite` attribute (default `Lax`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.config.cookie.same_site = same_site;
        self
    }

    /// Whether the cookie is `HttpOnly` (default true).
    ///
    /// # Warning
    /// Without it, scripts on the page can read the session cookie.
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.config.cookie.http_only = http_only;
        self
    }

    /// Marks the cookie essential: it is sent even without consent (default false).
    pub fn essential(mut self, essential: bool) -> Self {
        self.config.cookie.essential = essential;
        self
    }

    /// Requires consent for non-essential cookies: `check` reads the request headers and
    /// says whether the user consented. Without consent a new session is not established
    /// (no cookie, nothing saved) unless the cookie is [`essential`](Self::essential).
    pub fn require_consent(
        mut self,
        check: impl Fn(&http::HeaderMap) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.config.cookie.consent = Some(Arc::new(check));
        self
    }

    /// The clock expirations are computed with (default: the provider's clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Called with every commit error (after it is logged and before the response leaves).
    pub fn on_commit_error(mut self, hook: impl Fn(&CommitError) + Send + Sync + 'static) -> Self {
        self.on_commit_error = Some(Arc::new(hook));
        self
    }

    /// Checks the settings and makes the layer.
    ///
    /// # Errors
    /// [`SessionConfigError`] for a cookie name that is not an HTTP token, a path or domain
    /// with control characters or `;`, or a duration that is zero (idle timeout, I/O timeout)
    /// or longer than 100 years.
    pub fn build(self) -> Result<SessionLayer, SessionConfigError> {
        self.config.check()?;
        Ok(SessionLayer {
            shared: Arc::new(Shared {
                protector: self.dp.protector([cookie::PURPOSE]),
                store: self.store,
                clock: self.clock.unwrap_or_else(|| self.dp.shared_clock()),
                random: self.dp.random(),
                config: self.config,
                stats: Default::default(),
                locks: Default::default(),
                on_commit_error: self.on_commit_error,
            }),
        })
    }
}

impl<S> tower_layer::Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around an inner service.
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

/// The future of [`SessionService`].
pub type SessionFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for SessionService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = SessionFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // The clone is not ready; the ready one is used (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            let https = req.uri().scheme_str() == Some("https");
            let cookie = &shared.config.cookie;
            let consent = cookie.essential
                || cookie
                    .consent
                    .as_ref()
                    .is_none_or(|check| check(req.headers()));
            let key = match cookie::find_cookie(req.headers(), &cookie.name) {
                Some(value) if !value.is_empty() => {
                    match cookie::unprotect_key(&shared.protector, value).await {
                        Ok(key) => Some(key),
                        Err(why) => {
                            shared.stats.rejected_cookie(why.as_str());
                            tracing::debug!(reason = ?why, "session cookie rejected; starting a new session");
                            None
                        }
                    }
                }
                _ => None,
            };
            let session = Session::new(shared.clone(), key);
            req.extensions_mut().insert(session.clone());
            let mut response = match inner.call(req).await {
                Ok(response) => response,
                Err(e) => {
                    // No commit, but a loaded session still gets its expiry restarted (in a
                    // task: the error need not be `Send`, so it cannot wait across an await).
                    let (session, shared) = (session.clone(), shared.clone());
                    tokio::spawn(async move {
                        let refresh = shared.timed("refresh", session.refresh_if_due());
                        if let Err(e) = refresh.await {
                            tracing::warn!("session expiry not restarted: {e}");
                        }
                    });
                    return Err(e);
                }
            };
            let committed = session.commit(consent).await;
            let set_cookie = match committed.cookie {
                CookieAction::None => None,
                CookieAction::Set(key) => match cookie::protect_key(&shared.protector, &key) {
                    Ok(value) => Some(cookie::set_cookie(&shared.config.cookie, &value, https)),
                    Err(e) => {
                        tracing::error!("session cookie could not be protected: {e}");
                        None
                    }
                },
                CookieAction::Expire => Some(cookie::expire_cookie(&shared.config.cookie, https)),
            };
            if let Some(value) = set_cookie.and_then(|v| HeaderValue::try_from(v).ok()) {
                let headers = response.headers_mut();
                headers.append(SET_COOKIE, value);
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache,no-store"));
                headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
                headers.insert(EXPIRES, HeaderValue::from_static("-1"));
            }
            if let Some(error) = committed.error {
                response.extensions_mut().insert(error);
            }
            Ok(response)
        })
    }
}
