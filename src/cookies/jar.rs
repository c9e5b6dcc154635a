//! Protected cookies: values encrypted and authenticated by the key ring, one purpose chain
//! per cookie name, optional server-enforced expiry, chunked when large.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use time::OffsetDateTime;

use super::transport::{Defaults, Outgoing, RequestCookies, cookie_expiry};
use crate::clock::{Clock, to_time_duration};
use crate::cookie_formats::chunking::{ChunkError, DEFAULT_CHUNK_SIZE};
use crate::error::Error;
use crate::metrics;
use crate::protector::Protector;
use crate::provider::DataProtection;
use crate::session::SecurePolicy;

/// The purpose protected cookies use after the application name; the cookie name and the
/// time-limited purpose follow it.
pub const PURPOSE: &str = "DataProtection.Cookies.ProtectedCookie.v1";

/// Why a cookie could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// The value could not be protected (no usable key).
    #[error("the cookie could not be protected")]
    Protect(#[source] Error),
    /// The name and attributes leave no room for data in a chunk.
    #[error("the cookie cannot be written")]
    Chunking(#[from] ChunkError),
    /// The value is too large for its format.
    #[error("the value is too large to encode")]
    TooLarge,
    /// The protected value needs more cookies than the configured budget.
    #[error("the cookie needs {needed} characters, more than the budget of {budget}")]
    OverBudget {
        /// Characters the protected value needs.
        needed: usize,
        /// The budget.
        budget: usize,
    },
}

/// Why a request cookie reads as absent; a fixed word for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// A chunked cookie with missing chunks or an absurd count.
    Chunks,
    /// Not base64url.
    Encoding,
    /// Tampered with, another cookie's or application's, or a revoked or unknown key.
    Unprotect,
    /// Authentic, but past its server-side expiry.
    Expired,
    /// Not UTF-8 where text was asked for.
    Utf8,
}

impl Rejection {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Chunks => "chunks",
            Self::Encoding => "encoding",
            Self::Unprotect => "unprotect",
            Self::Expired => "expired",
            Self::Utf8 => "utf8",
        }
    }

    /// Counts and logs the rejection of cookie `name`.
    pub(crate) fn report(self, name: &str) {
        metrics::cookie_rejected(self.as_str());
        tracing::debug!(
            cookie = name,
            reason = self.as_str(),
            "protected cookie rejected"
        );
    }
}

/// Settings shared by every request of a [`ProtectedCookieLayer`].
pub(crate) struct Settings {
    pub(crate) root: Protector,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) defaults: Defaults,
    pub(crate) chunk_size: Option<usize>,
    pub(crate) default_lifetime: Option<Duration>,
    pub(crate) enforce_cookie_expiry: bool,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("purposes", &self.root.purposes())
            .field("defaults", &self.defaults)
            .field("chunk_size", &self.chunk_size)
            .field("default_lifetime", &self.default_lifetime)
            .field("enforce_cookie_expiry", &self.enforce_cookie_expiry)
            .finish_non_exhaustive()
    }
}

impl Settings {
    fn protector(&self, name: &str) -> crate::protector::TimeLimitedProtector {
        self.root.create_protector(name).time_limited()
    }

    /// Protects `plaintext` for cookie `name` until `expiry` (or "never"): base64url.
    pub(crate) fn seal(
        &self,
        name: &str,
        plaintext: &[u8],
        expiry: Option<OffsetDateTime>,
    ) -> Result<String, CookieError> {
        let until = expiry.unwrap_or(never());
        let bytes = self
            .protector(name)
            .protect(plaintext, until)
            .map_err(CookieError::Protect)?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Opens cookie `name`'s joined value; the plaintext and its server-side expiry. The
    /// expiry is checked by the provider's clock (in the time-limited protector) and by
    /// this layer's, which computed it.
    pub(crate) async fn open(
        &self,
        name: &str,
        value: &str,
    ) -> Result<(Vec<u8>, Option<OffsetDateTime>), Rejection> {
        let bytes = URL_SAFE_NO_PAD
            .decode(value.trim_end_matches('='))
            .map_err(|_| Rejection::Encoding)?;
        match self.protector(name).unprotect_async(&bytes).await {
            Ok((_, until)) if until != never() && self.clock.now() > until => {
                Err(Rejection::Expired)
            }
            Ok((plain, until)) => Ok((plain, (until != never()).then_some(until))),
            Err(Error::PayloadExpired(_)) => Err(Rejection::Expired),
            Err(_) => Err(Rejection::Unprotect),
        }
    }

    /// The server-side expiry of a cookie written now: an explicit lifetime, else the
    /// cookie's own expiry (when enforced), else the default lifetime.
    fn expiry_for(&self, c: &Cookie<'_>, lifetime: Option<Duration>) -> Option<OffsetDateTime> {
        let now = self.clock.now();
        if let Some(l) = lifetime {
            return Some(now.saturating_add(to_time_duration(l)));
        }
        if self.enforce_cookie_expiry
            && let Some(at) = cookie_expiry(c, now)
        {
            return Some(at);
        }
        self.default_lifetime
            .map(|l| now.saturating_add(to_time_duration(l)))
    }
}

/// .NET's `DateTimeOffset.MaxValue` in whole seconds: "never expires".
fn never() -> OffsetDateTime {
    time::macros::datetime!(9999-12-31 23:59:59.9999999 UTC)
}

/// The protected cookies of one request: read what the browser sent, queue what the
/// response sets. Cheap to clone; every clone is the same jar. Get it from the request
/// extensions (or, with feature `axum`, as an extractor) under a [`ProtectedCookieLayer`].
///
/// A cookie that is tampered with, protected for another name or application, protected
/// with a revoked key, expired on the server side, or partially chunked reads as absent;
/// the reason is counted (`data_protection_cookie_rejections_total`) and logged at debug
/// level. A cookie protected with a key this node does not know yet reloads the ring once.
#[derive(Clone)]
pub struct ProtectedCookies {
    inner: Arc<Jar>,
}

struct Jar {
    settings: Arc<Settings>,
    request: RequestCookies,
    https: bool,
    outgoing: Outgoing,
}

impl fmt::Debug for ProtectedCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtectedCookies")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl ProtectedCookies {
    pub(crate) fn new(settings: Arc<Settings>, headers: &http::HeaderMap, https: bool) -> Self {
        Self {
            inner: Arc::new(Jar {
                settings,
                request: RequestCookies::from_headers(headers),
                https,
                outgoing: Outgoing::default(),
            }),
        }
    }

