//! The session cookie: the session key protected with purposes [application name,
//! `SessionMiddleware`], standard base64 without `=`, URL-escaped (ASP.NET's
//! `CookieProtection` and `Response.Cookies.Append`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;

use super::config::{CookieConfig, SameSite, SecurePolicy};
use crate::base64url::{self, Alphabet};
use crate::payload::with_scratch;
use crate::protector::Protector;
use crate::token::escape::{escape_data_bytes, unescape_data_string};

/// The purpose ASP.NET's session middleware protects its cookie with.
pub const PURPOSE: &str = "SessionMiddleware";
/// Length of a session key (a Guid in `D` format).
pub const SESSION_KEY_LEN: usize = 36;

/// Why a cookie did not give a session key; logged at debug level, never shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CookieRejection {
    /// Not percent-encoding or base64.
    Encoding,
    /// The payload could not be unprotected: garbage, truncated, another application's,
    /// or protected with a revoked or unknown key.
    Unprotect,
    /// Unprotected, but not a 36-character session key.
    KeyShape,
}

impl CookieRejection {
    /// A fixed word for metrics labels.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Encoding => "encoding",
            Self::Unprotect => "unprotect",
            Self::KeyShape => "key_shape",
        }
    }
}

/// Protects a session key into a cookie value (already URL-escaped): the payload, its
/// base64 text and the escaped value are made in one go, only the last allocated.
pub(crate) fn protect_key(protector: &Protector, key: &str) -> crate::error::Result<String> {
    protector.protect_with(key.as_bytes(), |payload| {
        let len = base64url::encoded_len(payload.len());
        with_scratch::<256, _>(len, |text| {
            base64url::encode_to_slice(Alphabet::Standard, payload, text);
            escape_data_bytes(text)
        })
    })
}

/// Reads a session key from a cookie value as it arrived (URL-escaped).
pub(crate) async fn unprotect_key(
    protector: &Protector,
    value: &str,
) -> Result<String, CookieRejection> {
    let text = unescape_data_string(value).ok_or(CookieRejection::Encoding)?;
    let bytes = STANDARD_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| CookieRejection::Encoding)?;
    let plain = protector
        .unprotect_async(&bytes)
        .await
        .map_err(|_| CookieRejection::Unprotect)?;
    // ASP.NET decodes with replacement characters and checks only the length.
    let key = String::from_utf8_lossy(&plain).into_owned();
    if key.chars().count() != SESSION_KEY_LEN || key.trim().is_empty() {
        return Err(CookieRejection::KeyShape);
    }
    Ok(key)
}

/// The value of cookie `name` in the request's `Cookie` headers (the first one).
pub(crate) fn find_cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| n.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

/// `Set-Cookie` for a session, attributes in ASP.NET's order and case.
pub(crate) fn set_cookie(config: &CookieConfig, value: &str, https: bool) -> String {
    let mut out = format!("{}={}", config.name, value);
    attributes(config, https, &mut out);
    out
}

/// `Set-Cookie` that makes the browser drop the session cookie.
pub(crate) fn expire_cookie(config: &CookieConfig, https: bool) -> String {
    let mut out = format!("{}=; expires=Thu, 01 Jan 1970 00:00:00 GMT", config.name);
    attributes(config, https, &mut out);
    out
}

fn attributes(config: &CookieConfig, https: bool, out: &mut String) {
    if let Some(domain) = &config.domain {
        out.push_str("; domain=");
        out.push_str(domain);
    }
    out.push_str("; path=");
    out.push_str(&config.path);
    let secure = match config.secure {
        SecurePolicy::Always => true,
        SecurePolicy::SameAsRequest => https,
        SecurePolicy::Never => false,
    };
    if secure {
        out.push_str("; secure");
    }
    match config.same_site {
        SameSite::Strict => out.push_str("; samesite=strict"),
        SameSite::Lax => out.push_str("; samesite=lax"),
        SameSite::None => out.push_str("; samesite=none"),
        SameSite::Unspecified => {}
    }
    if config.http_only {
        out.push_str("; httponly");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_named_cookie_among_others() {
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "a=1; .AspNetCore.Session=x%2By".parse().unwrap(),
        );
        h.append(
            http::header::COOKIE,
            ".AspNetCore.Session=second".parse().unwrap(),
        );
        assert_eq!(find_cookie(&h, ".AspNetCore.Session"), Some("x%2By"));
        assert_eq!(find_cookie(&h, "b"), None);
    }

    #[test]
    fn default_attributes_match_aspnet() {
        let c = CookieConfig::default();
        assert_eq!(
            set_cookie(&c, "v", false),
            ".AspNetCore.Session=v; path=/; samesite=lax; httponly"
        );
        assert_eq!(
            set_cookie(&c, "v", true),
            ".AspNetCore.Session=v; path=/; secure; samesite=lax; httponly"
        );
    }
}
