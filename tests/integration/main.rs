//! Integration tests: one binary, one module per area.
#![allow(
    unreachable_pub,
    reason = "helpers are `pub` to be shared between the modules of this one test binary"
)]

#[path = "../support/mod.rs"]
mod support;
use support::backends;
#[cfg(feature = "object-store")]
mod blob_store;
mod common;
mod cookie_golden;
mod cross_node;
mod directory_fallback;
mod directory_scope;
mod encrypted_keys;
mod extremes;
mod golden;
mod health;
mod hostile_store;
mod key_ids;
mod multiprocess;
#[cfg(feature = "postgres")]
mod postgres_store;
mod protect;
#[cfg(feature = "redis")]
mod redis_store;
mod rotation;
mod stores;
mod vectors;
