//! The command line, as clap parses it.

use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::commands::{copy, inspect, protect, prune, revoke, rotate, unprotect};
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

    /// Encrypt new keys to this certificate, and decrypt keys encrypted to it (ASP.NET Core's
    /// ProtectKeysWithCertificate form). Repeat for certificate rotation: the first encrypts,
    /// all decrypt. A PKCS#12 file (.pfx, .p12; password from --certificate-password-env), a
    /// PEM file holding the certificate and its key, or CERT.pem,KEY.pem (PKCS#8 or PKCS#1).
    /// A PEM certificate without key only encrypts.
    #[arg(
        long = "certificate",
        env = "DPKEYS_CERTIFICATE",
        global = true,
        value_name = "FILE"
    )]
    pub certificates: Vec<String>,

    /// The environment variable holding the PKCS#12 password.
    #[arg(
        long,
        env = "DPKEYS_CERTIFICATE_PASSWORD_ENV",
        global = true,
        default_value = "DPKEYS_CERTIFICATE_PASSWORD",
        value_name = "VAR"
    )]
    pub certificate_password_env: String,

    /// Encrypt new keys under the key-encryption key in this file (32 raw bytes or their
    /// base64), and decrypt keys under it. Repeat for rotation: the first encrypts, all
    /// decrypt. ASP.NET Core nodes cannot read this form.
    #[arg(
        long = "kek-file",
        env = "DPKEYS_KEK_FILE",
        global = true,
        value_name = "FILE"
    )]
    pub kek_files: Vec<std::path::PathBuf>,

    /// Write new keys unencrypted without the warning (stores that are themselves encrypted
    /// and access-controlled).
    #[arg(long, env = "DPKEYS_ALLOW_UNENCRYPTED_KEYS", global = true)]
    pub allow_unencrypted_keys: bool,

    /// Machine-readable JSON output (list, ensure, rotate, revoke, check, prune, copy, inspect).
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
    /// Decodes TOKEN (or a cookie, or stdin) without key material: its encoding, header, key
    /// id, the algorithms its size fits, truncation; with --store, its key's status in the
    /// ring. Exits 1 when something visible keeps it from unprotecting.
    Inspect(inspect::InspectArgs),
    /// Reads every key, derives from it, and reports problems; exits 1 if there are any.
    Check,
    /// Copies every key and revocation to another store (migration). Existing elements of the
    /// target are kept.
    Copy(copy::CopyArgs),
}
