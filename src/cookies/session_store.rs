//! A [`SessionStore`] that keeps each session in the browser: the serialized session, its
//! key and its expirations live in one protected, chunked cookie; nothing is stored on the
//! server.
//!
//! The store reaches the request and response through [`CookieSessionLayer`], which must
//! wrap the [`SessionLayer`](crate::session::SessionLayer) (add it after, so that it is the
//! outer layer). The session API is unchanged.
//!
//! Cookie plaintext (protected with purposes [application, [`SESSION_PURPOSE`], cookie name,
//! time-limited], the time-limited expiry being the sooner of the absolute and idle
//! expirations):
//!
//! ```text
//! u8 1 | u8 key length | key (UTF-8) | i64be last access (Unix ms)
//!      | i64be absolute expiration (Unix ms; i64::MIN for none)
//!      | i64be sliding expiration (ms; -1 for none) | session blob (DistributedSession revision 2)
//! ```

use std::borrow::Borrow;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use cookie::Cookie;
use time::OffsetDateTime;

use super::jar::{ProtectedCookies, Settings};
use super::transport::Defaults;
use crate::cookie_formats::chunking::DEFAULT_CHUNK_SIZE;
use crate::error::{StoreError, StoreErrorKind};
use crate::provider::DataProtection;
use crate::session::{Expected, SaveOutcome, SecurePolicy, SessionEntry, SessionStore};

/// The purpose of session cookies, after the application name.
pub const SESSION_PURPOSE: &str = "DataProtection.Cookies.Session.v1";
/// The default data cookie name.
pub const DEFAULT_SESSION_DATA_COOKIE: &str = ".AspNetCore.Session.Data";
/// The default budget of the protected data, in characters (all chunks together): four
/// full chunks, about 16 KB, within what browsers keep per site.
pub const DEFAULT_COOKIE_BUDGET: usize = 16_000;

const FORMAT: u8 = 1;

tokio::task_local! {
    static REQUEST: Arc<RequestState>;
}

/// What this request has read and written.
struct RequestState {
    jar: ProtectedCookies,
    /// `None`: not read yet; `Some(None)`: no session in the cookie.
    current: Mutex<Option<Option<Stored>>>,
}

#[derive(Clone)]
struct Stored {
    key: String,
    entry: SessionEntry,
    last_access: OffsetDateTime,
}

impl Stored {
    /// Neither past its absolute expiration nor idle longer than its sliding one.
    fn alive(&self, now: OffsetDateTime) -> bool {
        let e = &self.entry;
        e.absolute_expiration.is_none_or(|a| now <= a)
            && e.sliding_expiration.is_none_or(|s| {
                now <= self
                    .last_access
                    .saturating_add(crate::clock::to_time_duration(s))
            })
    }
}

/// Sessions kept in a protected cookie. Clone it into the [`SessionLayer`]'s builder and
/// add [`layer`](Self::layer) outside it:
///
/// ```no_run
/// # #[cfg(feature = "axum")]
/// # async fn run(dp: data_protection::DataProtection) {
/// use data_protection::cookies::CookieSessionStore;
/// use data_protection::session::SessionLayer;
///
/// let store = CookieSessionStore::builder(&dp).budget(8_000).build();
/// let app: axum::Router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "hi" }))
///     .layer(SessionLayer::new(&dp, store.clone()))
///     .layer(store.layer());
/// # }
/// ```
///
/// What it cannot do, by construction: revoke a session from the server (a copied cookie
/// stays valid until its expiry; rotate or revoke the key to end them all), bind one
/// session per user ([`Session::bind_user`](crate::session::Session::bind_user) fails:
/// there is no server-side index), detect concurrent writes from two requests (the later
/// response's cookie wins), or hold more than the budget.
#[derive(Clone)]
pub struct CookieSessionStore {
    shared: Arc<StoreShared>,
}

struct StoreShared {
    settings: Arc<Settings>,
    name: String,
    budget: usize,
}

impl fmt::Debug for CookieSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieSessionStore")
            .field("cookie", &self.shared.name)
            .field("budget", &self.shared.budget)
            .finish_non_exhaustive()
    }
}

impl CookieSessionStore {
    /// A store with the defaults (cookie [`DEFAULT_SESSION_DATA_COOKIE`], budget
    /// [`DEFAULT_COOKIE_BUDGET`], `Path=/`, `HttpOnly`, `SameSite=Lax`, `Secure` on HTTPS).
    pub fn new(dp: impl Borrow<DataProtection>) -> Self {
        Self::builder(dp).build()
    }

