//! Several OS processes on one key directory: they end with one consistent ring and read
//! each other's payloads. Children are this test binary re-run with `child_node` selected.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use data_protection::{DataProtection, ManualClock};

const NODES: usize = 16;

fn key_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("key-"))
        .collect()
}

/// Starts `NODES` children at the same instant and waits for them.
fn run_children(keys: &Path, out: &Path, mode: &str) {
    let start_at =
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_millis(1500);
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..NODES)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "multiprocess::child_node",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("DP_CHILD_KEYS", keys)
                .env("DP_CHILD_OUT", out)
                .env("DP_CHILD_ID", i.to_string())
                .env("DP_CHILD_MODE", mode)
                .env("DP_CHILD_START_MS", start_at.as_millis().to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    for mut c in children {
        let status = c.wait().unwrap();
        assert!(status.success(), "a child node failed: {status}");
    }
}

fn read_tokens(out: &Path) -> Vec<(String, Vec<u8>)> {
    (0..NODES)
        .map(|i| {
            (
                format!("node {i}"),
                std::fs::read(out.join(format!("token-{i}"))).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn processes_starting_together_on_an_empty_directory_create_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, out) = (dir.path().join("keys"), dir.path().join("out"));
    std::fs::create_dir_all(&out).unwrap();
    for round in 0..3 {
        if round > 0 {
            std::fs::remove_dir_all(&keys).unwrap();
            for f in std::fs::read_dir(&out).unwrap() {
                std::fs::remove_file(f.unwrap().path()).unwrap();
            }
        }
        run_children(&keys, &out, "start");
        assert_eq!(key_files(&keys).len(), 1, "round {round}: exactly one key");
        let dp = DataProtection::builder()
            .application_name("Race")
            .persist_keys_to_directory(&keys)
            .build()
            .await
            .unwrap();
        for (who, token) in read_tokens(&out) {
            assert_eq!(
                dp.protector(["race"]).unprotect(&token).unwrap(),
                who.as_bytes()
            );
        }
    }
}

#[tokio::test]
async fn processes_agreeing_a_successor_is_due_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, out) = (dir.path().join("keys"), dir.path().join("out"));
    std::fs::create_dir_all(&out).unwrap();
    // A key created 89 days ago: it expires within the 3-day lead, so a successor is due.
    let past = Arc::new(ManualClock::new(
        time::OffsetDateTime::now_utc() - time::Duration::days(89),
    ));
    let old = DataProtection::builder()
        .persist_keys_to_directory(&keys)
        .clock(past)
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let first = old.default_key().unwrap();
    run_children(&keys, &out, "ensure");
    assert_eq!(key_files(&keys).len(), 2, "exactly one successor");
    let dp = DataProtection::builder()
        .application_name("Race")
        .persist_keys_to_directory(&keys)
        .build()
        .await
        .unwrap();
    let infos = dp.keys();
    let successor = infos.iter().find(|k| k.id != first).unwrap();
    assert_eq!(
        Some(successor.activation),
        infos.iter().find(|k| k.id == first).map(|k| k.expiration)
    );
    for (who, token) in read_tokens(&out) {
        assert_eq!(
            dp.protector(["race"]).unprotect(&token).unwrap(),
            who.as_bytes()
        );
    }
}

/// The child node. Does nothing unless started by the tests above.
#[test]
#[ignore = "run as a child process by the multiprocess tests"]
fn child_node() {
    let Ok(keys) = std::env::var("DP_CHILD_KEYS") else {
        return;
    };
    let out = PathBuf::from(std::env::var("DP_CHILD_OUT").unwrap());
    let id: usize = std::env::var("DP_CHILD_ID").unwrap().parse().unwrap();
    let start_ms: u128 = std::env::var("DP_CHILD_START_MS").unwrap().parse().unwrap();
    let mode = std::env::var("DP_CHILD_MODE").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        if start_ms > now {
            tokio::time::sleep(Duration::from_millis((start_ms - now) as u64)).await;
        }
        let dp = DataProtection::builder()
            .application_name("Race")
            .persist_keys_to_directory(&keys)
            .background_refresh(false)
            .build()
            .await
            .expect("build");
        if mode == "ensure" {
            dp.ensure_key().await.expect("ensure");
        }
        let p = dp.protector(["race"]);
        crate::common::exchange_tokens(&p, &out, id, NODES).await;
    });
}
