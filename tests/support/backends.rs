//! Settings of the real test servers that `scripts/backends.sh` starts on loopback.
//!
//! A test that needs a server reads its settings here. When they are missing it fails with the
//! command that provides them; it never skips.
#![allow(dead_code)] // each backend's tests use a subset, depending on the features built

use std::sync::atomic::{AtomicU32, Ordering};

/// How to get the servers, for failure messages.
pub const HOW: &str = "run the suite with `bash scripts/test.sh` (installs and starts Redis, \
Azurite, moto, fake-gcs-server and PostgreSQL on loopback), or start them for this shell with \
`eval \"$(bash scripts/backends.sh start)\"` and re-run `cargo test --all-features`";

/// The value of a variable `scripts/backends.sh` exports; panics with [`HOW`] when unset.
pub fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{name} is not set: this test needs a real server; {HOW}"),
    }
}

/// A name no other test (or earlier run) uses: `{prefix}-{pid}-{n}-{nanos}`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
