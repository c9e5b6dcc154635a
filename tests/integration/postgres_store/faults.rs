//! A private server stopped, restarted or paused: the loaded ring keeps working, no key is
//! created while the store is unreachable, errors come within the deadline, and the node
//! catches up by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use data_protection::repository::{PostgresRepository, XmlRepository};
use data_protection::{DataProtection, Error, ManualClock, StoreErrorKind};
use time::OffsetDateTime;

use super::server::{PrivatePostgres, free_port};

const STORE_TIMEOUT: Duration = Duration::from_secs(2);

fn private_repo(url: &str) -> PostgresRepository {
    PostgresRepository::builder(url)
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap()
}

async fn node_on(url: &str, clock: Arc<ManualClock>) -> DataProtection {
    DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to(private_repo(url))
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
async fn a_stopped_server_stops_key_creation_and_the_node_catches_up_after_restart() {
    let mut server = PrivatePostgres::start();
    let start = OffsetDateTime::now_utc();
    let clock = Arc::new(ManualClock::new(start));
    let dp = node_on(&server.url(), clock.clone()).await;
    let first = dp.default_key().unwrap();
    let p = dp.protector(["p"]);
    let token = p.protect(b"before").unwrap();

    server.stop();
    assert_eq!(p.unprotect(&token).unwrap(), b"before");
    let during = p.protect(b"during").unwrap();
    clock.set(start + time::Duration::days(88));
    for _ in 0..3 {
        let began = Instant::now();
        let kind = store_kind(dp.ensure_key().await);
        assert_eq!(kind, StoreErrorKind::Unavailable);
        assert!(began.elapsed() < STORE_TIMEOUT + Duration::from_secs(1));
    }
    assert_eq!(dp.keys().len(), 1, "no key created while the store is down");
    assert_eq!(p.unprotect(&during).unwrap(), b"during");

    server.restart();
    assert_eq!(
        private_repo(&server.url())
            .get_all_elements()
            .await
            .unwrap()
            .len(),
        1,
        "nothing was written while down"
    );
    // The node's pool drops its dead connections and opens new ones.
    let outcome = dp.ensure_key().await.expect("ensure after restart");
    let successor = outcome.created.expect("the due key is created");
    assert_ne!(successor, first);
    assert_eq!(dp.ensure_key().await.unwrap().created, None, "created once");
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
    let server = PrivatePostgres::start();
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
    // A repository used directly (a new connection: the TCP handshake succeeds, the server
    // never answers) times out on its own deadline (1 s).
    let began = Instant::now();
    let err = private_repo(&server.url())
        .get_all_elements()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Timeout, "{err}");
    assert!(
        began.elapsed() < Duration::from_secs(3),
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
async fn an_unreachable_server_fails_the_build_naming_the_store() {
    let port = free_port();
    let url = format!("postgres://postgres:pw-not-shown@127.0.0.1:{port}/postgres?sslmode=disable");
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
    assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("postgres 127.0.0.1:{port}/postgres")),
        "{text}"
    );
    assert!(!text.contains("pw-not-shown") && !format!("{err:?}").contains("pw-not-shown"));
    assert!(began.elapsed() < STORE_TIMEOUT + Duration::from_secs(1));
}
