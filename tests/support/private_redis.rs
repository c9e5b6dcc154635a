//! A private redis-server on a free loopback port, stopped when dropped (also when the test
//! fails), for tests that kill, pause or restart it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::backends;

/// A running (or killed, or paused) private server.
pub struct PrivateRedis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    args: Vec<String>,
    starts: u32,
    tls: bool,
}

/// A loopback port nothing listens on (at the moment of asking).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PrivateRedis {
    /// Starts a server with no persistence plus `extra` arguments.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_on(free_port(), extra)
    }

    /// Starts a server on `port`.
    pub fn start_on(port: u16, extra: &[&str]) -> Self {
        let mut server = Self::prepare(port, extra);
        server.restart();
        server
    }

    /// A server started with appendonly on, so data survives a kill and restart.
    pub fn persistent() -> Self {
        Self::start(&["--appendonly", "yes"])
    }

    /// Configures a server without starting it (see [`restart`](Self::restart)).
    pub fn prepare(port: u16, extra: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("dp-redis-")
            .tempdir()
            .unwrap();
        Self {
            child: None,
            port,
            dir,
            args: extra.iter().map(|s| (*s).to_owned()).collect(),
            starts: 0,
            tls: false,
        }
    }

    /// A TLS-only server: the port speaks TLS with `server.pem` signed by `ca.pem`.
    pub fn start_tls(certs: &Path) -> Self {
        let port = free_port();
        let file = |name: &str| certs.join(name).display().to_string();
        let args = [
            "--port".to_owned(),
            "0".to_owned(),
            "--tls-port".to_owned(),
            port.to_string(),
            "--tls-cert-file".to_owned(),
            file("server.pem"),
            "--tls-key-file".to_owned(),
            file("server.key"),
            "--tls-ca-cert-file".to_owned(),
            file("ca.pem"),
            "--tls-auth-clients".to_owned(),
            "no".to_owned(),
        ];
        let mut server = Self::prepare(port, &[]);
        server.args = args.to_vec();
        server.tls = true;
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT/` (or `rediss://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again), on the same port and data directory, and waits until it
    /// accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        self.starts += 1;
        let log = self.dir.path().join(format!("redis-{}.log", self.starts));
        let bin = backends::env("REDIS_SERVER_BIN");
        let mut cmd = Command::new(&bin);
        if !self.tls {
            cmd.args(["--port", &self.port.to_string()]);
        }
        cmd.args(["--bind", "127.0.0.1", "--save", ""])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e}; {}", backends::HOW));
        self.child = Some(child);
        self.wait_ready(&log);
    }

    fn wait_ready(&mut self, log: &PathBuf) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.contains("Ready to accept connections") {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("redis-server exited during start-up ({status}):\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "redis-server not ready after 10 s:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP: the server keeps its connections open but answers nothing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("server running").id();
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        // SIGKILL also ends a paused process.
        self.kill();
    }
}
