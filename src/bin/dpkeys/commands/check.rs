//! `dpkeys check`: every key read and tried; exit 1 on any problem.

use std::process::ExitCode;

use std::time::Duration;

use data_protection::{DataProtection, Health, RingProblem};
use serde_json::{Value, json};

use super::print_json;
use crate::failure::Failure;
use crate::units::format_date;

/// `check`: exit 1 when any key or element has a problem, nothing can protect, or a
/// successor is overdue. `--json` adds the ring's health, as `DataProtection::health()`
/// reports it, for monitoring.
pub(crate) async fn run(dp: &DataProtection, json: bool) -> Result<ExitCode, Failure> {
    let checks = dp.check_keys().await?;
    let health = dp.health();
    let infos = dp.keys();
    let encrypted_to = |id| {
        infos
            .iter()
            .find(|k| k.id == id)
            .and_then(|k| k.encrypted_to.clone())
    };
    // Unreadable keys are reported once, by their check below.
    let mut problems: Vec<String> = health
        .problems
        .iter()
        .filter(|p| !matches!(p, RingProblem::UnreadableKey { .. }))
        .map(ToString::to_string)
        .collect();
    for c in &checks {
        if let Some(p) = &c.problem {
            problems.push(format!("key {}: {p}", c.id));
        }
    }
    let default_unreadable = health
        .problems
        .iter()
        .any(|p| matches!(p, RingProblem::UnreadableDefaultKey { .. }));
    match (health.default_key, health.default_key_expires) {
        (None, _) if default_unreadable => {}
        (None, _) => {
            problems.push("no default key: nothing can be protected (run `dpkeys ensure`)".into())
        }
        (Some(id), Some(expires)) if health.successor_needed_in == Some(Duration::ZERO) => {
            problems.push(format!(
                "the default key {id} expires {} and no successor exists (run `dpkeys ensure`)",
                format_date(expires)
            ));
        }
        _ => {}
    }
    if json {
        print_json(&json!({
            "ok": problems.is_empty(),
            "keys": checks.iter().map(|c| json!({
                "id": c.id.to_string(),
                "ok": c.problem.is_none(),
                "problem": c.problem,
                "encrypted_to": encrypted_to(c.id),
            })).collect::<Vec<_>>(),
            "problems": problems,
            "health": health_json(&health),
        }));
    } else {
        for c in &checks {
            let to = encrypted_to(c.id)
                .map(|t| format!(" (encrypted to {t})"))
                .unwrap_or_default();
            match &c.problem {
                None => println!("ok       key {}{to}", c.id),
                Some(p) => println!("PROBLEM  key {}{to}: {p}", c.id),
            }
        }
        for p in &problems {
            eprintln!("problem: {p}");
        }
        println!(
            "{} key(s) checked, {} problem(s)",
            checks.len(),
            problems.len()
        );
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The ring's health for monitoring.
fn health_json(h: &Health) -> Value {
    json!({
        "status": h.status.as_str(),
        "loaded_at": h.loaded_at.map(format_date),
        "ring_age_seconds": h.ring_age.map(|d| d.as_secs()),
        "last_refresh_error": h.last_refresh_error.as_ref().map(|f| json!({
            "at": format_date(f.at),
            "message": f.message,
            "store_error_kind": f.store_error_kind.map(|k| k.as_str()),
        })),
        "default_key": h.default_key.map(|id| id.to_string()),
        "default_is_fallback": h.default_is_fallback,
        "default_key_expires": h.default_key_expires.map(format_date),
        "successor": h.successor.map(|id| id.to_string()),
        "successor_needed_in_seconds": h.successor_needed_in.map(|d| d.as_secs()),
        "unreadable_keys": h.unreadable_keys.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}
