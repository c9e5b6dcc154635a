//! Google Cloud Storage through `gs://` URLs, against fake-gcs-server on loopback
//! (`scripts/backends.sh`, `GCS_ENDPOINT`).
//!
//! Reads, refreshes and deletes only: fake-gcs-server (v1.54.0) rejects the XML API's object
//! PUT that `object_store` sends for every write (HTTP 400 "invalid uploadType"), so the
//! conformance suite and the races cannot run on it. The key rings read here are written by
//! a local node and uploaded through the emulator's JSON API. docs/blob-store.md says what
//! stays untested on GCS.

use std::path::Path;

use data_protection::repository::{BlobLayout, BlobRepository, XmlRepository};
use data_protection::{DataProtection, Error, StoreErrorKind};
use time::{Duration, OffsetDateTime};

use crate::backends::{env, unique};

/// A service-account key with `disable_oauth`: every request carries an empty bearer token
/// and nothing asks a token server. (`google_skip_signature` is not enough: `object_store`
/// 0.14 still fetches a token, from the cloud metadata server, for PUT and DELETE.)
const EMULATOR_KEY: &str =
    r#"{"disable_oauth": true, "client_email": "", "private_key": "", "private_key_id": ""}"#;

/// `from_url_with_options` settings for the emulator. `object_store` allows plain HTTP for
/// GCS by default.
fn gcs_options() -> Vec<(&'static str, String)> {
    vec![
        ("google_base_url", env("GCS_ENDPOINT")),
        ("google_service_account_key", EMULATOR_KEY.into()),
    ]
}

fn gcs_url(path: &str, layout: &str) -> String {
    format!("gs://{}/{path}?layout={layout}", env("GCS_BUCKET"))
}

/// Writes an object through the emulator's JSON API (a media upload, which overwrites).
async fn upload(name: &str, body: Vec<u8>) {
    let url = format!(
        "{}/upload/storage/v1/b/{}/o?uploadType=media&name={}",
        env("GCS_ENDPOINT"),
        env("GCS_BUCKET"),
        name.replace('/', "%2F")
    );
    let response = reqwest::Client::new()
        .post(url)
        .body(body)
        .send()
        .await
        .expect("upload to fake-gcs-server");
    assert!(
        response.status().is_success(),
        "upload {name}: {}",
        response.status()
    );
}

/// Uploads every key file (`*.xml`) of a key directory under `prefix`.
async fn upload_dir(dir: &Path, prefix: &str) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("key dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().into_string().expect("utf-8 name");
        if !name.ends_with(".xml") {
            continue;
        }
        upload(
            &format!("{prefix}/{name}"),
            std::fs::read(entry.path()).unwrap(),
        )
        .await;
        count += 1;
    }
    count
}

async fn reader(repo: BlobRepository) -> DataProtection {
    DataProtection::builder()
        .application_name("gcs")
        .persist_keys_to(repo)
        .disable_automatic_key_generation()
        .background_refresh(false)
        .build()
        .await
        .expect("a node on GCS")
}

async fn writer(builder: data_protection::DataProtectionBuilder) -> DataProtection {
    builder
        .application_name("gcs")
        .background_refresh(false)
        .build()
        .await
        .expect("a local node")
}

async fn add_key(node: &DataProtection) {
    let now = OffsetDateTime::now_utc();
    node.create_key(now + Duration::days(1), now + Duration::days(90))
        .await
        .expect("create a key");
}

#[tokio::test]
async fn gcs_per_object_reads_refreshes_deletes_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let local = writer(DataProtection::builder().persist_keys_to_directory(dir.path())).await;
    let prefix = unique("gcs-per-object");
    assert_eq!(upload_dir(dir.path(), &prefix).await, 1);

    let repo =
        BlobRepository::from_url_with_options(&gcs_url(&prefix, "per-object"), gcs_options())
            .expect("gs:// URL");
    assert_eq!(
        repo.describe(),
        format!("gs://{}/{prefix} (per-object)", env("GCS_BUCKET"))
    );
    let node = reader(repo).await;
    assert_eq!(node.default_key(), local.default_key(), "the uploaded key");
    let from_local = local.protector(["p"]).protect(b"to gcs").unwrap();
    assert_eq!(
        node.protector(["p"]).unprotect(&from_local).unwrap(),
        b"to gcs"
    );
    let from_gcs = node.protector(["p"]).protect(b"from gcs").unwrap();
    assert_eq!(
        local.protector(["p"]).unprotect(&from_gcs).unwrap(),
        b"from gcs"
    );

    // A refresh lists the prefix again and fetches the new object.
    add_key(&local).await;
    assert_eq!(upload_dir(dir.path(), &prefix).await, 2);
    node.refresh().await.expect("refresh");
    assert_eq!(node.keys().len(), 2);

    // Delete (the XML API's DELETE) removes exactly the named object.
    let repo =
        BlobRepository::from_url_with_options(&gcs_url(&prefix, "per-object"), gcs_options())
            .unwrap();
    let id = local.default_key().unwrap();
    repo.delete_elements(&[format!("key-{id}")])
        .await
        .expect("delete");
    let left = repo.get_all_elements().await.expect("list");
    assert_eq!(left.len(), 1, "one key left");
    assert!(
        !left[0].xml.contains(&id.to_string()),
        "the deleted key is gone"
    );
}

#[tokio::test]
async fn gcs_single_blob_reads_asp_net_document_and_refreshes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.xml");
    let local_url = format!("file://{}?layout=single-blob", file.display());
    let local = writer(
        DataProtection::builder().persist_keys_to(BlobRepository::from_url(&local_url).unwrap()),
    )
    .await;
    let blob = format!("{}/keys.xml", unique("gcs-single-blob"));
    upload(&blob, std::fs::read(&file).unwrap()).await;

    let repo = BlobRepository::from_url_with_options(&gcs_url(&blob, "single-blob"), gcs_options())
        .expect("gs:// URL");
    assert_eq!(repo.layout(), BlobLayout::SingleBlob);
    let node = reader(repo).await;
    assert_eq!(node.default_key(), local.default_key());
    let token = local.protector(["p"]).protect(b"blob").unwrap();
    assert_eq!(node.protector(["p"]).unprotect(&token).unwrap(), b"blob");

    // A changed blob (new ETag and generation) is read again on refresh.
    add_key(&local).await;
    upload(&blob, std::fs::read(&file).unwrap()).await;
    node.refresh().await.expect("refresh");
    assert_eq!(node.keys().len(), 2);
    node.refresh().await.expect("refresh of an unchanged blob");
    assert_eq!(node.keys().len(), 2);
}

/// Listing a missing bucket is an error, never an empty ring (which would make a node create
/// a key somewhere else). Only the per-object layout: the emulator answers a GET in a missing
/// bucket with a bare 404, the same as for a missing object (GCS says `NoSuchBucket`).
#[tokio::test]
async fn gcs_missing_bucket_is_an_error() {
    let url = format!("gs://{}/p", unique("nobucket"));
    let repo = BlobRepository::from_url_with_options(&url, gcs_options()).unwrap();
    let err = DataProtection::builder()
        .persist_keys_to(repo)
        .background_refresh(false)
        .build()
        .await
        .unwrap_err();
    let Error::Store(e) = &err else {
        panic!("{url}: {err}")
    };
    assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{url}: {err}");
}
