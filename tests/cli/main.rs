//! `dpkeys` run as a user runs it: the built binary, real stores, exit codes and output.
#![cfg(feature = "cli")]

mod directory;
mod harness;
#[cfg(feature = "redis")]
mod redis;
mod scenarios;
