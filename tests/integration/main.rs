//! Integration tests: one binary, one module per area.
#![allow(
    unreachable_pub,
    reason = "helpers are `pub` to be shared between the modules of this one test binary"
)]

mod backends;
#[cfg(feature = "object-store")]
mod blob_store;
mod common;
mod cookie_golden;
mod cross_node;
mod directory_fallback;
mod golden;
mod health;
mod multiprocess;
mod protect;
#[cfg(feature = "redis")]
mod redis_store;
mod rotation;
mod stores;
mod vectors;
