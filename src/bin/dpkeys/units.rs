//! DURATION (`90d`, `12h`, `30m`, `45s`, `1d12h`) and DATE (RFC 3339) arguments.

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses `90d`, `12h`, `30m`, `45s`, `2w`, or a sequence such as `1d12h`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad =
        || format!("invalid duration {text:?}: use a number and a unit, like 90d, 12h, 30m, 45s");
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .filter(|s| *s <= 100 * 365 * 86_400)
            .ok_or_else(|| format!("duration {text:?} is too long"))?;
    }
    if !number.is_empty() || total == 0 && !text.trim().starts_with('0') {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// Parses an RFC 3339 date such as `2026-01-31T00:00:00Z`, within .NET's range (years 1 to
/// 9999 in UTC).
pub(crate) fn parse_date(text: &str) -> Result<OffsetDateTime, String> {
    let date = OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|e| {
        format!("invalid date {text:?} ({e}): use RFC 3339, like 2026-01-31T00:00:00Z")
    })?;
    date.checked_to_offset(time::UtcOffset::UTC)
        .filter(|utc| (1..=9999).contains(&utc.year()))
        .ok_or_else(|| {
            format!("date {text:?} is outside the range of .NET dates (years 1 to 9999 in UTC)")
        })
}

/// Formats a date as RFC 3339 in UTC.
pub(crate) fn format_date(date: OffsetDateTime) -> String {
    date.checked_to_offset(time::UtcOffset::UTC)
        .unwrap_or(date)
        .format(&Rfc3339)
        .unwrap_or_else(|_| date.to_string())
}

/// Formats a date as RFC 3339 in UTC, to the second (for tables).
pub(crate) fn format_date_short(date: OffsetDateTime) -> String {
    format_date(date.replace_nanosecond(0).unwrap_or(date))
}

/// Lowercase hex.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes hex, ignoring whitespace.
pub(crate) fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err("hex input has an odd number of digits".into());
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| "hex input holds a character that is not a hex digit".to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_duration("1d12h"), Ok(Duration::from_secs(36 * 3_600)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1_800)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "90", "d", "5x", "1.5h", "-1d", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn dates_and_hex() {
        let d = parse_date("2026-01-31T10:00:00+02:00").unwrap();
        assert_eq!(format_date(d), "2026-01-31T08:00:00Z");
        assert!(parse_date("yesterday").is_err());
        assert_eq!(from_hex("48 65\n6c").unwrap(), b"Hel");
        assert_eq!(to_hex(b"Hel"), "48656c");
        assert!(from_hex("4").is_err() && from_hex("zz").is_err());
    }
}
