//! What the PostgreSQL key store and the PostgreSQL session store share: reading a
//! connection string (with this crate's own parameters taken out), TLS through rustls, the
//! connection pool, quoting of table names, deadlines, and the mapping of errors to
//! [`StoreError`] kinds.
//!
//! The client is `tokio-postgres` with a `deadpool-postgres` pool: both are widely used and
//! maintained, async without a macro or build step, and the pool takes a user's own
//! `tokio_postgres::Config` or an existing pool.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;

use crate::error::{Error, StoreError, StoreErrorKind};

/// Default deadline of one store operation (all its round trips, and waiting for a connection).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default time allowed to open a connection (TCP, TLS and authentication).
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where connections come from.
#[derive(Clone)]
pub(crate) enum Source {
    /// A connection string (`postgres://…` or `host=… user=…`).
    Url(String),
    /// A pool the application built.
    Pool(Pool),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Connection strings may hold a password: show the address only.
            Self::Url(url) => f
                .debug_tuple("Url")
                .field(&parse(url, &[]).map_or_else(|_| "(invalid)".to_owned(), |p| p.address))
                .finish(),
            Self::Pool(_) => f.write_str("Pool(..)"),
        }
    }
}

/// A connection string split into what `tokio-postgres` reads and this crate's parameters.
pub(crate) struct Parsed {
    pub(crate) config: tokio_postgres::Config,
    /// The parameters named in `own`, percent-decoded.
    pub(crate) own: BTreeMap<String, String>,
    /// `host:port/dbname`, never a password.
    pub(crate) address: String,
}

/// The URL forms, for error messages.
pub(crate) const FORMS: &str = "postgres://[USER[:PASSWORD]@]HOST[:PORT]/DBNAME[?sslmode=disable|prefer|require][&sslrootcert=CA_PEM_FILE]";

/// Parses a `postgres://` / `postgresql://` URL or a `key=value` connection string. The
/// query parameters listed in `own` (and `sslrootcert`, which `tokio-postgres` does not
/// read) are taken out before the rest goes to `tokio-postgres`.
pub(crate) fn parse(url: &str, own: &[&str]) -> Result<Parsed, Error> {
    let bad = |why: &str| {
        Error::Config(format!(
            "invalid PostgreSQL connection string: {why}; use {FORMS}"
        ))
    };
    let mut mine = BTreeMap::new();
    let rest = if url.contains("://") {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name == "sslrootcert" || own.contains(&name) {
                let value = percent_decode(value)
                    .ok_or_else(|| bad(&format!("bad percent-encoding in {name}")))?;
                mine.insert(name.to_owned(), value);
            } else {
                kept.push(pair);
            }
        }
        if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        url.to_owned()
    };
    let config = tokio_postgres::Config::from_str(&rest).map_err(|e| bad(&e.to_string()))?;
    if config.get_hosts().is_empty() {
        return Err(bad("no host"));
    }
    let address = address_of(&config);
    Ok(Parsed {
        config,
        own: mine,
        address,
    })
}

/// `host:port/dbname` of a configuration (first host), for descriptions.
pub(crate) fn address_of(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// Connection settings beyond the connection string.
#[derive(Clone, Debug)]
pub(crate) struct ConnectOptions {
    pub(crate) root_certificate: Option<Vec<u8>>,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_connections: usize,
}

/// Builds the pool for `source` (or takes the given one) and a description. No I/O but
/// reading a CA file.
pub(crate) fn pool(
    source: &Source,
    own: &[&str],
    options: &ConnectOptions,
) -> Result<(Pool, String, BTreeMap<String, String>), Error> {
    let url = match source {
        Source::Pool(pool) => {
            return Ok((
                pool.clone(),
                "(application pool)".to_owned(),
                BTreeMap::new(),
            ));
        }
        Source::Url(url) => url,
    };
    let Parsed {
        mut config,
        own: mine,
        address,
    } = parse(url, own)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.connect_timeout);
    }
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = if config.get_ssl_mode() == SslMode::Disable {
        Manager::from_config(config, tokio_postgres::NoTls, manager_config)
    } else {
        let ca = match (&options.root_certificate, mine.get("sslrootcert")) {
            (Some(pem), _) => Some(pem.clone()),
            (None, Some(path)) => Some(std::fs::read(path).map_err(|e| {
                Error::Config(format!("cannot read the PostgreSQL CA file {path}: {e}"))
            })?),
            (None, None) => None,
        };
        match tls_config(ca.as_deref(), config.get_ssl_mode())? {
            Some(tls) => Manager::from_config(
                config,
                tokio_postgres_rustls::MakeRustlsConnect::new(tls),
                manager_config,
            ),
            None => Manager::from_config(config, tokio_postgres::NoTls, manager_config),
        }
    };
    let pool = Pool::builder(manager)
        .max_size(options.max_connections.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(options.timeout))
        // Opening includes TLS and SCRAM authentication, which can take far longer than the
        // TCP connect under load; the operation deadline bounds it.
        .create_timeout(Some(options.timeout.max(options.connect_timeout)))
        .recycle_timeout(Some(options.timeout))
        .build()
        .map_err(|e| Error::Config(format!("PostgreSQL pool for {address}: {e}")))?;
    Ok((pool, address, mine))
}

