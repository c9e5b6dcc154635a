//! `dpkeys ensure`: what a scheduled job runs.

use std::process::ExitCode;

use data_protection::{DataProtection, RingProblem};
use serde_json::json;

use super::print_json;
use crate::failure::Failure;
use crate::units::format_date;

/// `ensure`.
pub(crate) async fn run(dp: &DataProtection, json: bool) -> Result<ExitCode, Failure> {
    let outcome = dp.ensure_key_forced().await?;
    if let Some(id) = outcome.blocked_by_unreadable {
        // Fail the job: the ring needs a key and this node must not fork it.
        let why = dp
            .problems()
            .into_iter()
            .find_map(|p| match p {
                RingProblem::UnreadableDefaultKey { id: i, problem } if i == id => {
                    Some(problem.to_string())
                }
                _ => None,
            })
            .unwrap_or_else(|| "unreadable".to_owned());
        if json {
            print_json(&json!({
                "action": "blocked_by_unreadable",
                "key": id.to_string(),
                "problem": why,
            }));
        }
        return Err(Failure::failed(format!(
            "a key is due, but key {id}, which the rules pick, cannot be read here ({why}); \
             none created (another key would fork the ring): give dpkeys what it needs to read \
             it, or rotate deliberately with `dpkeys rotate`"
        )));
    }
    let (action, key) = match (outcome.created, outcome.adopted) {
        (Some(id), _) => ("created", Some(id)),
        (None, Some(id)) => ("adopted", Some(id)),
        (None, None) if outcome.blocked_by_revocation.is_some() => ("blocked", None),
        (None, None) => ("none", None),
    };
    let default = outcome.default_key;
    if json {
        print_json(&json!({
            "action": action,
            "key": key.map(|id| id.to_string()),
            "blocked_by_revocation": outcome.blocked_by_revocation.map(format_date),
            "default_key": default.map(|id| id.to_string()),
        }));
    } else {
        match (action, key) {
            ("created", Some(id)) => println!("created key {id}"),
            (_, Some(id)) => println!("a key was due; another node created it first: {id}"),
            ("blocked", _) => println!(
                "a key is due, but every key created before {} is revoked: none created",
                outcome
                    .blocked_by_revocation
                    .map(format_date)
                    .unwrap_or_default()
            ),
            _ => println!("no key due"),
        }
        match default.and_then(|id| dp.keys().into_iter().find(|k| k.id == id)) {
            Some(k) => println!(
                "default key {} (expires {})",
                k.id,
                format_date(k.expiration)
            ),
            None => println!("no default key yet (the new key is not active yet)"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
