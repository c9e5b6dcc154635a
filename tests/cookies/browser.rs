//! Protected cookies in a real browser: Debian's headless Chromium driven through
//! chromedriver's WebDriver HTTP API. A 10 KB value survives the chunked round trip, stale
//! chunks disappear, and HttpOnly, SameSite and Secure behave as configured.
//!
//! Needs `chromium` and `chromedriver` (`bash scripts/backends.sh install`, or apt-get
//! install chromium chromium-driver); the test fails with that hint when they are missing.
//! Two host names, `cookies.test` and `other.test`, are mapped to 127.0.0.1 inside the
//! browser, so cross-site navigation and an insecure (non-localhost) origin are real.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::response::Html;
use axum::routing::get;
use cookie::{Cookie, SameSite};
use data_protection::cookies::{ProtectedCookieLayer, ProtectedCookies};
use serde_json::{Value, json};

use crate::{ring, serve};

const FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP cookies.test 127.0.0.1, MAP other.test 127.0.0.1",
];

fn big_value() -> String {
    (0..10_240)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect()
}

const NAMES: [&str; 6] = ["big", "plain", "strict", "lax", "script", "secure"];

async fn set_big(jar: ProtectedCookies) -> &'static str {
    jar.add(Cookie::new("big", big_value())).unwrap();
    "set"
}

async fn set_small(jar: ProtectedCookies) -> &'static str {
    jar.add(Cookie::new("big", "small")).unwrap();
    "small"
}

async fn get_one(jar: ProtectedCookies, UrlPath(name): UrlPath<String>) -> String {
    match jar.get_value(&name).await {
        Some(v) if v == big_value() => "big-ok".to_owned(),
        Some(v) => format!("value={v}"),
        None => "absent".to_owned(),
    }
}

async fn set_attrs(jar: ProtectedCookies) -> &'static str {
    jar.add(Cookie::new("plain", "p")).unwrap();
    jar.add(
        Cookie::build(("strict", "s"))
            .same_site(SameSite::Strict)
            .build(),
    )
    .unwrap();
    jar.add(Cookie::build(("lax", "l")).same_site(SameSite::Lax).build())
        .unwrap();
    jar.add(Cookie::build(("script", "x")).http_only(false).build())
        .unwrap();
    jar.add(Cookie::build(("secure", "z")).secure(true).build())
        .unwrap();
    "attrs"
}

/// The names of the protected cookies that arrived and decrypted.
async fn echo(jar: ProtectedCookies) -> String {
    let mut seen = Vec::new();
    for name in NAMES {
        if jar.get_value(name).await.is_some() {
            seen.push(name);
        }
    }
    format!("seen:{}", seen.join(","))
}

async fn other_site() -> Html<&'static str> {
    Html("<html><body>other site</body></html>")
}

fn find(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(var) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

/// Sends a WebDriver command (JSON body) and parses the JSON answer.
async fn send_json(req: reqwest::RequestBuilder, body: Option<Value>) -> Value {
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(b.to_string()),
        None => req,
    };
    let text = req.send().await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("WebDriver answer {text}: {e}"))
}

