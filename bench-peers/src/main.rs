//! Load comparison: the same axum counter handler behind the data-protection session layer
//! and behind tower-sessions, both on the same Redis, measured in the same run by the same
//! load generator (closed loop: each virtual user sends its next request when the previous
//! one answered, with its own session cookie).
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379/ cargo run --release -- [SECONDS] [USERS] [ROUNDS]
//! ```
//!
//! or `bash scripts/session-load.sh` from the repository root.
//!
//! Prints requests per second and latency percentiles per layer and round, then the
//! medians.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use data_protection::DataProtection;
use data_protection::session::{RedisSessionStore, Session, SessionLayer};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn ours(session: Session) -> Result<String, StatusCode> {
    let n = session
        .get_i32("counter")
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
        .unwrap_or(0)
        + 1;
    session.set_i32("counter", n);
    Ok(format!("visits: {n}"))
}

async fn peer(session: tower_sessions::Session) -> Result<String, StatusCode> {
    let n: i32 = session
        .get("counter")
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
        .unwrap_or(0)
        + 1;
    session
        .insert("counter", n)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(format!("visits: {n}"))
}

async fn serve(app: Router) -> Result<SocketAddr, Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

#[derive(Default)]
struct Outcome {
    latencies_us: Vec<u32>,
    errors: u64,
    wrong_counts: u64,
}

/// One virtual user: its own cookie, requests back to back until `deadline`; checks that
/// its counter goes up by one every time.
async fn user(
    client: Client<HttpConnector, Empty<Bytes>>,
    addr: SocketAddr,
    deadline: Instant,
) -> Outcome {
    let mut out = Outcome::default();
    let mut cookie: Option<String> = None;
    let mut expected = 1;
    let uri: hyper::Uri = format!("http://{addr}/").parse().unwrap();
    while Instant::now() < deadline {
        let mut request = hyper::Request::get(uri.clone());
        if let Some(c) = &cookie {
            request = request.header("cookie", c);
        }
        let start = Instant::now();
        let response = client.request(request.body(Empty::new()).unwrap()).await;
        let Ok(response) = response else {
            out.errors += 1;
            continue;
        };
        if let Some(set) = response.headers().get("set-cookie") {
            let set = set.to_str().unwrap_or_default();
            cookie = set.split(';').next().map(str::to_owned);
        }
        let ok = response.status() == 200;
        let body = response.into_body().collect().await.map(|b| b.to_bytes());
        out.latencies_us
            .push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
        match body {
            Ok(b) if ok => {
                if b != format!("visits: {expected}").as_bytes() {
                    out.wrong_counts += 1;
                }
                expected += 1;
            }
            _ => out.errors += 1,
        }
    }
    out
}

struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    wrong: u64,
}

async fn load(addr: SocketAddr, users: usize, seconds: u64) -> Figures {
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(users)
        .build_http();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..users)
        .map(|_| tokio::spawn(user(client.clone(), addr, deadline)))
        .collect();
    let mut all = Outcome::default();
    for t in tasks {
        let o = t.await.unwrap();
        all.latencies_us.extend(o.latencies_us);
        all.errors += o.errors;
        all.wrong_counts += o.wrong_counts;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let pct = |p: f64| {
        let l = &all.latencies_us;
        let i = ((l.len() as f64 * p).ceil() as usize).clamp(1, l.len()) - 1;
        f64::from(l[i]) / 1000.0
    };
    Figures {
        rps: all.latencies_us.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors: all.errors,
        wrong: all.wrong_counts,
    }
}

/// The median; for an even count, the mean of the two middle values.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let seconds = args.first().copied().unwrap_or(10);
    let users = args.get(1).copied().unwrap_or(32) as usize;
    let rounds = args.get(2).copied().unwrap_or(2);
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());

    let keys = tempfile::tempdir()?;
    let dp = DataProtection::builder()
        .application_name("SessionBench")
        .persist_keys_to_directory(keys.path())
        .build()
        .await?;
    let store = RedisSessionStore::builder(&redis_url)
        .instance_name(format!("bench-{}:", std::process::id()))
        .build()
        .await?;
    let ours_addr = serve(
        Router::new().route("/", get(ours)).layer(
            SessionLayer::builder(&dp, store)
                .idle_timeout(Duration::from_secs(20 * 60))
                .build()?,
        ),
    )
    .await?;

    let pool = Pool::new(Config::from_url(&redis_url)?, None, None, None, 6)?;
    let _connection = pool.connect();
    pool.wait_for_connect().await?;
    let peer_layer = SessionManagerLayer::new(RedisStore::new(pool))
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(20)));
    let peer_addr = serve(Router::new().route("/", get(peer)).layer(peer_layer)).await?;

    println!(
        "counter handler, {users} users, {seconds} s per run, {rounds} alternating rounds, Redis {redis_url}"
    );
    println!("| round | layer | requests/s | p50 ms | p99 ms | errors | wrong counts |");
    println!("|---|---|---|---|---|---|---|");
    let layers = [
        ("data-protection session", ours_addr),
        ("tower-sessions 0.14 + redis-store 0.16", peer_addr),
    ];
    let mut results: Vec<Vec<Figures>> = layers.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        // Alternate which layer goes first, so drifting machine load hits both alike.
        let order: Vec<usize> = if round % 2 == 1 {
            vec![0, 1]
        } else {
            vec![1, 0]
        };
        for i in order {
            let (name, addr) = layers[i];
            let f = load(addr, users, seconds).await;
            println!(
                "| {round} | {name} | {:.0} | {:.2} | {:.2} | {} | {} |",
                f.rps, f.p50_ms, f.p99_ms, f.errors, f.wrong
            );
            results[i].push(f);
        }
    }
    println!();
    println!("| layer (median of {rounds} runs) | requests/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    for ((name, _), runs) in layers.iter().zip(&results) {
        let median = |f: fn(&Figures) -> f64| median(runs.iter().map(f).collect());
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} |",
            median(|f| f.rps),
            median(|f| f.p50_ms),
            median(|f| f.p99_ms)
        );
    }
    // The figure the issue asks for: the median over rounds of ours / peer in that round.
    let ratios: Vec<f64> = results[0]
        .iter()
        .zip(&results[1])
        .map(|(ours, peer)| ours.rps / peer.rps)
        .collect();
    let p99_ratios: Vec<f64> = results[0]
        .iter()
        .zip(&results[1])
        .map(|(ours, peer)| ours.p99_ms / peer.p99_ms)
        .collect();
    let listed = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!();
    println!(
        "per-round requests/s ratio (ours / tower-sessions): {}; median {:.2}",
        listed(&ratios),
        median(ratios.clone())
    );
    println!(
        "per-round p99 ratio (ours / tower-sessions, below 1 is better): {}; median {:.2}",
        listed(&p99_ratios),
        median(p99_ratios.clone())
    );
    Ok(())
}
