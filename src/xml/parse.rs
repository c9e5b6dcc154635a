//! Parsing with quick-xml into the small tree.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::{Attribute, Node, QName, XmlElement};

/// Deepest nesting accepted (key elements are 6 deep; a repository document 7).
const MAX_DEPTH: usize = 32;

/// Text that is not a well-formed key-ring element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed XML: {0}")]
pub struct XmlError(pub(crate) String);

fn err(msg: impl std::fmt::Display) -> XmlError {
    XmlError(msg.to_string())
}

pub(super) fn parse(text: &str) -> Result<XmlElement, XmlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    reject_non_xml_chars(text)?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<XmlElement> = Vec::new();
    let mut root: Option<XmlElement> = None;
    loop {
        let event = reader.read_event().map_err(err)?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(err("more than one root element"));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err("elements nested too deeply"));
                }
                stack.push(element(&reader, &start)?);
            }
            Event::Empty(start) => {
                let e = element(&reader, &start)?;
                attach(&mut stack, &mut root, e);
            }
            Event::End(_) => {
                let mut e = stack.pop().ok_or_else(|| err("unbalanced end tag"))?;
                drop_indentation(&mut e);
                attach(&mut stack, &mut root, e);
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                push_text(&mut stack, &content)?;
            }
            Event::CData(c) => {
                let content = c.xml10_content().into_owned();
                push_text(&mut stack, &content)?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(err)? {
                    Some(c) => c.to_string(),
                    None => match r.xml10_content().as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => return Err(err(format!("unknown entity &{other};"))),
                    },
                };
                reject_non_xml_chars(&resolved)?;
                push_text(&mut stack, &resolved)?;
            }
            Event::Comment(c) => {
                let content = c.xml10_content().into_owned();
                check_comment(&content)?;
                if let Some(top) = stack.last_mut() {
                    top.children.push(Node::Comment(content));
                }
            }
            Event::DocType(_) => return Err(err("DTDs are not accepted")),
            Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(err("unexpected end of document"));
    }
    root.ok_or_else(|| err("no root element"))
}

/// XML 1.0 allows tab, LF, CR and everything from U+0020 except U+FFFE and U+FFFF (.NET's
/// reader rejects the rest, and a key holding one would not survive a write and a re-read).
fn reject_non_xml_chars(text: &str) -> Result<(), XmlError> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
    };
    match text.chars().find(|&c| !allowed(c)) {
        Some(c) => Err(err(format!(
            "character U+{:04X} is not allowed in XML 1.0",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// XML 1.0 forbids `--` inside a comment and a comment ending in `-`; a reader that let them
/// through would write back a different comment than it read.
fn check_comment(content: &str) -> Result<(), XmlError> {
    reject_non_xml_chars(content)?;
    if content.contains("--") || content.ends_with('-') {
        return Err(err("a comment holds \"--\" or ends with \"-\""));
    }
    Ok(())
}

/// A qualified name as Namespaces in XML defines it: one name, or prefix and local name
/// around one colon, each an XML 1.0 name without colons (so no empty tag `<>`).
fn check_qname(text: &str) -> Result<(), XmlError> {
    let mut parts = text.split(':');
    let ok = match (parts.next(), parts.next(), parts.next()) {
        (Some(local), None, None) => is_ncname(local),
        (Some(prefix), Some(local), None) => is_ncname(prefix) && is_ncname(local),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(err(format!("{text:?} is not an XML name")))
    }
}

fn is_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// NameStartChar of XML 1.0 (fifth edition), without the colon.
fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{c0}'..='\u{d6}' | '\u{d8}'..='\u{f6}'
        | '\u{f8}'..='\u{2ff}' | '\u{370}'..='\u{37d}' | '\u{37f}'..='\u{1fff}'
        | '\u{200c}'..='\u{200d}' | '\u{2070}'..='\u{218f}' | '\u{2c00}'..='\u{2fef}'
        | '\u{3001}'..='\u{d7ff}' | '\u{f900}'..='\u{fdcf}' | '\u{fdf0}'..='\u{fffd}'
        | '\u{10000}'..='\u{effff}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{b7}' | '\u{300}'..='\u{36f}' | '\u{203f}'..='\u{2040}')
}

fn attach(stack: &mut [XmlElement], root: &mut Option<XmlElement>, e: XmlElement) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(e)),
        None => *root = Some(e),
    }
}

/// Whitespace between child elements is layout, not content.
fn drop_indentation(e: &mut XmlElement) {
    if e.children.iter().any(|c| matches!(c, Node::Element(_))) {
        e.children
            .retain(|c| !matches!(c, Node::Text(t) if t.trim().is_empty()));
    }
}

