//! Reading a protected token without key material: which text encoding it uses, whether the
//! envelope is a Data Protection payload, which key protected it, and which algorithms its
//! size fits.
//!
//! ```text
//! token   := base64url(payload)                 Protect(string), cookie auth, antiforgery
//!          | EscapeDataString(base64(payload))  session cookies, `=` trimmed
//! payload := 09 F0 C9 F0 || key id (16) || encryptor payload
//! CBC     := key modifier (16) || IV (16) || ciphertext (16·k, k ≥ 1) || HMAC (32 or 64)
//! GCM     := key modifier (16) || nonce (12) || ciphertext (n ≥ 0) || tag (16)
//! ```
//!
//! Nothing beyond the first 20 bytes can be read without the key: the time-limited
//! protector's expiration is the first 8 bytes of the *encrypted* plaintext, so it is never
//! readable here ([`EXPIRY_NOT_READABLE`]). The size shows the algorithm family and the
//! plaintext length, never the key size (AES-128, -192 and -256 give the same lengths).

pub(crate) mod escape;

use std::fmt;
use std::ops::RangeInclusive;

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::algorithm::{Algorithm, ValidationAlgorithm};
use crate::key_id::KeyId;
use crate::payload::{HEADER_LEN, MAGIC};

/// Why a token's time-limited expiration cannot be shown without the key.
pub const EXPIRY_NOT_READABLE: &str = "a time-limited token's expiration is the first 8 bytes of \
     the encrypted plaintext: it can be read only by unprotecting with the key and purposes";

/// The key modifier every encryptor payload starts with.
const KEY_MODIFIER_LEN: usize = 16;
const AES_BLOCK: usize = 16;
const GCM_NONCE_LEN: usize = 12;
const GCM_TAG_LEN: usize = 16;

/// What [`inspect`] read from a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenInfo {
    /// The cookie name, when the input was `NAME=VALUE` or a `Cookie`/`Set-Cookie` header.
    pub cookie_name: Option<String>,
    /// Whether the text was URL-escaped (`%2B`, `%2F`: a session cookie as sent).
    pub url_escaped: bool,
    /// The base64 alphabet the text uses.
    pub encoding: TokenEncoding,
    /// Whether the text ended with `=` padding (neither ASP.NET form writes it).
    pub padded: bool,
    /// The text's length cannot be whole base64: it was cut (`None` when it is whole).
    pub text_cut: Option<TextCut>,
    /// The decoded bytes: the protected payload as far as it could be decoded (no secret: it
    /// is what travels in the token).
    pub payload: Vec<u8>,
    /// What the first 4 bytes say.
    pub header: Header,
    /// The key id, when all 16 of its bytes are present.
    pub key_id: Option<KeyId>,
    /// Bytes after the 20-byte header (the encryptor payload).
    pub body_len: usize,
    /// How the body's length fits each encryptor layout, when the header is whole.
    pub layouts: Vec<LayoutFit>,
}

/// The alphabet of a token's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenEncoding {
    /// `-` and `_` (RFC 4648 §5): `Protect(string)`, cookie authentication, antiforgery.
    Base64Url,
    /// `+` and `/`: session cookies (`=` trimmed, then URL-escaped).
    Base64,
    /// Only characters both alphabets share: either form decodes to the same bytes.
    Either,
    /// Not base64.
    Invalid(InvalidText),
}

impl TokenEncoding {
    /// A fixed word (`base64url`, `base64`, `either`, `invalid`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Base64Url => "base64url",
            Self::Base64 => "base64",
            Self::Either => "base64url-or-base64",
            Self::Invalid(_) => "invalid",
        }
    }
}

/// Why a token's text is not base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidText {
    /// Empty after trimming.
    Empty,
    /// A character outside both alphabets, at this character index (0-based, after
    /// unescaping).
    Character {
        /// Its index.
        index: usize,
        /// The character.
        character: char,
    },
    /// `-`/`_` and `+`/`/` mixed in one text.
    MixedAlphabets,
    /// A `%` escape that is not `%XX`, or escapes that do not give UTF-8.
    BadEscape,
    /// `=` inside the text, not only at its end.
    MisplacedPadding,
    /// Valid characters that still do not decode.
    Undecodable,
}

