//! The command line, as clap parses it.

use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::commands::{copy, protect, prune, revoke, rotate, unprotect};
use crate::units::parse_duration;

/// Rotate, list, revoke and prune the keys of an ASP.NET Core compatible key ring; protect and
/// unprotect payloads with it.
///
/// Exit codes: 0 success, 1 the operation failed (a token could not be unprotected, a check
/// found problems, the store failed), 2 usage or configuration error.
#[derive(Debug, Parser)]
#[command(name = "dpkeys", version, max_term_width = 100)]
pub(crate) struct Cli {
    /// The key store URL (the help text lists the forms).
    #[arg(
        long,
        env = "DPKEYS_STORE",
        global = true,
        help = "The key store: a directory path or file://PATH, redis://HOST:PORT[/DB][?key=LIST], \
                rediss://…, postgres://USER:PASSWORD@HOST:PORT/DB[?table=TABLE&schema=SCHEMA] (EF Core's \
                DataProtectionKeys table; sslmode=require&sslrootcert=CA_FILE for TLS), \
                s3://BUCKET/PREFIX, az://CONTAINER/PREFIX, gs://BUCKET/PREFIX, with \
                ?layout=single-blob for ASP.NET Core's single-blob layout. Cloud credentials come \
                from the usual environment variables."
    )]
    pub store: Option<String>,

    /// The application name: the first purpose of every protector (ASP.NET Core's
    /// SetApplicationName). Needed by protect and unprotect.
    #[arg(long, env = "DPKEYS_APP_NAME", global = true)]
    pub app_name: Option<String>,

    /// Machine-readable JSON output (list, ensure, rotate, revoke, check, prune, copy).
    #[arg(long, global = true)]
    pub json: bool,

    /// Give up on a store operation after this long (e.g. 30s, 2m).
    #[arg(long, env = "DPKEYS_TIMEOUT", global = true, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// More logging on stderr (-v: info, -vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Every key: id, created, activates, expires, status, and which is the default.
    List,
    /// What a scheduled job runs: creates a successor key only when the rotation policy says
    /// one is due. Idempotent, and race-free when many jobs run at once.
    Ensure,
    /// Creates a new key now.
    Rotate(rotate::RotateArgs),
    /// Revokes one key, or every key created before a date.
    Revoke(revoke::RevokeArgs),
    /// Deletes keys that expired long ago (never the default, an active or a pending key) and
    /// revocations that no longer apply.
    Prune(prune::PruneArgs),
    /// Protects TEXT (or stdin) and prints the token (base64url, no padding).
    Protect(protect::ProtectArgs),
    /// Unprotects TOKEN (or stdin) and prints the plaintext.
    Unprotect(unprotect::UnprotectArgs),
    /// Reads every key, derives from it, and reports problems; exits 1 if there are any.
    Check,
    /// Copies every key and revocation to another store (migration). Existing elements of the
    /// target are kept.
    Copy(copy::CopyArgs),
}
