//! `object_store` errors as [`StoreError`]s, with nothing secret in them.

use std::error::Error as StdError;
use std::fmt;

use object_store::client::{HttpError, HttpErrorKind};

use crate::error::{StoreError, StoreErrorKind};

/// What the store was doing, for the message and for the meaning of "not found".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    List,
    Read,
    Write,
    Delete,
}

impl Op {
    fn verb(self) -> &'static str {
        match self {
            Self::List => "listing",
            Self::Read => "reading",
            Self::Write => "writing",
            Self::Delete => "deleting",
        }
    }
}

/// Maps an `object_store` error met while doing `op` on `what` (an object path).
pub(super) fn store_error(store: &str, op: Op, what: &str, err: object_store::Error) -> StoreError {
    let text = redact(&chain_text(&err));
    let (kind, hint) = classify(op, &err, &text);
    let message = format!("{} {what}: {hint}{text}", op.verb());
    let e = StoreError::new(kind, store, message);
    if text == chain_text(&err) {
        e.with_source(err)
    } else {
        e.with_source(Redacted(text))
    }
}

fn classify(op: Op, err: &object_store::Error, text: &str) -> (StoreErrorKind, &'static str) {
    use object_store::Error as E;
    match err {
        E::NotFound { .. } if container_missing(text) || op == Op::Write => (
            StoreErrorKind::Unavailable,
            "the bucket or container does not exist (object_store cannot create it; create it first): ",
        ),
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => (StoreErrorKind::Denied, ""),
        E::NotImplemented { .. } | E::NotSupported { .. } => (StoreErrorKind::Unsupported, ""),
        E::Generic { .. } if is_timeout(err) => (StoreErrorKind::Timeout, ""),
        E::Generic { .. } | E::NotFound { .. } => (StoreErrorKind::Unavailable, ""),
        _ => (StoreErrorKind::Other, ""),
    }
}

/// Whether a "not found" names the bucket or container rather than an object.
pub(super) fn container_missing(text: &str) -> bool {
    [
        "ContainerNotFound",
        "NoSuchBucket",
        "The specified bucket does not exist",
    ]
    .iter()
    .any(|marker| text.contains(marker))
}

/// Whether a "not found" is about the bucket or container (not the object itself).
pub(super) fn is_container_missing(err: &object_store::Error) -> bool {
    matches!(err, object_store::Error::NotFound { .. }) && container_missing(&chain_text(err))
}

fn is_timeout(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(http) = e.downcast_ref::<HttpError>()
            && http.kind() == HttpErrorKind::Timeout
        {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// The error and its sources, as one line.
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = e.source();
    }
    text
}

/// Removes query strings from URLs: an Azure SAS token travels in the query.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (before, url) = rest.split_at(start);
        out.push_str(before);
        let end = url
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(url.len());
        let (url, tail) = url.split_at(end);
        match url.split_once('?') {
            Some((base, _)) => {
                out.push_str(base);
                out.push_str("?[redacted]");
            }
            None => out.push_str(url),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// The text of an error whose original held a secret.
#[derive(Debug)]
struct Redacted(String);

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Redacted {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_redacted() {
        assert_eq!(
            redact("GET https://a.blob.core.windows.net/c/k?sv=1&sig=SECRET failed"),
            "GET https://a.blob.core.windows.net/c/k?[redacted] failed"
        );
        assert_eq!(redact("no url here"), "no url here");
        assert_eq!(
            redact("http://h/p and http://h/q?x"),
            "http://h/p and http://h/q?[redacted]"
        );
    }

    #[test]
    fn kinds() {
        let denied = object_store::Error::PermissionDenied {
            path: "k".into(),
            source: "403".into(),
        };
        assert_eq!(
            store_error("s", Op::Read, "k", denied).kind(),
            StoreErrorKind::Denied
        );
        let missing = object_store::Error::NotFound {
            path: "k".into(),
            source: "404".into(),
        };
        let e = store_error("s", Op::Write, "k", missing);
        assert_eq!(e.kind(), StoreErrorKind::Unavailable);
        assert!(e.to_string().contains("does not exist"), "{e}");
        let unsupported = object_store::Error::NotImplemented {
            operation: "put".into(),
            implementer: "x".into(),
        };
        assert_eq!(
            store_error("s", Op::Write, "k", unsupported).kind(),
            StoreErrorKind::Unsupported
        );
    }
}
