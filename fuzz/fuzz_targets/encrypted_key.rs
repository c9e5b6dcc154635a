//! Arbitrary text through the key reader with the KEK and certificate decryptors configured
//! (the keys they hold are the test ones the seeds are encrypted with): never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use data_protection::xml_encryption::{
    Certificate, CertificateXmlDecryptor, Kek, KekXmlDecryptor, XmlDecryptor,
};
use libfuzzer_sys::fuzz_target;

fn decryptors() -> &'static [Arc<dyn XmlDecryptor>] {
    static D: OnceLock<Vec<Arc<dyn XmlDecryptor>>> = OnceLock::new();
    D.get_or_init(|| {
        let kek_bytes: Vec<u8> = (0x80u8..0xa0).collect();
        let kek = Kek::new("golden-kek-1", &kek_bytes).expect("test KEK");
        let cert = Certificate::from_pem(
            include_bytes!("../../tests/fixtures/certs/dp1.crt"),
            include_bytes!("../../tests/fixtures/certs/dp1.key"),
        )
        .expect("test certificate");
        vec![
            Arc::new(KekXmlDecryptor::new([kek])),
            Arc::new(CertificateXmlDecryptor::new([cert])),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        data_protection::__fuzz::encrypted_key_element(text, decryptors());
    }
});
