//! `dpkeys rotate`: a new key now.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use data_protection::DataProtection;
use serde_json::json;
use time::OffsetDateTime;

use super::{PROPAGATION, print_json};
use crate::failure::Failure;
use crate::units::{format_date, parse_date, parse_duration};

/// `rotate` options.
#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    /// Activate the new key at once. Nodes still prefer a default key older than the
    /// propagation window (2 days) over a brand-new one, as ASP.NET Core does, unless that
    /// default is revoked: to replace a compromised key, revoke it. Default: activate after
    /// the propagation window, so every node knows the key before it is used.
    #[arg(long, conflicts_with = "activation")]
    pub activate_now: bool,
    /// Activation date (RFC 3339).
    #[arg(long, value_parser = parse_date)]
    pub activation: Option<OffsetDateTime>,
    /// How long the key protects new payloads (e.g. 90d).
    #[arg(long, default_value = "90d", value_parser = parse_duration)]
    pub lifetime: Duration,
}

/// `rotate`.
pub(crate) async fn run(
    dp: &DataProtection,
    a: &RotateArgs,
    json: bool,
) -> Result<ExitCode, Failure> {
    let now = dp.clock().now();
    let activation = match (a.activate_now, a.activation) {
        (true, _) => now,
        (false, Some(date)) => date,
        (false, None) => now.saturating_add(PROPAGATION),
    };
    let lifetime = time::Duration::try_from(a.lifetime)
        .map_err(|_| Failure::usage("--lifetime is too long"))?;
    if lifetime.is_zero() {
        return Err(Failure::usage("--lifetime must be longer than 0s"));
    }
    let expiration = activation
        .checked_add(lifetime)
        .filter(|e| e.year() <= 9999)
        .ok_or_else(|| {
            Failure::usage(format!(
                "a key activating {} with a lifetime of {lifetime} would expire after the year \
                 9999, which .NET cannot read; choose an earlier --activation or a shorter \
                 --lifetime",
                format_date(activation)
            ))
        })?;
    let id = dp.create_key(activation, expiration).await?;
    if json {
        print_json(&json!({
            "created": id.to_string(),
            "activation": format_date(activation),
            "expiration": format_date(expiration),
        }));
    } else {
        println!(
            "created key {id}: activates {}, expires {}",
            format_date(activation),
            format_date(expiration)
        );
    }
    Ok(ExitCode::SUCCESS)
}
