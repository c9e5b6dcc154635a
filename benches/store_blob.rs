//! Cost of the blob store with a ring of 1,000 keys, on moto (S3), Azurite (Azure Blob) and a
//! local directory, in both layouts.
//!
//! Run with the test servers up:
//!
//! ```sh
//! eval "$(bash scripts/backends.sh start)"
//! cargo bench --features object-store --bench store_blob
//! bash scripts/backends.sh stop
//! ```
//!
//! Groups, each `…/{s3,azure,local}/{per-object,single-blob}`:
//!
//! - `load-1000`: a new node starts on the ring: `BlobRepository::from_url_with_options` (a new
//!   client with an empty cache) and `DataProtection::builder().persist_keys_to(..).build()`,
//!   which reads and parses every key. Per object that is one LIST and 1,000 GETs, measured
//!   side by side in the same run with the GETs one after another (`…/per-object/sequential`,
//!   `with_read_concurrency(1)`: the old path), 16 at a time (`…/concurrent-16`, the default)
//!   and 64 at a time (`…/concurrent-64`); single blob, one GET of about 1 MB.
//! - `refresh-unchanged`: `DataProtection::refresh()` on a running node when nothing changed:
//!   one LIST (per object) or one conditional GET answered `304 Not Modified` (single blob),
//!   then the key manager's check that every element is unchanged.
//!
//! - `list-only`: for the cloud per-object rings, one bare `list_with_delimiter` of the
//!   prefix through `object_store`: the floor of `refresh-unchanged`.
//!
//! The local per-object store is the `file://` URL's store (the directory store); the local
//! single blob is read without a lock, like the others.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use data_protection::repository::{BlobRepository, XmlRepository};
use data_protection::xml::XmlElement;
use data_protection::{DataProtection, ManualClock};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use time::macros::datetime;

const KEYS: usize = 1_000;
const HOW: &str = "start the servers first: eval \"$(bash scripts/backends.sh start)\"";

/// A key in the directory file form; `{ID}` is replaced.
const KEY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<key id="{ID}" version="1">
  <creationDate>2024-01-01T00:00:00Z</creationDate>
  <activationDate>2024-01-01T00:00:00Z</activationDate>
  <expirationDate>2024-03-31T00:00:00Z</expirationDate>
  <descriptor deserializerType="Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer, Microsoft.AspNetCore.DataProtection, Version=8.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60">
    <descriptor>
      <encryption algorithm="AES_256_CBC" />
      <validation algorithm="HMACSHA256" />
      <masterKey p4:requiresEncryption="true" xmlns:p4="http://schemas.asp.net/2015/03/dataProtection">
        <!-- Warning: the key below is in an unencrypted form. -->
        <value>AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==</value>
      </masterKey>
    </descriptor>
  </descriptor>
</key>"#;

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{name} is not set: this benchmark needs the test servers; {HOW}"),
    }
}

#[derive(Clone, Copy)]
enum Backend {
    S3,
    Azure,
    Local,
}

struct Ring {
    url: String,
    options: Vec<(&'static str, String)>,
    /// The prefix of a cloud per-object ring.
    prefix: Option<Path>,
}

impl Ring {
    fn repo(&self) -> BlobRepository {
        BlobRepository::from_url_with_options(&self.url, self.options.clone()).expect("store URL")
    }
}

/// The per-object read concurrencies compared in one run: the old sequential path, the
/// default, and a wider bound.
const READ_CONCURRENCY: [(usize, &str); 3] = [
    (1, "sequential"),
    (16, "concurrent-16"),
    (64, "concurrent-64"),
];

fn options(backend: Backend) -> Vec<(&'static str, String)> {
    match backend {
        Backend::S3 => vec![
            ("aws_endpoint", env("S3_ENDPOINT")),
            ("aws_allow_http", "true".into()),
            ("aws_region", env("S3_REGION")),
            ("aws_access_key_id", "testing".into()),
            ("aws_secret_access_key", "testing".into()),
        ],
        Backend::Azure => vec![
            ("azure_storage_account_name", env("AZURITE_ACCOUNT")),
            ("azure_storage_account_key", env("AZURITE_ACCESS_KEY")),
            ("azure_storage_endpoint", env("AZURITE_BLOB_ENDPOINT")),
            ("azure_allow_http", "true".into()),
        ],
        Backend::Local => Vec::new(),
    }
}

fn key_xml() -> Vec<(String, String)> {
    (0..KEYS)
        .map(|_| {
            let id = uuid::Uuid::new_v4().to_string();
            (format!("key-{id}"), KEY.replace("{ID}", &id))
        })
        .collect()
}

/// Writes a ring of [`KEYS`] keys and returns where it is.
async fn ring(backend: Backend, single: bool, dir: &std::path::Path) -> Ring {
    let name = format!("bench-{}", uuid::Uuid::new_v4());
    let layout = if single { "single-blob" } else { "per-object" };
    let url = match backend {
        Backend::S3 => format!("s3://{}/{name}?layout={layout}", env("S3_BUCKET")),
        Backend::Azure => format!("az://{}/{name}?layout={layout}", env("AZURITE_CONTAINER")),
        Backend::Local => format!("file://{}?layout={layout}", dir.join(&name).display()),
    };
    let ring = Ring {
        url,
        options: options(backend),
        prefix: (!single && !matches!(backend, Backend::Local)).then(|| Path::from(name.clone())),
    };
    let keys = key_xml();
    if single {
        let mut doc = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><repository>");
        for (_, xml) in &keys {
            doc.push_str(&XmlElement::parse(xml).unwrap().to_compact_string());
        }
        doc.push_str("</repository>");
        match backend {
            Backend::Local => {
                let file = dir.join(&name).join("keys.xml");
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, doc).unwrap();
            }
            _ => {
                let store = raw_store(backend);
                let path = Path::from(format!("{name}/keys.xml"));
                store.put(&path, doc.into_bytes().into()).await.unwrap();
            }
        }
    } else {
        let repo = Arc::new(ring.repo());
        for chunk in keys.chunks(50) {
            let writes: Vec<_> = chunk
                .iter()
                .cloned()
                .map(|(name, xml)| {
                    let repo = repo.clone();
                    tokio::spawn(async move {
                        let element = XmlElement::parse(&xml).unwrap();
                        repo.store_element(&element, &name).await.unwrap();
                    })
                })
                .collect();
            for w in writes {
                w.await.unwrap();
            }
        }
    }
    ring
}

