//! Private Azurite and moto servers for tests that stop, freeze or kill them. Each listens on
//! a free loopback port and is killed when dropped, also when the test fails.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::backends::env;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Azurite's blob service, data on disk (survives a restart).
    Azurite,
    /// moto's S3 server, data in memory (lost on restart).
    Moto,
}

/// A server process this test started.
pub struct Server {
    kind: Kind,
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Server {
    /// Starts a server and its bucket or container `keyring`.
    pub async fn start(kind: Kind) -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().expect("server dir");
        let mut server = Self {
            kind,
            port,
            dir,
            child: None,
        };
        server.spawn().await;
        server.create_bucket().await;
        server
    }

    /// `http://127.0.0.1:PORT` (moto) or `http://127.0.0.1:PORT/devstoreaccount1` (Azurite).
    pub fn endpoint(&self) -> String {
        match self.kind {
            Kind::Azurite => format!("http://127.0.0.1:{}/{}", self.port, env("AZURITE_ACCOUNT")),
            Kind::Moto => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// Which server this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends a signal to the server by its process id.
    pub fn signal(&self, signal: &str) {
        if let Some(pid) = self.pid() {
            let status = Command::new("kill")
                .args([format!("-{signal}"), pid.to_string()])
                .status()
                .expect("kill");
            assert!(status.success(), "kill -{signal} {pid}");
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and waits until it is gone.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the server again on the same port (and, for Azurite, the same data).
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }

    async fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("log");
        let port = self.port.to_string();
        let mut cmd = match self.kind {
            Kind::Azurite => {
                let mut c = Command::new(env("AZURITE_BIN"));
                let data = self.data_dir();
                c.args(["--blobHost", "127.0.0.1", "--blobPort", &port, "--location"])
                    .arg(&data)
                    .args(["--silent", "--skipApiVersionCheck", "--disableTelemetry"]);
                c
            }
            Kind::Moto => {
                let mut c = Command::new(env("MOTO_SERVER_BIN"));
                c.args(["-H", "127.0.0.1", "-p", &port]);
                c
            }
        };
        cmd.current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        self.child = Some(cmd.spawn().expect("start the server"));
        self.wait_ready().await;
    }

    fn data_dir(&self) -> PathBuf {
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        data
    }

    async fn wait_ready(&mut self) {
        let url = match self.kind {
            Kind::Azurite => format!("http://127.0.0.1:{}/", self.port),
            Kind::Moto => format!("http://127.0.0.1:{}/moto-api/", self.port),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if client.get(&url).send().await.is_ok() {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            let log =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            assert!(
                exited.is_none(),
                "{:?} exited during start-up: {log}",
                self.kind
            );
            assert!(
                Instant::now() < deadline,
                "{:?} not ready after 30 s: {log}",
                self.kind
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn create_bucket(&self) {
        match self.kind {
            Kind::Moto => {
                let status = reqwest::Client::new()
                    .put(format!("{}/keyring", self.endpoint()))
                    .send()
                    .await
                    .expect("create bucket")
                    .status();
                assert!(status.is_success(), "create bucket: {status}");
            }
            Kind::Azurite => {
                // The signed request of scripts/backends.sh.
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/backends.sh");
                let status = Command::new("bash")
                    .args([
                        "-c",
                        "source \"$1\" && azurite_create_container \"$2\" keyring",
                    ])
                    .args(["bash", script])
                    .arg(format!("http://127.0.0.1:{}", self.port))
                    .status()
                    .expect("bash");
                assert!(status.success(), "create container");
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A loopback port nothing listens on (at the time of asking).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}
