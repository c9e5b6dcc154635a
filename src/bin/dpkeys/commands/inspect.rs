//! `dpkeys inspect`: what a token says about itself without key material, and what the ring
//! says about its key: "which key protected this, and why does it not unprotect?".

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use data_protection::token::{
    self, EXPIRY_NOT_READABLE, Fit, Header, TokenEncoding, TokenInfo, Truncation,
};
use data_protection::{DataProtection, Error, KeyInfo, KeyStatus};
use serde_json::{Value, json};

use super::{input, print_json};
use crate::failure::Failure;
use crate::units::{format_date, to_hex};

/// `inspect` options.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Also try to unprotect with these purposes (after --app-name; repeat for a chain) to
    /// tell a wrong purpose from a damaged token and to read a time-limited expiry. The
    /// plaintext is never printed.
    #[arg(long = "purpose")]
    pub purposes: Vec<String>,
    /// Read the token from this file instead of the argument.
    #[arg(long, conflicts_with = "token")]
    pub input_file: Option<PathBuf>,
    /// The token, a cookie value, `NAME=VALUE`, or a Cookie/Set-Cookie header; `-` or nothing
    /// reads stdin.
    pub token: Option<String>,
}

/// The key the token names, as the ring sees it.
enum KeyLookup {
    /// No `--store`: the ring was not read.
    NotChecked,
    /// The ring has no such key.
    Missing,
    /// The key.
    Found(Box<KeyInfo>),
}

/// What unprotecting with `--purpose` gave.
enum Attempt {
    Plain,
    TimeLimited(time::OffsetDateTime),
    Expired(time::OffsetDateTime),
    Failed(String),
}

