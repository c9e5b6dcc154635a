//! Throughput of the public protect / unprotect API, next to the `cookie` crate's private jar.
//!
//! Run with `cargo bench --bench protect`. Groups:
//!
//! - `protect/{cbc-hmacsha256,gcm}/{36B,1KiB}` and `unprotect/…`: [`Protector::protect`] and
//!   [`Protector::unprotect`] on raw bytes (no base64), for AES-256-CBC + HMAC-SHA256 and
//!   AES-256-GCM keys, on a 36-byte session id and a 1 KiB payload. The provider is built with
//!   the default in-memory store and no background refresh.
//! - `protect-str/gcm/…` and `unprotect-str/gcm/…`: the same through
//!   [`Protector::protect_str`] / [`Protector::unprotect_str`], which add base64url like the
//!   cookie jar does (the fairer comparison with it).
//! - `cookie-private-jar/{encrypt,decrypt}/{36B,1KiB}`: the peer, `cookie::PrivateJar`
//!   (AES-256-GCM, base64): `private_mut(&key).add(..)` to encrypt and
//!   `private(&key).get(..)` on a jar holding the encrypted cookie to decrypt.
//! - `unprotect-ring-size/{1,10000}`: unprotect of a 36-byte payload protected with the
//!   default key (AES-256-CBC + HMAC-SHA256), in a ring of that one key and in a ring that
//!   also holds 9,999 expired keys (see [`expired_keys`]; the setup time is printed).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cookie::{Cookie, CookieJar, Key};
use criterion::{Criterion, criterion_group, criterion_main};
use data_protection::repository::{MemoryRepository, XmlRepository};
use data_protection::xml::XmlElement;
use data_protection::{Algorithm, DataProtection, Protector};
use time::OffsetDateTime;

const SESSION_ID: &str = "382c74c3-721d-4f34-80e5-57657b6cbc27";
const BIG_LEN: usize = 1024;
const RING_SIZE: usize = 10_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn provider(rt: &tokio::runtime::Runtime, algorithm: Algorithm) -> DataProtection {
    let builder = DataProtection::builder()
        .application_name("MyApp")
        .algorithm(algorithm)
        .background_refresh(false);
    rt.block_on(builder.build()).expect("provider")
}

