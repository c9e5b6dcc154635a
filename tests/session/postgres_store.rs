//! The PostgreSQL session store: conformance, what it writes, 2 x 200 concurrent requests on
//! two nodes, the expired-row sweep, and a private server paused, stopped and restarted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use data_protection::ManualClock;
use data_protection::session::store::{Expected, SessionEntry, SessionStore, conformance};
use data_protection::session::{PostgresSessionStore, SessionData, SessionLayer};
use time::OffsetDateTime;

use crate::app::{Browser, ring, router, serve};
use crate::backends;
use crate::pg_server::PrivatePostgres;

fn schema() -> String {
    backends::unique("dps").replace('-', "_").to_lowercase()
}

async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to PostgreSQL: {e}; {}", backends::HOW));
    tokio::spawn(conn);
    client
}

async fn drop_schema(s: &str) {
    raw(&backends::env("PG_URL"))
        .await
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"))
        .await
        .unwrap();
}

async fn store(s: &str) -> PostgresSessionStore {
    PostgresSessionStore::builder(backends::env("PG_URL"))
        .schema(s)
        .build()
        .await
        .expect("session store on the shared server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_passes_the_conformance_suite() {
    let s = schema();
    conformance::run(Arc::new(store(&s).await), "pg").await;
    drop_schema(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_over_tls_passes_the_conformance_suite() {
    let s = schema();
    let store = PostgresSessionStore::builder(backends::env("PG_TLS_URL"))
        .schema(&s)
        .build()
        .await
        .unwrap();
    conformance::run(Arc::new(store), "pgtls").await;
    drop_schema(&s).await;
}

#[tokio::test]
async fn the_row_holds_the_distributed_session_blob_and_the_cache_columns() {
    let s = schema();
    let store = store(&s).await;
    let mut data = SessionData::new([7; 16]);
    data.set("name", b"value".to_vec());
    let blob = data.encode().unwrap();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let entry = SessionEntry::new(blob.clone(), None, Some(Duration::from_secs(1200)));
    store
        .save("abc", &entry, Expected::Absent, now)
        .await
        .unwrap();
    let row = raw(&backends::env("PG_URL"))
        .await
        .query_one(
            &format!(
                "SELECT \"Id\", \"Value\", \"ExpiresAtTime\", \"SlidingExpirationInSeconds\", \
                 \"AbsoluteExpiration\" FROM \"{s}\".\"SessionCache\""
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "abc");
    assert_eq!(
        row.get::<_, Vec<u8>>(1),
        blob,
        "the Redis store's `data` bytes"
    );
    assert_eq!(
        row.get::<_, OffsetDateTime>(2),
        now + Duration::from_secs(1200)
    );
    assert_eq!(row.get::<_, Option<f64>>(3), Some(1200.0));
    assert_eq!(row.get::<_, Option<OffsetDateTime>>(4), None);
    // No index on the expiry, as in the PostgreSQL cache's table: saves stay HOT updates.
    let indexes = raw(&backends::env("PG_URL"))
        .await
        .query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'SessionCache'",
            &[&s],
        )
        .await
        .unwrap();
    let [index] = &indexes[..] else {
        panic!("one index, the primary key: {} found", indexes.len())
    };
    assert!(index.get::<_, String>(0).contains("(\"Id\")"));
    // Expired rows are never returned, even before the sweep deletes them.
    let later = now + Duration::from_secs(1201);
    assert_eq!(store.load("abc", later).await.unwrap(), None);
    drop_schema(&s).await;
}

/// The sweep passes over the table a few pages per statement (no index on the expiry: the
/// table has none) and deletes exactly the expired rows, on pages spread over the table; a
/// table that has the expiry index of earlier builds is swept too.
#[tokio::test]
async fn the_sweep_deletes_expired_rows_page_range_by_page_range_and_keeps_live_ones() {
    let s = schema();
    let start = OffsetDateTime::now_utc();
    let clock = Arc::new(ManualClock::new(start));
    let store = PostgresSessionStore::builder(backends::env("PG_URL"))
        .schema(&s)
        .sweep_interval(Some(Duration::from_millis(200)))
        .sweep_pages(2)
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let mut data = SessionData::new([1; 16]);
    // 1,500 bytes: five rows per 8 KiB page, below the size PostgreSQL would compress.
    data.set("filler", vec![b'x'; 1500]);
    let blob = data.encode().unwrap();
    let save = async |store: &PostgresSessionStore, key: String, idle: u64, at: OffsetDateTime| {
        let e = SessionEntry::new(blob.clone(), None, Some(Duration::from_secs(idle)));
        store.save(&key, &e, Expected::Absent, at).await.unwrap();
    };
    for i in 0..50 {
        // Every fifth row lives on; the expired ones are on every page.
        let idle = if i % 5 == 0 { 3600 } else { 60 };
        save(&store, format!("k{i}"), idle, start).await;
    }
    let pg = raw(&backends::env("PG_URL")).await;
    let table = format!("\"{s}\".\"SessionCache\"");
    let one = async |sql: String| -> i64 { pg.query_one(&sql, &[]).await.unwrap().get(0) };
    let count = || one(format!("SELECT count(*) FROM {table}"));
    assert_eq!(count().await, 50);
    let pages = one(format!(
        "SELECT pg_relation_size('{table}') / current_setting('block_size')::bigint"
    ))
    .await;
    assert!(
        pages >= 8,
        "rows spread over {pages} pages, several statements"
    );
    let indexes = one(format!(
        "SELECT count(*) FROM pg_indexes WHERE schemaname = '{s}' AND tablename = 'SessionCache'"
    ))
    .await;
    assert_eq!(indexes, 1, "only the primary key");
    // A manual sweep at the start deletes nothing.
    assert_eq!(store.sweep_expired(start, 2).await.unwrap(), 0);
    // Two minutes later 40 have expired: the background sweep (every 200 ms, 2 pages per
    // statement) removes exactly those.
    clock.set(start + Duration::from_secs(120));
    let deadline = Instant::now() + Duration::from_secs(10);
    while count().await != 10 {
        assert!(
            Instant::now() < deadline,
            "the sweep did not run: {} rows",
            count().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let later = start + Duration::from_secs(120);
    for i in (0..50).step_by(5) {
        assert!(
            store.load(&format!("k{i}"), later).await.unwrap().is_some(),
            "k{i}"
        );
    }

    // With the expiry index of earlier builds, one page per statement.
    drop(store);
    pg.execute(
        &format!("CREATE INDEX \"IX_SessionCache_ExpiresAtTime\" ON {table} (\"ExpiresAtTime\")"),
        &[],
    )
    .await
    .unwrap();
    let store = PostgresSessionStore::builder(backends::env("PG_URL"))
        .schema(&s)
        .sweep_interval(None)
        .build()
        .await
        .unwrap();
    for i in 0..5 {
        save(&store, format!("late{i}"), 60, later).await;
    }
    let swept = store
        .sweep_expired(later + Duration::from_secs(300), 1)
        .await;
    assert_eq!(swept.unwrap(), 5);
    assert_eq!(count().await, 10);
    drop(store);
    drop_schema(&s).await;
}

/// The layer loads with a plain SELECT and restarts the sliding expiration at the commit
/// (in the save, or with the refresh UPDATE when nothing is saved): every request, reading
/// or writing, ends with the full idle timeout ahead.
#[tokio::test]
async fn every_request_restarts_the_sliding_expiration_at_its_commit() {
    let s = schema();
    let dir = tempfile::tempdir().unwrap();
    let dp = ring(dir.path(), "SlidingPg").build().await.unwrap();
    let idle = Duration::from_secs(20 * 60);
    let layer = SessionLayer::builder(&dp, store(&s).await)
        .idle_timeout(idle)
        .build()
        .unwrap();
    let b = Browser::new(serve(router(layer)).await);
    b.ok("/set/name/alice").await;
    let pg = raw(&backends::env("PG_URL")).await;
    let table = format!("\"{s}\".\"SessionCache\"");
    for path in ["/get/name", "/set/name/bob", "/set/name/bob"] {
        pg.execute(
            &format!("UPDATE {table} SET \"ExpiresAtTime\" = now() + interval '100 seconds'"),
            &[],
        )
        .await
        .unwrap();
        let r = if path.starts_with("/set") {
            b.post(path).await
        } else {
            b.get(path).await
        };
        assert!(r.status().is_success(), "{path}");
        let left: f64 = pg
            .query_one(
                &format!(
                    "SELECT extract(epoch FROM \"ExpiresAtTime\" - now())::float8 FROM {table}"
                ),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(
            left > 1190.0 && left <= 1201.0,
            "{path}: {left} s left, expected the full idle timeout"
        );
    }
    assert_eq!(b.text("/get/name").await, "bob");
    drop_schema(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_times_200_concurrent_requests_on_one_session_lose_nothing() {
    let s = schema();
    let dir = tempfile::tempdir().unwrap();
    let mut layers = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..2 {
        let dp = ring(dir.path(), "Concurrency").build().await.unwrap();
        // 400 commits of one session queue for its row; on this shared 2-core machine with a
        // debug build that takes longer than the store's default 5 s deadline. The layer's
        // own I/O timeout (1 minute by default) still bounds each call.
        let store = PostgresSessionStore::builder(backends::env("PG_URL"))
            .schema(&s)
            .timeout(Duration::from_secs(60))
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
    let began = Instant::now();
    crate::concurrency::burst(&[(addrs[0], "a"), (addrs[1], "b")], &cookie).await;
    let stats: Vec<_> = layers.iter().map(SessionLayer::stats).collect();
    println!("postgres, 2 x 200: burst took {:?}", began.elapsed());
    crate::concurrency::report("postgres, 2 x 200", &stats);
    assert_eq!(stats[0].saves, 1 + crate::concurrency::PER_NODE as u64);
    assert_eq!(stats[1].saves, crate::concurrency::PER_NODE as u64);
    crate::concurrency::check_keys(&b, &["a", "b"]).await;
    crate::concurrency::check_keys(&Browser::with_cookie(addrs[1], &cookie), &["a", "b"]).await;
    drop_schema(&s).await;
}

const IO_TIMEOUT: Duration = Duration::from_secs(1);
const MARGIN: Duration = Duration::from_secs(2);

async fn timed_status(b: &Browser, method: &str, path: &str) -> (u16, bool) {
    let start = Instant::now();
    let r = if method == "GET" {
        b.get(path).await
    } else {
        b.post(path).await
    };
    let took = start.elapsed();
    assert!(took < IO_TIMEOUT + MARGIN, "{method} {path} took {took:?}");
    (
        r.status().as_u16(),
        r.headers().contains_key("x-session-commit-error"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_paused_then_stopped_answers_within_the_io_timeout_and_recovers() {
    let mut server = PrivatePostgres::start();
    let dir = tempfile::tempdir().unwrap();
    let dp = ring(dir.path(), "Faults").build().await.unwrap();
    let store = PostgresSessionStore::builder(server.url())
        .connect_timeout(Duration::from_secs(3))
        .build()
        .await
        .unwrap();
    let layer = SessionLayer::builder(&dp, store)
        .io_timeout(IO_TIMEOUT)
        .build()
        .unwrap();
    let addr = serve(router(layer.clone())).await;
    let b = Browser::new(addr);
    assert_eq!(b.text("/counter").await, "1");
    assert_eq!(b.text("/counter").await, "2");

    for (phase, pause) in [("paused", true), ("stopped", false)] {
        if pause {
            server.pause();
        } else {
            server.stop();
        }
        assert_eq!(timed_status(&b, "GET", "/counter").await.0, 503, "{phase}");
        let (status, commit_error) = timed_status(&b, "GET", "/noop").await;
        assert_eq!(status, 200, "{phase}");
        assert!(commit_error, "{phase}: the failed refresh is reported");
        let (status, commit_error) = timed_status(&b, "POST", "/set/k/v").await;
        assert_eq!(status, 200, "{phase}");
        assert!(commit_error, "{phase}: the failed save is reported");
    }
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    let next = loop {
        let r = b.get("/counter").await;
        if r.status() == 200 {
            break r.text().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no recovery 20 s after the server returned"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The table survived (a fast shutdown keeps what was committed): the count goes on.
    assert_eq!(next, "3");
    assert_eq!(b.text("/counter").await, "4");
}
