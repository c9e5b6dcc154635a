//! `dpkeys protect`: a token for plaintext read from stdin (or, with a warning, an argument).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Args;
use data_protection::DataProtection;

use super::{input, write_stdout};
use crate::failure::Failure;
use crate::units::{from_hex, parse_duration};

/// `protect` options.
#[derive(Debug, Args)]
pub(crate) struct ProtectArgs {
    /// A purpose, after the application name; repeat for a chain, in order.
    #[arg(long = "purpose", required = true)]
    pub purposes: Vec<String>,
    /// Make a time-limited payload that expires after this long (e.g. 1h).
    #[arg(long, value_parser = parse_duration)]
    pub time_limit: Option<Duration>,
    /// The input is hex, not raw bytes.
    #[arg(long)]
    pub hex_input: bool,
    /// Read the plaintext from this file instead of stdin.
    #[arg(long, conflicts_with = "text")]
    pub input_file: Option<PathBuf>,
    /// The plaintext as an argument. AVOID: arguments are visible to every process on the
    /// machine (ps, /proc) and stay in shell history; pipe it on stdin or use --input-file.
    /// `-` reads stdin.
    pub text: Option<String>,
}

/// `protect`: prints the token and a newline.
pub(crate) fn run(dp: &DataProtection, a: &ProtectArgs) -> Result<ExitCode, Failure> {
    let raw = match (&a.input_file, a.text.as_deref()) {
        (Some(path), _) => std::fs::read(path).map_err(|e| {
            Failure::usage(format!("cannot read --input-file {}: {e}", path.display()))
        })?,
        (None, Some(text)) if text != "-" => {
            eprintln!(
                "dpkeys: warning: the plaintext was given as an argument, which other processes \
                 can read; pipe it on stdin or use --input-file"
            );
            text.as_bytes().to_vec()
        }
        (None, _) => input(None)?,
    };
    let plaintext = if a.hex_input {
        from_hex(&String::from_utf8_lossy(&raw)).map_err(Failure::usage)?
    } else {
        raw
    };
    let protector = dp.protector(&a.purposes);
    let token = match a.time_limit {
        Some(lifetime) => protector.time_limited().protect_for(&plaintext, lifetime)?,
        None => protector.protect(&plaintext)?,
    };
    write_stdout(format!("{}\n", URL_SAFE_NO_PAD.encode(token)).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