fn push_text(stack: &mut [XmlElement], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(top) => {
            if let Some(Node::Text(t)) = top.children.last_mut() {
                t.push_str(text);
            } else {
                top.children.push(Node::Text(text.to_owned()));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(err("text outside the root element")),
    }
}

fn element(reader: &NsReader<&[u8]>, start: &BytesStart<'_>) -> Result<XmlElement, XmlError> {
    check_qname(start.name().as_ref())?;
    let (ns, local) = reader.resolver().resolve_element(start.name());
    let name = qname(
        ns,
        local.as_ref(),
        start.name().prefix().map(|p| p.as_ref().to_owned()),
    )?;
    let mut attributes = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(err)?;
        check_qname(attr.key.as_ref())?;
        let (ns, local) = reader.resolver().resolve_attribute(attr.key);
        let prefix = attr.key.prefix().map(|p| p.as_ref().to_owned());
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(err)?
            .into_owned();
        reject_non_xml_chars(&value)?;
        attributes.push(Attribute {
            name: qname(ns, local.as_ref(), prefix)?,
            value,
        });
    }
    Ok(XmlElement {
        name,
        attributes,
        children: Vec::new(),
    })
}

fn qname(ns: ResolveResult<'_>, local: &str, prefix: Option<String>) -> Result<QName, XmlError> {
    let namespace = match ns {
        ResolveResult::Bound(n) => Some(n.as_ref().to_owned()),
        ResolveResult::Unbound => None,
        ResolveResult::Unknown(p) => {
            return Err(err(format!("undeclared namespace prefix {p:?}")));
        }
    };
    let namespace = namespace.filter(|n| !n.is_empty());
    Ok(QName {
        prefix,
        namespace,
        local: local.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::DP_NAMESPACE;
    use super::*;

    #[test]
    fn namespaces_bom_and_entities() {
        let doc = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<a x='1 &amp; 2'>\r\n  <b p4:flag=\"true\" xmlns:p4=\"http://schemas.asp.net/2015/03/dataProtection\">A&lt;B&#x43;<![CDATA[<D>]]></b><!-- c --></a>";
        let a = XmlElement::parse(doc).unwrap();
        assert_eq!(a.attribute("x"), Some("1 & 2"));
        let b = a.element("b").unwrap();
        assert_eq!(b.attribute_ns(DP_NAMESPACE, "flag"), Some("true"));
        assert_eq!(b.text_content(), "A<BC<D>");
    }

    #[test]
    fn rejects_characters_xml_forbids() {
        for doc in [
            "<a id=\"x\u{11}y\"/>",
            "<a>x\u{1}</a>",
            "<a>&#x11;</a>",
            "<a id=\"&#1;\"/>",
            "<a>\u{ffff}</a>",
            "<a><!-- x\u{1} --></a>",
        ] {
            assert!(parse(doc).is_err(), "{doc:?} was accepted");
        }
        assert!(parse("<a id=\"x&#x9;\">t\tu\r\n</a>").is_ok());
    }

    #[test]
    fn rejects_bad_documents() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "<a>&unknown;</a>",
            "<p:a/>",
            "text<a/>",
            "<></>",
            "<a><></></a>",
            "<a,b/>",
            "<a x,y=\"1\"/>",
            "<1a/>",
            "<a:b:c/>",
            "<a><!-- x -- y --></a>",
            "<a><!-- x ---></a>",
        ] {
            assert!(XmlElement::parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            XmlElement::parse("<a><!-- x - y --><b\u{e9}.1 xmlns:p='u' p:c-d='1'/></a>").is_ok()
        );
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(XmlElement::parse(&deep).is_err());
    }

    #[test]
    fn writes_both_shapes() {
        let e = XmlElement::new("key")
            .attr("id", "x\"<")
            .child(XmlElement::new("creationDate").text("2015"))
            .child(
                XmlElement::new("d")
                    .comment(" c ")
                    .child(XmlElement::new("e").attr("a", "1")),
            );
        assert_eq!(
            e.to_compact_string(),
            "<key id=\"x&quot;&lt;\"><creationDate>2015</creationDate><d><!-- c --><e a=\"1\" /></d></key>"
        );
        assert_eq!(
            e.to_document_string(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<key id=\"x&quot;&lt;\">\n  <creationDate>2015</creationDate>\n  <d>\n    <!-- c -->\n    <e a=\"1\" />\n  </d>\n</key>"
        );
        assert_eq!(
            XmlElement::parse(&e.to_document_string())
                .unwrap()
                .to_compact_string(),
            e.to_compact_string()
        );
    }
}
