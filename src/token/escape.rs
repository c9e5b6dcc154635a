//! .NET's `Uri.EscapeDataString`, which `Response.Cookies.Append` applies to cookie values
//! (`+` → `%2B`, `/` → `%2F`), and its reverse.

/// Every byte except RFC 3986 unreserved characters becomes `%XX` (uppercase hex).
#[cfg(test)]
pub(crate) fn escape_data_string(text: &str) -> String {
    escape_data_bytes(text.as_bytes())
}

/// [`escape_data_string`] of text given as bytes (base64 output, say).
#[cfg(any(test, feature = "session"))]
pub(crate) fn escape_data_bytes(text: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len() + 16);
    for &b in text {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// Reverses [`escape_data_string`]; `None` for a malformed escape or a non-UTF-8 result.
pub(crate) fn unescape_data_string(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_owned());
    }
    let hex = |h: u8| match h {
        b'0'..=b'9' => Some(h - b'0'),
        b'a'..=b'f' => Some(h - b'a' + 10),
        b'A'..=b'F' => Some(h - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    // Runs without '%' are copied whole; each escape is two hex digits.
    while let Some(at) = rest.iter().position(|&b| b == b'%') {
        out.extend_from_slice(&rest[..at]);
        let ([hi, lo], tail) = rest[at + 1..].split_first_chunk::<2>()?;
        out.push(hex(*hi)? << 4 | hex(*lo)?);
        rest = tail;
    }
    out.extend_from_slice(rest);
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_base64() {
        let text = "CfDJ8Futjw/L2Z9+GoWV";
        assert_eq!(escape_data_string(text), "CfDJ8Futjw%2FL2Z9%2BGoWV");
        assert_eq!(
            unescape_data_string(&escape_data_string(text)).as_deref(),
            Some(text)
        );
        assert_eq!(unescape_data_string("%2"), None);
        assert_eq!(unescape_data_string("%zz"), None);
        assert_eq!(unescape_data_string("%+1"), None);
        assert_eq!(unescape_data_string("%e2%82"), None);
        assert_eq!(unescape_data_string("a%2fb").as_deref(), Some("a/b"));
    }
}
