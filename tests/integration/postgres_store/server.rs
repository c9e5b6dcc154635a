//! A private PostgreSQL server on a free loopback port: a copy of the template cluster
//! `scripts/backends.sh` makes, run as its owner, stopped when dropped (also when the test
//! fails), for tests that stop, pause or restart it. Self-contained, so the session tests
//! include it too.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HOW: &str = "start the servers with `eval \"$(bash scripts/backends.sh start)\"` (or run \
`bash scripts/test.sh`); it installs PostgreSQL from apt and prepares the template cluster";

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) => v,
        Err(_) => panic!("{name} is not set: this test needs PostgreSQL; {HOW}"),
    }
}

/// A running (or stopped, or paused) private server.
pub struct PrivatePostgres {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

/// A loopback port nothing listens on (at the moment of asking).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn owner() -> Option<(u32, u32)> {
    let uid = env("PG_RUN_AS_UID");
    let gid = env("PG_RUN_AS_GID");
    if uid.is_empty() {
        return None;
    }
    Some((uid.parse().unwrap(), gid.parse().unwrap()))
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?}: {status}");
}

impl PrivatePostgres {
    /// Copies the template cluster and starts it.
    pub fn start() -> Self {
        let template = env("PG_TEMPLATE_DIR");
        assert!(
            Path::new(&template).is_dir(),
            "{template} is missing; {HOW}"
        );
        let dir = tempfile::Builder::new().prefix("dp-pg-").tempdir().unwrap();
        let data = dir.path().join("data");
        run(Command::new("cp").arg("-a").arg(&template).arg(&data));
        if let Some((uid, gid)) = owner() {
            run(Command::new("chown")
                .arg(format!("{uid}:{gid}"))
                .arg(dir.path()));
        }
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
        };
        server.restart();
        server
    }

    /// The superuser's URL (no TLS).
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/postgres?sslmode=disable",
            env("PG_PASSWORD"),
            self.port
        )
    }

    /// Starts the server again on the same port and data (after [`stop`](Self::stop)).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::File::create(self.dir.path().join("postgres.log")).unwrap();
        let mut cmd = Command::new(Path::new(&env("PG_BIN_DIR")).join("postgres"));
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some((uid, gid)) = owner() {
            cmd.uid(uid).gid(gid);
        }
        self.child = Some(cmd.spawn().expect("spawn postgres"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(Path::new(&env("PG_BIN_DIR")).join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                let log = std::fs::read_to_string(self.dir.path().join("postgres.log"));
                panic!("postgres exited at start: {status}; log: {log:?}");
            }
            assert!(Instant::now() < deadline, "postgres not ready after 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The postmaster and its children (backends, background workers), by PID.
    fn pids(&self) -> Vec<u32> {
        let Some(child) = &self.child else {
            return Vec::new();
        };
        let main = child.id();
        let mut pids = vec![main];
        let children = std::fs::read_to_string(format!("/proc/{main}/task/{main}/children"))
            .unwrap_or_default();
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
        pids
    }

    fn signal(pids: &[u32], signal: &str) {
        if pids.is_empty() {
            return;
        }
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .args(pids.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status();
    }

    /// Fast shutdown (SIGINT: every backend ends its session at once, connections drop;
    /// what was committed is kept).
    pub fn stop(&mut self) {
        let pids = self.pids();
        if let Some(mut child) = self.child.take() {
            Self::signal(&pids, "CONT");
            Self::signal(&pids[..1], "INT");
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// SIGSTOP to the postmaster and every child: the server hangs, connections stay open.
    pub fn pause(&self) {
        Self::signal(&self.pids(), "STOP");
    }

    /// SIGCONT to the same processes.
    pub fn resume(&self) {
        Self::signal(&self.pids(), "CONT");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.stop();
    }
}
