//! Integration tests: one binary, one module per area.

mod common;
mod cross_node;
mod golden;
mod multiprocess;
mod protect;
mod rotation;
mod stores;
mod vectors;
