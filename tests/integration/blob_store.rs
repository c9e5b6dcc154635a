//! PLACEHOLDER (blob store tests, being written).
