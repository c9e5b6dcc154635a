//! keyring-formats/golden/cookie-auth.txt: ASP.NET cookie-authentication tickets (plain,
//! every field, chunked) and antiforgery tokens, decoded with the golden CBC key.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use data_protection::cookie_formats::antiforgery::{
    self, AntiforgeryToken, CurrentUser, TokenUser, validate_pair,
};
use data_protection::cookie_formats::chunking;
use data_protection::cookie_formats::ticket::{AuthenticationTicket, DEFAULT_NAME_CLAIM_TYPE};
use data_protection::testing::InsecureSequentialRandom;
use time::macros::datetime;

use crate::common::*;
use crate::support::vectors::{field, section};

const AUTH_PURPOSES: [&str; 3] = [
    "Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationMiddleware",
    "Cookies",
    "v2",
];

fn fields(name: &str) -> Vec<(String, String)> {
    section(&golden_dir().join("cookie-auth.txt"), name)
}

async fn golden_provider(sequential: bool) -> data_protection::DataProtection {
    let key = std::fs::read_to_string(golden_dir().join("key-cbc.xml")).unwrap();
    let repo = memory_with(&[("key-golden", key)]).await;
    let mut b = read_only(repo, clock_at(datetime!(2024-01-02 0:00 UTC)));
    if sequential {
        b = b.random(Arc::new(InsecureSequentialRandom::new()));
    }
    b.build().await.unwrap()
}

#[tokio::test]
async fn the_simple_ticket_cookie_decodes_to_its_claims() {
    let v = fields("ticket_simple");
    let dp = golden_provider(false).await;
    let p = dp.protector(AUTH_PURPOSES);
    let bytes = URL_SAFE_NO_PAD
        .decode(field(&v, "protected_base64url"))
        .unwrap();
    let plain = p.unprotect(&bytes).unwrap();
    assert_eq!(hex::encode(&plain), field(&v, "ticket_hex"));
    let t = AuthenticationTicket::decode(&plain).unwrap();
    assert_eq!(t.scheme, "Cookies");
    assert_eq!(t.name(), Some(field(&v, "name")));
    assert_eq!(t.roles().collect::<Vec<_>>().join(","), field(&v, "roles"));
    assert_eq!(
        t.find_first("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"),
        Some(field(&v, "nameidentifier"))
    );
    assert_eq!(
        t.find_first("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"),
        Some(field(&v, "email"))
    );
    assert_eq!(t.issued_utc(), Some(datetime!(2024-01-01 0:00 UTC)));
    assert_eq!(t.expires_utc(), Some(datetime!(2024-01-15 0:00 UTC)));
    assert!(t.properties.is_persistent());
    assert!(!t.is_expired_at(datetime!(2024-01-02 0:00 UTC)));
    assert!(t.is_expired_at(datetime!(2024-01-15 0:00:01 UTC)));
    // Our writer reproduces the ticket bytes, and under the sequential generator (key
    // modifier 00..0f, IV 10..1f) the whole cookie value.
    assert_eq!(hex::encode(t.encode().unwrap()), field(&v, "ticket_hex"));
    let dp = golden_provider(true).await;
    let again = dp
        .protector(AUTH_PURPOSES)
        .protect(&t.encode().unwrap())
        .unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.encode(again),
        field(&v, "protected_base64url")
    );
}

