//! Session layer tests: real HTTP (axum + reqwest), stores, interop vectors, concurrency,
//! processes sharing Redis, faults. Redis tests need the servers of `scripts/backends.sh`.
#![cfg(all(feature = "session", feature = "axum"))]

mod app;
mod backends;
mod http;
mod memory_store;
