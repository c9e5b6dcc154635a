//! PLACEHOLDER (session tests, being written).
