//! ASP.NET Core cookie authentication for tower/axum: read, renew, issue and delete the
//! `.AspNetCore.Cookies` ticket cookie exactly as `CookieAuthenticationHandler` does, so a
//! user signed in on a .NET node is signed in on a Rust node behind the same domain, and
//! the other way round (given the same key ring and application name).

use std::borrow::Borrow;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use super::jar::{CookieError, ProtectedCookies, Rejection, Settings};
use super::transport::Defaults;
use crate::clock::to_time_duration;
use crate::cookie_formats::chunking::DEFAULT_CHUNK_SIZE;
use crate::cookie_formats::ticket::AuthenticationTicket;
use crate::metrics;
use crate::protector::Protector;
use crate::provider::DataProtection;
use crate::session::SecurePolicy;

/// The purpose cookie authentication protects tickets with (after the application name,
/// before the scheme and `v2`).
pub const AUTH_PURPOSE: &str =
    "Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationMiddleware";
/// ASP.NET's default cookie-authentication scheme.
pub const DEFAULT_SCHEME: &str = "Cookies";
/// ASP.NET's default ticket lifetime (`ExpireTimeSpan`, 14 days).
pub const DEFAULT_EXPIRE_TIME_SPAN: Duration = Duration::from_secs(14 * 24 * 3600);

/// The cookie name ASP.NET derives from a scheme: `.AspNetCore.` + the scheme escaped
/// like `Uri.EscapeDataString`.
pub fn cookie_name_for_scheme(scheme: &str) -> String {
    let mut out = String::from(".AspNetCore.");
    for b in scheme.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct AuthSettings {
    cookies: Arc<Settings>,
    protector: Protector,
    scheme: String,
    name: String,
    expire_time_span: Duration,
    sliding: bool,
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("scheme", &self.scheme)
            .field("cookie", &self.name)
            .field("expire_time_span", &self.expire_time_span)
            .field("sliding", &self.sliding)
            .finish_non_exhaustive()
    }
}

/// Adds [`CookieAuth`] to every request. Build it once; cheap to clone.
///
/// ```no_run
/// # async fn run(dp: data_protection::DataProtection) {
/// use data_protection::cookies::CookieAuthLayer;
/// let auth = CookieAuthLayer::builder(&dp).scheme("Cookies").build();
/// # let _ = auth; }
/// ```
#[derive(Clone, Debug)]
pub struct CookieAuthLayer {
    settings: Arc<AuthSettings>,
}

impl CookieAuthLayer {
    /// ASP.NET's defaults: scheme `Cookies`, cookie `.AspNetCore.Cookies`, 14-day tickets,
    /// sliding expiration, `Path=/`, `HttpOnly`, `SameSite=Lax`, `Secure` on HTTPS.
    pub fn new(dp: impl Borrow<DataProtection>) -> Self {
        Self::builder(dp).build()
    }

    /// Starts configuring cookie authentication on `dp` (whose application name must be
    /// the .NET app's discriminator).
    pub fn builder(dp: impl Borrow<DataProtection>) -> CookieAuthLayerBuilder {
        CookieAuthLayerBuilder {
            dp: dp.borrow().clone(),
            scheme: DEFAULT_SCHEME.to_owned(),
            name: None,
            expire_time_span: DEFAULT_EXPIRE_TIME_SPAN,
            sliding: true,
            defaults: Defaults::default(),
            chunk_size: Some(DEFAULT_CHUNK_SIZE),
        }
    }
}

/// Configures a [`CookieAuthLayer`].
#[must_use = "call build() to get the layer"]
pub struct CookieAuthLayerBuilder {
    dp: DataProtection,
    scheme: String,
    name: Option<String>,
    expire_time_span: Duration,
    sliding: bool,
    defaults: Defaults,
    chunk_size: Option<usize>,
}

