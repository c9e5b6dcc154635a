//! Base64 without padding, in the two alphabets payloads travel in: URL-safe (`-_`, ASP.NET's
//! `Protect(string)`) and standard (`+/`, the session cookie before URL escaping).
//!
//! One table-driven pass each way, into a caller's buffer. Decoding is as strict as the
//! `base64` crate's `*_NO_PAD` engines: no padding (callers strip `=`), no characters outside
//! the alphabet, no length of the form `4n + 1`, and no set bits after the last byte.

/// The 64 characters of an alphabet, by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alphabet {
    /// `A–Z a–z 0–9 - _`
    UrlSafe,
    /// `A–Z a–z 0–9 + /`
    #[cfg_attr(not(feature = "session"), allow(dead_code))]
    Standard,
}

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Set in a decoding table's entry for a byte that is not in the alphabet.
const INVALID: u32 = 1 << 31;

/// Two characters for each 12-bit value: one table lookup per half of a 3-byte group.
const fn pairs(alphabet: &[u8; 64]) -> [[u8; 2]; 4096] {
    let mut table = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        table[i] = [alphabet[i >> 6], alphabet[i & 63]];
        i += 1;
    }
    table
}

/// For each byte, its 6-bit value shifted to the place of character `position` (0–3) of a
/// 4-character group, or [`INVALID`].
const fn values(alphabet: &[u8; 64], position: u32) -> [u32; 256] {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = (i as u32) << (18 - 6 * position);
        i += 1;
    }
    table
}

const fn decoder(alphabet: &[u8; 64]) -> [[u32; 256]; 4] {
    [
        values(alphabet, 0),
        values(alphabet, 1),
        values(alphabet, 2),
        values(alphabet, 3),
    ]
}

static URL_SAFE_PAIRS: [[u8; 2]; 4096] = pairs(URL_SAFE);
static STANDARD_PAIRS: [[u8; 2]; 4096] = pairs(STANDARD);
static URL_SAFE_VALUES: [[u32; 256]; 4] = decoder(URL_SAFE);
static STANDARD_VALUES: [[u32; 256]; 4] = decoder(STANDARD);

impl Alphabet {
    fn pairs(self) -> &'static [[u8; 2]; 4096] {
        match self {
            Self::UrlSafe => &URL_SAFE_PAIRS,
            Self::Standard => &STANDARD_PAIRS,
        }
    }

    fn values(self) -> &'static [[u32; 256]; 4] {
        match self {
            Self::UrlSafe => &URL_SAFE_VALUES,
            Self::Standard => &STANDARD_VALUES,
        }
    }
}

/// The length of the encoding of `len` bytes.
pub(crate) fn encoded_len(len: usize) -> usize {
    len / 3 * 4 + [0, 2, 3][len % 3]
}

