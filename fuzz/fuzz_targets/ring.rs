//! A key ring built from a set of arbitrary stored elements: keys with arbitrary dates and
//! ids (readable, DPAPI-protected, torn), single and mass revocations with arbitrary dates,
//! raw text; named (a directory) or unnamed (a Redis list, a single blob). The provider is
//! built on it at an arbitrary instant and goes through protect, unprotect, ensure, a clock
//! jump, refresh, prune and check: never a panic, and what it protects unprotects.
#![no_main]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use data_protection::repository::{StoreOutcome, StoredElement, XmlRepository};
use data_protection::xml::XmlElement;
use data_protection::{DataProtection, ManualClock, StoreError};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

/// A store holding exactly the fuzzer's elements (named or not), accepting writes.
#[derive(Debug)]
struct Planted {
    named: bool,
    elements: Mutex<Vec<StoredElement>>,
}

#[async_trait]
impl XmlRepository for Planted {
    async fn get_all_elements(&self) -> Result<Vec<StoredElement>, StoreError> {
        Ok(self.elements.lock().unwrap().clone())
    }

    async fn store_element(
        &self,
        element: &XmlElement,
        friendly_name: &str,
    ) -> Result<StoreOutcome, StoreError> {
        let mut elements = self.elements.lock().unwrap();
        if elements
            .iter()
            .any(|e| e.name.as_deref() == Some(friendly_name))
        {
            return Ok(StoreOutcome::AlreadyExists);
        }
        let name = self.named.then(|| friendly_name.to_owned());
        elements.push(StoredElement::new(name, element.to_compact_string()));
        Ok(StoreOutcome::Created)
    }

    async fn delete_elements(&self, names: &[String]) -> Result<(), StoreError> {
        let mut elements = self.elements.lock().unwrap();
        elements.retain(|e| !e.name.as_ref().is_some_and(|n| names.contains(n)));
        Ok(())
    }

    fn describe(&self) -> String {
        "fuzz".to_owned()
    }
}

/// Reads the fuzzer's bytes as choices; zeros once they run out.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.byte();
        }
        u64::from_le_bytes(b)
    }

    /// Up to `max` bytes of text (lossy).
    fn text(&mut self, max: usize) -> String {
        let n = usize::from(self.byte()) % (max + 1);
        let n = n.min(self.0.len());
        let (t, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8_lossy(t).into_owned()
    }

    /// An `xsd:dateTime`-like text: mostly near the ends of .NET's range, sometimes
    /// malformed, with offsets in and out of range.
    fn date(&mut self) -> String {
        let year = match self.byte() % 6 {
            0 => 9999,
            1 => 1,
            2 => 2026,
            3 => 10000,
            4 => 0,
            _ => u32::from(self.u16()) % 10_001,
        };
        let month = self.byte() % 14;
        let day = self.byte() % 33;
        let hour = self.byte() % 25;
        let minute = self.byte() % 61;
        let second = self.byte() % 61;
        let frac = match self.byte() % 3 {
            0 => String::new(),
            1 => ".9999999".to_owned(),
            _ => format!(".{}", self.u16()),
        };
        let offset = match self.byte() % 5 {
            0 => "Z".to_owned(),
            1 => String::new(),
            2 => format!("-{:02}:{:02}", self.byte() % 30, self.byte() % 61),
            3 => format!("+{:02}:{:02}", self.byte() % 30, self.byte() % 61),
            _ => self.text(6),
        };
        if self.byte() % 16 == 0 {
            return self.text(40);
        }
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{frac}{offset}")
    }

    /// A key id: one of a few (so revocations meet keys), or arbitrary text.
    fn id(&mut self) -> String {
        match self.byte() % 6 {
            0..=3 => format!("0f8fad5b-d9cb-469f-a165-7086772895{:02x}", self.byte() % 4),
            4 => "*".to_owned(),
            _ => self.text(40),
        }
    }
}

const DESCRIPTORS: [&str; 3] = [
    "<descriptor deserializerType=\"Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer, Microsoft.AspNetCore.DataProtection\"><descriptor><encryption algorithm=\"AES_256_CBC\" /><validation algorithm=\"HMACSHA256\" /><masterKey p4:requiresEncryption=\"true\" xmlns:p4=\"http://schemas.asp.net/2015/03/dataProtection\"><value>AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==</value></masterKey></descriptor></descriptor>",
    "<descriptor deserializerType=\"Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer, Microsoft.AspNetCore.DataProtection\"><descriptor><encryption algorithm=\"AES_256_GCM\" /><encryptedSecret decryptorType=\"Microsoft.AspNetCore.DataProtection.XmlEncryption.DpapiXmlDecryptor, Microsoft.AspNetCore.DataProtection\" xmlns=\"http://schemas.asp.net/2015/03/dataProtection\"><encryptedKey><value>AQAAANCM</value></encryptedKey></encryptedSecret></descriptor></descriptor>",
    "<descriptor deserializerType=\"Contoso.Unknown, Contoso\"><descriptor /></descriptor>",
];