    /// The decrypted value of cookie `name` as bytes, with its server-side expiry.
    pub async fn get_bytes(&self, name: &str) -> Option<(Vec<u8>, Option<OffsetDateTime>)> {
        let joined = match self.inner.request.joined(name) {
            Ok(Some(v)) if !v.is_empty() => v,
            Ok(_) => return None,
            Err(_) => {
                Rejection::Chunks.report(name);
                return None;
            }
        };
        match self.inner.settings.open(name, &joined).await {
            Ok(opened) => Some(opened),
            Err(why) => {
                why.report(name);
                None
            }
        }
    }

    /// The decrypted value of cookie `name`.
    pub async fn get_value(&self, name: &str) -> Option<String> {
        let (bytes, _) = self.get_bytes(name).await?;
        match String::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(_) => {
                Rejection::Utf8.report(name);
                None
            }
        }
    }

    /// Cookie `name` with its decrypted value (name and value only: browsers do not send
    /// attributes).
    pub async fn get(&self, name: &str) -> Option<Cookie<'static>> {
        let value = self.get_value(name).await?;
        Some(Cookie::new(name.to_owned(), value))
    }

    /// Sets `cookie` with its value protected; attributes it leaves unset get the layer's
    /// defaults. When the layer enforces cookie expiry (the default) and the cookie has
    /// `Max-Age` or `Expires`, the server rejects it after that too, whatever the browser
    /// does; otherwise the layer's default lifetime, if any, applies.
    ///
    /// # Errors
    /// [`CookieError::Protect`] without a usable key, [`CookieError::Chunking`] when the
    /// name and attributes fill a whole chunk.
    pub fn add(&self, cookie: Cookie<'static>) -> Result<(), CookieError> {
        self.add_inner(cookie, None)
    }

    /// Like [`add`](Self::add), with a server-enforced lifetime from now (the browser's
    /// cookie stays as given, e.g. a session cookie).
    ///
    /// # Errors
    /// As [`add`](Self::add).
    pub fn add_with_lifetime(
        &self,
        cookie: Cookie<'static>,
        lifetime: Duration,
    ) -> Result<(), CookieError> {
        self.add_inner(cookie, Some(lifetime))
    }

    fn add_inner(
        &self,
        mut cookie: Cookie<'static>,
        lifetime: Option<Duration>,
    ) -> Result<(), CookieError> {
        let settings = &self.inner.settings;
        settings.defaults.apply(&mut cookie, self.inner.https);
        let expiry = settings.expiry_for(&cookie, lifetime);
        let sealed = settings.seal(cookie.name(), cookie.value().as_bytes(), expiry)?;
        self.set_raw(&cookie, &sealed)?;
        Ok(())
    }

    /// Queues an already protected value under `template`'s name and attributes.
    pub(crate) fn set_raw(
        &self,
        template: &Cookie<'static>,
        sealed: &str,
    ) -> Result<usize, CookieError> {
        Ok(self.inner.outgoing.set_chunked(
            template,
            sealed,
            &self.inner.request,
            self.inner.settings.chunk_size,
        )?)
    }

    /// Removes cookie `cookie.name()` and all its chunks from the browser; give the path
    /// and domain it was set with (unset ones take the layer's defaults).
    pub fn remove(&self, cookie: impl Into<Cookie<'static>>) {
        let mut template = cookie.into();
        self.inner
            .settings
            .defaults
            .apply(&mut template, self.inner.https);
        self.inner
            .outgoing
            .remove_chunked(&template, &self.inner.request);
    }

    /// A template cookie named `name` with the layer's default attributes.
    pub(crate) fn template(&self, name: &str) -> Cookie<'static> {
        let mut c = Cookie::new(name.to_owned(), "");
        self.inner.settings.defaults.apply(&mut c, self.inner.https);
        c
    }

    pub(crate) fn request(&self) -> &RequestCookies {
        &self.inner.request
    }

    pub(crate) fn outgoing(&self) -> &Outgoing {
        &self.inner.outgoing
    }
}

