//! Settings of the session layer, with ASP.NET Core's defaults.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// ASP.NET Core's session cookie name.
pub const DEFAULT_COOKIE_NAME: &str = ".AspNetCore.Session";
/// ASP.NET Core's sliding expiration of a session (20 minutes).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// ASP.NET Core's timeout of one store call (1 minute).
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(60);
/// How many times a commit re-applies its changes after losing a compare-and-swap.
pub const DEFAULT_COMMIT_RETRIES: u32 = 16;
/// How long a user's session index lives when no absolute lifetime is set (30 days).
pub const DEFAULT_USER_INDEX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// When the cookie gets the `Secure` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurePolicy {
    /// Always (the browser then sends it only over HTTPS).
    Always,
    /// When the request URI's scheme is `https`. Behind a proxy that terminates TLS the
    /// scheme is usually missing: use [`Always`](Self::Always) there.
    #[default]
    SameAsRequest,
    /// Never (ASP.NET's session default).
    Never,
}

/// The cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// `samesite=strict`.
    Strict,
    /// `samesite=lax` (the default).
    #[default]
    Lax,
    /// `samesite=none` (browsers require `Secure` with it).
    None,
    /// No attribute.
    Unspecified,
}

/// Decides whether the user consented to non-essential cookies, from the request headers.
pub type ConsentCheck = Arc<dyn Fn(&http::HeaderMap) -> bool + Send + Sync>;

/// The session cookie's settings.
#[derive(Clone)]
pub struct CookieConfig {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    pub(crate) secure: SecurePolicy,
    pub(crate) essential: bool,
    pub(crate) consent: Option<ConsentCheck>,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: DEFAULT_COOKIE_NAME.to_owned(),
            path: "/".to_owned(),
            domain: None,
            http_only: true,
            same_site: SameSite::Lax,
            secure: SecurePolicy::default(),
            essential: false,
            consent: None,
        }
    }
}

impl fmt::Debug for CookieConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieConfig")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("domain", &self.domain)
            .field("http_only", &self.http_only)
            .field("same_site", &self.same_site)
            .field("secure", &self.secure)
            .field("essential", &self.essential)
            .field("consent_required", &self.consent.is_some())
            .finish()
    }
}

/// Whether `name` is an RFC 6265 cookie name (an HTTP token).
pub(crate) fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `value` may appear as a cookie attribute value (path, domain).
pub(crate) fn is_attribute_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b';')
}

/// Everything the layer needs besides the provider and the store.
#[derive(Clone, Debug)]
pub(crate) struct SessionConfig {
    pub(crate) cookie: CookieConfig,
    pub(crate) idle_timeout: Duration,
    pub(crate) absolute_lifetime: Option<Duration>,
    pub(crate) io_timeout: Duration,
    pub(crate) commit_retries: u32,
    pub(crate) user_index_ttl: Option<Duration>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            cookie: CookieConfig::default(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            absolute_lifetime: None,
            io_timeout: DEFAULT_IO_TIMEOUT,
            commit_retries: DEFAULT_COMMIT_RETRIES,
            user_index_ttl: None,
        }
    }
}

/// A session setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionConfigError {
    /// The cookie name is not an HTTP token.
    #[error("invalid session cookie name {0:?}: use letters, digits and !#$%&'*+-.^_`|~")]
    CookieName(String),
    /// The cookie path holds control characters or `;`.
    #[error("invalid session cookie path {0:?}")]
    CookiePath(String),
    /// The cookie domain holds control characters or `;`.
    #[error("invalid session cookie domain {0:?}")]
    CookieDomain(String),
    /// A duration is zero where that cannot work, or longer than 100 years.
    #[error("the session {0} must be longer than zero and at most 100 years")]
    Duration(&'static str),
}

/// The longest duration a setting may have.
const CENTURY: Duration = Duration::from_secs(36_525 * 24 * 3600);

impl SessionConfig {
    /// Checks every setting.
    pub(crate) fn check(&self) -> Result<(), SessionConfigError> {
        let c = &self.cookie;
        if !is_token(&c.name) {
            return Err(SessionConfigError::CookieName(c.name.clone()));
        }
        if !is_attribute_value(&c.path) {
            return Err(SessionConfigError::CookiePath(c.path.clone()));
        }
        if let Some(domain) = c.domain.as_ref().filter(|d| !is_attribute_value(d)) {
            return Err(SessionConfigError::CookieDomain(domain.clone()));
        }
        let durations = [
            ("idle timeout", Some(self.idle_timeout)),
            ("I/O timeout", Some(self.io_timeout)),
            ("absolute lifetime", self.absolute_lifetime),
            ("user index lifetime", self.user_index_ttl),
        ];
        for (name, d) in durations {
            if d.is_some_and(|d| d.is_zero() || d > CENTURY) {
                return Err(SessionConfigError::Duration(name));
            }
        }
        Ok(())
    }

    /// How long the user-to-session index lives.
    pub(crate) fn user_index_ttl(&self) -> Duration {
        self.user_index_ttl
            .or(self.absolute_lifetime)
            .unwrap_or(DEFAULT_USER_INDEX_TTL)
    }
}