    /// Starts configuring a store.
    pub fn builder(dp: impl Borrow<DataProtection>) -> CookieSessionStoreBuilder {
        let dp = dp.borrow();
        CookieSessionStoreBuilder {
            dp: dp.clone(),
            name: DEFAULT_SESSION_DATA_COOKIE.to_owned(),
            budget: DEFAULT_COOKIE_BUDGET,
            defaults: Defaults::default(),
        }
    }

    /// The layer that gives the store its request and response; add it outside the
    /// session layer.
    pub fn layer(&self) -> CookieSessionLayer {
        CookieSessionLayer {
            store: self.clone(),
        }
    }

    fn state() -> Result<Arc<RequestState>, StoreError> {
        REQUEST.try_with(Arc::clone).map_err(|_| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                "cookie session store",
                "used outside CookieSessionLayer (add store.layer() outside the SessionLayer, \
                 and do not use the session from a spawned task)",
            )
        })
    }

    /// The session the cookie holds (read once per request).
    async fn current(&self, state: &RequestState, now: OffsetDateTime) -> Option<Stored> {
        if let Some(known) = lock(&state.current).clone() {
            return known;
        }
        let read = match state.jar.get_bytes(&self.shared.name).await {
            Some((plain, _)) => decode(&plain).filter(|s| s.alive(now)),
            None => None,
        };
        let mut current = lock(&state.current);
        current.get_or_insert(read).clone()
    }

    fn write(
        &self,
        state: &RequestState,
        stored: Stored,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let plain = encode(&stored);
        let expiry = stored
            .entry
            .time_to_live(now)
            .map(|ttl| now.saturating_add(crate::clock::to_time_duration(ttl)));
        let sealed = self
            .shared
            .settings
            .seal(&self.shared.name, &plain, expiry)
            .map_err(|e| StoreError::new(StoreErrorKind::Other, self.describe(), e))?;
        if sealed.len() > self.shared.budget {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                self.describe(),
                format!(
                    "the session needs {} characters of cookie, over the budget of {}; store less in it or use a server-side store",
                    sealed.len(),
                    self.shared.budget
                ),
            ));
        }
        let template = state.jar.template(&self.shared.name);
        state
            .jar
            .set_raw(&template, &sealed)
            .map_err(|e| StoreError::new(StoreErrorKind::Other, self.describe(), e))?;
        *lock(&state.current) = Some(Some(stored));
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn encode(s: &Stored) -> Vec<u8> {
    let key = s.key.as_bytes();
    let key = key.get(..key.len().min(255)).unwrap_or_default();
    let mut out = Vec::with_capacity(1 + 1 + key.len() + 24 + s.entry.data.len());
    out.push(FORMAT);
    out.push(key.len() as u8);
    out.extend_from_slice(key);
    out.extend_from_slice(&millis(s.last_access).to_be_bytes());
    let abs = s.entry.absolute_expiration.map_or(i64::MIN, millis);
    out.extend_from_slice(&abs.to_be_bytes());
    let sliding = s
        .entry
        .sliding_expiration
        .map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    out.extend_from_slice(&sliding.to_be_bytes());
    out.extend_from_slice(&s.entry.data);
    out
}

