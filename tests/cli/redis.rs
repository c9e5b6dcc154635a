//! `dpkeys` against the real Redis server and Redis Cluster that `scripts/backends.sh` starts.

use crate::harness::{backend_env, cbc_vector, dpkeys, key_ids, unique};
use crate::scenarios;

fn fresh_list() -> String {
    let base = backend_env("REDIS_URL");
    format!(
        "{}?key={}",
        base.trim_end_matches('/'),
        unique("dpkeys-cli")
    )
}

#[test]
fn lifecycle_on_redis() {
    scenarios::lifecycle(&fresh_list());
}

#[test]
fn lifecycle_on_a_redis_cluster() {
    let seed = backend_env("REDIS_CLUSTER_URLS");
    let seed = seed
        .split(',')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let store = format!("{seed}?cluster=true&key={}", unique("dpkeys-cli-cluster"));
    scenarios::lifecycle(&store);
}

#[test]
fn eight_concurrent_ensure_processes_on_redis_create_one_key() {
    scenarios::ensure_races(5, |_| fresh_list());
}

#[test]
fn copy_from_a_directory_to_redis_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let redis = fresh_list();
    scenarios::copy_between(dir.path().to_str().unwrap(), &redis);
    let back = tempfile::tempdir().unwrap();
    dpkeys(&[
        "--store",
        &redis,
        "copy",
        "--to",
        back.path().to_str().unwrap(),
    ])
    .expect(0);
    assert_eq!(
        key_ids(back.path().to_str().unwrap()).len(),
        key_ids(&redis).len()
    );
}

#[test]
fn aspnet_token_through_a_redis_ring() {
    let (token, key_file) = cbc_vector();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&key_file, dir.path().join(key_file.file_name().unwrap())).unwrap();
    let redis = fresh_list();
    dpkeys(&[
        "--store",
        dir.path().to_str().unwrap(),
        "copy",
        "--to",
        &redis,
    ])
    .expect(0);
    let run = dpkeys(&[
        "--store",
        &redis,
        "--app-name",
        "MyApp",
        "unprotect",
        "--purpose",
        "my purpose",
        &token,
    ]);
    assert_eq!(run.expect(0).stdout, "Hello, world!");
}

#[test]
fn an_unreachable_server_fails_with_exit_1_and_says_so() {
    // Port 1 on loopback: nothing listens there.
    let r = dpkeys(&["--store", "redis://127.0.0.1:1/", "--timeout", "5s", "list"]).expect(1);
    assert!(
        r.stderr.contains("127.0.0.1:1"),
        "names the server: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("reachable"),
        "says what to check: {}",
        r.stderr
    );
    let r = dpkeys(&[
        "--store",
        "redis://127.0.0.1:1/",
        "--timeout",
        "5s",
        "ensure",
    ])
    .expect(1);
    assert!(r.stdout.is_empty(), "nothing claimed: {}", r.stdout);
}

#[test]
fn a_malformed_redis_url_is_a_configuration_error() {
    let r = dpkeys(&["--store", "redis://", "list"]).expect(2);
    assert!(r.stderr.contains("redis"), "{}", r.stderr);
}
