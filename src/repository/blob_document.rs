//! The single-blob document: ASP.NET Core's Azure Blob repository format,
//! `<?xml …?><repository>{element}{element}…</repository>` on one line.

use zeroize::Zeroizing;

use crate::error::{StoreError, StoreErrorKind};
use crate::repository::{StoreOutcome, StoredElement, element_name};
use crate::xml::{Node, XmlElement};

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";
const ROOT: &str = "repository";

/// A parsed single-blob document.
pub(crate) struct Document {
    root: XmlElement,
}

impl Document {
    /// The document of an absent blob.
    pub(crate) fn empty() -> Self {
        Self {
            root: XmlElement::new(ROOT),
        }
    }

    /// Parses the blob's bytes. Anything that is not a `<repository>` document is
    /// [`Corrupt`](StoreErrorKind::Corrupt): it is never overwritten.
    pub(crate) fn parse(store: &str, what: &str, bytes: &[u8]) -> Result<Self, StoreError> {
        let corrupt = |why: String| {
            StoreError::new(
                StoreErrorKind::Corrupt,
                store,
                format!("{what} is not a key ring document ({why}); it is left as it is"),
            )
        };
        let text = std::str::from_utf8(bytes).map_err(|e| corrupt(format!("not UTF-8: {e}")))?;
        let root = XmlElement::parse(text).map_err(|e| corrupt(e.to_string()))?;
        if root.local_name() != ROOT || root.name.namespace.is_some() {
            return Err(corrupt(format!("root element <{}>", root.local_name())));
        }
        Ok(Self { root })
    }

    /// The elements, each as a standalone single-line element named from its content.
    pub(crate) fn elements(&self) -> Vec<StoredElement> {
        let inherited: Vec<_> = self
            .root
            .attributes
            .iter()
            .filter(|a| is_namespace_declaration(a))
            .collect();
        self.root
            .elements()
            .map(|e| {
                let name = element_name(e);
                if inherited.is_empty() {
                    return StoredElement::new(name, e.to_compact_string());
                }
                // Namespace prefixes declared on <repository> must travel with the element.
                let mut own = e.clone();
                for decl in &inherited {
                    if !own.attributes.iter().any(|a| a.name == decl.name) {
                        own.attributes.push((*decl).clone());
                    }
                }
                StoredElement::new(name, own.to_compact_string())
            })
            .collect()
    }

    /// Appends `element` unless an element with that name is there already. The name must
    /// be the one its content gives ([`element_name`]): the document keeps no other.
    pub(crate) fn append(
        &mut self,
        store: &str,
        element: &XmlElement,
        name: &str,
    ) -> Result<StoreOutcome, StoreError> {
        if element_name(element).as_deref() != Some(name) {
            return Err(StoreError::new(
                StoreErrorKind::Unsupported,
                store,
                format!(
                    "the single-blob layout keeps no names, so an element must be stored under \
                     the name its content gives (key-{{id}}, revocation-…), not {name:?}"
                ),
            ));
        }
        if self.contains(name) {
            return Ok(StoreOutcome::AlreadyExists);
        }
        self.root.children.push(Node::Element(element.clone()));
        Ok(StoreOutcome::Created)
    }

    /// Removes the named elements; whether any was there.
    pub(crate) fn remove(&mut self, names: &[String]) -> bool {
        let before = self.root.children.len();
        self.root.children.retain(|n| match n {
            Node::Element(e) => !element_name(e).is_some_and(|name| names.contains(&name)),
            _ => true,
        });
        self.root.children.len() != before
    }

    fn contains(&self, name: &str) -> bool {
        self.root
            .elements()
            .any(|e| element_name(e).as_deref() == Some(name))
    }

    /// The blob's new content: declaration and document on one line, no BOM.
    pub(crate) fn to_text(&self) -> Zeroizing<String> {
        let body = Zeroizing::new(self.root.to_compact_string());
        let mut text = Zeroizing::new(String::with_capacity(DECLARATION.len() + body.len()));
        text.push_str(DECLARATION);
        text.push_str(&body);
        text
    }
}

fn is_namespace_declaration(a: &crate::xml::Attribute) -> bool {
    a.name.prefix.as_deref() == Some("xmlns")
        || (a.name.prefix.is_none() && a.name.local == "xmlns")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> XmlElement {
        XmlElement::new("key")
            .attr("id", id)
            .attr("version", "1")
            .child(XmlElement::new("creationDate").text("2024-01-01T00:00:00Z"))
    }

    const A: &str = "11111111-1111-1111-1111-111111111111";

    #[test]
    fn append_writes_the_dotnet_form() {
        let mut doc = Document::empty();
        let name = format!("key-{A}");
        assert_eq!(
            doc.append("s", &key(A), &name).unwrap(),
            StoreOutcome::Created
        );
        assert_eq!(
            doc.append("s", &key(A), &name).unwrap(),
            StoreOutcome::AlreadyExists
        );
        let text = doc.to_text();
        assert_eq!(
            text.as_str(),
            format!(
                "{DECLARATION}<repository><key id=\"{A}\" version=\"1\"><creationDate>2024-01-01T00:00:00Z</creationDate></key></repository>"
            )
        );
        let back = Document::parse("s", "b", text.as_bytes()).unwrap();
        let elements = back.elements();
        assert_eq!(elements.len(), 1);
        assert_eq!(elements[0].name.as_deref(), Some(name.as_str()));
        assert!(doc.remove(std::slice::from_ref(&name)));
        assert!(!doc.remove(&[name]));
    }

    #[test]
    fn wrong_names_and_bad_documents_are_refused() {
        let mut doc = Document::empty();
        let e = doc.append("s", &key(A), "key-other").unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Unsupported);
        for bad in [&b"<keys/>"[..], b"not xml", b"\xff\xfe", b"<repository>"] {
            let e = Document::parse("s", "b", bad).err().expect("refused");
            assert_eq!(e.kind(), StoreErrorKind::Corrupt);
        }
    }

    #[test]
    fn declarations_on_the_root_travel_with_elements() {
        let text = format!(
            "\u{feff}<?xml version=\"1.0\"?>\r\n<repository xmlns:p5=\"urn:x\">\r\n  <key id=\"{A}\" p5:flag=\"1\" />\r\n</repository>"
        );
        let doc = Document::parse("s", "b", text.as_bytes()).unwrap();
        let elements = doc.elements();
        assert_eq!(elements.len(), 1);
        let alone = XmlElement::parse(&elements[0].xml).expect("standalone element");
        assert_eq!(alone.local_name(), "key");
    }
}
