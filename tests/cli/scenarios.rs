//! Scenarios every store must pass through the command line; each takes a fresh, empty store.

use crate::harness::{dpkeys, dpkeys_stdin, ensure_race, key_ids};

/// ensure, list, rotate, protect/unprotect, revoke, prune and check on one store, checking
/// output shapes and exit codes.
pub fn lifecycle(store: &str) {
    let s = ["--store", store];
    let with =
        |extra: &[&str]| -> Vec<String> { s.iter().chain(extra).map(|a| a.to_string()).collect() };

    // Empty: listing works and shows nothing; check fails (nothing can protect).
    assert!(key_ids(store).is_empty());
    let check = dpkeys(&with(&["--json", "check"])).expect(1).json();
    assert_eq!(check["ok"], false);
    assert_eq!(check["health"]["status"], "unhealthy", "{check}");
    assert_eq!(check["health"]["default_key"], serde_json::Value::Null);

    // ensure creates the first key, then is idempotent.
    let first = dpkeys(&with(&["--json", "ensure"])).expect(0).json();
    assert_eq!(first["action"], "created", "{first}");
    let key = first["key"].as_str().unwrap().to_owned();
    assert_eq!(first["default_key"], key.as_str());
    let again = dpkeys(&with(&["--json", "ensure"])).expect(0).json();
    assert_eq!(again["action"], "none", "{again}");
    assert_eq!(key_ids(store), vec![key.clone()]);

    // list: the JSON shape.
    let list = dpkeys(&with(&["--json", "list"])).expect(0).json();
    let k = &list["keys"][0];
    for field in [
        "id",
        "created",
        "activation",
        "expiration",
        "status",
        "algorithm",
    ] {
        assert!(k[field].is_string(), "list.keys[0].{field} in {list}");
    }
    assert_eq!(k["status"], "active");
    assert_eq!(k["default"], true);
    assert_eq!(k["revoked"], false);
    assert_eq!(list["default_key"], key.as_str());
    let table = dpkeys(&with(&["list"])).expect(0).stdout;
    assert!(table.contains(&key) && table.contains("active"), "{table}");

    // protect / unprotect, text and stdin, hex both ways, time-limited.
    let app = ["--app-name", "CliApp"];
    let token = dpkeys(&with(
        &[
            &app[..],
            &["protect", "--purpose", "a", "--purpose", "b", "hello"],
        ]
        .concat(),
    ))
    .expect(0)
    .stdout;
    let token = token.trim();
    assert!(token.starts_with("CfDJ8"), "ASP.NET payload magic: {token}");
    let back = dpkeys(&with(
        &[
            &app[..],
            &["unprotect", "--purpose", "a", "--purpose", "b", token],
        ]
        .concat(),
    ));
    assert_eq!(back.expect(0).stdout, "hello");
    let piped = dpkeys_stdin(
        &with(
            &[
                &app[..],
                &[
                    "unprotect",
                    "--purpose",
                    "a",
                    "--purpose",
                    "b",
                    "--hex",
                    "-",
                ],
            ]
            .concat(),
        ),
        token.as_bytes(),
    );
    assert_eq!(piped.expect(0).stdout.trim(), "68656c6c6f");
    let hex_in = dpkeys_stdin(
        &with(&[&app[..], &["protect", "--purpose", "x", "--hex-input"]].concat()),
        b"00ff10\n",
    )
    .expect(0);
    let raw = dpkeys(&with(
        &[
            &app[..],
            &["unprotect", "--purpose", "x", "--hex", hex_in.stdout.trim()],
        ]
        .concat(),
    ));
    assert_eq!(raw.expect(0).stdout.trim(), "00ff10");
    // Wrong purpose order, other app name, garbage: exit 1 and a message without secrets.
    for args in [
        vec![
            "--app-name",
            "CliApp",
            "unprotect",
            "--purpose",
            "b",
            "--purpose",
            "a",
            token,
        ],
        vec![
            "--app-name",
            "OtherApp",
            "unprotect",
            "--purpose",
            "a",
            "--purpose",
            "b",
            token,
        ],
        vec![
            "--app-name",
            "CliApp",
            "unprotect",
            "--purpose",
            "a",
            "garbage!!",
        ],
        vec![
            "--app-name",
            "CliApp",
            "unprotect",
            "--purpose",
            "a",
            "CfDJ8AAAA",
        ],
    ] {
        let r = dpkeys(&with(&args)).expect(1);
        assert!(
            r.stderr.contains("could not be unprotected") || r.stderr.contains("not base64url"),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty());
    }
    let limited = dpkeys(&with(
        &[
            &app[..],
            &["protect", "--purpose", "t", "--time-limit", "1h", "soon"],
        ]
        .concat(),
    ))
    .expect(0);
    let r = dpkeys(&with(
        &[
            &app[..],
            &[
                "unprotect",
                "--purpose",
                "t",
                "--time-limited",
                limited.stdout.trim(),
            ],
        ]
        .concat(),
    ))
    .expect(0);
    assert_eq!(r.stdout, "soon");
    assert!(r.stderr.contains("expires 20"), "{}", r.stderr);
    // A time-limited token is not a plain one.
    dpkeys(&with(
        &[
            &app[..],
            &["unprotect", "--purpose", "t", limited.stdout.trim()],
        ]
        .concat(),
    ))
    .expect(1);

    // rotate: pending by default (propagation window), active at once with --activate-now.
    let pending = dpkeys(&with(&["--json", "rotate"])).expect(0).json();
    let pending_id = pending["created"].as_str().unwrap().to_owned();
    let now = dpkeys(&with(&[
        "--json",
        "rotate",
        "--activate-now",
        "--lifetime",
        "30d",
    ]))
    .expect(0)
    .json();
    let now_id = now["created"].as_str().unwrap().to_owned();
    let list = dpkeys(&with(&["--json", "list"])).expect(0).json();
    assert_eq!(status_in(&list, &pending_id), "pending");
    assert_eq!(status_in(&list, &now_id), "active");
    assert_eq!(
        list["default_key"],
        key.as_str(),
        "a key younger than the propagation window does not displace the default (ASP.NET 9 rule)"
    );

    // An old key that expired long ago, then revoke and prune.
    let old = dpkeys(&with(&[
        "--json",
        "rotate",
        "--activation",
        "2020-01-01T00:00:00Z",
        "--lifetime",
        "30d",
    ]))
    .expect(0)
    .json();
    let old_id = old["created"].as_str().unwrap().to_owned();
    assert_eq!(status_of(store, &old_id), "expired");
    let revoked = dpkeys(&with(&["--json", "revoke", &old_id, "--reason", "test"]))
        .expect(0)
        .json();
    assert!(revoked["revoked"].as_str().unwrap().contains(&old_id));
    assert_eq!(status_of(store, &old_id), "revoked");
    dpkeys(&with(&["revoke", "00000000-0000-0000-0000-00000000abcd"])).expect(1);
    dpkeys(&with(&["revoke", "not-a-key-id"])).expect(2);

    let dry = dpkeys(&with(&[
        "--json",
        "prune",
        "--expired-for",
        "365d",
        "--dry-run",
    ]))
    .expect(0)
    .json();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["keys"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(dry["revocations"].as_array().unwrap().len(), 1, "{dry}");
    assert!(
        key_ids(store).contains(&old_id),
        "a dry run deletes nothing"
    );
    let done = dpkeys(&with(&["--json", "prune", "--expired-for", "365d"]))
        .expect(0)
        .json();
    assert_eq!(done["keys"][0]["name"], format!("key-{old_id}"));
    assert_eq!(
        done["revocations"][0]["name"],
        format!("revocation-{old_id}")
    );
    let ids = key_ids(store);
    assert!(!ids.contains(&old_id));
    assert_eq!(
        ids.len(),
        3,
        "the default, active and pending keys stay: {ids:?}"
    );
    let nothing = dpkeys(&with(&["--json", "prune", "--expired-for", "1d"]))
        .expect(0)
        .json();
    assert_eq!(nothing["keys"].as_array().unwrap().len(), 0, "{nothing}");

    // check passes on a healthy ring; payloads made before still unprotect.
    let check = dpkeys(&with(&["--json", "check"])).expect(0).json();
    assert_eq!(check["ok"], true, "{check}");
    let health = &check["health"];
    assert_eq!(health["status"], "healthy", "{check}");
    assert!(health["default_key"].is_string());
    assert!(health["loaded_at"].is_string());
    assert_eq!(health["last_refresh_error"], serde_json::Value::Null);
    assert_eq!(health["unreadable_keys"].as_array().unwrap().len(), 0);
    assert_eq!(check["keys"].as_array().unwrap().len(), 3);
    let back = dpkeys(&with(
        &[
            &app[..],
            &["unprotect", "--purpose", "a", "--purpose", "b", token],
        ]
        .concat(),
    ));
    assert_eq!(back.expect(0).stdout, "hello");

    // Mass revocation up to now revokes everything; a replacement is created at once.
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mass = dpkeys(&with(&["--json", "revoke", "--all-created-before", &now]))
        .expect(0)
        .json();
    let replacement = mass["replacement"]
        .as_str()
        .expect("a replacement key")
        .to_owned();
    assert_eq!(mass["default_key"], replacement.as_str(), "{mass}");
    dpkeys(&with(
        &[
            &app[..],
            &["unprotect", "--purpose", "a", "--purpose", "b", token],
        ]
        .concat(),
    ))
    .expect(1);
    let fresh = dpkeys(&with(
        &[&app[..], &["protect", "--purpose", "a", "after"]].concat(),
    ))
    .expect(0);
    assert!(!fresh.stdout.trim().is_empty());

    // A revocation dated in the future would revoke any new key: ensure creates none.
    let future = dpkeys(&with(&[
        "--json",
        "revoke",
        "--all-created-before",
        "2999-01-01T00:00:00Z",
    ]))
    .expect(0)
    .json();
    assert!(future["replacement"].is_null(), "{future}");
    let count = key_ids(store).len();
    let blocked = dpkeys(&with(&["--json", "ensure"])).expect(0).json();
    assert_eq!(blocked["action"], "blocked", "{blocked}");
    assert_eq!(key_ids(store).len(), count, "no key created in vain");
}

fn status_of(store: &str, id: &str) -> String {
    status_in(
        &dpkeys(&["--store", store, "--json", "list"])
            .expect(0)
            .json(),
        id,
    )
}

/// The status of key `id` in the output of `list --json`.
fn status_in(list: &serde_json::Value, id: &str) -> String {
    let key = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id);
    key.unwrap_or_else(|| panic!("key {id} listed: {list}"))["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `rounds` times: 8 `dpkeys ensure` processes started at once on an empty store (a fresh
/// one from `fresh`) create exactly one key, and all report it.
pub fn ensure_races(rounds: usize, fresh: impl Fn(usize) -> String) {
    let mut adopted = 0;
    for round in 0..rounds {
        let store = fresh(round);
        let outcomes = ensure_race(&store, 8);
        let ids = key_ids(&store);
        assert_eq!(ids.len(), 1, "round {round}: exactly one key, got {ids:?}");
        let created = outcomes.iter().filter(|o| o["action"] == "created").count();
        adopted += outcomes.iter().filter(|o| o["action"] == "adopted").count();
        assert!(
            created <= 1,
            "round {round}: {created} processes say they created a key"
        );
        for o in &outcomes {
            assert_eq!(o["default_key"], ids[0].as_str(), "round {round}: {o}");
        }
    }
    // "adopted" means a process decided a key was due, lost the create, and took the winner's:
    // the processes really did race.
    eprintln!(
        "{rounds} rounds of 8 concurrent `dpkeys ensure`: one key each time; {adopted} processes lost a create race and adopted the winner's key"
    );
}

/// `copy --to` moves every element; copying again keeps the target's.
pub fn copy_between(from: &str, to: &str) {
    dpkeys(&["--store", from, "ensure"]).expect(0);
    dpkeys(&["--store", from, "rotate"]).expect(0);
    let first = dpkeys(&["--store", from, "--json", "list"])
        .expect(0)
        .json()["keys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    dpkeys(&["--store", from, "revoke", &first]).expect(0);
    let src = key_ids(from);
    let copied = dpkeys(&["--store", from, "--json", "copy", "--to", to])
        .expect(0)
        .json();
    assert_eq!(
        copied["copied"].as_array().unwrap().len(),
        src.len() + 1,
        "keys + revocation: {copied}"
    );
    let mut dst = key_ids(to);
    let mut want = src.clone();
    dst.sort();
    want.sort();
    assert_eq!(dst, want);
    assert_eq!(status_of(to, &first), "revoked");
    let again = dpkeys(&["--store", from, "--json", "copy", "--to", to])
        .expect(0)
        .json();
    assert_eq!(again["copied"].as_array().unwrap().len(), 0, "{again}");
}
