//! PLACEHOLDER (session layer, being written).
