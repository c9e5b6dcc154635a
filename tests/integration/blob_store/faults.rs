//! Store failures on private servers: killed, frozen (SIGSTOP) and unreachable. The loaded
//! ring keeps working, failures are typed errors within the store timeout, no key is created
//! while the store is away, and nodes catch up when it is back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use data_protection::repository::{BlobLayout, BlobRepository, XmlRepository};
use data_protection::{DataProtection, Error, ManualClock, StoreErrorKind};
use time::macros::datetime;

use super::servers::{Kind, Server, free_port};
use super::{LAYOUTS, azure_options_at};

const STORE_TIMEOUT: Duration = Duration::from_secs(2);

fn url(kind: Kind, layout: BlobLayout, path: &str) -> String {
    let scheme = match kind {
        Kind::Azurite => "az",
        Kind::Moto => "s3",
    };
    let layout = match layout {
        BlobLayout::PerObject => "per-object",
        BlobLayout::SingleBlob => "single-blob",
    };
    format!("{scheme}://keyring/{path}?layout={layout}")
}

fn repo(server: &Server, layout: BlobLayout, path: &str) -> BlobRepository {
    let options = match server.kind() {
        Kind::Azurite => azure_options_at(&server.endpoint()),
        Kind::Moto => vec![
            ("aws_endpoint", server.endpoint()),
            ("aws_allow_http", "true".into()),
            ("aws_region", "us-east-1".into()),
            ("aws_access_key_id", "testing".into()),
            ("aws_secret_access_key", "testing".into()),
        ],
    };
    BlobRepository::from_url_with_options(&url(server.kind(), layout, path), options)
        .expect("store URL")
}

fn is_store_error(result: &Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(result, Err(Error::Store(_)))
}

