//! PLACEHOLDER — being written (blob store). See the helper prompt.