/// `inspect`: exit 0 when nothing visible keeps the token from unprotecting, 1 when
/// something does (listed under "problems").
pub(crate) fn run(
    dp: Option<&DataProtection>,
    a: &InspectArgs,
    json: bool,
) -> Result<ExitCode, Failure> {
    if dp.is_none() && !a.purposes.is_empty() {
        return Err(Failure::usage(
            "inspect --purpose needs the key ring: pass --store URL (and --app-name NAME)",
        ));
    }
    let raw = match &a.input_file {
        Some(path) => std::fs::read(path)
            .map_err(|e| Failure::failed(format!("cannot read {}: {e}", path.display())))?,
        None => input(a.token.as_deref())?,
    };
    let text = String::from_utf8_lossy(&raw);
    let info = token::inspect(&text);
    let lookup = match (dp, info.key_id) {
        (None, _) | (_, None) => KeyLookup::NotChecked,
        (Some(dp), Some(id)) => dp
            .keys()
            .into_iter()
            .find(|k| k.id == id)
            .map_or(KeyLookup::Missing, |k| KeyLookup::Found(Box::new(k))),
    };
    let attempt = match dp {
        Some(dp) if !a.purposes.is_empty() && info.key_id.is_some() => {
            Some(try_unprotect(dp, &a.purposes, &info.payload))
        }
        _ => None,
    };
    let problems = problems(&info, &lookup, attempt.as_ref());
    if json {
        print_json(&to_json(&info, &lookup, attempt.as_ref(), &problems));
    } else {
        print_human(&info, &lookup, attempt.as_ref(), &problems);
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn try_unprotect(dp: &DataProtection, purposes: &[String], payload: &[u8]) -> Attempt {
    let protector = dp.protector(purposes);
    match protector.unprotect(payload) {
        Ok(_) => return Attempt::Plain,
        Err(Error::PayloadExpired(at)) => return Attempt::Expired(at),
        Err(_) => {}
    }
    match protector.time_limited().unprotect(payload) {
        Ok((_, expires)) => Attempt::TimeLimited(expires),
        Err(Error::PayloadExpired(at)) => Attempt::Expired(at),
        Err(e) => Attempt::Failed(match e {
            Error::InvalidPayload => "it does not unprotect with these purposes and this \
                application name (nor as a time-limited token): the purposes or the name \
                differ, or the token was altered"
                .to_owned(),
            other => other.to_string(),
        }),
    }
}

fn problems(info: &TokenInfo, lookup: &KeyLookup, attempt: Option<&Attempt>) -> Vec<String> {
    let mut out = Vec::new();
    if let TokenEncoding::Invalid(why) = info.encoding {
        out.push(format!("not base64 text: {why}"));
        return out;
    }
    if let Some(t) = info.truncation() {
        out.push(format!("truncated: {t}"));
    }
    match info.header {
        Header::NotDataProtection { found, len } => out.push(format!(
            "not a Data Protection payload: it starts with {} where 09f0c9f0 is expected",
            to_hex(found.get(..len).unwrap_or_default())
        )),
        Header::NewerVersion(v) => out.push(format!(
            "protected with a newer payload format (version {v}) than this library reads"
        )),
        _ => {}
    }
    match lookup {
        KeyLookup::Missing => out.push(
            "its key is not in this ring: the token comes from another ring or application, or \
             the key was deleted (run `dpkeys list`)"
                .to_owned(),
        ),
        KeyLookup::Found(k) => {
            match k.status {
                KeyStatus::Revoked => {
                    out.push("its key is revoked: payloads it protected are refused".to_owned())
                }
                KeyStatus::Unreadable => out.push(format!(
                    "its key cannot be read here: {}",
                    k.problem
                        .as_ref()
                        .map_or_else(|| "unknown reason".to_owned(), ToString::to_string)
                )),
                _ => {}
            }
            if let Some(alg) = k.algorithm
                && let Some(fit) = info.fit_for(alg)
                && !fit.fits()
                && info.truncation().is_none()
            {
                out.push(format!(
                    "its size does not fit its key's algorithm {alg} ({}): it was cut or altered, or made with another key of the same id",
                    fit_text(&fit)
                ));
            }
        }
        KeyLookup::NotChecked => {}
    }
    match attempt {
        Some(Attempt::Expired(at)) => {
            out.push(format!(
                "the time-limited token expired at {}",
                format_date(*at)
            ));
        }
        Some(Attempt::Failed(why)) => out.push(why.clone()),
        _ => {}
    }
    out
}

fn status_text(status: KeyStatus) -> &'static str {
    match status {
        KeyStatus::Active => "active",
        KeyStatus::Pending => "pending (not yet protecting; it already unprotects)",
        KeyStatus::Expired => "expired (no longer protects; it still unprotects)",
        KeyStatus::Revoked => "revoked (refuses to unprotect)",
        KeyStatus::Unreadable => "unreadable (cannot be used here)",
        _ => status.as_str(),
    }
}

fn fit_text(fit: &Fit) -> String {
    match fit {
        Fit::Fits { plaintext } if plaintext.start() == plaintext.end() => {
            format!("plaintext {} bytes", plaintext.start())
        }
        Fit::Fits { plaintext } => {
            format!("plaintext {}-{} bytes", plaintext.start(), plaintext.end())
        }
        Fit::TooShort { needed } => format!("needs at least {needed} bytes after the header"),
        Fit::Misaligned => "ciphertext is not whole AES blocks".to_owned(),
        _ => "does not fit".to_owned(),
    }
}

fn encoding_text(info: &TokenInfo) -> String {
    let mut s = match info.encoding {
        TokenEncoding::Base64Url => {
            "base64url (as Protect(string), cookie authentication and antiforgery write)".to_owned()
        }
        TokenEncoding::Base64 => "standard base64 (as ASP.NET session cookies write)".to_owned(),
        TokenEncoding::Either => {
            "base64url or standard base64 (only characters both share)".to_owned()
        }
        TokenEncoding::Invalid(why) => format!("not base64: {why}"),
        _ => "unknown".to_owned(),
    };
    if info.url_escaped {
        s.push_str(", URL-escaped");
    }
    if info.padded {
        s.push_str(", with '=' padding (ASP.NET writes none)");
    }
    s
}

fn header_json(header: Header) -> Value {
    match header {
        Header::Valid => json!({"status": "valid", "version": 0}),
        Header::Truncated => json!({"status": "truncated"}),
        Header::NotDataProtection { found, len } => json!({
            "status": "not_data_protection",
            "found": to_hex(found.get(..len).unwrap_or_default()),
        }),
        Header::NewerVersion(v) => json!({"status": "newer_version", "version": v}),
        _ => json!({"status": "unknown"}),
    }
}

fn to_json(
    info: &TokenInfo,
    lookup: &KeyLookup,
    attempt: Option<&Attempt>,
    problems: &[String],
) -> Value {
    let layouts: Vec<Value> = info
        .layouts
        .iter()
        .map(|l| {
            let mut v = json!({"layout": l.layout.as_str(), "fits": l.fit.fits()});
            if let Fit::Fits { plaintext } = &l.fit {
                v["plaintext_min"] = json!(plaintext.start());
                v["plaintext_max"] = json!(plaintext.end());
            } else {
                v["reason"] = json!(fit_text(&l.fit));
            }
            v
        })
        .collect();
    let key = match lookup {
        KeyLookup::NotChecked => Value::Null,
        KeyLookup::Missing => json!({"in_ring": false, "status": "missing"}),
        KeyLookup::Found(k) => json!({
            "in_ring": true,
            "status": k.status.as_str(),
            "default": k.is_default,
            "activation": format_date(k.activation),
            "expiration": format_date(k.expiration),
            "algorithm": k.algorithm.map(|a| a.to_string()),
            "size_fits_algorithm": k.algorithm.and_then(|a| info.fit_for(a)).map(|f| f.fits()),
        }),
    };
    let expiry = match attempt {
        Some(Attempt::TimeLimited(at)) => {
            json!({"readable": true, "time_limited": true, "expires": format_date(*at)})
        }
        Some(Attempt::Expired(at)) => {
            json!({"readable": true, "time_limited": true, "expired": format_date(*at)})
        }
        Some(Attempt::Plain) => json!({"readable": true, "time_limited": false}),
        _ => json!({"readable": false, "why": EXPIRY_NOT_READABLE}),
    };
    let unprotect = match attempt {
        None => Value::Null,
        Some(Attempt::Plain | Attempt::TimeLimited(_)) => json!({"ok": true}),
        Some(Attempt::Expired(_)) => json!({"ok": false, "why": "expired"}),
        Some(Attempt::Failed(why)) => json!({"ok": false, "why": why}),
    };
    json!({
        "cookie_name": info.cookie_name,
        "encoding": info.encoding.as_str(),
        "url_escaped": info.url_escaped,
        "padded": info.padded,
        "decoded_bytes": info.payload.len(),
        "header": header_json(info.header),
        "key_id": info.key_id.map(|id| id.to_string()),
        "key": key,
        "encryptor_payload_bytes": info.key_id.map(|_| info.body_len),
        "layouts": layouts,
        "truncated": info.truncation().is_some(),
        "truncation": info.truncation().map(|t| t.to_string()),
        "expiry": expiry,
        "unprotect": unprotect,
        "problems": problems,
    })
}

fn print_human(
    info: &TokenInfo,
    lookup: &KeyLookup,
    attempt: Option<&Attempt>,
    problems: &[String],
) {
    let row = |name: &str, value: &str| println!("{name:<12}  {value}");
    if let Some(name) = &info.cookie_name {
        row("cookie", name);
    }
    row("encoding", &encoding_text(info));
    row("bytes", &info.payload.len().to_string());
    let header = match info.header {
        Header::Valid => "09f0c9f0, version 0 (an ASP.NET Core Data Protection payload)".to_owned(),
        Header::Truncated => "cut short (fewer than the 20 header bytes)".to_owned(),
        Header::NotDataProtection { found, len } => format!(
            "{} (not a Data Protection payload)",
            to_hex(found.get(..len).unwrap_or_default())
        ),
        Header::NewerVersion(v) => format!("09f0c9f{v:x}, a newer format (version {v})"),
        _ => "unknown".to_owned(),
    };
    row("header", &header);
    if matches!(info.encoding, TokenEncoding::Invalid(_)) {
        // Nothing more to read.
    } else if let Some(id) = info.key_id {
        row("key id", &id.to_string());
        let status = match lookup {
            KeyLookup::NotChecked => "not looked up (give --store to read the ring)".to_owned(),
            KeyLookup::Missing => "missing: not in this ring".to_owned(),
            KeyLookup::Found(k) => format!(
                "{}{}, {}, activates {}, expires {}",
                status_text(k.status),
                if k.is_default {
                    ", the default key"
                } else {
                    ""
                },
                k.algorithm
                    .map_or_else(|| "algorithm unknown".to_owned(), |a| a.to_string()),
                format_date(k.activation),
                format_date(k.expiration),
            ),
        };
        row("key", &status);
        if let KeyLookup::Found(k) = lookup
            && let Some(alg) = k.algorithm
            && let Some(fit) = info.fit_for(alg)
        {
            let verdict = if fit.fits() { "fits" } else { "does not fit" };
            row(
                "size",
                &format!("{verdict} the key's {alg}: {}", fit_text(&fit)),
            );
        }
        row(
            "encryptor",
            &format!("{} bytes after the header", info.body_len),
        );
        for l in &info.layouts {
            let verdict = if l.fit.fits() { "fits" } else { "no" };
            row(
                "  layout",
                &format!("{:<20} {verdict}: {}", l.layout.as_str(), fit_text(&l.fit)),
            );
        }
    }
    let expiry = match attempt {
        Some(Attempt::TimeLimited(at)) => format!("time-limited, expires {}", format_date(*at)),
        Some(Attempt::Expired(at)) => format!("time-limited, expired at {}", format_date(*at)),
        Some(Attempt::Plain) => "not time-limited (it unprotects without the wrapper)".to_owned(),
        _ => "not readable without the key: a time-limited expiry is encrypted (give --store, \
              --app-name and --purpose to read it)"
            .to_owned(),
    };
    row("expiry", &expiry);
    match attempt {
        Some(Attempt::Plain | Attempt::TimeLimited(_)) => {
            row("unprotect", "ok with these purposes");
        }
        Some(_) => row("unprotect", "fails (see problems)"),
        None => {}
    }
    row(
        "truncated",
        &info.truncation().map_or_else(
            || "no sign of it".to_owned(),
            |t: Truncation| format!("yes: {t}"),
        ),
    );
    if problems.is_empty() {
        row("problems", "none visible");
    }
    for p in problems {
        row("problem", p);
    }
}
