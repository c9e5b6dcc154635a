//! Integration tests: one binary, one module per area.

mod backends;
#[cfg(feature = "object-store")]
mod blob_store;
mod common;
mod cross_node;
mod golden;
mod multiprocess;
mod protect;
#[cfg(feature = "redis")]
mod redis_store;
mod rotation;
mod stores;
mod vectors;
