//! Arbitrary bytes and strings through unprotect, plain and time-limited, and through token
//! inspection (`dpkeys inspect`): never a panic.
#![no_main]

use std::sync::OnceLock;

use data_protection::{DataProtection, Protector};
use libfuzzer_sys::fuzz_target;

fn protector() -> &'static Protector {
    static P: OnceLock<Protector> = OnceLock::new();
    P.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dp = rt.block_on(
            DataProtection::builder()
                .application_name("Fuzz")
                .background_refresh(false)
                .build(),
        );
        dp.unwrap().protector(["fuzz"])
    })
}

fuzz_target!(|data: &[u8]| {
    let p = protector();
    // A valid header with the real key id makes the fuzzer reach the encryptors.
    let mut framed = p.protect(b"").unwrap()[..20].to_vec();
    framed.extend_from_slice(data);
    let _ = p.unprotect(data);
    let _ = p.unprotect(&framed);
    let _ = p.time_limited().unprotect(&framed);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = p.unprotect_str(text);
        let info = data_protection::token::inspect(text);
        let _ = info.truncation();
        let _ = info.fit_for(data_protection::Algorithm::AES_256_GCM);
    }
});
