//! The metrics facade wired to a real Prometheus exporter, scraped over HTTP from the
//! example app. Its own test binary: the recorder is process-global.
#![cfg(all(feature = "metrics", feature = "session", feature = "axum"))]
#![allow(
    unreachable_pub,
    reason = "the example is compiled as a module of this binary"
)]

use std::time::Duration;

use data_protection::DataProtection;
use metrics_exporter_prometheus::PrometheusBuilder;

#[path = "../../examples/metrics_prometheus.rs"]
#[allow(dead_code, reason = "the example's main is not used here")]
mod example;

/// The value of the series whose line starts with `prefix` (name and labels).
fn value(scrape: &str, prefix: &str) -> Option<f64> {
    scrape
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn the_example_exports_every_family_to_prometheus() {
    let handle = PrometheusBuilder::new().install_recorder().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dp = DataProtection::builder()
        .application_name("MetricsTest")
        .persist_keys_to_directory(dir.path())
        .build()
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, example::app(dp, handle)).await });
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let get = |path: String| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, token) = get("/protect/hello".into()).await;
    assert_eq!(status, 200);
    assert_eq!(
        get(format!("/unprotect/{token}")).await,
        (200, "hello".into())
    );
    for _ in 0..2 {
        assert_eq!(get("/unprotect/AAAA".into()).await.0, 400);
    }
    // A well-formed payload naming a key no store has: counted as unknown_key.
    let mut forged = vec![0x09, 0xF0, 0xC9, 0xF0];
    forged.extend_from_slice(&[7u8; 16]);
    forged.extend_from_slice(&[0u8; 64]);
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged);
    assert_eq!(get(format!("/unprotect/{forged}")).await.0, 400);
    assert_eq!(get("/visits".into()).await.1, "1");
    assert_eq!(get("/visits".into()).await.1, "2");
    assert_eq!(get("/ready".into()).await, (200, "healthy".into()));

    let (status, scrape) = get("/metrics".into()).await;
    assert_eq!(status, 200);
    let series = |prefix: &str| {
        value(&scrape, prefix).unwrap_or_else(|| panic!("{prefix} missing in\n{scrape}"))
    };
    // The token, and the session cookie (protected once, unprotected on the second visit).
    assert_eq!(series("data_protection_protect_total{outcome=\"ok\"}"), 2.0);
    assert_eq!(
        series("data_protection_unprotect_total{outcome=\"ok\"}"),
        2.0
    );
    assert_eq!(
        series("data_protection_unprotect_total{outcome=\"invalid\"}"),
        2.0
    );
    assert_eq!(
        series("data_protection_unprotect_total{outcome=\"unknown_key\"}"),
        1.0
    );
    assert!(series("data_protection_ring_reloads_total{cause=\"startup\",outcome=\"ok\"}") >= 1.0);
    assert!(
        series("data_protection_ring_reloads_total{cause=\"unknown_key\",outcome=\"ok\"}") >= 1.0
    );
    assert_eq!(
        series("data_protection_key_creations_total{outcome=\"created\"}"),
        1.0
    );
    assert!(
        series(
            "data_protection_store_operations_total{store=\"directory\",operation=\"read\",outcome=\"ok\"}"
        ) >= 2.0
    );
    assert!(
        series(
            "data_protection_store_operation_seconds_count{store=\"directory\",operation=\"write\"}"
        ) >= 1.0
    );
    assert_eq!(
        series("data_protection_session_events_total{event=\"save\"}"),
        2.0
    );
    assert_eq!(
        series("data_protection_session_events_total{event=\"established\"}"),
        1.0
    );
    assert!(scrape.contains("# HELP data_protection_protect_total"));
    // No secret or identifier in any label: only fixed words.
    assert!(!scrape.contains(&token), "a token in the metrics");
    for line in scrape.lines().filter(|l| l.starts_with("data_protection_")) {
        if let Some(labels) = line.split('{').nth(1).and_then(|l| l.split('}').next()) {
            for pair in labels.split(',') {
                let value = pair.split('=').nth(1).unwrap_or_default().trim_matches('"');
                assert!(
                    value.chars().all(|c| c.is_ascii_lowercase()
                        || c == '_'
                        || c.is_ascii_digit()
                        || c == '.'
                        || c == '+'),
                    "label value {value:?} in {line}"
                );
            }
        }
    }
}
