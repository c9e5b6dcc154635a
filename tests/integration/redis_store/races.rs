//! Many nodes deciding at once that a key is needed end with exactly one: 16 tokio tasks
//! (each with its own repository and connection) over many rounds, and 16 OS processes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use data_protection::repository::XmlRepository;
use data_protection::{DataProtection, KeyId, ManualClock};
use time::OffsetDateTime;
use tokio::sync::Barrier;

use super::{delete, node, repo};
use crate::backends::unique;

const NODES: usize = 16;
const ROUNDS: usize = 25;

/// Key ids in the list, read as another node would.
async fn keys_in(list: &str) -> Vec<String> {
    repo(list)
        .get_all_elements()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.name)
        .filter(|n| n.starts_with("key-"))
        .collect()
}

/// Every node protects; its neighbour reads the payload.
fn check_interop(nodes: &[DataProtection]) {
    for (i, dp) in nodes.iter().enumerate() {
        let token = dp.protector(["race"]).protect(&[i as u8]).unwrap();
        let next = &nodes[(i + 1) % nodes.len()];
        assert_eq!(
            next.protector(["race"]).unprotect(&token).unwrap(),
            [i as u8]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_on_an_empty_list_create_one_key() {
    for round in 0..ROUNDS {
        let list = unique("dp-race-empty");
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let barrier = Arc::new(Barrier::new(NODES));
        let tasks: Vec<_> = (0..NODES)
            .map(|_| {
                let (list, clock, barrier) = (list.clone(), clock.clone(), barrier.clone());
                tokio::spawn(async move {
                    let repo = repo(&list);
                    repo.get_all_elements().await.unwrap(); // connected before the start line
                    barrier.wait().await;
                    node(repo, clock).await
                })
            })
            .collect();
        let mut nodes = Vec::new();
        for t in tasks {
            nodes.push(t.await.unwrap());
        }
        let keys = keys_in(&list).await;
        assert_eq!(
            keys.len(),
            1,
            "round {round}: exactly one key, got {keys:?}"
        );
        let default = nodes[0].default_key().unwrap();
        assert_eq!(keys[0], format!("key-{default}"));
        assert!(nodes.iter().all(|n| n.default_key() == Some(default)));
        check_interop(&nodes);
        delete(&list).await;
    }
    println!("{ROUNDS} rounds of {NODES} nodes on an empty list: one key each round");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_agreeing_a_successor_is_due_create_one() {
    let mut created_total = 0;
    for round in 0..ROUNDS {
        let list = unique("dp-race-successor");
        let start = OffsetDateTime::now_utc();
        let clock = Arc::new(ManualClock::new(start));
        let first = node(repo(&list), clock.clone())
            .await
            .default_key()
            .unwrap();
        let mut nodes = Vec::new();
        for _ in 0..NODES {
            nodes.push(node(repo(&list), clock.clone()).await);
        }
        // 88 of 90 days: inside the 3-day lead, every node now wants a successor.
        clock.set(start + time::Duration::days(88));
        let barrier = Arc::new(Barrier::new(NODES));
        let tasks: Vec<_> = nodes
            .iter()
            .cloned()
            .map(|dp| {
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    dp.ensure_key().await.unwrap()
                })
            })
            .collect();
        let mut created = Vec::new();
        let mut seen: Vec<KeyId> = Vec::new();
        for t in tasks {
            let outcome = t.await.unwrap();
            created.extend(outcome.created);
            seen.extend(outcome.created.into_iter().chain(outcome.adopted));
        }
        assert_eq!(created.len(), 1, "round {round}: exactly one creator");
        assert!(seen.iter().all(|id| *id == created[0]), "one successor id");
        let keys = keys_in(&list).await;
        assert_eq!(
            keys.len(),
            2,
            "round {round}: the first key and one successor"
        );
        assert!(keys.contains(&format!("key-{first}")));
        for dp in &nodes {
            dp.refresh().await.unwrap();
            assert_eq!(dp.keys().len(), 2);
        }
        check_interop(&nodes);
        created_total += created.len();
        delete(&list).await;
    }
    println!(
        "{ROUNDS} rounds of {NODES} nodes agreeing a successor is due: {created_total} keys created"
    );
}

/// Starts `NODES` child processes at the same instant on `list` and waits for them.
fn run_children(list: &str, out: &Path) {
    let start_at =
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_millis(1500);
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..NODES)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "redis_store::races::child_node",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("DP_REDIS_CHILD_LIST", list)
                .env("DP_REDIS_CHILD_OUT", out)
                .env("DP_REDIS_CHILD_ID", i.to_string())
                .env("DP_REDIS_CHILD_START_MS", start_at.as_millis().to_string())
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

#[tokio::test]
async fn processes_starting_together_on_an_empty_list_create_one_key() {
    const PROCESS_ROUNDS: usize = 3;
    for round in 0..PROCESS_ROUNDS {
        let list = unique("dp-race-processes");
        let out = tempfile::tempdir().unwrap();
        run_children(&list, out.path());
        let keys = keys_in(&list).await;
        assert_eq!(
            keys.len(),
            1,
            "round {round}: exactly one key, got {keys:?}"
        );
        let dp = node(
            repo(&list),
            Arc::new(ManualClock::new(OffsetDateTime::now_utc())),
        )
        .await;
        for i in 0..NODES {
            let token = std::fs::read(out.path().join(format!("token-{i}"))).unwrap();
            assert_eq!(
                dp.protector(["race"]).unprotect(&token).unwrap(),
                format!("node {i}").as_bytes()
            );
        }
        delete(&list).await;
    }
    println!("{PROCESS_ROUNDS} rounds of {NODES} processes on an empty list: one key each round");
}

/// The child node. Does nothing unless started by the test above.
#[test]
#[ignore = "run as a child process by the Redis process race"]
fn child_node() {
    let Ok(list) = std::env::var("DP_REDIS_CHILD_LIST") else {
        return;
    };
    let out = PathBuf::from(std::env::var("DP_REDIS_CHILD_OUT").unwrap());
    let id: usize = std::env::var("DP_REDIS_CHILD_ID").unwrap().parse().unwrap();
    let start_ms: u128 = std::env::var("DP_REDIS_CHILD_START_MS")
        .unwrap()
        .parse()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let repo = repo(&list);
        repo.get_all_elements().await.expect("connect");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        if start_ms > now {
            tokio::time::sleep(Duration::from_millis((start_ms - now) as u64)).await;
        }
        let dp = DataProtection::builder()
            .application_name("MyApp")
            .persist_keys_to(repo)
            .background_refresh(false)
            .build()
            .await
            .expect("build");
        let p = dp.protector(["race"]);
        crate::common::exchange_tokens(&p, &out, id, NODES).await;
    });
}
