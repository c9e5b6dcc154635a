//! `dpkeys prune`: keys that expired long ago, and revocations that no longer apply.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use data_protection::{DataProtection, PrunedElement};
use serde_json::{Value, json};

use super::print_json;
use crate::failure::Failure;
use crate::units::parse_duration;

/// `prune` options.
#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Delete keys that expired at least this long ago (e.g. 180d).
    #[arg(long, value_parser = parse_duration)]
    pub expired_for: Duration,
    /// Report what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn pruned_json(list: &[PrunedElement]) -> Value {
    list.iter()
        .map(|p| json!({ "name": p.name, "reason": p.reason }))
        .collect()
}

/// `prune`.
pub(crate) async fn run(
    dp: &DataProtection,
    a: &PruneArgs,
    json: bool,
) -> Result<ExitCode, Failure> {
    let report = dp.prune(a.expired_for, a.dry_run).await?;
    if json {
        print_json(&json!({
            "dry_run": report.dry_run,
            "keys": pruned_json(&report.keys),
            "revocations": pruned_json(&report.revocations),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if report.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    for p in report.keys.iter().chain(&report.revocations) {
        println!("{verb} {}: {}", p.name, p.reason);
    }
    println!(
        "{verb} {} key(s) and {} revocation(s)",
        report.keys.len(),
        report.revocations.len()
    );
    Ok(ExitCode::SUCCESS)
}
