//! Protect/unprotect through the provider: every algorithm, tampering, wrong purposes,
//! revocation, truncation and garbage.

use std::sync::Arc;

use data_protection::repository::MemoryRepository;
use data_protection::{Algorithm, DataProtection, Error};
use time::macros::datetime;

async fn provider(app: &str, algorithm: Algorithm, repo: Arc<MemoryRepository>) -> DataProtection {
    DataProtection::builder()
        .application_name(app)
        .algorithm(algorithm)
        .persist_keys_to_shared(repo)
        .background_refresh(false)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_algorithm_round_trips_and_rejects_every_bit_flip() {
    for alg in Algorithm::all() {
        let dp = provider("MyApp", alg, Arc::new(MemoryRepository::new())).await;
        let p = dp.protector(["purpose"]);
        let token = p.protect(b"382c74c3-721d-4f34-80e5-57657b6cbc27").unwrap();
        assert_eq!(
            p.unprotect(&token).unwrap(),
            b"382c74c3-721d-4f34-80e5-57657b6cbc27"
        );
        for bit in 0..token.len() * 8 {
            let mut bad = token.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                matches!(p.unprotect(&bad), Err(Error::InvalidPayload)),
                "{alg}: flipping bit {bit} must fail"
            );
        }
        for cut in 0..token.len() {
            assert!(
                p.unprotect(&token[..cut]).is_err(),
                "{alg}: truncated to {cut}"
            );
        }
        let mut longer = token.clone();
        longer.push(0);
        assert!(p.unprotect(&longer).is_err(), "{alg}: trailing byte");
        assert_eq!(
            p.unprotect(&p.protect(b"").unwrap()).unwrap(),
            b"",
            "{alg}: empty"
        );
        let big = vec![0xA5u8; 100_000];
        assert_eq!(
            p.unprotect(&p.protect(&big).unwrap()).unwrap(),
            big,
            "{alg}: large"
        );
    }
}

#[tokio::test]
async fn purposes_and_application_names_isolate() {
    let repo = Arc::new(MemoryRepository::new());
    let a = provider("AppA", Algorithm::default(), repo.clone()).await;
    let b = provider("AppB", Algorithm::default(), repo.clone()).await;
    let token = a.protector(["p1", "p2"]).protect(b"secret").unwrap();
    assert_eq!(
        a.protector(["p1", "p2"]).unprotect(&token).unwrap(),
        b"secret"
    );
    assert_eq!(
        a.protector(["p1"])
            .create_protector("p2")
            .unprotect(&token)
            .unwrap(),
        b"secret"
    );
    for wrong in [
        vec!["p1"],
        vec!["p2", "p1"],
        vec!["p1", "p2", "p3"],
        vec!["p1", "P2"],
    ] {
        assert!(matches!(
            a.protector(wrong).unprotect(&token),
            Err(Error::InvalidPayload)
        ));
    }
    assert!(matches!(
        b.protector(["p1", "p2"]).unprotect(&token),
        Err(Error::InvalidPayload)
    ));
    // AppB's chain [AppB, p1, p2] never equals [AppA, p1, p2], but the same ring is shared:
    // a protector built with AppA as an explicit purpose on an unnamed provider matches.
    let unnamed = provider("", Algorithm::default(), repo).await;
    assert_eq!(
        unnamed
            .protector(["AppA", "p1", "p2"])
            .unprotect(&token)
            .unwrap(),
        b"secret"
    );
}

#[tokio::test]
async fn revoked_keys_fail_except_through_the_dangerous_path() {
    let dp = provider(
        "MyApp",
        Algorithm::default(),
        Arc::new(MemoryRepository::new()),
    )
    .await;
    let p = dp.protector(["p"]);
    let token = p.protect(b"data").unwrap();
    let key = dp.default_key().unwrap();
    dp.revoke_key(key, "compromised").await.unwrap();
    assert!(matches!(p.unprotect(&token), Err(Error::InvalidPayload)));
    assert!(matches!(
        p.unprotect_async(&token).await,
        Err(Error::InvalidPayload)
    ));
    let u = p.dangerous_unprotect_ignoring_revocation(&token).unwrap();
    assert_eq!(u.plaintext, b"data");
    assert!(u.was_revoked && u.requires_migration);
    // The revocation created a replacement default key at once.
    let replacement = dp.default_key().expect("a replacement key");
    assert_ne!(replacement, key);
    let fresh = p.protect(b"new").unwrap();
    assert_eq!(p.unprotect(&fresh).unwrap(), b"new");
    // A read-only node cannot replace it: protect fails with a typed error.
    let repo = Arc::new(MemoryRepository::new());
    let writer = provider("MyApp", Algorithm::default(), repo.clone()).await;
    let reader = DataProtection::builder()
        .persist_keys_to_shared(repo)
        .disable_automatic_key_generation()
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let only = reader.default_key().unwrap();
    reader.revoke_key(only, "").await.unwrap();
    assert!(matches!(
        reader.protector(["p"]).protect(b"x"),
        Err(Error::NoDefaultKey)
    ));
    writer.ensure_key().await.unwrap();
    reader.refresh().await.unwrap();
    assert!(reader.protector(["p"]).protect(b"x").is_ok());
    assert!(matches!(
        dp.revoke_key(data_protection::KeyId::from_uuid(uuid::Uuid::nil()), "")
            .await,
        Err(Error::UnknownKey(_))
    ));
}

