//! `dpkeys` with keys encrypted at rest: --kek-file, --certificate, the unencrypted warning.

use std::path::PathBuf;

use crate::harness::{dpkeys, dpkeys_env};

fn cert_file(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/certs")
        .join(name)
        .display()
        .to_string()
}

fn openssl_thumbprint(name: &str) -> String {
    let out = std::process::Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-fingerprint",
            "-sha1",
            "-in",
            &cert_file(name),
        ])
        .output()
        .expect("openssl");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
}

const WARNING: &str = "no key encryptor configured";

#[test]
fn kek_files_encrypt_and_decrypt_and_a_node_without_them_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("keys").display().to_string();
    let kek = dir.path().join("a.kek");
    std::fs::write(&kek, [5u8; 32]).unwrap();
    let kek = kek.display().to_string();
    let run = dpkeys(&["--store", &store, "--kek-file", &kek, "ensure"]).expect(0);
    assert!(!run.stderr.contains(WARNING), "{}", run.stderr);
    let file = std::fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension() == Some("xml".as_ref()))
        .expect("the key file");
    let xml = std::fs::read_to_string(file).unwrap();
    assert!(
        xml.contains("KekXmlDecryptor") && !xml.contains("masterKey"),
        "{xml}"
    );

    let listed = dpkeys(&["--store", &store, "--kek-file", &kek, "--json", "list"])
        .expect(0)
        .json();
    let key = &listed["keys"][0];
    let to = key["encrypted_to"].as_str().unwrap().to_owned();
    assert!(to.starts_with("kek kek-"), "{to}");
    assert_eq!(key["decryptable"], true);
    assert_eq!(key["status"], "active");
    dpkeys(&["--store", &store, "--kek-file", &kek, "check"]).expect(0);
    // The environment variable works like the flag.
    let token = dpkeys_env(
        &[
            "--store",
            &store,
            "--app-name",
            "A",
            "protect",
            "--purpose",
            "p",
            "hi",
        ],
        &[("DPKEYS_KEK_FILE", kek.clone())],
    )
    .expect(0)
    .stdout;
    let plain = dpkeys(&[
        "--store",
        &store,
        "--app-name",
        "A",
        "--kek-file",
        &kek,
        "unprotect",
        "--purpose",
        "p",
        token.trim(),
    ])
    .expect(0);
    assert_eq!(plain.stdout, "hi");

    // No KEK: listed unreadable, check fails naming the KEK, nothing created.
    let listed = dpkeys(&["--store", &store, "--json", "list"])
        .expect(0)
        .json();
    let key = &listed["keys"][0];
    assert_eq!(key["decryptable"], false);
    assert_eq!(key["status"], "unreadable");
    assert_eq!(key["encrypted_to"].as_str().unwrap(), to);
    let table = dpkeys(&["--store", &store, "list"]).expect(0);
    assert!(
        table.stdout.contains("[cannot decrypt here]"),
        "{}",
        table.stdout
    );
    let check = dpkeys(&["--store", &store, "check"]).expect(1);
    assert!(
        check.stdout.contains(to.trim_start_matches("kek ")),
        "{}",
        check.stdout
    );
    // Blocked by the undecryptable default key: exit 1, nothing created.
    let ensure = dpkeys(&["--store", &store, "--json", "ensure"])
        .expect(1)
        .json();
    assert_eq!(ensure["action"], "blocked_by_unreadable", "{ensure}");
    assert!(ensure["created"].is_null(), "{ensure}");
    let keys = std::fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("xml".as_ref()))
        .count();
    assert_eq!(keys, 1);

    let bad = dpkeys(&["--store", &store, "--kek-file", "/nonexistent/kek", "list"]).expect(2);
    assert!(bad.stderr.contains("--kek-file"), "{}", bad.stderr);
}

#[test]
fn certificates_from_pkcs12_and_pem_and_the_default_key_undecryptable() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("keys").display().to_string();
    let pfx = cert_file("dp1.pfx");
    let password = [("DPKEYS_CERTIFICATE_PASSWORD", "test-password".to_owned())];
    dpkeys_env(
        &["--store", &store, "--certificate", &pfx, "ensure"],
        &password,
    )
    .expect(0);
    let thumbprint = openssl_thumbprint("dp1.crt");
    let pem = format!("{},{}", cert_file("dp1.crt"), cert_file("dp1.key"));
    let listed = dpkeys(&["--store", &store, "--certificate", &pem, "--json", "list"])
        .expect(0)
        .json();
    let to = listed["keys"][0]["encrypted_to"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        to.contains(&thumbprint) && to.contains("CN=data-protection test 1"),
        "{to}"
    );
    assert_eq!(listed["keys"][0]["decryptable"], true);
    let check = dpkeys(&["--store", &store, "--certificate", &pem, "check"]).expect(0);
    assert!(check.stdout.contains(&thumbprint), "{}", check.stdout);

    // Another certificate only: the default key is undecryptable, check exits 1 naming the
    // certificate the key needs.
    let other = format!("{},{}", cert_file("dp2.crt"), cert_file("dp2.rsa.key"));
    let check = dpkeys(&[
        "--store",
        &store,
        "--certificate",
        &other,
        "--json",
        "check",
    ])
    .expect(1)
    .json();
    let text = check.to_string();
    assert!(
        text.contains(&thumbprint) && text.contains("default key"),
        "{text}"
    );

    let wrong = dpkeys_env(
        &["--store", &store, "--certificate", &pfx, "list"],
        &[("DPKEYS_CERTIFICATE_PASSWORD", "nope".to_owned())],
    )
    .expect(2);
    assert!(
        wrong.stderr.contains("wrong PKCS#12 password"),
        "{}",
        wrong.stderr
    );
    let custom_var = dpkeys_env(
        &[
            "--store",
            &store,
            "--certificate",
            &pfx,
            "--certificate-password-env",
            "MY_PFX_PASSWORD",
            "check",
        ],
        &[("MY_PFX_PASSWORD", "test-password".to_owned())],
    );
    custom_var.expect(0);
    let mismatch = format!("{},{}", cert_file("dp1.crt"), cert_file("dp2.key"));
    let run = dpkeys(&["--store", &store, "--certificate", &mismatch, "list"]).expect(2);
    assert!(run.stderr.contains("does not match"), "{}", run.stderr);
}

#[test]
fn writing_unencrypted_warns_once_unless_opted_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("keys").display().to_string();
    let run = dpkeys(&["--store", &store, "ensure"]).expect(0);
    assert_eq!(run.stderr.matches(WARNING).count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("--kek-file"),
        "the warning names the fix: {}",
        run.stderr
    );
    let run = dpkeys(&["--store", &store, "--allow-unencrypted-keys", "rotate"]).expect(0);
    assert!(!run.stderr.contains(WARNING), "{}", run.stderr);
    let run = dpkeys_env(
        &["--store", &store, "rotate"],
        &[("DPKEYS_ALLOW_UNENCRYPTED_KEYS", "true".to_owned())],
    )
    .expect(0);
    assert!(!run.stderr.contains(WARNING), "{}", run.stderr);
}