impl fmt::Display for InvalidText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the input is empty"),
            Self::Character { index, character } => write!(
                f,
                "character {character:?} at position {index} is not base64 or base64url"
            ),
            Self::MixedAlphabets => {
                f.write_str("the text mixes base64url (-, _) and base64 (+, /) characters")
            }
            Self::BadEscape => f.write_str("a %-escape is malformed"),
            Self::MisplacedPadding => f.write_str("'=' appears before the end of the text"),
            Self::Undecodable => f.write_str("the text does not decode as base64"),
        }
    }
}

/// How a token's text shows it was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextCut {
    /// One character more than a multiple of four: no whole base64 text has that length (the
    /// last character was dropped before decoding).
    DanglingCharacter,
    /// The last character holds bits beyond the data, which an encoder never writes.
    StrayBits,
}

impl fmt::Display for TextCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DanglingCharacter => {
                "its length is one more than a multiple of 4, which no base64 text has"
            }
            Self::StrayBits => "its last character holds bits an encoder never writes",
        })
    }
}

/// The 4-byte magic header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Header {
    /// `09 F0 C9 F0`, format version 0.
    Valid,
    /// Fewer than 20 bytes, and those present match the start of a header.
    Truncated,
    /// Not `09 F0 C9 Fx`: not a Data Protection payload (or not this one's encoding).
    NotDataProtection {
        /// The first bytes (up to 4).
        found: [u8; 4],
        /// How many of `found` are present.
        len: usize,
    },
    /// `09 F0 C9 Fx` with a version other than 0: a newer format.
    NewerVersion(u8),
}

/// The encryptor layouts ASP.NET Core's built-in algorithms write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layout {
    /// AES-CBC (any key size) with HMACSHA256.
    CbcHmacSha256,
    /// AES-CBC (any key size) with HMACSHA512.
    CbcHmacSha512,
    /// AES-GCM (any key size).
    Gcm,
}

impl Layout {
    /// Every layout.
    pub const ALL: [Self; 3] = [Self::CbcHmacSha256, Self::CbcHmacSha512, Self::Gcm];

    /// The layout `algorithm` writes.
    pub fn of(algorithm: Algorithm) -> Self {
        match algorithm.validation() {
            _ if algorithm.encryption().is_gcm() => Self::Gcm,
            Some(ValidationAlgorithm::HmacSha512) => Self::CbcHmacSha512,
            _ => Self::CbcHmacSha256,
        }
    }

    /// A fixed name (`AES-CBC+HMACSHA256`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CbcHmacSha256 => "AES-CBC+HMACSHA256",
            Self::CbcHmacSha512 => "AES-CBC+HMACSHA512",
            Self::Gcm => "AES-GCM",
        }
    }

    /// The shortest encryptor payload of this layout (an empty plaintext).
    pub fn min_len(self) -> usize {
        match self {
            Self::CbcHmacSha256 => KEY_MODIFIER_LEN + AES_BLOCK + AES_BLOCK + 32,
            Self::CbcHmacSha512 => KEY_MODIFIER_LEN + AES_BLOCK + AES_BLOCK + 64,
            Self::Gcm => KEY_MODIFIER_LEN + GCM_NONCE_LEN + GCM_TAG_LEN,
        }
    }

    /// How an encryptor payload of `body_len` bytes fits this layout.
    pub fn fit(self, body_len: usize) -> Fit {
        if body_len < self.min_len() {
            return Fit::TooShort {
                needed: self.min_len(),
            };
        }
        match self {
            Self::Gcm => {
                let n = body_len - self.min_len();
                Fit::Fits { plaintext: n..=n }
            }
            Self::CbcHmacSha256 | Self::CbcHmacSha512 => {
                // min_len holds one ciphertext block; PKCS#7 adds 1 to 16 bytes.
                let extra = body_len - self.min_len();
                if !extra.is_multiple_of(AES_BLOCK) {
                    return Fit::Misaligned;
                }
                Fit::Fits {
                    plaintext: extra..=extra + AES_BLOCK - 1,
                }
            }
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a payload's size fits one layout.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fit {
    /// It fits; the plaintext is this many bytes (a range for CBC's padding).
    Fits {
        /// The possible plaintext lengths.
        plaintext: RangeInclusive<usize>,
    },
    /// Shorter than the layout's smallest payload.
    TooShort {
        /// The smallest encryptor payload of the layout.
        needed: usize,
    },
    /// The ciphertext is not whole AES blocks (CBC): cut or altered.
    Misaligned,
}

impl Fit {
    /// Whether the size fits.
    pub fn fits(&self) -> bool {
        matches!(self, Self::Fits { .. })
    }
}

/// One layout and how the token's size fits it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayoutFit {
    /// The layout.
    pub layout: Layout,
    /// How the size fits it.
    pub fit: Fit,
}

