//! Opening a store from a URL, as the `dpkeys` command line and configuration files name them.

use std::sync::Arc;

use super::{DirectoryRepository, XmlRepository};
use crate::error::Error;

/// The URL forms [`open`] understands, for error messages.
const FORMS: &str = "a directory path, file://PATH, redis://HOST:PORT[/DB][?key=LIST], \
rediss://…, postgres://[USER[:PASSWORD]@]HOST[:PORT]/DB[?table=TABLE&schema=SCHEMA], \
s3://BUCKET/PREFIX, az://CONTAINER/PREFIX or gs://BUCKET/PREFIX \
(add ?layout=single-blob for ASP.NET Core's single-blob layout)";

/// Opens the store that `url` names:
///
/// - a directory path or `file://PATH`: a [`DirectoryRepository`] (the layout ASP.NET Core's
///   `PersistKeysToFileSystem` uses); `file://PATH?layout=single-blob` is a single XML document
///   through `object_store` instead;
/// - `redis://HOST:PORT[/DB][?key=LIST]` or `rediss://…`: a `RedisRepository` (feature `redis`);
/// - `postgres://…` or `postgresql://…` with optional `table=`, `schema=`, `create_table=false`,
///   `sslmode=require&sslrootcert=CA_FILE`: a `PostgresRepository` (feature `postgres`) on EF
///   Core's `DataProtectionKeys` table layout;
/// - `s3://BUCKET/PREFIX`, `az://CONTAINER/PREFIX`, `gs://BUCKET/PREFIX`, with
///   `?layout=single-blob` for one XML document: a `BlobRepository` (feature `object-store`),
///   with credentials and endpoints from the usual environment variables.
///
/// Nothing is contacted here; the first read connects. An unknown scheme or a malformed URL is
/// an [`Error::Config`].
pub fn open(url: &str) -> Result<Arc<dyn XmlRepository>, Error> {
    let Some((scheme, rest)) = url.split_once("://") else {
        if url.is_empty() {
            return Err(Error::Config(format!("no store given; use {FORMS}")));
        }
        return Ok(Arc::new(DirectoryRepository::new(url)));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" if !rest.contains('?') => Ok(Arc::new(DirectoryRepository::new(rest))),
        #[cfg(feature = "redis")]
        "redis" | "rediss" => Ok(Arc::new(super::RedisRepository::from_url(url)?)),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(Arc::new(super::PostgresRepository::from_url(url)?)),
        #[cfg(feature = "object-store")]
        "file" | "s3" | "s3a" | "az" | "azure" | "abfs" | "abfss" | "gs" => {
            Ok(Arc::new(super::BlobRepository::from_url(url)?))
        }
        other => Err(Error::Config(format!(
            "unknown store scheme {other:?} in {url:?}; use {FORMS}"
        ))),
    }
}
