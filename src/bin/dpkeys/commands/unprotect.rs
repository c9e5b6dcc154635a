//! `dpkeys unprotect`: the plaintext of a token.

use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Args;
use data_protection::DataProtection;
use data_protection::cookie_formats::ticket::{AuthenticationTicket, ClaimsIdentity};
use serde_json::{Map, Value, json};

use super::{input, write_stdout};
use crate::failure::Failure;
use crate::units::{format_date, to_hex};

/// `unprotect` options.
#[derive(Debug, Args)]
pub(crate) struct UnprotectArgs {
    /// A purpose, after the application name; repeat for a chain, in order.
    #[arg(long = "purpose", required_unless_present = "ticket")]
    pub purposes: Vec<String>,
    /// The token is an ASP.NET cookie-authentication cookie (`.AspNetCore.Cookies`, chunks
    /// joined): print the decoded ticket as JSON. The purposes default to cookie
    /// authentication's for `--scheme`.
    #[arg(long, conflicts_with_all = ["time_limited", "hex"])]
    pub ticket: bool,
    /// The authentication scheme of `--ticket` (default `Cookies`).
    #[arg(long, default_value = "Cookies", requires = "ticket")]
    pub scheme: String,
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
    if a.ticket {
        return print_ticket(dp, a, &bytes).await;
    }
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

/// `unprotect --ticket`: the ticket as JSON (claims, properties, expiry).
async fn print_ticket(
    dp: &DataProtection,
    a: &UnprotectArgs,
    bytes: &[u8],
) -> Result<ExitCode, Failure> {
    let purposes: Vec<String> = if a.purposes.is_empty() {
        vec![
            "Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationMiddleware".into(),
            a.scheme.clone(),
            "v2".into(),
        ]
    } else {
        a.purposes.clone()
    };
    let plaintext = dp.protector(&purposes).unprotect_async(bytes).await?;
    let ticket = AuthenticationTicket::decode(&plaintext).map_err(|e| {
        Failure::failed(format!(
            "the payload unprotected but is not an authentication ticket: {e}"
        ))
    })?;
    let now = time::OffsetDateTime::now_utc();
    let properties: Map<String, Value> = ticket
        .properties
        .items()
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect();
    let out = json!({
        "scheme": ticket.scheme,
        "name": ticket.name(),
        "roles": ticket.roles().collect::<Vec<_>>(),
        "issued": ticket.issued_utc().map(format_date),
        "expires": ticket.expires_utc().map(format_date),
        "expired": ticket.is_expired_at(now),
        "persistent": ticket.properties.is_persistent(),
        "allow_refresh": ticket.properties.allow_refresh(),
        "identities": ticket.identities.iter().map(identity_json).collect::<Vec<_>>(),
        "properties": properties,
    });
    let text = serde_json::to_string_pretty(&out)
        .map_err(|e| Failure::failed(format!("cannot print the ticket: {e}")))?;
    write_stdout(format!("{text}\n").as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn identity_json(identity: &ClaimsIdentity) -> Value {
    json!({
        "authentication_type": identity.authentication_type,
        "name_claim_type": identity.name_claim_type,
        "role_claim_type": identity.role_claim_type,
        "claims": identity.claims.iter().map(|c| json!({
            "type": c.claim_type,
            "value": c.value,
            "value_type": c.value_type,
            "issuer": c.issuer,
            "original_issuer": c.original_issuer,
            "properties": c.properties.iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect::<Map<String, Value>>(),
        })).collect::<Vec<_>>(),
        // A bootstrap context is usually a token: say it is there, never print it.
        "has_bootstrap_context": identity.bootstrap_context.is_some(),
        "actor": identity.actor.as_deref().map(identity_json),
    })
}
