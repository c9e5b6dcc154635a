//! Many nodes deciding at once that a key is needed end with exactly one: 16 tokio tasks,
//! each with its own repository and pool, over many rounds, on an empty table (which does
//! not even exist yet in the first case) and with a successor due.

use std::sync::Arc;

use data_protection::repository::XmlRepository;
use data_protection::{DataProtection, KeyId, ManualClock};
use time::OffsetDateTime;
use tokio::sync::Barrier;

use data_protection::repository::PostgresRepository;

use super::{drop_schema, node, repo, schema, url};

const NODES: usize = 16;
const ROUNDS: usize = 10;
const TABLE: &str = "DataProtectionKeys";

/// A node's repository: its own pool. The deadline is long because 16 nodes opening
/// connections at once (SCRAM authentication, in a debug build) on a loaded 2-core machine
/// take seconds; the property under test is the number of keys.
fn race_repo(s: &str) -> PostgresRepository {
    PostgresRepository::builder(url())
        .schema(s)
        .timeout(std::time::Duration::from_secs(20))
        .connect_timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn keys_in(s: &str) -> Vec<String> {
    repo(s, TABLE)
        .get_all_elements()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.name)
        .filter(|n| n.starts_with("key-"))
        .collect()
}

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
async fn nodes_starting_together_on_an_empty_table_create_one_key() {
    for round in 0..ROUNDS {
        let s = schema();
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let barrier = Arc::new(Barrier::new(NODES));
        // Odd rounds: the table exists (empty). Even rounds: every node creates it first.
        if round % 2 == 1 {
            repo(&s, TABLE).get_all_elements().await.unwrap();
        }
        let tasks: Vec<_> = (0..NODES)
            .map(|_| {
                let (s, clock, barrier) = (s.clone(), clock.clone(), barrier.clone());
                tokio::spawn(async move {
                    let repo = race_repo(&s);
                    barrier.wait().await;
                    node(repo, clock).await
                })
            })
            .collect();
        let mut nodes = Vec::new();
        for t in tasks {
            nodes.push(t.await.unwrap());
        }
        let keys = keys_in(&s).await;
        assert_eq!(
            keys.len(),
            1,
            "round {round}: exactly one key, got {keys:?}"
        );
        let default = nodes[0].default_key().unwrap();
        assert_eq!(keys[0], format!("key-{default}"));
        assert!(nodes.iter().all(|n| n.default_key() == Some(default)));
        check_interop(&nodes);
        drop_schema(&s).await;
    }
    println!("{ROUNDS} rounds of {NODES} nodes on an empty table: one key each round");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_agreeing_a_successor_is_due_create_one() {
    for round in 0..ROUNDS {
        let s = schema();
        let start = OffsetDateTime::now_utc();
        let clock = Arc::new(ManualClock::new(start));
        let first = node(race_repo(&s), clock.clone())
            .await
            .default_key()
            .unwrap();
        let mut nodes = Vec::new();
        for _ in 0..NODES {
            nodes.push(node(race_repo(&s), clock.clone()).await);
        }
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
        let keys = keys_in(&s).await;
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
        drop_schema(&s).await;
    }
    println!("{ROUNDS} rounds of {NODES} nodes agreeing a successor is due: one each round");
}
