//! The cost of keys encrypted at rest: loading a ring of 1,000 keys stored plaintext (the
//! peer), under a key-encryption key, and to a certificate; and unprotect once loaded.
//!
//! Run with `cargo bench --bench encrypted_ring --features certificates`. Groups:
//!
//! - `load-1000-keys/{plaintext,kek,certificate}`: building a provider on a memory store that
//!   already holds 1,000 keys written in that form (nothing to create): every element is
//!   parsed, its secret decrypted (AES-256-GCM for the KEK; RSA-2048 PKCS#1 v1.5 and
//!   AES-256-CBC for the certificate) and its KDF keyed. This is per key, once: later
//!   reloads skip unchanged elements.
//! - `reload-unchanged-1000-keys/{plaintext,certificate}`: `refresh()` of a built provider
//!   when nothing changed (the cache by element digest: no decryption).
//! - `unprotect-36B/{plaintext,certificate}`: unprotect with the default key once loaded:
//!   the same work in both, since decryption is per key, not per payload.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use data_protection::repository::{MemoryRepository, XmlRepository};
use data_protection::xml_encryption::{Certificate, Kek};
use data_protection::{DataProtection, DataProtectionBuilder};
use time::{Duration, OffsetDateTime};

const KEYS: usize = 1_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn certificate() -> Certificate {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/certs");
    Certificate::from_pem_files(format!("{dir}/dp1.crt"), format!("{dir}/dp1.key"))
        .expect("test certificate")
}

fn kek() -> Kek {
    Kek::from_bytes(&[9; 32]).expect("KEK")
}

#[derive(Clone, Copy)]
enum Form {
    Plaintext,
    Kek,
    Certificate,
}

impl Form {
    fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Kek => "kek",
            Self::Certificate => "certificate",
        }
    }

    fn apply(self, b: DataProtectionBuilder) -> DataProtectionBuilder {
        match self {
            Self::Plaintext => b.allow_unencrypted_keys(),
            Self::Kek => b.protect_keys_with_kek(kek()),
            Self::Certificate => b.protect_keys_with_certificate(certificate()),
        }
    }
}

fn builder(repo: &Arc<dyn XmlRepository>, form: Form) -> DataProtectionBuilder {
    form.apply(
        DataProtection::builder()
            .application_name("Bench")
            .persist_keys_to_shared(repo.clone())
            .background_refresh(false)
            .disable_automatic_key_generation(),
    )
}

/// A memory store holding `KEYS` keys in `form` (the first is the default).
fn ring(rt: &tokio::runtime::Runtime, form: Form) -> Arc<dyn XmlRepository> {
    let repo: Arc<dyn XmlRepository> = Arc::new(MemoryRepository::new());
    let started = std::time::Instant::now();
    rt.block_on(async {
        let dp = builder(&repo, form).build().await.expect("provider");
        let now = OffsetDateTime::now_utc();
        for i in 0..KEYS {
            let activation = now - Duration::days(i as i64);
            dp.create_key(activation, activation + Duration::days(90))
                .await
                .expect("create");
        }
    });
    eprintln!(
        "{}: wrote {KEYS} keys in {:?}",
        form.name(),
        started.elapsed()
    );
    repo
}

fn load(c: &mut Criterion) {
    let rt = runtime();
    let forms = [Form::Plaintext, Form::Kek, Form::Certificate];
    let rings: Vec<_> = forms.iter().map(|&f| (f, ring(&rt, f))).collect();
    let mut group = c.benchmark_group("load-1000-keys");
    group.sample_size(10);
    for (form, repo) in &rings {
        group.bench_function(form.name(), |b| {
            b.iter(|| {
                let dp = rt.block_on(builder(repo, *form).build()).expect("load");
                assert_eq!(dp.keys().len(), KEYS);
                black_box(dp)
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("reload-unchanged-1000-keys");
    group.sample_size(10);
    for (form, repo) in rings.iter().filter(|(f, _)| !matches!(f, Form::Kek)) {
        let dp = rt.block_on(builder(repo, *form).build()).expect("load");
        group.bench_function(form.name(), |b| {
            b.iter(|| rt.block_on(dp.refresh()).expect("refresh"))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("unprotect-36B");
    for (form, repo) in rings.iter().filter(|(f, _)| !matches!(f, Form::Kek)) {
        let dp = rt.block_on(builder(repo, *form).build()).expect("load");
        let p = dp.protector(["bench"]);
        let token = p
            .protect(b"382c74c3-721d-4f34-80e5-57657b6cbc27")
            .expect("protect");
        group.bench_function(form.name(), |b| {
            b.iter(|| black_box(p.unprotect(black_box(&token)).expect("unprotect")))
        });
    }
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
