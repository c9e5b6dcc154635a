//! The session contents and their wire form: ASP.NET Core's `DistributedSession`
//! serialization, revision 2.
//!
//! ```text
//! u8      revision = 2
//! u24be   entry count
//! [16]    session id (random; shown as a .NET Guid, little-endian groups)
//! count × { u16be key length, key (UTF-8), i32be value length, value }
//! ```

use std::collections::HashMap;
use std::fmt;

/// The serialization revision ASP.NET Core writes and reads.
pub const SERIALIZATION_REVISION: u8 = 2;
/// Length of the session id in the blob.
pub const ID_LEN: usize = 16;
/// Most entries a blob can hold (24-bit count).
pub const MAX_ENTRIES: usize = 0x00FF_FFFF;
/// Up to this many entries, decoding finds duplicate keys by searching; beyond, by a map.
const SEARCH_LIMIT: usize = 32;

/// Why a blob could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The first byte is not revision 2 (ASP.NET then treats the session as empty).
    #[error("unknown serialization revision {0}")]
    Revision(u8),
    /// The blob ends early or has bytes after the last entry.
    #[error("the blob is truncated or has trailing bytes")]
    Length,
    /// A key is not UTF-8.
    #[error("a key is not UTF-8")]
    KeyEncoding,
    /// A value length is negative.
    #[error("a value length is negative")]
    NegativeLength,
}

/// Why an entry cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The key is longer than 65,535 UTF-8 bytes.
    #[error("a session key is longer than 65535 bytes")]
    KeyTooLong,
    /// The value is longer than `i32::MAX` bytes.
    #[error("a session value is longer than 2 GiB")]
    ValueTooLong,
    /// More than 16,777,215 entries.
    #[error("a session holds more than 16777215 entries")]
    TooManyEntries,
}

/// The contents of one session: its id and its entries in insertion order.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SessionData {
    id: [u8; ID_LEN],
    entries: Vec<(String, Vec<u8>)>,
}

impl fmt::Debug for SessionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values can be personal data: show only keys and sizes.
        let mut m = f.debug_map();
        for (k, v) in &self.entries {
            m.entry(k, &format_args!("[{} bytes]", v.len()));
        }
        m.finish()
    }
}

impl SessionData {
    /// Empty contents with the given id bytes.
    pub fn new(id: [u8; ID_LEN]) -> Self {
        Self {
            id,
            entries: Vec::new(),
        }
    }

    /// The id bytes.
    pub fn id_bytes(&self) -> [u8; ID_LEN] {
        self.id
    }

    /// The id as ASP.NET shows it (`ISession.Id`): the bytes as a .NET Guid.
    pub fn id(&self) -> String {
        dotnet_guid(self.id)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// Sets `key`, keeping its position if it exists.
    pub fn set(&mut self, key: &str, value: Vec<u8>) {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key.to_owned(), value)),
        }
    }

    /// Removes `key`; whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(k, _)| k != key);
        self.entries.len() != before
    }

    /// Removes every entry (the id stays).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The entries, in order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The blob ASP.NET's `DistributedSession` writes.
    ///
    /// # Errors
    /// A key, a value or the entry count exceeds the format's limits.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let size = self
            .entries
            .iter()
            .map(|(k, v)| 6 + k.len() + v.len())
            .sum();
        encode_entries(&self.id, self.entries(), size)
    }

    /// Reads a blob. Later duplicates of a key replace earlier ones, as in ASP.NET.
    ///
    /// # Errors
    /// The blob is not revision 2 or is malformed.
    pub fn decode(blob: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(blob);
        let revision = r.take(1)?[0];
        if revision != SERIALIZATION_REVISION {
            return Err(DecodeError::Revision(revision));
        }
        let c = r.take(3)?;
        let count = u32::from_be_bytes([0, c[0], c[1], c[2]]) as usize;
        let mut data = Self::new(
            r.take(ID_LEN)?
                .try_into()
                .map_err(|_| DecodeError::Length)?,
        );
        // Every entry takes at least 6 bytes: do not trust the count for the allocation.
        data.entries.reserve(count.min(r.0.len() / 6));
        // Where each key is, when there are too many entries to search them for duplicates
        // (a blob from the store may claim millions: decoding must not take quadratic time).
        let mut index: Option<HashMap<&str, usize>> = (count > SEARCH_LIMIT).then(HashMap::new);
        for _ in 0..count {
            let kl = r.take(2)?;
            let key = r.take(u16::from_be_bytes([kl[0], kl[1]]) as usize)?;
            let key = std::str::from_utf8(key).map_err(|_| DecodeError::KeyEncoding)?;
            let vl = r.take(4)?;
            let vl = i32::from_be_bytes([vl[0], vl[1], vl[2], vl[3]]);
            let vl = usize::try_from(vl).map_err(|_| DecodeError::NegativeLength)?;
            let value = r.take(vl)?.to_vec();
            let at = match &mut index {
                Some(index) => *index.entry(key).or_insert(data.entries.len()),
                None => data
                    .entries
                    .iter()
                    .position(|(k, _)| k == key)
                    .unwrap_or(data.entries.len()),
            };
            match data.entries.get_mut(at) {
                Some(entry) => entry.1 = value,
                None => data.entries.push((key.to_owned(), value)),
            }
        }
        if !r.0.is_empty() {
            return Err(DecodeError::Length);
        }
        Ok(data)
    }
}

