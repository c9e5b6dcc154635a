//! Running the `dpkeys` binary.
#![allow(dead_code)] // which helpers are used depends on the store features built

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::support::vectors;

/// The finished command: exit code, stdout, stderr.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().expect("dpkeys was killed by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A `dpkeys` command with a clean environment (no DPKEYS_* from the caller).
pub fn command<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dpkeys"));
    cmd.args(args)
        .env_remove("DPKEYS_STORE")
        .env_remove("DPKEYS_APP_NAME")
        .env_remove("DPKEYS_TIMEOUT")
        .env_remove("DPKEYS_CERTIFICATE")
        .env_remove("DPKEYS_CERTIFICATE_PASSWORD")
        .env_remove("DPKEYS_CERTIFICATE_PASSWORD_ENV")
        .env_remove("DPKEYS_KEK_FILE")
        .env_remove("DPKEYS_ALLOW_UNENCRYPTED_KEYS")
        .stdin(Stdio::null());
    EXTRA_ENV.with(|e| {
        for (k, v) in e.borrow().iter() {
            cmd.env(k, v);
        }
    });
    cmd
}

/// Runs `dpkeys args…`.
pub fn dpkeys<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    finish(command(args).output().expect("run dpkeys"))
}

/// Runs `dpkeys args…` with `input` on stdin.
pub fn dpkeys_stdin<S: AsRef<std::ffi::OsStr>>(args: &[S], input: &[u8]) -> Run {
    use std::io::Write;
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dpkeys");
    child.stdin.take().unwrap().write_all(input).unwrap();
    finish(child.wait_with_output().unwrap())
}

/// A field of a section of `derived/protect_vectors.txt`.
pub fn derived_vector(section: &str, field: &str) -> String {
    let fields = vectors::section(&vectors::derived("protect_vectors.txt"), section);
    vectors::field(&fields, field).to_owned()
}

/// The derived vectors' AES-256-CBC key file (the key of every derived token).
pub fn derived_key_file() -> PathBuf {
    vectors::derived(vectors::DERIVED_CBC_KEY_FILE)
}

/// The `[string_protect_cbc]` token of the derived vectors and its key file.
pub fn cbc_vector() -> (String, PathBuf) {
    (
        derived_vector("string_protect_cbc", "protected_base64url"),
        derived_key_file(),
    )
}

/// The ids of the keys `list --json` reports.
pub fn key_ids(store: &str) -> Vec<String> {
    dpkeys(&["--store", store, "--json", "list"])
        .expect(0)
        .json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Starts `n` `dpkeys ensure` processes at once against `store` and checks they all succeed.
pub fn ensure_race(store: &str, n: usize) -> Vec<Value> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            command(&["--store", store, "--json", "ensure"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run dpkeys")
        })
        .collect();
    children
        .into_iter()
        .map(|c| finish(c.wait_with_output().unwrap()).expect(0).json())
        .collect()
}

/// Runs `dpkeys args…` with extra environment variables (cloud endpoints, credentials).
pub fn dpkeys_env<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(&str, String)]) -> Run {
    let mut cmd = command(args);
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    finish(cmd.output().expect("run dpkeys"))
}

/// A variable `scripts/backends.sh` exports; panics with how to get it when unset.
pub fn backend_env(name: &str) -> String {
    crate::backends::env(name)
}

pub use crate::backends::unique;

thread_local! {
    static EXTRA_ENV: std::cell::RefCell<Vec<(&'static str, String)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with `env` added to every `dpkeys` this thread starts (cloud settings for shared
/// scenarios). The test process's own environment is never changed.
pub fn with_env(env: Vec<(&'static str, String)>, f: impl FnOnce()) {
    EXTRA_ENV.with(|e| *e.borrow_mut() = env);
    f();
    EXTRA_ENV.with(|e| e.borrow_mut().clear());
}
