//! A fixed number of counter requests through one session layer, called as a tower service
//! (no sockets between client and server), against the real Redis at `$REDIS_URL`: the
//! program `scripts/session-profile.sh` runs under callgrind to count the instructions one
//! request costs in the server process, ours against tower-sessions.
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379/ session-profile ours|peer COUNT
//! ```
//!
//! One user, one request after another on a current-thread runtime, so every instruction
//! (the Redis client's driver tasks included) runs inside [`measured_requests`], the one
//! function callgrind is told to count. Each request carries the cookie of the previous
//! answer; every answer is checked (status and counter), so a broken layer cannot look
//! fast.

#[path = "../apps.rs"]
mod apps;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use data_protection::DataProtection;
use data_protection::session::RedisSessionStore;
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_sessions_redis_store::RedisStore;

use apps::{Error, fred_pool, ours_app, peer_app};

const WARM_UP: u64 = 64;

async fn app(layer: &str, redis_url: &str) -> Result<(Router, Option<tempfile::TempDir>), Error> {
    if layer == "ours" {
        let keys = tempfile::tempdir()?;
        let dp = DataProtection::builder()
            .application_name("SessionBench")
            .persist_keys_to_directory(keys.path())
            .background_refresh(false)
            .build()
            .await?;
        let store = RedisSessionStore::builder(redis_url)
            .instance_name(format!("profile-{}:", std::process::id()))
            .build()
            .await?;
        Ok((ours_app(&dp, store)?, Some(keys)))
    } else {
        let pool = fred_pool(redis_url).await?;
        Ok((peer_app(RedisStore::new(pool)), None))
    }
}

/// One user's requests: `count` of them, each checked.
async fn requests(router: &Router, cookie: &mut Option<String>, expected: &mut u64, count: u64) {
    for _ in 0..count {
        let mut request = Request::get("/");
        if let Some(c) = cookie.as_deref() {
            request = request.header("cookie", c);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        if let Some(set) = response.headers().get("set-cookie") {
            let set = set.to_str().expect("ASCII cookie");
            *cookie = set.split(';').next().map(str::to_owned);
        }
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        *expected += 1;
        assert_eq!(body, format!("visits: {expected}").as_bytes());
    }
}

/// The counted part. Never inlined: callgrind counts only inside this function.
#[inline(never)]
fn measured_requests(
    rt: &tokio::runtime::Runtime,
    router: &Router,
    cookie: &mut Option<String>,
    expected: &mut u64,
    count: u64,
) {
    rt.block_on(requests(router, cookie, expected, count));
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [layer, count] = args.as_slice() else {
        return Err("usage: session-profile ours|peer COUNT".into());
    };
    if layer != "ours" && layer != "peer" {
        return Err(format!("layer is ours or peer, not {layer:?}").into());
    }
    let count: u64 = count.parse()?;
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (router, _keys) = rt.block_on(app(layer, &redis_url))?;
    let (mut cookie, mut expected) = (None, 0);
    rt.block_on(requests(&router, &mut cookie, &mut expected, WARM_UP));
    measured_requests(&rt, &router, &mut cookie, &mut expected, count);
    println!("{layer}: {count} requests after {WARM_UP} warm-up, counter at {expected}");
    Ok(())
}
