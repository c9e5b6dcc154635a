//! ASP.NET cookie authentication and antiforgery over real HTTP, against the golden
//! .NET-shaped cookies of keyring-formats/golden/cookie-auth.txt (key-cbc.xml, app MyApp).

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use data_protection::cookie_formats::antiforgery::CurrentUser;
use data_protection::cookie_formats::ticket::{AuthenticationTicket, Claim, ClaimsIdentity};
use data_protection::cookies::{Antiforgery, CookieAuth, CookieAuthLayer};
use data_protection::{DataProtection, ManualClock};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::{Client, serve};

pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("keyring-formats/golden")
}

/// `name=value` fields of a section of cookie-auth.txt.
pub fn section(name: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(golden_dir().join("cookie-auth.txt")).unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with('[') {
            inside = line == format!("[{name}]");
        } else if inside
            && !line.starts_with('#')
            && let Some((k, v)) = line.split_once('=')
        {
            out.push((k.to_owned(), v.to_owned()));
        }
    }
    out
}

pub fn field<'a>(fields: &'a [(String, String)], key: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key}"))
}

const AUTH: [&str; 3] = [
    "Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationMiddleware",
    "Cookies",
    "v2",
];

async fn me(auth: CookieAuth) -> String {
    match auth.ticket().await {
        Some(t) => format!(
            "{} [{}]",
            t.name().unwrap_or("?"),
            t.roles().collect::<Vec<_>>().join(",")
        ),
        None => "anonymous".to_owned(),
    }
}

async fn login(
    auth: CookieAuth,
    UrlPath((name, groups)): UrlPath<(String, usize)>,
) -> &'static str {
    let mut identity = ClaimsIdentity::new("Cookies")
        .with_name(name)
        .with_role("user");
    for i in 0..groups {
        identity = identity.with_claim(Claim::new(
            "group",
            format!("group-{i:04}-{}", "g".repeat(40)),
        ));
    }
    let mut ticket = AuthenticationTicket::new("Cookies", identity);
    ticket.properties.set_persistent(true);
    auth.sign_in(ticket).unwrap();
    "ok"
}

async fn logout(auth: CookieAuth) -> &'static str {
    auth.sign_out();
    "ok"
}

async fn check_antiforgery(
    axum::extract::State(af): axum::extract::State<Antiforgery>,
    UrlPath(user): UrlPath<String>,
    headers: HeaderMap,
) -> String {
    let user = if user == "anonymous" {
        CurrentUser::Anonymous
    } else {
        CurrentUser::Username(user)
    };
    match af.validate(&headers, None, &user).await {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.to_string(),
    }
}

struct Node {
    dp: DataProtection,
    clock: Arc<ManualClock>,
    addr: std::net::SocketAddr,
}

/// The golden cookies' key ring (key-cbc.xml in a temp directory, application `MyApp`, no
/// new keys) on a manual clock at `at`.
pub async fn golden_ring(
    at: OffsetDateTime,
) -> (DataProtection, Arc<ManualClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        golden_dir().join("key-cbc.xml"),
        dir.path()
            .join("key-0f8fad5b-d9cb-469f-a165-70867728950e.xml"),
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(at));
    let dp = DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to_directory(dir.path())
        .clock(clock.clone())
        .disable_automatic_key_generation()
        .build()
        .await
        .unwrap();
    (dp, clock, dir)
}

async fn node(at: OffsetDateTime) -> (Node, tempfile::TempDir) {
    let (dp, clock, dir) = golden_ring(at).await;
    let af = Antiforgery::new(&dp);
    let app = Router::new()
        .route("/me", get(me))
        .route("/login/{name}/{groups}", post(login))
        .route("/logout", post(logout))
        .route("/antiforgery/{user}", post(check_antiforgery))
        .with_state(af)
        .layer(CookieAuthLayer::new(&dp));
    let addr = serve(app).await;
    (Node { dp, clock, addr }, dir)
}

/// Loads the `Set-Cookie` lines of a golden section into the client.
pub fn load_golden_cookies(c: &Client, lines: &[&str]) {
    for line in lines {
        let (pair, _) = line.split_once(';').unwrap();
        let (n, v) = pair.split_once('=').unwrap();
        c.set_cookie(n, v);
    }
}

pub fn decode_ticket(dp: &DataProtection, value: &str) -> AuthenticationTicket {
    let bytes = URL_SAFE_NO_PAD.decode(value).unwrap();
    AuthenticationTicket::decode(&dp.protector(AUTH).unprotect(&bytes).unwrap()).unwrap()
}

#[tokio::test]
async fn a_user_signed_in_on_aspnet_is_signed_in_here() {
    let (n, _dir) = node(datetime!(2024-01-02 0:00 UTC)).await;
    let c = Client::new(n.addr);
    assert_eq!(c.get("/me").await.body, "anonymous");
    let v = section("ticket_simple");
    load_golden_cookies(&c, &[field(&v, "set_cookie_header_value")]);
    let r = c.get("/me").await;
    assert_eq!(r.body, "alice [admin,ops]");
    assert!(
        r.set_cookies.is_empty(),
        "not past half its life: no renewal"
    );
    // The chunked one (3 chunks).
    let v = section("ticket_chunked");
    let c2 = Client::new(n.addr);
    let lines: Vec<&str> = (0..=3)
        .map(|i| field(&v, &format!("set_cookie_{i}")))
        .collect();
    load_golden_cookies(&c2, &lines);
    assert_eq!(c2.get("/me").await.body, "bob []");
    // A chunk missing: not signed in.
    c2.cookies.lock().unwrap().remove(".AspNetCore.CookiesC2");
    assert_eq!(c2.get("/me").await.body, "anonymous");
    // Tampered: not signed in.
    let mut value = c.cookie(".AspNetCore.Cookies").unwrap();
    value.replace_range(60..61, if &value[60..61] == "A" { "B" } else { "A" });
    c.set_cookie(".AspNetCore.Cookies", &value);
    assert_eq!(c.get("/me").await.body, "anonymous");
}