impl TokenInfo {
    /// The layouts the size fits.
    pub fn fitting_layouts(&self) -> impl Iterator<Item = Layout> + '_ {
        self.layouts
            .iter()
            .filter(|l| l.fit.fits())
            .map(|l| l.layout)
    }

    /// How the size fits `algorithm` (the algorithm of the key the token names); `None`
    /// when the header is not whole.
    pub fn fit_for(&self, algorithm: Algorithm) -> Option<Fit> {
        self.key_id
            .map(|_| Layout::of(algorithm).fit(self.body_len))
    }

    /// Why the token looks truncated, if it does: the text's length, a header cut short, or
    /// a payload shorter than any layout's smallest.
    pub fn truncation(&self) -> Option<Truncation> {
        if let Some(cut) = self.text_cut {
            return Some(Truncation::Text(cut));
        }
        if matches!(self.encoding, TokenEncoding::Invalid(_)) {
            return None;
        }
        match self.header {
            Header::Truncated => return Some(Truncation::Header),
            Header::Valid => {}
            _ => return None,
        }
        if self.fitting_layouts().next().is_none() {
            return Some(Truncation::Payload);
        }
        None
    }
}

/// Where a token was found cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Truncation {
    /// The text itself (see [`TextCut`]).
    Text(TextCut),
    /// Before the end of the 20-byte header (magic and key id).
    Header,
    /// The payload is shorter than any algorithm's smallest.
    Payload,
}

impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(cut) => write!(f, "the text was cut: {cut}"),
            Self::Header => f.write_str("the token ends inside its 20-byte header"),
            Self::Payload => {
                f.write_str("the payload is shorter than any algorithm's smallest payload")
            }
        }
    }
}

/// Decodes `input` (a token, a cookie value, `NAME=VALUE`, or a `Cookie`/`Set-Cookie`
/// header) and reads what can be read without a key. Never fails and never panics: what
/// could not be read is reported in the result.
pub fn inspect(input: &str) -> TokenInfo {
    let (cookie_name, value) = cookie_value(input.trim());
    let mut info = TokenInfo {
        cookie_name,
        url_escaped: value.contains('%'),
        encoding: TokenEncoding::Invalid(InvalidText::Empty),
        padded: false,
        text_cut: None,
        payload: Vec::new(),
        header: Header::Truncated,
        key_id: None,
        body_len: 0,
        layouts: Vec::new(),
    };
    let Some(text) = escape::unescape_data_string(value) else {
        info.encoding = TokenEncoding::Invalid(InvalidText::BadEscape);
        return info;
    };
    let text = text.trim();
    let unpadded = text.trim_end_matches('=');
    info.padded = unpadded.len() != text.len();
    let (encoding, bytes, cut) = match decode(unpadded) {
        Ok(decoded) => decoded,
        Err(why) => {
            info.encoding = TokenEncoding::Invalid(why);
            return info;
        }
    };
    info.encoding = encoding;
    info.text_cut = cut;
    read_envelope(&mut info, &bytes);
    info.payload = bytes;
    info
}

