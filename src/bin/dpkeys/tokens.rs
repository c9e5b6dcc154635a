//! `protect` and `unprotect`.

use std::io::{Read, Write};
use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use data_protection::DataProtection;

use crate::args::{ProtectArgs, UnprotectArgs};
use crate::failure::Failure;
use crate::units::{format_date, from_hex, to_hex};

/// The argument, or stdin when it is absent or `-`.
fn input(arg: Option<&str>) -> Result<Vec<u8>, Failure> {
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

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::failed(format!("cannot write stdout: {e}")))
}

/// `protect`: prints the token and a newline.
pub fn protect(dp: &DataProtection, a: &ProtectArgs) -> Result<ExitCode, Failure> {
    let raw = input(a.text.as_deref())?;
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

/// `unprotect`: prints the plaintext bytes exactly (or hex and a newline with `--hex`).
pub async fn unprotect(dp: &DataProtection, a: &UnprotectArgs) -> Result<ExitCode, Failure> {
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
