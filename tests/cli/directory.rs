//! `dpkeys` against the directory store, and bad input.

use std::path::Path;

use crate::harness::{cbc_vector, dpkeys, key_ids};
use crate::scenarios;

fn dir_url(dir: &Path) -> String {
    dir.to_str().unwrap().to_owned()
}

#[test]
fn lifecycle_on_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    scenarios::lifecycle(&dir_url(dir.path()));
}

#[test]
fn file_url_is_the_directory_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    dpkeys(&["--store", &url, "ensure"]).expect(0);
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("xml".as_ref()))
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(key_ids(&url).len(), 1);
}

#[test]
fn eight_concurrent_ensure_processes_create_one_key() {
    let root = tempfile::tempdir().unwrap();
    scenarios::ensure_races(5, |round| {
        let dir = root.path().join(format!("round-{round}"));
        dir_url(&dir)
    });
}

#[test]
fn copy_between_directories() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    scenarios::copy_between(&dir_url(a.path()), &dir_url(b.path()));
}

#[test]
fn unprotects_an_aspnet_token_with_the_derived_key_file() {
    let (token, key_file) = cbc_vector();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&key_file, dir.path().join(key_file.file_name().unwrap())).unwrap();
    let store = dir_url(dir.path());
    let run = dpkeys(&[
        "--store",
        &store,
        "--app-name",
        "MyApp",
        "unprotect",
        "--purpose",
        "my purpose",
        &token,
    ]);
    assert_eq!(run.expect(0).stdout, "Hello, world!");
    // From the environment, as a CronJob would configure it.
    let run = crate::harness::command(&["unprotect", "--purpose", "my purpose", "--hex", &token])
        .env("DPKEYS_STORE", &store)
        .env("DPKEYS_APP_NAME", "MyApp")
        .output()
        .unwrap();
    assert!(run.status.success());
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "48656c6c6f2c20776f726c6421"
    );
}

#[test]
fn unprotect_ticket_prints_an_aspnet_sign_in_cookie_as_json() {
    let golden =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("keyring-formats/golden");
    let text = std::fs::read_to_string(golden.join("cookie-auth.txt")).unwrap();
    let cookie = text
        .split("[ticket_simple]")
        .nth(1)
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("protected_base64url="))
        })
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        golden.join("key-cbc.xml"),
        dir.path()
            .join("key-0f8fad5b-d9cb-469f-a165-70867728950e.xml"),
    )
    .unwrap();
    let store = dir_url(dir.path());
    let run = dpkeys(&[
        "--store",
        &store,
        "--app-name",
        "MyApp",
        "unprotect",
        "--ticket",
        &cookie,
    ]);
    let v = run.expect(0).json();
    assert_eq!(v["scheme"], "Cookies");
    assert_eq!(v["name"], "alice");
    assert_eq!(v["roles"], serde_json::json!(["admin", "ops"]));
    assert_eq!(v["issued"], "2024-01-01T00:00:00Z");
    assert_eq!(v["expires"], "2024-01-15T00:00:00Z");
    assert_eq!(v["expired"], true);
    assert_eq!(v["persistent"], true);
    let claims = v["identities"][0]["claims"].as_array().unwrap();
    assert!(
        claims.iter().any(|c| c["value"] == "alice@example.com"),
        "{v}"
    );
    // Another scheme's purposes do not open it.
    let run = dpkeys(&[
        "--store",
        &store,
        "--app-name",
        "MyApp",
        "unprotect",
        "--ticket",
        "--scheme",
        "Other",
        &cookie,
    ]);
    assert_ne!(run.code, 0);
}