#[test]
fn the_full_ticket_keeps_every_field() {
    let v = fields("ticket_full");
    let bytes = hex::decode(field(&v, "ticket_hex")).unwrap();
    let t = AuthenticationTicket::decode(&bytes).unwrap();
    assert_eq!(t.name(), Some(field(&v, "name")));
    assert_eq!(t.roles().collect::<Vec<_>>().join(","), field(&v, "roles"));
    let first = &t.identities[0];
    assert_eq!(first.name_claim_type, DEFAULT_NAME_CLAIM_TYPE);
    assert_eq!(
        first.bootstrap_context.as_deref(),
        Some(field(&v, "bootstrap"))
    );
    assert_eq!(
        first.actor.as_ref().and_then(|a| a.name()),
        Some(field(&v, "actor_name"))
    );
    let sub = t.claims_of_type("sub").next().unwrap();
    assert_eq!(sub.value, "42");
    assert_eq!(sub.value_type, "http://www.w3.org/2001/XMLSchema#integer");
    assert_eq!(sub.issuer, "https://idp.example");
    assert_eq!(sub.original_issuer, "https://upstream.example");
    assert_eq!(
        sub.properties,
        [
            ("k".to_owned(), "v".to_owned()),
            ("k2".to_owned(), String::new())
        ]
    );
    let second = &t.identities[1];
    assert!(!second.is_authenticated());
    assert_eq!(
        (
            second.name_claim_type.as_str(),
            second.role_claim_type.as_str()
        ),
        ("email", "grp")
    );
    assert_eq!(second.name(), Some("a@example.com"));
    assert_eq!(t.properties.allow_refresh(), Some(false));
    assert_eq!(t.properties.redirect_uri(), Some(field(&v, "redirect")));
    assert_eq!(t.properties.get("custom"), Some("x"));
    assert!(!t.properties.is_persistent());
    assert_eq!(hex::encode(t.encode().unwrap()), field(&v, "ticket_hex"));
}

#[tokio::test]
async fn the_chunked_cookie_joins_and_splits_like_aspnet() {
    let v = fields("ticket_chunked");
    let count: usize = field(&v, "chunk_count").parse().unwrap();
    let set_cookies: Vec<&str> = (0..=count)
        .map(|i| field(&v, &format!("set_cookie_{i}")))
        .collect();
    let pairs: Vec<(String, String)> = set_cookies
        .iter()
        .map(|h| {
            let (nv, _) = h.split_once(';').unwrap();
            let (n, v) = nv.split_once('=').unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    let joined = chunking::join(".AspNetCore.Cookies", |name| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    })
    .unwrap()
    .unwrap();
    assert_eq!(joined, field(&v, "protected_base64url"));
    let template = ".AspNetCore.Cookies=; path=/; samesite=lax; httponly".len();
    let split = chunking::split(
        ".AspNetCore.Cookies",
        &joined,
        template,
        Some(chunking::DEFAULT_CHUNK_SIZE),
    )
    .unwrap();
    assert_eq!(split, pairs);
    let dp = golden_provider(false).await;
    let plain = dp
        .protector(AUTH_PURPOSES)
        .unprotect(&URL_SAFE_NO_PAD.decode(&joined).unwrap())
        .unwrap();
    let t = AuthenticationTicket::decode(&plain).unwrap();
    assert_eq!(t.name(), Some(field(&v, "name")));
    assert_eq!(
        t.claims_of_type("group").count(),
        field(&v, "groups").parse::<usize>().unwrap()
    );
}

#[tokio::test]
async fn antiforgery_tokens_decode_and_validate() {
    let v = fields("antiforgery");
    assert_eq!(antiforgery::cookie_name("MyApp"), field(&v, "cookie_name"));
    let dp = golden_provider(false).await;
    let p = dp.protector([antiforgery::PURPOSE]);
    let open = |name: &str| {
        let bytes = URL_SAFE_NO_PAD.decode(field(&v, name)).unwrap();
        AntiforgeryToken::decode(&p.unprotect(&bytes).unwrap()).unwrap()
    };
    let cookie = open("cookie_token_base64url");
    let request = open("request_token_base64url");
    assert_eq!(
        hex::encode(cookie.encode().unwrap()),
        field(&v, "cookie_token_hex")
    );
    assert_eq!(
        hex::encode(request.encode().unwrap()),
        field(&v, "request_token_hex")
    );
    let AntiforgeryToken::Request { user, .. } = &request else {
        panic!("not a request token");
    };
    assert_eq!(user, &TokenUser::Username("alice".into()));
    let alice = CurrentUser::Username("Alice".into());
    assert_eq!(
        validate_pair(&cookie, &request, &alice, |d| d.is_empty()),
        Ok(())
    );
    assert!(validate_pair(&cookie, &request, &CurrentUser::Anonymous, |_| true).is_err());
}
