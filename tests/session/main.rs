//! Session layer tests: real HTTP (axum + reqwest), stores, interop vectors, concurrency,
//! processes sharing Redis, faults. Redis tests need the servers of `scripts/backends.sh`.
#![cfg(all(feature = "session", feature = "axum"))]
#![allow(
    unreachable_pub,
    reason = "helpers are `pub` to be shared between the modules of this one test binary"
)]

mod app;
mod concurrency;
mod config;
#[cfg(feature = "redis")]
mod faults;
mod fixation;
mod http;
mod memory_store;
#[cfg(feature = "postgres")]
#[path = "../integration/postgres_store/server.rs"]
mod pg_server;
#[cfg(feature = "postgres")]
mod postgres_store;
#[cfg(feature = "redis")]
mod processes;
#[cfg(feature = "redis")]
mod redis_common;
#[cfg(feature = "redis")]
mod redis_store;
mod single_user;
#[path = "../support/mod.rs"]
mod support;
mod vectors;

use support::{backends, log_capture as logs};