/// Splits off a cookie name: `NAME=VALUE`, `Cookie: A=B; NAME=VALUE`, or a `Set-Cookie`
/// value with attributes. The chosen pair is the first whose value starts like a payload
/// (`CfDJ8`), else the first. Text without a name (a bare token, maybe `=`-padded) is
/// returned as it is.
fn cookie_value(input: &str) -> (Option<String>, &str) {
    let input = ["Set-Cookie:", "Cookie:"]
        .iter()
        .find_map(|p| {
            input
                .get(..p.len())
                .filter(|head| head.eq_ignore_ascii_case(p))
                .and_then(|_| input.get(p.len()..))
        })
        .unwrap_or(input)
        .trim();
    let pairs: Vec<(&str, &str)> = input
        .split(';')
        .filter_map(|part| part.trim().split_once('='))
        // A padded bare token splits into (token, "="-run): not a pair.
        .filter(|(name, value)| !name.is_empty() && !value.trim_start_matches('=').is_empty())
        .map(|(name, value)| (name.trim(), value.trim().trim_matches('"')))
        .collect();
    let chosen = pairs
        .iter()
        .find(|(_, v)| v.starts_with("CfDJ8"))
        .or_else(|| pairs.first());
    match chosen {
        Some((name, value)) if !input.starts_with("CfDJ8") => (Some((*name).to_owned()), value),
        _ => (None, input),
    }
}

