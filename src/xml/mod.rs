//! A small namespace-aware XML tree: enough to read and write the key ring's elements exactly
//! as ASP.NET Core does.

pub(crate) mod datetime;
mod parse;
mod write;

pub use parse::XmlError;

/// The Data Protection XML namespace (of `requiresEncryption` and `encryptedSecret`).
pub(crate) const DP_NAMESPACE: &str = "http://schemas.asp.net/2015/03/dataProtection";

/// An XML element of the key ring (a `<key>`, a `<revocation>`, or a part of one).
///
/// Opaque on purpose: stores receive it to persist and hand back its text.
#[derive(Clone, PartialEq, Eq)]
pub struct XmlElement {
    pub(crate) name: QName,
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) children: Vec<Node>,
}

/// A qualified name: prefix as written, resolved namespace, local name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct QName {
    pub(crate) prefix: Option<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) local: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attribute {
    pub(crate) name: QName,
    pub(crate) value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Element(XmlElement),
    Text(String),
    Comment(String),
}

impl QName {
    pub(crate) fn local(local: &str) -> Self {
        Self {
            local: local.to_owned(),
            ..Self::default()
        }
    }
}

impl XmlElement {
    /// An element without namespace.
    pub(crate) fn new(local: &str) -> Self {
        Self {
            name: QName::local(local),
            attributes: Vec::new(),
            children: Vec::new(),
        }
    }

    /// An element in `namespace`, declared as the default namespace on the element
    /// (`<local xmlns="namespace">`). An empty `namespace` gives `xmlns=""`: no namespace,
    /// undeclaring an inherited default.
    #[cfg(feature = "certificates")]
    pub(crate) fn new_in(namespace: &str, local: &str) -> Self {
        let mut e = Self::new(local);
        e.name.namespace = (!namespace.is_empty()).then(|| namespace.to_owned());
        e.attr("xmlns", namespace)
    }

    /// An element in `namespace` that an ancestor declares as its default namespace (no
    /// declaration written on this element).
    #[cfg(feature = "certificates")]
    pub(crate) fn new_in_inherited(namespace: &str, local: &str) -> Self {
        let mut e = Self::new(local);
        e.name.namespace = Some(namespace.to_owned());
        e
    }

    /// Parses one element (a whole document: declaration, BOM and surrounding whitespace
    /// allowed; DTDs refused; nesting bounded).
    pub fn parse(text: &str) -> Result<Self, XmlError> {
        parse::parse(text)
    }

    /// The element's local name (`key`, `revocation`, …).
    pub fn local_name(&self) -> &str {
        &self.name.local
    }

    /// The single-line form with no declaration, as ASP.NET's Redis, EF Core and blob
    /// repositories store elements.
    pub fn to_compact_string(&self) -> String {
        write::write(self, false)
    }

    /// The file form: XML declaration, then the element indented by two spaces, as
    /// ASP.NET's file-system repository writes it.
    pub fn to_document_string(&self) -> String {
        write::write(self, true)
    }

    // --- builders ---

    pub(crate) fn attr(mut self, local: &str, value: impl Into<String>) -> Self {
        self.attributes.push(Attribute {
            name: QName::local(local),
            value: value.into(),
        });
        self
    }

    pub(crate) fn child(mut self, child: XmlElement) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    pub(crate) fn text(mut self, text: impl Into<String>) -> Self {
        self.children.push(Node::Text(text.into()));
        self
    }

    pub(crate) fn comment(mut self, text: impl Into<String>) -> Self {
        self.children.push(Node::Comment(text.into()));
        self
    }

    /// Adds a namespaced attribute with its `xmlns:prefix` declaration.
    pub(crate) fn push_ns_attribute(
        &mut self,
        prefix: &str,
        namespace: &str,
        local: &str,
        value: &str,
    ) {
        self.attributes.push(Attribute {
            name: QName {
                prefix: Some(prefix.to_owned()),
                namespace: Some(namespace.to_owned()),
                local: local.to_owned(),
            },
            value: value.to_owned(),
        });
        self.attributes.push(Attribute {
            name: QName {
                prefix: Some("xmlns".to_owned()),
                namespace: None,
                local: prefix.to_owned(),
            },
            value: namespace.to_owned(),
        });
    }

    /// Replaces, depth first, each descendant element for which `f` returns a replacement.
    pub(crate) fn try_map_elements<E>(
        &mut self,
        f: &mut impl FnMut(&XmlElement) -> Result<Option<XmlElement>, E>,
    ) -> Result<(), E> {
        for child in &mut self.children {
            if let Node::Element(e) = child {
                match f(e)? {
                    Some(replacement) => *e = replacement,
                    None => e.try_map_elements(f)?,
                }
            }
        }
        Ok(())
    }

    // --- queries ---

    /// The namespace the element is in, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.name.namespace.as_deref()
    }

    /// The value of the attribute with this local name and no namespace.
    pub fn attribute(&self, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| {
                a.name.local == local && a.name.namespace.is_none() && a.name.prefix.is_none()
            })
            .map(|a| a.value.as_str())
    }

    /// The value of the attribute with this namespace and local name.
    pub(crate) fn attribute_ns(&self, namespace: &str, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name.local == local && a.name.namespace.as_deref() == Some(namespace))
            .map(|a| a.value.as_str())
    }

    /// Child elements, in document order.
    pub fn elements(&self) -> impl Iterator<Item = &XmlElement> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The first child element with this local name and no namespace.
    pub(crate) fn element(&self, local: &str) -> Option<&XmlElement> {
        self.elements()
            .find(|e| e.name.local == local && e.name.namespace.is_none())
    }

    /// The first child element with this namespace and local name.
    #[cfg(feature = "certificates")]
    pub(crate) fn element_in(&self, namespace: &str, local: &str) -> Option<&XmlElement> {
        self.elements()
            .find(|e| e.name.local == local && e.name.namespace.as_deref() == Some(namespace))
    }

    /// All descendant text, concatenated (XLinq's `(string)element`). May hold secrets:
    /// wipe it when done if it does.
    pub fn text_content(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    fn collect_text(&self, out: &mut String) {
        for n in &self.children {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => e.collect_text(out),
                Node::Comment(_) => {}
            }
        }
    }
}

impl Drop for XmlElement {
    /// Text may be a base64 master key: wipe it.
    fn drop(&mut self) {
        for child in &mut self.children {
            if let Node::Text(t) = child {
                zeroize::Zeroize::zeroize(t);
            }
        }
    }
}

impl std::fmt::Debug for XmlElement {
    /// Only the element's name: an element may hold a master key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "XmlElement(<{}>)", self.name.local)
    }
}
