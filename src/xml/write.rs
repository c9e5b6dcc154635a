//! Serialization in the two shapes .NET produces.

use super::{Node, QName, XmlElement};

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";

pub(super) fn write(element: &XmlElement, document: bool) -> String {
    let mut out = String::new();
    if document {
        out.push_str(DECLARATION);
        out.push('\n');
    }
    write_element(element, document.then_some(0), &mut out);
    out
}

/// `indent` is `Some(depth)` for the indented form.
fn write_element(e: &XmlElement, indent: Option<usize>, out: &mut String) {
    out.push('<');
    push_name(&e.name, out);
    for a in &e.attributes {
        out.push(' ');
        push_name(&a.name, out);
        out.push_str("=\"");
        escape(&a.value, true, out);
        out.push('"');
    }
    if e.children.is_empty() {
        out.push_str(" />");
        return;
    }
    out.push('>');
    // Like XmlWriter: children go on their own lines only when there is no text among them.
    let block = indent.filter(|_| !e.children.iter().any(|c| matches!(c, Node::Text(_))));
    for child in &e.children {
        if let Some(depth) = block {
            newline(depth + 1, out);
        }
        match child {
            Node::Element(c) => write_element(c, block.map(|d| d + 1), out),
            Node::Text(t) => escape(t, false, out),
            Node::Comment(c) => {
                out.push_str("<!--");
                out.push_str(&c.replace("--", "- -"));
                out.push_str("-->");
            }
        }
    }
    if let Some(depth) = block {
        newline(depth, out);
    }
    out.push_str("</");
    push_name(&e.name, out);
    out.push('>');
}

fn newline(depth: usize, out: &mut String) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn push_name(name: &QName, out: &mut String) {
    if let Some(p) = &name.prefix {
        out.push_str(p);
        out.push(':');
    }
    out.push_str(&name.local);
}

fn escape(text: &str, attribute: bool, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            '\t' if attribute => out.push_str("&#x9;"),
            c => out.push(c),
        }
    }
}
