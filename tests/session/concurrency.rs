//! Concurrent requests of one session: different keys are all kept (two nodes on one
//! Redis, and one node on the memory store); the same key is last-writer-wins, reported.

use std::net::SocketAddr;
use std::sync::Arc;

use data_protection::session::{MemorySessionStore, SessionLayer, SessionStats};

use crate::app::{Browser, ring, router, serve};

pub const PER_NODE: usize = 200;

/// Fires `PER_NODE` requests `/set/{prefix}{i}/{i}` at each node, all at once, with one
/// session cookie; every one must succeed without a commit error.
pub async fn burst(nodes: &[(SocketAddr, &str)], cookie: &str) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for (addr, prefix) in nodes {
        for i in 0..PER_NODE {
            let (client, cookie) = (client.clone(), cookie.to_owned());
            let url = format!("http://{addr}/set/{prefix}{i}/{i}");
            tasks.spawn(async move {
                let r = client
                    .post(url)
                    .header("cookie", format!(".AspNetCore.Session={cookie}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                assert!(
                    r.headers().get("x-session-commit-error").is_none(),
                    "{:?}",
                    r.headers().get("x-session-commit-error")
                );
                assert!(
                    r.headers().get("set-cookie").is_none(),
                    "one session throughout"
                );
            });
        }
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
}

pub fn report(what: &str, stats: &[SessionStats]) {
    for (i, s) in stats.iter().enumerate() {
        println!(
            "{what} node {i}: saves {} conflicts (retries) {} (most for one commit {}) same-key overwrites {} failures {}",
            s.saves, s.conflicts, s.max_retries, s.same_key_overwrites, s.commit_failures
        );
        assert_eq!(s.commit_failures, 0);
        assert_eq!(s.same_key_overwrites, 0, "every request set its own key");
    }
}

pub async fn check_keys(b: &Browser, prefixes: &[&str]) {
    let keys = b.text("/keys").await;
    let keys: Vec<&str> = keys.split(',').collect();
    assert_eq!(keys.len(), 1 + prefixes.len() * PER_NODE, "nothing lost");
    for p in prefixes {
        for i in 0..PER_NODE {
            let k = format!("{p}{i}");
            assert!(keys.contains(&k.as_str()), "{k} lost");
            assert_eq!(b.text(&format!("/get/{k}")).await, i.to_string());
        }
    }
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_times_200_concurrent_requests_on_one_session_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let instance = format!("{}:", crate::backends::unique("conc"));
    let mut layers = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..2 {
        // Two nodes: their own key-ring provider, store connection and layer.
        let dp = ring(dir.path(), "Concurrency").build().await.unwrap();
        let store =
            data_protection::session::RedisSessionStore::builder(crate::backends::env("REDIS_URL"))
                .instance_name(&instance)
                .build()
                .await
                .unwrap();
        let layer = SessionLayer::new(&dp, store);
        addrs.push(serve(router(layer.clone())).await);
        layers.push(layer);
    }
    let b = Browser::new(addrs[0]);
    b.ok("/set/seed/0").await;
    let cookie = b.session_cookie().unwrap();
    burst(&[(addrs[0], "a"), (addrs[1], "b")], &cookie).await;
    let stats: Vec<_> = layers.iter().map(SessionLayer::stats).collect();
    report("redis, 2 x 200", &stats);
    assert_eq!(stats[0].saves, 1 + PER_NODE as u64);
    assert_eq!(stats[1].saves, PER_NODE as u64);
    check_keys(&b, &["a", "b"]).await;
    check_keys(&Browser::with_cookie(addrs[1], &cookie), &["a", "b"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_node_times_400_concurrent_requests_on_the_memory_store_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dp = ring(dir.path(), "Concurrency").build().await.unwrap();
    let layer = SessionLayer::new(&dp, MemorySessionStore::new());
    let addr = serve(router(layer.clone())).await;
    let b = Browser::new(addr);
    b.ok("/set/seed/0").await;
    let cookie = b.session_cookie().unwrap();
    burst(&[(addr, "a"), (addr, "b")], &cookie).await;
    report("memory, 1 x 400", &[layer.stats()]);
    check_keys(&b, &["a", "b"]).await;
}

/// Both change the same key: each commit keeps its own value for it (last writer wins),
/// and every overwrite of a concurrent change is counted. A read-modify-write counter can
/// therefore lose increments, and the count says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_key_changed_concurrently_is_last_writer_wins_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let dp = ring(dir.path(), "Concurrency").build().await.unwrap();
    // With Redis a request's load and commit are apart in time, as in production.
    #[cfg(feature = "redis")]
    let layer = SessionLayer::new(&dp, crate::redis_common::store("same").await.0);
    #[cfg(not(feature = "redis"))]
    let layer = SessionLayer::new(&dp, MemorySessionStore::new());
    let addr = serve(router(layer.clone())).await;
    let b = Browser::new(addr);
    assert_eq!(b.text("/counter").await, "1");
    let b = Arc::new(b);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let b = b.clone();
        tasks.spawn(async move { b.text("/counter").await });
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
    // The first and this last request each add one too.
    let kept = b.text("/counter").await.parse::<u64>().unwrap() - 2;
    let s = layer.stats();
    println!(
        "100 concurrent increments of one key kept {kept}; same-key overwrites {}, conflicts {}",
        s.same_key_overwrites, s.conflicts
    );
    assert_eq!(s.commit_failures, 0, "every commit succeeded");
    assert!((1..=100).contains(&kept));
    if kept < 100 {
        assert!(
            s.same_key_overwrites > 0,
            "lost increments come with counted overwrites"
        );
    }
}