/// The two payloads: a session id and 1 KiB of printable text (valid UTF-8, usable as a
/// cookie value).
fn payloads() -> [(&'static str, String); 2] {
    let big: String = (0..BIG_LEN)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    [("36B", SESSION_ID.to_owned()), ("1KiB", big)]
}

fn protect_unprotect(c: &mut Criterion) {
    let rt = runtime();
    for (alg_name, algorithm) in [
        ("cbc-hmacsha256", Algorithm::AES_256_CBC_HMACSHA256),
        ("gcm", Algorithm::AES_256_GCM),
    ] {
        let dp = provider(&rt, algorithm);
        let protector = dp.protector(["bench"]);
        for (size, text) in payloads() {
            let bytes = text.as_bytes();
            let protected = protector.protect(bytes).expect("protect");
            assert_eq!(protector.unprotect(&protected).expect("unprotect"), bytes);

            c.bench_function(&format!("protect/{alg_name}/{size}"), |b| {
                b.iter(|| protector.protect(black_box(bytes)).expect("protect"));
            });
            c.bench_function(&format!("unprotect/{alg_name}/{size}"), |b| {
                b.iter(|| {
                    protector
                        .unprotect(black_box(&protected))
                        .expect("unprotect")
                });
            });

            if alg_name == "gcm" {
                let token = protector.protect_str(&text).expect("protect_str");
                c.bench_function(&format!("protect-str/{alg_name}/{size}"), |b| {
                    b.iter(|| {
                        protector
                            .protect_str(black_box(&text))
                            .expect("protect_str")
                    });
                });
                c.bench_function(&format!("unprotect-str/{alg_name}/{size}"), |b| {
                    b.iter(|| {
                        protector
                            .unprotect_str(black_box(&token))
                            .expect("unprotect_str")
                    });
                });
            }
        }
    }
}

fn cookie_private_jar(c: &mut Criterion) {
    let key = Key::generate();
    for (size, value) in payloads() {
        let mut jar = CookieJar::new();
        c.bench_function(&format!("cookie-private-jar/encrypt/{size}"), |b| {
            b.iter(|| {
                jar.private_mut(&key)
                    .add(Cookie::new("session", black_box(value.clone())));
            });
        });

        // A jar as a request would produce: the encrypted cookie as an original cookie.
        let mut source = CookieJar::new();
        source
            .private_mut(&key)
            .add(Cookie::new("session", value.clone()));
        let encrypted = source.get("session").expect("encrypted cookie").clone();
        let mut jar = CookieJar::new();
        jar.add_original(encrypted);
        let decrypted = jar.private(&key).get("session").expect("decrypt");
        assert_eq!(decrypted.value(), value);

        c.bench_function(&format!("cookie-private-jar/decrypt/{size}"), |b| {
            b.iter(|| {
                jar.private(&key)
                    .get(black_box("session"))
                    .expect("decrypt")
            });
        });
    }
}

/// A store holding `count` expired keys with distinct ids and master keys.
///
/// Calling [`DataProtection::create_key`] 9,999 times on one provider takes minutes (each
/// call reloads the whole ring), so each key is created alone in a scratch store and its
/// element copied into the target store through the public [`XmlRepository`] API.
async fn expired_keys(count: usize) -> Arc<dyn XmlRepository> {
    let scratch_store: Arc<dyn XmlRepository> = Arc::new(MemoryRepository::new());
    let scratch = DataProtection::builder()
        .application_name("MyApp")
        .background_refresh(false)
        .disable_automatic_key_generation()
        .persist_keys_to_shared(scratch_store.clone())
        .build()
        .await
        .expect("scratch provider");
    let target: Arc<dyn XmlRepository> = Arc::new(MemoryRepository::new());
    let now = OffsetDateTime::now_utc();
    for i in (0..).take(count) {
        // Activated 400 days ago plus a few seconds each, 90-day lifetime: all expired.
        let activation = now - time::Duration::days(400) + time::Duration::seconds(i);
        let expiration = activation + time::Duration::days(90);
        scratch
            .create_key(activation, expiration)
            .await
            .expect("create_key");
        let mut names = Vec::new();
        for stored in scratch_store
            .get_all_elements()
            .await
            .expect("read scratch store")
        {
            let name = stored.name.expect("memory store keeps names");
            let element = XmlElement::parse(&stored.xml).expect("key XML");
            target
                .store_element(&element, &name)
                .await
                .expect("copy key");
            names.push(name);
        }
        scratch_store
            .delete_elements(&names)
            .await
            .expect("clear scratch store");
    }
    target
}

fn ring_size(c: &mut Criterion) {
    let rt = runtime();
    let small = provider(&rt, Algorithm::default());

    let started = Instant::now();
    let store = rt.block_on(expired_keys(RING_SIZE - 1));
    let builder = DataProtection::builder()
        .application_name("MyApp")
        .background_refresh(false)
        .persist_keys_to_shared(store);
    // No key in the store is usable, so build creates the default key.
    let large = rt.block_on(builder.build()).expect("provider");
    eprintln!(
        "unprotect-ring-size: ring of {} keys built in {:.1?}",
        large.keys().len(),
        started.elapsed()
    );
    assert_eq!(large.keys().len(), RING_SIZE);
    assert_eq!(small.keys().len(), 1);
    let default_key = large.default_key().expect("default key");

    for (count, dp) in [(1, &small), (RING_SIZE, &large)] {
        let protector: Protector = dp.protector(["bench"]);
        let protected = protector.protect(SESSION_ID.as_bytes()).expect("protect");
        assert_eq!(
            protector.unprotect(&protected).expect("unprotect"),
            SESSION_ID.as_bytes()
        );
        c.bench_function(&format!("unprotect-ring-size/{count}"), |b| {
            b.iter(|| {
                protector
                    .unprotect(black_box(&protected))
                    .expect("unprotect")
            });
        });
    }
    assert_eq!(
        large.default_key(),
        Some(default_key),
        "the default key must not change"
    );
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        // The analysis, not the measurement, dominates a run on a small machine.
        .nresamples(20_000)
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = protect_unprotect, cookie_private_jar, ring_size
}
criterion_main!(benches);
