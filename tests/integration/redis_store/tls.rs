//! `rediss://` to a private TLS server whose certificate a private CA signed.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use data_protection::repository::{RedisRepository, XmlRepository, conformance};
use data_protection::{DataProtection, Error};

use crate::support::private_redis::PrivateRedis;

/// A CA and a leaf for 127.0.0.1 signed by it (a lone self-signed certificate is refused
/// by rustls as `CaUsedAsEndEntity`).
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is needed for the TLS test");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=dp-test-ca",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

#[tokio::test]
async fn rediss_with_a_private_ca() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let server = PrivateRedis::start_tls(certs.path());
    let ca = certs.path().join("ca.pem");

    // The URL form names the CA file.
    let url = format!("{}?key=conformance&ca={}", server.url(), ca.display());
    let repo = RedisRepository::from_url(&url).unwrap();
    assert!(repo.describe().starts_with("rediss 127.0.0.1:"), "{repo:?}");
    conformance::run(Arc::new(repo), true).await;

    // The builder takes the PEM bytes.
    let repo = RedisRepository::builder(server.url())
        .list_key("ring")
        .tls_root_certificate(std::fs::read(&ca).unwrap())
        .build()
        .unwrap();
    let dp = DataProtection::builder()
        .persist_keys_to(repo)
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let p = dp.protector(["tls"]);
    let token = p.protect(b"over TLS").unwrap();
    let reader = DataProtection::builder()
        .persist_keys_to(
            RedisRepository::from_url(&format!("{}?key=ring&ca={}", server.url(), ca.display()))
                .unwrap(),
        )
        .background_refresh(false)
        .disable_automatic_key_generation()
        .build()
        .await
        .unwrap();
    assert_eq!(
        reader.protector(["tls"]).unprotect(&token).unwrap(),
        b"over TLS"
    );

    // Without the CA the server is not trusted: an error, never a plain-text fallback.
    let untrusted = RedisRepository::builder(server.url())
        .list_key("ring")
        .build()
        .unwrap();
    let err = DataProtection::builder()
        .persist_keys_to(untrusted)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err}");
}
