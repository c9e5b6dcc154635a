//! Moving cookies in and out of HTTP messages: the request's cookies by name, the cookies a
//! response will set (chunked as ASP.NET does, stale chunks removed), default attributes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use cookie::{Cookie, SameSite};
use http::HeaderMap;
use http::header::{COOKIE, HeaderValue, SET_COOKIE};
use time::OffsetDateTime;

use crate::cookie_formats::chunking::{self, ChunkError};
use crate::session::SecurePolicy;

/// The cookies a request carried, by name; the first of a repeated name wins (browsers send
/// the most specific path first). Hashed by name: a request with tens of thousands of
/// cookies (a few hundred KB of headers) costs linear time, not quadratic.
#[derive(Default)]
pub(crate) struct RequestCookies {
    pairs: HashMap<String, String>,
}

impl std::fmt::Debug for RequestCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Cookie values are bearer secrets: only the count.
        f.debug_struct("RequestCookies")
            .field("cookies", &self.pairs.len())
            .finish()
    }
}

impl RequestCookies {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let mut pairs: HashMap<String, String> = HashMap::new();
        for header in headers.get_all(COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            for cookie in Cookie::split_parse(text).flatten() {
                if !pairs.contains_key(cookie.name()) {
                    pairs.insert(cookie.name().to_owned(), cookie.value().to_owned());
                }
            }
        }
        Self { pairs }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs.get(name).map(String::as_str)
    }

    /// Joins cookie `name` from its chunks.
    pub(crate) fn joined(&self, name: &str) -> Result<Option<String>, ChunkError> {
        chunking::join(name, |n| self.get(n))
    }
}

/// Attributes a cookie gets when it does not set them itself.
#[derive(Debug, Clone)]
pub(crate) struct Defaults {
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) http_only: bool,
    pub(crate) same_site: Option<SameSite>,
    pub(crate) secure: SecurePolicy,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            path: "/".to_owned(),
            domain: None,
            http_only: true,
            same_site: Some(SameSite::Lax),
            secure: SecurePolicy::SameAsRequest,
        }
    }
}

impl Defaults {
    pub(crate) fn apply(&self, cookie: &mut Cookie<'static>, https: bool) {
        if cookie.path().is_none() {
            cookie.set_path(self.path.clone());
        }
        if cookie.domain().is_none()
            && let Some(domain) = &self.domain
        {
            cookie.set_domain(domain.clone());
        }
        if cookie.http_only().is_none() {
            cookie.set_http_only(self.http_only);
        }
        if cookie.same_site().is_none() {
            cookie.set_same_site(self.same_site);
        }
        if cookie.secure().is_none() {
            cookie.set_secure(match self.secure {
                SecurePolicy::Always => true,
                SecurePolicy::SameAsRequest => https,
                SecurePolicy::Never => false,
            });
        }
    }
}

/// The `Set-Cookie` headers one feature will add to the response, grouped by base cookie so
/// that a later write of the same cookie replaces an earlier one.
#[derive(Debug, Default, Clone)]
pub(crate) struct Outgoing {
    groups: Arc<Mutex<Vec<Group>>>,
}

/// The cookies written for one base cookie name: the base, its chunks, stale-chunk removals.
type Group = (String, Vec<Cookie<'static>>);

impl Outgoing {
    fn put(&self, name: &str, cookies: Vec<Cookie<'static>>) {
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        groups.retain(|(n, _)| n != name);
        groups.push((name.to_owned(), cookies));
    }

    /// Writes `template` (its name and attributes) with `value`, chunked when it is too
    /// large; removes chunks the request had beyond the new count.
    pub(crate) fn set_chunked(
        &self,
        template: &Cookie<'static>,
        value: &str,
        request: &RequestCookies,
        chunk_size: Option<usize>,
    ) -> Result<usize, ChunkError> {
        let name = template.name().to_owned();
        let mut empty = template.clone();
        empty.set_value("");
        let template_len = empty.to_string().len();
        let parts = chunking::split(&name, value, template_len, chunk_size)?;
        let count = parts.len().saturating_sub(1);
        let mut cookies = Vec::with_capacity(parts.len());
        for (n, v) in parts {
            let mut c = template.clone();
            c.set_name(n);
            c.set_value(v);
            cookies.push(c);
        }
        for stale in chunking::stale_chunks(&name, request.get(&name), count) {
            cookies.push(removal(template, stale));
        }
        self.put(&name, cookies);
        Ok(count)
    }

    /// Deletes `template`'s cookie and every chunk the request announced.
    pub(crate) fn remove_chunked(&self, template: &Cookie<'static>, request: &RequestCookies) {
        let name = template.name().to_owned();
        let mut cookies = vec![removal(template, name.clone())];
        for stale in chunking::stale_chunks(&name, request.get(&name), 0) {
            cookies.push(removal(template, stale));
        }
        self.put(&name, cookies);
    }

    /// Appends every pending cookie to `headers`.
    pub(crate) fn write_to(&self, headers: &mut HeaderMap) {
        let groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, cookies) in groups.iter() {
            for c in cookies {
                match HeaderValue::try_from(c.to_string()) {
                    Ok(v) => {
                        headers.append(SET_COOKIE, v);
                    }
                    Err(_) => tracing::error!(cookie = c.name(), "cookie is not a valid header"),
                }
            }
        }
    }

    /// The pending cookies' count (for tests and budgets).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        groups.iter().map(|(_, c)| c.len()).sum()
    }
}

