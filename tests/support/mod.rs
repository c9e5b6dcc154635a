//! Helpers shared by the test binaries (`tests/integration`, `tests/session`, `tests/cli`):
//! each includes this folder once with `#[path = "../support/mod.rs"] mod support;`.
//!
//! - [`backends`]: the settings of the real servers `scripts/backends.sh` starts.
//! - [`private_redis`]: a redis-server of a test's own, to kill, pause and restart.
//! - [`log_capture`]: `tracing` subscribers that keep events for assertions.
//! - [`vectors`]: the known-answer files in `../shared/vectors` and their `key=value` format.
#![allow(dead_code)] // each test binary uses a part

pub mod backends;
pub mod log_capture;
#[cfg(feature = "redis")]
pub mod private_redis;
pub mod vectors;
