//! Arbitrary bytes as a stored session blob (DistributedSession revision 2), as a request's
//! `Cookie` header and as the session cookie's value: never a panic, every blob that decodes
//! re-encodes to itself, and a cookie the layer writes for a key reads back as that key.
#![no_main]

use std::sync::OnceLock;

use data_protection::session::SessionData;
use data_protection::{DataProtection, Protector};
use libfuzzer_sys::fuzz_target;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

fn protector() -> &'static Protector {
    static P: OnceLock<Protector> = OnceLock::new();
    P.get_or_init(|| {
        let dp = runtime().block_on(
            DataProtection::builder()
                .application_name("Fuzz")
                .background_refresh(false)
                .build(),
        );
        dp.unwrap().protector(["SessionMiddleware"])
    })
}

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
    // The first byte splits the rest into a session key and a cookie value.
    if let Some((split, rest)) = data.split_first() {
        let at = usize::from(*split).min(rest.len());
        let key = String::from_utf8_lossy(&rest[..at]);
        let value = String::from_utf8_lossy(&rest[at..]);
        runtime().block_on(data_protection::__fuzz::session_cookie(
            protector(),
            &key,
            &value,
        ));
    }
});