/// Decodes unpadded text in either alphabet, leniently enough to read a cut token.
fn decode(text: &str) -> Result<(TokenEncoding, Vec<u8>, Option<TextCut>), InvalidText> {
    if text.is_empty() {
        return Err(InvalidText::Empty);
    }
    let (mut url, mut std) = (false, false);
    for (index, character) in text.chars().enumerate() {
        match character {
            'A'..='Z' | 'a'..='z' | '0'..='9' => {}
            '-' | '_' => url = true,
            '+' | '/' => std = true,
            '=' => return Err(InvalidText::MisplacedPadding),
            _ => return Err(InvalidText::Character { index, character }),
        }
    }
    let encoding = match (url, std) {
        (true, true) => return Err(InvalidText::MixedAlphabets),
        (true, false) => TokenEncoding::Base64Url,
        (false, true) => TokenEncoding::Base64,
        (false, false) => TokenEncoding::Either,
    };
    // One alphabet from here on: the text is ASCII, so byte slicing is safe.
    let normalized: String = text
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let mut cut = None;
    let whole = if normalized.len() % 4 == 1 {
        cut = Some(TextCut::DanglingCharacter);
        normalized.get(..normalized.len() - 1).unwrap_or_default()
    } else {
        normalized.as_str()
    };
    let lenient = GeneralPurpose::new(
        &alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let bytes = lenient
        .decode(whole)
        .map_err(|_| InvalidText::Undecodable)?;
    if cut.is_none() && URL_SAFE_NO_PAD.decode(whole).is_err() {
        cut = Some(TextCut::StrayBits);
    }
    Ok((encoding, bytes, cut))
}

fn read_envelope(info: &mut TokenInfo, bytes: &[u8]) {
    let present = bytes.len().min(MAGIC.len());
    let mut found = [0u8; 4];
    for (slot, byte) in found.iter_mut().zip(bytes) {
        *slot = *byte;
    }
    let prefix_ok = bytes
        .iter()
        .zip(MAGIC.iter())
        .enumerate()
        .all(|(i, (b, m))| if i == 3 { b & 0xF0 == m & 0xF0 } else { b == m });
    if !prefix_ok {
        info.header = Header::NotDataProtection {
            found,
            len: present,
        };
        return;
    }
    if present < MAGIC.len() {
        info.header = Header::Truncated;
        return;
    }
    let version = found[3] & 0x0F;
    if version != 0 {
        info.header = Header::NewerVersion(version);
        return;
    }
    let Some((head, body)) = bytes.split_at_checked(HEADER_LEN) else {
        info.header = Header::Truncated;
        return;
    };
    info.header = Header::Valid;
    let Some(id) = head
        .get(MAGIC.len()..)
        .and_then(|id| <[u8; 16]>::try_from(id).ok())
    else {
        return;
    };
    info.key_id = Some(KeyId::from_guid_bytes(id));
    info.body_len = body.len();
    info.layouts = Layout::ALL
        .iter()
        .map(|&layout| LayoutFit {
            layout,
            fit: layout.fit(body.len()),
        })
        .collect();
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD_NO_PAD;

    use super::*;

    fn payload(body: usize) -> Vec<u8> {
        let mut p = crate::payload::header(KeyId::from_guid_bytes([7; 16])).to_vec();
        p.extend((0..body).map(|i| i as u8));
        p
    }

    #[test]
    fn layouts_by_size() {
        // A 36-byte session key: CBC 100 + 16·2 = 132 bytes in all, GCM 64 + 36 = 100.
        assert_eq!(
            Layout::CbcHmacSha256.fit(112),
            Fit::Fits { plaintext: 32..=47 }
        );
        assert_eq!(Layout::Gcm.fit(80), Fit::Fits { plaintext: 36..=36 });
        assert_eq!(Layout::CbcHmacSha256.fit(81), Fit::Misaligned);
        assert_eq!(
            Layout::CbcHmacSha512.fit(100),
            Fit::TooShort { needed: 112 }
        );
        assert_eq!(Layout::Gcm.fit(43), Fit::TooShort { needed: 44 });
        assert_eq!(
            Layout::of(Algorithm::AES_256_CBC_HMACSHA256),
            Layout::CbcHmacSha256
        );
        assert_eq!(Layout::of(Algorithm::AES_256_GCM), Layout::Gcm);
    }

    #[test]
    fn reads_both_flavours_and_escapes() {
        let bytes = payload(112);
        let url = inspect(&URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(url.header, Header::Valid);
        assert_eq!(url.key_id, Some(KeyId::from_guid_bytes([7; 16])));
        assert_eq!(url.body_len, 112);
        assert_eq!(url.truncation(), None);
        let std_text = STANDARD_NO_PAD.encode(&bytes);
        let cookie = escape::escape_data_string(&std_text);
        let c = inspect(&format!("a=1; .AspNetCore.Session={cookie}"));
        assert_eq!(c.cookie_name.as_deref(), Some(".AspNetCore.Session"));
        assert!(c.url_escaped);
        assert_eq!(c.key_id, url.key_id);
        assert_eq!(c.payload, bytes);
        assert!(!c.padded);
        let odd = payload(113);
        let padded = inspect(&base64::engine::general_purpose::STANDARD.encode(&odd));
        assert!(padded.padded);
        assert_eq!(padded.payload, odd);
        assert_eq!(padded.fitting_layouts().collect::<Vec<_>>(), [Layout::Gcm]);
    }

    #[test]
    fn truncation_is_reported() {
        let text = URL_SAFE_NO_PAD.encode(payload(112));
        // Cut at every length: never a panic; a cut header or text is named.
        for n in 0..text.len() {
            let info = inspect(&text[..n]);
            if n > 0 && n < 27 {
                assert!(info.truncation().is_some(), "{n}: {info:?}");
            }
        }
        let short = inspect(&text[..10]);
        assert_eq!(short.header, Header::Truncated);
        let dangling = inspect(&text[..text.len() - 3]);
        assert_eq!(
            dangling.truncation(),
            Some(Truncation::Text(TextCut::DanglingCharacter))
        );
        let tiny = inspect(&URL_SAFE_NO_PAD.encode(payload(30)));
        assert_eq!(tiny.truncation(), Some(Truncation::Payload));
    }

    #[test]
    fn other_inputs() {
        assert_eq!(
            inspect("  ").encoding,
            TokenEncoding::Invalid(InvalidText::Empty)
        );
        assert_eq!(
            inspect("ab-c+d").encoding,
            TokenEncoding::Invalid(InvalidText::MixedAlphabets)
        );
        assert_eq!(
            inspect("abc!").encoding,
            TokenEncoding::Invalid(InvalidText::Character {
                index: 3,
                character: '!'
            })
        );
        assert_eq!(
            inspect("%zz").encoding,
            TokenEncoding::Invalid(InvalidText::BadEscape)
        );
        let jwt_like = inspect("eyJhbGciOiJIUzI1NiJ9");
        assert!(matches!(
            jwt_like.header,
            Header::NotDataProtection { len: 4, .. }
        ));
        let mut newer = payload(80);
        newer[3] = 0xF2;
        assert_eq!(
            inspect(&URL_SAFE_NO_PAD.encode(newer)).header,
            Header::NewerVersion(2)
        );
    }
}
