//! A private server killed, restarted, paused or absent: the loaded ring keeps working,
//! no key is created while the store is unreachable, errors come within the store timeout,
//! and the node catches up by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use data_protection::repository::{RedisRepository, XmlRepository};
use data_protection::{DataProtection, Error, ManualClock, StoreErrorKind};
use time::OffsetDateTime;

use crate::support::private_redis::{PrivateRedis, free_port};

const STORE_TIMEOUT: Duration = Duration::from_secs(2);

fn private_repo(server_url: &str) -> RedisRepository {
    RedisRepository::builder(server_url)
        .list_key("keys")
        .connect_timeout(Duration::from_secs(1))
        .response_timeout(Duration::from_secs(1))
        .build()
        .unwrap()
}

async fn node_on(server_url: &str, clock: Arc<ManualClock>) -> DataProtection {
    DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to(private_repo(server_url))
        .clock(clock)
        .store_timeout(STORE_TIMEOUT)
        .background_refresh(false)
        .build()
        .await
        .unwrap()
}

fn store_kind(result: Result<impl std::fmt::Debug, Error>) -> StoreErrorKind {
    match result {
        Err(Error::Store(e)) => e.kind(),
        other => panic!("expected a store error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_killed_server_stops_key_creation_and_the_node_catches_up_after_restart() {
    let mut server = PrivateRedis::persistent();
    let start = OffsetDateTime::now_utc();
    let clock = Arc::new(ManualClock::new(start));
    let dp = node_on(&server.url(), clock.clone()).await;
    let first = dp.default_key().unwrap();
    let p = dp.protector(["p"]);
    let token = p.protect(b"before").unwrap();

    server.kill();
    // The loaded ring serves protect and unprotect without the store.
    assert_eq!(p.unprotect(&token).unwrap(), b"before");
    let during = p.protect(b"during").unwrap();
    assert_eq!(p.unprotect(&during).unwrap(), b"during");
    // A successor is due, but nothing may be decided on an unreadable store.
    clock.set(start + time::Duration::days(88));
    for _ in 0..3 {
        let began = Instant::now();
        let kind = store_kind(dp.ensure_key().await);
        assert_eq!(kind, StoreErrorKind::Unavailable);
        assert!(began.elapsed() < STORE_TIMEOUT + Duration::from_secs(1));
    }
    assert_eq!(dp.keys().len(), 1, "no key created while the store is down");
    assert_eq!(p.unprotect(&during).unwrap(), b"during");

    // Same port, same data directory: the appendonly file brings the ring back.
    server.restart();
    assert_eq!(
        private_repo(&server.url())
            .get_all_elements()
            .await
            .unwrap()
            .len(),
        1,
        "the ring survived and nothing was written while down"
    );
    // The node's own connection recovers on its first use.
    let outcome = dp.ensure_key().await.expect("ensure after restart");
    let successor = outcome.created.expect("the due key is created");
    assert_ne!(successor, first);
    let again = dp.ensure_key().await.unwrap();
    assert_eq!(again.created, None, "created once");
    assert_eq!(
        private_repo(&server.url())
            .get_all_elements()
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(p.unprotect(&token).unwrap(), b"before");
}

#[tokio::test]
async fn a_paused_server_gives_timeouts_not_hangs() {
    let server = PrivateRedis::start(&[]);
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let dp = node_on(&server.url(), clock.clone()).await;
    let p = dp.protector(["p"]);
    let token = p.protect(b"x").unwrap();

    server.pause();
    for _ in 0..2 {
        let began = Instant::now();
        let kind = store_kind(dp.refresh().await);
        assert_eq!(kind, StoreErrorKind::Timeout);
        let took = began.elapsed();
        assert!(
            took < STORE_TIMEOUT + Duration::from_millis(1500),
            "{took:?}"
        );
    }
    // A repository used directly times out on its own response timeout (1 s).
    let began = Instant::now();
    let err = private_repo(&server.url())
        .get_all_elements()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Timeout, "{err}");
    assert!(
        began.elapsed() < Duration::from_secs(4),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(p.unprotect(&token).unwrap(), b"x");

    server.resume();
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = dp.refresh().await {
        assert!(Instant::now() < deadline, "no recovery after SIGCONT: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dp.keys().len(), 1);
}

#[tokio::test]
async fn an_unreachable_store_fails_the_build_or_is_waited_for() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let began = Instant::now();
    let err = DataProtection::builder()
        .persist_keys_to(private_repo(&url))
        .store_timeout(STORE_TIMEOUT)
        .build()
        .await
        .unwrap_err();
    let Error::Store(e) = &err else {
        panic!("expected a store error, got {err}")
    };
    assert_eq!(e.kind(), StoreErrorKind::Unavailable);
    let text = err.to_string();
    assert!(
        text.contains(&format!("redis 127.0.0.1:{port} list keys")),
        "the error names the store: {text}"
    );
    assert!(text.contains("connecting"), "and what failed: {text}");
    assert!(began.elapsed() < STORE_TIMEOUT + Duration::from_secs(1));

    // With a start-up wait, a server that comes up during it is used. The task owns the
    // server, so it is stopped even if the build fails.
    let mut later = PrivateRedis::prepare(port, &[]);
    let starter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        later.restart();
        later
    });
    let dp = DataProtection::builder()
        .persist_keys_to(private_repo(&url))
        .store_timeout(STORE_TIMEOUT)
        .startup_wait(Duration::from_secs(15))
        .background_refresh(false)
        .build()
        .await
        .expect("the server started during the wait");
    let _server = starter.await.unwrap();
    assert!(dp.default_key().is_some());
}
