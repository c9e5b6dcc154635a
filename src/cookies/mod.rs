//! Cookies protected by the key ring, for tower and axum (feature `cookies`).
//!
//! * [`ProtectedCookieLayer`] / [`ProtectedCookies`]: a jar of encrypted, authenticated
//!   cookies built on the `cookie` crate's [`Cookie`](cookie::Cookie). Each value is
//!   protected with purposes [application, [`PURPOSE`], cookie name] and carries a
//!   server-side expiry, so a value cannot be moved to another cookie, keys rotate and are
//!   revoked like every other payload's, and an expired cookie is refused even if the
//!   browser keeps it. Large values are split with ASP.NET's chunked layout.
//!
//! * [`CookieSessionStore`]: a [`SessionStore`](crate::session::SessionStore) that keeps
//!   the session in a protected cookie (no server store), with [`CookieSessionLayer`].
//!
//! * [`CookieAuthLayer`] / [`CookieAuth`]: ASP.NET Core cookie authentication
//!   (`.AspNetCore.Cookies`): read and validate the ticket, sliding renewal, sign in, sign
//!   out; interoperable with .NET nodes sharing the key ring.
//!
//! * [`Antiforgery`]: validates antiforgery cookie and request tokens a .NET front end
//!   issued.
//!
//! Formats (chunking, tickets, antiforgery) are in [`crate::cookie_formats`].

mod antiforgery;
mod auth;
#[cfg(feature = "axum")]
mod axum;
mod jar;
mod service;
mod session_store;
mod transport;

#[cfg(feature = "axum")]
pub use self::axum::MissingCookieLayer;
pub use antiforgery::{Antiforgery, AntiforgeryError, REQUEST_TOKEN_FIELD, REQUEST_TOKEN_HEADER};
pub use auth::{
    AUTH_PURPOSE, CookieAuth, CookieAuthLayer, CookieAuthLayerBuilder, CookieAuthService,
    DEFAULT_EXPIRE_TIME_SPAN, DEFAULT_SCHEME, cookie_name_for_scheme,
};
pub use jar::{
    CookieError, PURPOSE, ProtectedCookieLayer, ProtectedCookieLayerBuilder,
    ProtectedCookieService, ProtectedCookies,
};
pub use session_store::{
    CookieSessionLayer, CookieSessionService, CookieSessionStore, CookieSessionStoreBuilder,
    DEFAULT_COOKIE_BUDGET, DEFAULT_SESSION_DATA_COOKIE, SESSION_PURPOSE,
};