#[test]
fn unreadable_key_file_is_listed_and_fails_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir_url(dir.path());
    dpkeys(&["--store", &store, "ensure"]).expect(0);
    // A key whose master key is DPAPI-protected (Windows only), as .NET writes it.
    std::fs::write(
        dir.path().join("key-aaaaaaaa-0000-0000-0000-000000000001.xml"),
        r#"<?xml version="1.0" encoding="utf-8"?>
<key id="aaaaaaaa-0000-0000-0000-000000000001" version="1">
  <creationDate>2026-01-01T00:00:00Z</creationDate>
  <activationDate>2026-01-01T00:00:00Z</activationDate>
  <expirationDate>2099-01-01T00:00:00Z</expirationDate>
  <descriptor deserializerType="Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer, Microsoft.AspNetCore.DataProtection, Version=8.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60">
    <descriptor>
      <encryption algorithm="AES_256_CBC" />
      <validation algorithm="HMACSHA256" />
      <encryptedSecret decryptorType="Microsoft.AspNetCore.DataProtection.XmlEncryption.DpapiXmlDecryptor, Microsoft.AspNetCore.DataProtection, Version=8.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60" xmlns="http://schemas.asp.net/2015/03/dataProtection">
        <encryptedKey xmlns=""><value>AQAAANCMnd8BFdERjHoAwE</value></encryptedKey>
      </encryptedSecret>
    </descriptor>
  </descriptor>
</key>"#,
    )
    .unwrap();
    let list = dpkeys(&["--store", &store, "--json", "list"])
        .expect(0)
        .json();
    let bad = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == "aaaaaaaa-0000-0000-0000-000000000001")
        .unwrap()
        .clone();
    assert_eq!(bad["status"], "unreadable");
    assert!(bad["problem"].as_str().unwrap().contains("Dpapi"), "{bad}");
    let check = dpkeys(&["--store", &store, "--json", "check"])
        .expect(1)
        .json();
    assert_eq!(check["ok"], false);
    let text = dpkeys(&["--store", &store, "check"]).expect(1);
    assert!(
        text.stdout
            .contains("PROBLEM  key aaaaaaaa-0000-0000-0000-000000000001"),
        "{}",
        text.stdout
    );
    // A file that is not XML at all is reported too, and never deleted or changed.
    std::fs::write(dir.path().join("key-broken.xml"), "not xml <<<").unwrap();
    let check = dpkeys(&["--store", &store, "--json", "check"])
        .expect(1)
        .json();
    assert!(
        check["problems"].to_string().contains("key-broken"),
        "{check}"
    );
    dpkeys(&["--store", &store, "prune", "--expired-for", "0s"]).expect(0);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("key-broken.xml")).unwrap(),
        "not xml <<<"
    );
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir_url(dir.path());
    for (args, says) in [
        (vec!["list"], "no key store given"),
        (
            vec!["--store", "ftp://host/keys", "list"],
            "unknown store scheme",
        ),
        (
            vec!["--store", &store, "protect", "--purpose", "p", "x"],
            "application name",
        ),
        (
            vec!["--store", &store, "frobnicate"],
            "unrecognized subcommand",
        ),
        (vec!["--store", &store, "prune"], "--expired-for"),
        (
            vec!["--store", &store, "prune", "--expired-for", "ten days"],
            "invalid duration",
        ),
        (
            vec!["--store", &store, "rotate", "--activation", "tomorrow"],
            "invalid date",
        ),
        (
            vec![
                "--store",
                &store,
                "--app-name",
                "A",
                "protect",
                "--purpose",
                "p",
                "--hex-input",
                "xyz",
            ],
            "hex",
        ),
    ] {
        let r = dpkeys(&args).expect(2);
        assert!(
            r.stderr.contains(says),
            "{args:?}: stderr should say {says:?}:\n{}",
            r.stderr
        );
    }
}

#[test]
fn protect_on_an_empty_ring_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let r = dpkeys(&[
        "--store",
        &dir_url(dir.path()),
        "--app-name",
        "A",
        "protect",
        "--purpose",
        "p",
        "x",
    ])
    .expect(1);
    assert!(r.stderr.contains("dpkeys ensure"), "{}", r.stderr);
    assert!(
        key_ids(&dir_url(dir.path())).is_empty(),
        "protect never creates keys"
    );
}

#[test]
fn an_unreadable_directory_fails_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let r = dpkeys(&["--store", file.to_str().unwrap(), "list"]).expect(1);
    assert!(r.stderr.contains("plain-file"), "{}", r.stderr);
}

#[test]
fn dates_past_the_dotnet_range_are_usage_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir_url(dir.path());
    dpkeys(&["--store", &store, "ensure"]).expect(0);
    let before = key_ids(&store);
    for (args, says) in [
        // 9999-12-31T23:00-05:00 is 10000-01-01T04:00Z.
        (
            vec![
                "revoke",
                "--all-created-before",
                "9999-12-31T23:00:00-05:00",
            ],
            "outside the range",
        ),
        // Activation in range, but the 90-day expiration is not.
        (
            vec!["rotate", "--activation", "9999-12-01T00:00:00Z"],
            "9999",
        ),
        (
            vec!["rotate", "--activation", "9999-12-31T23:00:00-05:00"],
            "outside the range",
        ),
        (
            vec![
                "rotate",
                "--activation",
                "9950-01-01T00:00:00Z",
                "--lifetime",
                "36500d",
            ],
            "9999",
        ),
        (
            vec!["rotate", "--activate-now", "--lifetime", "3650000d"],
            "too long",
        ),
        (
            vec!["prune", "--expired-for", "99999999999999d"],
            "too long",
        ),
    ] {
        let mut full = vec!["--store", &store];
        full.extend(&args);
        let r = dpkeys(&full).expect(2);
        assert!(
            r.stderr.contains(says) && !r.stderr.contains("panicked"),
            "{args:?}: stderr should say {says:?}:\n{}",
            r.stderr
        );
    }
    assert_eq!(key_ids(&store), before, "nothing was written");
    // The longest prune age: nothing is old enough, nothing is deleted.
    dpkeys(&["--store", &store, "prune", "--expired-for", "36500d"]).expect(0);
    assert_eq!(key_ids(&store), before);
}

