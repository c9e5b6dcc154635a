//! The subcommands, one file each; `args.rs` registers them and `main.rs` dispatches.

pub(crate) mod check;
pub(crate) mod copy;
pub(crate) mod ensure;
pub(crate) mod inspect;
pub(crate) mod list;
pub(crate) mod protect;
pub(crate) mod prune;
pub(crate) mod revoke;
pub(crate) mod rotate;
pub(crate) mod unprotect;

use std::io::{Read, Write};

use data_protection::{KeyInfo, KeyProblem};
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::units::format_date;

/// The propagation window `rotate` waits by default before a new key activates.
pub(crate) const PROPAGATION: time::Duration = time::Duration::days(2);

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// A key as JSON, for `list` and `check`.
pub(crate) fn key_json(k: &KeyInfo) -> Value {
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
        "encrypted_to": k.encrypted_to,
        "decryptable": decryptable(k),
    })
}

/// Whether this node can decrypt the key's stored secret (true for plaintext keys).
pub(crate) fn decryptable(k: &KeyInfo) -> bool {
    !matches!(
        k.problem,
        Some(KeyProblem::Undecryptable { .. } | KeyProblem::EncryptedSecret(_))
    )
}

/// The argument, or stdin when it is absent or `-`.
pub(crate) fn input(arg: Option<&str>) -> Result<Vec<u8>, Failure> {
    match arg {
        Some(text) if text != "-" => Ok(text.as_bytes().to_vec()),
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Failure::failed(format!("cannot read stdin: {e}")))?;
            Ok(buf)
        }
    }
}

pub(crate) fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::failed(format!("cannot write stdout: {e}")))
}
