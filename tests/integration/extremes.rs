//! Extreme configuration and arguments: durations near `Duration::MAX`, dates at the ends of
//! .NET's range, huge payload lifetimes. Each is an error or saturates; none panics.

use std::time::Duration;

use data_protection::repository::MemoryRepository;
use data_protection::{DataProtection, DataProtectionBuilder, Error};
use time::OffsetDateTime;
use time::macros::datetime;

fn builder() -> DataProtectionBuilder {
    DataProtection::builder()
        .application_name("Extremes")
        .persist_keys_to(MemoryRepository::new())
        .background_refresh(false)
}

#[tokio::test]
async fn huge_builder_durations_are_configuration_errors() {
    type Setter = fn(DataProtectionBuilder, Duration) -> DataProtectionBuilder;
    let setters: [(&str, Setter); 7] = [
        ("key lifetime", DataProtectionBuilder::key_lifetime),
        (
            "propagation window",
            DataProtectionBuilder::propagation_window,
        ),
        ("refresh interval", DataProtectionBuilder::refresh_interval),
        ("clock skew", DataProtectionBuilder::clock_skew),
        ("store timeout", DataProtectionBuilder::store_timeout),
        ("startup wait", DataProtectionBuilder::startup_wait),
        (
            "unknown-key refresh interval",
            DataProtectionBuilder::unknown_key_refresh_interval,
        ),
    ];
    for (name, set) in setters {
        for huge in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
            match set(builder(), huge).build().await {
                Err(Error::Config(message)) => {
                    assert!(message.contains(name), "{name}: {message}");
                }
                other => panic!("{name} = {huge:?}: expected a configuration error, got {other:?}"),
            }
        }
    }
    // The longest accepted values work together.
    let century = Duration::from_secs(36_525 * 24 * 3600);
    let dp = builder()
        .key_lifetime(century)
        .store_timeout(century)
        .unknown_key_refresh_interval(century)
        .build()
        .await
        .unwrap();
    let key = dp.keys()[0].clone();
    assert_eq!(
        key.expiration - key.activation,
        time::Duration::days(36_525)
    );
}

#[tokio::test]
async fn payload_lifetimes_saturate_at_the_end_of_year_9999() {
    let dp = builder().build().await.unwrap();
    let tl = dp.protector(["p"]).time_limited();
    let end = datetime!(9999-12-31 23:59:59.9999999 UTC);
    for lifetime in [Duration::MAX, Duration::from_secs(u64::MAX), century_x(100)] {
        let token = tl.protect_for(b"x", lifetime).unwrap();
        let (plain, expiration) = tl.unprotect(&token).unwrap();
        assert_eq!(plain, b"x");
        assert_eq!(expiration, end, "{lifetime:?}");
    }
    // A local date past 9999 in UTC, and the far past: clamped, never a panic.
    let past_end = datetime!(9999-12-31 23:00 -5:00);
    let (_, expiration) = tl.unprotect(&tl.protect(b"x", past_end).unwrap()).unwrap();
    assert_eq!(expiration, end);
    let ancient = tl.protect(
        b"x",
        OffsetDateTime::UNIX_EPOCH - time::Duration::days(800_000),
    );
    assert!(matches!(
        tl.unprotect(&ancient.unwrap()),
        Err(Error::PayloadExpired(at)) if at == datetime!(0001-01-01 0:00 UTC)
    ));
}

fn century_x(n: u64) -> Duration {
    Duration::from_secs(n * 36_525 * 24 * 3600)
}

#[tokio::test]
async fn out_of_range_key_dates_and_prune_ages_are_errors_or_saturate() {
    let dp = builder().build().await.unwrap();
    let first = dp.default_key().unwrap();
    for (activation, expiration) in [
        (
            datetime!(9999-12-01 0:00 UTC),
            datetime!(9999-12-31 23:00 -5:00),
        ),
        (
            datetime!(9999-12-31 23:00 -5:00),
            datetime!(9999-12-31 23:30 -5:00),
        ),
        (
            datetime!(0001-01-01 0:30 +1:00),
            datetime!(2000-01-01 0:00 UTC),
        ),
    ] {
        let r = dp.create_key(activation, expiration).await;
        assert!(
            matches!(r, Err(Error::Config(_))),
            "{activation} {expiration}: {r:?}"
        );
    }
    let r = dp
        .revoke_all_keys_created_before(datetime!(9999-12-31 23:00 -5:00), "x")
        .await;
    assert!(matches!(r, Err(Error::Config(_))), "{r:?}");
    // The last instant .NET holds is a valid key date.
    dp.create_key(
        datetime!(9999-12-31 23:00 UTC),
        datetime!(9999-12-31 23:59:59.9999999 UTC),
    )
    .await
    .unwrap();
    for age in [Duration::MAX, Duration::ZERO, century_x(10_000)] {
        let report = dp.prune(age, false).await.unwrap();
        assert!(report.keys.is_empty(), "{age:?}: {report:?}");
    }
    assert_eq!(dp.default_key(), Some(first));
    assert_eq!(dp.keys().len(), 2);
}