/// Adds [`ProtectedCookies`] to every request and sets the cookies it queued on the
/// response. Build it once; it is cheap to clone.
///
/// ```no_run
/// # async fn run(dp: data_protection::DataProtection) {
/// use data_protection::cookies::ProtectedCookieLayer;
/// let layer = ProtectedCookieLayer::builder(&dp)
///     .default_lifetime(std::time::Duration::from_secs(3600))
///     .build();
/// # let _ = layer; }
/// ```
#[derive(Clone, Debug)]
pub struct ProtectedCookieLayer {
    settings: Arc<Settings>,
}

impl ProtectedCookieLayer {
    /// Protected cookies with the default settings (purposes [application,
    /// [`PURPOSE`], cookie name], chunks of 4050 characters, `Path=/`, `HttpOnly`,
    /// `SameSite=Lax`, `Secure` on HTTPS requests, cookie expiry enforced).
    pub fn new(dp: impl Borrow<DataProtection>) -> Self {
        Self::builder(dp).build()
    }

    /// Starts configuring protected cookies on `dp`.
    pub fn builder(dp: impl Borrow<DataProtection>) -> ProtectedCookieLayerBuilder {
        let dp = dp.borrow();
        ProtectedCookieLayerBuilder {
            root: dp.protector([PURPOSE]),
            dp: dp.clone(),
            clock: dp.shared_clock(),
            defaults: Defaults::default(),
            chunk_size: Some(DEFAULT_CHUNK_SIZE),
            default_lifetime: None,
            enforce_cookie_expiry: true,
        }
    }
}

/// Configures a [`ProtectedCookieLayer`].
#[must_use = "call build() to get the layer"]
pub struct ProtectedCookieLayerBuilder {
    dp: DataProtection,
    root: Protector,
    clock: Arc<dyn Clock>,
    defaults: Defaults,
    chunk_size: Option<usize>,
    default_lifetime: Option<Duration>,
    enforce_cookie_expiry: bool,
}

impl fmt::Debug for ProtectedCookieLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtectedCookieLayerBuilder")
            .field("purposes", &self.root.purposes())
            .finish_non_exhaustive()
    }
}

impl ProtectedCookieLayerBuilder {
    /// Replaces [`PURPOSE`] with `purposes` (after the application name; the cookie name
    /// always follows), to keep one application's cookie families apart.
    pub fn purposes<I, S>(mut self, purposes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.root = self.dp.protector(purposes);
        self
    }

    /// Splits values longer than `size` characters (with attributes) into chunks (default
    /// 4050, ASP.NET's); `None` never splits.
    pub fn chunk_size(mut self, size: Option<usize>) -> Self {
        self.chunk_size = size;
        self
    }

    /// Cookies without `Max-Age`/`Expires` (and without an explicit lifetime) are rejected
    /// by the server after `lifetime` (default: never).
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = Some(lifetime);
        self
    }

    /// Whether a cookie's own `Max-Age`/`Expires` is also enforced by the server (default
    /// true).
    pub fn enforce_cookie_expiry(mut self, enforce: bool) -> Self {
        self.enforce_cookie_expiry = enforce;
        self
    }

    /// Default path (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.defaults.path = path.into();
        self
    }

    /// Default domain (default none: the request's host only).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.defaults.domain = Some(domain.into());
        self
    }

    /// Default `HttpOnly` (default true).
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.defaults.http_only = http_only;
        self
    }

    /// Default `SameSite` (default `Lax`; `None` for no attribute).
    pub fn same_site(mut self, same_site: Option<SameSite>) -> Self {
        self.defaults.same_site = same_site;
        self
    }

    /// When cookies get `Secure` by default (default: on HTTPS requests).
    pub fn secure(mut self, policy: SecurePolicy) -> Self {
        self.defaults.secure = policy;
        self
    }

    /// The clock server-side expiry is computed and checked with (default: the provider's;
    /// the provider's clock checks it too, so the earlier of the two ends a cookie).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Makes the layer.
    pub fn build(self) -> ProtectedCookieLayer {
        ProtectedCookieLayer {
            settings: Arc::new(Settings {
                root: self.root,
                clock: self.clock,
                defaults: self.defaults,
                chunk_size: self.chunk_size,
                default_lifetime: self.default_lifetime,
                enforce_cookie_expiry: self.enforce_cookie_expiry,
            }),
        }
    }
}

super::service::cookie_service!(
    ProtectedCookieLayer,
    ProtectedCookieService,
    "The service [`ProtectedCookieLayer`] wraps around an inner service.",
    |layer: &ProtectedCookieLayer, headers: &http::HeaderMap, https: bool| {
        ProtectedCookies::new(layer.settings.clone(), headers, https)
    },
    |jar: ProtectedCookies, headers: &mut http::HeaderMap| {
        jar.outgoing().write_to(headers);
    }
);
