//! `dpkeys copy`: every element into another store.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use data_protection::repository::{StoreOutcome, XmlRepository, element_name};
use data_protection::xml::XmlElement;
use serde_json::json;

use super::print_json;
use crate::failure::Failure;

/// `copy` options.
#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// The target store (same forms as --store).
    #[arg(long)]
    pub to: String,
}

/// `copy`: every element of `from` into `to`, under its name; existing names are kept.
pub(crate) async fn run(
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