#[test]
fn a_ring_whose_default_key_is_unreadable_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir_url(dir.path());
    let id = "aaaaaaaa-0000-0000-0000-000000000002";
    // Only a key ASP.NET protected with DPAPI, active now: every node's default.
    let now = time::OffsetDateTime::now_utc();
    let date = |d: time::OffsetDateTime| {
        d.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    std::fs::write(
        dir.path().join(format!("key-{id}.xml")),
        format!(
            r#"<key id="{id}" version="1"><creationDate>{c}</creationDate><activationDate>{c}</activationDate><expirationDate>{e}</expirationDate><descriptor deserializerType="Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer, Microsoft.AspNetCore.DataProtection"><descriptor><encryption algorithm="AES_256_CBC" /><validation algorithm="HMACSHA256" /><encryptedSecret decryptorType="Microsoft.AspNetCore.DataProtection.XmlEncryption.DpapiXmlDecryptor, Microsoft.AspNetCore.DataProtection" xmlns="http://schemas.asp.net/2015/03/dataProtection"><encryptedKey xmlns=""><value>AQAAANCMnd8BFdERjHoAwE</value></encryptedKey></encryptedSecret></descriptor></descriptor></key>"#,
            c = date(now - time::Duration::days(10)),
            e = date(now + time::Duration::days(80)),
        ),
    )
    .unwrap();
    let check = dpkeys(&["--store", &store, "check"]).expect(1);
    assert!(check.stdout.contains(id), "{}", check.stdout);
    let ensure = dpkeys(&["--store", &store, "ensure"]).expect(1);
    assert!(
        ensure.stderr.contains(id) && ensure.stderr.contains("Dpapi"),
        "ensure names the key and why: {}",
        ensure.stderr
    );
    let json = dpkeys(&["--store", &store, "--json", "ensure"])
        .expect(1)
        .json();
    assert_eq!(json["action"], "blocked_by_unreadable");
    assert_eq!(json["key"], id);
    let protect = crate::harness::dpkeys_stdin(
        &[
            "--store",
            &store,
            "--app-name",
            "A",
            "protect",
            "--purpose",
            "p",
        ],
        b"secret",
    )
    .expect(1);
    assert!(protect.stderr.contains(id), "{}", protect.stderr);
    assert_eq!(key_ids(&store), [id], "no key was created");
}

#[test]
fn protect_reads_stdin_or_a_file_and_warns_about_an_argument() {
    let help = dpkeys(&["protect", "--help"]).expect(0);
    assert!(
        help.stdout.contains("AVOID") && help.stdout.contains("visible to every process"),
        "{}",
        help.stdout
    );
    let dir = tempfile::tempdir().unwrap();
    let store = dir_url(dir.path());
    dpkeys(&["--store", &store, "ensure"]).expect(0);
    let base = ["--store", &store, "--app-name", "A"];
    let unprotect = |token: &str| {
        let mut args = base.to_vec();
        args.extend(["unprotect", "--purpose", "p", token.trim()]);
        dpkeys(&args).expect(0).stdout
    };
    let mut args = base.to_vec();
    args.extend(["protect", "--purpose", "p"]);
    let piped = crate::harness::dpkeys_stdin(&args, b"from stdin").expect(0);
    assert!(piped.stderr.is_empty(), "no warning: {}", piped.stderr);
    assert_eq!(unprotect(&piped.stdout).trim(), "from stdin");

    let file = dir.path().join("plain.txt");
    std::fs::write(&file, "from a file").unwrap();
    let mut args = base.to_vec();
    args.extend([
        "protect",
        "--purpose",
        "p",
        "--input-file",
        file.to_str().unwrap(),
    ]);
    let from_file = dpkeys(&args).expect(0);
    assert!(from_file.stderr.is_empty(), "{}", from_file.stderr);
    assert_eq!(unprotect(&from_file.stdout).trim(), "from a file");

    let mut args = base.to_vec();
    args.extend(["protect", "--purpose", "p", "in argv"]);
    let argv = dpkeys(&args).expect(0);
    assert!(argv.stderr.contains("warning"), "{}", argv.stderr);
    assert_eq!(unprotect(&argv.stdout).trim(), "in argv");
}
