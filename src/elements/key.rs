//! `<key>` elements: reading one from the store and building a new one.

use time::OffsetDateTime;

use super::ElementError;
use super::descriptor::{self, KeyProblem};
use crate::algorithm::Algorithm;
use crate::key_id::KeyId;
use crate::secret::Secret;
use crate::xml::{XmlElement, datetime};

/// A key as its element describes it.
pub(crate) struct KeyElement {
    pub(crate) id: KeyId,
    pub(crate) created: OffsetDateTime,
    pub(crate) activation: OffsetDateTime,
    pub(crate) expiration: OffsetDateTime,
    /// The algorithm and master key, or why they cannot be read.
    pub(crate) material: Result<KeyMaterial, KeyProblem>,
}

/// What a key's descriptor holds.
pub(crate) struct KeyMaterial {
    pub(crate) algorithm: Algorithm,
    pub(crate) master_key: Secret,
}

pub(super) fn read(element: &XmlElement) -> Result<KeyElement, ElementError> {
    let id_text = element.attribute("id").ok_or(ElementError::KeyWithoutId)?;
    let id: KeyId = id_text.parse().map_err(ElementError::BadKeyId)?;
    let date = |field: &'static str| {
        element
            .element(field)
            .and_then(|e| datetime::parse(&e.text_content()))
            .ok_or(ElementError::BadKeyDate { id, field })
    };
    let created = date("creationDate")?;
    let activation = date("activationDate")?;
    let expiration = date("expirationDate")?;
    let material = element
        .element("descriptor")
        .ok_or_else(|| KeyProblem::Malformed("no <descriptor>".into()))
        .and_then(descriptor::read)
        .map(|(algorithm, master_key)| KeyMaterial {
            algorithm,
            master_key,
        });
    Ok(KeyElement {
        id,
        created,
        activation,
        expiration,
        material,
    })
}

/// `key-{id}`.
pub(super) fn friendly_name(id: KeyId) -> String {
    format!("key-{id}")
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
    (element, friendly_name(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_with_creation(date: &str) -> Result<KeyElement, ElementError> {
        let text = format!(
            "<key id='0f8fad5b-d9cb-469f-a165-70867728950e' version='1'>\
             <creationDate>{date}</creationDate>\
             <activationDate>2025-01-01T00:00:00Z</activationDate>\
             <expirationDate>2025-04-01T00:00:00Z</expirationDate></key>"
        );
        read(&XmlElement::parse(&text).unwrap())
    }

    #[test]
    fn dates_outside_dotnet_range_make_the_element_unreadable() {
        assert!(key_with_creation("9999-12-31T23:59:59Z").is_ok());
        for bad in [
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:00:00+01:00",
            "junk",
        ] {
            let err = key_with_creation(bad).err().expect(bad);
            assert!(
                matches!(
                    err,
                    ElementError::BadKeyDate {
                        field: "creationDate",
                        ..
                    }
                ),
                "{bad}: {err:?}"
            );
            assert!(err.key_id().is_some());
        }
    }
}
