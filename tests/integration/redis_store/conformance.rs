//! The store conformance suite on a single server and on a cluster, URL forms,
//! persistence reporting and odd list contents.

use std::sync::Arc;

use data_protection::repository::{
    self, DEFAULT_LIST_KEY, Persistence, RedisRepository, XmlRepository, conformance,
};
use data_protection::{DataProtection, Error, StoreErrorKind};
use time::OffsetDateTime;

use super::{cluster_urls, delete, lrange, raw, repo, url};
use crate::backends::unique;
use crate::support::log_capture::Warnings;
use crate::support::private_redis::PrivateRedis;

#[tokio::test]
async fn single_server_conforms() {
    let list = unique("dp-conformance");
    conformance::run(Arc::new(repo(&list)), true).await;
    delete(&list).await;
}

#[tokio::test]
async fn cluster_conforms() {
    let seeds = cluster_urls();
    let list = unique("dp-conformance-cluster");
    let repo = RedisRepository::builder(seeds[0].clone())
        .cluster_nodes(seeds[1..].iter().cloned())
        .list_key(&list)
        .build()
        .unwrap();
    assert!(repo.describe().starts_with("redis cluster "), "{repo:?}");
    conformance::run(Arc::new(repo.clone()), true).await;
    // The URL form reaches the same list through one seed.
    let via_url =
        RedisRepository::from_url(&format!("{}?cluster=true&key={list}", seeds[2])).unwrap();
    assert_eq!(via_url.get_all_elements().await.unwrap().len(), 2);
    repo.delete_elements(&["key-11111111-1111-1111-1111-111111111111".into()])
        .await
        .unwrap();
    assert_eq!(via_url.get_all_elements().await.unwrap().len(), 1);
}

#[tokio::test]
async fn url_forms_choose_the_list() {
    let list = unique("dp-url");
    let base = url();
    let from_url = RedisRepository::from_url(&format!("{base}?key={list}")).unwrap();
    assert_eq!(from_url.list_key(), list);
    assert_eq!(
        from_url.describe(),
        format!(
            "redis {} list {list}",
            base.trim_start_matches("redis://").trim_end_matches('/')
        )
    );
    let opened = repository::open(&format!("{base}?key={list}")).unwrap();
    let dp = DataProtection::builder()
        .persist_keys_to_shared(opened)
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let id = dp.default_key().unwrap();
    let items = lrange(&list).await;
    assert_eq!(items.len(), 1);
    assert!(
        items[0].starts_with(&format!("<key id=\"{id}\"")),
        "{}",
        items[0]
    );
    assert_eq!(
        RedisRepository::from_url(&base).unwrap().list_key(),
        DEFAULT_LIST_KEY
    );
    delete(&list).await;
}

#[tokio::test]
async fn malformed_urls_fail_at_configuration() {
    for bad in [
        "redis://127.0.0.1:notaport/",
        "redis://127.0.0.1:6379/x",
        "redis://127.0.0.1:6379/?key=",
        "http://127.0.0.1:6379/",
        "redis://127.0.0.1:6379/?ca=/etc/hosts", // a CA needs rediss://
        "rediss://127.0.0.1:6379/?ca=/nonexistent/ca.pem",
        "redis://127.0.0.1:6379/3?cluster=true",
    ] {
        match RedisRepository::from_url(bad) {
            Err(Error::Config(msg)) => assert!(!msg.is_empty()),
            other => panic!("{bad}: expected a configuration error, got {other:?}"),
        }
    }
    let with_password = RedisRepository::from_url("redis://user:s3cret@127.0.0.1:1/").unwrap();
    assert!(!with_password.describe().contains("s3cret"));
    assert!(!format!("{with_password:?}").contains("s3cret"));
}

#[tokio::test]
async fn persistence_is_reported_and_a_volatile_server_warned_about_once() {
    let warnings = Warnings::default();
    // Current-thread runtime: everything below runs on this thread.
    let _guard = tracing::subscriber::set_default(warnings.subscriber());
    let volatile = |w: &Warnings| {
        w.messages()
            .iter()
            .filter(|m| m.contains("persists nothing"))
            .count()
    };

    // The shared server runs with --save '' --appendonly no.
    let shared = repo(&unique("dp-persist"));
    assert_eq!(
        shared.persistence().await.unwrap(),
        Persistence {
            rdb: false,
            aof: false
        }
    );
    shared.get_all_elements().await.unwrap();
    assert_eq!(volatile(&warnings), 1, "one warning per repository");
    repo(&unique("dp-persist"))
        .get_all_elements()
        .await
        .unwrap();
    assert_eq!(volatile(&warnings), 2, "and one for another repository");

    let server = PrivateRedis::persistent();
    let private = RedisRepository::from_url(&server.url()).unwrap();
    assert_eq!(
        private.persistence().await.unwrap(),
        Persistence {
            rdb: false,
            aof: true
        }
    );
    assert_eq!(volatile(&warnings), 2, "no warning for a persistent server");
}

#[tokio::test]
async fn odd_list_contents_are_reported_not_fatal() {
    let list = unique("dp-odd");
    let dp = DataProtection::builder()
        .persist_keys_to(repo(&list))
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let token = dp.protector(["p"]).protect(b"kept").unwrap();
    // What a broken writer might leave: not XML, and an element of no known kind.
    let mut conn = raw(&url()).await;
    let _: i64 = redis::cmd("RPUSH")
        .arg(&list)
        .arg("<key id='oops'")
        .arg("<note>hello</note>")
        .query_async(&mut conn)
        .await
        .unwrap();
    // Bytes that are not UTF-8, a newline and a NUL: the compare-and-swap digest covers
    // the exact bytes, so writes still succeed next to them.
    let _: i64 = redis::cmd("RPUSH")
        .arg(&list)
        .arg(&b"\xff\xfe<x>\n\0</x>"[..])
        .query_async(&mut conn)
        .await
        .unwrap();
    let elements = repo(&list).get_all_elements().await.unwrap();
    assert_eq!(elements.len(), 4, "every element is returned");
    assert_eq!(elements.iter().filter(|e| e.name.is_none()).count(), 3);
    dp.refresh().await.unwrap();
    assert!(!dp.problems().is_empty(), "the broken element is reported");
    assert_eq!(dp.protector(["p"]).unprotect(&token).unwrap(), b"kept");
    let id = dp
        .create_key(
            OffsetDateTime::now_utc(),
            OffsetDateTime::now_utc() + time::Duration::days(90),
        )
        .await
        .expect("a write next to odd elements");
    assert_eq!(lrange_raw(&list).await.len(), 5);
    dp.revoke_key(id, "cleanup").await.unwrap();

    // A key of another type is unreadable data, never an empty ring.
    let wrong = unique("dp-wrongtype");
    let _: () = redis::cmd("SET")
        .arg(&wrong)
        .arg("x")
        .query_async(&mut conn)
        .await
        .unwrap();
    let err = repo(&wrong).get_all_elements().await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
    let err = DataProtection::builder()
        .persist_keys_to(repo(&wrong))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err}");
    delete(&list).await;
    delete(&wrong).await;
}

async fn lrange_raw(key: &str) -> Vec<Vec<u8>> {
    redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query_async(&mut raw(&url()).await)
        .await
        .unwrap()
}
