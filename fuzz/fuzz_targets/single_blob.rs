//! Arbitrary bytes as a single-blob document (ASP.NET Core's Azure Blob layout): never a
//! panic; a document that reads is written back to the same elements, and each element goes
//! in and out of a document under its derived name.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    data_protection::__fuzz::single_blob_document(data);
});
