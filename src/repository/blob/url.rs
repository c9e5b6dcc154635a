//! Store URLs: which client, which path, which layout. No I/O.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig};
use url::Url;

use super::BlobLayout;
use crate::error::Error;

/// The blob of the single-blob layout when the URL names a folder.
pub(super) const DEFAULT_BLOB_NAME: &str = "keys.xml";

/// Content type of every object written (as ASP.NET Core's blob repository sets it).
const CONTENT_TYPE: &str = "application/xml; charset=utf-8";

/// Client defaults for a key ring: a dead or hung server is an error within seconds, not
/// minutes (`object_store` retries for up to 3 minutes by default). Each can be overridden
/// through the environment or the options.
const CLIENT_DEFAULTS: [(ClientConfigKey, &str); 2] = [
    (ClientConfigKey::Timeout, "10s"),
    (ClientConfigKey::ConnectTimeout, "3s"),
];

fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(5),
    }
}

/// What a URL names.
pub(super) struct Target {
    /// The URL without credentials or query, for messages.
    pub(super) display: String,
    pub(super) layout: BlobLayout,
    pub(super) location: Location,
}

pub(super) enum Location {
    /// A cloud store and the prefix (per object) or blob path (single blob) in it.
    Cloud {
        store: Arc<dyn ObjectStore>,
        path: String,
    },
    /// A local directory, one file per element.
    Directory(PathBuf),
    /// A local single blob, written under an OS file lock.
    LockedFile(PathBuf),
}

const FORMS: &str = "s3://BUCKET/PREFIX, az://CONTAINER/PREFIX, gs://BUCKET/PREFIX or \
file:///ABSOLUTE/PATH, optionally with ?layout=per-object or ?layout=single-blob";

pub(super) fn parse(text: &str, options: &[(String, String)]) -> Result<Target, Error> {
    let url = Url::parse(text).map_err(|e| config(format!("{e}; use {FORMS}"), text))?;
    let layout = layout_of(&url, text)?;
    let display = display(&url);
    let location = match url.scheme() {
        "file" => local(&url, layout, options, text)?,
        scheme => {
            let bucket = url
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| config("the URL names no bucket or container".into(), text))?;
            let mut path = object_path(&url, text)?;
            if layout == BlobLayout::SingleBlob {
                path = blob_path(path);
            }
            let base = base_url(&url, bucket);
            let store = match scheme {
                "s3" | "s3a" => cloud::<AmazonS3Builder>(&base, options, text)?,
                "az" | "azure" | "abfs" | "abfss" | "adl" => {
                    cloud::<MicrosoftAzureBuilder>(&base, options, text)?
                }
                "gs" => cloud::<GoogleCloudStorageBuilder>(&base, options, text)?,
                other => {
                    return Err(config(
                        format!("unknown blob store scheme {other:?}; use {FORMS}"),
                        text,
                    ));
                }
            };
            Location::Cloud { store, path }
        }
    };
    Ok(Target {
        display,
        layout,
        location,
    })
}

fn config(message: String, url: &str) -> Error {
    Error::Config(format!("blob store URL {:?}: {message}", redact_url(url)))
}

