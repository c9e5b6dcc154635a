//! `dpkeys unprotect`: the plaintext of a token.

use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Args;
use data_protection::DataProtection;

use super::{input, write_stdout};
use crate::failure::Failure;
use crate::units::{format_date, to_hex};

/// `unprotect` options.
#[derive(Debug, Args)]
pub(crate) struct UnprotectArgs {
    /// A purpose, after the application name; repeat for a chain, in order.
    #[arg(long = "purpose", required = true)]
    pub purposes: Vec<String>,
    /// The token is time-limited (ITimeLimitedDataProtector); its expiry goes to stderr.
    #[arg(long)]
    pub time_limited: bool,
    /// Print the plaintext as lowercase hex.
    #[arg(long)]
    pub hex: bool,
    /// The token; `-` or nothing reads stdin.
    pub token: Option<String>,
}

/// `unprotect`: prints the plaintext bytes exactly (or hex and a newline with `--hex`).
pub(crate) async fn run(dp: &DataProtection, a: &UnprotectArgs) -> Result<ExitCode, Failure> {
    let raw = input(a.token.as_deref())?;
    let text = String::from_utf8_lossy(&raw);
    let token = text.trim().trim_end_matches('=');
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| {
        Failure::failed("the token is not base64url text (as ASP.NET Core's Protect(string) makes)")
    })?;
    let protector = dp.protector(&a.purposes);
    let plaintext = if a.time_limited {
        let (plaintext, expires) = protector.time_limited().unprotect_async(&bytes).await?;
        eprintln!("expires {}", format_date(expires));
        plaintext
    } else {
        protector.unprotect_async(&bytes).await?
    };
    if a.hex {
        write_stdout(format!("{}\n", to_hex(&plaintext)).as_bytes())?;
    } else {
        write_stdout(&plaintext)?;
    }
    Ok(ExitCode::SUCCESS)
}