impl fmt::Debug for CookieAuthLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieAuthLayerBuilder")
            .field("scheme", &self.scheme)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl CookieAuthLayerBuilder {
    /// The authentication scheme (default `Cookies`); it is in the purpose chain and, unless
    /// [`cookie_name`](Self::cookie_name) is set, in the cookie name.
    pub fn scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// The cookie name (default `.AspNetCore.{scheme}`).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How long a new ticket lives (default 14 days, ASP.NET's `ExpireTimeSpan`).
    pub fn expire_time_span(mut self, span: Duration) -> Self {
        self.expire_time_span = span;
        self
    }

    /// Re-issue a ticket past half its life (default true, ASP.NET's `SlidingExpiration`).
    pub fn sliding_expiration(mut self, sliding: bool) -> Self {
        self.sliding = sliding;
        self
    }

    /// When the cookie gets `Secure` (default: on HTTPS requests, ASP.NET's
    /// `SameAsRequest`).
    pub fn secure(mut self, policy: SecurePolicy) -> Self {
        self.defaults.secure = policy;
        self
    }

    /// The cookie's `SameSite` (default `Lax`).
    pub fn same_site(mut self, same_site: Option<cookie::SameSite>) -> Self {
        self.defaults.same_site = same_site;
        self
    }

    /// The cookie's path (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.defaults.path = path.into();
        self
    }

    /// The cookie's domain (default none), e.g. to share it with .NET nodes on sibling hosts.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.defaults.domain = Some(domain.into());
        self
    }

    /// Chunk size (default 4050, ASP.NET's).
    pub fn chunk_size(mut self, size: Option<usize>) -> Self {
        self.chunk_size = size;
        self
    }

    /// Makes the layer.
    pub fn build(self) -> CookieAuthLayer {
        let name = self
            .name
            .unwrap_or_else(|| cookie_name_for_scheme(&self.scheme));
        let protector = self
            .dp
            .protector([AUTH_PURPOSE, self.scheme.as_str(), "v2"]);
        CookieAuthLayer {
            settings: Arc::new(AuthSettings {
                cookies: Arc::new(Settings {
                    root: protector.clone(),
                    clock: self.dp.shared_clock(),
                    defaults: self.defaults,
                    chunk_size: self.chunk_size,
                    default_lifetime: None,
                    enforce_cookie_expiry: false,
                }),
                protector,
                scheme: self.scheme,
                name,
                expire_time_span: self.expire_time_span,
                sliding: self.sliding,
            }),
        }
    }
}

/// The signed-in user of one request (ASP.NET's cookie authentication): read the ticket,
/// sign in, sign out. Cheap to clone; every clone is the same state.
#[derive(Clone)]
pub struct CookieAuth {
    inner: Arc<AuthState>,
}

struct AuthState {
    settings: Arc<AuthSettings>,
    jar: ProtectedCookies,
    ticket: OnceCell<Option<AuthenticationTicket>>,
    /// Set by sign-in or sign-out: a sliding renewal must not override them.
    decided: Mutex<bool>,
}