/// The rustls client settings: the given CA, else the system's roots. `None` (plain
/// connections) only for `sslmode=prefer` on a system without roots. Certificates are always
/// verified, host name included (what libpq calls `verify-full`).
fn tls_config(ca: Option<&[u8]>, mode: SslMode) -> Result<Option<rustls::ClientConfig>, Error> {
    ensure_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(pem) => {
            let mut n = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| {
                    Error::Config(format!("the PostgreSQL CA is not valid PEM: {e}"))
                })?;
                roots.add(cert).map_err(|e| {
                    Error::Config(format!("the PostgreSQL CA certificate is not usable: {e}"))
                })?;
                n += 1;
            }
            if n == 0 {
                return Err(Error::Config(
                    "the PostgreSQL CA file holds no certificate".into(),
                ));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                if mode == SslMode::Require {
                    return Err(Error::Config(
                        "sslmode=require but no CA: give sslrootcert=PEM_FILE (or a root \
                         certificate in the builder), or install the system's CA certificates"
                            .into(),
                    ));
                }
                return Ok(None);
            }
        }
    }
    Ok(Some(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// rustls needs one process-wide crypto provider; choose aws-lc-rs, as this crate's features do.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may install one at the same moment; either is fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`) of a connection-string parameter.
pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool, Error> {
    match value {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(Error::Config(format!(
            "{name}={other:?}: use true or false"
        ))),
    }
}

/// `"name"`, with inner quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Checks a schema or table name: 1 to 63 bytes, no NUL.
pub(crate) fn check_ident(what: &str, name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > 63 || name.contains('\0') {
        return Err(Error::Config(format!(
            "the PostgreSQL {what} name {name:?} must be 1 to 63 bytes without NUL"
        )));
    }
    Ok(())
}

/// Runs `$body` (an async block's contents using `$client`, a pooled
/// `&mut deadpool_postgres::Object`, and returning `Result<T, tokio_postgres::Error>`) and maps
/// its error to a [`StoreError`]; when the connection turns out to be lost (a server that
/// restarted), runs it once more on a fresh one. A macro, not a function taking an async
/// closure, because the futures must be `Send` for every borrow of the client.
macro_rules! pg_run {
    ($pg:expr, $context:expr, |$client:ident| $body:block) => {{
        let pg: &$crate::postgres_client::Pg = $pg;
        let mut retried = false;
        loop {
            #[allow(unused_mut)]
            let mut $client = pg.client().await?;
            let result: Result<_, tokio_postgres::Error> = async { $body }.await;
            match result {
                Err(e) if !retried && $crate::postgres_client::is_connection_lost(&e) => {
                    tracing::debug!(store = %pg.describe(), "connection lost, retrying once: {e}");
                    retried = true;
                }
                other => break other.map_err(|e| pg.error($context, e)),
            }
        }
    }};
}
pub(crate) use pg_run;

/// A store's pool, description and deadline.
#[derive(Clone)]
pub(crate) struct Pg {
    pool: Pool,
    describe: Arc<str>,
    timeout: Duration,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg")
            .field("store", &self.describe)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Pg {
    pub(crate) fn new(pool: Pool, describe: String, timeout: Duration) -> Self {
        Self {
            pool,
            describe: describe.into(),
            timeout,
        }
    }

    pub(crate) fn describe(&self) -> &str {
        &self.describe
    }

    /// A pooled connection (waits at most the deadline).
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| self.pool_error(e))
    }

    /// Runs `op` under the store's deadline; running out of time is a
    /// [`Timeout`](StoreErrorKind::Timeout).
    pub(crate) async fn bounded<T>(
        &self,
        context: &str,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::new(
                StoreErrorKind::Timeout,
                &self.describe,
                format!("{context}: no answer within {:?}", self.timeout),
            )),
        }
    }

    /// A query error as a store error.
    pub(crate) fn error(&self, context: &str, e: tokio_postgres::Error) -> StoreError {
        let kind = classify(&e);
        StoreError::new(
            kind,
            &self.describe,
            format!("{context}: {}", describe_error(&e)),
        )
        .with_source(e)
    }

    fn pool_error(&self, e: PoolError) -> StoreError {
        match e {
            PoolError::Timeout(which) => {
                let what = match which {
                    deadpool_postgres::TimeoutType::Wait => "waiting for a pooled connection",
                    deadpool_postgres::TimeoutType::Create => "opening a connection",
                    deadpool_postgres::TimeoutType::Recycle => "checking a pooled connection",
                };
                StoreError::new(
                    StoreErrorKind::Timeout,
                    &self.describe,
                    format!("connecting: {what} took longer than allowed"),
                )
            }
            PoolError::Backend(e) => self.error("connecting", e),
            other => StoreError::new(
                StoreErrorKind::Other,
                &self.describe,
                format!("connecting: {other}"),
            ),
        }
    }
}

