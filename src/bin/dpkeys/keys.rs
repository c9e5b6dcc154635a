//! Key-ring commands: list, ensure, rotate, revoke, prune, check, copy.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use data_protection::repository::{StoreOutcome, XmlRepository, element_name};
use data_protection::xml::XmlElement;
use data_protection::{DataProtection, KeyId, KeyInfo, PrunedElement};
use serde_json::{Value, json};

use crate::args::{PruneArgs, RevokeArgs, RotateArgs};
use crate::failure::Failure;
use crate::units::{format_date, format_date_short};

/// The propagation window `rotate` waits by default before a new key activates.
const PROPAGATION: time::Duration = time::Duration::days(2);

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn key_json(k: &KeyInfo) -> Value {
    json!({
        "id": k.id.to_string(),
        "created": format_date(k.created),
        "activation": format_date(k.activation),
        "expiration": format_date(k.expiration),
        "status": k.status.as_str(),
        "revoked": k.revoked,
        "default": k.is_default,
        "algorithm": k.algorithm.map(|a| a.to_string()),
        "problem": k.problem.as_ref().map(|p| p.to_string()),
    })
}

/// `list`.
pub fn list(dp: &DataProtection, json: bool) -> Result<ExitCode, Failure> {
    let keys = dp.keys();
    if json {
        print_json(&json!({
            "keys": keys.iter().map(key_json).collect::<Vec<_>>(),
            "default_key": dp.default_key().map(|id| id.to_string()),
            "problems": dp.problems(),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    if keys.is_empty() {
        println!("no keys (run `dpkeys ensure` to create the first one)");
    } else {
        println!(
            "{:<36}  {:<20}  {:<20}  {:<20}  {:<10}  DEFAULT",
            "ID", "CREATED", "ACTIVATES", "EXPIRES", "STATUS"
        );
        for k in &keys {
            println!(
                "{:<36}  {:<20}  {:<20}  {:<20}  {:<10}  {}",
                k.id,
                format_date_short(k.created),
                format_date_short(k.activation),
                format_date_short(k.expiration),
                k.status.as_str(),
                if k.is_default { "*" } else { "" }
            );
        }
    }
    for problem in dp.problems() {
        eprintln!("warning: {problem}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `ensure`.
pub async fn ensure(dp: &DataProtection, json: bool) -> Result<ExitCode, Failure> {
    let outcome = dp.ensure_key_forced().await?;
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

/// `rotate`.
pub async fn rotate(dp: &DataProtection, a: &RotateArgs, json: bool) -> Result<ExitCode, Failure> {
    let now = dp.clock().now();
    let activation = match (a.activate_now, a.activation) {
        (true, _) => now,
        (false, Some(date)) => date,
        (false, None) => now + PROPAGATION,
    };
    let lifetime = time::Duration::try_from(a.lifetime)
        .map_err(|_| Failure::usage("--lifetime is too long"))?;
    if lifetime.is_zero() {
        return Err(Failure::usage("--lifetime must be longer than 0s"));
    }
    let expiration = activation + lifetime;
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

/// `revoke`.
pub async fn revoke(dp: &DataProtection, a: &RevokeArgs, json: bool) -> Result<ExitCode, Failure> {
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

fn pruned_json(list: &[PrunedElement]) -> Value {
    list.iter()
        .map(|p| json!({ "name": p.name, "reason": p.reason }))
        .collect()
}

/// `prune`.
pub async fn prune(dp: &DataProtection, a: &PruneArgs, json: bool) -> Result<ExitCode, Failure> {
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

/// `check`: exit 1 when any key or element has a problem, or nothing can protect.
pub async fn check(dp: &DataProtection, json: bool) -> Result<ExitCode, Failure> {
    let checks = dp.check_keys().await?;
    let mut problems: Vec<String> = dp.problems();
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

/// `copy`: every element of `from` into `to`, under its name; existing names are kept.
pub async fn copy(
    from: Arc<dyn XmlRepository>,
    to: Arc<dyn XmlRepository>,
    timeout: Duration,
    json: bool,
) -> Result<ExitCode, Failure> {
    let within = |what: String| move |_| Failure::failed(format!("{what}: timed out"));
    let elements = tokio::time::timeout(timeout, from.get_all_elements())
        .await
        .map_err(within(format!("reading {}", from.describe())))??;
    let (mut created, mut existing, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for stored in &elements {
        let parsed = XmlElement::parse(&stored.xml);
        let name = stored
            .name
            .clone()
            .or_else(|| parsed.as_ref().ok().and_then(element_name));
        let (Ok(xml), Some(name)) = (parsed, name) else {
            skipped.push(stored.name.clone().unwrap_or_else(|| "(unnamed)".into()));
            continue;
        };
        let outcome = tokio::time::timeout(timeout, to.store_element(&xml, &name))
            .await
            .map_err(within(format!("writing {name} to {}", to.describe())))??;
        match outcome {
            StoreOutcome::Created => created.push(name),
            StoreOutcome::AlreadyExists => existing.push(name),
        }
    }
    if json {
        print_json(&json!({ "copied": created, "existing": existing, "skipped": skipped }));
    } else {
        for n in &created {
            println!("copied {n}");
        }
        for n in &existing {
            println!("exists {n} (kept the target's)");
        }
        for n in &skipped {
            eprintln!("warning: skipped {n}: not a readable key or revocation");
        }
        println!(
            "{} copied, {} already there, {} skipped, from {} to {}",
            created.len(),
            existing.len(),
            skipped.len(),
            from.describe(),
            to.describe()
        );
    }
    Ok(if skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
