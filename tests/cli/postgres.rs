//! `dpkeys` against the PostgreSQL server that `scripts/backends.sh` starts (plain and TLS).

use crate::harness::{backend_env, dpkeys, key_ids, unique};
use crate::scenarios;

/// A table of its own in a schema of its own.
fn fresh_table(base: &str) -> String {
    let schema = unique("dpkeys_cli").replace('-', "_").to_lowercase();
    format!("{base}&schema={schema}&table=DataProtectionKeys")
}

#[test]
fn lifecycle_on_postgres() {
    scenarios::lifecycle(&fresh_table(&backend_env("PG_URL")));
}

#[test]
fn lifecycle_on_postgres_over_tls() {
    scenarios::lifecycle(&fresh_table(&backend_env("PG_TLS_URL")));
}

#[test]
fn eight_concurrent_ensure_processes_on_postgres_create_one_key() {
    scenarios::ensure_races(3, |_| fresh_table(&backend_env("PG_URL")));
}

#[test]
fn copy_from_a_directory_to_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let pg = fresh_table(&backend_env("PG_URL"));
    scenarios::copy_between(dir.path().to_str().unwrap(), &pg);
    assert!(!key_ids(&pg).is_empty());
}

#[test]
fn the_password_is_never_printed() {
    let pw = backend_env("PG_PASSWORD");
    let store = fresh_table(&backend_env("PG_URL"));
    let ok = dpkeys(&["--store", &store, "check"]);
    let port = backend_env("PG_PORT");
    let wrong =
        format!("postgres://postgres:{pw}-wrong@127.0.0.1:{port}/postgres?sslmode=disable&table=T");
    let failed = dpkeys(&["--store", &wrong, "list"]);
    assert_ne!(failed.code, 0);
    for run in [&ok, &failed] {
        assert!(
            !run.stdout.contains(&pw) && !run.stderr.contains(&pw),
            "{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    assert!(
        failed.stderr.contains("127.0.0.1"),
        "names the store: {}",
        failed.stderr
    );
}
