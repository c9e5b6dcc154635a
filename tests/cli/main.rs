//! `dpkeys` run as a user runs it: the built binary, real stores, exit codes and output.
#![cfg(feature = "cli")]
#![allow(
    unreachable_pub,
    reason = "helpers are `pub` to be shared between the modules of this one test binary"
)]

#[cfg(feature = "object-store")]
mod blob;
mod directory;
mod encrypted;
#[cfg(feature = "object-store")]
mod gcs;
mod harness;
mod inspect;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
mod scenarios;
#[path = "../support/mod.rs"]
mod support;

use support::backends;
