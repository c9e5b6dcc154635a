//! `dpkeys` against S3 (moto), Azure Blob (Azurite) and a local single blob, configured the way
//! an operator would: a URL plus the usual environment variables.

use crate::harness::{backend_env, cbc_vector, dpkeys, dpkeys_env, unique};
use crate::scenarios;

/// Environment for moto: endpoint, plain HTTP, dummy credentials.
fn s3_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT", backend_env("S3_ENDPOINT")),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", backend_env("S3_REGION")),
    ]
}

/// Environment for Azurite: the development account and its endpoint.
fn azure_env() -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_STORAGE_ACCOUNT_NAME", backend_env("AZURITE_ACCOUNT")),
        (
            "AZURE_STORAGE_ACCOUNT_KEY",
            backend_env("AZURITE_ACCESS_KEY"),
        ),
        (
            "AZURE_STORAGE_ENDPOINT",
            backend_env("AZURITE_BLOB_ENDPOINT"),
        ),
        ("AZURE_ALLOW_HTTP", "true".into()),
    ]
}

/// Runs the lifecycle scenario with `env` set for every `dpkeys` run.
fn lifecycle_with(store: &str, env: Vec<(&'static str, String)>) {
    crate::harness::with_env(env, || scenarios::lifecycle(store));
}

#[test]
fn lifecycle_on_s3_per_object() {
    let url = format!("s3://{}/{}", backend_env("S3_BUCKET"), unique("dpkeys"));
    lifecycle_with(&url, s3_env());
}

#[test]
fn lifecycle_on_azure_single_blob() {
    let url = format!(
        "az://{}/{}/keys.xml?layout=single-blob",
        backend_env("AZURITE_CONTAINER"),
        unique("dpkeys")
    );
    lifecycle_with(&url, azure_env());
}

#[test]
fn lifecycle_on_a_local_single_blob() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "file://{}/ring.xml?layout=single-blob",
        dir.path().display()
    );
    scenarios::lifecycle(&url);
    let text = std::fs::read_to_string(dir.path().join("ring.xml")).unwrap();
    assert!(
        text.contains("<repository>"),
        "ASP.NET's single-blob document: {text}"
    );
}

#[test]
fn eight_concurrent_ensure_processes_on_s3_and_azure_create_one_key() {
    crate::harness::with_env(s3_env(), || {
        scenarios::ensure_races(3, |_| {
            format!("s3://{}/{}", backend_env("S3_BUCKET"), unique("race"))
        });
    });
    crate::harness::with_env(azure_env(), || {
        scenarios::ensure_races(3, |_| {
            format!(
                "az://{}/{}/keys.xml?layout=single-blob",
                backend_env("AZURITE_CONTAINER"),
                unique("race")
            )
        });
    });
}

#[test]
fn migrate_a_directory_to_azure_and_read_an_aspnet_token_there() {
    let (token, key_file) = cbc_vector();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&key_file, dir.path().join(key_file.file_name().unwrap())).unwrap();
    let az = format!(
        "az://{}/{}/keys.xml?layout=single-blob",
        backend_env("AZURITE_CONTAINER"),
        unique("copy")
    );
    let dir_url = dir.path().to_str().unwrap();
    dpkeys_env(&["--store", dir_url, "copy", "--to", &az], &azure_env()).expect(0);
    let run = dpkeys_env(
        &[
            "--store",
            &az,
            "--app-name",
            "MyApp",
            "unprotect",
            "--purpose",
            "my purpose",
            &token,
        ],
        &azure_env(),
    );
    assert_eq!(run.expect(0).stdout, "Hello, world!");
}

#[test]
fn bad_blob_urls_and_unreachable_servers() {
    let r = dpkeys(&["--store", "s3://bucket/p?layout=sideways", "list"]).expect(2);
    assert!(r.stderr.contains("layout"), "{}", r.stderr);
    // Nothing listens on port 1: the store is unavailable, exit 1.
    let mut env = s3_env();
    env[0].1 = "http://127.0.0.1:1".into();
    let r = dpkeys_env(
        &["--store", "s3://keyring/x", "--timeout", "10s", "list"],
        &env,
    )
    .expect(1);
    assert!(
        r.stderr.contains("s3://keyring/x"),
        "names the store: {}",
        r.stderr
    );
}