#[tokio::test]
async fn expired_tickets_are_rejected_and_old_ones_slide() {
    let (n, _dir) = node(datetime!(2024-01-10 0:00 UTC)).await;
    let v = section("ticket_simple");
    let c = Client::new(n.addr);
    load_golden_cookies(&c, &[field(&v, "set_cookie_header_value")]);
    // Jan 10 is past half of Jan 1 – Jan 15: the response re-issues the ticket.
    let r = c.get("/me").await;
    assert_eq!(r.body, "alice [admin,ops]");
    assert_eq!(r.set_cookies.len(), 1, "{:?}", r.set_cookies);
    assert!(
        r.set_cookies[0].contains("Expires="),
        "persistent: {:?}",
        r.set_cookies
    );
    let renewed = decode_ticket(&n.dp, &c.cookie(".AspNetCore.Cookies").unwrap());
    assert_eq!(renewed.issued_utc(), Some(datetime!(2024-01-10 0:00 UTC)));
    assert_eq!(renewed.expires_utc(), Some(datetime!(2024-01-24 0:00 UTC)));
    assert_eq!(renewed.name(), Some("alice"));
    // The original golden cookie after its expiry.
    let old = Client::new(n.addr);
    load_golden_cookies(&old, &[field(&v, "set_cookie_header_value")]);
    n.clock.set(datetime!(2024-01-15 0:00:01 UTC));
    assert_eq!(old.get("/me").await.body, "anonymous");
    assert_eq!(
        c.get("/me").await.body,
        "alice [admin,ops]",
        "renewed one lives"
    );
}

#[tokio::test]
async fn sign_in_issues_an_aspnet_ticket_and_sign_out_removes_every_chunk() {
    let (n, _dir) = node(datetime!(2024-01-02 0:00 UTC)).await;
    let c = Client::new(n.addr);
    let r = c.post("/login/carol/0", "").await;
    assert_eq!(r.set_cookies.len(), 1);
    let set = &r.set_cookies[0];
    assert!(set.starts_with(".AspNetCore.Cookies=CfDJ8"), "{set}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Expires="] {
        assert!(set.contains(attr), "{attr}: {set}");
    }
    // What a .NET node would do with it: unprotect under its purposes, deserialize.
    let t = decode_ticket(&n.dp, &c.cookie(".AspNetCore.Cookies").unwrap());
    assert_eq!(t.scheme, "Cookies");
    assert_eq!(t.name(), Some("carol"));
    assert_eq!(
        t.properties.get(".issued"),
        Some("Tue, 02 Jan 2024 00:00:00 GMT")
    );
    assert_eq!(
        t.properties.get(".expires"),
        Some("Tue, 16 Jan 2024 00:00:00 GMT")
    );
    assert!(t.properties.is_persistent());
    assert_eq!(c.get("/me").await.body, "carol [user]");
    // A big ticket is chunked; signing in small again removes the stale chunks.
    c.post("/login/dave/150", "").await;
    assert!(c.names().len() >= 3, "{:?}", c.names());
    assert_eq!(c.get("/me").await.body, "dave [user]");
    c.post("/login/erin/0", "").await;
    assert_eq!(c.names(), [".AspNetCore.Cookies"]);
    c.post("/login/dave/150", "").await;
    c.post("/logout", "").await;
    assert!(c.names().is_empty(), "{:?}", c.names());
    assert_eq!(c.get("/me").await.body, "anonymous");
}

#[tokio::test]
async fn antiforgery_tokens_from_a_dotnet_front_end_validate() {
    let (n, _dir) = node(datetime!(2024-01-02 0:00 UTC)).await;
    let v = section("antiforgery");
    let name = field(&v, "cookie_name");
    let c = Client::new(n.addr);
    let post = |user: &'static str, header: Option<&'static str>| {
        let c = &c;
        let token = header.map(|h| field(&v, h).to_owned());
        async move {
            let mut req =
                reqwest::Client::new().post(format!("http://{}/antiforgery/{user}", n.addr));
            let cookie = c
                .cookies
                .lock()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            if !cookie.is_empty() {
                req = req.header("cookie", cookie);
            }
            if let Some(t) = token {
                req = req.header("RequestVerificationToken", t);
            }
            req.send().await.unwrap().text().await.unwrap()
        }
    };
    assert_eq!(
        post("alice", Some("request_token_base64url")).await,
        "the antiforgery cookie is missing"
    );
    c.set_cookie(name, field(&v, "cookie_token_base64url"));
    assert_eq!(
        post("alice", None).await,
        "the antiforgery request token is missing"
    );
    assert_eq!(post("alice", Some("request_token_base64url")).await, "ok");
    assert_eq!(
        post("ALICE", Some("request_token_base64url")).await,
        "ok",
        "case-insensitive"
    );
    assert_eq!(
        post("bob", Some("request_token_base64url")).await,
        "the antiforgery request token was meant for another user"
    );
    assert_eq!(
        post("alice", Some("cookie_token_base64url")).await,
        "the antiforgery cookie and request tokens were swapped"
    );
    c.set_cookie(name, "garbage");
    assert_eq!(
        post("alice", Some("request_token_base64url")).await,
        "an antiforgery token is invalid"
    );
}
