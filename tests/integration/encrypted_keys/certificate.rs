//! The certificate form (ASP.NET Core's `ProtectKeysWithCertificate`).
#![cfg(feature = "certificates")]

use data_protection::xml_encryption::{Certificate, CertificateError};
use data_protection::{DecryptionError, KeyProblem, KeyStatus};

use super::*;

pub fn cert(n: u8) -> Certificate {
    Certificate::from_pem_files(
        cert_file(&format!("dp{n}.crt")),
        cert_file(&format!("dp{n}.key")),
    )
    .unwrap()
}

/// The SHA-1 fingerprint openssl computes, as .NET shows thumbprints.
pub fn openssl_thumbprint(n: u8) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
        .arg(cert_file(&format!("dp{n}.crt")))
        .output()
        .expect("openssl");
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim().rsplit('=').next().unwrap().replace(':', "")
}

#[test]
fn certificates_load_from_pem_pkcs1_and_pkcs12() {
    let pkcs8 = cert(1);
    assert_eq!(pkcs8.thumbprint(), openssl_thumbprint(1));
    assert!(
        pkcs8.subject().contains("CN=data-protection test 1"),
        "{}",
        pkcs8.subject()
    );
    assert!(pkcs8.has_private_key());
    let pkcs1 =
        Certificate::from_pem_files(cert_file("dp1.crt"), cert_file("dp1.rsa.key")).unwrap();
    assert_eq!(pkcs1.thumbprint(), pkcs8.thumbprint());
    for pfx in ["dp1.pfx", "dp1.3des.pfx"] {
        let p12 = Certificate::from_pkcs12_file(cert_file(pfx), "test-password").unwrap();
        assert_eq!(p12.thumbprint(), pkcs8.thumbprint(), "{pfx}");
        assert!(p12.has_private_key());
        assert!(
            matches!(
                Certificate::from_pkcs12_file(cert_file(pfx), "wrong"),
                Err(CertificateError::WrongPassword)
            ),
            "{pfx}"
        );
    }
    let public =
        Certificate::from_pem_certificate(&std::fs::read(cert_file("dp1.crt")).unwrap()).unwrap();
    assert!(!public.has_private_key());
    assert!(matches!(
        Certificate::from_pem_files(cert_file("dp1.crt"), cert_file("dp2.key")),
        Err(CertificateError::KeyMismatch { .. })
    ));
    assert!(matches!(
        Certificate::from_pem_files(cert_file("ec.crt"), cert_file("ec.key")),
        Err(CertificateError::NotRsa)
    ));
    assert!(matches!(
        Certificate::from_pem_files(cert_file("dp1.crt"), cert_file("ec.key")),
        Err(CertificateError::NotRsa)
    ));
    assert!(matches!(
        Certificate::from_pem_files(cert_file("dp1.key"), cert_file("dp1.key")),
        Err(CertificateError::Pem { .. })
    ));
    assert!(matches!(
        Certificate::from_pem_files(cert_file("missing.crt"), cert_file("dp1.key")),
        Err(CertificateError::Io { .. })
    ));
    let debug = format!("{pkcs8:?}");
    assert!(
        debug.contains(pkcs8.thumbprint()) && !debug.contains("PRIVATE"),
        "{debug}"
    );
}

#[tokio::test]
async fn keys_are_written_in_aspnet_form_and_read_back() {
    let repo = memory();
    let writer = node(&repo)
        .protect_keys_with_certificate(cert(1))
        .build()
        .await
        .unwrap();
    let token = writer.protector(["p"]).protect_str("hello").unwrap();
    let xml = only_key_xml(&repo).await;
    for part in [
        "<encryptedSecret decryptorType=\"Microsoft.AspNetCore.DataProtection.XmlEncryption.EncryptedXmlDecryptor, Microsoft.AspNetCore.DataProtection, Version=8.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60\" xmlns=\"http://schemas.asp.net/2015/03/dataProtection\">",
        "<EncryptedData Type=\"http://www.w3.org/2001/04/xmlenc#Element\" xmlns=\"http://www.w3.org/2001/04/xmlenc#\">",
        "<EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes256-cbc\" />",
        "<KeyInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\">",
        "<EncryptedKey xmlns=\"http://www.w3.org/2001/04/xmlenc#\">",
        "<EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-1_5\" />",
        "<X509Data>",
        "<X509Certificate>",
        "<CipherValue>",
    ] {
        assert!(xml.contains(part), "{part} missing in {xml}");
    }
    assert!(!xml.contains("masterKey"), "{xml}");
    let reader = node(&repo)
        .unprotect_keys_with_any_certificate([cert(1)])
        .build()
        .await
        .unwrap();
    assert_eq!(
        reader.protector(["p"]).unprotect_str(&token).unwrap(),
        "hello"
    );
    let info = &reader.keys()[0];
    assert_eq!(info.status, KeyStatus::Active);
    let to = info.encrypted_to.clone().unwrap();
    assert!(
        to.contains(&openssl_thumbprint(1)) && to.contains("CN=data-protection test 1"),
        "{to}"
    );
    // PKCS#12 and PKCS#1 loads of the same certificate decrypt too.
    for c in [
        Certificate::from_pkcs12_file(cert_file("dp1.pfx"), "test-password").unwrap(),
        Certificate::from_pem_files(cert_file("dp1.crt"), cert_file("dp1.rsa.key")).unwrap(),
    ] {
        let dp = node(&repo)
            .unprotect_keys_with_any_certificate([c])
            .build()
            .await
            .unwrap();
        assert_eq!(dp.protector(["p"]).unprotect_str(&token).unwrap(), "hello");
    }
}