struct Driver {
    child: Child,
    http: reqwest::Client,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Self {
        const HINT: &str = "headless Chromium is needed: run `bash scripts/backends.sh install` \
             (apt-get install chromium chromium-driver), or set CHROMIUM_BIN and CHROMEDRIVER_BIN";
        let chromium = find("CHROMIUM_BIN", &["chromium", "chromium-browser"])
            .unwrap_or_else(|| panic!("chromium not found; {HINT}"));
        let chromedriver = find("CHROMEDRIVER_BIN", &["chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver not found; {HINT}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}; {HINT}", chromedriver.display()));
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = FLAGS.iter().map(|s| (*s).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}
        }}});
        let r = send_json(http.post(format!("{base}/session")), Some(caps)).await;
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_owned();
        Self {
            child,
            http,
            base,
            session,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let v = send_json(self.http.request(method, url), body).await;
        assert!(v["value"]["error"].is_null(), "WebDriver {path}: {v}");
        v["value"].clone()
    }

    async fn open(&self, url: &str) -> String {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
        self.text().await
    }

    async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    async fn text(&self) -> String {
        self.script("return document.body ? document.body.innerText : ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The cookies the browser holds for the current page, by name.
    async fn cookies(&self) -> Vec<Value> {
        let mut v = self
            .call(reqwest::Method::GET, "/cookie", None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default();
        v.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        v
    }

    async fn cookie_names(&self) -> Vec<String> {
        self.cookies()
            .await
            .iter()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect()
    }
}

async fn app_addr(dir: &std::path::Path) -> SocketAddr {
    let dp = ring(dir, "BrowserTests").build().await.unwrap();
    let app = Router::new()
        .route("/big/set", get(set_big))
        .route("/big/small", get(set_small))
        .route("/get/{name}", get(get_one))
        .route("/attrs/set", get(set_attrs))
        .route("/echo", get(echo))
        .route("/other", get(other_site))
        .layer(ProtectedCookieLayer::new(&dp));
    serve(app).await
}

#[tokio::test]
async fn chromium_keeps_chunked_values_drops_stale_chunks_and_honours_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let addr = app_addr(dir.path()).await;
    let port = addr.port();
    let site = format!("http://cookies.test:{port}");
    let d = Driver::start().await;

    // A 10 KB value: 4 chunks, every one stored by the browser and sent back.
    assert_eq!(d.open(&format!("{site}/big/set")).await, "set");
    assert_eq!(
        d.cookie_names().await,
        ["big", "bigC1", "bigC2", "bigC3", "bigC4"]
    );
    assert_eq!(d.open(&format!("{site}/get/big")).await, "big-ok");
    // Rewritten small: the browser drops every stale chunk.
    assert_eq!(d.open(&format!("{site}/big/small")).await, "small");
    assert_eq!(d.cookie_names().await, ["big"]);
    assert_eq!(d.open(&format!("{site}/get/big")).await, "value=small");

    // Attributes.
    assert_eq!(d.open(&format!("{site}/attrs/set")).await, "attrs");
    let cookies = d.cookies().await;
    let get = |n: &str| cookies.iter().find(|c| c["name"] == n).cloned();
    for name in ["plain", "strict", "lax"] {
        let c = get(name).unwrap_or_else(|| panic!("{name} stored"));
        assert_eq!(c["httpOnly"], true, "{name}: {c}");
    }
    assert_eq!(get("plain").unwrap()["sameSite"], "Lax");
    assert_eq!(get("strict").unwrap()["sameSite"], "Strict");
    assert_eq!(get("script").unwrap()["httpOnly"], false);
    // Secure over plain HTTP on a non-localhost origin: the browser refuses it.
    assert!(
        get("secure").is_none(),
        "a Secure cookie from http:// is not stored"
    );
    // HttpOnly cookies are invisible to scripts; the other one is visible (encrypted).
    let script_view = d.script("return document.cookie").await;
    let script_view = script_view.as_str().unwrap();
    assert!(script_view.contains("script=CfDJ8"), "{script_view}");
    for hidden in ["plain=", "strict=", "lax=", "big="] {
        assert!(!script_view.contains(hidden), "{hidden} in {script_view}");
    }
    // Same-site request: every stored cookie arrives.
    assert_eq!(
        d.open(&format!("{site}/echo")).await,
        "seen:big,plain,strict,lax,script"
    );
    // Cross-site top-level navigation from other.test: Strict stays home, Lax goes.
    d.open(&format!("http://other.test:{port}/other")).await;
    d.script(&format!("window.location.href = '{site}/echo'; return 1"))
        .await;
    let started = Instant::now();
    let text = loop {
        let t = d.text().await;
        if t.starts_with("seen:") {
            break t;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "navigation: {t}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        text, "seen:big,plain,lax,script",
        "no Strict cookie cross-site"
    );
    d.call(reqwest::Method::DELETE, "", None).await;
}