fn raw_store(backend: Backend) -> Arc<dyn ObjectStore> {
    match backend {
        Backend::S3 => Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(env("S3_ENDPOINT"))
                .with_allow_http(true)
                .with_region(env("S3_REGION"))
                .with_bucket_name(env("S3_BUCKET"))
                .with_access_key_id("testing")
                .with_secret_access_key("testing")
                .build()
                .unwrap(),
        ),
        Backend::Azure => Arc::new(
            MicrosoftAzureBuilder::new()
                .with_account(env("AZURITE_ACCOUNT"))
                .with_access_key(env("AZURITE_ACCESS_KEY"))
                .with_endpoint(env("AZURITE_BLOB_ENDPOINT"))
                .with_allow_http(true)
                .with_container_name(env("AZURITE_CONTAINER"))
                .build()
                .unwrap(),
        ),
        Backend::Local => unreachable!("local rings are written as files"),
    }
}

async fn start_node(ring: &Ring, read_concurrency: Option<usize>) -> DataProtection {
    let repo = match read_concurrency {
        Some(n) => ring.repo().with_read_concurrency(n),
        None => ring.repo(),
    };
    DataProtection::builder()
        .application_name("bench")
        .persist_keys_to(repo)
        .clock(Arc::new(ManualClock::new(datetime!(2024-02-01 0:00 UTC))))
        .disable_automatic_key_generation()
        .background_refresh(false)
        .build()
        .await
        .expect("node start")
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (backend, backend_name) in [
        (Backend::S3, "s3"),
        (Backend::Azure, "azure"),
        (Backend::Local, "local"),
    ] {
        for (single, layout_name) in [(false, "per-object"), (true, "single-blob")] {
            let started = Instant::now();
            let ring = rt.block_on(ring(backend, single, dir.path()));
            println!(
                "{backend_name}/{layout_name}: wrote {KEYS} keys in {:?}",
                started.elapsed()
            );
            let label = format!("{backend_name}/{layout_name}");

            let mut load = c.benchmark_group("load-1000");
            load.sampling_mode(SamplingMode::Flat);
            let variants: Vec<(Option<usize>, String)> = if ring.prefix.is_some() {
                READ_CONCURRENCY
                    .iter()
                    .map(|(n, name)| (Some(*n), format!("{label}/{name}")))
                    .collect()
            } else {
                vec![(None, label.clone())]
            };
            for (read_concurrency, name) in &variants {
                load.bench_function(name, |b| {
                    b.iter(|| {
                        let dp = rt.block_on(start_node(&ring, *read_concurrency));
                        assert_eq!(dp.keys().len(), KEYS);
                    })
                });
            }
            load.finish();

            let dp = rt.block_on(start_node(&ring, None));
            let mut refresh = c.benchmark_group("refresh-unchanged");
            refresh.bench_function(&label, |b| {
                b.iter(|| rt.block_on(dp.refresh()).expect("refresh"))
            });
            refresh.finish();

            if let Some(prefix) = &ring.prefix {
                let store = raw_store(backend);
                let mut list = c.benchmark_group("list-only");
                list.bench_function(&label, |b| {
                    b.iter(|| {
                        let listed = rt.block_on(store.list_with_delimiter(Some(prefix)));
                        assert_eq!(listed.expect("list").objects.len(), KEYS);
                    })
                });
                list.finish();
            }
        }
    }
    c.final_summary();
}