#[tokio::test]
async fn certificate_rotation_reads_keys_of_older_certificates() {
    let repo = memory();
    let old = node(&repo)
        .protect_keys_with_certificate(cert(1))
        .build()
        .await
        .unwrap();
    let token = old.protector(["p"]).protect_str("old").unwrap();
    let new = node(&repo)
        .protect_keys_with_certificate(cert(2))
        .unprotect_keys_with_any_certificate([cert(1)])
        .build()
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let second = new
        .create_key(now, now + time::Duration::days(90))
        .await
        .unwrap();
    assert_eq!(new.protector(["p"]).unprotect_str(&token).unwrap(), "old");
    let to = new
        .keys()
        .into_iter()
        .find(|k| k.id == second)
        .unwrap()
        .encrypted_to
        .unwrap();
    assert!(to.contains(&openssl_thumbprint(2)), "{to}");
}

#[tokio::test]
async fn a_node_without_the_certificate_reports_it_and_creates_no_key() {
    let repo = memory();
    node(&repo)
        .protect_keys_with_certificate(cert(1))
        .build()
        .await
        .unwrap();
    let public_only =
        Certificate::from_pem_certificate(&std::fs::read(cert_file("dp1.crt")).unwrap()).unwrap();
    for builder in [
        node(&repo),
        node(&repo).protect_keys_with_certificate(cert(2)),
        // The right certificate without its private key cannot decrypt either.
        node(&repo).unprotect_keys_with_any_certificate([public_only.clone()]),
    ] {
        let dp = builder.build().await.unwrap();
        match key_problem(&dp) {
            KeyProblem::Undecryptable {
                error:
                    DecryptionError::UnknownCertificate {
                        thumbprint,
                        subject,
                    },
                ..
            } => {
                assert_eq!(thumbprint, openssl_thumbprint(1));
                assert!(subject.contains("CN=data-protection test 1"), "{subject}");
            }
            other => panic!("{other:?}"),
        }
        assert_blocked(&dp, &repo, 1).await;
    }
}

/// A damage: its name, the edit, the error it must give.
type Case = (
    &'static str,
    Box<dyn Fn(&str) -> String>,
    fn(&DecryptionError) -> bool,
);

/// Replaces the first `<CipherValue>` after `marker` using `edit`.
fn edit_cipher_value(xml: &str, marker: &str, edit: impl Fn(&str) -> String) -> String {
    let at = xml.find(marker).unwrap();
    let from = at + xml[at..].find("<CipherValue>").unwrap() + "<CipherValue>".len();
    let to = from + xml[from..].find("</CipherValue>").unwrap();
    format!("{}{}{}", &xml[..from], edit(&xml[from..to]), &xml[to..])
}

#[tokio::test]
async fn damaged_elements_are_typed_errors_and_leave_other_keys_alone() {
    let flip = |v: &str| {
        let mut c: Vec<char> = v.chars().collect();
        c[30] = if c[30] == 'A' { 'B' } else { 'A' };
        c.into_iter().collect::<String>()
    };
    let cases: Vec<Case> = vec![
        // The data's CipherValue (after the EncryptedKey's) tampered.
        (
            "</EncryptedKey>",
            Box::new(move |x| edit_cipher_value(x, "</EncryptedKey>", flip)),
            |e| *e == DecryptionError::Failed,
        ),
        // The session key tampered.
        (
            "<EncryptedKey",
            Box::new(move |x| edit_cipher_value(x, "<EncryptedKey", flip)),
            |e| *e == DecryptionError::Failed,
        ),
        // Truncated base64.
        (
            "</EncryptedKey>",
            Box::new(|x| edit_cipher_value(x, "</EncryptedKey>", |v| v[..v.len() - 5].to_owned())),
            |e| matches!(e, DecryptionError::Malformed(_)),
        ),
        (
            "aes256",
            Box::new(|x| x.replace("xmlenc#aes256-cbc", "xmlenc#kw-aes256")),
            |e| matches!(e, DecryptionError::UnsupportedAlgorithm(_)),
        ),
        (
            "X509Data",
            Box::new(|x| {
                let from = x.find("<X509Data>").unwrap();
                let to = x.find("</X509Data>").unwrap() + "</X509Data>".len();
                format!("{}{}", &x[..from], &x[to..])
            }),
            |e| matches!(e, DecryptionError::Malformed(_)),
        ),
    ];
    for (what, edit, expected) in cases {
        let repo = memory();
        node(&repo)
            .protect_keys_with_certificate(cert(1))
            .build()
            .await
            .unwrap();
        let xml = only_key_xml(&repo).await;
        let id = xml
            .split("<key id=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let bad = edit(&xml).replace(&id, "4a7b1c2d-0000-4000-8000-000000000002");
        assert_ne!(
            bad,
            xml.replace(&id, "4a7b1c2d-0000-4000-8000-000000000002"),
            "{what}"
        );
        let other = memory();
        let healthy = node(&other)
            .protect_keys_with_certificate(cert(1))
            .build()
            .await
            .unwrap();
        let token = healthy.protector(["p"]).protect_str("fine").unwrap();
        other
            .store_element(
                &data_protection::xml::XmlElement::parse(&bad).unwrap(),
                "key-damaged",
            )
            .await
            .unwrap();
        let dp = node(&other)
            .unprotect_keys_with_any_certificate([cert(1)])
            .build()
            .await
            .unwrap();
        let problems: Vec<_> = dp.keys().into_iter().filter_map(|k| k.problem).collect();
        assert_eq!(problems.len(), 1, "{what}: {problems:?}");
        match &problems[0] {
            KeyProblem::Undecryptable { error, .. } => {
                assert!(expected(error), "{what}: {error:?}")
            }
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(
            dp.protector(["p"]).unprotect_str(&token).unwrap(),
            "fine",
            "{what}"
        );
    }
}