/// Azurite (data on disk) is stopped while nodes run, then started again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_store_creates_no_key_and_nodes_catch_up_after_restart() {
    let mut server = Server::start(Kind::Azurite).await;
    let clock = Arc::new(ManualClock::new(datetime!(2026-05-01 0:00 UTC)));
    let mut nodes = Vec::new();
    for layout in LAYOUTS {
        let repo = repo(&server, layout, &format!("ring-{layout:?}"));
        let dp = DataProtection::builder()
            .persist_keys_to(repo)
            .clock(clock.clone())
            .store_timeout(STORE_TIMEOUT)
            .refresh_interval(Duration::from_secs(1))
            .build()
            .await
            .expect("start with the store up");
        let token = dp.protector(["p"]).protect(b"before").unwrap();
        nodes.push((layout, dp, token));
    }

    server.stop().await;
    let expiry = nodes[0].1.keys()[0].expiration;
    clock.set(expiry - time::Duration::days(2)); // a successor is due
    for (layout, dp, token) in &nodes {
        let p = dp.protector(["p"]);
        assert_eq!(p.unprotect(token).unwrap(), b"before", "{layout:?}");
        let during = p.protect(b"during").expect("protect with the loaded ring");
        assert_eq!(p.unprotect(&during).unwrap(), b"during");
        let started = Instant::now();
        let result = dp.ensure_key().await;
        assert!(is_store_error(&result), "{layout:?}: {result:?}");
        assert!(started.elapsed() < STORE_TIMEOUT + Duration::from_secs(2));
        assert_eq!(
            dp.keys().len(),
            1,
            "{layout:?}: no key while the store is down"
        );
    }
    // Background refreshers keep failing meanwhile; still no key.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (_, dp, _) in &nodes {
        assert_eq!(dp.keys().len(), 1);
    }

    server.restart().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    for (layout, dp, token) in &nodes {
        // The background refresher (1 s interval) creates the due successor by itself.
        while dp.keys().len() < 2 {
            assert!(Instant::now() < deadline, "{layout:?}: did not catch up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(dp.keys().len(), 2, "{layout:?}: exactly the successor");
        assert_eq!(dp.protector(["p"]).unprotect(token).unwrap(), b"before");
        let stored = repo(&server, *layout, &format!("ring-{layout:?}"))
            .get_all_elements()
            .await
            .unwrap();
        assert_eq!(stored.len(), 2, "{layout:?}: the store holds both keys");
    }
}

/// moto is frozen with SIGSTOP: calls time out instead of hanging, then recover on SIGCONT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_store_times_out_and_recovers() {
    let server = Server::start(Kind::Moto).await;
    let mut nodes = Vec::new();
    for layout in LAYOUTS {
        let dp = DataProtection::builder()
            .persist_keys_to(repo(&server, layout, &format!("frozen-{layout:?}")))
            .store_timeout(STORE_TIMEOUT)
            .background_refresh(false)
            .build()
            .await
            .expect("start with the store up");
        let token = dp.protector(["p"]).protect(b"before").unwrap();
        nodes.push((layout, dp, token));
    }

    server.signal("STOP");
    for (layout, dp, token) in &nodes {
        let started = Instant::now();
        let result = dp.ensure_key().await;
        let took = started.elapsed();
        assert!(
            matches!(&result, Err(Error::Store(e)) if e.kind() == StoreErrorKind::Timeout),
            "{layout:?}: {result:?}"
        );
        assert!(
            took < STORE_TIMEOUT + Duration::from_secs(1),
            "{layout:?}: {took:?}"
        );
        let p = dp.protector(["p"]);
        assert_eq!(p.unprotect(token).unwrap(), b"before");
        assert!(p.protect(b"during").is_ok());
    }
    let fresh = DataProtection::builder()
        .persist_keys_to(repo(&server, BlobLayout::PerObject, "frozen"))
        .store_timeout(STORE_TIMEOUT)
        .background_refresh(false)
        .build();
    let started = Instant::now();
    assert!(
        is_store_error(&fresh.await),
        "a node cannot start on a frozen store"
    );
    assert!(started.elapsed() < STORE_TIMEOUT + Duration::from_secs(1));

    // Without the key manager's timeout, the client's own request timeout ends the wait.
    let options = vec![
        ("aws_endpoint", server.endpoint()),
        ("aws_allow_http", "true".into()),
        ("aws_region", "us-east-1".into()),
        ("aws_access_key_id", "testing".into()),
        ("aws_secret_access_key", "testing".into()),
        ("timeout", "500ms".into()),
    ];
    let direct = BlobRepository::from_url_with_options(
        &url(Kind::Moto, BlobLayout::SingleBlob, "frozen"),
        options,
    )
    .unwrap();
    let started = Instant::now();
    let result = direct.get_all_elements().await;
    assert!(
        matches!(&result, Err(e) if e.kind() == StoreErrorKind::Timeout),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    server.signal("CONT");
    for (layout, dp, token) in &nodes {
        dp.ensure_key().await.expect("recovers after SIGCONT");
        assert_eq!(dp.keys().len(), 1, "{layout:?}");
        assert_eq!(dp.protector(["p"]).unprotect(token).unwrap(), b"before");
    }
}

/// Nothing listens: `build` fails quickly with a store error naming the store.
#[tokio::test]
async fn an_unreachable_store_fails_the_start_clearly() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    for layout in LAYOUTS {
        let repo = BlobRepository::from_url_with_options(
            &url(Kind::Moto, layout, "nowhere"),
            [
                ("aws_endpoint", endpoint.clone()),
                ("aws_allow_http", "true".into()),
                ("aws_region", "us-east-1".into()),
                ("aws_access_key_id", "testing".into()),
                ("aws_secret_access_key", "testing".into()),
            ],
        )
        .unwrap();
        let started = Instant::now();
        let err = DataProtection::builder()
            .persist_keys_to(repo)
            .background_refresh(false)
            .build()
            .await
            .unwrap_err();
        let Error::Store(e) = &err else {
            panic!("{err}")
        };
        assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{err}");
        assert!(err.to_string().starts_with("s3://keyring/nowhere"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
