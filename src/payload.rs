//! The protected-payload envelope and the purpose chain (AAD).
//!
//! ```text
//! payload := 09 F0 C9 F0 || key id (16 bytes, .NET Guid order) || encryptor payload
//! aad     := 09 F0 C9 F0 || key id || u32be(purpose count) || (7-bit length || UTF-8)*
//! ```
//! The first 20 bytes of the AAD equal the payload's first 20 bytes.

use crate::key_id::KeyId;

/// Magic header: format version 0 in the low nibble.
pub(crate) const MAGIC: [u8; 4] = [0x09, 0xF0, 0xC9, 0xF0];
/// Magic plus key id.
pub(crate) const HEADER_LEN: usize = 20;

/// The envelope prefix of a payload protected with `key`.
#[cfg(test)]
pub(crate) fn header(key: KeyId) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    write_header(key, &mut h);
    h
}

/// Writes the envelope prefix of a payload protected with `key` into `out` (20 bytes).
pub(crate) fn write_header(key: KeyId, out: &mut [u8]) {
    out[..4].copy_from_slice(&MAGIC);
    out[4..HEADER_LEN].copy_from_slice(&key.to_guid_bytes());
}

/// A zeroed buffer of `len` bytes from `malloc` and a fill, not `vec![0; len]`: that is
/// `calloc`, which glibc serves without its per-thread cache (about 200 instructions more).
#[expect(
    clippy::slow_vector_initialization,
    reason = "vec![0; len] is calloc, measurably slower here (scripts/instructions.sh)"
)]
pub(crate) fn zeroed(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    out.resize(len, 0);
    out
}

/// Runs `f` on a zeroed buffer of `len` bytes, on the stack when it fits in `N` bytes (no
/// allocation for short payloads and their text forms), else from [`zeroed`].
pub(crate) fn with_scratch<const N: usize, R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    let mut stack = [0u8; N];
    match stack.get_mut(..len) {
        Some(buf) => f(buf),
        None => f(&mut zeroed(len)),
    }
}

/// Why an envelope was rejected (for debug logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EnvelopeError {
    TooShort,
    NotOurs,
    NewerVersion,
}

/// Splits a payload into its key id, its 20-byte header and the encryptor payload.
pub(crate) fn parse(payload: &[u8]) -> Result<(KeyId, &[u8], &[u8]), EnvelopeError> {
    let (header, body) = payload
        .split_at_checked(HEADER_LEN)
        .ok_or(EnvelopeError::TooShort)?;
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if magic & 0xFFFF_FFF0 != u32::from_be_bytes(MAGIC) {
        return Err(EnvelopeError::NotOurs);
    }
    if magic & 0xF != 0 {
        return Err(EnvelopeError::NewerVersion);
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&header[4..]);
    Ok((KeyId::from_guid_bytes(id), header, body))
}

/// The part of the AAD after the header: purpose count and length-prefixed purposes.
pub(crate) fn encode_purposes<S: AsRef<str>>(purposes: &[S]) -> Vec<u8> {
    let count = u32::try_from(purposes.len()).unwrap_or(u32::MAX);
    let mut out = count.to_be_bytes().to_vec();
    for p in purposes {
        let bytes = p.as_ref().as_bytes();
        write_7bit(&mut out, bytes.len());
        out.extend_from_slice(bytes);
    }
    out
}

/// .NET's 7-bit encoded integer: 7 bits per byte, low group first, high bit = more.
pub(crate) fn write_7bit(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7F) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    /// AdditionalAuthenticatedDataTemplateTests (shared/vectors/upstream/aad_template.txt).
    #[test]
    fn aad_template_known_answer() {
        let purposes = [
            "my sample string",
            "©®±µ¶",
            "my other sample string",
            "CfDJ8H5oH_fp1QNBmvs-OWXxsVoV30hrXeI4-PI4p1VZytjsgd0DTstMdtTZbFtm2dKHvsBlDCv7TiEWKztZf8fb48pUgBgUE2SeYV3eOUXvSfNWU0D8SmHLy5KEnwKKkZKqudDhCnjQSIU7mhDliJJN1e4",
            ".",
        ];
        let mut aad = header(KeyId::from_guid_bytes([0; 16])).to_vec();
        aad.extend(encode_purposes(&purposes));
        assert_eq!(
            STANDARD.encode(aad),
            "CfDJ8AAAAAAAAAAAAAAAAAAAAAAAAAAFEG15IHNhbXBsZSBzdHJpbmcKwqnCrsKxwrXCthZteSBvdGhlciBzYW1wbGUgc3RyaW5nmwFDZkRKOEg1b0hfZnAxUU5CbXZzLU9XWHhzVm9WMzBoclhlSTQtUEk0cDFWWnl0anNnZDBEVHN0TWR0VFpiRnRtMmRLSHZzQmxEQ3Y3VGlFV0t6dFpmOGZiNDhwVWdCZ1VFMlNlWVYzZU9VWHZTZk5XVTBEOFNtSEx5NUtFbndLS2taS3F1ZERoQ25qUVNJVTdtaERsaUpKTjFlNAEu"
        );
    }

    #[test]
    fn seven_bit_encoding() {
        for (n, expected) in [
            (0usize, "00"),
            (127, "7f"),
            (128, "8001"),
            (155, "9b01"),
            (16384, "808001"),
        ] {
            let mut out = Vec::new();
            write_7bit(&mut out, n);
            assert_eq!(hex::encode(out), expected);
        }
    }

    #[test]
    fn envelope_checks() {
        assert_eq!(parse(&[0; 19]), Err(EnvelopeError::TooShort));
        assert_eq!(parse(&[0; 20]), Err(EnvelopeError::NotOurs));
        let mut newer = header(KeyId::from_guid_bytes([7; 16]));
        newer[3] = 0xF1;
        assert_eq!(parse(&newer), Err(EnvelopeError::NewerVersion));
        let ok = header(KeyId::from_guid_bytes([7; 16]));
        let (id, h, body) = parse(&ok).unwrap();
        assert_eq!(id, KeyId::from_guid_bytes([7; 16]));
        assert_eq!((h.len(), body.len()), (20, 0));
    }
}
