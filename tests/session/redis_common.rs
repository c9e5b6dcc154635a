//! Redis helpers: stores on the shared servers with unique instance names, raw
//! connections, and a private redis-server for fault tests.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use data_protection::session::RedisSessionStore;

use crate::backends::{env, unique};

/// A store on the shared Redis, keys prefixed with a fresh instance name.
pub async fn store(name: &str) -> (RedisSessionStore, String) {
    let instance = format!("{}:", unique(name));
    let store = RedisSessionStore::builder(env("REDIS_URL"))
        .instance_name(&instance)
        .build()
        .await
        .expect("connect to REDIS_URL");
    (store, instance)
}

/// The seed URLs of the shared 3-node cluster.
pub fn cluster_urls() -> Vec<String> {
    env("REDIS_CLUSTER_URLS")
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A raw connection to the shared Redis.
pub async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(env("REDIS_URL"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// A redis-server of this test's own on a free loopback port, stopped when dropped (also
/// when the test fails).
pub struct PrivateRedis {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl PrivateRedis {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Self {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        r.restart();
        r
    }

    /// Starts the server (again) on the same port.
    pub fn restart(&mut self) {
        let bin = env("REDIS_SERVER_BIN");
        let child = Command::new(&bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "private redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success(), "kill {signal}");
        }
    }

    /// SIGSTOP: the server hangs, connections stay open.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGKILL, then reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.signal("-CONT");
        self.kill();
    }
}
