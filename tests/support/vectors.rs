//! The shared known-answer vectors (`../shared/vectors` beside the project root, or the
//! directory in `DP_SHARED_VECTORS`) and their `[section]` / `key=value` text format.

use std::path::{Path, PathBuf};

/// The derived vectors' AES-256-CBC+HMACSHA256 key file; every derived token names this key.
pub const DERIVED_CBC_KEY_FILE: &str = "key-0f8fad5b-d9cb-469f-a165-70867728950e.xml";

/// The vectors directory; fails, saying where it looked, when it is missing.
pub fn vectors_dir() -> PathBuf {
    let dir = std::env::var_os("DP_SHARED_VECTORS")
        .filter(|v| !v.is_empty())
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors"),
            PathBuf::from,
        );
    assert!(
        dir.is_dir(),
        "the shared test vectors are missing at {}: put the project's shared/ folder beside \
         the checkout, or set DP_SHARED_VECTORS to its vectors/ directory",
        dir.display()
    );
    dir
}

/// A file under `vectors/derived/`.
pub fn derived(name: &str) -> PathBuf {
    vectors_dir().join("derived").join(name)
}

/// The `key=value` lines of a vector file: of `[section]` when given, else of the whole
/// file (comment lines starting with `#` are skipped).
pub fn fields(file: &Path, section: Option<&str>) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let head = section.map(|s| format!("[{s}]"));
    let mut inside = section.is_none();
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('[') {
            inside = head.as_ref().is_some_and(|h| line.starts_with(h.as_str()));
        } else if inside
            && !line.starts_with('#')
            && let Some((k, v)) = line.split_once('=')
        {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    assert!(
        !out.is_empty(),
        "no fields{} in {}",
        section.map(|s| format!(" in [{s}]")).unwrap_or_default(),
        file.display()
    );
    out
}

/// The `key=value` lines of `[name]` in a vector file.
pub fn section(file: &Path, name: &str) -> Vec<(String, String)> {
    fields(file, Some(name))
}

/// The value of `key` among `fields`.
pub fn field<'a>(fields: &'a [(String, String)], key: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no field {key}"))
}
