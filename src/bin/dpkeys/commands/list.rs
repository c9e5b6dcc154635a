//! `dpkeys list`: every key and the default.

use std::process::ExitCode;

use data_protection::DataProtection;
use serde_json::json;

use super::{decryptable, key_json, print_json};
use crate::failure::Failure;
use crate::units::format_date_short;

/// `list`.
pub(crate) fn run(dp: &DataProtection, json: bool) -> Result<ExitCode, Failure> {
    let keys = dp.keys();
    if json {
        print_json(&json!({
            "keys": keys.iter().map(key_json).collect::<Vec<_>>(),
            "default_key": dp.default_key().map(|id| id.to_string()),
            "problems": dp.problems().iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    if keys.is_empty() {
        println!("no keys (run `dpkeys ensure` to create the first one)");
    } else {
        println!(
            "{:<36}  {:<20}  {:<20}  {:<20}  {:<10}  {:<7}  ENCRYPTED TO",
            "ID", "CREATED", "ACTIVATES", "EXPIRES", "STATUS", "DEFAULT"
        );
        for k in &keys {
            println!(
                "{:<36}  {:<20}  {:<20}  {:<20}  {:<10}  {:<7}  {}",
                k.id,
                format_date_short(k.created),
                format_date_short(k.activation),
                format_date_short(k.expiration),
                k.status.as_str(),
                if k.is_default { "*" } else { "" },
                encryption(k),
            );
        }
    }
    for problem in dp.problems() {
        eprintln!("warning: {problem}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The last column: what the secret is encrypted to, and whether this node can decrypt it.
fn encryption(k: &data_protection::KeyInfo) -> String {
    match (&k.encrypted_to, decryptable(k)) {
        (None, _) => "-".to_owned(),
        (Some(to), true) => to.clone(),
        (Some(to), false) => format!("{to} [cannot decrypt here]"),
    }
}
