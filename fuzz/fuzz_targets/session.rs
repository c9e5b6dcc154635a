//! Arbitrary bytes as a stored session blob (DistributedSession revision 2) and as a request's
//! `Cookie` header: never a panic, and every blob that decodes re-encodes to itself.
#![no_main]

use data_protection::session::SessionData;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(session) = SessionData::decode(data) {
        let again = session.encode().expect("a decoded session encodes");
        let back = SessionData::decode(&again).expect("an encoded session decodes");
        let a: Vec<_> = session.entries().collect();
        let b: Vec<_> = back.entries().collect();
        assert_eq!(a, b, "entries survive a round trip");
        assert_eq!(session.id(), back.id());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = data_protection::__fuzz::session_cookie_header(text);
    }
});
