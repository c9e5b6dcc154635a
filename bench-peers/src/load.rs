//! The closed-loop load generator: each virtual user sends its next request when the previous
//! one answered, with its own session cookie, and checks its counter.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

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

pub struct Figures {
    pub rps: f64,
    /// CPU time of this process (load generator and server) per request, in µs.
    pub own_cpu_us: f64,
    /// CPU time of the store server's processes per request, in µs.
    pub store_cpu_us: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub wrong: u64,
}

pub async fn load(addr: SocketAddr, users: usize, seconds: u64) -> Figures {
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(users)
        .build_http();
    let cpu_before = (
        cpu_seconds(&["session-bench-p"]),
        cpu_seconds(STORE_SERVERS),
    );
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
    let requests = all.latencies_us.len().max(1) as f64;
    let own_cpu_us = (cpu_seconds(&["session-bench-p"]) - cpu_before.0) * 1e6 / requests;
    let store_cpu_us = (cpu_seconds(STORE_SERVERS) - cpu_before.1) * 1e6 / requests;
    all.latencies_us.sort_unstable();
    let pct = |p: f64| {
        let l = &all.latencies_us;
        let i = ((l.len() as f64 * p).ceil() as usize).clamp(1, l.len()) - 1;
        f64::from(l[i]) / 1000.0
    };
    Figures {
        rps: all.latencies_us.len() as f64 / elapsed,
        own_cpu_us,
        store_cpu_us,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors: all.errors,
        wrong: all.wrong_counts,
    }
}

/// Process names (as /proc shows them, at most 15 bytes) of the store servers.
const STORE_SERVERS: &[&str] = &["redis-server", "postgres"];

/// User plus system CPU seconds of every process named one of `names` (Linux /proc; 0
/// elsewhere). Clock ticks are taken as 100 per second, the Linux default.
fn cpu_seconds(names: &[&str]) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut ticks = 0u64;
    for entry in dir.flatten() {
        // Only the numeric entries: "self" and "thread-self" would count this process twice.
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": utime and stime are fields 14 and 15.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !names.contains(&&stat[open + 1..close]) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let field = |i: usize| {
            fields
                .get(i - 3)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks += field(14) + field(15);
    }
    ticks as f64 / 100.0
}
