//! `dpkeys revoke`: one key, or every key created before a date.

use std::process::ExitCode;

use clap::Args;
use data_protection::{DataProtection, KeyId};
use serde_json::json;
use time::OffsetDateTime;

use super::print_json;
use crate::failure::Failure;
use crate::units::{format_date, parse_date};

/// `revoke` options.
#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// The key to revoke.
    #[arg(
        required_unless_present = "all_created_before",
        conflicts_with = "all_created_before"
    )]
    pub key_id: Option<String>,
    /// Revoke every key created before this date (RFC 3339).
    #[arg(long, value_parser = parse_date)]
    pub all_created_before: Option<OffsetDateTime>,
    /// The reason, stored with the revocation.
    #[arg(long, default_value = "revoked with dpkeys")]
    pub reason: String,
}

/// `revoke`.
pub(crate) async fn run(
    dp: &DataProtection,
    a: &RevokeArgs,
    json: bool,
) -> Result<ExitCode, Failure> {
    let what = if let Some(date) = a.all_created_before {
        dp.revoke_all_keys_created_before(date, &a.reason).await?;
        format!("every key created before {}", format_date(date))
    } else {
        let text = a.key_id.as_deref().unwrap_or_default();
        let id: KeyId = text
            .parse()
            .map_err(|e| Failure::usage(format!("invalid key id {text:?}: {e}")))?;
        dp.revoke_key(id, &a.reason).await?;
        format!("key {id}")
    };
    // A revoked default leaves nothing to protect with: create its replacement now, as a
    // node would, so read-only web nodes keep working.
    let outcome = dp.ensure_key_forced().await?;
    let replacement = outcome.created.or(outcome.adopted);
    if json {
        print_json(&json!({
            "revoked": what,
            "replacement": replacement.map(|id| id.to_string()),
            "default_key": outcome.default_key.map(|id| id.to_string()),
        }));
    } else {
        println!("revoked {what}");
        if let Some(id) = replacement {
            println!("created replacement key {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