/// A cookie that makes the browser drop `name`, with `template`'s path and domain.
fn removal(template: &Cookie<'static>, name: impl Into<Cow<'static, str>>) -> Cookie<'static> {
    let mut c = template.clone();
    c.set_name(name);
    c.set_value("");
    c.set_max_age(cookie::time::Duration::ZERO);
    c.set_expires(OffsetDateTime::UNIX_EPOCH);
    c
}

/// The instant a cookie's `Max-Age` or `Expires` ends (Max-Age wins, as in browsers).
pub(crate) fn cookie_expiry(c: &Cookie<'_>, now: OffsetDateTime) -> Option<OffsetDateTime> {
    if let Some(max_age) = c.max_age() {
        return Some(now.saturating_add(max_age));
    }
    c.expires_datetime()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_cookies_first_wins_and_join_chunks() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=chunks-2; aC1=xy; other=1".parse().unwrap());
        h.append(COOKIE, "aC2=z; a=late".parse().unwrap());
        let r = RequestCookies::from_headers(&h);
        assert_eq!(r.get("a"), Some("chunks-2"));
        assert_eq!(r.joined("a").unwrap().as_deref(), Some("xyz"));
        assert_eq!(r.joined("none").unwrap(), None);
    }

    #[test]
    fn rewriting_with_fewer_chunks_removes_the_stale_ones() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=chunks-3; aC1=x; aC2=y; aC3=z".parse().unwrap());
        let request = RequestCookies::from_headers(&h);
        let out = Outgoing::default();
        let template = Cookie::build(("a", "")).path("/").build();
        out.set_chunked(&template, "small", &request, Some(4050))
            .unwrap();
        let mut headers = HeaderMap::new();
        out.write_to(&mut headers);
        let set: Vec<_> = headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(set.len(), 4, "{set:?}");
        assert!(set[0].starts_with("a=small"));
        for (i, s) in set[1..].iter().enumerate() {
            assert!(s.starts_with(&format!("aC{}=;", i + 1)), "{s}");
            assert!(s.contains("Max-Age=0"), "{s}");
        }
        // A second write of the same cookie replaces the first.
        out.set_chunked(&template, "again", &request, Some(4050))
            .unwrap();
        assert_eq!(out.len(), 4);
        out.remove_chunked(&template, &request);
        assert_eq!(out.len(), 4);
    }

    /// A hostile request at the size HTTP servers accept by default (hyper: about 400 KB of
    /// headers) with 50,000 distinct cookies. Before the name lookup was hashed, each
    /// cookie was compared with every earlier one (1.25 billion comparisons: 63 s in a debug
    /// build for 60,000 cookies); now it is one pass. Also checks first-wins still holds.
    #[test]
    fn tens_of_thousands_of_cookies_parse_in_one_pass() {
        let mut h = HeaderMap::new();
        for line in 0..100 {
            let text: Vec<String> = (0..500).map(|i| format!("c{line}x{i}=v")).collect();
            h.append(COOKIE, text.join(";").parse().unwrap());
        }
        h.append(
            COOKIE,
            "c0x0=late; a=chunks-2; aC1=x; aC2=y".parse().unwrap(),
        );
        let r = RequestCookies::from_headers(&h);
        assert_eq!(r.pairs.len(), 50_003);
        assert_eq!(
            r.get("c0x0"),
            Some("v"),
            "the first of a repeated name wins"
        );
        assert_eq!(r.get("c99x499"), Some("v"));
        assert_eq!(r.joined("a").unwrap().as_deref(), Some("xy"));
        assert_eq!(format!("{r:?}"), "RequestCookies { cookies: 50003 }");
    }
}
