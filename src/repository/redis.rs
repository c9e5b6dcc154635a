//! PLACEHOLDER — being written (Redis store). See the helper prompt.
