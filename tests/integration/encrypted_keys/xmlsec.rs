//! Interoperability with an independent XML Encryption implementation: Debian's `xmlsec1`
//! (installed by `scripts/backends.sh install`, which `scripts/test.sh` runs).

use std::path::{Path, PathBuf};
use std::process::Command;

use data_protection::repository::DirectoryRepository;
use data_protection::xml::XmlElement;
use data_protection::{DecryptionError, KeyProblem};

use super::certificate::{cert, openssl_thumbprint};
use super::*;

const CERT_DECRYPTOR: &str = "Microsoft.AspNetCore.DataProtection.XmlEncryption.EncryptedXmlDecryptor, Microsoft.AspNetCore.DataProtection, Version=9.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60";

fn xmlsec1() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("xmlsec1"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "xmlsec1 is not installed: this test checks against an independent XML Encryption \
             implementation; run `bash scripts/backends.sh install` (or `apt-get install -y \
             xmlsec1`)"
        )
    })
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = Command::new(xmlsec1())
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("run xmlsec1");
    assert!(
        out.status.success(),
        "xmlsec1 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn pem(name: &str) -> String {
    cert_file(name).display().to_string()
}

/// The text from the start of `<open` to the end of `</close>`.
fn span<'a>(xml: &'a str, open: &str, close: &str) -> &'a str {
    let from = xml.find(open).unwrap_or_else(|| panic!("{open} in {xml}"));
    let to = xml
        .rfind(close)
        .unwrap_or_else(|| panic!("{close} in {xml}"))
        + close.len();
    &xml[from..to]
}

#[tokio::test]
async fn xmlsec1_decrypts_what_the_crate_writes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let repo: Arc<dyn XmlRepository> = Arc::new(DirectoryRepository::new(&keys));
    let writer = node(&repo)
        .protect_keys_with_certificate(cert(1))
        .build()
        .await
        .unwrap();
    let token = writer
        .protector(["p"])
        .protect_str("through xmlsec1")
        .unwrap();
    let id = writer.default_key().unwrap();
    let file = keys.join(format!("key-{id}.xml"));
    let out = dir.path().join("decrypted.xml");
    run(&[
        &"--decrypt",
        &"--privkey-pem",
        &format!("{},{}", pem("dp1.key"), pem("dp1.crt")),
        &"--trusted-pem",
        &pem("dp1.crt"),
        &"--output",
        &out,
        &file,
    ]);
    let decrypted = std::fs::read_to_string(&out).unwrap();
    assert!(!decrypted.contains("EncryptedData"), "{decrypted}");
    // What ASP.NET's reader then sees: the masterKey in place of the encryptedSecret.
    let secret = span(&decrypted, "<encryptedSecret", "</encryptedSecret>");
    let master = span(secret, "<masterKey", "</masterKey>");
    let plain = decrypted.replace(secret, master);
    let plain_repo = memory();
    plain_repo
        .store_element(&XmlElement::parse(&plain).unwrap(), &format!("key-{id}"))
        .await
        .unwrap();
    // No certificate: the master key xmlsec1 recovered is the real one.
    let reader = node(&plain_repo)
        .disable_automatic_key_generation()
        .build()
        .await
        .unwrap();
    assert_eq!(
        reader.protector(["p"]).unprotect_str(&token).unwrap(),
        "through xmlsec1"
    );
}

fn template(key_transport: &str) -> String {
    format!(
        r#"<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">
  <EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/>
  <KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#">
    <EncryptedKey xmlns="http://www.w3.org/2001/04/xmlenc#">
      <EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#{key_transport}"/>
      <KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate/></X509Data></KeyInfo>
      <CipherData><CipherValue/></CipherData>
    </EncryptedKey>
  </KeyInfo>
  <CipherData><CipherValue/></CipherData>
</EncryptedData>"#
    )
}

/// Encrypts `master_key_xml` with xmlsec1 to certificate 1 under `key_transport`.
fn xmlsec_encrypt(dir: &Path, master_key_xml: &str, key_transport: &str) -> String {
    let data = dir.join(format!("{key_transport}-data.xml"));
    let tmpl = dir.join(format!("{key_transport}-template.xml"));
    std::fs::write(&data, master_key_xml).unwrap();
    std::fs::write(&tmpl, template(key_transport)).unwrap();
    let out = run(&[
        &"--encrypt",
        &"--pubkey-cert-pem",
        &pem("dp1.crt"),
        &"--session-key",
        &"aes-256",
        &"--xml-data",
        &data,
        &tmpl,
    ]);
    span(&out, "<EncryptedData", "</EncryptedData>").to_owned()
}

#[tokio::test]
async fn the_crate_decrypts_what_xmlsec1_encrypts_with_rsa_1_5_and_rsa_oaep() {
    let dir = tempfile::tempdir().unwrap();
    // A plaintext key, and a payload protected with it.
    let source = memory();
    let plain_node = node(&source)
        .allow_unencrypted_keys()
        .build()
        .await
        .unwrap();
    let token = plain_node
        .protector(["p"])
        .protect_str("from xmlsec1")
        .unwrap();
    let plain = only_key_xml(&source).await;
    let master = span(&plain, "<masterKey", "</masterKey>");
    for transport in ["rsa-1_5", "rsa-oaep-mgf1p"] {
        let encrypted = xmlsec_encrypt(dir.path(), master, transport);
        assert!(!encrypted.contains("<value>"), "{encrypted}");
        let key = plain.replace(
            master,
            &format!(
                "<encryptedSecret decryptorType=\"{CERT_DECRYPTOR}\" xmlns=\"http://schemas.asp.net/2015/03/dataProtection\">{encrypted}</encryptedSecret>"
            ),
        );
        let repo = memory();
        repo.store_element(&XmlElement::parse(&key).unwrap(), "key-x")
            .await
            .unwrap();
        let reader = node(&repo)
            .unprotect_keys_with_any_certificate([cert(1)])
            .disable_automatic_key_generation()
            .build()
            .await
            .unwrap();
        assert_eq!(
            reader.protector(["p"]).unprotect_str(&token).unwrap(),
            "from xmlsec1",
            "{transport}"
        );
        let to = reader.keys()[0].encrypted_to.clone().unwrap();
        assert!(to.contains(&openssl_thumbprint(1)), "{to}");
        // Certificate 2 only: unreadable, named by certificate 1's thumbprint.
        let other = node(&repo)
            .unprotect_keys_with_any_certificate([cert(2)])
            .disable_automatic_key_generation()
            .build()
            .await
            .unwrap();
        assert!(
            matches!(
                key_problem(&other),
                KeyProblem::Undecryptable { error: DecryptionError::UnknownCertificate { thumbprint, .. }, .. }
                    if thumbprint == openssl_thumbprint(1)
            ),
            "{transport}"
        );
    }
}

#[test]
fn xmlsec1_decrypts_the_certificate_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("golden.xml");
    let golden = crate::common::golden_dir().join("key-certificate.xml");
    run(&[
        &"--decrypt",
        &"--privkey-pem",
        &format!("{},{}", pem("dp1.key"), pem("dp1.crt")),
        &"--trusted-pem",
        &pem("dp1.crt"),
        &"--output",
        &out,
        &golden,
    ]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("<value>AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==</value>"),
        "{text}"
    );
}
