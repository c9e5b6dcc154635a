//! Two nodes behind one load balancer share sessions: one Redis, one key directory.
//! Node A sets a value, node B reads it and updates it; then the key ring rotates and
//! both the old cookie and new ones keep working on both nodes. Each step is printed.
//!
//! ```sh
//! cargo run --example session_cluster --features session,axum,redis
//! ```
//!
//! It uses `REDIS_URL` when set; otherwise it starts a private `redis-server` from `PATH` on a
//! free loopback port for the run (and says how to install one when there is none).
//!
//! The nodes run in this process for a one-command demo, but share nothing except the
//! key directory and Redis: each has its own key-ring provider, Redis connection and HTTP
//! server, as separate machines would.

use std::net::SocketAddr;
use std::path::Path;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::routing::{get, post};
use data_protection::DataProtection;
use data_protection::session::{RedisSessionStore, Session, SessionLayer};
use time::OffsetDateTime;

/// Redis for the demo (`REDIS_URL` or a private server).
#[path = "support/demo_redis.rs"]
pub mod demo_redis;

type Error = Box<dyn std::error::Error + Send + Sync>;

const APP: &str = "SessionClusterDemo";

/// One node: its own provider on the shared key directory, its own Redis connection.
struct Node {
    dp: DataProtection,
    url: String,
}

async fn start_node(keys: &Path, redis_url: &str, instance: &str) -> Result<Node, Error> {
    let dp = DataProtection::builder()
        .application_name(APP)
        .persist_keys_to_directory(keys)
        .build()
        .await?;
    let store = RedisSessionStore::builder(redis_url)
        .instance_name(instance)
        .build()
        .await?;
    let app = Router::new()
        .route(
            "/set/{name}",
            post(|s: Session, UrlPath(name): UrlPath<String>| async move {
                s.set_string("name", &name);
                "ok"
            }),
        )
        .route(
            "/get",
            get(|s: Session| async move {
                s.get_string("name")
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            }),
        )
        .route(
            "/visit",
            post(|s: Session| async move {
                let n = s.get_i32("visits").await.ok().flatten().unwrap_or(0) + 1;
                s.set_i32("visits", n);
                n.to_string()
            }),
        )
        .layer(SessionLayer::new(&dp, store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Node {
        dp,
        url: format!("http://{addr}"),
    })
}

/// A browser: an HTTP client with a cookie jar.
fn browser() -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .no_proxy()
        .build()?)
}

async fn call(client: &reqwest::Client, method: &str, url: String) -> Result<String, Error> {
    let request = if method == "POST" {
        client.post(url)
    } else {
        client.get(url)
    };
    Ok(request.send().await?.error_for_status()?.text().await?)
}

fn expect(what: &str, got: &str, want: &str) -> Result<(), Error> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, expected {want:?}").into())
    }
}

/// Runs the demo, reporting each step to `say`.
pub async fn demo(
    keys: &Path,
    redis_url: &str,
    instance: &str,
    say: &mut (dyn FnMut(String) + Send),
) -> Result<(), Error> {
    say(format!(
        "key directory {}, sessions in Redis under {instance:?}",
        keys.display()
    ));
    let a = start_node(keys, redis_url, instance).await?;
    let b = start_node(keys, redis_url, instance).await?;
    say(format!("node A on {}, node B on {}", a.url, b.url));

    let alice = browser()?;
    call(&alice, "POST", format!("{}/set/Ada", a.url)).await?;
    say("browser 1 -> node A: set name = Ada (node A sends the session cookie)".into());
    let name = call(&alice, "GET", format!("{}/get", b.url)).await?;
    say(format!("browser 1 -> node B: name = {name}"));
    expect("node B reads node A's session", &name, "Ada")?;
    let visits = call(&alice, "POST", format!("{}/visit", b.url)).await?;
    say(format!("browser 1 -> node B: visits = {visits}"));
    let visits = call(&alice, "POST", format!("{}/visit", a.url)).await?;
    say(format!("browser 1 -> node A: visits = {visits}"));
    expect("node A sees node B's update", &visits, "2")?;

    let now = OffsetDateTime::now_utc();
    let key =
        a.dp.create_key(
            now - time::Duration::minutes(1),
            now + time::Duration::days(90),
        )
        .await?;
    a.dp.refresh().await?;
    say(format!(
        "key ring rotated on node A: new default key {key} (node B not told)"
    ));

    let bob = browser()?;
    call(&bob, "POST", format!("{}/set/Grace", a.url)).await?;
    say("browser 2 -> node A: set name = Grace (cookie protected with the new key)".into());
    let name = call(&bob, "GET", format!("{}/get", b.url)).await?;
    say(format!(
        "browser 2 -> node B: name = {name} (node B loaded the new key on demand)"
    ));
    expect("node B reads a cookie of the new key", &name, "Grace")?;
    let name = call(&alice, "GET", format!("{}/get", b.url)).await?;
    say(format!(
        "browser 1 (cookie of the old key) -> node B: name = {name}"
    ));
    expect("the old cookie still works", &name, "Ada")?;
    let visits = call(&alice, "POST", format!("{}/visit", a.url)).await?;
    say(format!("browser 1 -> node A: visits = {visits}"));
    expect("the old session keeps its data", &visits, "3")?;
    say("done: both nodes served both browsers across a key rotation".into());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let redis = demo_redis::DemoRedis::from_env_or_exit();
    let redis_url = redis.url().to_owned();
    let keys = tempfile::tempdir()?;
    let instance = format!("session-cluster-demo-{}:", std::process::id());
    let mut step = 0;
    demo(keys.path(), &redis_url, &instance, &mut |line| {
        step += 1;
        println!("{step:>2}. {line}");
    })
    .await
}
