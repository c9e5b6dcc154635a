//! The cookie examples, run: examples/protected_cookies.rs and examples/aspnet_signin.rs
//! serve their own `app` on loopback and a reqwest client drives them over HTTP.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use data_protection::cookie_formats::ticket::{AuthenticationTicket, Claim, ClaimsIdentity};
use data_protection::cookies::{AUTH_PURPOSE, DEFAULT_SCHEME};
use data_protection::{DataProtection, ManualClock};
use serde_json::{Value, json};
use time::Duration;
use time::macros::datetime;

use crate::auth::{decode_ticket, field, golden_ring, load_golden_cookies, section};
use crate::{Answer, Client, aspnet_signin, protected_cookies, ring, serve};

const COOKIE: &str = ".AspNetCore.Cookies";

fn json(a: &Answer) -> Value {
    serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{e}: {}", a.body))
}

/// Flips one character in the middle of cookie `name`.
fn tamper(c: &Client, name: &str) {
    let mut v = c.cookie(name).unwrap();
    let mid = v.len() / 2;
    let flipped = if &v[mid..=mid] == "A" { "B" } else { "A" };
    v.replace_range(mid..=mid, flipped);
    c.set_cookie(name, &v);
}

/// The `Set-Cookie` lines of a response that delete a cookie (Expires in 1970).
fn removed(a: &Answer) -> Vec<String> {
    let mut names: Vec<String> = (a.set_cookies.iter())
        .map(|s| cookie::Cookie::parse(s.clone()).unwrap())
        .filter(|c| c.expires_datetime().is_some_and(|e| e.year() < 2000))
        .map(|c| c.name().to_owned())
        .collect();
    names.sort();
    names
}

fn chunk_names(name: &str, n: usize) -> Vec<String> {
    let mut v: Vec<String> = (1..=n).map(|i| format!("{name}C{i}")).collect();
    v.push(name.to_owned());
    v.sort();
    v
}

#[tokio::test]
async fn protected_cookies_example_counts_visits_and_keeps_a_chunked_note() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2025-06-01 0:00 UTC)));
    let dp = ring(dir.path(), "ProtectedCookies").clock(clock.clone());
    let dp = dp.build().await.unwrap();
    let addr = serve(protected_cookies::app(&dp)).await;
    let c = Client::new(addr);
    for n in 1..=3 {
        assert_eq!(c.get("/").await.body, format!("visits: {n}"));
    }
    let visits = c.cookie("visits").unwrap();
    assert!(visits.starts_with("CfDJ8"), "protected: {visits}");
    // The purposes name the cookie: the value under another name does not read.
    c.set_cookie("note", &visits);
    assert_eq!(c.get("/note").await.status, 404);
    // Tampered: read as absent, the count starts again.
    tamper(&c, "visits");
    assert_eq!(c.get("/").await.body, "visits: 1");
    // Another key ring (another app's) does not read it either.
    let other_dir = tempfile::tempdir().unwrap();
    let other = ring(other_dir.path(), "ProtectedCookies")
        .build()
        .await
        .unwrap();
    let other_addr = serve(protected_cookies::app(&other)).await;
    let stranger = Client::new(other_addr);
    stranger.set_cookie("visits", &c.cookie("visits").unwrap());
    assert_eq!(stranger.get("/").await.body, "visits: 1");

    // A 5,000-byte note (the example's curl command) is chunked, read back whole, and a short one removes the chunks.
    let big = "x".repeat(5000);
    let r = c.post("/note", big.clone()).await;
    assert_eq!((r.status, r.body.as_str()), (200, "saved"));
    let chunks = c.names().iter().filter(|n| n.starts_with("noteC")).count();
    assert_eq!(chunks, 2, "the example's doc says 2: {:?}", c.names());
    assert_eq!(c.cookie("note").unwrap(), "chunks-2");
    assert_eq!(c.get("/note").await.body, big);
    c.post("/note", "short").await;
    assert_eq!(c.names(), ["note", "visits"]);
    assert_eq!(c.get("/note").await.body, "short");
    // The note lives an hour, the visit count 30 days, whatever the browser keeps.
    clock.advance(Duration::seconds(3601));
    assert_eq!(c.get("/note").await.status, 404);
    assert_eq!(c.get("/").await.body, "visits: 2");
    clock.advance(Duration::days(31));
    assert_eq!(c.get("/").await.body, "visits: 1");
}

