//! ASP.NET Core's `ChunkingCookieManager` format: a cookie too large for one `Set-Cookie` is
//! split. The base cookie holds `chunks-N` and the data goes into `{name}C1` … `{name}CN`.
//!
//! * A value is split when the length of `Set-Cookie` with an empty value (name, `=`, and
//!   attributes) plus the value's length reaches the chunk size (4050 by default). Each
//!   chunk holds at most `chunk size − that length − 3` characters (3 for the chunk id).
//! * Reading: a base value `chunks-N` (decimal digits only) means "join `{name}C1` …
//!   `{name}CN`". A missing chunk makes the cookie unreadable (.NET throws by default).
//! * Stale chunks: when a cookie is rewritten with fewer chunks (or unchunked), the chunks of
//!   the previous value beyond the new count must be deleted, or a browser keeps sending
//!   them; [`stale_chunks`] names them.
//!
//! Lengths are counted in UTF-16 code units, like .NET's `string.Length`; the values this
//! crate writes are ASCII, where that is the byte length.

/// `ChunkingCookieManager.DefaultChunkSize`.
pub const DEFAULT_CHUNK_SIZE: usize = 4050;
/// The base value's prefix.
pub const CHUNK_COUNT_PREFIX: &str = "chunks-";
/// Between the name and the chunk number.
pub const CHUNK_KEY_SUFFIX: &str = "C";
/// Most chunks a reader accepts; browsers send at most a few dozen cookies of 4 KB, so a
/// larger count is hostile. Checked before any chunk is looked up.
pub const MAX_CHUNKS: usize = 256;

/// Why a chunked cookie cannot be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// The name and attributes leave less than 10 characters per chunk (.NET's limit).
    #[error("the cookie name and attributes leave no room for data in a {0}-character chunk")]
    NoRoom(usize),
    /// The base cookie names more chunks than [`MAX_CHUNKS`].
    #[error("the cookie claims {0} chunks, more than the limit")]
    TooManyChunks(usize),
    /// A chunk the base cookie announces is missing or empty.
    #[error("chunk {index} of {count} is missing")]
    MissingChunk {
        /// The missing chunk's number (from 1).
        index: usize,
        /// The announced count.
        count: usize,
    },
}

/// The name of chunk `index` (from 1) of cookie `name`.
pub fn chunk_name(name: &str, index: usize) -> String {
    format!("{name}{CHUNK_KEY_SUFFIX}{index}")
}