/// The URL as given, without a password and with no query values (they may hold tokens).
fn redact_url(text: &str) -> String {
    match Url::parse(text) {
        Ok(url) => {
            let mut shown = display(&url);
            if let Some(q) = url.query() {
                shown.push('?');
                shown.push_str(
                    &q.split('&')
                        .map(|kv| kv.split('=').next().unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join("&"),
                );
            }
            shown
        }
        Err(_) => text.split(['?', '@']).next().unwrap_or("").to_owned(),
    }
}

fn display(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

fn layout_of(url: &Url, text: &str) -> Result<BlobLayout, Error> {
    let mut layout = BlobLayout::PerObject;
    for (key, value) in url.query_pairs() {
        match (key.as_ref(), value.as_ref()) {
            ("layout", "per-object") => layout = BlobLayout::PerObject,
            ("layout", "single-blob") => layout = BlobLayout::SingleBlob,
            ("layout", other) => {
                return Err(config(
                    format!(
                        "unknown layout {other:?}; use layout=per-object or layout=single-blob"
                    ),
                    text,
                ));
            }
            (other, _) => {
                return Err(config(
                    format!(
                        "unknown parameter {other:?}; the only one is layout=per-object|single-blob"
                    ),
                    text,
                ));
            }
        }
    }
    Ok(layout)
}

/// The object path in the URL, percent-decoded, without surrounding slashes.
fn object_path(url: &Url, text: &str) -> Result<String, Error> {
    let path = url.path().trim_matches('/');
    let parsed = object_store::path::Path::from_url_path(path)
        .map_err(|e| config(format!("bad object path: {e}"), text))?;
    Ok(parsed.to_string())
}

/// The blob of the single-blob layout: the path itself if it names an `.xml` file, else
/// `keys.xml` inside it.
fn blob_path(path: String) -> String {
    if path.ends_with(".xml") {
        path
    } else if path.is_empty() {
        DEFAULT_BLOB_NAME.to_owned()
    } else {
        format!("{path}/{DEFAULT_BLOB_NAME}")
    }
}

/// `scheme://[user@]host` (Azure's `abfss://container@account…` keeps its user part).
fn base_url(url: &Url, host: &str) -> String {
    let user = url.username();
    if user.is_empty() {
        format!("{}://{host}", url.scheme())
    } else {
        format!("{}://{user}@{host}", url.scheme())
    }
}

fn local(
    url: &Url,
    layout: BlobLayout,
    options: &[(String, String)],
    text: &str,
) -> Result<Location, Error> {
    if !options.is_empty() {
        return Err(config("a file:// store takes no options".into(), text));
    }
    if url
        .host_str()
        .is_some_and(|h| !h.is_empty() && h != "localhost")
    {
        return Err(config(
            "a file:// URL names a local path: file:///ABSOLUTE/PATH".into(),
            text,
        ));
    }
    let path = url
        .to_file_path()
        .map_err(|()| config("not an absolute local path".into(), text))?;
    Ok(match layout {
        BlobLayout::PerObject => Location::Directory(path),
        BlobLayout::SingleBlob => {
            let is_file = path.extension().is_some_and(|e| e == "xml");
            Location::LockedFile(if is_file {
                path
            } else {
                path.join(DEFAULT_BLOB_NAME)
            })
        }
    })
}

/// The three cloud builders, seen alike.
trait CloudBuilder: Sized {
    type Key: FromStr + PartialEq;
    const ENV_PREFIX: &'static str;
    const NAME: &'static str;
    fn from_env() -> Self;
    fn set(self, key: Self::Key, value: &str) -> Self;
    fn client_key(key: ClientConfigKey) -> Self::Key;
    fn finish(self, url: &str, retry: RetryConfig) -> object_store::Result<Arc<dyn ObjectStore>>;
}

/// Builds a cloud client: environment, then our client defaults where neither the
/// environment nor the options set them, then the options, then the URL.
fn cloud<B: CloudBuilder>(
    base: &str,
    options: &[(String, String)],
    text: &str,
) -> Result<Arc<dyn ObjectStore>, Error> {
    let mut given = Vec::new();
    for (name, _) in std::env::vars() {
        if let Some(key) = name
            .starts_with(B::ENV_PREFIX)
            .then(|| name.to_ascii_lowercase().parse::<B::Key>().ok())
            .flatten()
        {
            given.push(key);
        }
    }
    let mut parsed = Vec::with_capacity(options.len());
    for (name, value) in options {
        let key = name
            .to_ascii_lowercase()
            .parse::<B::Key>()
            .map_err(|_| config(format!("unknown {} setting {name:?}", B::NAME), text))?;
        parsed.push((key, value.as_str()));
    }
    let mut builder = B::from_env();
    let defaults = CLIENT_DEFAULTS
        .iter()
        .map(|(k, v)| (*k, *v))
        .chain([(ClientConfigKey::DefaultContentType, CONTENT_TYPE)]);
    for (client_key, value) in defaults {
        let key = B::client_key(client_key);
        let set = given.contains(&key) || parsed.iter().any(|(k, _)| *k == key);
        if !set {
            builder = builder.set(key, value);
        }
    }
    for (key, value) in parsed {
        builder = builder.set(key, value);
    }
    builder
        .finish(base, retry_config())
        .map_err(|e| config(format!("{} client: {e}", B::NAME), text))
}

impl CloudBuilder for AmazonS3Builder {
    type Key = AmazonS3ConfigKey;
    const ENV_PREFIX: &'static str = "AWS_";
    const NAME: &'static str = "S3";
    fn from_env() -> Self {
        Self::from_env()
    }
    fn set(self, key: Self::Key, value: &str) -> Self {
        self.with_config(key, value)
    }
    fn client_key(key: ClientConfigKey) -> Self::Key {
        AmazonS3ConfigKey::Client(key)
    }
    fn finish(self, url: &str, retry: RetryConfig) -> object_store::Result<Arc<dyn ObjectStore>> {
        Ok(Arc::new(self.with_url(url).with_retry(retry).build()?))
    }
}

impl CloudBuilder for MicrosoftAzureBuilder {
    type Key = AzureConfigKey;
    const ENV_PREFIX: &'static str = "AZURE_";
    const NAME: &'static str = "Azure";
    fn from_env() -> Self {
        Self::from_env()
    }
    fn set(self, key: Self::Key, value: &str) -> Self {
        self.with_config(key, value)
    }
    fn client_key(key: ClientConfigKey) -> Self::Key {
        AzureConfigKey::Client(key)
    }
    fn finish(self, url: &str, retry: RetryConfig) -> object_store::Result<Arc<dyn ObjectStore>> {
        Ok(Arc::new(self.with_url(url).with_retry(retry).build()?))
    }
}

impl CloudBuilder for GoogleCloudStorageBuilder {
    type Key = GoogleConfigKey;
    const ENV_PREFIX: &'static str = "GOOGLE_";
    const NAME: &'static str = "Google Cloud Storage";
    fn from_env() -> Self {
        Self::from_env()
    }
    fn set(self, key: Self::Key, value: &str) -> Self {
        self.with_config(key, value)
    }
    fn client_key(key: ClientConfigKey) -> Self::Key {
        GoogleConfigKey::Client(key)
    }
    fn finish(self, url: &str, retry: RetryConfig) -> object_store::Result<Arc<dyn ObjectStore>> {
        Ok(Arc::new(self.with_url(url).with_retry(retry).build()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(url: &str, options: &[(&str, &str)]) -> Target {
        let options: Vec<_> = options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse(url, &options).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn parse_err(url: &str, options: &[(&str, &str)]) -> String {
        let options: Vec<_> = options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        match parse(url, &options) {
            Ok(_) => panic!("{url} must be refused"),
            Err(Error::Config(m)) => m,
            Err(e) => panic!("{url}: not a config error: {e}"),
        }
    }

    fn cloud_path(t: &Target) -> &str {
        match &t.location {
            Location::Cloud { path, .. } => path,
            _ => panic!("not a cloud store"),
        }
    }

    const S3: [(&str, &str); 3] = [
        ("aws_endpoint", "http://127.0.0.1:1"),
        ("aws_allow_http", "true"),
        ("aws_region", "us-east-1"),
    ];

    #[test]
    fn s3_layouts_and_paths() {
        let t = parse_ok("s3://keyring/apps/one", &S3);
        assert_eq!(t.layout, BlobLayout::PerObject);
        assert_eq!(cloud_path(&t), "apps/one");
        assert_eq!(t.display, "s3://keyring/apps/one");

        let t = parse_ok("s3a://keyring/apps/one/?layout=single-blob", &S3);
        assert_eq!(t.layout, BlobLayout::SingleBlob);
        assert_eq!(cloud_path(&t), "apps/one/keys.xml");

        let t = parse_ok("s3://keyring/ring.xml?layout=single-blob", &S3);
        assert_eq!(cloud_path(&t), "ring.xml");
        let t = parse_ok("s3://keyring?layout=single-blob", &S3);
        assert_eq!(cloud_path(&t), "keys.xml");
        let t = parse_ok("s3://keyring/a%20b?layout=per-object", &S3);
        assert_eq!(cloud_path(&t), "a b");
    }

    #[test]
    fn azure_and_gcs_urls() {
        let az = [
            ("azure_storage_account_name", "devstoreaccount1"),
            ("azure_storage_account_key", "a2V5"),
            (
                "azure_storage_endpoint",
                "http://127.0.0.1:1/devstoreaccount1",
            ),
            ("azure_allow_http", "true"),
        ];
        let t = parse_ok("az://keyring/dp?layout=single-blob", &az);
        assert_eq!(cloud_path(&t), "dp/keys.xml");
        let t = parse_ok("abfss://keyring@acct.dfs.core.windows.net/dp", &az[1..]);
        assert_eq!(cloud_path(&t), "dp");
        assert_eq!(t.display, "abfss://keyring@acct.dfs.core.windows.net/dp");
        let t = parse_ok("gs://bucket/dp?layout=single-blob", &[]);
        assert_eq!(cloud_path(&t), "dp/keys.xml");
        let bad_key = [("google_service_account_key", "not json")];
        assert!(parse_err("gs://bucket/dp", &bad_key).contains("Google Cloud Storage client"));
        let no_account = parse_err("az://keyring/dp", &[("azure_storage_account_key", "a2V5")]);
        assert!(no_account.contains("Azure client"), "{no_account}");
    }

    #[test]
    fn local_urls() {
        let t = parse_ok("file:///var/keys?layout=per-object", &[]);
        assert!(
            matches!(&t.location, Location::Directory(p) if p == std::path::Path::new("/var/keys"))
        );
        let t = parse_ok("file:///var/keys?layout=single-blob", &[]);
        assert!(
            matches!(&t.location, Location::LockedFile(p) if p == std::path::Path::new("/var/keys/keys.xml"))
        );
        let t = parse_ok("file:///var/ring.xml?layout=single-blob", &[]);
        assert!(
            matches!(&t.location, Location::LockedFile(p) if p == std::path::Path::new("/var/ring.xml"))
        );
        assert_eq!(t.display, "file:///var/ring.xml");
    }

    #[test]
    fn bad_urls_are_config_errors() {
        assert!(parse_err("nonsense", &[]).contains("s3://BUCKET/PREFIX"));
        assert!(parse_err("ftp://x/y", &S3).contains("unknown blob store scheme"));
        assert!(parse_err("s3://keyring/p?layout=sideways", &S3).contains("unknown layout"));
        assert!(parse_err("s3://keyring/p?colour=blue", &S3).contains("unknown parameter"));
        assert!(
            parse_err("s3://keyring/p", &[("no_such_setting", "1")]).contains("no_such_setting")
        );
        assert!(parse_err("file://host/x?layout=single-blob", &[]).contains("local path"));
        assert!(parse_err("file:///x?layout=single-blob", &S3).contains("no options"));
    }

    #[test]
    fn credentials_never_show() {
        let m = parse_err("s3://user:hunter2@keyring/p?layout=bad&token=sekrit", &S3);
        assert!(!m.contains("hunter2") && !m.contains("sekrit"), "{m}");
        let t = parse_ok(
            "s3://keyring/p",
            &[
                ("aws_endpoint", "http://127.0.0.1:1"),
                ("aws_secret_access_key", "hunter2"),
                ("aws_access_key_id", "AKIA"),
            ],
        );
        assert!(!t.display.contains("hunter2"));
        assert_eq!(blob_path("a/b".into()), "a/b/keys.xml");
    }
}