/// A ticket cookie as an ASP.NET node signs it: encoded, protected with the cookie handler's
/// purposes, base64url.
fn ticket_cookie(dp: &DataProtection, ticket: &AuthenticationTicket) -> String {
    let protector = dp.protector([AUTH_PURPOSE, DEFAULT_SCHEME, "v2"]);
    URL_SAFE_NO_PAD.encode(protector.protect(&ticket.encode().unwrap()).unwrap())
}

fn alice(issued: time::OffsetDateTime, expires: time::OffsetDateTime) -> AuthenticationTicket {
    let identity = ClaimsIdentity::new("Cookies")
        .with_name("alice")
        .with_role("admin")
        .with_role("ops")
        .with_claim(Claim::new("email", "alice@example.com").with_issuer("https://idp.example"));
    let mut t = AuthenticationTicket::new(DEFAULT_SCHEME, identity);
    t.properties.set_issued_utc(Some(issued));
    t.properties.set_expires_utc(Some(expires));
    t.properties.set_persistent(true);
    t
}

#[tokio::test]
async fn aspnet_signin_example_shows_a_ticket_the_crate_encoded_and_refuses_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let now = datetime!(2025-06-01 0:00 UTC);
    let clock = Arc::new(ManualClock::new(now));
    let dp = ring(dir.path(), "MyApp").clock(clock.clone());
    let dp = dp.build().await.unwrap();
    let addr = serve(aspnet_signin::app(&dp)).await;
    let c = Client::new(addr);
    let r = c.get("/me").await;
    assert_eq!(
        (r.status, json(&r)),
        (401, json!({"error": "not signed in"}))
    );

    c.set_cookie(
        COOKIE,
        &ticket_cookie(&dp, &alice(now, now + Duration::hours(1))),
    );
    let r = c.get("/me").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let name_type = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
    let role_type = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";
    let local = |t: &str, v: &str| json!({"type": t, "value": v, "issuer": "LOCAL AUTHORITY"});
    let email =
        json!({"type": "email", "value": "alice@example.com", "issuer": "https://idp.example"});
    let expected = json!({
        "name": "alice",
        "roles": ["admin", "ops"],
        "claims": [local(name_type, "alice"), local(role_type, "admin"), local(role_type, "ops"), email],
        "issued": "2025-06-01T00:00:00Z",
        "expires": "2025-06-01T01:00:00Z",
        "persistent": true,
    });
    assert_eq!(json(&r), expected);
    assert!(
        r.set_cookies.is_empty(),
        "not past half its life: no renewal"
    );

    // Tampered, another application's, already expired at issue: 401.
    tamper(&c, COOKIE);
    assert_eq!(c.get("/me").await.status, 401);
    let other_app = ring(dir.path(), "OtherApp").build().await.unwrap();
    c.set_cookie(
        COOKIE,
        &ticket_cookie(&other_app, &alice(now, now + Duration::hours(1))),
    );
    assert_eq!(c.get("/me").await.status, 401);
    let stale = alice(now - Duration::hours(2), now - Duration::seconds(1));
    c.set_cookie(COOKIE, &ticket_cookie(&dp, &stale));
    assert_eq!(c.get("/me").await.status, 401);
    // A valid one, then the clock passes its expiry.
    c.set_cookie(
        COOKIE,
        &ticket_cookie(&dp, &alice(now, now + Duration::hours(1))),
    );
    assert_eq!(c.get("/me").await.status, 200);
    clock.advance(Duration::seconds(3601));
    assert_eq!(c.get("/me").await.status, 401);
}

