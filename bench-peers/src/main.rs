//! Load comparison: the same axum counter handler behind the data-protection session layer
//! and behind tower-sessions, both on the same store server, measured in the same run by the
//! same load generator (closed loop: each virtual user sends its next request when the
//! previous one answered, with its own session cookie).
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379/ cargo run --release -- [redis] [SECONDS] [USERS] [ROUNDS]
//! PG_URL=postgres://USER:PW@127.0.0.1:5432/DB cargo run --release -- postgres [SECONDS] [USERS] [ROUNDS]
//! ```
//!
//! or `bash scripts/session-load.sh [redis|postgres] …` from the repository root.
//!
//! - `redis`: our `RedisSessionStore` against `tower-sessions-redis-store` 0.16 (fred pool
//!   of 6 connections).
//! - `postgres`: our `PostgresSessionStore` (the SQL cache's table) against
//!   `tower-sessions-sqlx-store` 0.15 with its `PostgresStore`, each with a pool of
//!   `PG_POOL` connections (default 16) to the same server.
//!
//! Prints requests per second and latency percentiles per layer and round, then the
//! medians and the median of the per-round ratios.

mod apps;
mod load;

use std::net::SocketAddr;

use axum::Router;
use data_protection::DataProtection;
use data_protection::session::{PostgresSessionStore, RedisSessionStore};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_sqlx_store::PostgresStore;

use apps::{Error, fred_pool, ours_app, peer_app};
use load::{Figures, load};

async fn serve(app: Router) -> Result<SocketAddr, Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The layers of one run: ours first, then the peers.
type Layers = Vec<(String, SocketAddr)>;

/// Starts both apps on Redis; returns the layers and a description of the server.
async fn redis_layers(dp: &DataProtection) -> Result<(Layers, String), Error> {
    let url = env("REDIS_URL", "redis://127.0.0.1:6379/");
    let store = RedisSessionStore::builder(&url)
        .instance_name(format!("bench-{}:", std::process::id()))
        .build()
        .await?;
    let ours = serve(ours_app(dp, store)?).await?;
    let peer = serve(peer_app(RedisStore::new(fred_pool(&url).await?))).await?;
    let layers = vec![
        ("data-protection session".to_owned(), ours),
        ("tower-sessions 0.14 + redis-store 0.16".to_owned(), peer),
    ];
    Ok((layers, format!("Redis {url}")))
}

/// Starts our app and the peer's on PostgreSQL, each on a table of its own made for this run;
/// returns the layers and a description of the server (without the password). The peer runs
/// twice: on a pool with sqlx's defaults (`test_before_acquire`: a ping before every
/// checkout) and on one without that ping, so the comparison is also with the faster one.
async fn postgres_layers(dp: &DataProtection) -> Result<(Layers, String), Error> {
    let url = std::env::var("PG_URL").map_err(|_| "PG_URL is not set")?;
    let pool_size: u32 = env("PG_POOL", "16").parse()?;
    let run = std::process::id();
    let store = PostgresSessionStore::builder(&url)
        .table(format!("SessionCache_bench_{run}"))
        .max_connections(pool_size as usize)
        .build()
        .await?;
    let ours = serve(ours_app(dp, store)?).await?;
    let mut layers = vec![("data-protection session".to_owned(), ours)];
    for (ping, name) in [
        (
            true,
            "tower-sessions 0.14 + sqlx-store 0.15, sqlx pool defaults",
        ),
        (
            false,
            "tower-sessions 0.14 + sqlx-store 0.15, no ping on checkout",
        ),
    ] {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(pool_size)
            .test_before_acquire(ping)
            .connect(&url)
            .await?;
        let store = PostgresStore::new(pool)
            .with_table_name(format!("session_bench_{run}_{ping}"))
            .map_err(Error::from)?;
        store.migrate().await?;
        layers.push((name.to_owned(), serve(peer_app(store)).await?));
    }
    let host = url.rsplit('@').next().unwrap_or("?");
    Ok((layers, format!("PostgreSQL {host}, pools of {pool_size}")))
}