/// The text of `bytes`.
pub(crate) fn encode(alphabet: Alphabet, bytes: &[u8]) -> String {
    let mut out = crate::payload::zeroed(encoded_len(bytes.len()));
    encode_to_slice(alphabet, bytes, &mut out);
    // Only alphabet characters were written, all ASCII: this never takes the fallback.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Writes the encoding of `bytes` to `out`, which is `encoded_len(bytes.len())` long.
pub(crate) fn encode_to_slice(alphabet: Alphabet, bytes: &[u8], out: &mut [u8]) {
    let pairs = alphabet.pairs();
    let pair = |n: u32| pairs[(n & 0xFFF) as usize];
    // Six bytes at a time from one 8-byte load, while 8 bytes remain to load.
    let wide = bytes.len().saturating_sub(2) / 6;
    let (wide_out, narrow_out) = out.split_at_mut((wide * 8).min(out.len()));
    for (i, slot) in wide_out.chunks_exact_mut(8).enumerate() {
        let Some(word) = bytes.get(i * 6..i * 6 + 8) else {
            break;
        };
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let n = u64::from_be_bytes(eight);
        for (j, two) in slot.chunks_exact_mut(2).enumerate() {
            two.copy_from_slice(&pairs[((n >> (52 - 12 * j)) & 0xFFF) as usize]);
        }
    }
    let bytes = bytes.get(wide * 6..).unwrap_or_default();
    let out = narrow_out;
    let groups = bytes.chunks_exact(3);
    let tail = groups.remainder();
    let mut slots = out.chunks_exact_mut(4);
    for (group, slot) in groups.zip(&mut slots) {
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        let (high, low) = slot.split_at_mut(2);
        high.copy_from_slice(&pair(n >> 12));
        low.copy_from_slice(&pair(n));
    }
    let rest = slots.into_remainder();
    match (tail, rest) {
        ([a], [x, y]) => {
            [*x, *y] = pair(u32::from(*a) << 4);
        }
        ([a, b], [x, y, z]) => {
            let n = u32::from(*a) << 16 | u32::from(*b) << 8;
            [*x, *y] = pair(n >> 12);
            *z = pair(n)[0];
        }
        _ => {}
    }
}

/// The text is not base64 of this alphabet without padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidBase64;

/// Appends the bytes `text` encodes to `out`. On error `out` is left as it was.
pub(crate) fn decode_into(
    alphabet: Alphabet,
    text: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), InvalidBase64> {
    let [v0, v1, v2, v3] = alphabet.values();
    let tail_len = match text.len() % 4 {
        0 => 0,
        1 => return Err(InvalidBase64),
        n => n - 1,
    };
    let start = out.len();
    out.resize(start + text.len() / 4 * 3 + tail_len, 0);
    let written = &mut out[start..];
    let groups = text.chunks_exact(4);
    let tail = groups.remainder();
    let mut slots = written.chunks_exact_mut(3);
    let mut bad = 0u32;
    for (group, slot) in groups.zip(&mut slots) {
        let n = v0[usize::from(group[0])]
            | v1[usize::from(group[1])]
            | v2[usize::from(group[2])]
            | v3[usize::from(group[3])];
        bad |= n;
        slot.copy_from_slice(&n.to_be_bytes()[1..]);
    }
    let rest = slots.into_remainder();
    let ok = match (tail, rest) {
        ([], []) => true,
        ([a, b], [x]) => {
            let n = v0[usize::from(*a)] | v1[usize::from(*b)];
            bad |= n;
            *x = (n >> 16) as u8;
            n & 0xFFFF == 0
        }
        ([a, b, c], [x, y]) => {
            let n = v0[usize::from(*a)] | v1[usize::from(*b)] | v2[usize::from(*c)];
            bad |= n;
            [*x, *y] = [(n >> 16) as u8, (n >> 8) as u8];
            n & 0xFF == 0
        }
        _ => false,
    };
    if !ok || bad & INVALID != 0 {
        out.truncate(start);
        return Err(InvalidBase64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

    use super::*;

    /// A small deterministic generator for the comparisons.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u8 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) as u8
        }
    }

    fn engines() -> [(Alphabet, base64::engine::GeneralPurpose); 2] {
        [
            (Alphabet::UrlSafe, URL_SAFE_NO_PAD),
            (Alphabet::Standard, STANDARD_NO_PAD),
        ]
    }

    #[test]
    fn encodes_as_the_base64_crate() {
        let mut rng = Lcg(1);
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next()).collect();
            for (alphabet, engine) in engines() {
                let ours = encode(alphabet, &bytes);
                assert_eq!(ours, engine.encode(&bytes), "{alphabet:?} {len}");
                assert_eq!(ours.len(), encoded_len(len));
                let mut back = vec![7u8];
                decode_into(alphabet, ours.as_bytes(), &mut back).unwrap();
                assert_eq!(back[1..], bytes[..]);
            }
        }
    }

    /// Random texts over the alphabet plus some strangers: accepted exactly when the crate
    /// accepts them, with the same bytes.
    #[test]
    fn decodes_and_rejects_as_the_base64_crate() {
        let mut rng = Lcg(2);
        let extra = b"=+/-_ .%\x00\xff\xc3";
        let (mut accepted, mut rejected) = (0, 0);
        for round in 0..20_000 {
            let len = usize::from(rng.next() % 24);
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    let r = rng.next();
                    if round % 3 == 0 && r < 8 {
                        extra[usize::from(r) % extra.len()]
                    } else {
                        URL_SAFE[usize::from(r % 64)]
                    }
                })
                .collect();
            for (alphabet, engine) in engines() {
                let mut ours = vec![1u8, 2];
                let result = decode_into(alphabet, &text, &mut ours);
                match engine.decode(&text) {
                    Ok(expected) => {
                        assert_eq!(result, Ok(()), "{alphabet:?} {text:?}");
                        assert_eq!(ours[2..], expected[..]);
                        accepted += 1;
                    }
                    Err(_) => {
                        assert_eq!(result, Err(InvalidBase64), "{alphabet:?} {text:?}");
                        assert_eq!(ours, [1, 2]);
                        rejected += 1;
                    }
                }
            }
        }
        assert!(accepted > 1000 && rejected > 1000, "{accepted} {rejected}");
    }
}