/// Reads the plaintext; `None` for anything malformed.
fn decode(plain: &[u8]) -> Option<Stored> {
    let (&format, rest) = plain.split_first()?;
    if format != FORMAT {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    let (key, rest) = rest.split_at_checked(usize::from(len))?;
    let key = std::str::from_utf8(key).ok()?.to_owned();
    let (last, rest) = rest.split_first_chunk::<8>()?;
    let (abs, rest) = rest.split_first_chunk::<8>()?;
    let (sliding, data) = rest.split_first_chunk::<8>()?;
    let from_ms =
        |ms: i64| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok();
    let last_access = from_ms(i64::from_be_bytes(*last))?;
    let abs = i64::from_be_bytes(*abs);
    let absolute_expiration = if abs == i64::MIN {
        None
    } else {
        Some(from_ms(abs)?)
    };
    let sliding_expiration = u64::try_from(i64::from_be_bytes(*sliding))
        .ok()
        .map(Duration::from_millis);
    Some(Stored {
        key,
        entry: SessionEntry::new(data.to_vec(), absolute_expiration, sliding_expiration),
        last_access,
    })
}

#[async_trait]
impl SessionStore for CookieSessionStore {
    async fn load(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SessionEntry>, StoreError> {
        let state = Self::state()?;
        let Some(mut stored) = self.current(&state, now).await.filter(|s| s.key == key) else {
            return Ok(None);
        };
        let entry = stored.entry.clone();
        if entry.sliding_expiration.is_some() {
            // A load restarts the sliding expiration, as in every store: the cookie is
            // rewritten with this access (a request that only reads keeps the session).
            stored.last_access = now;
            if let Err(e) = self.write(&state, stored, now) {
                tracing::warn!("the session cookie's idle expiry could not be restarted: {e}");
            }
        }
        Ok(Some(entry))
    }

    async fn save(
        &self,
        key: &str,
        entry: &SessionEntry,
        expected: Expected<'_>,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let state = Self::state()?;
        let current = self.current(&state, now).await.filter(|s| s.key == key);
        let matches = match (&expected, &current) {
            (Expected::Absent, None) => true,
            (Expected::Data(d), Some(s)) => s.entry.data == *d,
            _ => false,
        };
        if !matches {
            return Ok(SaveOutcome::Conflict(current.map(|s| s.entry)));
        }
        self.write(
            &state,
            Stored {
                key: key.to_owned(),
                entry: entry.clone(),
                last_access: now,
            },
            now,
        )?;
        Ok(SaveOutcome::Saved)
    }

    async fn refresh(&self, key: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let state = Self::state()?;
        if let Some(mut s) = self.current(&state, now).await.filter(|s| s.key == key) {
            s.last_access = now;
            self.write(&state, s, now)?;
        }
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        let state = Self::state()?;
        let now = self.shared.settings.clock.now();
        // After a renew the old key is removed: only the cookie's own key deletes it.
        if self
            .current(&state, now)
            .await
            .is_some_and(|s| s.key == key)
        {
            state.jar.remove(Cookie::from(self.shared.name.clone()));
            *lock(&state.current) = Some(None);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("cookie {}", self.shared.name)
    }
}

/// Configures a [`CookieSessionStore`].
#[must_use = "call build() to get the store"]
pub struct CookieSessionStoreBuilder {
    dp: DataProtection,
    name: String,
    budget: usize,
    defaults: Defaults,
}

impl fmt::Debug for CookieSessionStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieSessionStoreBuilder")
            .field("name", &self.name)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl CookieSessionStoreBuilder {
    /// The data cookie's name (default [`DEFAULT_SESSION_DATA_COOKIE`]).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The most characters the protected data may take, all chunks together (default
    /// [`DEFAULT_COOKIE_BUDGET`]); a save beyond it fails with a store error naming both
    /// sizes, and the previous cookie stays.
    pub fn budget(mut self, characters: usize) -> Self {
        self.budget = characters;
        self
    }

    /// When the cookie gets `Secure` (default: on HTTPS requests).
    pub fn secure(mut self, policy: SecurePolicy) -> Self {
        self.defaults.secure = policy;
        self
    }

    /// The cookie's path (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.defaults.path = path.into();
        self
    }

    /// Makes the store.
    pub fn build(self) -> CookieSessionStore {
        CookieSessionStore {
            shared: Arc::new(StoreShared {
                settings: Arc::new(Settings {
                    root: self.dp.protector([SESSION_PURPOSE]),
                    clock: self.dp.shared_clock(),
                    defaults: self.defaults,
                    chunk_size: Some(DEFAULT_CHUNK_SIZE),
                    default_lifetime: None,
                    enforce_cookie_expiry: false,
                }),
                name: self.name,
                budget: self.budget,
            }),
        }
    }
}

/// Gives a [`CookieSessionStore`] the request's cookies and sets its cookie on the
/// response. Made by [`CookieSessionStore::layer`].
#[derive(Clone, Debug)]
pub struct CookieSessionLayer {
    store: CookieSessionStore,
}

impl<S> tower_layer::Layer<S> for CookieSessionLayer {
    type Service = CookieSessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CookieSessionService {
            inner,
            store: self.store.clone(),
        }
    }
}

/// The service of [`CookieSessionLayer`].
#[derive(Clone, Debug)]
pub struct CookieSessionService<S> {
    inner: S,
    store: CookieSessionStore,
}

impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for CookieSessionService<S>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let https = req.uri().scheme_str() == Some("https");
        let jar = ProtectedCookies::new(self.store.shared.settings.clone(), req.headers(), https);
        let state = Arc::new(RequestState {
            jar: jar.clone(),
            current: Mutex::new(None),
        });
        Box::pin(async move {
            let mut response = REQUEST.scope(state, inner.call(req)).await?;
            jar.outgoing().write_to(response.headers_mut());
            Ok(response)
        })
    }
}