/// The blob of a session with this id and these entries (keys unique), with room reserved
/// for `size_hint` bytes of keys and values.
pub(crate) fn encode_entries<'a>(
    id: &[u8; ID_LEN],
    entries: impl Iterator<Item = (&'a str, &'a [u8])>,
    size_hint: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(4 + ID_LEN + size_hint);
    out.push(SERIALIZATION_REVISION);
    out.extend_from_slice(&[0; 3]); // the count, written at the end
    out.extend_from_slice(id);
    let mut count = 0usize;
    for (k, v) in entries {
        let key_len = u16::try_from(k.len()).map_err(|_| EncodeError::KeyTooLong)?;
        let value_len = i32::try_from(v.len()).map_err(|_| EncodeError::ValueTooLong)?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(EncodeError::TooManyEntries);
        }
        out.extend_from_slice(&key_len.to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&value_len.to_be_bytes());
        out.extend_from_slice(v);
    }
    out[1..4].copy_from_slice(&(count as u32).to_be_bytes()[1..]);
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let (head, tail) = self.0.split_at_checked(n).ok_or(DecodeError::Length)?;
        self.0 = tail;
        Ok(head)
    }
}

/// 16 bytes shown as .NET's `new Guid(bytes).ToString()`.
pub(crate) fn dotnet_guid(bytes: [u8; 16]) -> String {
    uuid::Uuid::from_bytes_le(bytes).hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_order_and_id() {
        let mut d = SessionData::new([7; 16]);
        d.set("b", vec![1]);
        d.set("a", vec![]);
        d.set("b", vec![2, 3]);
        let back = SessionData::decode(&d.encode().unwrap()).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(back.get("b"), Some(&[2, 3][..]));
    }

    #[test]
    fn malformed_blobs_are_errors_not_panics() {
        let mut d = SessionData::new([0; 16]);
        d.set("key", vec![1, 2, 3]);
        let blob = d.encode().unwrap();
        for n in 0..blob.len() {
            assert!(SessionData::decode(&blob[..n]).is_err(), "prefix {n}");
        }
        let mut trailing = blob.clone();
        trailing.push(0);
        assert_eq!(SessionData::decode(&trailing), Err(DecodeError::Length));
        let mut rev = blob.clone();
        rev[0] = 1;
        assert_eq!(SessionData::decode(&rev), Err(DecodeError::Revision(1)));
        let mut huge = blob;
        huge[1..4].copy_from_slice(&[0xff, 0xff, 0xff]);
        assert_eq!(SessionData::decode(&huge), Err(DecodeError::Length));
    }

    #[test]
    fn key_longer_than_u16_is_refused() {
        let mut d = SessionData::new([0; 16]);
        d.set(&"k".repeat(70_000), vec![]);
        assert_eq!(d.encode(), Err(EncodeError::KeyTooLong));
    }

    /// A blob of many entries (as a store may hand over) decodes in linear time, with the
    /// same duplicate rule as a small one: a later value replaces an earlier one in place.
    #[test]
    fn many_entries_decode_with_duplicates_replaced_in_place() {
        for n in [3usize, 200_000] {
            let mut blob = vec![SERIALIZATION_REVISION];
            blob.extend_from_slice(&((n + 1) as u32).to_be_bytes()[1..]);
            blob.extend_from_slice(&[5; ID_LEN]);
            let entry = |blob: &mut Vec<u8>, key: &str, value: u8| {
                blob.extend_from_slice(&(key.len() as u16).to_be_bytes());
                blob.extend_from_slice(key.as_bytes());
                blob.extend_from_slice(&1i32.to_be_bytes());
                blob.push(value);
            };
            for i in 0..n {
                entry(&mut blob, &format!("k{i}"), 1);
            }
            entry(&mut blob, "k1", 2); // a duplicate of the second key, last
            let d = SessionData::decode(&blob).unwrap();
            assert_eq!(d.len(), n, "{n}: the duplicate is one entry");
            assert_eq!(d.get("k1"), Some(&[2][..]), "{n}: the later value wins");
            assert_eq!(d.keys().nth(1), Some("k1"), "{n}: at the first one's place");
            assert_eq!(d.get("k0"), Some(&[1][..]));
        }
    }
}
