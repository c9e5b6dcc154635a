//! Signed in on ASP.NET Core, signed in here: an axum app that shares an ASP.NET app's key
//! ring and application name, reads its sign-in cookie (`.AspNetCore.Cookies`, chunked when
//! large) and issues one the .NET app accepts.
//!
//! ```sh
//! KEYS_DIR=/srv/myapp/keys APP_NAME=MyApp cargo run --example aspnet_signin --features cookies,axum
//! curl -i -c jar -b jar -d 'name=alice&roles=admin,ops&persistent=true' http://127.0.0.1:3000/sign-in
//! curl -b jar http://127.0.0.1:3000/me              # JSON: name, roles, claims, issued, expires
//! curl -i -c jar -b jar -X POST http://127.0.0.1:3000/sign-out
//! curl -i -b jar http://127.0.0.1:3000/me           # 401
//! ```
//!
//! Settings (environment): `KEYS_DIR` (or the first argument; the directory the .NET app
//! gives `PersistKeysToFileSystem`; default `data-protection-aspnet-keys` in the system temp
//! dir), `APP_NAME` (its `SetApplicationName`, default `MyApp`), `ADDR` (default
//! `127.0.0.1:3000`). The .NET app
//! must use the default cookie scheme (`Cookies`) and cookie name; otherwise set them with
//! `CookieAuthLayer::builder(&dp).scheme(..).cookie_name(..)`. Keys it encrypts at rest
//! (`ProtectKeysWithCertificate`) need `unprotect_keys_with_any_certificate` on the builder.

use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use data_protection::DataProtection;
use data_protection::cookie_formats::ticket::{AuthenticationTicket, ClaimsIdentity};
use data_protection::cookies::{CookieAuth, CookieAuthLayer, DEFAULT_SCHEME};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The signed-in user as JSON; 401 without a valid ticket (none, expired, tampered, another
/// application's or key ring's).
async fn me(auth: CookieAuth) -> Response {
    let Some(ticket) = auth.ticket().await else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "not signed in"})),
        )
            .into_response();
    };
    let date = |at: Option<OffsetDateTime>| at.and_then(|t| t.format(&Rfc3339).ok());
    let claims: Vec<Value> = (ticket.identities.iter().flat_map(|i| &i.claims))
        .map(|c| json!({"type": c.claim_type, "value": c.value, "issuer": c.issuer}))
        .collect();
    Json(json!({
        "name": ticket.name(),
        "roles": ticket.roles().collect::<Vec<_>>(),
        "claims": claims,
        "issued": date(ticket.issued_utc()),
        "expires": date(ticket.expires_utc()),
        "persistent": ticket.properties.is_persistent(),
    }))
    .into_response()
}

/// The sign-in form: a name, comma-separated roles, a persistent cookie or a browser-session
/// one.
#[derive(serde::Deserialize)]
struct SignIn {
    name: String,
    #[serde(default)]
    roles: String,
    #[serde(default)]
    persistent: bool,
}

/// Signs the user in (a real app checks a password first): a ticket in ASP.NET's format,
/// protected for the .NET app's cookie handler, valid for its 14-day default.
async fn sign_in(auth: CookieAuth, Form(form): Form<SignIn>) -> Response {
    if form.name.is_empty() {
        return (StatusCode::BAD_REQUEST, "a name is needed").into_response();
    }
    let mut identity = ClaimsIdentity::new(DEFAULT_SCHEME).with_name(&form.name);
    for role in form
        .roles
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        identity = identity.with_role(role);
    }
    let mut ticket = AuthenticationTicket::new(DEFAULT_SCHEME, identity);
    ticket.properties.set_persistent(form.persistent);
    match auth.sign_in(ticket) {
        Ok(()) => format!("signed in as {}", form.name).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Signs out: the cookie and all its chunks are deleted.
async fn sign_out(auth: CookieAuth) -> &'static str {
    auth.sign_out();
    "signed out"
}

/// The application: ASP.NET's cookie authentication defaults (scheme `Cookies`, 14-day
/// tickets, sliding renewal) on `dp`, which must hold the .NET app's keys and name.
pub fn app(dp: &DataProtection) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/sign-in", post(sign_in))
        .route("/sign-out", post(sign_out))
        .layer(CookieAuthLayer::new(dp))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let keys = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("KEYS_DIR").ok())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("data-protection-aspnet-keys"));
    let dp = DataProtection::builder()
        .application_name(var("APP_NAME", "MyApp"))
        .persist_keys_to_directory(&keys)
        .build()
        .await?;
    let listener = tokio::net::TcpListener::bind(var("ADDR", "127.0.0.1:3000")).await?;
    println!(
        "ASP.NET sign-in on http://{}/me (keys in {})",
        listener.local_addr()?,
        keys.display()
    );
    axum::serve(listener, app(&dp)).await?;
    Ok(())
}
