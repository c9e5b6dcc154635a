//! `dpkeys check`: every key read and tried; exit 1 on any problem.

use std::process::ExitCode;

use data_protection::{DataProtection, RingProblem};
use serde_json::json;

use super::{PROPAGATION, print_json};
use crate::failure::Failure;
use crate::units::format_date;

/// `check`: exit 1 when any key or element has a problem, or nothing can protect.
pub(crate) async fn run(dp: &DataProtection, json: bool) -> Result<ExitCode, Failure> {
    let checks = dp.check_keys().await?;
    let ring_problems = dp.problems();
    let default_unreadable = ring_problems
        .iter()
        .any(|p| matches!(p, RingProblem::UnreadableDefaultKey { .. }));
    let mut problems: Vec<String> = ring_problems.iter().map(ToString::to_string).collect();
    for c in &checks {
        if let Some(p) = &c.problem {
            problems.push(format!("key {}: {p}", c.id));
        }
    }
    let keys = dp.keys();
    match dp
        .default_key()
        .and_then(|id| keys.iter().find(|k| k.id == id))
    {
        None if default_unreadable => {}
        None => {
            problems.push("no default key: nothing can be protected (run `dpkeys ensure`)".into())
        }
        Some(default) => {
            let now = dp.clock().now();
            let successor = keys
                .iter()
                .any(|k| !k.revoked && k.problem.is_none() && k.expiration > default.expiration);
            if default.expiration - now < PROPAGATION && !successor {
                problems.push(format!(
                    "the default key {} expires {} and no successor exists (run `dpkeys ensure`)",
                    default.id,
                    format_date(default.expiration)
                ));
            }
        }
    }
    if json {
        print_json(&json!({
            "ok": problems.is_empty(),
            "keys": checks.iter().map(|c| json!({
                "id": c.id.to_string(),
                "ok": c.problem.is_none(),
                "problem": c.problem,
            })).collect::<Vec<_>>(),
            "problems": problems,
        }));
    } else {
        for c in &checks {
            match &c.problem {
                None => println!("ok       key {}", c.id),
                Some(p) => println!("PROBLEM  key {}: {p}", c.id),
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