/// The chunk count a base value announces: `Some(N)` for `chunks-N` with N > 0 in decimal
/// digits only; `None` for an ordinary value.
pub fn chunk_count(base_value: &str) -> Option<usize> {
    let digits = base_value.strip_prefix(CHUNK_COUNT_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // .NET parses an Int32; more digits than that is not a chunk count.
    let n: i32 = digits.parse().ok()?;
    usize::try_from(n).ok().filter(|&n| n > 0)
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Splits `value` of cookie `name` into the cookies to set, as `ChunkingCookieManager`
/// does. `template_len` is the length of the `Set-Cookie` text with an empty value (name,
/// `=`, attributes); `chunk_size` `None` never splits. Returns `[(name, value)]` when the
/// cookie fits, else `[(name, "chunks-N"), (nameC1, …), …]`.
///
/// # Errors
/// [`ChunkError::NoRoom`] when the name and attributes take nearly the whole chunk size;
/// [`ChunkError::TooManyChunks`] when the value would need more than [`MAX_CHUNKS`] chunks
/// (no reader would accept it).
pub fn split(
    name: &str,
    value: &str,
    template_len: usize,
    chunk_size: Option<usize>,
) -> Result<Vec<(String, String)>, ChunkError> {
    let Some(size) = chunk_size else {
        return Ok(vec![(name.to_owned(), value.to_owned())]);
    };
    let len = utf16_len(value);
    if size > template_len.saturating_add(len) {
        return Ok(vec![(name.to_owned(), value.to_owned())]);
    }
    if size < template_len.saturating_add(10) {
        return Err(ChunkError::NoRoom(size));
    }
    let per_chunk = size - template_len - 3;
    let needed = len.div_ceil(per_chunk);
    if needed > MAX_CHUNKS {
        return Err(ChunkError::TooManyChunks(needed));
    }
    let mut chunks = Vec::with_capacity(len.div_ceil(per_chunk) + 1);
    chunks.push((name.to_owned(), String::new()));
    let mut current = String::with_capacity(per_chunk);
    let mut current_len = 0;
    for c in value.chars() {
        if current_len + c.len_utf16() > per_chunk {
            let index = chunks.len();
            chunks.push((chunk_name(name, index), std::mem::take(&mut current)));
            current_len = 0;
        }
        current.push(c);
        current_len += c.len_utf16();
    }
    if !current.is_empty() {
        let index = chunks.len();
        chunks.push((chunk_name(name, index), current));
    }
    let count = chunks.len() - 1;
    // `needed` is a lower bound: a surrogate pair never straddles two chunks, so values of
    // astral characters in small chunks can take more.
    if count > MAX_CHUNKS {
        return Err(ChunkError::TooManyChunks(count));
    }
    if let Some(base) = chunks.first_mut() {
        base.1 = format!("{CHUNK_COUNT_PREFIX}{count}");
    }
    Ok(chunks)
}

/// Reads cookie `name` through `lookup` (a request cookie by name), joining chunks.
/// `Ok(None)` when the base cookie is absent.
///
/// # Errors
/// [`ChunkError::TooManyChunks`] for a count above [`MAX_CHUNKS`] (no chunk is looked up),
/// [`ChunkError::MissingChunk`] for a partial cookie.
pub fn join<'a>(
    name: &str,
    mut lookup: impl FnMut(&str) -> Option<&'a str>,
) -> Result<Option<String>, ChunkError> {
    let Some(base) = lookup(name) else {
        return Ok(None);
    };
    let Some(count) = chunk_count(base) else {
        return Ok(Some(base.to_owned()));
    };
    if count > MAX_CHUNKS {
        return Err(ChunkError::TooManyChunks(count));
    }
    let mut out = String::new();
    for index in 1..=count {
        match lookup(&chunk_name(name, index)) {
            Some(chunk) if !chunk.is_empty() => out.push_str(chunk),
            _ => return Err(ChunkError::MissingChunk { index, count }),
        }
    }
    Ok(Some(out))
}

/// The chunk cookies to delete when cookie `name`, whose request value was `previous_base`,
/// is rewritten with `new_count` chunks (0 when unchunked or deleted): chunks
/// `new_count + 1 ..= previous count`. Capped at [`MAX_CHUNKS`].
pub fn stale_chunks(name: &str, previous_base: Option<&str>, new_count: usize) -> Vec<String> {
    let previous = previous_base
        .and_then(chunk_count)
        .unwrap_or(0)
        .min(MAX_CHUNKS);
    (new_count + 1..=previous)
        .map(|i| chunk_name(name, i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(cookies: &'a [(String, String)]) -> impl FnMut(&str) -> Option<&'a str> {
        move |n| {
            cookies
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        }
    }

    #[test]
    fn small_values_are_not_split() {
        let out = split("c", "abc", 20, Some(DEFAULT_CHUNK_SIZE)).unwrap();
        assert_eq!(out, [("c".to_owned(), "abc".to_owned())]);
        assert_eq!(join("c", lookup(&out)).unwrap().as_deref(), Some("abc"));
    }

    #[test]
    fn large_values_split_like_aspnet() {
        let value = "x".repeat(10_000);
        // template ".AspNetCore.Cookies=; path=/; samesite=lax; httponly" is 52 chars.
        let out = split(".AspNetCore.Cookies", &value, 52, Some(4050)).unwrap();
        // 4050 - 52 - 3 = 3995 per chunk: 3 chunks.
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].1, "chunks-3");
        assert_eq!(out[1].0, ".AspNetCore.CookiesC1");
        assert_eq!(out[1].1.len(), 3995);
        assert_eq!(out[3].1.len(), 10_000 - 2 * 3995);
        assert_eq!(
            join(".AspNetCore.Cookies", lookup(&out)).unwrap(),
            Some(value)
        );
        // Exactly at the boundary (template + value == size) it splits, 27 per chunk.
        let at = split("c", &"y".repeat(30), 20, Some(50)).unwrap();
        assert_eq!(at.len(), 3);
        assert_eq!((at[0].1.as_str(), at[2].1.len()), ("chunks-2", 3));
        assert_eq!(split("c", &"y".repeat(29), 20, Some(50)).unwrap().len(), 1);
        assert_eq!(
            split("c", &"y".repeat(100), 45, Some(50)),
            Err(ChunkError::NoRoom(50))
        );
        assert_eq!(split("c", &"y".repeat(10_000), 20, None).unwrap().len(), 1);
        // Found by the fuzzer: never write more chunks than a reader accepts.
        let many = "z".repeat(27 * MAX_CHUNKS + 1);
        assert_eq!(
            split("c", &many, 20, Some(50)),
            Err(ChunkError::TooManyChunks(MAX_CHUNKS + 1))
        );
        assert_eq!(
            split("c", &many[1..], 20, Some(50)).unwrap().len(),
            MAX_CHUNKS + 1
        );
        // Also found by the fuzzer: 7 UTF-16 units a chunk hold three astral characters (2
        // units each), so 768 of them take 256 chunks, not the 220 the units suggest.
        let astral = |n| "\u{1f600}".repeat(n);
        assert_eq!(
            split("c", &astral(3 * MAX_CHUNKS), 0, Some(10))
                .unwrap()
                .len(),
            MAX_CHUNKS + 1
        );
        assert_eq!(
            split("c", &astral(3 * MAX_CHUNKS + 1), 0, Some(10)),
            Err(ChunkError::TooManyChunks(MAX_CHUNKS + 1))
        );
    }

    #[test]
    fn counts_and_partial_cookies() {
        assert_eq!(chunk_count("chunks-3"), Some(3));
        assert_eq!(chunk_count("chunks-0"), None);
        assert_eq!(chunk_count("chunks-+3"), None);
        assert_eq!(chunk_count("chunks-99999999999"), None);
        assert_eq!(chunk_count("chunks-"), None);
        assert_eq!(chunk_count("Chunks-3"), None);
        let partial = vec![
            ("c".to_owned(), "chunks-2".to_owned()),
            ("cC1".to_owned(), "ab".to_owned()),
        ];
        assert_eq!(
            join("c", lookup(&partial)),
            Err(ChunkError::MissingChunk { index: 2, count: 2 })
        );
        let huge = vec![("c".to_owned(), "chunks-2147483647".to_owned())];
        assert_eq!(
            join("c", lookup(&huge)),
            Err(ChunkError::TooManyChunks(2_147_483_647))
        );
        assert_eq!(join("c", lookup(&[])), Ok(None));
    }

    #[test]
    fn stale_chunks_are_named() {
        assert_eq!(stale_chunks("c", Some("chunks-4"), 2), ["cC3", "cC4"]);
        assert_eq!(stale_chunks("c", Some("chunks-2"), 0), ["cC1", "cC2"]);
        assert!(stale_chunks("c", Some("chunks-2"), 3).is_empty());
        assert!(stale_chunks("c", Some("plain"), 0).is_empty());
        assert!(stale_chunks("c", None, 0).is_empty());
        assert_eq!(
            stale_chunks("c", Some("chunks-999999"), 0).len(),
            MAX_CHUNKS
        );
    }
}
