//! Node A creates a key after node B loaded the ring; B reads A's payload at once, and a
//! refresh that finds nothing new reuses what was read.

use data_protection::DataProtection;
use data_protection::repository::BlobRepository;

use super::{BACKENDS, Fixture, LAYOUTS};

async fn node(repo: BlobRepository, generate: bool) -> DataProtection {
    let b = DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to(repo)
        .unknown_key_refresh_interval(std::time::Duration::from_millis(100))
        .background_refresh(false);
    let b = if generate {
        b
    } else {
        b.disable_automatic_key_generation()
    };
    b.build().await.expect("node start")
}

#[tokio::test]
async fn a_key_created_elsewhere_is_used_at_once() {
    for backend in BACKENDS {
        for layout in LAYOUTS {
            let fx = Fixture::new(backend, layout);
            let b = node(fx.repo(), false).await;
            assert!(b.keys().is_empty(), "{backend:?} {layout:?}");

            let a = node(fx.repo_from_url(), true).await;
            let token = a.protector(["x"]).protect(b"from A").unwrap();
            assert_eq!(
                b.protector(["x"]).unprotect_async(&token).await.unwrap(),
                b"from A",
                "{backend:?} {layout:?}"
            );

            // A revokes and replaces its key; B follows on the next unknown id.
            let old = a.default_key().unwrap();
            a.revoke_key(old, "rotate").await.unwrap();
            let again = a.protector(["x"]).protect(b"again").unwrap();
            assert_eq!(
                b.protector(["x"]).unprotect_async(&again).await.unwrap(),
                b"again"
            );
            assert!(
                b.protector(["x"]).unprotect(&token).is_err(),
                "revoked on B too"
            );

            // Refreshing with nothing new keeps the same ring.
            let before = b.keys();
            b.refresh().await.unwrap();
            b.refresh().await.unwrap();
            assert_eq!(b.keys().len(), before.len());
            assert_eq!(b.keys().len(), 2, "{backend:?} {layout:?}");
        }
    }
}