/// Drops the tables a PostgreSQL run made.
async fn postgres_cleanup() -> Result<(), Error> {
    let url = std::env::var("PG_URL")?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?;
    let run = std::process::id();
    // How many updates PostgreSQL made in place (HOT): an index on a column every write
    // changes rules them out. Backends report their counts about once a second.
    let hot: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT relname::text, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables \
         WHERE relname LIKE $1 OR relname LIKE $2 ORDER BY relname",
    )
    .bind(format!("SessionCache_bench_{run}"))
    .bind(format!("session_bench_{run}_%"))
    .fetch_all(&pool)
    .await?;
    println!();
    for (table, updates, in_place) in hot {
        println!("table {table}: {updates} updates, {in_place} of them HOT (in place)");
    }
    sqlx::raw_sql(&format!(
        "DROP TABLE IF EXISTS public.\"SessionCache_bench_{run}\"; \
         DROP TABLE IF EXISTS tower_sessions.\"session_bench_{run}_true\"; \
         DROP TABLE IF EXISTS tower_sessions.\"session_bench_{run}_false\""
    ))
    .execute(&pool)
    .await?;
    Ok(())
}

/// The median (the mean of the two middle values for an even count).
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
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let backend = match args.first().map(String::as_str) {
        Some("redis" | "postgres") => args.remove(0),
        _ => "redis".to_owned(),
    };
    let args: Vec<u64> = args.iter().map(|a| a.parse()).collect::<Result<_, _>>()?;
    let seconds = args.first().copied().unwrap_or(10);
    let users = args.get(1).copied().unwrap_or(32) as usize;
    let rounds = args.get(2).copied().unwrap_or(2);

    let keys = tempfile::tempdir()?;
    let dp = DataProtection::builder()
        .application_name("SessionBench")
        .persist_keys_to_directory(keys.path())
        .build()
        .await?;
    let (layers, server) = if backend == "postgres" {
        postgres_layers(&dp).await?
    } else {
        redis_layers(&dp).await?
    };

    println!(
        "counter handler, {users} users, {seconds} s per run, {rounds} alternating rounds after a warm-up of each layer, {server}"
    );
    println!(
        "| round | layer | requests/s | p50 ms | p99 ms | CPU µs/request: bench process, store server | errors | wrong counts |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    // Warm-up, not counted: the first seconds of a fresh process (allocator growth, the
    // runtime's threads settling) would otherwise land on whichever layer goes first.
    for (_, addr) in &layers {
        load(*addr, users, seconds.div_ceil(2)).await;
    }
    let mut results: Vec<Vec<Figures>> = layers.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        // Rotate which layer goes first, so drifting machine load hits all alike.
        let order = (0..layers.len()).map(|i| (i + round as usize - 1) % layers.len());
        for i in order {
            let (name, addr) = &layers[i];
            let f = load(*addr, users, seconds).await;
            println!(
                "| {round} | {name} | {:.0} | {:.2} | {:.2} | {:.1}, {:.1} | {} | {} |",
                f.rps, f.p50_ms, f.p99_ms, f.own_cpu_us, f.store_cpu_us, f.errors, f.wrong
            );
            results[i].push(f);
        }
    }
    println!();
    println!(
        "| layer (median of {rounds} runs) | requests/s | p50 ms | p99 ms | CPU µs/request: bench process, store server |"
    );
    println!("|---|---|---|---|---|");
    for ((name, _), runs) in layers.iter().zip(&results) {
        let of = |f: fn(&Figures) -> f64| median(runs.iter().map(f).collect());
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.1}, {:.1} |",
            of(|f| f.rps),
            of(|f| f.p50_ms),
            of(|f| f.p99_ms),
            of(|f| f.own_cpu_us),
            of(|f| f.store_cpu_us)
        );
    }
    // The figure the issue asks for: the median over rounds of ours / peer in that round.
    let listed = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (peer, (name, _)) in layers.iter().enumerate().skip(1) {
        let ratios = |f: fn(&Figures) -> f64| -> Vec<f64> {
            results[0]
                .iter()
                .zip(&results[peer])
                .map(|(ours, theirs)| f(ours) / f(theirs))
                .collect()
        };
        let rps = ratios(|f| f.rps);
        let p99 = ratios(|f| f.p99_ms);
        println!();
        println!("against {name}:");
        println!(
            "  per-round requests/s ratio (ours / peer): {}; median {:.2}",
            listed(&rps),
            median(rps.clone())
        );
        println!(
            "  per-round p99 ratio (ours / peer, below 1 is better for us): {}; median {:.2}",
            listed(&p99),
            median(p99.clone())
        );
    }
    if backend == "postgres" {
        postgres_cleanup().await?;
    }
    Ok(())
}
