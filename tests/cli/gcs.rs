//! `dpkeys` against Google Cloud Storage (fake-gcs-server on loopback). Read-only commands:
//! the emulator rejects `object_store`'s GCS uploads (see docs/blob-store.md), so the ring is
//! uploaded through the emulator's JSON API, as another writer would.

use std::process::Command;

use crate::harness::{backend_env, cbc_vector, dpkeys_env, unique};

/// `object_store` settings for the emulator, from the environment as an operator sets them.
fn gcs_env() -> Vec<(&'static str, String)> {
    vec![
        ("GOOGLE_BASE_URL", backend_env("GCS_ENDPOINT")),
        (
            "GOOGLE_SERVICE_ACCOUNT_KEY",
            r#"{"disable_oauth": true, "client_email": "", "private_key": "", "private_key_id": ""}"#
                .into(),
        ),
    ]
}

fn upload(name: &str, file: &std::path::Path) {
    let url = format!(
        "{}/upload/storage/v1/b/{}/o?uploadType=media&name={}",
        backend_env("GCS_ENDPOINT"),
        backend_env("GCS_BUCKET"),
        name.replace('/', "%2F")
    );
    let status = Command::new("curl")
        .args(["-sf", "-o", "/dev/null", "-X", "POST", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .arg(&url)
        .status()
        .expect("curl (installed by scripts/backends.sh)");
    assert!(status.success(), "upload {name} to fake-gcs-server");
}

#[test]
fn list_check_and_unprotect_an_aspnet_token_from_gcs() {
    let (token, key_file) = cbc_vector();
    let prefix = unique("dpkeys-gcs");
    let name = key_file.file_name().unwrap().to_str().unwrap();
    upload(&format!("{prefix}/{name}"), &key_file);
    let store = format!("gs://{}/{prefix}", backend_env("GCS_BUCKET"));

    let list = dpkeys_env(&["--store", &store, "--json", "list"], &gcs_env()).expect(0);
    let ids: Vec<_> = list.json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["0f8fad5b-d9cb-469f-a165-70867728950e"]);
    let run = dpkeys_env(
        &[
            "--store",
            &store,
            "--app-name",
            "MyApp",
            "unprotect",
            "--purpose",
            "my purpose",
            &token,
        ],
        &gcs_env(),
    );
    assert_eq!(run.expect(0).stdout, "Hello, world!");
    // The vector key expired in 2024: check finds its material sound, and fails because
    // nothing succeeds it.
    let check = dpkeys_env(&["--store", &store, "--json", "check"], &gcs_env()).expect(1);
    let report = check.json();
    assert_eq!(report["keys"][0]["ok"], true, "{report}");
    assert!(
        report["problems"].to_string().contains("no successor"),
        "{report}"
    );
}
