//! Name derivation in the stores that keep no names: arbitrary bytes as a Redis list element,
//! and the same bytes as the one element of a single-blob document. A derived name is always
//! a valid friendly name, and the element can be stored and removed under it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    data_protection::__fuzz::nameless_element(data);
    let mut doc = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><repository>".to_vec();
    doc.extend_from_slice(data);
    doc.extend_from_slice(b"</repository>");
    data_protection::__fuzz::single_blob_document(&doc);
});
