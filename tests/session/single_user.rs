//! One active session per user: a second login of the same user makes the first
//! browser's next request anonymous, on every node.

use std::net::SocketAddr;

use data_protection::session::{MemorySessionStore, SessionLayer};

use crate::app::{Browser, ring, router, serve};
use crate::backends::unique;

async fn second_login_ends_the_first(a: SocketAddr, b: SocketAddr) {
    let user = unique("alice");
    let browser1 = Browser::new(a);
    assert_eq!(browser1.text("/counter").await, "1");
    let anonymous_cookie = browser1.session_cookie().unwrap();
    browser1.ok(&format!("/login/{user}")).await;
    assert_ne!(
        browser1.session_cookie().unwrap(),
        anonymous_cookie,
        "login renews the key"
    );
    assert_eq!(browser1.text("/whoami").await, user);
    assert_eq!(
        browser1.text("/counter").await,
        "2",
        "data kept across login"
    );
    let browser1_cookie = browser1.session_cookie().unwrap();
    assert_eq!(
        Browser::with_cookie(b, &browser1_cookie)
            .text("/whoami")
            .await,
        user
    );

    let browser2 = Browser::new(b);
    browser2.ok(&format!("/login/{user}")).await;
    assert_eq!(browser2.text("/whoami").await, user);

    assert_eq!(browser1.text("/whoami").await, "anonymous", "node A");
    assert_eq!(
        Browser::with_cookie(b, &browser1_cookie)
            .text("/whoami")
            .await,
        "anonymous",
        "node B"
    );
    assert_eq!(browser2.text("/whoami").await, user, "the new login stays");
    let browser2_on_a = Browser::with_cookie(a, &browser2.session_cookie().unwrap());
    assert_eq!(browser2_on_a.text("/whoami").await, user);

    // Another user's login touches nobody else.
    let other = Browser::new(a);
    other.ok(&format!("/login/{}", unique("bob"))).await;
    assert_eq!(browser2.text("/whoami").await, user);
}

#[tokio::test]
async fn one_session_per_user_on_one_node_with_the_memory_store() {
    let dir = tempfile::tempdir().unwrap();
    let dp = ring(dir.path(), "SingleUser").build().await.unwrap();
    let addr = serve(router(SessionLayer::new(&dp, MemorySessionStore::new()))).await;
    second_login_ends_the_first(addr, addr).await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_session_per_user_across_two_nodes_on_redis() {
    let dir = tempfile::tempdir().unwrap();
    let instance = format!("{}:", unique("single"));
    let mut addrs = Vec::new();
    for _ in 0..2 {
        let dp = ring(dir.path(), "SingleUser").build().await.unwrap();
        let store =
            data_protection::session::RedisSessionStore::builder(crate::backends::env("REDIS_URL"))
                .instance_name(&instance)
                .build()
                .await
                .unwrap();
        addrs.push(serve(router(SessionLayer::new(&dp, store))).await);
    }
    second_login_ends_the_first(addrs[0], addrs[1]).await;
}
