//! Redis stops answering (SIGSTOP), then dies (SIGKILL), during requests: every response
//! comes back within the I/O timeout plus a margin, pages that do not need the session
//! still answer 200, and the application recovers when Redis returns. Uses a private
//! redis-server, never the shared one.

use std::time::{Duration, Instant};

use data_protection::session::{RedisSessionStore, SessionLayer};

use crate::app::{Browser, ring, router, serve};
use crate::support::private_redis::PrivateRedis;

const IO_TIMEOUT: Duration = Duration::from_secs(1);
/// Hang detection, not a speed claim: the answer may take the timeout plus this.
const MARGIN: Duration = Duration::from_secs(2);

struct Answer {
    status: u16,
    commit_error: bool,
    took: Duration,
}

async fn timed(b: &Browser, method: &str, path: &str) -> Answer {
    let start = Instant::now();
    let r = if method == "GET" {
        b.get(path).await
    } else {
        b.post(path).await
    };
    let answer = Answer {
        status: r.status().as_u16(),
        commit_error: r.headers().contains_key("x-session-commit-error"),
        took: start.elapsed(),
    };
    assert!(
        answer.took < IO_TIMEOUT + MARGIN,
        "{method} {path} took {:?}: a store outage must not hang requests",
        answer.took
    );
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_paused_then_killed_answers_within_the_io_timeout_and_recovers() {
    let mut redis = PrivateRedis::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let dp = ring(dir.path(), "Faults").build().await.unwrap();
    let store = RedisSessionStore::builder(redis.url())
        .connect_timeout(Duration::from_millis(500))
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

    for (phase, outage) in [("paused", true), ("killed", false)] {
        if outage {
            redis.pause();
        } else {
            redis.kill();
        }
        let a = timed(&b, "GET", "/counter").await;
        assert_eq!(
            a.status, 503,
            "{phase}: the page needing the session says so"
        );
        let mut slowest = a.took;
        let a = timed(&b, "GET", "/noop").await;
        slowest = slowest.max(a.took);
        assert_eq!(
            a.status, 200,
            "{phase}: a page not reading the session works"
        );
        assert!(
            a.commit_error,
            "{phase}: the failed expiry refresh is reported"
        );
        let a = timed(&b, "POST", "/set/k/v").await;
        slowest = slowest.max(a.took);
        assert_eq!(a.status, 200, "{phase}");
        assert!(a.commit_error, "{phase}: the failed save is reported");
        let fresh = Browser::new(addr);
        let a = timed(&fresh, "GET", "/noop").await;
        assert_eq!(a.status, 200);
        assert!(!a.commit_error, "no cookie, no store call");
        assert!(a.took < IO_TIMEOUT, "{phase}: no store call, no wait");
        println!("Redis {phase}: slowest answer {slowest:?} (I/O timeout {IO_TIMEOUT:?})");
    }
    let stats = layer.stats();
    assert!(
        stats.load_failures >= 2 && stats.commit_failures >= 4,
        "{stats:?}"
    );

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        let a = b.get("/counter").await;
        if a.status() == 200 {
            break a.text().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no recovery 20 s after Redis returned"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The private server kept nothing: the session starts again, and works.
    assert_eq!(first, "1");
    assert_eq!(b.text("/counter").await, "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_errors_tell_a_timeout_from_a_refused_connection() {
    let mut redis = PrivateRedis::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let dp = ring(dir.path(), "Faults").build().await.unwrap();
    let store = RedisSessionStore::builder(redis.url())
        .connect_timeout(Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    let layer = SessionLayer::builder(&dp, store)
        .io_timeout(IO_TIMEOUT)
        .build()
        .unwrap();
    let b = Browser::new(serve(router(layer)).await);
    assert_eq!(b.text("/counter").await, "1");
    assert_eq!(b.text("/load-kind").await, "ok");

    for (phase, kind) in [("paused", "Timeout"), ("killed", "Unavailable")] {
        if phase == "paused" {
            redis.pause();
        } else {
            redis.kill();
        }
        let expected = format!("Some({kind}) source=Some(\"{kind}\")");
        assert_eq!(
            b.text("/load-kind").await,
            expected,
            "{phase}: the load error keeps its kind and its source"
        );
        let r = b.post("/set/k/v").await;
        assert_eq!(
            r.headers()["x-session-commit-error-kind"].to_str().unwrap(),
            expected,
            "{phase}: the commit error keeps its kind and its source"
        );
    }
}
