//! `xsd:dateTime` as .NET writes it (`XmlConvert.ToString(DateTimeOffset)`), and .NET ticks.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Ticks (100 ns) between 0001-01-01T00:00:00Z and the Unix epoch.
const UNIX_EPOCH_TICKS: i128 = 621_355_968_000_000_000;
/// Ticks of 9999-12-31T23:59:59.9999999Z, the last instant .NET's `DateTimeOffset` holds.
pub(crate) const MAX_TICKS: i128 = 0x2bca_2875_f437_3fff;

/// The largest UTC offset .NET's `DateTimeOffset` accepts (14 hours), in minutes.
const MAX_OFFSET_MINUTES: i16 = 14 * 60;

/// Whether .NET's `DateTimeOffset` can hold the instant (years 1 to 9999 in UTC). Dates
/// outside that range are rejected wherever they come from (a stored element, a user).
pub(crate) fn in_dotnet_range(dt: OffsetDateTime) -> bool {
    (0..=MAX_TICKS).contains(&to_ticks(dt))
}

/// Formats as `yyyy-MM-ddTHH:mm:ss[.fffffff]` (at most 7 digits, trailing zeros trimmed) and
/// `Z` for UTC or `±hh:mm`.
pub(crate) fn format(dt: OffsetDateTime) -> String {
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if let Some(frac) = fraction(dt) {
        s.push('.');
        s.push_str(&frac);
    }
    let offset = dt.offset();
    if offset.is_utc() {
        s.push('Z');
    } else {
        let total = offset.whole_minutes();
        let sign = if total < 0 { '-' } else { '+' };
        s.push_str(&format!(
            "{sign}{:02}:{:02}",
            total.abs() / 60,
            total.abs() % 60
        ));
    }
    s
}

/// `yyyyMMddTHHmmssFFFFFFFZ` of the instant in UTC (.NET's mass-revocation file names).
pub(crate) fn format_basic_utc(dt: OffsetDateTime) -> String {
    // Out of range only for instants `parse` and the public API never let through.
    let utc = dt.checked_to_offset(UtcOffset::UTC).unwrap_or(dt);
    let mut s = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    );
    s.push_str(&fraction(utc).unwrap_or_default());
    s.push('Z');
    s
}

/// Sub-second digits at 100 ns resolution, trailing zeros trimmed; `None` for whole seconds.
fn fraction(dt: OffsetDateTime) -> Option<String> {
    let ticks = dt.nanosecond() / 100;
    (ticks != 0).then(|| format!("{ticks:07}").trim_end_matches('0').to_owned())
}

/// Parses any `xsd:dateTime`: fraction of any length (kept to 100 ns), `Z`, an offset, or
/// none (taken as UTC).
pub(crate) fn parse(text: &str) -> Option<OffsetDateTime> {
    let s = text.trim();
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let date = Date::from_calendar_date(
        i32::try_from(num(0..4)?).ok()?,
        Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?,
        u8::try_from(num(8..10)?).ok()?,
    )
    .ok()?;
    let mut rest = s.get(19..)?;
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, c) in frac.bytes().take(9).enumerate() {
            if i < digits {
                nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
            }
        }
        nanos = nanos / 100 * 100;
        rest = &frac[digits..];
    }
    let time = Time::from_hms_nano(
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(14..16)?).ok()?,
        u8::try_from(num(17..19)?).ok()?,
        nanos,
    )
    .ok()?;
    let offset = match rest {
        "" | "Z" => UtcOffset::UTC,
        _ => {
            let (sign, hm) = match rest.as_bytes()[0] {
                b'+' => (1i8, &rest[1..]),
                b'-' => (-1i8, &rest[1..]),
                _ => return None,
            };
            let (h, m) = hm.split_once(':')?;
            let two_digits = |p: &str| p.len() == 2 && p.bytes().all(|c| c.is_ascii_digit());
            if !two_digits(h) || !two_digits(m) {
                return None;
            }
            let h: i8 = h.parse().ok()?;
            let m: i8 = m.parse().ok()?;
            // .NET's DateTimeOffset holds offsets of at most 14 hours either way.
            if m >= 60 || i16::from(h) * 60 + i16::from(m) > MAX_OFFSET_MINUTES {
                return None;
            }
            UtcOffset::from_hms(sign * h, sign * m, 0).ok()?
        }
    };
    let dt = PrimitiveDateTime::new(date, time).assume_offset(offset);
    in_dotnet_range(dt).then_some(dt)
}

