//! TLS with `sslmode=require` and a CA file: the role `dp_tls` is admitted over TLS only.

use std::sync::Arc;
use std::time::Duration;

use data_protection::StoreErrorKind;
use data_protection::repository::{self, PostgresRepository, XmlRepository, conformance};

use super::{drop_schema, schema};
use crate::backends;

#[tokio::test]
async fn tls_with_the_test_ca_conforms() {
    let s = schema();
    let u = format!("{}&schema={s}", backends::env("PG_TLS_URL"));
    conformance::run(repository::open(&u).unwrap(), true).await;
    drop_schema(&s).await;
}

#[tokio::test]
async fn the_tls_role_is_refused_without_tls_and_a_wrong_ca_is_refused() {
    let port = backends::env("PG_PORT");
    let pw = backends::env("PG_PASSWORD");
    let plain = PostgresRepository::from_url(&format!(
        "postgres://dp_tls:{pw}@127.0.0.1:{port}/postgres?sslmode=disable"
    ))
    .unwrap();
    let err = plain.get_all_elements().await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Denied, "{err}");
    assert!(!format!("{err} {err:?}").contains(&pw));

    // A CA that did not sign the server's certificate: the handshake fails.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("other-ca.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=other"])
        .arg("-keyout")
        .arg(dir.path().join("k.pem"))
        .arg("-out")
        .arg(&ca)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let wrong = PostgresRepository::builder(format!(
        "postgres://dp_tls:{pw}@127.0.0.1:{port}/postgres?sslmode=require&sslrootcert={}",
        ca.display()
    ))
    .timeout(Duration::from_secs(2))
    .build()
    .unwrap();
    let err = wrong.get_all_elements().await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
    assert!(!format!("{err} {err:?}").contains(&pw));
    // And the right CA, given as bytes to the builder instead of in the URL.
    let good = PostgresRepository::builder(format!(
        "postgres://dp_tls:{pw}@127.0.0.1:{port}/postgres?sslmode=require"
    ))
    .tls_root_certificate(std::fs::read(backends::env("PG_CA_FILE")).unwrap())
    .schema(schema())
    .build()
    .unwrap();
    let arc: Arc<dyn XmlRepository> = Arc::new(good);
    assert!(arc.get_all_elements().await.unwrap().is_empty());
}