impl fmt::Debug for CookieAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieAuth")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl CookieAuth {
    fn new(settings: Arc<AuthSettings>, headers: &http::HeaderMap, https: bool) -> Self {
        let jar = ProtectedCookies::new(settings.cookies.clone(), headers, https);
        Self {
            inner: Arc::new(AuthState {
                settings,
                jar,
                ticket: OnceCell::new(),
                decided: Mutex::new(false),
            }),
        }
    }

    /// The ticket of the signed-in user; `None` when there is no cookie or it is
    /// unreadable (tampered, another application's, revoked key, malformed) or expired
    /// (counted and logged at debug level). Past half its life, with sliding expiration on
    /// and `.refresh` not `False`, the response re-issues it for a new full span.
    pub async fn ticket(&self) -> Option<AuthenticationTicket> {
        self.inner.ticket.get_or_init(|| self.read()).await.clone()
    }

    /// Whether a valid ticket came with the request.
    pub async fn is_authenticated(&self) -> bool {
        self.ticket().await.is_some()
    }

    async fn read(&self) -> Option<AuthenticationTicket> {
        let s = &self.inner.settings;
        let value = match self.inner.jar.request().joined(&s.name) {
            Ok(Some(v)) if !v.is_empty() => v,
            Ok(_) => return None,
            Err(_) => {
                Rejection::Chunks.report(&s.name);
                return None;
            }
        };
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(value.trim_end_matches('=')) else {
            Rejection::Encoding.report(&s.name);
            return None;
        };
        let Ok(plain) = s.protector.unprotect_async(&bytes).await else {
            Rejection::Unprotect.report(&s.name);
            return None;
        };
        let ticket = match AuthenticationTicket::decode(&plain) {
            Ok(t) => t,
            Err(e) => {
                metrics::cookie_rejected("ticket");
                tracing::debug!(cookie = s.name, error = %e, "authentication ticket rejected");
                return None;
            }
        };
        let now = s.cookies.clock.now();
        if ticket.is_expired_at(now) {
            metrics::cookie_rejected("ticket_expired");
            tracing::debug!(cookie = s.name, "authentication ticket expired");
            return None;
        }
        self.maybe_renew(&ticket, now);
        Some(ticket)
    }

    /// ASP.NET's sliding expiration: past half its life, re-issue for the same span.
    fn maybe_renew(&self, ticket: &AuthenticationTicket, now: OffsetDateTime) {
        let s = &self.inner.settings;
        if *self.decided() {
            return;
        }
        let (Some(issued), Some(expires)) = (ticket.issued_utc(), ticket.expires_utc()) else {
            return;
        };
        if !s.sliding || ticket.properties.allow_refresh() == Some(false) {
            return;
        }
        if expires - now >= now - issued {
            return;
        }
        let mut renewed = ticket.clone();
        renewed.properties.set_issued_utc(Some(now));
        renewed
            .properties
            .set_expires_utc(Some(now.saturating_add(expires - issued)));
        if let Err(e) = self.write(&renewed) {
            tracing::error!("authentication ticket could not be renewed: {e}");
        } else {
            tracing::debug!(cookie = s.name, "authentication ticket renewed (sliding)");
        }
    }

    /// Signs `ticket` in: sets its scheme, `.issued` (now) and, unless present, `.expires`
    /// (now + the expire time span); the cookie gets `Expires` when the ticket is
    /// persistent. The previous cookie's extra chunks are removed.
    ///
    /// # Errors
    /// [`CookieError`] when the ticket cannot be protected or written.
    pub fn sign_in(&self, mut ticket: AuthenticationTicket) -> Result<(), CookieError> {
        let s = &self.inner.settings;
        let now = s.cookies.clock.now();
        ticket.scheme = s.scheme.clone();
        ticket.properties.set_issued_utc(Some(now));
        if ticket.expires_utc().is_none() {
            ticket.properties.set_expires_utc(Some(
                now.saturating_add(to_time_duration(s.expire_time_span)),
            ));
        }
        *self.decided() = true;
        self.write(&ticket)
    }

    /// Signs out: deletes the cookie and all its chunks.
    pub fn sign_out(&self) {
        *self.decided() = true;
        let template = self.inner.jar.template(&self.inner.settings.name);
        self.inner.jar.remove(template);
    }

    fn decided(&self) -> std::sync::MutexGuard<'_, bool> {
        self.inner
            .decided
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, ticket: &AuthenticationTicket) -> Result<(), CookieError> {
        let s = &self.inner.settings;
        let plain = ticket.encode().map_err(|_| CookieError::TooLarge)?;
        let protected = s.protector.protect(&plain).map_err(CookieError::Protect)?;
        let mut template = self.inner.jar.template(&s.name);
        if ticket.properties.is_persistent()
            && let Some(expires) = ticket.expires_utc()
        {
            template.set_expires(expires);
        }
        self.inner
            .jar
            .set_raw(&template, &URL_SAFE_NO_PAD.encode(protected))?;
        Ok(())
    }

    fn finish(&self, headers: &mut http::HeaderMap) {
        self.inner.jar.outgoing().write_to(headers);
    }
}

super::service::cookie_service!(
    CookieAuthLayer,
    CookieAuthService,
    "The service [`CookieAuthLayer`] wraps around an inner service.",
    |layer: &CookieAuthLayer, headers: &http::HeaderMap, https: bool| {
        CookieAuth::new(layer.settings.clone(), headers, https)
    },
    |auth: CookieAuth, headers: &mut http::HeaderMap| {
        auth.finish(headers);
    }
);
