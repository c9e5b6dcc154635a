//! PLACEHOLDER (being written).
fn main() {}
