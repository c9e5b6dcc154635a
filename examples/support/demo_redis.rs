//! Redis for the session examples: `REDIS_URL` when it is set, else a private `redis-server`
//! started on a free loopback port for the example's lifetime (no data written to disk), else
//! an error saying how to install one.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to get a redis-server, for the error when none is found.
pub const INSTALL_HINT: &str = "install Redis (Debian/Ubuntu: `sudo apt-get install \
     redis-server`; Fedora: `sudo dnf install redis`; macOS: `brew install redis`) or point \
     REDIS_URL at a running server (REDIS_URL=redis://127.0.0.1:6379/)";

/// The Redis an example uses; a private server stops when this is dropped.
#[derive(Debug)]
pub struct DemoRedis {
    url: String,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl DemoRedis {
    /// `url` when given; otherwise starts `server_bin` (or `redis-server` from `PATH`).
    pub fn connect_or_start(
        url: Option<String>,
        server_bin: Option<PathBuf>,
    ) -> Result<Self, String> {
        if let Some(url) = url.filter(|u| !u.trim().is_empty()) {
            return Ok(Self {
                url,
                child: None,
                _dir: None,
            });
        }
        let bin = server_bin
            .or_else(|| find_in_path("redis-server"))
            .ok_or_else(|| {
                format!("REDIS_URL is not set and redis-server is not installed: {INSTALL_HINT}")
            })?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free loopback port: {e}"))?
            .port();
        let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}; {INSTALL_HINT}", bin.display()))?;
        let mut redis = Self {
            url: format!("redis://127.0.0.1:{port}/"),
            child: Some(child),
            _dir: Some(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = redis
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                return Err(format!("{} exited at start ({status})", bin.display()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not listen on port {port} within 10 s",
                    bin.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(redis)
    }

    /// From the environment: `REDIS_URL`, else a private server (`REDIS_SERVER_BIN` or
    /// `redis-server` from `PATH`). Says on stderr which one it is.
    pub fn from_env() -> Result<Self, String> {
        let redis = Self::connect_or_start(
            std::env::var("REDIS_URL").ok(),
            std::env::var_os("REDIS_SERVER_BIN").map(PathBuf::from),
        )?;
        if redis.is_private() {
            eprintln!(
                "REDIS_URL is not set: started a private redis-server at {} for this run \
                 (stopped on exit; set REDIS_URL to use your own)",
                redis.url
            );
        }
        Ok(redis)
    }

    /// [`from_env`](Self::from_env), or the reason on stderr and exit code 2.
    pub fn from_env_or_exit() -> Self {
        Self::from_env().unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(2)
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is a server of our own.
    pub fn is_private(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for DemoRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}
