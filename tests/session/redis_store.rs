//! The Redis store: conformance on one server and on the 3-node cluster, the ASP.NET
//! layout byte for byte, a session written as .NET writes it read through HTTP, and the
//! counter example.

use std::sync::Arc;
use std::time::Duration;

use data_protection::session::store::conformance;
use data_protection::session::{
    Expected, RedisSessionStore, SaveOutcome, SessionData, SessionEntry, SessionLayer, SessionStore,
};
use data_protection::{DataProtection, ManualClock};
use redis::AsyncCommands;
use time::OffsetDateTime;

use crate::app::{Browser, ring, router, serve};
use crate::backends::unique;
use crate::redis_common::{cluster_urls, raw, store};
use crate::vectors::{blob_vector, cookie_vector, vector_key_dir};

#[allow(dead_code)] // the example's main is not used here
#[allow(
    clippy::duplicate_mod,
    reason = "both examples include examples/support/demo_redis.rs"
)]
#[path = "../../examples/session_counter.rs"]
mod counter_example;

#[allow(dead_code)]
#[path = "../../examples/session_cluster.rs"]
mod cluster_example;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_passes_the_conformance_suite() {
    let (store, instance) = store("conf").await;
    conformance::run(Arc::new(store), &instance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_store_passes_the_conformance_suite() {
    let store = RedisSessionStore::builder(cluster_urls()[0].clone())
        .cluster(cluster_urls().into_iter().skip(1))
        .instance_name(format!("{}:", unique("cconf")))
        .build()
        .await
        .expect("connect to REDIS_CLUSTER_URLS");
    assert!(store.describe().starts_with("redis cluster"));
    // Keys spread over the three nodes' slots; every script touches one key.
    conformance::run(Arc::new(store), &unique("cluster")).await;
}

#[tokio::test]
async fn what_the_store_writes_is_the_aspnet_layout_byte_for_byte() {
    let v = blob_vector();
    let (store, instance) = store("layout").await;
    let app = RedisSessionStore::builder(crate::backends::env("REDIS_URL"))
        .instance_name("app:")
        .build()
        .await
        .unwrap();
    assert_eq!(
        app.redis_key(&v.session_key),
        v.redis_key,
        "instance name prefix"
    );

    let entry = SessionEntry::new(v.blob.clone(), None, Some(Duration::from_secs(20 * 60)));
    let now = OffsetDateTime::now_utc();
    store
        .save(&v.session_key, &entry, Expected::Absent, now)
        .await
        .unwrap();
    let key = format!("{instance}{}", v.session_key);
    let mut con = raw().await;
    let fields: Vec<(String, Vec<u8>)> = con.hgetall(&key).await.unwrap();
    let mut fields = fields;
    fields.sort();
    assert_eq!(
        fields,
        vec![
            ("absexp".to_owned(), v.absexp.as_bytes().to_vec()),
            ("data".to_owned(), v.blob.clone()),
            ("sldexp".to_owned(), v.sldexp.as_bytes().to_vec()),
        ],
        "exactly the three fields, decimal ticks, raw data"
    );
    let ttl: i64 = con.ttl(&key).await.unwrap();
    assert!(
        (v.ttl - 1..=v.ttl).contains(&ttl),
        "TTL {ttl} s, expected {}",
        v.ttl
    );

    // Our data blob for the same contents is the vector's, byte for byte.
    let mut ours = SessionData::new(v.id_bytes);
    ours.set("name", b"value".to_vec());
    ours.set("count", 42i32.to_be_bytes().to_vec());
    ours.set("ünï", Vec::new());
    assert_eq!(ours.encode().unwrap(), v.blob);
    let _: () = con.del(&key).await.unwrap();
}

/// A .NET node stored a session (HSET absexp sldexp data + EXPIRE, as RedisCache.Set does)
/// and its browser holds the derived cookie: a Rust node reads it over HTTP and updates it
/// in place.
#[tokio::test]
async fn a_session_written_by_dotnet_is_read_and_updated_over_http() {
    let v = blob_vector();
    let cookie = cookie_vector();
    let keys = vector_key_dir();
    let dp = DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to_directory(keys.path())
        .clock(Arc::new(ManualClock::new(
            time::macros::datetime!(2024-02-01 0:00 UTC),
        )))
        .disable_automatic_key_generation()
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let (store, instance) = store("dotnet").await;
    let key = format!("{instance}{}", v.session_key);
    let mut con = raw().await;
    let _: () = redis::pipe()
        .hset_multiple(
            &key,
            &[
                ("absexp", v.absexp.as_bytes()),
                ("sldexp", v.sldexp.as_bytes()),
                ("data", &v.blob),
            ],
        )
        .expire(&key, 1200)
        .query_async(&mut con)
        .await
        .unwrap();

    let addr = serve(router(SessionLayer::new(&dp, store))).await;
    let b = Browser::new(addr);
    b.set_session_cookie(&cookie.cookie_value);
    assert_eq!(b.text("/get/name").await, "value");
    assert_eq!(b.text("/keys").await, "name,count,ünï");
    assert_eq!(
        b.text("/id").await,
        v.session_id,
        "ISession.Id of the .NET session"
    );
    let r = b.post("/set/name/rust").await;
    assert!(
        r.headers().get("set-cookie").is_none(),
        "same session, same cookie"
    );
    let data: Vec<u8> = con.hget(&key, "data").await.unwrap();
    let stored = SessionData::decode(&data).unwrap();
    assert_eq!(stored.get("name"), Some(&b"rust"[..]));
    assert_eq!(stored.get("count"), Some(&42i32.to_be_bytes()[..]));
    assert_eq!(stored.id(), v.session_id);
    let _: () = con.del(&key).await.unwrap();
}

#[tokio::test]
async fn the_counter_example_counts_per_browser_with_redis() {
    let dir = tempfile::tempdir().unwrap();
    let dp = ring(dir.path(), "SessionCounter").build().await.unwrap();
    let (store, _) = store("counter").await;
    let addr = serve(counter_example::app(SessionLayer::new(&dp, store))).await;
    let (b1, b2) = (Browser::new(addr), Browser::new(addr));
    for n in 1..=3 {
        assert_eq!(b1.text("/").await, format!("visits: {n}"));
    }
    assert_eq!(b2.text("/").await, "visits: 1");
    assert_eq!(b1.text("/").await, "visits: 4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_and_user_binding_work_on_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let dp = ring(dir.path(), "ClusterApp").build().await.unwrap();
    let store = RedisSessionStore::cluster(cluster_urls()).await.unwrap();
    let l = SessionLayer::builder(&dp, store)
        .user_index_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    let addr = serve(router(l)).await;
    let user = unique("carol");
    let browsers: Vec<_> = (0..6).map(|_| Browser::new(addr)).collect();
    for (i, b) in browsers.iter().enumerate() {
        for n in 1..=2 {
            assert_eq!(b.text("/counter").await, n.to_string(), "browser {i}");
        }
    }
    browsers[0].ok(&format!("/login/{user}")).await;
    browsers[1].ok(&format!("/login/{user}")).await;
    assert_eq!(browsers[0].text("/whoami").await, "anonymous");
    assert_eq!(browsers[1].text("/whoami").await, user);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_example_runs_every_step() {
    let keys = tempfile::tempdir().unwrap();
    let instance = format!("{}:", unique("demo"));
    let mut lines = Vec::new();
    cluster_example::demo(
        keys.path(),
        &crate::backends::env("REDIS_URL"),
        &instance,
        &mut |l| lines.push(l),
    )
    .await
    .unwrap();
    assert!(
        lines.iter().any(|l| l == "browser 1 -> node B: name = Ada"),
        "{lines:#?}"
    );
    assert!(lines.last().unwrap().starts_with("done"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_session_examples_start_a_private_redis_when_redis_url_is_unset() {
    use cluster_example::demo_redis::DemoRedis;
    // What `cargo run --example session_cluster` does with REDIS_URL unset and redis-server
    // installed: a server of its own on a free loopback port, used by the whole demo.
    let bin = crate::backends::env("REDIS_SERVER_BIN");
    let redis = DemoRedis::connect_or_start(None, Some(bin.into())).unwrap();
    assert!(redis.is_private());
    let url = redis.url().to_owned();
    assert_ne!(url, crate::backends::env("REDIS_URL"));
    let keys = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    cluster_example::demo(keys.path(), &url, "demo:", &mut |l| lines.push(l))
        .await
        .unwrap();
    assert!(lines.last().unwrap().starts_with("done"), "{lines:#?}");
    // Dropping it stops the server.
    drop(redis);
    let client = redis::Client::open(url.as_str()).unwrap();
    assert!(client.get_multiplexed_async_connection().await.is_err());

    // REDIS_URL set: used as it is, nothing started.
    let given = DemoRedis::connect_or_start(Some("redis://192.0.2.1:1/".into()), None).unwrap();
    assert!(!given.is_private());
    assert_eq!(given.url(), "redis://192.0.2.1:1/");
    // No redis-server: the error says how to install one.
    let missing = DemoRedis::connect_or_start(None, Some("/nonexistent/redis-server".into()));
    let err = missing.err().unwrap();
    assert!(err.contains("apt-get install redis-server"), "{err}");
}

/// The layer loads with a plain HMGET that leaves the expiry alone and restarts the sliding
/// expiration at the commit instead (in the save, or with PEXPIRE when nothing is saved):
/// every request, reading or writing, still ends with the full idle timeout.
#[tokio::test]
async fn every_request_restarts_the_sliding_expiration_at_its_commit() {
    let dir = tempfile::tempdir().unwrap();
    let dp = ring(dir.path(), "SlidingApp").build().await.unwrap();
    let (store, instance) = store("sliding").await;
    let idle = Duration::from_secs(20 * 60);
    let layer = SessionLayer::builder(&dp, store.clone())
        .idle_timeout(idle)
        .build()
        .unwrap();
    let addr = serve(router(layer)).await;
    let b = Browser::new(addr);
    b.ok("/set/name/alice").await;
    let mut con = raw().await;
    let keys: Vec<String> = con.keys(format!("{instance}*")).await.unwrap();
    let [key] = <[String; 1]>::try_from(keys).expect("one session entry");
    let session_key = key.strip_prefix(&instance).unwrap().to_owned();

    // Store level: the deferred load leaves the TTL, refresh_loaded restarts it.
    let _: () = con.pexpire(&key, 100_000).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let (entry, refreshed) = store
        .load_deferring_refresh(&session_key, now)
        .await
        .unwrap();
    let entry = entry.expect("the entry");
    assert!(!refreshed, "a plain HMGET");
    let left: i64 = con.pttl(&key).await.unwrap();
    assert!(left <= 100_000, "untouched by the load: {left} ms");
    store
        .refresh_loaded(&session_key, &entry, now)
        .await
        .unwrap();
    let left: i64 = con.pttl(&key).await.unwrap();
    assert!(left > 1_190_000, "restarted to the idle timeout: {left} ms");
    let (missing, _) = store
        .load_deferring_refresh("no-such-session-key-000000000000000", now)
        .await
        .unwrap();
    assert!(missing.is_none());

    // Through the layer: a read-only request, a writing one, one that changes nothing.
    for path in ["/get/name", "/set/name/bob", "/set/name/bob"] {
        let _: () = con.pexpire(&key, 100_000).await.unwrap();
        let r = if path.starts_with("/set") {
            b.post(path).await
        } else {
            b.get(path).await
        };
        assert!(r.status().is_success(), "{path}");
        let left: i64 = con.pttl(&key).await.unwrap();
        assert!(
            left > 1_190_000 && left <= 1_200_000,
            "{path}: TTL {left} ms, expected the full idle timeout"
        );
    }
    assert_eq!(b.text("/get/name").await, "bob");
    let _: () = con.del(&key).await.unwrap();
}

/// Empties the server's script cache, as a restart does.
async fn forget_scripts(con: &mut redis::aio::MultiplexedConnection) {
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(con)
        .await
        .unwrap();
}

/// The store sends scripts by hash; a server that forgot them (restart, `SCRIPT FLUSH`)
/// gets the code instead, and every script keeps its meaning.
#[tokio::test]
async fn scripts_still_run_after_the_server_forgets_them() {
    let (store, _instance) = store("noscript").await;
    let now = OffsetDateTime::now_utc();
    let entry = |data: Vec<u8>| SessionEntry::new(data, None, Some(Duration::from_secs(600)));
    let small = entry(b"first".to_vec());
    let large = entry(vec![7u8; 4000]); // compared by SHA-1
    for (key, first) in [("noscript-small", &small), ("noscript-large", &large)] {
        let mut con = raw().await;
        forget_scripts(&mut con).await;
        let saved = store.save(key, first, Expected::Absent, now).await.unwrap();
        assert!(matches!(saved, SaveOutcome::Saved), "{key}");
        forget_scripts(&mut con).await;
        let wrong = store
            .save(key, &entry(b"x".to_vec()), Expected::Data(b"not it"), now)
            .await
            .unwrap();
        match wrong {
            SaveOutcome::Conflict(Some(current)) => {
                assert_eq!(current.data, first.data, "{key}")
            }
            other => panic!("{key}: expected a conflict with the stored entry, got {other:?}"),
        }
        let second = entry(b"second".to_vec());
        let saved = store
            .save(key, &second, Expected::Data(&first.data), now)
            .await
            .unwrap();
        assert!(matches!(saved, SaveOutcome::Saved), "{key}");
        forget_scripts(&mut con).await;
        let loaded = store.load(key, now).await.unwrap().expect("the entry");
        assert_eq!(loaded.data, b"second", "{key}");
        store.remove(key).await.unwrap();
    }
}