#[tokio::test]
async fn aspnet_signin_example_signs_in_and_out_with_cookies_a_dotnet_node_reads() {
    let dir = tempfile::tempdir().unwrap();
    let now = datetime!(2025-06-01 0:00 UTC);
    let dp = ring(dir.path(), "MyApp").clock(Arc::new(ManualClock::new(now)));
    let dp = dp.build().await.unwrap();
    let addr = serve(aspnet_signin::app(&dp)).await;
    let c = Client::new(addr);
    assert_eq!(c.post_form("/sign-in", "name=").await.status, 400);
    assert!(c.names().is_empty());

    let r = c
        .post_form("/sign-in", "name=carol&roles=admin,%20ops&persistent=true")
        .await;
    assert_eq!((r.status, r.body.as_str()), (200, "signed in as carol"));
    let [set] = r.set_cookies.as_slice() else {
        panic!("{:?}", r.set_cookies)
    };
    for attr in [
        ".AspNetCore.Cookies=CfDJ8",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Expires=",
    ] {
        assert!(set.contains(attr), "{attr}: {set}");
    }
    // What the .NET cookie handler does with it: unprotect under its purposes, deserialize.
    let t = decode_ticket(&dp, &c.cookie(COOKIE).unwrap());
    assert_eq!(t.scheme, "Cookies");
    assert!(t.identities[0].is_authenticated(), "an authentication type");
    assert_eq!(t.name(), Some("carol"));
    assert_eq!(t.roles().collect::<Vec<_>>(), ["admin", "ops"]);
    assert_eq!(t.issued_utc(), Some(now));
    assert_eq!(t.expires_utc(), Some(now + Duration::days(14)));
    assert!(t.properties.is_persistent());
    let me = json(&c.get("/me").await);
    assert_eq!(
        (&me["name"], &me["roles"]),
        (&json!("carol"), &json!(["admin", "ops"]))
    );

    // Not persistent: a browser-session cookie (no Expires), the ticket still expires.
    let r = c.post_form("/sign-in", "name=dave").await;
    assert!(
        !r.set_cookies[0].contains("Expires="),
        "{:?}",
        r.set_cookies
    );
    assert!(
        !decode_ticket(&dp, &c.cookie(COOKIE).unwrap())
            .properties
            .is_persistent()
    );

    // Many roles: a chunked cookie; sign-out deletes every chunk.
    let roles: Vec<String> = (0..100)
        .map(|i| format!("role-{i:03}-{}", "r".repeat(20)))
        .collect();
    c.post_form("/sign-in", format!("name=erin&roles={}", roles.join(",")))
        .await;
    let chunks = c.names().len() - 1;
    assert!(chunks >= 3, "{:?}", c.names());
    assert_eq!(c.cookie(COOKIE).unwrap(), format!("chunks-{chunks}"));
    let me = json(&c.get("/me").await);
    assert_eq!(me["name"], "erin");
    assert_eq!(me["roles"], json!(roles));
    let r = c.post("/sign-out", "").await;
    assert_eq!(r.body, "signed out");
    assert_eq!(removed(&r), chunk_names(COOKIE, chunks));
    assert!(c.names().is_empty(), "{:?}", c.names());
    assert_eq!(c.get("/me").await.status, 401);
}

#[tokio::test]
async fn aspnet_signin_example_shows_the_golden_dotnet_shaped_cookies() {
    let (dp, clock, _dir) = golden_ring(datetime!(2024-01-02 0:00 UTC)).await;
    let addr = serve(aspnet_signin::app(&dp)).await;
    let simple = section("ticket_simple");
    let c = Client::new(addr);
    load_golden_cookies(&c, &[field(&simple, "set_cookie_header_value")]);
    let r = c.get("/me").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let me = json(&r);
    assert_eq!(me["name"], field(&simple, "name"));
    assert_eq!(me["roles"], json!(["admin", "ops"]));
    let claims = me["claims"].as_array().unwrap();
    let claim = |suffix: &str| {
        let c = claims
            .iter()
            .find(|c| c["type"].as_str().unwrap().ends_with(suffix));
        c.map(|c| c["value"].clone())
    };
    assert_eq!(claim("/nameidentifier"), Some(json!("42")));
    assert_eq!(claim("/emailaddress"), Some(json!("alice@example.com")));
    assert_eq!(me["issued"], "2024-01-01T00:00:00Z");
    assert_eq!(me["expires"], "2024-01-15T00:00:00Z");
    assert_eq!(me["persistent"], true);

    // The chunked golden cookie (3 chunks, 120 group claims); sign-out deletes all four.
    let chunked = section("ticket_chunked");
    let b = Client::new(addr);
    let lines: Vec<&str> = (0..=3)
        .map(|i| field(&chunked, &format!("set_cookie_{i}")))
        .collect();
    load_golden_cookies(&b, &lines);
    let me = json(&b.get("/me").await);
    assert_eq!(me["name"], "bob");
    assert_eq!(me["roles"], json!([]));
    let groups = me["claims"].as_array().unwrap().iter();
    let groups: Vec<&Value> = groups.filter(|c| c["type"] == "group").collect();
    assert_eq!(groups.len(), 120);
    let r = b.post("/sign-out", "").await;
    assert_eq!(removed(&r), chunk_names(COOKIE, 3));
    assert!(b.names().is_empty(), "{:?}", b.names());

    // Tampered, then the original past its expiry: 401.
    let t = Client::new(addr);
    load_golden_cookies(&t, &[field(&simple, "set_cookie_header_value")]);
    tamper(&t, COOKIE);
    assert_eq!(t.get("/me").await.status, 401);
    clock.set(datetime!(2024-01-15 0:00:01 UTC));
    assert_eq!(c.get("/me").await.status, 401);
}
