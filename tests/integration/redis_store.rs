//! PLACEHOLDER (Redis store tests, being written).
