//! `<revocation>` elements: one key, or every key created before a date.

use time::OffsetDateTime;

use super::ElementError;
use crate::key_id::KeyId;
use crate::xml::{XmlElement, datetime};

/// A revocation element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revocation {
    /// One key.
    Key { id: KeyId },
    /// Every key created strictly before `date`.
    CreatedBefore { date: OffsetDateTime },
}

pub(super) fn read(element: &XmlElement) -> Result<Revocation, ElementError> {
    let key = element
        .element("key")
        .and_then(|k| k.attribute("id"))
        .ok_or(ElementError::RevocationWithoutKey)?;
    if key.trim() == "*" {
        let date = element
            .element("revocationDate")
            .and_then(|d| datetime::parse(&d.text_content()))
            .ok_or(ElementError::BadRevocationDate)?;
        return Ok(Revocation::CreatedBefore { date });
    }
    let id = key.parse().map_err(ElementError::BadKeyId)?;
    Ok(Revocation::Key { id })
}

impl Revocation {
    /// The friendly name a revocation is written under: `revocation-{id}`, or
    /// `revocation-yyyyMMddTHHmmssFFFFFFFZ` of the date in UTC.
    pub(crate) fn friendly_name(self) -> String {
        match self {
            Self::Key { id } => format!("revocation-{id}"),
            Self::CreatedBefore { date } => {
                format!("revocation-{}", datetime::format_basic_utc(date))
            }
        }
    }
}

/// A revocation element and its friendly name.
pub(crate) fn revocation_element(
    revocation: Revocation,
    now: OffsetDateTime,
    reason: &str,
) -> (XmlElement, String) {
    let name = revocation.friendly_name();
    let (date, key) = match revocation {
        Revocation::Key { id } => (now, id.to_string()),
        Revocation::CreatedBefore { date } => (date, "*".to_owned()),
    };
    let mut element = XmlElement::new("revocation")
        .attr("version", "1")
        .child(XmlElement::new("revocationDate").text(datetime::format(date)));
    if key == "*" {
        element = element.comment(" All keys created before the revocation date are revoked. ");
    }
    let element = element
        .child(XmlElement::new("key").attr("id", key))
        .child(XmlElement::new("reason").text(reason));
    (element, name)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn mass_revocation_friendly_name() {
        // XmlKeyManagerTests (shared/vectors/upstream/xml_key_manager.txt)
        let name = |date| Revocation::CreatedBefore { date }.friendly_name();
        assert_eq!(
            name(datetime!(2015-03-01 19:13:19.7573854 -8:00)),
            "revocation-20150302T0313197573854Z"
        );
        assert_eq!(
            name(datetime!(2015-03-01 0:00 UTC)),
            "revocation-20150301T000000Z"
        );
    }

    #[test]
    fn dates_past_dotnet_range_are_rejected() {
        // 9999-12-31T23:00-05:00 is 10000-01-01T04:00Z: no .NET DateTimeOffset holds it.
        let e = XmlElement::parse(
            "<revocation version='1'><revocationDate>9999-12-31T23:00:00-05:00</revocationDate>\
             <key id='*'/><reason>x</reason></revocation>",
        )
        .unwrap();
        assert_eq!(read(&e), Err(ElementError::BadRevocationDate));
    }
}