#[tokio::test]
async fn garbage_never_panics() {
    let dp = provider(
        "MyApp",
        Algorithm::default(),
        Arc::new(MemoryRepository::new()),
    )
    .await;
    let p = dp.protector(["p"]);
    let mut inputs: Vec<Vec<u8>> = vec![vec![], vec![0; 19], vec![0; 20], vec![0xFF; 5000]];
    let mut header = vec![0x09, 0xF0, 0xC9, 0xF0];
    header.extend(dp.default_key().unwrap().to_guid_bytes());
    for n in [0, 1, 16, 31, 32, 47, 48, 63, 64, 80, 81, 96, 200] {
        let mut v = header.clone();
        v.extend(std::iter::repeat_n(0x41, n));
        inputs.push(v);
    }
    let mut newer = header.clone();
    newer[3] = 0xF1;
    inputs.push(newer);
    for input in inputs {
        assert!(matches!(p.unprotect(&input), Err(Error::InvalidPayload)));
    }
    for text in ["", "!!!", "CfDJ8", "CfDJ8AAAA====", "é", "CfDJ8+/+/"] {
        assert!(
            matches!(p.unprotect_str(text), Err(Error::InvalidPayload)),
            "{text}"
        );
    }
    // Authentic payload whose plaintext is not UTF-8.
    let token = p.protect(&[0xF0, 0x28, 0x8C]).unwrap();
    use base64::Engine;
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token);
    assert!(matches!(p.unprotect_str(&text), Err(Error::InvalidPayload)));
}

#[tokio::test]
async fn time_limited_payloads_expire_with_a_distinct_error() {
    let clock = Arc::new(data_protection::ManualClock::new(
        datetime!(2026-01-01 0:00 UTC),
    ));
    let dp = DataProtection::builder()
        .application_name("MyApp")
        .clock(clock.clone())
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let tl = dp.protector(["reset-password"]).time_limited();
    let token = tl
        .protect_str("alice", datetime!(2026-01-01 1:00 UTC))
        .unwrap();
    assert_eq!(
        tl.unprotect_str(&token).unwrap(),
        ("alice".to_owned(), datetime!(2026-01-01 1:00 UTC))
    );
    clock.advance(time::Duration::minutes(61));
    assert!(
        matches!(tl.unprotect_str(&token), Err(Error::PayloadExpired(t)) if t == datetime!(2026-01-01 1:00 UTC))
    );
    // Not interchangeable with the plain protector of the same purposes.
    assert!(
        dp.protector(["reset-password"])
            .unprotect_str(&token)
            .is_err()
    );
    let short = dp
        .protector(["reset-password", data_protection::TIME_LIMITED_PURPOSE])
        .protect(&[1, 2, 3])
        .unwrap();
    assert!(matches!(tl.unprotect(&short), Err(Error::InvalidPayload)));
    let for_a_while = tl
        .protect_for(b"x", std::time::Duration::from_secs(30))
        .unwrap();
    assert!(tl.unprotect(&for_a_while).is_ok());
    clock.advance(time::Duration::seconds(31));
    assert!(matches!(
        tl.unprotect(&for_a_while),
        Err(Error::PayloadExpired(_))
    ));
}

#[test]
fn debug_output_never_shows_secrets() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let repo = Arc::new(MemoryRepository::new());
        let dp = provider("MyApp", Algorithm::default(), repo.clone()).await;
        let p = dp.protector(["p"]);
        let token = p.protect(b"plaintext-marker").unwrap();
        let u = p.dangerous_unprotect_ignoring_revocation(&token).unwrap();
        let elements = data_protection::repository::XmlRepository::get_all_elements(&*repo)
            .await
            .unwrap();
        let printed = format!("{dp:?} {p:?} {u:?} {elements:?} {:?}", dp.keys());
        assert!(!printed.contains("plaintext-marker"));
        assert!(
            !printed.contains("masterKey") && !printed.contains("<value>"),
            "{printed}"
        );
    });
}
