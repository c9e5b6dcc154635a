//! Arbitrary text through the key-ring XML parser and element reader: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        data_protection::__fuzz::key_ring_element(text);
    }
});