/// .NET `UtcTicks` of an instant.
pub(crate) fn to_ticks(dt: OffsetDateTime) -> i128 {
    dt.unix_timestamp_nanos() / 100 + UNIX_EPOCH_TICKS
}

/// The instant of a .NET tick count, if `time` can represent it.
pub(crate) fn from_ticks(ticks: i128) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos((ticks - UNIX_EPOCH_TICKS) * 100).ok()
}

/// Truncates to .NET's 100 ns resolution, so what is written reads back identical.
pub(crate) fn truncate_to_ticks(dt: OffsetDateTime) -> OffsetDateTime {
    from_ticks(to_ticks(dt)).unwrap_or(dt)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn formats_like_dotnet() {
        assert_eq!(
            format(datetime!(2015-01-01 0:00 UTC)),
            "2015-01-01T00:00:00Z"
        );
        assert_eq!(
            format(datetime!(2015-03-19 23:32:02.3949887 UTC)),
            "2015-03-19T23:32:02.3949887Z"
        );
        assert_eq!(
            format(datetime!(2015-03-01 19:13:19.75738540 -8:00)),
            "2015-03-01T19:13:19.7573854-08:00"
        );
        assert_eq!(
            format(datetime!(2015-03-01 19:13:19.5 +5:30)),
            "2015-03-01T19:13:19.5+05:30"
        );
    }

    #[test]
    fn parses_what_it_formats_and_more() {
        for s in [
            "2015-01-01T00:00:00Z",
            "2015-03-19T23:32:02.3949887Z",
            "2015-03-01T19:13:19.7573854-08:00",
            "2015-03-20T15:45:45.7366491-07:00",
            "2015-03-20T15:45:45+14:00",
            "2015-03-20T15:45:45-14:00",
        ] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
        assert_eq!(
            parse("2015-01-01T00:00:00").unwrap(),
            datetime!(2015-01-01 0:00 UTC)
        );
        assert_eq!(
            parse(" 2015-01-01T00:00:00.123456789Z ").unwrap(),
            datetime!(2015-01-01 0:00:00.1234567 UTC)
        );
        for bad in [
            "",
            "2015-01-01",
            "2015-13-01T00:00:00Z",
            "2015-01-01T00:00:00.Z",
            "2015-01-01T00:00:00+8",
            "x015-01-01T00:00:00Z",
            "2015-01-01T00:00:00Zjunk",
            "+015-01-01T00:00:00Z",
            "9999-12-31T23:00:00-05:00",
            "0001-01-01T00:30:00+01:00",
            // Offsets .NET's DateTimeOffset rejects (over 14 hours), or not two digits each.
            "2019-01-01T00:00:00+25:00",
            "2019-01-01T00:00:00-14:01",
            "2019-01-01T00:00:00+15:00",
            "2019-01-01T00:00:00+00:60",
            "2019-01-01T00:00:00++1:00",
            "2019-01-01T00:00:00+01:-1",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn ticks_match_dotnet() {
        // shared/vectors/upstream/time_limited.txt
        assert_eq!(
            to_ticks(datetime!(2000-01-01 0:00 UTC)),
            0x08c1_2202_47e4_4000
        );
        assert_eq!(
            from_ticks(0x2bca_2875_f437_3fff).unwrap(),
            datetime!(9999-12-31 23:59:59.9999999 UTC)
        );
    }
}
