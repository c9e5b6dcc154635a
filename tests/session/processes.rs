//! Two server processes share one key directory and one Redis: a session created on
//! node A is read and updated on node B; then the key ring rotates, and the old cookie
//! still works on both while new cookies use the new key. Children are this test binary
//! re-run with `processes::child_node` selected.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::routing::post;
use base64::Engine;
use data_protection::session::{RedisSessionStore, SessionLayer};
use time::OffsetDateTime;

use crate::app::{Browser, ring, router, serve};
use crate::backends::{env, unique};

const APP: &str = "ProcessCluster";

/// A child node, killed when dropped (also when the test fails).
struct Node {
    child: Child,
    addr: SocketAddr,
}

impl Node {
    fn start(keys: &Path, instance: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "processes::child_node",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("DP_NODE_KEYS", keys)
            .env("DP_NODE_INSTANCE", instance)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child node");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the child node exited before listening")
                .unwrap();
            // The harness prints "test ... " before the child's own output.
            if let Some((_, addr)) = line.split_once("listening on ") {
                break addr.trim().parse().unwrap();
            }
        };
        // Keep draining the child's output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, addr }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The key id a session cookie was protected with.
fn cookie_key_id(cookie: &str) -> [u8; 16] {
    let b64 = cookie.replace("%2B", "+").replace("%2F", "/");
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(b64)
        .unwrap();
    bytes[4..20].try_into().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_sessions_and_survive_a_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    // The ring exists before the nodes start, as after a deployment.
    let admin = ring(dir.path(), APP).build().await.unwrap();
    let old_key = admin.default_key().unwrap();
    let instance = format!("{}:", unique("procs"));
    let a = Node::start(dir.path(), &instance);
    let b = Node::start(dir.path(), &instance);

    let on_a = Browser::new(a.addr);
    assert_eq!(on_a.text("/counter").await, "1", "created on node A");
    let cookie = on_a.session_cookie().unwrap();
    let on_b = Browser::with_cookie(b.addr, &cookie);
    assert_eq!(
        on_b.text("/counter").await,
        "2",
        "read and updated on node B"
    );
    assert_eq!(on_a.text("/counter").await, "3", "and back on A");

    // Rotate: a new key becomes the default; node A learns it now, node B does not.
    let now = OffsetDateTime::now_utc();
    let new_key = admin
        .create_key(
            now - time::Duration::minutes(1),
            now + time::Duration::days(90),
        )
        .await
        .unwrap();
    on_a.ok("/admin/refresh").await;
    let fresh = Browser::new(a.addr);
    assert_eq!(fresh.text("/counter").await, "1");
    let fresh_cookie = fresh.session_cookie().unwrap();
    assert_eq!(
        cookie_key_id(&fresh_cookie),
        new_key.to_guid_bytes(),
        "new key"
    );
    assert_eq!(cookie_key_id(&cookie), old_key.to_guid_bytes());
    assert_eq!(
        Browser::with_cookie(b.addr, &fresh_cookie)
            .text("/counter")
            .await,
        "2",
        "node B reloads its ring for the unknown key"
    );
    assert_eq!(
        on_a.text("/counter").await,
        "4",
        "the old cookie still works on A"
    );
    assert_eq!(on_b.text("/counter").await, "5", "and on B");
}

/// A node: the test application on Redis, its ring in `DP_NODE_KEYS`; prints its address
/// and serves until killed. Not a test of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child node of two_processes_share_sessions_and_survive_a_key_rotation"]
async fn child_node() {
    let Ok(keys) = std::env::var("DP_NODE_KEYS") else {
        return; // run by hand with --ignored: nothing to do
    };
    let dp = ring(Path::new(&keys), APP).build().await.unwrap();
    let store = RedisSessionStore::builder(env("REDIS_URL"))
        .instance_name(env("DP_NODE_INSTANCE"))
        .build()
        .await
        .unwrap();
    let admin = dp.clone();
    let app = router(SessionLayer::new(&dp, store)).route(
        "/admin/refresh",
        post(move || async move {
            admin.refresh().await.unwrap();
            "refreshed"
        }),
    );
    let addr = serve(app).await;
    println!("listening on {addr}");
    tokio::time::sleep(Duration::from_secs(600)).await;
}
