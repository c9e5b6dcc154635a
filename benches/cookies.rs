//! Protected cookies next to the `cookie` crate's private jar, in one run.
//!
//! `cargo bench --bench cookies --features cookies`. Groups, each on a 36-byte and a 1 KiB
//! value:
//!
//! - `protected-cookie/{seal,open}`: what `ProtectedCookies::add` and `get_value` do to a
//!   value: the time-limited protector of purposes [app, `PURPOSE`, cookie name] (default
//!   algorithm, AES-256-CBC + HMAC-SHA256) plus base64url.
//! - `cookie-private-jar/{encrypt,decrypt}`: `private_mut(&key).add(..)` and
//!   `private(&key).get(..)` (AES-256-GCM, base64).

use std::hint::black_box;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, CookieJar, Key};
use criterion::{Criterion, criterion_group, criterion_main};
use data_protection::DataProtection;
use data_protection::cookies::PURPOSE;
use time::OffsetDateTime;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dp = rt
        .block_on(
            DataProtection::builder()
                .application_name("Bench")
                .background_refresh(false)
                .build(),
        )
        .expect("provider");
    let tl = dp.protector([PURPOSE, "c"]).time_limited();
    let key = Key::generate();
    let until = OffsetDateTime::now_utc() + time::Duration::hours(1);
    for (label, len) in [("36B", 36usize), ("1KiB", 1024)] {
        let value = "v".repeat(len);
        let sealed = URL_SAFE_NO_PAD.encode(tl.protect(value.as_bytes(), until).expect("protect"));
        c.bench_function(&format!("protected-cookie/seal/{label}"), |b| {
            b.iter(|| {
                URL_SAFE_NO_PAD.encode(
                    tl.protect(black_box(value.as_bytes()), until)
                        .expect("protect"),
                )
            })
        });
        c.bench_function(&format!("protected-cookie/open/{label}"), |b| {
            b.iter(|| {
                let bytes = URL_SAFE_NO_PAD.decode(black_box(&sealed)).expect("base64");
                tl.unprotect(&bytes).expect("open")
            })
        });
        c.bench_function(&format!("cookie-private-jar/encrypt/{label}"), |b| {
            b.iter(|| {
                let mut jar = CookieJar::new();
                jar.private_mut(&key)
                    .add(Cookie::new("c", black_box(value.clone())));
                jar
            })
        });
        let mut holder = CookieJar::new();
        holder
            .private_mut(&key)
            .add(Cookie::new("c", value.clone()));
        let encrypted = holder.get("c").expect("cookie").clone();
        c.bench_function(&format!("cookie-private-jar/decrypt/{label}"), |b| {
            b.iter(|| {
                let mut jar = CookieJar::new();
                jar.add_original(black_box(encrypted.clone()));
                jar.private(&key).get("c").expect("decrypt")
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .measurement_time(std::time::Duration::from_secs(2))
        .warm_up_time(std::time::Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);
