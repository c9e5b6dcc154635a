//! File helpers shared by the stores that keep files: the directory store and the local
//! single blob.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::error::{StoreError, StoreErrorKind};

/// Runs blocking file work on tokio's blocking pool; a panicked or cancelled task is a store
/// error naming `store`.
pub(super) async fn blocking<S, T>(
    this: &S,
    store: &str,
    f: impl FnOnce(&S) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError>
where
    S: Clone + Send + 'static,
    T: Send + 'static,
{
    let this = this.clone();
    tokio::task::spawn_blocking(move || f(&this))
        .await
        .map_err(|e| StoreError::new(StoreErrorKind::Other, store, e))?
}

/// Creates `path` exclusively (mode 0600 on Unix), writes and flushes it; removes it again if
/// writing fails.
pub(super) fn write_new_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let result = file.write_all(contents).and_then(|()| file.sync_all());
    if result.is_err() {
        drop(file);
        let _ = fs::remove_file(path);
    }
    result
}

/// Creates `dir` and its parents (mode 0700 on Unix) if missing.
pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes a new or removed directory entry durable; best effort (not every filesystem allows
/// opening a directory).
pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