/// One stored element chosen by the fuzzer, and the name a directory would give it.
fn element(c: &mut Choices<'_>) -> (String, String) {
    match c.byte() % 5 {
        0 | 1 => {
            let id = c.id();
            let xml = format!(
                "<key id=\"{id}\" version=\"1\"><creationDate>{}</creationDate>\
                 <activationDate>{}</activationDate><expirationDate>{}</expirationDate>{}</key>",
                c.date(),
                c.date(),
                c.date(),
                DESCRIPTORS[usize::from(c.byte()) % DESCRIPTORS.len()]
            );
            (format!("key-{id}"), xml)
        }
        2 => {
            let id = c.id();
            let xml = format!(
                "<revocation version=\"1\"><revocationDate>{}</revocationDate>\
                 <key id=\"{id}\" /><reason>{}</reason></revocation>",
                c.date(),
                c.text(8)
            );
            (format!("revocation-{}", c.text(8)), xml)
        }
        3 => {
            // A readable key cut short.
            let id = c.id();
            let full = format!(
                "<key id=\"{id}\" version=\"1\"><creationDate>{}</creationDate></key>",
                c.date()
            );
            let cut = usize::from(c.byte()) % (full.len() + 1);
            let cut = (0..=cut)
                .rev()
                .find(|i| full.is_char_boundary(*i))
                .unwrap_or(0);
            (format!("key-{}", c.text(4)), full[..cut].to_owned())
        }
        _ => (c.text(12), c.text(120)),
    }
}

/// The instant the provider starts at: anywhere in .NET's range.
fn instant(c: &mut Choices<'_>) -> OffsetDateTime {
    let max = 253_402_300_799i64; // 9999-12-31T23:59:59Z
    let min = -62_135_596_800i64; // 0001-01-01T00:00:00Z
    let span = (max - min) as u64;
    let t = match c.byte() % 4 {
        0 => max - (c.u64() % 400_000_000) as i64,
        1 => min + (c.u64() % 400_000_000) as i64,
        2 => 1_780_000_000 + (c.u64() % 100_000_000) as i64,
        _ => min + (c.u64() % span) as i64,
    };
    OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut c = Choices(data);
    let named = c.byte() % 2 == 0;
    let now = instant(&mut c);
    let jump = Duration::from_secs(c.u64() % (400 * 365 * 24 * 3600));
    let prune_age = match c.byte() % 3 {
        0 => Duration::MAX,
        1 => Duration::ZERO,
        _ => Duration::from_secs(c.u64()),
    };
    let count = usize::from(c.byte() % 12);
    let mut elements = Vec::with_capacity(count);
    for _ in 0..count {
        let (name, xml) = element(&mut c);
        elements.push(StoredElement::new(named.then_some(name), xml));
    }
    let repo = Arc::new(Planted {
        named,
        elements: Mutex::new(elements),
    });
    let clock = Arc::new(ManualClock::new(now));
    runtime().block_on(async {
        let Ok(dp) = DataProtection::builder()
            .application_name("Fuzz")
            .persist_keys_to_shared(repo)
            .clock(clock.clone())
            .background_refresh(false)
            .build()
            .await
        else {
            return;
        };
        let _ = dp.keys();
        let _ = dp.problems();
        let _ = dp.health();
        let p = dp.protector(["fuzz"]);
        if let Ok(token) = p.protect(b"payload") {
            assert_eq!(p.unprotect(&token).unwrap(), b"payload");
        }
        let _ = dp.ensure_key().await;
        clock.set(now.saturating_add(time::Duration::seconds(jump.as_secs() as i64)));
        let _ = dp.refresh().await;
        let _ = dp.ensure_key().await;
        if let Ok(token) = p.protect(b"later") {
            assert_eq!(p.unprotect(&token).unwrap(), b"later");
        }
        let _ = dp.prune(prune_age, true).await;
        let _ = dp.prune(prune_age, false).await;
        let _ = dp.check_keys().await;
    });
});
