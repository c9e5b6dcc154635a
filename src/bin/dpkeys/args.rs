//! The command line, as clap parses it.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use time::OffsetDateTime;

use crate::units::{parse_date, parse_duration};

/// Rotate, list, revoke and prune the keys of an ASP.NET Core compatible key ring; protect and
/// unprotect payloads with it.
///
/// Exit codes: 0 success, 1 the operation failed (a token could not be unprotected, a check
/// found problems, the store failed), 2 usage or configuration error.
#[derive(Debug, Parser)]
#[command(name = "dpkeys", version, max_term_width = 100)]
pub struct Cli {
    /// The key store URL (the help text lists the forms).
    #[arg(
        long,
        env = "DPKEYS_STORE",
        global = true,
        help = "The key store: a directory path or file://PATH, redis://HOST:PORT[/DB][?key=LIST], \
                rediss://…, s3://BUCKET/PREFIX, az://CONTAINER/PREFIX, gs://BUCKET/PREFIX, with \
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
pub enum Command {
    /// Every key: id, created, activates, expires, status, and which is the default.
    List,
    /// What a scheduled job runs: creates a successor key only when the rotation policy says
    /// one is due. Idempotent, and race-free when many jobs run at once.
    Ensure,
    /// Creates a new key now.
    Rotate(RotateArgs),
    /// Revokes one key, or every key created before a date.
    Revoke(RevokeArgs),
    /// Deletes keys that expired long ago (never the default, an active or a pending key) and
    /// revocations that no longer apply.
    Prune(PruneArgs),
    /// Protects TEXT (or stdin) and prints the token (base64url, no padding).
    Protect(ProtectArgs),
    /// Unprotects TOKEN (or stdin) and prints the plaintext.
    Unprotect(UnprotectArgs),
    /// Reads every key, derives from it, and reports problems; exits 1 if there are any.
    Check,
    /// Copies every key and revocation to another store (migration). Existing elements of the
    /// target are kept.
    Copy(CopyArgs),
}

/// `rotate` options.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Activate the new key at once. Nodes still prefer a default key older than the
    /// propagation window (2 days) over a brand-new one, as ASP.NET Core does, unless that
    /// default is revoked: to replace a compromised key, revoke it. Default: activate after
    /// the propagation window, so every node knows the key before it is used.
    #[arg(long, conflicts_with = "activation")]
    pub activate_now: bool,
    /// Activation date (RFC 3339).
    #[arg(long, value_parser = parse_date)]
    pub activation: Option<OffsetDateTime>,
    /// How long the key protects new payloads (e.g. 90d).
    #[arg(long, default_value = "90d", value_parser = parse_duration)]
    pub lifetime: Duration,
}

/// `revoke` options.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The key to revoke.
    #[arg(
        required_unless_present = "all_created_before",
        conflicts_with = "all_created_before"
    )]
    pub key_id: Option<String>,
    /// Revoke every key created before this date (RFC 3339).
    #[arg(long, value_parser = parse_date)]
    pub all_created_before: Option<OffsetDateTime>,
    /// The reason, stored with the revocation.
    #[arg(long, default_value = "revoked with dpkeys")]
    pub reason: String,
}

/// `prune` options.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete keys that expired at least this long ago (e.g. 180d).
    #[arg(long, value_parser = parse_duration)]
    pub expired_for: Duration,
    /// Report what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `protect` options.
#[derive(Debug, Args)]
pub struct ProtectArgs {
    /// A purpose, after the application name; repeat for a chain, in order.
    #[arg(long = "purpose", required = true)]
    pub purposes: Vec<String>,
    /// Make a time-limited payload that expires after this long (e.g. 1h).
    #[arg(long, value_parser = parse_duration)]
    pub time_limit: Option<Duration>,
    /// The input is hex, not raw bytes.
    #[arg(long)]
    pub hex_input: bool,
    /// The plaintext; `-` or nothing reads stdin.
    pub text: Option<String>,
}

/// `unprotect` options.
#[derive(Debug, Args)]
pub struct UnprotectArgs {
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

/// `copy` options.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The target store (same forms as --store).
    #[arg(long)]
    pub to: String,
}
