//! Cookie layer tests over real HTTP (axum on loopback, reqwest): protected cookies,
//! cookie-only sessions, ASP.NET cookie authentication, the cookie examples, and a real
//! headless Chromium.
#![cfg(all(feature = "cookies", feature = "axum"))]
#![allow(
    unreachable_pub,
    missing_docs,
    missing_debug_implementations,
    reason = "helpers are `pub` to be shared between the modules of this one test binary"
)]

mod auth;
mod browser;
mod examples;
mod jar;
mod session_store;

// The examples themselves, compiled into this binary so their `app` can be served and
// driven over HTTP (their `main` is not used here).
#[path = "../../examples/aspnet_signin.rs"]
#[allow(dead_code, reason = "the example's main")]
mod aspnet_signin;
#[path = "../../examples/protected_cookies.rs"]
#[allow(dead_code, reason = "the example's main")]
mod protected_cookies;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;

use axum::Router;
use data_protection::{DataProtection, DataProtectionBuilder};

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

/// A minimal browser: keeps the cookies responses set (dropping removed ones) and
/// sends them back; the test can read and change them.
pub struct Client {
    http: reqwest::Client,
    base: String,
    pub cookies: Mutex<BTreeMap<String, String>>,
}

/// One response: status, the `Set-Cookie` headers and the body.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            base: format!("http://{addr}"),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    pub async fn request(&self, method: reqwest::Method, path: &str, body: String) -> Answer {
        self.send(method, path, body, None).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: String,
        content_type: Option<&str>,
    ) -> Answer {
        let header = {
            let jar = self.cookies.lock().unwrap();
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .body(body);
        if !header.is_empty() {
            req = req.header("cookie", header);
        }
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let set_cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        {
            let mut jar = self.cookies.lock().unwrap();
            for s in &set_cookies {
                let c = cookie::Cookie::parse(s.clone()).unwrap();
                // Servers here run on simulated clocks: only explicit removals (Max-Age=0 or
                // an Expires before 2000) drop a cookie.
                let gone = c.max_age().is_some_and(|m| m.is_zero())
                    || c.expires_datetime().is_some_and(|e| e.year() < 2000);
                if gone {
                    jar.remove(c.name());
                } else {
                    jar.insert(c.name().to_owned(), c.value().to_owned());
                }
            }
        }
        Answer {
            status,
            headers,
            set_cookies,
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.request(reqwest::Method::GET, path, String::new())
            .await
    }

    pub async fn post(&self, path: &str, body: impl Into<String>) -> Answer {
        self.request(reqwest::Method::POST, path, body.into()).await
    }

    /// POSTs an HTML form (`application/x-www-form-urlencoded`).
    pub async fn post_form(&self, path: &str, body: impl Into<String>) -> Answer {
        let form = Some("application/x-www-form-urlencoded");
        self.send(reqwest::Method::POST, path, body.into(), form)
            .await
    }

    /// A response header as text ("" when absent).
    pub fn header(a: &Answer, name: &str) -> String {
        a.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    pub fn names(&self) -> Vec<String> {
        self.cookies.lock().unwrap().keys().cloned().collect()
    }
}
