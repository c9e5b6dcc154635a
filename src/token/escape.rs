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
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = tail
                .get(..2)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            rest = tail.get(2..)?;
        } else {
            out.push(b);
            rest = tail;
        }
    }
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