/// Whether an error means the connection is gone, so the operation is worth one more try on
/// a fresh connection (a server that restarted).
pub(crate) fn is_connection_lost(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || matches!(
            e.code(),
            Some(c) if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CRASH_SHUTDOWN
        )
}

/// The kind of store failure an error is.
pub(crate) fn classify(e: &tokio_postgres::Error) -> StoreErrorKind {
    let Some(code) = e.code() else {
        // No SQLSTATE: I/O, a closed connection, TLS, or a connect timeout.
        let text = e.to_string();
        return if text.contains("timeout") || text.contains("timed out") {
            StoreErrorKind::Timeout
        } else {
            StoreErrorKind::Unavailable
        };
    };
    let class = code.code().get(..2).unwrap_or("");
    match class {
        "28" => StoreErrorKind::Denied, // invalid authorization
        "08" | "57" | "53" => StoreErrorKind::Unavailable, // connection, operator intervention, resources
        _ if *code == SqlState::INSUFFICIENT_PRIVILEGE => StoreErrorKind::Denied,
        "22" => StoreErrorKind::Corrupt, // data exception
        _ => StoreErrorKind::Other,
    }
}

/// An error's text with the server's message and SQLSTATE when there is one.
fn describe_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

/// Decodes `%XX` escapes; `None` if malformed.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'%') => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            Some(b) => {
                out.push(*b);
                i += 1;
            }
            None => break,
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_parameters_are_taken_out_and_the_rest_kept() {
        let p = parse(
            "postgres://u:secret@127.0.0.1:5433/app?table=My%20Keys&sslmode=require&sslrootcert=%2Ftmp%2Fca.pem&application_name=x",
            &["table", "schema"],
        )
        .unwrap();
        assert_eq!(p.own.get("table").map(String::as_str), Some("My Keys"));
        assert_eq!(
            p.own.get("sslrootcert").map(String::as_str),
            Some("/tmp/ca.pem")
        );
        assert_eq!(p.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(p.config.get_application_name(), Some("x"));
        assert_eq!(p.address, "127.0.0.1:5433/app");
        assert!(!p.address.contains("secret"));
    }

    #[test]
    fn malformed_strings_are_config_errors() {
        for url in [
            "postgres://h/db?sslmode=sometimes",
            "postgres://h/db?nosuchoption=1",
            "postgres://h/db?table=%zz",
        ] {
            assert!(
                matches!(parse(url, &["table"]), Err(Error::Config(_))),
                "{url:?} must be refused"
            );
        }
    }

    #[test]
    fn the_debug_form_hides_the_password() {
        let s = Source::Url("postgres://u:hunter2@db.example:5432/app".into());
        let text = format!("{s:?}");
        assert!(
            !text.contains("hunter2") && text.contains("db.example:5432/app"),
            "{text}"
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("DataProtectionKeys"), "\"DataProtectionKeys\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert!(check_ident("table", "").is_err());
        assert!(check_ident("table", &"x".repeat(64)).is_err());
    }
}
