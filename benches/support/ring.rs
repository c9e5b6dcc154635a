//! A ring of 1,000 keys for the store benchmarks, and its copies in a Redis list and a key
//! directory, and the two benchmark groups run on each store. Shared by `store_redis` and
//! `store_postgres` (`#[path]`-included, not a target).

use std::hint::black_box;
use std::sync::Arc;

use criterion::Criterion;

use data_protection::repository::{DirectoryRepository, MemoryRepository, XmlRepository};
use data_protection::xml::XmlElement;
use data_protection::{DataProtection, DataProtectionBuilder};
use time::OffsetDateTime;

/// Keys in the ring.
pub(crate) const RING_SIZE: usize = 1_000;

/// `RING_SIZE` keys, one a day, each valid 90 days (the newest are still active), as
/// `(friendly name, single-line XML)`.
pub(crate) async fn make_keys() -> Vec<(String, String)> {
    let scratch_store: Arc<dyn XmlRepository> = Arc::new(MemoryRepository::new());
    let scratch = DataProtection::builder()
        .background_refresh(false)
        .disable_automatic_key_generation()
        .persist_keys_to_shared(scratch_store.clone())
        .build()
        .await
        .expect("scratch provider");
    let now = OffsetDateTime::now_utc();
    let mut keys = Vec::with_capacity(RING_SIZE);
    for i in 0..RING_SIZE {
        let activation = now - time::Duration::days((RING_SIZE - i) as i64);
        scratch
            .create_key(activation, activation + time::Duration::days(90))
            .await
            .expect("create_key");
        let stored = scratch_store.get_all_elements().await.expect("scratch");
        let name = stored[0].name.clone().expect("memory store keeps names");
        keys.push((name.clone(), stored[0].xml.to_string()));
        scratch_store
            .delete_elements(&[name])
            .await
            .expect("clear scratch");
    }
    keys
}

/// The value of a backend's environment variable, or a panic saying how to start it.
pub(crate) fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: this benchmark needs the test servers. Start them with \
             `eval \"$(bash scripts/backends.sh start)\"`"
        ),
    }
}

/// Fills a fresh Redis list (plain RPUSH, as .NET writes) with the keys.
pub(crate) async fn fill_redis(url: &str, list: &str, keys: &[(String, String)]) {
    let mut conn = redis::Client::open(url)
        .expect("REDIS_URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to REDIS_URL");
    let _: () = redis::cmd("DEL")
        .arg(list)
        .query_async(&mut conn)
        .await
        .expect("DEL");
    let mut push = redis::pipe();
    for (_, xml) in keys {
        push.cmd("RPUSH").arg(list).arg(xml).ignore();
    }
    let _: () = push.query_async(&mut conn).await.expect("RPUSH");
}

/// Deletes a Redis list.
pub(crate) async fn delete_redis(url: &str, list: &str) {
    let mut conn = redis::Client::open(url)
        .expect("REDIS_URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let _: () = redis::cmd("DEL")
        .arg(list)
        .query_async(&mut conn)
        .await
        .expect("DEL");
}

/// Writes the keys as files of a key directory.
pub(crate) async fn fill_directory(dir: &std::path::Path, keys: &[(String, String)]) {
    let directory = DirectoryRepository::new(dir);
    for (name, xml) in keys {
        let element = XmlElement::parse(xml).expect("key XML");
        directory
            .store_element(&element, name)
            .await
            .expect("write key file");
    }
}

/// A provider on `repo` that neither refreshes in the background nor creates keys.
pub(crate) fn provider(repo: impl XmlRepository + 'static) -> DataProtectionBuilder {
    DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to(repo)
        .background_refresh(false)
        .disable_automatic_key_generation()
}

/// A store to measure: its name in the groups, and a fresh provider builder on a fresh
/// repository of it.
pub(crate) type Store<'a> = (&'static str, &'a dyn Fn() -> DataProtectionBuilder);

/// The groups `load-1000-keys/{store}` (build a provider on a fresh repository: connect,
/// read and parse the whole ring) and `refresh-unchanged-1000-keys/{store}` (refresh a built
/// provider when nothing changed).
pub(crate) fn load_and_refresh(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    stores: &[Store<'_>],
) {
    let mut load = c.benchmark_group("load-1000-keys");
    for (name, builder) in stores {
        load.bench_function(*name, |b| {
            b.iter(|| {
                let dp = rt.block_on(builder().build()).expect("load");
                assert_eq!(dp.keys().len(), RING_SIZE);
                black_box(dp)
            });
        });
    }
    load.finish();

    let mut refresh = c.benchmark_group("refresh-unchanged-1000-keys");
    for (name, builder) in stores {
        let dp = rt.block_on(builder().build()).expect("load");
        refresh.bench_function(*name, |b| {
            b.iter(|| rt.block_on(dp.refresh()).expect("refresh"));
        });
    }
    refresh.finish();
}
