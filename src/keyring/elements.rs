//! `<key>` and `<revocation>` elements: reading them from the store and building new ones.

use std::sync::Arc;

use time::OffsetDateTime;

use super::descriptor::{self, KeyProblem};
use crate::crypto::Encryptor;
use crate::xml::{XmlElement, datetime};
use crate::{Algorithm, KeyId, Secret};

/// A key as read from its element. Immutable; shared by successive rings.
#[derive(Clone)]
pub(crate) struct ParsedKey {
    pub(crate) id: KeyId,
    pub(crate) created: OffsetDateTime,
    pub(crate) activation: OffsetDateTime,
    pub(crate) expiration: OffsetDateTime,
    pub(crate) material: Result<Arc<Encryptor>, KeyProblem>,
}

/// A revocation element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revocation {
    /// One key.
    Key { id: KeyId },
    /// Every key created strictly before `date`.
    CreatedBefore { date: OffsetDateTime },
}

/// What a stored element turned out to be.
pub(crate) enum Element {
    Key(Arc<ParsedKey>),
    Revocation(Revocation),
    /// A `<key>` whose id or dates cannot be read: skipped, and reported.
    BadKey(String),
    /// Something else: ignored, and reported.
    Unknown(String),
}

/// Classifies a parsed element. A malformed revocation is an error: ignoring it could leave
/// a revoked (perhaps compromised) key in use.
pub(crate) fn read(element: &XmlElement) -> Result<Element, String> {
    match element.local_name() {
        "key" => Ok(read_key(element).map_or_else(Element::BadKey, |k| Element::Key(Arc::new(k)))),
        "revocation" => read_revocation(element).map(Element::Revocation),
        other => Ok(Element::Unknown(format!("unknown element <{other}>"))),
    }
}

fn read_key(element: &XmlElement) -> Result<ParsedKey, String> {
    let id_text = element.attribute("id").ok_or("key without id")?;
    let id: KeyId = id_text.parse().map_err(|e| format!("key id: {e}"))?;
    let date = |name: &str| {
        element
            .element(name)
            .and_then(|e| datetime::parse(&e.text_content()))
            .ok_or_else(|| format!("key {id}: missing or invalid <{name}>"))
    };
    let created = date("creationDate")?;
    let activation = date("activationDate")?;
    let expiration = date("expirationDate")?;
    let material = element
        .element("descriptor")
        .ok_or_else(|| KeyProblem::Malformed("no <descriptor>".into()))
        .and_then(descriptor::read)
        .map(|(algorithm, master)| Arc::new(Encryptor::new(algorithm, &master)));
    Ok(ParsedKey {
        id,
        created,
        activation,
        expiration,
        material,
    })
}

fn read_revocation(element: &XmlElement) -> Result<Revocation, String> {
    let key = element
        .element("key")
        .and_then(|k| k.attribute("id"))
        .ok_or("revocation without <key id>")?;
    if key.trim() == "*" {
        let date = element
            .element("revocationDate")
            .and_then(|d| datetime::parse(&d.text_content()))
            .ok_or("revocation without a valid <revocationDate>")?;
        return Ok(Revocation::CreatedBefore { date });
    }
    let id = key.parse().map_err(|e| format!("revocation: {e}"))?;
    Ok(Revocation::Key { id })
}

/// A new `<key>` element and its friendly name (`key-{id}`).
pub(crate) fn key_element(
    id: KeyId,
    created: OffsetDateTime,
    activation: OffsetDateTime,
    expiration: OffsetDateTime,
    algorithm: Algorithm,
    master_key: &Secret,
) -> (XmlElement, String) {
    let element = XmlElement::new("key")
        .attr("id", id.to_string())
        .attr("version", "1")
        .child(XmlElement::new("creationDate").text(datetime::format(created)))
        .child(XmlElement::new("activationDate").text(datetime::format(activation)))
        .child(XmlElement::new("expirationDate").text(datetime::format(expiration)))
        .child(descriptor::write(algorithm, master_key));
    (element, format!("key-{id}"))
}

/// A revocation element and its friendly name.
pub(crate) fn revocation_element(
    revocation: Revocation,
    now: OffsetDateTime,
    reason: &str,
) -> (XmlElement, String) {
    let name = revocation_name(revocation);
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

/// The friendly name an element would have been written under (`key-{id}`,
/// `revocation-{id}`, `revocation-{date}`), read from its content. `None` for anything else.
pub(crate) fn friendly_name_of(element: &XmlElement) -> Option<String> {
    match element.local_name() {
        "key" => {
            let id: KeyId = element.attribute("id")?.parse().ok()?;
            Some(format!("key-{id}"))
        }
        "revocation" => read_revocation(element).ok().map(revocation_name),
        _ => None,
    }
}

/// The friendly name a revocation is written under.
fn revocation_name(revocation: Revocation) -> String {
    match revocation {
        Revocation::Key { id } => format!("revocation-{id}"),
        Revocation::CreatedBefore { date } => mass_revocation_name(date),
    }
}

impl Element {
    /// The friendly name this element is written under, when it is a key or a revocation.
    pub(crate) fn friendly_name(&self) -> Option<String> {
        match self {
            Element::Key(key) => Some(format!("key-{}", key.id)),
            Element::Revocation(r) => Some(revocation_name(*r)),
            Element::BadKey(_) | Element::Unknown(_) => None,
        }
    }
}

/// `revocation-yyyyMMddTHHmmssFFFFFFFZ` of the date in UTC.
fn mass_revocation_name(date: OffsetDateTime) -> String {
    format!("revocation-{}", datetime::format_basic_utc(date))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn mass_revocation_friendly_name() {
        // XmlKeyManagerTests (shared/vectors/upstream/xml_key_manager.txt)
        assert_eq!(
            mass_revocation_name(datetime!(2015-03-01 19:13:19.7573854 -8:00)),
            "revocation-20150302T0313197573854Z"
        );
        assert_eq!(
            mass_revocation_name(datetime!(2015-03-01 0:00 UTC)),
            "revocation-20150301T000000Z"
        );
    }
}
