//! The test application: routes that exercise every part of the session API, served on a
//! loopback port and driven by reqwest with a cookie jar.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use data_protection::session::{CommitError, Session, SessionError, SessionLayer};
use data_protection::{DataProtection, DataProtectionBuilder};
use reqwest::cookie::Jar;

/// Session errors answer 503, so a page that needs the session says so.
pub struct AppError(SessionError);

impl From<SessionError> for AppError {
    fn from(e: SessionError) -> Self {
        Self(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (StatusCode::SERVICE_UNAVAILABLE, self.0.to_string()).into_response()
    }
}

async fn counter(session: Session) -> Result<String, AppError> {
    let n = session.get_i32("counter").await?.unwrap_or(0) + 1;
    session.set_i32("counter", n);
    Ok(n.to_string())
}

async fn read(session: Session, UrlPath(key): UrlPath<String>) -> Result<String, AppError> {
    Ok(session.get_string(&key).await?.unwrap_or_default())
}

async fn write(session: Session, UrlPath((key, value)): UrlPath<(String, String)>) -> &'static str {
    session.set_string(&key, &value);
    "ok"
}

async fn remove(session: Session, UrlPath(key): UrlPath<String>) -> &'static str {
    session.remove(&key);
    "ok"
}

async fn keys(session: Session) -> Result<String, AppError> {
    Ok(session.keys().await?.join(","))
}

async fn id(session: Session) -> Result<String, AppError> {
    Ok(session.id().await?)
}

/// What loading the session gave: `ok`, or the store failure's kind and whether the error
/// keeps the store error as its source.
async fn load_kind(session: Session) -> String {
    match session.load().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            let source = std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<data_protection::StoreError>())
                .map(|s| format!("{:?}", s.kind()));
            format!("{:?} source={source:?}", e.store_error_kind())
        }
    }
}

async fn login(session: Session, UrlPath(user): UrlPath<String>) -> &'static str {
    session.renew();
    session.bind_user(&user);
    session.set_string("user", &user);
    "ok"
}

async fn whoami(session: Session) -> Result<String, AppError> {
    Ok(session
        .get_string("user")
        .await?
        .unwrap_or_else(|| "anonymous".to_owned()))
}

async fn logout(session: Session) -> &'static str {
    session.destroy();
    "ok"
}

async fn clear(session: Session) -> &'static str {
    session.clear();
    "ok"
}

async fn renew(session: Session) -> &'static str {
    session.renew();
    "ok"
}

async fn json(session: Session) -> Result<String, AppError> {
    let mut cart: Vec<String> = session.get_json("cart").await?.unwrap_or_default();
    cart.push(format!("item{}", cart.len()));
    session.set_json("cart", &cart)?;
    Ok(cart.join(","))
}

async fn huge_key(session: Session) -> &'static str {
    session.set(&"k".repeat(70_000), b"v".to_vec());
    "ok"
}

/// Every route, wrapped in `layer`, with an outer layer that turns the commit error the
/// session layer leaves in the response extensions into a header.
pub fn router(layer: SessionLayer) -> Router {
    Router::new()
        .route("/counter", get(counter))
        .route("/get/{key}", get(read))
        .route("/set/{key}/{value}", post(write))
        .route("/remove/{key}", post(remove))
        .route("/keys", get(keys))
        .route("/id", get(id))
        .route("/load-kind", get(load_kind))
        .route("/login/{user}", post(login))
        .route("/whoami", get(whoami))
        .route("/logout", post(logout))
        .route("/clear", post(clear))
        .route("/renew", post(renew))
        .route("/json", post(json))
        .route("/huge-key", post(huge_key))
        .route("/noop", get(|| async { "noop" }))
        .layer(layer)
        .layer(axum::middleware::map_response(commit_error_header))
}

async fn commit_error_header(mut response: Response) -> Response {
    if let Some(e) = response.extensions().get::<CommitError>() {
        let value = HeaderValue::from_str(&e.to_string().replace(['\r', '\n'], " "))
            .unwrap_or(HeaderValue::from_static("unprintable"));
        let source = std::error::Error::source(e)
            .and_then(|s| s.downcast_ref::<data_protection::StoreError>())
            .map(|s| format!("{:?}", s.kind()));
        let kind = format!("{:?} source={source:?}", e.store_error_kind());
        let headers = response.headers_mut();
        headers.insert("x-session-commit-error", value);
        if let Ok(kind) = HeaderValue::from_str(&kind) {
            headers.insert("x-session-commit-error-kind", kind);
        }
    }
    response
}

/// Serves `router` on a free loopback port until the test's runtime ends.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr
}

/// A key ring in `dir` for application `app`.
pub fn ring(dir: &Path, app: &str) -> DataProtectionBuilder {
    DataProtection::builder()
        .application_name(app)
        .persist_keys_to_directory(dir)
}

/// A browser: a client with its own cookie jar.
pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    pub base: String,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .no_proxy()
            .build()
            .unwrap();
        Self {
            client,
            jar,
            base: format!("http://{addr}"),
        }
    }

    /// A browser that already holds a session cookie.
    pub fn with_cookie(addr: SocketAddr, cookie: &str) -> Self {
        let b = Self::new(addr);
        b.set_session_cookie(cookie);
        b
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// GET, expecting 200, returning the body.
    pub async fn text(&self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.text().await.unwrap()
    }

    /// POST, expecting 200.
    pub async fn ok(&self, path: &str) {
        let r = self.post(path).await;
        assert_eq!(r.status(), 200, "POST {path}");
    }

    /// The session cookie's value as the jar holds it (URL-escaped).
    pub fn session_cookie(&self) -> Option<String> {
        let url: reqwest::Url = self.base.parse().unwrap();
        let header = reqwest::cookie::CookieStore::cookies(&*self.jar, &url)?;
        header
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|c| c.strip_prefix(".AspNetCore.Session="))
            .map(str::to_owned)
    }

    /// Replaces the session cookie.
    pub fn set_session_cookie(&self, value: &str) {
        let url: reqwest::Url = self.base.parse().unwrap();
        self.jar
            .add_cookie_str(&format!(".AspNetCore.Session={value}; path=/"), &url);
    }
}

/// The `Set-Cookie` headers of a response.
pub fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}
